#!/usr/bin/env bash
# Desktop benchmark (issue 5): Tripline's cold start and idle memory as ratios to a minimal
# Tauri hello-world built and measured in the same run; `--records` adds the 100,000-record
# list. See run.py's docstring and BENCHMARKS.md, "Desktop app (issue 5)".
#   bash benches/desktop/run.sh            # full run: 7 starts each, 60 s idle (~4 min + builds)
#   bash benches/desktop/run.sh --quick    # CI smoke run: fails only if something never starts
#   bash benches/desktop/run.sh --records  # plus the access-record list through WebDriver
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 benches/desktop/run.py "$@"
