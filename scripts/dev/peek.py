#!/usr/bin/env python3
"""Looks at the desktop app while developing: starts it headless (Xvfb + tauri-driver +
WebKitWebDriver), runs a few steps and saves screenshots.

    python3 scripts/dev/peek.py --out /tmp/shots '#/templates' 'shot:templates' \
        'js:document.querySelector("button").click()' 'sleep:500' 'shot:after-click'

Steps: '#/route' navigates (and waits a moment), 'shot:NAME' saves OUT/NAME.png,
'js:CODE' runs JavaScript in the window (its return value is printed), 'sleep:MS' waits,
'text' prints the visible text of <main>. The app is target/debug/tripline-desktop: a
build without `--features custom-protocol` loads the UI from the Vite dev server on
localhost:1420 (`cd ui && npx vite`), so UI edits need no Rust rebuild.

Each run gets its own display, ports and data directory (or --data-dir to keep one), so
several people can peek at once. Everything started is stopped at the end.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


def request(method, url, body=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/tripline-peek")
    parser.add_argument("--data-dir", help="keep the app's data here (default: a fresh temporary folder)")
    parser.add_argument("--app", default=os.path.join(ROOT, "target/debug/tripline-desktop"))
    parser.add_argument("steps", nargs="*")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    driver = shutil.which("tauri-driver") or os.path.join(ROOT, ".tools/bin/tauri-driver")
    if not os.path.exists(driver):
        raise SystemExit("tauri-driver is missing: cargo install tauri-driver --locked --root .tools")

    scratch = tempfile.mkdtemp(prefix="tripline-peek-")
    display = next(n for n in range(120, 400) if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"))
    env = dict(os.environ)
    env.update({
        "DISPLAY": f":{display}",
        "GDK_BACKEND": "x11",
        "TRIPLINE_DATA_DIR": args.data_dir or os.path.join(scratch, "data"),
        "TRIPLINE_SECRETS": env.get("TRIPLINE_SECRETS", "files"),
        "TRIPLINE_LISTEN": f"127.0.0.1:{free_port()}",
        "XDG_CONFIG_HOME": os.path.join(scratch, "config"),
        "XDG_DATA_HOME": os.path.join(scratch, "xdg-data"),
        "XDG_CACHE_HOME": os.path.join(scratch, "cache"),
    })
    port, native = free_port(), free_port()
    started = []
    try:
        started.append(subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                        stderr=subprocess.DEVNULL, start_new_session=True))
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{display}"):
                break
            time.sleep(0.05)
        log = open(os.path.join(args.out, "app.log"), "w")
        started.append(subprocess.Popen(
            ["dbus-run-session", "--", driver, "--port", str(port), "--native-port", str(native),
             "--native-driver", "/usr/bin/WebKitWebDriver"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_port(port)
        wait_port(native)
        base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": args.app}}}}
        session = request("POST", f"{base}/session", caps)["value"]["sessionId"]
        s = f"{base}/session/{session}"
        print(f"app started; listener {env['TRIPLINE_LISTEN']}; data {env['TRIPLINE_DATA_DIR']}; log {log.name}")
        time.sleep(1.5)
        for step in args.steps:
            if step.startswith("#"):
                request("POST", f"{s}/execute/sync", {"script": f"location.hash = {json.dumps(step)}", "args": []})
                time.sleep(1.2)
            elif step.startswith("shot:"):
                time.sleep(0.3)
                png = request("GET", f"{s}/screenshot")["value"]
                path = os.path.join(args.out, step[5:] + ".png")
                with open(path, "wb") as f:
                    f.write(base64.b64decode(png))
                print("saved", path)
            elif step.startswith("js:"):
                value = request("POST", f"{s}/execute/sync", {"script": step[3:], "args": []})["value"]
                print("js:", json.dumps(value)[:2000])
            elif step.startswith("sleep:"):
                time.sleep(int(step[6:]) / 1000)
            elif step == "text":
                value = request("POST", f"{s}/execute/sync", {"script": "return (document.querySelector('main')||document.body).innerText", "args": []})["value"]
                print(value)
            else:
                raise SystemExit(f"unknown step {step!r}")
        try:
            request("DELETE", s, timeout=10)
        except Exception:
            pass
    finally:
        for process in reversed(started):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in reversed(started):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if not args.data_dir:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
