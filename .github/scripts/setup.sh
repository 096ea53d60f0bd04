#!/usr/bin/env bash
# Installs what one release-pipeline job needs on a GitHub-hosted runner (docs/RELEASE.md):
# the Rust toolchain and targets and the platform's build tools (scripts/tauri.sh brings the Tauri CLI).
#
#   setup.sh linux|windows|macos|ios|android
#
# Versions are pinned here, in one place. Plain shell on purpose: no third-party action.
set -euo pipefail

platform=${1:?usage: setup.sh linux|windows|macos|ios|android}

# The toolchain the project is developed and tested with (src-tauri needs 1.90 or newer).
RUST_VERSION=1.95.0
# Android: compile/target SDK 37 of src-tauri/gen/android/app/build.gradle.kts (what the pinned
# Tauri CLI writes; keep the three in step).
ANDROID_PLATFORM=android-37.0
ANDROID_BUILD_TOOLS=37.0.0

say() { printf '==> setup: %s\n' "$*"; }

targets=()
case "$platform" in
  linux | windows) ;;
  macos) targets=(aarch64-apple-darwin x86_64-apple-darwin) ;;
  ios) targets=(aarch64-apple-ios aarch64-apple-ios-sim) ;;
  android) targets=(aarch64-linux-android armv7-linux-androideabi i686-linux-android x86_64-linux-android) ;;
  *)
    echo "usage: setup.sh linux|windows|macos|ios|android" >&2
    exit 2
    ;;
esac

say "Rust $RUST_VERSION ${targets[*]}"
rustup toolchain install "$RUST_VERSION" --profile minimal --no-self-update
rustup default "$RUST_VERSION"
if [ ${#targets[@]} -gt 0 ]; then
  rustup target add --toolchain "$RUST_VERSION" "${targets[@]}"
fi

case "$platform" in
  linux | android)
    say "Debian packages for WebKitGTK and the bundler"
    sudo apt-get update -q
    sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libwebkit2gtk-4.1-dev build-essential pkg-config file patchelf librsvg2-dev
    ;;
  ios)
    say "XcodeGen (project.yml -> .xcodeproj)"
    brew install xcodegen
    ;;
esac

if [ "$platform" = android ]; then
  say "Android SDK $ANDROID_PLATFORM, build-tools $ANDROID_BUILD_TOOLS"
  sdkmanager="$ANDROID_HOME/cmdline-tools/latest/bin/sdkmanager"
  yes | "$sdkmanager" --licenses >/dev/null || true
  "$sdkmanager" "platforms;$ANDROID_PLATFORM" "build-tools;$ANDROID_BUILD_TOOLS" "platform-tools" >/dev/null
  # build-android.sh fetches the pinned Gradle (gradle-wrapper.properties) and checks its sum.
  for tool in curl unzip sha256sum; do
    command -v "$tool" >/dev/null || {
      echo "$tool is not on this runner's PATH: the pinned Gradle cannot be fetched and checked" >&2
      exit 1
    }
  done
fi

# The Tauri CLI is installed by scripts/tauri.sh at its first use, from npm at the version
# pinned in scripts/tauri-cli/package-lock.json; the hosted runners have Node.js. Gradle's Rust
# task and Xcode's "Build Rust Code" phase call the same script, so they need Node.js too.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js and npm are not on this runner's PATH: scripts/tauri.sh cannot install the Tauri CLI" >&2
  exit 1
fi
