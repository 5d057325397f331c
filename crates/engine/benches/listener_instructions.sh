#!/usr/bin/env bash
# Instructions per answered call over the real socket path: the listener bench's throughput
# part runs under callgrind with instrumentation off, switched on only while each wrk run
# loads a target, and dumped after it. A dump's instructions (every thread of the bench
# process: the listener, hyper, tokio, the record writer; not wrk) divided by the answers it
# wrote (calls of hyper's response encoder) is one call's cost. Counted, not timed: other
# processes on the machine do not move it, though the call rate does a little (the record
# writer's batches and the token index's rechecks follow the clock). "hook calls" counts the
# calls that reached a hook's handler (its token lookup), a check on the answers counted.
#
# Usage: crates/engine/benches/listener_instructions.sh [RUNS]   (default 6: hello, rejected,
# no-op, hello sent the no-op's POST, the no-op as docker-registry sends it, and the same with
# a new event id each call). Needs valgrind and wrk; builds the bench first.
set -euo pipefail

runs=${1:-6}
for tool in valgrind callgrind_control wrk python3; do
    command -v "$tool" >/dev/null || { echo "listener_instructions: $tool is not installed" >&2; exit 2; }
done

bench=$(cargo bench -p tripline-engine --bench listener --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "listener" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.%p" \
    "$bench" --bench throughput >"$out/bench.log" 2>&1 &
pid=$!
n=0
seen=""
: >"$out/runs"
while kill -0 "$pid" 2>/dev/null && [ "$n" -lt "$runs" ]; do
    wrk_pid=$(pgrep -f '^wrk -t' | head -1 || true)
    if [ -n "$wrk_pid" ] && [ "$wrk_pid" != "$seen" ]; then
        seen=$wrk_pid
        n=$((n + 1))
        target=$(tr '\0' ' ' <"/proc/$wrk_pid/cmdline" | sed -E 's/.* (http[^ ]*).*/\1/; s/token=[^&]*/token=…/')
        callgrind_control -z "$pid" >/dev/null 2>&1
        callgrind_control -i on "$pid" >/dev/null 2>&1
        while kill -0 "$wrk_pid" 2>/dev/null; do sleep 0.2; done
        callgrind_control -i off "$pid" >/dev/null 2>&1
        callgrind_control -d "run$n" "$pid" >/dev/null 2>&1
        echo "$n $target" >>"$out/runs"
    fi
    sleep 0.1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

python3 - "$out" <<'EOF'
import glob, re, sys
out = sys.argv[1]
targets = dict(line.split(" ", 1) for line in open(f"{out}/runs").read().splitlines())
print(f"{'target':<60} {'answers':>8} {'hook calls':>10} {'instructions per call':>22}")
for number, target in targets.items():
    path = glob.glob(f"{out}/cg.*.{number}")[0]
    names, current, total, answers, hooks = {}, None, 0, 0, 0
    for line in open(path, errors="replace"):
        if line.startswith("totals:"):
            total = int(line.split()[1])
        m = re.match(r"(c?)fn=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1):
                current = names.get(m.group(2), "")
        elif line.startswith("calls=") and current and current.endswith("Http1Transaction>::encode"):
            answers += int(line.split("=")[1].split()[0])
        elif line.startswith("calls=") and current and current.endswith("listener::hooks::find_trigger"):
            hooks += int(line.split("=")[1].split()[0])
    per_call = total // answers if answers else 0
    print(f"{target.strip()[:60]:<60} {answers:>8} {hooks:>10} {per_call:>22,}")
EOF
