#!/usr/bin/env bash
# The one command that runs every softtoken test (README quick start; .ci/run calls it).
# On a fresh Debian/Ubuntu machine it first installs what is missing, then runs rustfmt,
# clippy and every test against real components: a private gnome-keyring Secret Service,
# the reference server on loopback, and the app window under Xvfb.
# Idempotent: a second run installs nothing and only tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install Rust 1.88 or newer (https://rustup.rs), then run this again." >&2
  exit 1
fi

step "checking system packages"
# gnome-keyring + dbus: the real Secret Service for keychain tests; oathtool: an independent
# TOTP implementation to cross-check ours; python3: the protocol's second test-vector check.
apt_install ca-certificates gcc pkg-config dbus dbus-bin gnome-keyring oathtool python3
if [ -f scripts/app-deps.sh ]; then
  bash scripts/app-deps.sh
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
bash scripts/check-targets.sh  # Android, iOS, macOS, Windows: clippy per target (docs/PLATFORMS.md)

step "UI unit tests: validation, formatting, every text in ja and en (node --test)"
command -v node >/dev/null || apt_install nodejs
node --test tests/ui/

step "cargo test (real Secret Service in a private D-Bus session)"
export SOFTTOKEN_SECRET_SERVICE=1
if [ -f scripts/app-deps.sh ]; then export SOFTTOKEN_E2E=1; fi
scripts/with-secret-service.sh cargo test --workspace --locked
