#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz, nightly Rust) and runs each one for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]      seconds per target (default 5)
#
# Environment:
#   TRIPLINE_FUZZ_TARGETS     the targets to run (default: every one in fuzz/fuzz_targets/)
#   TRIPLINE_FUZZ_SANITIZER   address (default), none, memory, thread, leak; `none` builds and
#                             runs about twice as fast (the engine has no unsafe code of its own)
#   TRIPLINE_FUZZ_CODEGEN_UNITS  codegen units (cargo-fuzz's default is 1; 16 builds faster and
#                             runs a little slower)
#   TRIPLINE_FUZZ_TARGET_DIR  where the fuzz build goes (default fuzz/target: its compiler flags
#                             differ from the main workspace's, so it cannot share target/)
#
# Each target starts from its checked-in seeds (fuzz/seeds/<target>/, made by
# fuzz/seeds/make.py) and keeps what it learns in fuzz/corpus/<target>/ (not checked in). A
# crash is written to fuzz/artifacts/<target>/ and the script fails, naming the file and the
# command that replays it. Everything runs under `nice -n 15`: a fuzzer takes a whole core.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

seconds="${1:-5}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]  (seconds per target, a whole number above 0; got '$seconds')" >&2
  exit 2
fi
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "scripts/fuzz.sh: the fuzz targets need a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! command -v cargo-fuzz >/dev/null; then
  say "installing cargo-fuzz (once)"
  nice -n 15 cargo install cargo-fuzz --locked --quiet
fi

sanitizer="${TRIPLINE_FUZZ_SANITIZER:-address}"
build_flags=(--debug-assertions --sanitizer "$sanitizer")
if [ -n "${TRIPLINE_FUZZ_CODEGEN_UNITS:-}" ]; then
  build_flags+=(--codegen-units "$TRIPLINE_FUZZ_CODEGEN_UNITS")
fi
export CARGO_TARGET_DIR="${TRIPLINE_FUZZ_TARGET_DIR:-$ROOT/fuzz/target}"
read -r -a targets <<<"${TRIPLINE_FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls -- *.rs | sed 's/\.rs$//' | tr '\n' ' ')}"

say "fuzz: building ${targets[*]} (nightly, sanitizer $sanitizer, into $CARGO_TARGET_DIR)"
started=$SECONDS
for target in "${targets[@]}"; do
  (cd fuzz && nice -n 15 cargo +nightly fuzz build "${build_flags[@]}" "$target")
done
say "fuzz: built in $((SECONDS - started)) s"

# As `cargo fuzz run` does: the bundled SQLite's function-local static arrays of one name read
# as one-definition-rule violations to AddressSanitizer.
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
failed=()
for target in "${targets[@]}"; do
  binary="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$target"
  corpus="fuzz/corpus/$target" artifacts="fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  log="$(mktemp)"
  say "fuzz: $target for ${seconds}s"
  status=0
  nice -n 15 "$binary" "$corpus" "fuzz/seeds/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  if [ "$status" != 0 ]; then
    tail -n 60 "$log" >&2
    crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    echo "FUZZ FAILURE: $target (exit $status); input: ${crash:-see the log above}" >&2
    echo "  replay: (cd fuzz && cargo +nightly fuzz run ${build_flags[*]} $target ../${crash:-<input>})" >&2
    failed+=("$target")
  else
    echo "fuzz: $target: ${runs:-?} executions, ${rate:-?}/s, no crash" >&2
  fi
  rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
say "fuzz: every target ran ${seconds}s without a crash"
