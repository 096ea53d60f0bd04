#!/usr/bin/env bash
# Builds the Android app with the Tauri CLI and leaves it in dist/ (docs/RELEASE.md).
#
#   build-android.sh release      APK and AAB for every ABI, the customer build
#   build-android.sh qa           x86_64 APK with --features qa, for the emulator job only
#
# Needs: ANDROID_HOME (SDK with platform android-37.0 and build-tools), NDK_HOME, JAVA_HOME
# (JDK 17), the rustup targets, Node.js (scripts/tauri.sh installs the Tauri CLI; Gradle's Rust
# task calls that same script) and curl. Names come from tauri.conf.json, the version from
# Cargo.toml.
#
# Release APKs are split per ABI (`--split-per-abi`: arm64, arm, x86, x86_64) and the arm64 one
# must stay within ARM64_APK_BUDGET_BYTES (docs/PERFORMANCE.md, a pipeline figure); the AAB holds
# every ABI (Play serves each phone its own). The QA build gets the application id
# jp.softtoken.app.qa (ORG_GRADLE_PROJECT_softtokenQa, read by app/build.gradle.kts).
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


# The wrapper scripts and jar are not committed. Gradle is fetched at the version and SHA-256 the
# committed gradle-wrapper.properties pins, and writes them; the jar must have the SHA-256 Gradle
# publishes for that version (gradle-<version>-wrapper.jar.sha256).
WRAPPER_JAR_SHA256=497c8c2a7e5031f6aa847f88104aa80a93532ec32ee17bdb8d1d2f67a194a9c7
# docs/PERFORMANCE.md: the arm64 release APK, a pipeline figure (nothing here builds an APK).
ARM64_APK_BUDGET_BYTES=$((12 * 1024 * 1024))

say "writing the Gradle wrapper with the pinned, checksum-verified Gradle"
properties=src-tauri/gen/android/gradle/wrapper/gradle-wrapper.properties
gradle_url=$(sed -n 's/^distributionUrl=//p' "$properties" | sed 's/\\:/:/')
gradle_sha256=$(sed -n 's/^distributionSha256Sum=//p' "$properties")
gradle_version=$(printf '%s\n' "$gradle_url" | sed -n 's/.*gradle-\([0-9.]*\)-bin\.zip$/\1/p')
if [ -z "$gradle_version" ] || [ ${#gradle_sha256} -ne 64 ]; then
  echo "$properties must pin distributionUrl (gradle-<version>-bin.zip) and distributionSha256Sum" >&2
  exit 1
fi
bootstrap=$(mktemp -d)
curl --fail --silent --show-error --location --retry 3 --output "$bootstrap/gradle.zip" "$gradle_url"
echo "$gradle_sha256  $bootstrap/gradle.zip" | sha256sum --check --strict
unzip -q "$bootstrap/gradle.zip" -d "$bootstrap"
# In an empty project: the app's settings.gradle applies tauri.settings.gradle, which only the
# CLI's first Rust build writes. The committed gradle-wrapper.properties stays as it is.
mkdir "$bootstrap/empty"
touch "$bootstrap/empty/settings.gradle"
(cd "$bootstrap/empty" && "$bootstrap/gradle-$gradle_version/bin/gradle" --quiet --no-daemon \
  wrapper --gradle-version "$gradle_version" --distribution-type bin \
  --gradle-distribution-sha256-sum "$gradle_sha256")
echo "$WRAPPER_JAR_SHA256  $bootstrap/empty/gradle/wrapper/gradle-wrapper.jar" | sha256sum --check --strict
cp "$bootstrap/empty/gradlew" "$bootstrap/empty/gradlew.bat" src-tauri/gen/android/
cp "$bootstrap/empty/gradle/wrapper/gradle-wrapper.jar" src-tauri/gen/android/gradle/wrapper/
rm -rf "$bootstrap"

build_tools=$(find "$ANDROID_HOME/build-tools" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -1)
apks=src-tauri/gen/android/app/build/outputs/apk
aabs=src-tauri/gen/android/app/build/outputs/bundle

case "$kind" in
  qa)
    say "QA build: x86_64 APK, --features qa (server and data directory overridable)"
    SOFTTOKEN_SERVER_URL=http://127.0.0.1:8080 ORG_GRADLE_PROJECT_softtokenQa=true \
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
    say "release build: the AAB with every ABI, then one APK per ABI"
    bash scripts/tauri.sh android build --ci --aab
    unsigned_aab=$(built "$aabs" '*universal-release.aab')
    # The Rust libraries are built already: the second call only packages each ABI's flavour.
    bash scripts/tauri.sh android build --ci --apk --split-per-abi
    signed=false
    if [ -n "${ANDROID_KEYSTORE_BASE64:-}" ] && [ -n "${ANDROID_KEYSTORE_PASSWORD:-}" ] &&
      [ -n "${ANDROID_KEY_ALIAS:-}" ] && [ -n "${ANDROID_KEY_PASSWORD:-}" ]; then
      signed=true
      keystore=$(mktemp -d)/release.jks
      printf '%s' "$ANDROID_KEYSTORE_BASE64" | base64 --decode > "$keystore"
    else
      say "no Android signing secrets: the APKs and the AAB stay unsigned"
    fi
    # Gradle's flavour (RustPlugin.kt) -> the ABI in the file name.
    for flavour in arm64 arm x86 x86_64; do
      unsigned_apk=$(built "$apks" "*-$flavour-release-unsigned.apk")
      if $signed; then
        name="softtoken-$version-android-$flavour.apk"
        "$build_tools/zipalign" -p -f 4 "$unsigned_apk" "$out/aligned.apk"
        "$build_tools/apksigner" sign --ks "$keystore" --ks-key-alias "$ANDROID_KEY_ALIAS" \
          --ks-pass env:ANDROID_KEYSTORE_PASSWORD --key-pass env:ANDROID_KEY_PASSWORD \
          --out "$out/$name" "$out/aligned.apk"
        "$build_tools/apksigner" verify --print-certs "$out/$name"
        rm -f "$out/aligned.apk"
      else
        name="softtoken-$version-android-$flavour-unsigned.apk"
        "$build_tools/zipalign" -p -f 4 "$unsigned_apk" "$out/$name"
      fi
    done
    if $signed; then
      say "signing the AAB with the release (upload) keystore"
      cp "$unsigned_aab" "$out/softtoken-$version-android.aab"
      "$JAVA_HOME/bin/jarsigner" -keystore "$keystore" -storepass:env ANDROID_KEYSTORE_PASSWORD \
        -keypass:env ANDROID_KEY_PASSWORD -sigalg SHA256withRSA -digestalg SHA-256 \
        "$out/softtoken-$version-android.aab" "$ANDROID_KEY_ALIAS"
      "$JAVA_HOME/bin/jarsigner" -verify "$out/softtoken-$version-android.aab"
      rm -f "$keystore"
    else
      cp "$unsigned_aab" "$out/softtoken-$version-android-unsigned.aab"
    fi

    say "size budget: the arm64 APK within $ARM64_APK_BUDGET_BYTES bytes (docs/PERFORMANCE.md)"
    arm64_apk=$(find "$out" -maxdepth 1 -name "softtoken-$version-android-arm64*.apk" | head -1)
    arm64_bytes=$(wc -c < "$arm64_apk")
    echo "arm64 APK: $arm64_bytes bytes ($arm64_apk)"
    if [ "$arm64_bytes" -gt "$ARM64_APK_BUDGET_BYTES" ]; then
      echo "the arm64 APK is $arm64_bytes bytes, over the budget of $ARM64_APK_BUDGET_BYTES" >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: build-android.sh release|qa" >&2
    exit 2
    ;;
esac

say "permissions the merged manifest asks for (docs/PLATFORMS.md, native projects)"
# INTERNET, and the app-private permission AndroidX declares for its own receivers; any other
# permission is a change to what customers are asked for and fails the build. AndroidX names
# that permission after the application id (jp.softtoken.app, or jp.softtoken.app.qa).
for apk in "$out"/*.apk; do
  "$build_tools/aapt2" dump permissions "$apk" | tee "$out/permissions.txt"
  package=$(sed -n "s/^package: \(.*\)$/\1/p" "$out/permissions.txt")
  allowed="android.permission.INTERNET $package.DYNAMIC_RECEIVER_NOT_EXPORTED_PERMISSION"
  case "$kind:$package" in
    release:jp.softtoken.app | qa:jp.softtoken.app.qa) ;;
    *) echo "$apk has the application id '$package', not the $kind build's" >&2; exit 1 ;;
  esac
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
