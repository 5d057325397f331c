#!/usr/bin/env bash
# Runs Tripline: installs what the desktop app needs (Debian packages, the UI's npm
# packages), builds it with its UI embedded, and starts it. Its data lives in
# ~/.local/share/tripline (TRIPLINE_DATA_DIR to change); the built-in sandbox cluster
# starts with it, and "Try it on the sandbox" on the first screen sets up the seed's demo.
#
# Without a display (a server, an SSH session) it walks the same demo headless with the
# command line and the listener instead (scripts/demo-cli.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
ensure_source_tools
# Helm applications render with this helm unless TRIPLINE_HELM names another.
export TRIPLINE_HELM="${TRIPLINE_HELM:-$TOOLS/bin/helm}"
cd "$ROOT"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  say "no display: running the headless demo instead (the desktop app needs a desktop session)"
  exec bash "$ROOT/scripts/demo-cli.sh" "$@"
fi
build_desktop_app
say "starting Tripline (closing the window keeps it in the tray; quit from the tray menu)"
exec "$ROOT/target/release/tripline-desktop" "$@"
