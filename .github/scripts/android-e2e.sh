#!/usr/bin/env bash
# The QA build on an Android emulator against the reference server on the runner: the
# customer's steps 7-10 in the app, then steps 11-13 at the bank (docs/RELEASE.md).
#
#   android-e2e.sh dist/softtoken-<version>-android-x86_64-qa.apk
#
# Needs a Linux runner with KVM, ANDROID_HOME (emulator, platform-tools, the system image below)
# and cargo. Starts the server in demo mode on 127.0.0.1:8080, an emulator, and
# `adb reverse tcp:8080 tcp:8080` so the app's 127.0.0.1:8080 is the runner's (the app accepts
# plain HTTP to loopback only). Leaves the server log, UI dumps and a logcat in dist/e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."

apk=${1:?usage: android-e2e.sh APK}
image="system-images;android-34;google_apis;x86_64"
logs=dist/e2e
mkdir -p "$logs"
adb="$ANDROID_HOME/platform-tools/adb"
export SOFTTOKEN_E2E_LOGS="$logs"

say() { printf '==> android-e2e: %s\n' "$*"; }

say "building the reference server"
cargo build --release --locked -p softtoken-server --bin softtoken-server
server=target/release/softtoken-server
# The bank's database and its throwaway master key stay out of the uploaded logs.
state=$(mktemp -d)
(umask 077 && "$server" gen-key > "$state/master.key")
bank=("$server" --database "$state/bank.db" --master-key-file "$state/master.key")
password=$(printf '%04d' $((RANDOM % 10000)))

say "starting the bank's reference server on 127.0.0.1:8080 (demo mode)"
SOFTTOKEN_DEMO_ACTIVATION_PASSWORD="$password" \
  "${bank[@]}" serve --bind 127.0.0.1:8080 --demo > "$logs/server.out" 2> "$logs/server.log" &
server_pid=$!
emulator_pid=
cleanup() {
  "$adb" logcat -d > "$logs/logcat.txt" 2>/dev/null || true
  if [ -n "$emulator_pid" ]; then
    "$adb" emu kill >/dev/null 2>&1 || kill "$emulator_pid" 2>/dev/null || true
  fi
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$logs/server.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$logs/server.out" || { cat "$logs/server.log" >&2; exit 1; }

say "starting the emulator ($image)"
yes | "$ANDROID_HOME/cmdline-tools/latest/bin/sdkmanager" --licenses >/dev/null || true
"$ANDROID_HOME/cmdline-tools/latest/bin/sdkmanager" "emulator" "platform-tools" "$image" >/dev/null
echo no | "$ANDROID_HOME/cmdline-tools/latest/bin/avdmanager" create avd --force -n qa \
  -k "$image" -d pixel_6 >/dev/null
# A hardware keyboard: the soft keyboard would cover the buttons the walk taps.
printf 'hw.keyboard=yes\n' >> "$HOME/.android/avd/qa.avd/config.ini"
"$ANDROID_HOME/emulator/emulator" -avd qa -no-window -no-audio -no-boot-anim -no-snapshot \
  -gpu swiftshader_indirect > "$logs/emulator.log" 2>&1 &
emulator_pid=$!
"$adb" wait-for-device
for _ in $(seq 180); do
  [ "$("$adb" shell getprop sys.boot_completed 2>/dev/null | tr -d '\r')" = 1 ] && break
  sleep 2
done
[ "$("$adb" shell getprop sys.boot_completed | tr -d '\r')" = 1 ] || {
  echo "the emulator did not finish booting" >&2
  exit 1
}
"$adb" shell settings put global window_animation_scale 0
"$adb" shell settings put global transition_animation_scale 0
"$adb" shell settings put global animator_duration_scale 0

say "installing the QA build and pointing the phone's 127.0.0.1:8080 at the runner's"
"$adb" install -r "$apk"
"$adb" reverse tcp:8080 tcp:8080
"$adb" shell am start -W -n jp.softtoken.app.qa/jp.softtoken.app.MainActivity

say "steps 7-10 in the app"
code=$(python3 .github/scripts/android_walk.py --service-id 10112231 --user-id 999800000001 \
  --password "$password")
say "the app shows a code; steps 11-13 at the bank"
"${bank[@]}" verify --service-id 10112231 --user-id 999800000001 --code "$code" |
  tee "$logs/verify-first.json"
grep -q '"accepted": *true' "$logs/verify-first.json"
"${bank[@]}" verify --service-id 10112231 --user-id 999800000001 --code "$code" |
  tee "$logs/verify-replay.json" || true
grep -q '"accepted": *false' "$logs/verify-replay.json"
"${bank[@]}" status --service-id 10112231 --user-id 999800000001 | tee "$logs/status.json"
grep -q '"state": *"in_use"' "$logs/status.json"
say "passed: activated on the emulator, the bank accepted its code once and refused the replay"
