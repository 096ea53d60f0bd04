#!/usr/bin/env bash
# Type-checks and lints the app and core for every platform softtoken ships on, from Linux:
# `cargo clippy -- -D warnings` for Android (device and emulator), iOS, macOS and Windows.
# scripts/test.sh calls it; it also runs on its own. Installs what is missing (rustup targets,
# clang, llvm) on a fresh Debian/Ubuntu machine.
#
# Only a check: nothing built here is linked or shipped. ring's C code is compiled by Debian's
# clang against no SDK at all (-nostdlibinc); the two SDK headers it includes for Apple and
# Windows are replaced by stand-ins this script writes into the target directory. Real builds
# need the NDK, Xcode and MSVC (docs/PLATFORMS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(
  aarch64-linux-android
  x86_64-linux-android
  aarch64-apple-ios
  aarch64-apple-darwin
  x86_64-pc-windows-msvc
)

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v clang >/dev/null || ! command -v llvm-ar >/dev/null; then
  step "installing clang and llvm (C compiler and archiver for ring's C code)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang llvm
fi

installed=$(rustup target list --installed)
missing=()
for target in "${TARGETS[@]}"; do
  grep -qx "$target" <<<"$installed" || missing+=("$target")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
fi

# Stand-ins for the two SDK headers ring's C code includes; a type check needs no more.
stand_in="${CARGO_TARGET_DIR:-target}/check-targets"
mkdir -p "$stand_in/apple" "$stand_in/windows" "$stand_in/empty-sdk"
stand_in=$(cd "$stand_in" && pwd)
cat >"$stand_in/apple/TargetConditionals.h" <<'EOF'
/* Stand-in for the Apple SDK header, written by scripts/check-targets.sh for a type check of
 * ring's C code on Linux. Never linked or shipped: release builds use Xcode's SDK. */
#pragma once
#define TARGET_OS_MAC 1
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
#if defined(__ENVIRONMENT_IPHONE_OS_VERSION_MIN_REQUIRED__)
#define TARGET_OS_IPHONE 1
#define TARGET_OS_IOS 1
#define TARGET_OS_OSX 0
#else
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_OSX 1
#endif
EOF
cat >"$stand_in/windows/stdlib.h" <<'EOF'
/* Stand-in for the MSVC header, written by scripts/check-targets.sh for a type check of ring's
 * C code on Linux (ring's crypto/internal.h includes it for this one function). Never linked or
 * shipped: release builds use MSVC's. */
#pragma once
unsigned long _byteswap_ulong(unsigned long value);
EOF

# The C compiler settings for one target, as the `cc` crate reads them (CC_<target> etc.).
c_env() {
  local target=$1 var=${1//-/_} cflags
  case $target in
    x86_64-linux-android) cflags="-idirafter /usr/include/x86_64-linux-gnu" ;;
    aarch64-linux-android) cflags="-nostdlibinc -DRING_CORE_NOSTDLIBINC=1" ;;
    *-apple-*) cflags="-nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -I$stand_in/apple" ;;
    *-windows-msvc) cflags="-nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -I$stand_in/windows" ;;
  esac
  printf '%s\n' "CC_$var=clang" "AR_$var=llvm-ar" "CFLAGS_$var=$cflags"
  # An existing (empty) SDK folder, or the cc crate asks xcrun for one.
  if [[ $target == *-apple-* ]]; then printf '%s\n' "SDKROOT=$stand_in/empty-sdk"; fi
}

timings=()
for target in "${TARGETS[@]}"; do
  mapfile -t cenv < <(c_env "$target")
  started=$SECONDS
  # Core with its tests and benches. The app's library and binary; its tests run a bank
  # in-process (the server crate, SQLite's C code) and are checked and run on the host.
  step "clippy $target: softtoken-core --all-targets"
  env "${cenv[@]}" cargo clippy --locked --target "$target" -p softtoken-core --all-targets \
    -- -D warnings
  step "clippy $target: softtoken-app --lib --bins"
  env "${cenv[@]}" cargo clippy --locked --target "$target" -p softtoken-app --lib --bins \
    -- -D warnings
  timings+=("$target $((SECONDS - started)) s")
done

step "every target checked"
printf '  %s\n' "${timings[@]}"
