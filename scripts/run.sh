#!/usr/bin/env bash
# Runs Tripline. For now that is the command line on the seed's demo template, in a fresh
# data directory; the desktop app replaces this once it exists.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
cd "$ROOT"
say "building tripline"
cargo build --quiet -p tripline --bin tripline
tripline() { "$ROOT/target/debug/tripline" "$@"; }
export TRIPLINE_DATA_DIR="${TRIPLINE_DATA_DIR:-$(mktemp -d)}"
fixtures="$ROOT/crates/engine/tests/fixtures/templates"
say "data directory: $TRIPLINE_DATA_DIR"
set -x
tripline template create demo -f "$fixtures/seed-demo.yaml" -m "the seed's demo Deployment"
tripline app create demo --template demo
tripline template patch demo -f "$fixtures/seed-demo-patch.json"
tripline template versions demo
tripline template diff demo 1 2
tripline template rollback demo --to 1
tripline template list
