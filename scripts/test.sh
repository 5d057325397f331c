#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests (Rust's and the UI's), integration and
# differential tests, the desktop app end to end in a real window (Xvfb + WebDriver), a smoke
# run of the benchmarks, and a few seconds of each fuzz target when a nightly toolchain is
# installed.
# Installs what it needs on a fresh Debian 12 machine (apt packages, nextest, kubectl, helm,
# tauri-driver, the UI's npm packages).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
ensure_nextest
ensure_kubectl
ensure_test_services
ensure_source_servers
ensure_desktop_test
ensure_ui_packages
cd "$ROOT"

# Re-run inside a private D-Bus session with an unlocked keyring, so the keyring tests use a
# real Secret Service (and never the developer's own keyring).
if [ -z "${TRIPLINE_IN_SESSION:-}" ]; then
  export TRIPLINE_IN_SESSION=1 XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR
  scratch="$(mktemp -d)"
  XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config" XDG_CACHE_HOME="$scratch/cache"
  XDG_RUNTIME_DIR="$scratch/run"; mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
  exec dbus-run-session -- bash -c 'echo -n "tripline-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0" "$@"' "$ROOT/scripts/test.sh" "$@"
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "UI: type check (svelte-check)"
(cd ui && npm run --silent check)
say "UI: unit tests"
(cd ui && npm run --silent test)
build_ui

say "cargo clippy (all targets, warnings are errors)"
cargo clippy "${CARGO_SELECTION[@]}" --all-targets --quiet -- -D warnings

say "tests"
# kubectl must be there: the strategic-merge corpus is re-checked against it.
export TRIPLINE_REQUIRE_KUBECTL=1 TRIPLINE_REQUIRE_REGISTRY=1 TRIPLINE_REQUIRE_KEYRING=1
# lighttpd, git and helm must be there: the Git and Helm source tests use real servers; so must
# docker-registry, skopeo, htpasswd and openssl, which the registry client tests drive.
export TRIPLINE_REQUIRE_SOURCES=1
cargo nextest run "${CARGO_SELECTION[@]}" --no-fail-fast --retries 0

say "the desktop app, end to end in a real window"
build_test_app
E2E_SKIP_BUILD=1 bash tests/e2e/run.sh

say "benchmarks, once each in the test build (figures: cargo bench; see BENCHMARKS.md)"
# The dev profile reuses the test build instead of compiling everything again optimised.
for bench in engine deploy listener sources registry; do
  cargo bench --quiet --profile dev "${CARGO_SELECTION[@]}" --bench "$bench" -- --test
done
bash benches/desktop/run.sh --quick

say "fuzz targets, briefly (scripts/fuzz.sh; longer runs: scripts/fuzz.sh 600)"
# They need nightly Rust; without it they are skipped, loudly, rather than failing the run.
# TRIPLINE_FUZZ_SECONDS=0 skips them (the first build takes minutes: see BENCHMARKS.md).
if [ "${TRIPLINE_FUZZ_SECONDS:-5}" = 0 ]; then
  say "SKIPPED: the fuzz targets (TRIPLINE_FUZZ_SECONDS=0)"
elif rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  # The smoke run builds without a sanitizer and with 16 codegen units (about 40% less CPU
  # than cargo-fuzz's defaults; the engine has no unsafe code), into a build cache kept
  # between runs: a cold build costs ~7 minutes of a 2-core machine, a warm one seconds.
  TRIPLINE_FUZZ_SANITIZER="${TRIPLINE_FUZZ_SANITIZER:-none}" \
  TRIPLINE_FUZZ_CODEGEN_UNITS="${TRIPLINE_FUZZ_CODEGEN_UNITS:-16}" \
  TRIPLINE_FUZZ_TARGET_DIR="${TRIPLINE_FUZZ_TARGET_DIR:-$HOME/.cache/tripline/fuzz-target}" \
    bash scripts/fuzz.sh "${TRIPLINE_FUZZ_SECONDS:-5}"
else
  say "SKIPPED: the fuzz targets (fuzz/) need a nightly toolchain and none is installed;"
  say "SKIPPED: install one with 'rustup toolchain install nightly' to run them here"
fi

say "all tests passed"
