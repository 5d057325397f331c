#!/usr/bin/env bash
# The desktop end-to-end suite: a real Tripline window under Xvfb, driven by tauri-driver,
# in one private D-Bus session with an unlocked gnome-keyring (so secrets go to the keyring,
# as on a desktop). What CI calls.
#
#   bash tests/e2e/run.sh                     # build what is missing or stale, run every test
#   bash tests/e2e/run.sh tray                # only tests/e2e/tray.test.mjs
#   E2E_SKIP_BUILD=1 bash tests/e2e/run.sh    # use the binaries as they are
#   E2E_KEEP=1 ...                            # keep each run's temporary folders (logs, data)
#   E2E_REQUIRE_KEYRING=1 ...                 # fail instead of falling back to file secrets
#
# Needs (Debian 12): xvfb webkit2gtk-driver gnome-keyring libsecret-tools dbus python3-dbus
# python3-gi gir1.2-gtk-3.0, Node 20 + npm, and for building: the Tauri build packages and cargo.
# tauri-driver is installed into .tools/ on first use (~25 s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ "${E2E_IN_SESSION:-}" != 1 ]]; then
  cd "$root"
  say() { printf '# %s\n' "$*"; }

  missing=()
  for tool in Xvfb dbus-run-session dbus-send gnome-keyring-daemon secret-tool node npm; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [[ -x /usr/bin/WebKitWebDriver ]] || missing+=("WebKitWebDriver (webkit2gtk-driver)")
  /usr/bin/python3 -c 'import dbus, gi' 2>/dev/null || missing+=("python3-dbus/python3-gi")
  if ((${#missing[@]})); then
    echo "missing: ${missing[*]}" >&2
    echo "apt-get install xvfb webkit2gtk-driver gnome-keyring libsecret-tools dbus python3-dbus python3-gi gir1.2-gtk-3.0" >&2
    exit 2
  fi

  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/tripline-e2e-run-XXXXXX")"
  trap 'rm -rf "$run_dir"' EXIT

  export TRIPLINE_APP="${TRIPLINE_APP:-${CARGO_TARGET_DIR:-$root/target}/debug/tripline-desktop}"
  export TRIPLINE_CLI="${TRIPLINE_CLI:-${CARGO_TARGET_DIR:-$root/target}/debug/tripline}"
  export TAURI_DRIVER="${TAURI_DRIVER:-$root/.tools/bin/tauri-driver}"

  # Build. Cargo and Vite are quick when nothing changed, and a stale binary (or one built
  # without the embedded UI) makes for confusing failures, so this runs unless told not to.
  if [[ "${E2E_SKIP_BUILD:-}" != 1 ]]; then
    if [[ ! -d ui/node_modules ]]; then
      say "npm install (ui)"
      npm --prefix ui install --no-save --no-audit --no-fund --loglevel=error
    fi
    say "building the UI"
    npm --prefix ui run build >"$run_dir/ui-build.log" 2>&1 || { cat "$run_dir/ui-build.log" >&2; exit 1; }
    say "building the app (custom-protocol: UI embedded) and the CLI"
    # The selection scripts/lib.sh builds with (CARGO_SELECTION), so this reuses that build.
    cargo build --quiet --workspace --features tripline-desktop/custom-protocol,hello-tauri/custom-protocol
  fi
  for bin in "$TRIPLINE_APP" "$TRIPLINE_CLI"; do
    [[ -x "$bin" ]] || { echo "missing $bin (unset E2E_SKIP_BUILD to build it)" >&2; exit 2; }
  done

  if [[ ! -x "$TAURI_DRIVER" ]]; then
    say "installing tauri-driver into .tools/"
    cargo install --quiet tauri-driver --locked --root "$root/.tools"
  fi

  if [[ ! -d "$here/node_modules/selenium-webdriver" ]]; then
    say "npm ci (tests/e2e)"
    npm --prefix "$here" ci --no-audit --no-fund --loglevel=error
  fi

  # Others may rebuild target/debug while the suite runs: run from a private copy.
  cp "$TRIPLINE_APP" "$run_dir/tripline-desktop"
  cp "$TRIPLINE_CLI" "$run_dir/tripline"
  export TRIPLINE_APP="$run_dir/tripline-desktop" TRIPLINE_CLI="$run_dir/tripline"
  export E2E_RUN_DIR="$run_dir"

  # One private session bus for everything; it ends (with the keyring daemon) when we do.
  E2E_IN_SESSION=1 dbus-run-session -- bash "$here/run.sh" "$@"
  exit $?
fi

# --- inside the private D-Bus session ------------------------------------------------------

# The keyring daemon's own folders, away from the user's.
export XDG_RUNTIME_DIR="$E2E_RUN_DIR/runtime"
export XDG_DATA_HOME="$E2E_RUN_DIR/keyring-data"
mkdir -p -m 700 "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME"

# Unlocking with a non-empty password creates the login collection (an empty one does not).
# The daemon forks and serves over this bus, ending with it. Until it owns
# org.freedesktop.secrets, a client would D-Bus-activate a second, locked daemon: wait.
password="e2e-$RANDOM$RANDOM"
printf '%s' "$password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
keyring_works() {
  printf probe | secret-tool store --label='tripline e2e probe' app tripline-e2e probe 1 2>/dev/null \
    && [[ "$(secret-tool lookup app tripline-e2e probe 1 2>/dev/null)" == probe ]] \
    && secret-tool clear app tripline-e2e probe 1 2>/dev/null
}
export TRIPLINE_SECRETS=files
for _ in $(seq 50); do
  if owned && keyring_works; then
    TRIPLINE_SECRETS=keyring
    break
  fi
  sleep 0.2
done
if [[ "$TRIPLINE_SECRETS" == keyring ]]; then
  echo "# secrets: gnome-keyring (unlocked)"
elif [[ "${E2E_REQUIRE_KEYRING:-}" == 1 ]]; then
  echo "the gnome-keyring could not be unlocked in this session (E2E_REQUIRE_KEYRING=1)" >&2
  exit 1
else
  echo "# secrets: files (the gnome-keyring could not be unlocked in this session)"
fi

cd "$here"
tests=()
if (($#)); then
  for name in "$@"; do tests+=("${name%.test.mjs}.test.mjs"); done
else
  tests=(*.test.mjs)
fi
# One file at a time: two cores, and each file has its own display and app.
node --test --test-concurrency=1 --test-timeout=300000 "${tests[@]}"
