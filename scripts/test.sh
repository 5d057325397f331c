#!/usr/bin/env bash
# Runs every test: formatting, lints, unit, integration and differential tests, and a
# smoke run of the benchmarks. Installs what it needs on a fresh Debian 12 machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
ensure_nextest
ensure_kubectl
cd "$ROOT"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "tests"
# kubectl must be there: the strategic-merge corpus is re-checked against it.
export TRIPLINE_REQUIRE_KUBECTL=1
cargo nextest run --workspace --no-fail-fast

say "benchmarks, once each (figures: cargo bench; see BENCHMARKS.md)"
cargo bench --quiet -p tripline --bench engine -- --test

say "all tests passed"
