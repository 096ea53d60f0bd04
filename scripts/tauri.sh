#!/usr/bin/env bash
# The Tauri CLI on this repository: `bash scripts/tauri.sh ARGS` is `cargo tauri ARGS` run from
# the root, with the same arguments:
#
#   bash scripts/tauri.sh dev                                # the app, reloading ui/ on change
#   bash scripts/tauri.sh build --bundles deb,rpm            # packages under target/release/bundle
#   bash scripts/tauri.sh android build --apk                # needs the Android SDK (docs/PLATFORMS.md)
#
# Why a script and not a bare `cargo tauri`: the root tauri.conf.json sits beside a virtual
# workspace Cargo.toml, and the CLI wants the app crate's folder. The script writes the staged copy
# src-tauri/tauri.conf.json (.github/scripts/stage-tauri-config.py: paths rebased, version from
# the workspace) and points the CLI there with TAURI_APP_PATH. An installed `cargo tauri` works the
# same way after those two steps.
#
# The CLI comes from the npm registry at the version pinned in scripts/tauri-cli/package-lock.json
# (the tauri crate's version in Cargo.lock), installed into $CARGO_TARGET_DIR/tauri-cli. It is the
# same program `cargo install tauri-cli` compiles, prebuilt: seconds instead of ~10 minutes of
# compiling on a two-core CI machine.
#
# Gradle's Rust task and Xcode's "Build Rust Code" phase call this script too (the nested
# `android android-studio-script` and `ios xcode-script`), so they run the same pinned CLI as
# the call that started them. The CLI runs in the caller's directory, as `cargo tauri` would:
# `xcode-script` moves up from gen/apple to src-tauri itself.
set -euo pipefail
caller=$(pwd)
cd "$(dirname "$0")/.."
root=$(pwd)

python=$(command -v python3 || command -v python)
cli_dir="${CARGO_TARGET_DIR:-$root/target}/tauri-cli"
case "$cli_dir" in /*) ;; *) cli_dir="$root/$cli_dir" ;; esac
cli="$cli_dir/node_modules/@tauri-apps/cli/tauri.js"
pinned=$("$python" -c 'import json, sys
print(json.load(open(sys.argv[1]))["packages"]["node_modules/@tauri-apps/cli"]["version"])' \
  scripts/tauri-cli/package-lock.json)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "The Tauri CLI needs Node.js and npm: on Debian/Ubuntu, apt-get install nodejs npm" >&2
  exit 1
fi
if [ "$(node "$cli" --version 2>/dev/null || true)" != "tauri-cli $pinned" ]; then
  printf '==> installing the Tauri CLI %s (npm, into %s)\n' "$pinned" "$cli_dir" >&2
  mkdir -p "$cli_dir"
  cp scripts/tauri-cli/package.json scripts/tauri-cli/package-lock.json "$cli_dir/"
  (cd "$cli_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

"$python" .github/scripts/stage-tauri-config.py >&2
export TAURI_APP_PATH="$root/src-tauri"
cd "$caller"
exec node "$cli" "$@"
