#!/usr/bin/env bash
# Installs what building, running and testing the softtoken app needs on Debian/Ubuntu, and
# nothing that is already there. Idempotent; prints each step. Called by scripts/demo.sh and
# scripts/test.sh.
#
#   libwebkit2gtk-4.1-dev, build-essential, pkg-config   build the Tauri app (WebKitGTK, GTK 3)
#   xvfb, xauth                                          a virtual display for the window tests
#   webkit2gtk-driver                                    WebKitWebDriver, driven by tauri-driver
#   fonts-ipafont-gothic                                 Japanese glyphs for the ja screens
#   tauri-driver (cargo install)                         the WebDriver bridge for Tauri apps
#
# The Tauri guide also lists libxdo, libayatana-appindicator3 and librsvg2: they serve tray
# icons and global menus, which this app does not use, so they are not installed.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"
say() { printf '==> app-deps: %s\n' "$*"; }

apt_install libwebkit2gtk-4.1-dev build-essential pkg-config xvfb xauth webkit2gtk-driver \
  fonts-ipafont-gothic

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it from https://rustup.rs, then run this again." >&2
  exit 1
fi

# cargo installs into ~/.cargo/bin, which may not be on PATH in a fresh shell.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if command -v tauri-driver >/dev/null && tauri-driver --help >/dev/null 2>&1; then
  say "tauri-driver present: $(command -v tauri-driver)"
else
  say "installing tauri-driver 2 (cargo install, a few minutes)"
  cargo install tauri-driver --locked --version '^2'
fi
