#!/usr/bin/env python3
"""Desktop benchmark (issue 5): Tripline against a minimal Tauri 2 hello-world.

Measures, in one run on one machine:

* **cold start**: spawn → the `tripline-ready` line on stdout (printed once the UI has
  painted its first screen, when `TRIPLINE_REPORT_READY` is set), for the app and for
  `benches/hello-tauri`, alternating, every start with fresh XDG and data folders; once
  with Mesa's shader cache kept between starts (as a desktop keeps it) and once with
  nothing kept at all;
* **idle memory**: PSS summed over the process and all its descendants (WebKitWebProcess,
  WebKitNetworkProcess…) 60 s after ready, one app at a time (PSS splits shared pages
  between the processes mapping them, so the two never run together); its anonymous part,
  USS and RSS alongside;
* with `--records`: the access-record list holding 100,000 records, driven through
  WebDriver (`tauri-driver`): DOM rows and frame times while it is scrolled, against the
  same scrolling of a plain static list in the hello-world.

Each figure is printed as a ratio to the hello-world measured in the same run, never judged
against a wall-clock limit. The exit status says only whether everything ran: 0 when it
did, 1 when a build failed or a process never became ready, whatever the ratios.

Usage (from anywhere): `bash benches/desktop/run.sh [--quick] [--records] [--no-build]`.
Python 3.11 standard library only. Writes `target/desktop-bench.json`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import mmap
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where cargo builds: CARGO_TARGET_DIR when set, as cargo itself reads it.
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target").resolve()
READY_LINE = b"tripline-ready"
READY_TIMEOUT = 60.0
APP = "tripline-desktop"
HELLO = "hello-tauri"
# The hello-world painting on the CPU, as the app chooses to on a machine without a GPU
# (src-tauri/src/painting.rs): the like-for-like baseline, measured only on such a machine.
HELLO_CPU = "hello-tauri (CPU painting)"
WEBKIT_CPU_PAINTING = "WEBKIT_SKIA_ENABLE_CPU_RENDERING"


def has_gpu(dev: Path = Path("/dev")) -> bool:
    """As the app decides it (src-tauri/src/painting.rs): a DRM render node, or NVIDIA's."""
    try:
        render_node = any(p.name.startswith("renderD") for p in (dev / "dri").iterdir())
    except OSError:
        render_node = False
    return render_node or (dev / "nvidia0").exists()


def contenders() -> list[str]:
    """What the cold start and the memory parts measure: the app, the stock hello-world and,
    without a GPU, the hello-world painting as the app does."""
    return [APP, HELLO] + ([] if has_gpu() else [HELLO_CPU])


def binary_of(binaries: dict[str, Path], name: str) -> Path:
    return binaries[HELLO if name == HELLO_CPU else name]

# The columns of `access_records` as `crates/engine/src/store/migrations.rs` creates them;
# the seeding refuses a database whose table differs.
RECORD_COLUMNS = [
    "id", "trigger_id", "at", "source", "method", "path", "headers", "body",
    "body_truncated", "event", "decision", "reason", "status", "response", "release_id",
    "repeats", "last_at",
]


class BenchError(Exception):
    """Something did not build, start or become ready: the run fails."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Processes: everything started is tracked and stopped on the way out, Ctrl-C included.


def children_map() -> dict[int, list[int]]:
    """ppid → pids, from `/proc/*/stat`."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields after it do not.
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children = children_map()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def signal_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class Reaper:
    """Owns every process the bench starts (each in its own session and process group)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        # CPU seconds used by the process trees stopped so far (see CpuWatch).
        self.cpu_done = 0.0

    def spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 5.0) -> None:
        """SIGTERM to the group and every descendant, SIGKILL after `grace`; waits until
        all of them are gone, so the next measurement starts on a quiet machine."""
        tree = descendants(proc.pid) if proc.poll() is None else []
        self.cpu_done += sum(cpu_seconds(p) for p in tree)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        signal_pids(tree, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()
            if not any(alive(p) for p in tree) and proc.returncode is not None:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            signal_pids(tree, signal.SIGKILL)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(alive(p) for p in tree):
                time.sleep(0.05)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc, grace=2.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited ({proc.returncode}) before port {port} opened")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


# ---------------------------------------------------------------------------------------
# The display and the session bus, shared by every run.


@dataclass
class Desktop:
    display: str
    bus: str


def start_desktop(reaper: Reaper) -> Desktop:
    """Xvfb on a display it picks itself (`-displayfd`), and one `dbus-run-session`."""
    read_fd, write_fd = os.pipe()
    xvfb = reaper.spawn(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 20
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = pipe.read(16)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        raise BenchError(f"Xvfb did not start (exit {xvfb.poll()})")
    display = f":{number.strip().decode()}"
    # The bus lives as long as this `sleep`; its address is the first line printed.
    session = reaper.spawn(
        ["dbus-run-session", "--", "sh", "-c", 'echo "$DBUS_SESSION_BUS_ADDRESS"; exec sleep infinity'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    bus = session.stdout.readline().decode().strip()
    if not bus:
        raise BenchError("dbus-run-session did not start a bus")
    return Desktop(display=display, bus=bus)


# ---------------------------------------------------------------------------------------
# Running one app until it is ready.


@dataclass
class Running:
    proc: subprocess.Popen
    started: float
    ready_at: float | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    stderr_path: Path | None = None


def app_env(desktop: Desktop, home: Path, shader_cache: Path | None = None) -> dict[str, str]:
    """A clean environment: fresh XDG and data folders under `home`, files for secrets.

    `shader_cache` keeps Mesa's compiled shaders in one folder across runs, as a desktop
    keeps them across launches; without it they go to the fresh `XDG_CACHE_HOME` and are
    compiled again on every start (see "Cold start" in BENCHMARKS.md)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "TRIPLINE_", "WAYLAND")) and k != WEBKIT_CPU_PAINTING}
    for name in ("config", "data", "cache", "tripline"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env.update(
        DISPLAY=desktop.display,
        GDK_BACKEND="x11",
        DBUS_SESSION_BUS_ADDRESS=desktop.bus,
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        TRIPLINE_DATA_DIR=str(home / "tripline"),
        TRIPLINE_SECRETS="files",
        TRIPLINE_LISTEN=f"127.0.0.1:{free_port()}",
        TRIPLINE_REPORT_READY="1",
    )
    env.pop("WEBKIT_DISABLE_COMPOSITING_MODE", None)
    env.pop("MESA_SHADER_CACHE_DIR", None)
    if shader_cache is not None:
        env["MESA_SHADER_CACHE_DIR"] = str(shader_cache)
    return env


def launch(reaper: Reaper, binary: Path, env: dict[str, str], logs: Path) -> Running:
    stderr_path = logs / f"{binary.name}-{time.monotonic_ns()}.stderr"
    with open(stderr_path, "wb") as stderr:
        started = time.monotonic()
        proc = reaper.spawn([str(binary)], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=stderr)
    run = Running(proc=proc, started=started, stderr_path=stderr_path)

    def read() -> None:
        # Keeps draining after the ready line, so a chatty app never blocks on a full pipe.
        for line in proc.stdout:
            if not run.ready.is_set() and line.strip() == READY_LINE:
                run.ready_at = time.monotonic()
                run.ready.set()

    threading.Thread(target=read, daemon=True).start()
    return run


def wait_ready(run: Running, name: str) -> float:
    """Milliseconds from spawn to the ready line."""
    deadline = run.started + READY_TIMEOUT
    while not run.ready.wait(0.1):
        if run.proc.poll() is not None or time.monotonic() > deadline:
            why = (f"exited with {run.proc.returncode}" if run.proc.returncode is not None
                   else f"not ready after {READY_TIMEOUT:.0f} s")
            tail = run.stderr_path.read_text(errors="replace")[-3000:] if run.stderr_path else ""
            raise BenchError(f"{name} {why}; its stderr ends with:\n{tail}")
    return (run.ready_at - run.started) * 1000.0


# ---------------------------------------------------------------------------------------
# Memory.


def smaps(pid: int) -> dict[str, int] | None:
    """In KiB: PSS; its anonymous and shmem part (`anon`: the memory the process itself made,
    which other programs on the machine cannot share and so cannot shrink); USS (private);
    RSS. PSS falls back to RSS where the rollup is missing."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {}
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0].endswith(":"):
                    fields[parts[0][:-1]] = int(parts[1])
        return {
            "pss": fields.get("Pss", fields.get("Rss", 0)),
            "anon": fields.get("Pss_Anon", fields.get("Anonymous", 0)) + fields.get("Pss_Shmem", 0),
            "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
            "rss": fields.get("Rss", 0),
        }
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        return {"pss": rss, "anon": rss, "uss": rss, "rss": rss}
    except (OSError, ValueError):
        return None


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def tree_memory(pid: int) -> dict:
    processes = []
    for p in descendants(pid):
        mem = smaps(p)
        if mem is not None:
            processes.append({"pid": p, "name": comm(p), **mem})
    total = {k: sum(p[k] for p in processes) for k in ("pss", "anon", "uss", "rss")}
    return {"processes": processes, "total_kib": total}


def foreign_webkit(ours: set[int]) -> int:
    """WebKit processes on the machine that are not ours. They map the same libraries, so
    while they run our PSS and USS of file-backed pages drop (pages count as shared); the
    `anon` part does not move."""
    return sum(1 for pids in children_map().values() for p in pids
               if p not in ours and comm(p).startswith("WebKit"))


# ---------------------------------------------------------------------------------------
# Statistics and printing.


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def mib(kib: float) -> float:
    return kib / 1024


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
    )
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def machine() -> dict:
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    try:
        webkit = subprocess.run(["pkg-config", "--modversion", "webkit2gtk-4.1"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        webkit = "?"
    return {"cpus": os.cpu_count(), "cpu": model, "mem_gib": round(mem / 1024 / 1024, 1),
            "kernel": platform.release(), "webkit2gtk": webkit}


def cpu_seconds(pid: int) -> float:
    """User + system time of one process (not of its children)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """How busy the machine was over a phase, and how much of that was not the bench: the
    CPU time of everything the bench started (Xvfb and the bus included) counts as ours."""

    def __init__(self, reaper: "Reaper") -> None:
        self.reaper = reaper
        self.start = self.sample()

    def sample(self) -> tuple[float, float, float]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # not idle, iowait
        t = os.times()
        ours = t.user + t.system + self.reaper.cpu_done + sum(
            cpu_seconds(p) for proc in self.reaper.procs for p in descendants(proc.pid))
        return time.monotonic(), busy, ours

    def percent(self) -> dict[str, float]:
        now = self.sample()
        capacity = (now[0] - self.start[0]) * (os.cpu_count() or 1)
        busy, ours = now[1] - self.start[1], now[2] - self.start[2]
        return {"machine_busy_pct": round(100 * busy / capacity, 1),
                "others_pct": round(max(0.0, 100 * (busy - ours) / capacity), 1)}


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# ---------------------------------------------------------------------------------------
# The measurements.


# The selection scripts/lib.sh builds everything with (CARGO_SELECTION): a quick run reuses
# that build instead of compiling the Tauri tree again.
WORKSPACE_BUILD = ["cargo", "build", "--workspace", "--features",
                   f"{APP}/custom-protocol,{HELLO}/custom-protocol"]


def build(bin_dir: Path, quick: bool) -> dict[str, Path]:
    """The production-like build of both (debug profile, `custom-protocol`), copied aside so
    that another build in the shared target dir cannot swap a binary mid-run.

    A measured run builds each package on its own, so the hello-world's Tauri keeps its
    default features only. A quick run judges nothing and takes the workspace build the tests
    made, where the hello-world's Tauri also has the app's tray and PNG features."""
    steps = [["npm", "--prefix", "ui", "run", "build"]]
    if quick:
        steps.append(WORKSPACE_BUILD)
    else:
        steps += [
            ["cargo", "build", "-p", APP, "--features", "custom-protocol"],
            ["cargo", "build", "-p", HELLO, "--features", "custom-protocol"],
        ]
    for step in steps:
        log(f"$ {' '.join(step)}")
        if subprocess.run(step, cwd=ROOT, check=False).returncode != 0:
            raise BenchError(f"build step failed: {' '.join(step)}")
    return copy_binaries(bin_dir)


# A path only a `custom-protocol` build holds: its embedded UI. Without the feature the app
# would load the Vite dev server's URL instead (and happily find one running).
EMBEDDED_ASSET = {APP: b"/assets/index-", HELLO: b"/main.js"}


def copy_binaries(bin_dir: Path) -> dict[str, Path]:
    bin_dir.mkdir(parents=True, exist_ok=True)
    binaries = {}
    for name in (APP, HELLO):
        source = TARGET / "debug" / name
        if not source.exists():
            raise BenchError(f"{source} is missing (run without --no-build)")
        binaries[name] = Path(shutil.copy2(source, bin_dir / name))
        with open(binaries[name], "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data.find(EMBEDDED_ASSET[name]) < 0:
                raise BenchError(f"{source} has no embedded UI: build it with --features custom-protocol")
    return binaries


# The two kinds of start: what a launch finds already on the machine besides the page cache.
KEPT = "shader cache kept"
NOTHING = "nothing kept"


def contender_env(desktop: Desktop, name: str, home: Path, shader_cache: Path | None) -> dict[str, str]:
    env = app_env(desktop, home, shader_cache)
    if name == HELLO_CPU:
        env[WEBKIT_CPU_PAINTING] = "1"
    return env


def cold_start(reaper: Reaper, desktop: Desktop, binaries: dict[str, Path], runs: int, work: Path) -> dict:
    """`runs` rounds; each starts every contender in both modes, in an order that alternates
    from round to round. Round 0 is a warm-up (page cache, and the kept shader cache)."""
    shader_cache = work / "mesa-shader-cache"
    names = contenders()
    times: dict[str, dict[str, list[float]]] = {m: {n: [] for n in names} for m in (KEPT, NOTHING)}
    for i in range(runs):
        order = [(m, n) for m in (KEPT, NOTHING) for n in names]
        for mode, name in order if i % 2 == 0 else reversed(order):
            home = work / f"start-{names.index(name)}-{i}"
            env = contender_env(desktop, name, home, shader_cache if mode == KEPT else None)
            run = launch(reaper, binary_of(binaries, name), env, work)
            try:
                ms = wait_ready(run, name)
            finally:
                reaper.stop(run.proc)
            shutil.rmtree(home, ignore_errors=True)
            times[mode][name].append(ms)
            log(f"  start {i + 1}/{runs} {mode:17} {name:17} {ms:8.1f} ms{'  (warm-up)' if i == 0 else ''}")
    result: dict = {}
    for mode, by_name in times.items():
        summary: dict = {}
        for name, values in by_name.items():
            counted = values[1:] if len(values) > 1 else values
            summary[name] = {"runs_ms": [round(v, 1) for v in values], "warmup_ms": round(values[0], 1),
                             "median_ms": round(statistics.median(counted), 1),
                             "p90_ms": round(percentile(counted, 90), 1)}
        pairs = [a / h for a, h in zip(by_name[APP][1:], by_name[HELLO][1:])] or [by_name[APP][0] / by_name[HELLO][0]]
        summary["ratio"] = round(summary[APP]["median_ms"] / summary[HELLO]["median_ms"], 2)
        summary["median_of_round_ratios"] = round(statistics.median(pairs), 2)
        if HELLO_CPU in by_name:
            summary["ratio_like_for_like"] = round(summary[APP]["median_ms"] / summary[HELLO_CPU]["median_ms"], 2)
        result[mode] = summary
    result["app_painting"] = "gpu" if has_gpu() else "cpu"
    return result


def idle_memory(reaper: Reaper, desktop: Desktop, binaries: dict[str, Path], idle: float, work: Path) -> dict:
    """One app at a time: ready, then `idle` seconds untouched. The figure is the sample at
    `idle` seconds; samples every 5 s before it show how steady it is."""
    result: dict = {}
    names = [HELLO, APP] + [n for n in contenders() if n == HELLO_CPU]
    for name in names:
        home = work / f"memory-{names.index(name)}"
        env = contender_env(desktop, name, home, work / "mesa-shader-cache")
        run = launch(reaper, binary_of(binaries, name), env, work)
        try:
            wait_ready(run, name)
            ready = time.monotonic()
            log(f"  memory {name}: ready, idle {idle:.0f} s")
            series = []
            for second in [*range(0, int(idle), 5), idle]:
                time.sleep(max(0.0, ready + second - time.monotonic()))
                if run.proc.poll() is not None:
                    raise BenchError(f"{name} exited during the idle period ({run.proc.returncode})")
                memory = tree_memory(run.proc.pid)
                ours = {p["pid"] for p in memory["processes"]}
                series.append({"s": second, **memory["total_kib"], "foreign_webkit": foreign_webkit(ours)})
            memory["over_time"] = series
        finally:
            reaper.stop(run.proc)
        shutil.rmtree(home, ignore_errors=True)
        result[name] = memory
    result["idle_s"] = idle
    for key in ("pss", "anon", "uss", "rss"):
        result[f"ratio_{key}"] = round(result[APP]["total_kib"][key] / result[HELLO]["total_kib"][key], 2)
    result["ratio"] = result["ratio_pss"]
    if HELLO_CPU in result:
        for key in ("pss", "anon"):
            result[f"ratio_like_for_like_{key}"] = round(
                result[APP]["total_kib"][key] / result[HELLO_CPU]["total_kib"][key], 2)
    # The same ratios over the second half of the idle period (medians), less at the mercy of
    # one sample taken while other programs' WebKit processes came or went.
    half = [s for s in result[HELLO]["over_time"] if s["s"] >= idle / 2]
    for key in ("pss", "anon"):
        med = {n: statistics.median(s[key] for s in result[n]["over_time"] if s["s"] >= idle / 2) for n in (HELLO, APP)}
        result[f"median_second_half_{key}_kib"] = med
        result[f"ratio_second_half_{key}"] = round(med[APP] / med[HELLO], 2) if half else None
    return result


# ---------------------------------------------------------------------------------------
# 100,000 access records through WebDriver.


class WebDriver:
    """The few W3C WebDriver calls needed, over plain HTTP."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 180) -> object:
        """One request. A dropped connection is retried twice: tauri-driver now and then
        fails to forward a request to the native driver ("client error (SendRequest)"),
        and every script this bench sends may safely run again."""
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            request = urllib.request.Request(self.base + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return json.loads(response.read() or b"null").get("value")
            except urllib.error.HTTPError as e:
                raise BenchError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}") from e
            except (OSError, http.client.HTTPException) as e:
                if attempt == 2 or isinstance(e, TimeoutError):
                    raise BenchError(f"WebDriver {method} {path}: {e!r}") from e
                log(f"  WebDriver {method} {path}: {e!r}; trying again")
                time.sleep(1)
        raise AssertionError("unreachable")

    def start(self, application: Path) -> None:
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "wry", "tauri:options": {"application": str(application)}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]
        self.call("POST", f"/session/{self.session}/timeouts", {"script": 180_000})

    def run(self, script: str, *args: object) -> object:
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def run_async(self, script: str, *args: object) -> object:
        return self.call("POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float, what: str) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.run(script)
            if value:
                return value
            time.sleep(0.2)
        raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")

    def end(self) -> None:
        if self.session:
            try:
                self.call("DELETE", f"/session/{self.session}", timeout=20)
            except (BenchError, OSError):
                pass
            self.session = None


def tauri_driver() -> Path:
    local = ROOT / ".tools" / "bin" / "tauri-driver"
    if local.exists():
        return local
    found = shutil.which("tauri-driver")
    if found:
        return Path(found)
    log("$ cargo install tauri-driver --locked --root .tools")
    subprocess.run(["cargo", "install", "tauri-driver", "--locked", "--root", str(ROOT / ".tools")],
                   cwd=ROOT, check=True)
    return local


def with_app(reaper: Reaper, desktop: Desktop, app: Path, home: Path, work: Path, body) -> object:
    """Runs `body(driver, driver_proc)` with the app open in a WebDriver session."""
    env = app_env(desktop, home)
    env.pop("TRIPLINE_REPORT_READY")
    port, native = free_port(), free_port()
    with open(work / f"tauri-driver-{time.monotonic_ns()}.log", "wb") as out:
        proc = reaper.spawn([str(tauri_driver()), "--port", str(port), "--native-port", str(native)],
                            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    driver = WebDriver(port)
    try:
        wait_for_port(port, proc, 30)
        wait_for_port(native, proc, 30)
        driver.start(app)
        return body(driver, proc)
    finally:
        driver.end()
        reaper.stop(proc)


def seed_records(database: Path, count: int) -> dict:
    """Inserts `count` access records with exactly the engine's columns, in one transaction."""
    db = sqlite3.connect(database)
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(access_records)")]
        if columns != RECORD_COLUMNS:
            raise BenchError(f"access_records has columns {columns}, the bench expects {RECORD_COLUMNS}; "
                             "update RECORD_COLUMNS and the rows in seed_records")
        triggers = [row[0] for row in db.execute("SELECT id FROM triggers ORDER BY id")]
        rng = random.Random(5)
        start = time.time() - count * 30
        rows = []
        for i in range(count):
            at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * 30)) + f".{i % 1000:03d}Z"
            source = f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}:{rng.randrange(30000, 60000)}"
            trigger = rng.choice(triggers) if triggers and rng.random() < 0.7 else None
            headers = json.dumps([["user-agent", "curl/8.5.0"], ["content-type", "application/json"]])
            if trigger is None:
                rows.append((None, at, source, "GET", "/hook/trigger?token=[redacted]", headers, "", 0, None,
                             "rejected", "rejected: no trigger has this token", 404,
                             '{"code":"token.unknown","message":"no trigger has this token"}', None))
            else:
                decision = rng.choice(["triggered", "untriggered", "no-op"])
                event = json.dumps({"image": f"registry.example/demo:v{i}"})
                status = 202 if decision == "triggered" else 200
                rows.append((trigger, at, source, "POST", "/hook/trigger?token=[redacted]", headers,
                             event, 0, event, decision, f"{decision}: bench record {i}", status,
                             json.dumps({"status": decision}), None))
        with db:
            db.executemany(
                "INSERT INTO access_records (trigger_id, at, source, method, path, headers, body, "
                "body_truncated, event, decision, reason, status, response, release_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        total = db.execute("SELECT count(*) FROM access_records").fetchone()[0]
        return {"inserted": count, "total": total, "triggers": len(triggers)}
    finally:
        db.close()


# Scrolls the list for `duration` ms in three phases (wheel-like steps, fast flicks that wrap
# round at the end, random jumps), timing every animation frame and counting option rows.
SCROLL_SCRIPT = r"""
const [duration, done] = [arguments[0], arguments[arguments.length - 1]];
const list = document.querySelector('[role="listbox"]');
if (!list) { done({ error: 'no [role=listbox] on the page' }); return; }
const phases = { wheel: [], flick: [], jump: [] };
let maxOptions = 0, maxSetSize = 0, rowHeight = 0;
// Main-thread work per scroll step: from the scroll event reaching the page (a capturing
// listener on window runs first) to the list's own handler having re-rendered the rows
// (this listener, added after the list's, runs after its DOM update) plus the layout it
// forces. Painting is not included; the frame times include it.
const work = [], script = [];
let scrolledAt = 0;
const onScrollStart = (e) => { if (e.target === list) scrolledAt = performance.now(); };
const onScrollEnd = () => {
  if (!scrolledAt) return;
  script.push(performance.now() - scrolledAt);
  const options = list.querySelectorAll('[role="option"]');
  if (options.length) options[options.length - 1].getBoundingClientRect();
  work.push(performance.now() - scrolledAt);
  scrolledAt = 0;
};
window.addEventListener('scroll', onScrollStart, true);
list.addEventListener('scroll', onScrollEnd);
const t0 = performance.now();
let last = 0;
function sample() {
  const options = list.querySelectorAll('[role="option"]');
  maxOptions = Math.max(maxOptions, options.length);
  if (options.length) {
    maxSetSize = Math.max(maxSetSize, Number(options[0].getAttribute('aria-setsize')) || 0);
    rowHeight = options[0].getBoundingClientRect().height;
  }
}
function frame(now) {
  const t = now - t0;
  const phase = t < duration / 3 ? 'wheel' : t < (2 * duration) / 3 ? 'flick' : 'jump';
  phases[phase].push(now - last);
  last = now;
  sample();
  const room = Math.max(1, list.scrollHeight - list.clientHeight);
  if (phase === 'wheel') list.scrollTop = (list.scrollTop + 120) % room;
  else if (phase === 'flick') list.scrollTop = (list.scrollTop + 4000) % room;
  else list.scrollTop = Math.floor(Math.random() * room);
  if (t < duration) { requestAnimationFrame(frame); return; }
  window.removeEventListener('scroll', onScrollStart, true);
  list.removeEventListener('scroll', onScrollEnd);
  done({ phases, work, script, maxOptions, maxSetSize, rowHeight, viewport: list.clientHeight,
         width: list.clientWidth, scrollHeight: list.scrollHeight });
}
requestAnimationFrame((now) => { last = now; requestAnimationFrame(frame); });
"""

# Keeps the list scrolled to its end, one animation frame at a time, so it keeps asking for
# the next page, until it holds `want` items, has not grown for 3 s or `limit` ms have
# passed; returns its size.
LOAD_SCRIPT = r"""
const [want, limit, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const list = document.querySelector('[role="listbox"]');
const size = () => Number(list.querySelector('[role="option"]')?.getAttribute('aria-setsize')) || 0;
const t0 = performance.now();
let best = size(), grewAt = t0;
(function poke() {
  list.scrollTop = list.scrollHeight;
  const current = size();
  if (current > best) { best = current; grewAt = performance.now(); }
  const t = performance.now();
  if (best >= want || t - grewAt > 3000 || t - t0 > limit) done({ size: best, stalled: t - grewAt > 3000 });
  else requestAnimationFrame(poke);
})();
"""

# The list not painted while it is being filled: filling is set-up, not measured, and
# painting every intermediate frame in software rendering would make it take many minutes.
HIDE_ROWS = """
let s = document.getElementById('bench-hide');
if (arguments[0] && !s) { s = document.createElement('style'); s.id = 'bench-hide';
  s.textContent = '[role="listbox"] { visibility: hidden !important; }'; document.head.append(s); }
if (!arguments[0] && s) s.remove();
"""

# The baseline list for the renderer: `rows` static rows of seven text cells in a plain
# scrolling box of the app list's size, no framework and no virtualisation.
STATIC_LIST = """
const [rows, width, height] = arguments;
document.body.innerHTML = '';
const list = document.createElement('div');
list.setAttribute('role', 'listbox');
list.style.cssText = `width:${width}px;height:${height}px;overflow-y:auto;border:1px solid #ccc;border-radius:6px;font:13px sans-serif`;
for (let i = 0; i < rows; i++) {
  const row = document.createElement('div');
  row.setAttribute('role', 'option');
  row.setAttribute('aria-setsize', String(rows));
  row.style.cssText = 'display:flex;gap:12px;align-items:center;height:36px;padding:0 12px;border-bottom:1px solid #eee;white-space:nowrap;overflow:hidden';
  for (const text of ['12:00:0' + (i % 10), 'demo-redeploy', 'POST', String(200 + (i % 3)), 'triggered',
                      'triggered: bench record ' + i, '10.0.' + (i % 256) + '.7:40000']) {
    const cell = document.createElement('span');
    cell.textContent = text;
    row.append(cell);
  }
  list.append(row);
}
document.body.append(list);
return document.querySelectorAll('[role="option"]').length;
"""

SETTLE_S = 8.0  # after a big change the software renderer keeps painting for several seconds
SCROLL_MS = 6000  # 2 s per phase
SCROLL_RUNS = 3  # each after SETTLE_S of quiet; their frames are pooled


def scroll_runs(driver: "WebDriver") -> dict:
    """SCROLL_RUNS scroll measurements, pooled."""
    pooled: dict = {}
    for _ in range(SCROLL_RUNS):
        time.sleep(SETTLE_S)
        scroll = driver.run_async(SCROLL_SCRIPT, SCROLL_MS)
        if "error" in scroll:
            raise BenchError(scroll["error"])
        if not pooled:
            pooled = scroll
        else:
            for phase, frames in scroll["phases"].items():
                pooled["phases"][phase] += frames
            pooled["work"] += scroll["work"]
            pooled["script"] += scroll["script"]
            pooled["maxOptions"] = max(pooled["maxOptions"], scroll["maxOptions"])
    return pooled


def spread(values: list[float]) -> dict:
    if not values:
        return {"steps": 0, "p50": None, "p95": None, "max": None}
    return {"steps": len(values), "p50": round(percentile(values, 50), 1),
            "p95": round(percentile(values, 95), 1), "max": round(max(values), 1)}


def frame_summary(scroll: dict) -> dict:
    frames = [f for phase in scroll["phases"].values() for f in phase]
    return {
        "frames": len(frames),
        "frame_ms": {"p50": round(percentile(frames, 50), 1), "p95": round(percentile(frames, 95), 1),
                     "max": round(max(frames), 1)},
        "phases": {name: {"frames": len(v), "p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1),
                          "max": round(max(v), 1)} for name, v in scroll["phases"].items() if v},
        "max_dom_rows": scroll["maxOptions"],
        "scroll_step_work_ms": spread(scroll["work"]),
        "scroll_step_script_ms": spread(scroll["script"]),
    }


def records(reaper: Reaper, desktop: Desktop, binaries: dict[str, Path], count: int, work: Path) -> dict:
    app = binaries[APP]
    home = work / "records"
    first_screen = "return !!document.querySelector('main, #app > *')"

    # 1. First start: the app creates its database; the demo gives the records a trigger.
    def prepare(driver: WebDriver, _proc) -> object:
        driver.wait_for(first_screen, 60, "the first screen")
        return driver.run_async(
            "const done = arguments[arguments.length - 1];"
            "window.__TAURI_INTERNALS__.invoke('create_demo').then(() => done('ok'), (e) => done(JSON.stringify(e)));")

    demo = with_app(reaper, desktop, app, home, work, prepare)
    log(f"  records: demo application → {demo}")
    # 2. The records, written while the app is closed.
    database = home / "tripline" / "tripline.db"
    if not database.exists():
        raise BenchError(f"the app did not create {database}")
    t = time.monotonic()
    seeded = seed_records(database, count)
    seeded["seconds"] = round(time.monotonic() - t, 1)
    log(f"  records: {seeded}")

    # 3. Second start: open the list, fill it with every record, let it settle, scroll it.
    def measure(driver: WebDriver, proc) -> dict:
        driver.wait_for(first_screen, 60, "the first screen")
        driver.run("location.hash = '#/records'")
        driver.wait_for("return document.querySelectorAll('[role=\"listbox\"] [role=\"option\"]').length",
                        60, "rows in the access-record list (#/records, [role=listbox] [role=option])")
        driver.run(HIDE_ROWS, True)
        t = time.monotonic()
        size = 0
        while time.monotonic() - t < 600:
            # Short calls: one WebDriver request never lasts long.
            loaded = driver.run_async(LOAD_SCRIPT, count, 20_000)
            size = loaded["size"]
            log(f"  records: the list holds {size:,} items after {time.monotonic() - t:.0f} s")
            if size >= count or loaded["stalled"]:
                break
        load_s = time.monotonic() - t
        driver.run(HIDE_ROWS, False)
        driver.run("document.querySelector('[role=\"listbox\"]').scrollTop = 0")
        scroll = scroll_runs(driver)
        app_pid = next((p for p in descendants(proc.pid) if comm(p) == APP[:15]), None)
        memory = tree_memory(app_pid)["total_kib"] if app_pid else None
        return {"size": size, "load_s": load_s, "scroll": scroll, "memory_kib": memory}

    measured = with_app(reaper, desktop, app, home, work, measure)
    scroll = measured["scroll"]

    # 4. The baseline: the same scrolling of a plain static list in the hello-world.
    baseline_rows = 2000

    def baseline(driver: WebDriver, _proc) -> dict:
        driver.wait_for("return document.readyState === 'complete'", 60, "the hello page")
        driver.run(STATIC_LIST, baseline_rows, scroll["width"], scroll["viewport"])
        return scroll_runs(driver)

    base = with_app(reaper, desktop, binaries[HELLO], work / "records-baseline", work, baseline)
    app_frames, base_frames = frame_summary(scroll), frame_summary(base)
    summary = {
        "records_in_database": seeded["total"],
        "items_in_list": measured["size"],
        "load_all_s": round(measured["load_s"], 1),
        "row_height_px": scroll["rowHeight"],
        "viewport_px": [scroll["width"], scroll["viewport"]],
        **app_frames,
        "baseline": {"what": f"{baseline_rows:,} static rows in the hello-world", **base_frames},
        "ratio_p95": round(app_frames["frame_ms"]["p95"] / base_frames["frame_ms"]["p95"], 2),
        "app_memory_kib": measured["memory_kib"],
        "seeded": seeded,
        "demo": demo,
    }
    shutil.rmtree(home, ignore_errors=True)
    return summary


# ---------------------------------------------------------------------------------------


def report(results: dict) -> None:
    print()
    print(f"Machine: {results['machine']['cpus']} CPUs ({results['machine']['cpu']}), "
          f"{results['machine']['mem_gib']} GiB, Linux {results['machine']['kernel']}, "
          f"WebKitGTK {results['machine']['webkit2gtk']}; load average {results['load_start']} → "
          f"{results.get('load_end', '?')}")
    if "cold_start" in results:
        cs = results["cold_start"]
        n = len(cs[KEPT][APP]["runs_ms"]) - 1
        print(f"\nCold start, spawn → first screen painted ({n} rounds after 1 warm-up, orders alternating;"
              " fresh XDG and data folders every start):")
        rows = []
        for mode in (KEPT, NOTHING):
            m = cs[mode]
            for name in (HELLO, HELLO_CPU, APP):
                if name not in m:
                    continue
                ratio = {HELLO: "1.00x", APP: f"{m['ratio']:.2f}x",
                         HELLO_CPU: f"{m[HELLO_CPU]['median_ms'] / m[HELLO]['median_ms']:.2f}x" if HELLO_CPU in m else ""}
                rows.append([f"{mode}: {name}", f"{m[name]['median_ms']:.0f} ms", f"{m[name]['p90_ms']:.0f} ms",
                             f"{m[name]['warmup_ms']:.0f} ms", ratio[name],
                             f"{m['median_of_round_ratios']:.2f}x" if name == APP else "",
                             f"{m['ratio_like_for_like']:.2f}x" if name == APP and "ratio_like_for_like" in m else ""])
        print(table(["", "median", "p90", "warm-up", "ratio", "per round", "like for like"], rows))
        print(f"The app paints on the {cs.get('app_painting', '?').upper()} here"
              + ("" if cs.get("app_painting") == "gpu" else
                 " (no GPU: src-tauri/src/painting.rs); 'like for like' is its ratio to the hello-world painting so too"))
        print(f"target: ratio ≤ 1.2x. CPU during the starts: machine {cs['cpu']['machine_busy_pct']}% busy, "
              f"other processes about {cs['cpu']['others_pct']}%")
    if "idle_memory" in results:
        im = results["idle_memory"]
        print(f"\nIdle memory {im['idle_s']:.0f} s after ready, all processes of each app (MiB;"
              " anon = the anonymous and shmem part of PSS):")
        rows = []
        names = [n for n in (HELLO, HELLO_CPU, APP) if n in im]
        for name in names:
            for p in sorted(im[name]["processes"], key=lambda p: -p["pss"]):
                rows.append([f"{name} / {p['name']} ({p['pid']})",
                             *(f"{mib(p[k]):.1f}" for k in ("pss", "anon", "uss", "rss"))])
            t = im[name]["total_kib"]
            rows.append([f"{name} total", *(f"{mib(t[k]):.1f}" for k in ("pss", "anon", "uss", "rss"))])
        rows.append(["ratio app / hello", *(f"{im['ratio_' + k]:.2f}x" for k in ("pss", "anon", "uss", "rss"))])
        rows.append(["ratio, medians of the second half", f"{im['ratio_second_half_pss']:.2f}x",
                     f"{im['ratio_second_half_anon']:.2f}x", "", ""])
        if "ratio_like_for_like_pss" in im:
            rows.append(["ratio app / hello (CPU painting)", f"{im['ratio_like_for_like_pss']:.2f}x",
                         f"{im['ratio_like_for_like_anon']:.2f}x", "", ""])
        print(table(["process", "PSS", "anon", "USS", "RSS"], rows))
        for name in names:
            print(f"{name} every 5 s, PSS/anon MiB (other WebKit processes): " + ", ".join(
                f"{mib(s['pss']):.0f}/{mib(s['anon']):.0f}"
                + (f" ({s['foreign_webkit']})" if s["foreign_webkit"] else "")
                for s in im[name]["over_time"]))
        print(f"target: PSS ratio ≤ 1.2x. CPU during this part: machine {im['cpu']['machine_busy_pct']}% busy, "
              f"other processes about {im['cpu']['others_pct']}%")
    if "records" in results:
        r = results["records"]
        print(f"\nAccess-record list, {SCROLL_MS / 1000:.0f} s of scrolling (WebDriver): {r['records_in_database']:,} records in the "
              f"database, {r['items_in_list']:,} in the list (filled in {r['load_all_s']} s), "
              f"list {r['viewport_px'][0]}x{r['viewport_px'][1]} px, rows {r['row_height_px']} px")
        rows = []
        for label, data in ((APP, r), ("baseline: " + r["baseline"]["what"], r["baseline"])):
            for phase, v in data["phases"].items():
                rows.append([f"{label} / {phase}", v["frames"], v["p50"], v["p95"], v["max"], ""])
            rows.append([f"{label} / all", data["frames"], data["frame_ms"]["p50"], data["frame_ms"]["p95"],
                         data["frame_ms"]["max"], data["max_dom_rows"]])
        print(table(["", "frames", "p50 ms", "p95 ms", "max ms", "DOM rows"], rows))
        print(f"p95 frame time, app / baseline: {r['ratio_p95']:.2f}x")
        for label, data in ((APP, r), ("baseline", r["baseline"])):
            w, j = data["scroll_step_work_ms"], data["scroll_step_script_ms"]
            print(f"{label}: per scroll step, script + layout (no painting) p50 {w['p50']} / p95 {w['p95']} / "
                  f"max {w['max']} ms, of which script p50 {j['p50']} / p95 {j['p95']} ms ({w['steps']} steps)")
        print(f"CPU during this part: machine {r['cpu']['machine_busy_pct']}% busy, "
              f"other processes about {r['cpu']['others_pct']}%")
        if r["app_memory_kib"]:
            print(f"app PSS with the list filled: {mib(r['app_memory_kib']['pss']):.0f} MiB "
                  f"(anon {mib(r['app_memory_kib']['anon']):.0f} MiB)")


def interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run: 2 starts each, 5 s idle")
    parser.add_argument("--records", action="store_true", help="also scroll a list of 100,000 access records")
    parser.add_argument("--records-only", action="store_true", help="only the access-record part")
    parser.add_argument("--no-build", action="store_true", help="use the binaries already in target/debug")
    parser.add_argument("--runs", type=int, help="starts of each app, the first a warm-up (default 7)")
    parser.add_argument("--idle", type=float, help="seconds idle before the memory sample (default 60)")
    parser.add_argument("--record-count", type=int, default=100_000)
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 7)
    idle = args.idle if args.idle is not None else (5.0 if args.quick else 60.0)

    reaper = Reaper()
    work = Path(tempfile.mkdtemp(prefix="tripline-desktop-bench-"))
    # Ctrl-C and SIGTERM unwind through `finally`, which stops everything started (SIGINT
    # too when a shell started us in the background with it ignored).
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    results: dict = {"machine": machine(), "load_start": loadavg(), "quick": args.quick}
    ok, keep_logs = False, False
    try:
        binaries = copy_binaries(work / "bin") if args.no_build else build(work / "bin", args.quick)
        desktop = start_desktop(reaper)
        log(f"Xvfb on {desktop.display}; session bus {desktop.bus}")
        if not args.records_only:
            watch = CpuWatch(reaper)
            results["cold_start"] = cold_start(reaper, desktop, binaries, runs, work)
            results["cold_start"]["cpu"] = watch.percent()
            watch = CpuWatch(reaper)
            results["idle_memory"] = idle_memory(reaper, desktop, binaries, idle, work)
            results["idle_memory"]["cpu"] = watch.percent()
        if args.records or args.records_only:
            watch = CpuWatch(reaper)
            results["records"] = records(reaper, desktop, binaries, args.record_count, work)
            results["records"]["cpu"] = watch.percent()
        results["load_end"] = loadavg()
        ok = True
    except BenchError as e:
        log(f"FAILED: {e}")
        results["error"] = str(e)
        keep_logs = True
    except KeyboardInterrupt:
        log("interrupted")
        results["error"] = "interrupted"
    except Exception as e:  # a bug in the bench: keep the logs, clean up, report it
        traceback.print_exc()
        results["error"] = repr(e)
        keep_logs = True
    finally:
        reaper.stop_all()
        TARGET.mkdir(exist_ok=True)
        (TARGET / "desktop-bench.json").write_text(json.dumps(results, indent=2) + "\n")
        if keep_logs:
            log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(results)
    print(f"\nwritten: {TARGET / 'desktop-bench.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
