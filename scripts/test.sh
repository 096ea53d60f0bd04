#!/usr/bin/env bash
# The one command that runs every softtoken test (README quick start; .ci/run calls it).
# On a fresh Debian/Ubuntu machine it first installs what is missing, then runs rustfmt,
# clippy and every test against real components: a private gnome-keyring Secret Service,
# the reference server on loopback, and the app window under Xvfb.
# Idempotent: a second run installs nothing and only tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=SCRIPTDIR/lib.sh
source scripts/lib.sh
step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install Rust 1.90 or newer (https://rustup.rs), then run this again." >&2
  exit 1
fi

step "checking system packages"
# gnome-keyring + dbus: the real Secret Service for keychain tests; oathtool: an independent
# TOTP implementation to cross-check ours; python3: the protocol's second test-vector check,
# with python3-yaml for the rehearsal of the release pipeline's phone builds;
# the lint of these scripts (the shellcheck package); chromium and chromium-driver: the demo
# bank's pages in a real browser, and x11-utils for the kiosk's screen size
# (tests/tests/app_e2e.rs).
apt_install ca-certificates gcc pkg-config dbus dbus-bin gnome-keyring oathtool python3 python3-yaml shellcheck \
  chromium chromium-driver x11-utils
# The Linux packages' test (tests/tests/linux_package.rs): the Tauri CLI runs on Node.js
# (scripts/tauri.sh); lintian, desktop-file-validate, rpm and objdump inspect what it builds.
command -v npm >/dev/null || apt_install nodejs npm
apt_install lintian desktop-file-utils rpm binutils
# A real PostgreSQL for the server's second backend (crates/server/tests/storage_conformance.rs).
apt_install postgresql
if [ -f scripts/app-deps.sh ]; then
  bash scripts/app-deps.sh
fi

step "shellcheck -x scripts/*.sh .ci/run"
shellcheck -x scripts/*.sh .ci/run

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
bash scripts/check-targets.sh  # Android, iOS, macOS, Windows: clippy per target (docs/PLATFORMS.md)

step "supply chain: licences, bans, sources (deny.toml, docs/SUPPLY-CHAIN.md)"
bash scripts/supply-chain.sh

step "release pipeline: workflow schema, zizmor, shellcheck (docs/RELEASE.md)"
bash scripts/check-workflows.sh

step "the OpenAPI document against a real server on loopback (schemathesis; docs/INTEGRATION.md)"
bash scripts/api-check.sh

step "icons and native projects: every icon at its size, versions in step, XML/plist/JSON parse"
bash scripts/icons.sh check

step "UI unit tests: validation, formatting, every text in ja and en (node --test)"
node --test tests/ui/

step "cargo test (real Secret Service in a private D-Bus session)"
# With these set, a test whose Secret Service or window is missing fails instead of skipping.
export SOFTTOKEN_SECRET_SERVICE=1
export SOFTTOKEN_POSTGRES=1
export SOFTTOKEN_SUPPLY_CHAIN=1
if [ -f scripts/app-deps.sh ]; then export SOFTTOKEN_E2E=1; fi
# Every test that skips for any other reason writes its "SKIPPED: ..." line here
# (tests/skip.rs); a run of the test command skips none.
skipped=$(mktemp)
trap 'rm -f "$skipped"' EXIT
export SOFTTOKEN_SKIPPED_LOG="$skipped"
status=0
scripts/with-secret-service.sh cargo test --workspace --locked --no-fail-fast || status=$?

count=$(wc -l < "$skipped")
step "tests skipped: $count"
if [ "$count" -gt 0 ]; then
  cat "$skipped"
  echo "The test command runs every test: install what the SKIPPED lines above name." >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
