#!/usr/bin/env bash
# Builds the iOS app with the Tauri CLI on macOS and leaves it in dist/ (docs/RELEASE.md).
#
#   build-ios.sh simulator   softtoken.app for the iOS simulator on Apple silicon, zipped; never
#                            signed for devices (a simulator build cannot be installed on a phone)
#   build-ios.sh device      the App Store IPA, only with the signing secrets:
#                            IOS_CERTIFICATE (.p12, base64), IOS_CERTIFICATE_PASSWORD,
#                            IOS_MOBILE_PROVISION (base64) and APPLE_DEVELOPMENT_TEAM, read by
#                            `cargo tauri ios build` itself
#
# Needs Xcode, xcodegen and Node.js on PATH (scripts/tauri.sh installs the Tauri CLI) and the rustup targets aarch64-apple-ios(-sim).
set -euo pipefail
cd "$(dirname "$0")/../.."

kind=${1:?usage: build-ios.sh simulator|device}
version=$(python3 .github/scripts/stage-tauri-config.py --version)
out=dist
mkdir -p "$out"

say() { printf '==> build-ios: %s\n' "$*"; }


say "writing the Xcode project from project.yml (XcodeGen; the .xcodeproj is not committed)"
(cd src-tauri/gen/apple && xcodegen generate)

case "$kind" in
  simulator)
    for var in IOS_CERTIFICATE IOS_CERTIFICATE_PASSWORD IOS_MOBILE_PROVISION; do unset "$var"; done
    bash scripts/tauri.sh ios build --ci --target aarch64-sim
    app=$(find src-tauri/gen/apple/build -maxdepth 3 -name '*.app' -type d | head -1)
    if [ -z "$app" ]; then
      echo "cargo tauri ios build left no .app under src-tauri/gen/apple/build" >&2
      exit 1
    fi
    ditto -c -k --keepParent "$app" "$out/softtoken-$version-ios-simulator-unsigned.zip"
    ;;
  device)
    for var in IOS_CERTIFICATE IOS_CERTIFICATE_PASSWORD IOS_MOBILE_PROVISION APPLE_DEVELOPMENT_TEAM; do
      if [ -z "${!var:-}" ]; then
        echo "build-ios.sh device needs $var (docs/RELEASE.md, Signing)" >&2
        exit 1
      fi
    done
    bash scripts/tauri.sh ios build --ci --export-method app-store-connect
    ipa=$(find src-tauri/gen/apple/build -name '*.ipa' | head -1)
    if [ -z "$ipa" ]; then
      echo "cargo tauri ios build left no .ipa under src-tauri/gen/apple/build" >&2
      exit 1
    fi
    cp "$ipa" "$out/softtoken-$version-ios.ipa"
    ;;
  *)
    echo "usage: build-ios.sh simulator|device" >&2
    exit 2
    ;;
esac
ls -l "$out"
