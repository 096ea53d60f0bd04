#!/usr/bin/env bash
# Builds the Android app with the Tauri CLI and leaves it in dist/ (docs/RELEASE.md).
#
#   build-android.sh release      APK and AAB for every ABI, the customer build
#   build-android.sh qa           x86_64 APK with --features qa, for the emulator job only
#
# Needs: ANDROID_HOME (SDK with platform 36 and build-tools), NDK_HOME, JAVA_HOME (JDK 17), the
# rustup targets, Node.js (scripts/tauri.sh installs the Tauri CLI) and gradle on PATH. Names come from tauri.conf.json, the version from Cargo.toml.
#
# Signing (release only): with ANDROID_KEYSTORE_BASE64, ANDROID_KEYSTORE_PASSWORD,
# ANDROID_KEY_ALIAS and ANDROID_KEY_PASSWORD set, the APK is zipaligned and signed with apksigner
# and the AAB with jarsigner (the Play upload key); without them both are named "-unsigned".
# The QA build is signed with a key made here and thrown away: Android installs no unsigned APK.
set -euo pipefail
cd "$(dirname "$0")/../.."

kind=${1:?usage: build-android.sh release|qa}
version=$(python3 .github/scripts/stage-tauri-config.py --version)
out=dist
mkdir -p "$out"

say() { printf '==> build-android: %s\n' "$*"; }
# The one file under $1 named like $2, or fail saying what the CLI did not leave.
built() {
  local found
  found=$(find "$1" -name "$2" 2>/dev/null | head -1)
  if [ -z "$found" ]; then
    echo "cargo tauri android build left no $2 under $1" >&2
    exit 1
  fi
  printf '%s\n' "$found"
}

# GitHub's Ubuntu runners carry several JDKs and NDKs; AGP 8 wants JDK 17.
export JAVA_HOME=${JAVA_HOME_17_X64:-${JAVA_HOME:?set JAVA_HOME to a JDK 17}}
export NDK_HOME=${NDK_HOME:-${ANDROID_NDK_LATEST_HOME:?set NDK_HOME to an Android NDK}}


say "writing the Gradle wrapper (not committed: docs/PLATFORMS.md, native projects)"
wrapper_version=$(sed -n 's/^distributionUrl=.*gradle-\([0-9.]*\)-bin\.zip$/\1/p' \
  src-tauri/gen/android/gradle/wrapper/gradle-wrapper.properties)
# In an empty project: the app's settings.gradle applies tauri.settings.gradle, which only the
# CLI's first Rust build writes. The committed gradle-wrapper.properties stays as it is.
wrapper=$(mktemp -d)
touch "$wrapper/settings.gradle"
(cd "$wrapper" && gradle --quiet wrapper --gradle-version "$wrapper_version" --distribution-type bin)
cp "$wrapper/gradlew" "$wrapper/gradlew.bat" src-tauri/gen/android/
cp "$wrapper/gradle/wrapper/gradle-wrapper.jar" src-tauri/gen/android/gradle/wrapper/
rm -rf "$wrapper"

build_tools=$(find "$ANDROID_HOME/build-tools" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -1)
apks=src-tauri/gen/android/app/build/outputs/apk
aabs=src-tauri/gen/android/app/build/outputs/bundle

case "$kind" in
  qa)
    say "QA build: x86_64 APK, --features qa (server and data directory overridable)"
    SOFTTOKEN_SERVER_URL=http://127.0.0.1:8080 \
      bash scripts/tauri.sh android build --ci --apk --target x86_64 --features qa
    unsigned=$(built "$apks" '*-release-unsigned.apk')
    keystore=$(mktemp -d)/qa.jks
    "$JAVA_HOME/bin/keytool" -genkeypair -keystore "$keystore" -storepass qa-only \
      -keypass qa-only -alias qa -keyalg RSA -keysize 2048 -validity 1 \
      -dname "CN=softtoken QA build not for customers" >/dev/null 2>&1
    "$build_tools/zipalign" -p -f 4 "$unsigned" "$out/aligned.apk"
    "$build_tools/apksigner" sign --ks "$keystore" --ks-pass pass:qa-only --ks-key-alias qa \
      --out "$out/softtoken-$version-android-x86_64-qa.apk" "$out/aligned.apk"
    rm -f "$out/aligned.apk" "$keystore"
    ;;
  release)
    say "release build: APK and AAB, every ABI"
    bash scripts/tauri.sh android build --ci --apk --aab
    unsigned_apk=$(built "$apks" '*universal-release-unsigned.apk')
    unsigned_aab=$(built "$aabs" '*universal-release.aab')
    if [ -n "${ANDROID_KEYSTORE_BASE64:-}" ] && [ -n "${ANDROID_KEYSTORE_PASSWORD:-}" ] &&
      [ -n "${ANDROID_KEY_ALIAS:-}" ] && [ -n "${ANDROID_KEY_PASSWORD:-}" ]; then
      say "signing with the release keystore"
      keystore=$(mktemp -d)/release.jks
      printf '%s' "$ANDROID_KEYSTORE_BASE64" | base64 --decode > "$keystore"
      "$build_tools/zipalign" -p -f 4 "$unsigned_apk" "$out/aligned.apk"
      "$build_tools/apksigner" sign --ks "$keystore" --ks-key-alias "$ANDROID_KEY_ALIAS" \
        --ks-pass env:ANDROID_KEYSTORE_PASSWORD --key-pass env:ANDROID_KEY_PASSWORD \
        --out "$out/softtoken-$version-android.apk" "$out/aligned.apk"
      "$build_tools/apksigner" verify --print-certs "$out/softtoken-$version-android.apk"
      cp "$unsigned_aab" "$out/softtoken-$version-android.aab"
      "$JAVA_HOME/bin/jarsigner" -keystore "$keystore" -storepass:env ANDROID_KEYSTORE_PASSWORD \
        -keypass:env ANDROID_KEY_PASSWORD -sigalg SHA256withRSA -digestalg SHA-256 \
        "$out/softtoken-$version-android.aab" "$ANDROID_KEY_ALIAS"
      "$JAVA_HOME/bin/jarsigner" -verify "$out/softtoken-$version-android.aab"
      rm -f "$out/aligned.apk" "$keystore"
    else
      say "no Android signing secrets: the APK and AAB stay unsigned"
      "$build_tools/zipalign" -p -f 4 "$unsigned_apk" "$out/softtoken-$version-android-unsigned.apk"
      cp "$unsigned_aab" "$out/softtoken-$version-android-unsigned.aab"
    fi
    ;;
  *)
    echo "usage: build-android.sh release|qa" >&2
    exit 2
    ;;
esac

say "permissions the merged manifest asks for (docs/PLATFORMS.md, native projects)"
# INTERNET, and the app-private permission AndroidX declares for its own receivers; any other
# permission is a change to what customers are asked for and fails the build.
allowed="android.permission.INTERNET jp.softtoken.app.DYNAMIC_RECEIVER_NOT_EXPORTED_PERMISSION"
for apk in "$out"/*.apk; do
  "$build_tools/aapt2" dump permissions "$apk" | tee "$out/permissions.txt"
  while read -r name; do
    case " $allowed " in
      *" $name "*) ;;
      *) echo "unexpected permission in $apk: $name" >&2; exit 1 ;;
    esac
  done < <(sed -n "s/^uses-permission: name='\([^']*\)'.*/\1/p" "$out/permissions.txt")
  grep -q "name='android.permission.INTERNET'" "$out/permissions.txt"
  rm "$out/permissions.txt"
done
ls -l "$out"
