#!/usr/bin/env bash
# The command line and the headless listener, without the desktop app: walks the seeds' scenario
# in a fresh data directory against the built-in sandbox cluster (create the demo template and
# app, deploy, fire the seed's trigger call, show the new version, its diff and the releases).
# scripts/run.sh runs this on machines without a display.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
cd "$ROOT"
# The optimised CLI. Where the desktop app can be built, with its selection, so this reuses
# (or makes) the build scripts/run.sh runs; on a server without the desktop's libraries,
# the CLI alone.
if pkg-config --exists webkit2gtk-4.1 2>/dev/null && [ -f "$ROOT/ui/dist/index.html" ]; then
  say "building tripline (the desktop app's optimised build)"
  cargo build --quiet "${RELEASE_SELECTION[@]}"
else
  say "building tripline (optimised)"
  cargo build --quiet --release -p tripline --bin tripline
fi
tripline() { "$ROOT/target/release/tripline" "$@"; }
export TRIPLINE_DATA_DIR="${TRIPLINE_DATA_DIR:-$(mktemp -d)}"
export TRIPLINE_SECRETS="${TRIPLINE_SECRETS:-files}"
fixtures="$ROOT/crates/engine/tests/fixtures/templates"
port="${TRIPLINE_PORT:-8787}"
say "data directory: $TRIPLINE_DATA_DIR"

tripline template create demo -f "$fixtures/seed-demo.yaml" -m "the seed's demo Deployment"
tripline app create demo --template demo
tripline deploy demo

"$ROOT/target/release/tripline" serve --listen "127.0.0.1:$port" &
serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

url="$(TRIPLINE_PUBLIC_URL="http://127.0.0.1:$port" tripline --json trigger create demo --kind redeploy | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
say "seed 000: patch the image to :red through the trigger URL, and wait for the rollout"
curl -sS -X POST -H 'content-type: application/json' "$url&wait=true" \
  -d "$(cat "$fixtures/seed-demo-patch.json")"
echo
tripline template versions demo
tripline template diff demo
tripline releases demo
tripline trigger records demo-redeploy
say "done: the listener stops now; run 'tripline serve' to keep it"
