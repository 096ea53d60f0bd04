#!/usr/bin/env bash
# The README's first command: walk all 13 steps of the bank's flow on this machine.
#
# Installs what is missing (scripts/app-deps.sh), builds the app and the bank's reference
# server (release), starts the server on 127.0.0.1 in demo mode with the demo registration
# (service ID 10112231, user ID 999800000001, activation password 3718 — the server's fixed
# demo password, printed below), opens the bank's demo pages (steps 1–6 and 11–13) in the
# browser and the app pointed at the server (steps 7–10), and prints the bank-side commands
# too. Closing the app window stops the server.
# Every run re-arms the demo registration with the printed password.
#
#   bash scripts/demo.sh              # the app in a normal window
#   bash scripts/demo.sh --kiosk      # a branch kiosk: bank pages + app, reset after idle (docs/KIOSK.md)
#   bash scripts/demo.sh --bank-only  # only the bank's server, until ctrl-c (no display needed)
#
# Without a Secret Service that answers (a bare X session, a kiosk), the app's tokens go to a
# private gnome-keyring for the demo's lifetime (it says so).
#
# Environment: SOFTTOKEN_DEMO_PORT (default 8080; 0 picks a free port with --bank-only),
# SOFTTOKEN_DEMO_ACTIVATION_PASSWORD (4–8 digits instead of 3718), SOFTTOKEN_DEMO_DIR (the
# bank's database and key, default target/demo), SOFTTOKEN_DEMO_SERVER (a softtoken-server
# binary to use instead of building one: with --bank-only, or with SOFTTOKEN_DEMO_APP, an app
# binary, for the tests), SOFTTOKEN_KIOSK_IDLE_SECS (--kiosk: idle seconds before the reset,
# default 180). The app keeps the demo token in
# your own keychain and data directory, like any token; delete it in the app when you are done.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

# shellcheck source=SCRIPTDIR/lib.sh
source scripts/lib.sh

mode=window
case "${1:-}" in
  --kiosk) mode=kiosk ;;
  --bank-only) mode=bank; shift ;;
  --check-keyring) mode=check-keyring; shift ;;
  "") ;;
  *) echo "usage: bash scripts/demo.sh [--kiosk | --bank-only]" >&2; exit 2 ;;
esac

# The app keeps its tokens in the system keychain (the Secret Service here). Without one that
# answers, unlocked (a bare X session, a kiosk session, Xvfb), activation would end at "the
# system keychain is locked or unavailable": run the demo in a private D-Bus session with a
# fresh gnome-keyring instead, as the tests do (scripts/with-secret-service.sh). Its keyring and
# the app's data live in a temporary directory and are gone when the demo stops.
if [ "$mode" != bank ] && [ -z "${SOFTTOKEN_DEMO_PRIVATE_KEYRING:-}" ] && ! secret_service_ready; then
  say "no Secret Service answers here: the demo keeps its tokens in a private keyring (gone when it stops)"
  apt_install dbus dbus-bin gnome-keyring
  # Wayland's socket is named relative to XDG_RUNTIME_DIR, which the private session replaces.
  if [ -n "${WAYLAND_DISPLAY:-}" ] && [ "${WAYLAND_DISPLAY#/}" = "$WAYLAND_DISPLAY" ]; then
    export WAYLAND_DISPLAY="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/$WAYLAND_DISPLAY"
  fi
  args=()
  case "$mode" in kiosk) args=(--kiosk) ;; check-keyring) args=(--check-keyring) ;; esac
  SOFTTOKEN_DEMO_PRIVATE_KEYRING=1 exec bash scripts/with-secret-service.sh bash scripts/demo.sh "${args[@]}"
fi
if [ "$mode" = check-keyring ]; then
  # For the tests: say which keyring the app would use, and stop.
  if secret_service_ready; then
    echo "keyring: ${SOFTTOKEN_DEMO_PRIVATE_KEYRING:+private }Secret Service ready"
    exit 0
  fi
  echo "keyring: none" >&2
  exit 1
fi

if [ "$mode" != bank ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "The demo opens a window: run it in a desktop session (no DISPLAY or WAYLAND_DISPLAY here)." >&2
  echo "Only the bank's server, without a window: bash scripts/demo.sh --bank-only" >&2
  exit 1
fi

port=${SOFTTOKEN_DEMO_PORT:-8080}
if [ "$port" != 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "Port $port on 127.0.0.1 is in use. Free it or choose another: SOFTTOKEN_DEMO_PORT=8090 bash scripts/demo.sh" >&2
  exit 1
fi

# The branch kiosk (docs/KIOSK.md): the bank's pages (Chromium, as an app window) on the left and
# the app on the right of one screen, each placed by itself (no window manager needed) and
# started again whenever it exits or crashes; after SOFTTOKEN_KIOSK_IDLE_SECS (default 180)
# without input the app wipes its tokens and the pages re-arm the demo registration.
run_kiosk() {
  apt_install chromium x11-utils
  local sw sh app_w pages_w idle profile
  read -r sw sh < <(xwininfo -root | awk '/Width:/ {w = $2} /Height:/ {h = $2} END {print w, h}')
  app_w=$((sw / 3))
  [ "$app_w" -le 560 ] || app_w=560
  [ "$app_w" -ge 360 ] || app_w=$((sw < 360 ? sw : 360))
  pages_w=$((sw - app_w))
  idle=${SOFTTOKEN_KIOSK_IDLE_SECS:-180}
  profile="$demo/kiosk-browser"
  echo "  Kiosk: the bank's pages (${pages_w}x$sh) and the app (${app_w}x$sh); reset after $idle s idle."
  say_no_sandbox
  echo "  Stop it with ctrl-c (or stop its service)."
  keep_running "the bank's pages" \
    kiosk_browser "$profile" "$pages_w,$sh" "$url/demo/?kiosk=$idle" &
  kiosk_pids+=($!)
  SOFTTOKEN_KIOSK_AREA="${app_w}x${sh}+${pages_w}+0" SOFTTOKEN_KIOSK_IDLE_SECS="$idle" \
    SOFTTOKEN_SERVER_URL="$url" keep_running "the app" "$app" --kiosk &
  kiosk_pids+=($!)
  wait "$server_pid"
}

# The bank's pages in Chromium as an app window (no address bar) at the left of the screen, with
# a fresh profile each time, so nothing a visitor typed survives a restart.
kiosk_browser() {
  rm -rf "$1"
  chromium "${chromium_flags[@]}" --no-first-run --noerrdialogs --disable-infobars --disable-session-crashed-bubble \
    --disable-features=Translate --user-data-dir="$1" --window-position=0,0 --window-size="$2" \
    --app="$3"
}

# Chromium refuses to run as root unless its sandbox is off; the README allows running the demo
# as root (a fresh VM, a container), so only then is it turned off, and the script says so.
as_root=false
[ "$(id -u)" = 0 ] && as_root=true
chromium_flags=()
if $as_root; then
  chromium_flags=(--no-sandbox)
fi
say_no_sandbox() {
  if [ "${#chromium_flags[@]}" -gt 0 ]; then
    echo "  Running as root: Chromium starts with --no-sandbox (its sandbox refuses root)."
  fi
}

# The bank's pages in the desktop's browser, or in Chromium when there is no desktop opener or
# when the script runs as root (a desktop browser started by root fails the same way). A browser
# that does not start says why, and the address to open by hand.
open_pages() {
  local err="$demo/browser.log"
  if ! $as_root && command -v xdg-open >/dev/null; then
    if xdg-open "$1" >/dev/null 2>"$err"; then return 0; fi
  elif command -v chromium >/dev/null; then
    say_no_sandbox
    chromium "${chromium_flags[@]}" --no-first-run "--app=$1" >/dev/null 2>"$err" &
    local pid=$!
    # A browser that cannot start exits within moments; one that runs keeps running.
    sleep 2
    if kill -0 "$pid" 2>/dev/null || wait "$pid"; then return 0; fi
  else
    echo "  No browser found (xdg-open or chromium)." > "$err"
  fi
  echo "  The bank's pages did not open in a browser:" >&2
  sed 's/^/    /' "$err" | tail -n 5 >&2
  echo "  Open $1 by hand." >&2
}

# Runs a program again whenever it exits, until this script stops.
keep_running() {
  local what=$1
  shift
  while :; do
    "$@" > /dev/null 2>&1 || true
    echo "demo kiosk: $what stopped; starting it again" >&2
    sleep 1
  done
}

# Stops the kiosk's two keepers and then what they run (a keeper first, so it cannot restart it).
kiosk_pids=()
stop_kiosk() {
  local keeper children
  for keeper in "${kiosk_pids[@]}"; do
    children=$(pgrep -P "$keeper" || true)
    kill -TERM "$keeper" 2>/dev/null || true
    for child in $children; do kill -TERM "$child" 2>/dev/null || true; done
  done
}

app="${CARGO_TARGET_DIR:-$root/target}/app-dist/softtoken"
if [ -n "${SOFTTOKEN_DEMO_SERVER:-}" ] && { [ "$mode" = bank ] || [ -n "${SOFTTOKEN_DEMO_APP:-}" ]; }; then
  # Given binaries (the tests): nothing is built. A debug or QA app reads the server's address
  # at run time; a customer build ignores it.
  server=$SOFTTOKEN_DEMO_SERVER
  app=${SOFTTOKEN_DEMO_APP:-$app}
else
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  if [ "$mode" != bank ]; then
    say "checking what the app needs"
    bash scripts/app-deps.sh
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    if [ "$port" = 0 ]; then
      echo "The app's server address is fixed at build time: choose a port, not 0." >&2
      exit 1
    fi
    say "building the app (the first build takes a while on a small machine)"
    # The app as shipped (profile app-dist). A customer build takes its server address from
    # the build, so the demo server's address is baked in here.
    SOFTTOKEN_SERVER_URL="http://127.0.0.1:$port" cargo build --profile app-dist -p softtoken-app --bin softtoken
  fi
  say "building the bank's server"
  cargo build --release -p softtoken-server --bin softtoken-server
  server="${CARGO_TARGET_DIR:-$root/target}/release/softtoken-server"
fi

demo=${SOFTTOKEN_DEMO_DIR:-$root/target/demo}
mkdir -p "$demo"
chmod 700 "$demo"
if [ ! -s "$demo/master.key" ]; then
  (umask 077 && "$server" gen-key > "$demo/master.key")
fi
bank=("$server" --database "$demo/bank.db" --master-key-file "$demo/master.key")

say "starting the bank's reference server on 127.0.0.1:$port (demo mode)"
# The server holds the demo password (its fixed default, or SOFTTOKEN_DEMO_ACTIVATION_PASSWORD
# when set) and re-arms the demo registration with it at every start; the password printed
# below is read from the server's own first line, so the two cannot differ.
: > "$demo/server.out"
RUST_LOG=${RUST_LOG:-warn} \
  "${bank[@]}" serve --bind "127.0.0.1:$port" --admin-bind 127.0.0.1:0 --demo > "$demo/server.out" 2> "$demo/server.log" &
server_pid=$!
trap 'stop_kiosk; kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
for _ in $(seq 200); do
  grep -q "listening on" "$demo/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$demo/server.log" >&2; exit 1; }
  sleep 0.05
done
grep -q "listening on" "$demo/server.out" || { echo "the server did not start; see $demo/server.log" >&2; exit 1; }
url=$(sed -n 's/^softtoken-server listening on //p' "$demo/server.out")
password=$(sed -n 's/^demo registration: .*activation password //p' "$demo/server.out")

cat <<EOF

  The bank: $url (demo registration re-armed with the password below)

  All 13 steps without a terminal: the bank's pages $url/demo/
      apply for a token there (steps 1–6: your mail address and an activation password of
      your choice), read the mail on screen, set up the app (steps 7–10), then come back to
      "Start using one-time passwords" and type the code the app shows (steps 11–13).
      Then, on the same pages: 振込 / Transfer (approve it in the app) and the phishing relay
      (a fake site changes the transfer; the app shows it, you deny, the bank refuses).

  Or straight into the app (steps 7–10): choose "Add a token" (トークンを追加) and enter
      service ID           10112231
      user ID              999800000001
      activation password  $password
  then Send (送信), Next (次へ), Register (登録): the app shows a one-time password.

  At the bank (steps 11–13), start using the token with the code the app shows, on the pages
  above or from the command line:
      ${bank[*]} \\
          verify --service-id 10112231 --user-id 999800000001 --code CODE
  "accepted": true starts use; the same code again is refused (each code works once).
  Status: ${bank[*]} status --service-id 10112231 --user-id 999800000001

EOF

if [ "$mode" = bank ]; then
  echo "  Press ctrl-c to stop the server."
  wait "$server_pid"
elif [ "$mode" = kiosk ]; then
  run_kiosk
else
  open_pages "$url/demo/"
  echo "  Close the app window to stop the server."
  SOFTTOKEN_SERVER_URL="$url" "$app" || true
fi
