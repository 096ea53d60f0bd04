#!/usr/bin/env bash
# The README's first command: walk steps 7–13 of the bank's flow on this machine.
#
# Installs what is missing (scripts/app-deps.sh), builds the app and the bank's reference
# server (release), starts the server on 127.0.0.1 in demo mode with the demo registration
# (service ID 10112231, user ID 999800000001, activation password printed below), opens the
# app pointed at it, and prints the bank-side command that checks the code the app shows
# (steps 11–13). Closing the app window stops the server.
#
#   bash scripts/demo.sh            # the app in a normal window
#   bash scripts/demo.sh --kiosk    # fullscreen; wipes its tokens after a few idle minutes
#
# Environment: SOFTTOKEN_DEMO_PORT (default 8080), SOFTTOKEN_DEMO_ACTIVATION_PASSWORD (default:
# random 4 digits, printed). The app keeps the demo token in your own keychain and data
# directory, like any token; delete it in the app when you are done.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "The demo opens a window: run it in a desktop session (no DISPLAY or WAYLAND_DISPLAY here)." >&2
  exit 1
fi

say "checking what the app needs"
bash scripts/app-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

port=${SOFTTOKEN_DEMO_PORT:-8080}
url="http://127.0.0.1:$port"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "Port $port on 127.0.0.1 is in use. Free it or choose another: SOFTTOKEN_DEMO_PORT=8090 bash scripts/demo.sh" >&2
  exit 1
fi

say "building the app and the bank's server (the first build takes a while on a small machine)"
# The app as shipped (profile app-dist). A customer build takes its server address from the
# build, so the demo server's address is baked in here.
SOFTTOKEN_SERVER_URL="$url" cargo build --profile app-dist -p softtoken-app --bin softtoken
cargo build --release -p softtoken-server --bin softtoken-server

demo="$root/target/demo"
mkdir -p "$demo"
chmod 700 "$demo"
server="$root/target/release/softtoken-server"
if [ ! -s "$demo/master.key" ]; then
  (umask 077 && "$server" gen-key > "$demo/master.key")
fi
password=${SOFTTOKEN_DEMO_ACTIVATION_PASSWORD:-$(printf '%04d' $((RANDOM % 10000)))}
bank=("$server" --database "$demo/bank.db" --master-key-file "$demo/master.key")

say "starting the bank's reference server on $url (demo mode)"
SOFTTOKEN_DEMO_ACTIVATION_PASSWORD="$password" RUST_LOG=${RUST_LOG:-warn} \
  "${bank[@]}" serve --bind "127.0.0.1:$port" --admin-bind 127.0.0.1:0 --demo > "$demo/server.out" 2> "$demo/server.log" &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  grep -q "listening on" "$demo/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$demo/server.log" >&2; exit 1; }
  sleep 0.05
done
grep -q "listening on" "$demo/server.out" || { echo "the server did not start; see $demo/server.log" >&2; exit 1; }

cat <<EOF

  In the app (steps 7–10): choose "Add a token" (トークンを追加) and enter
      service ID           10112231
      user ID              999800000001
      activation password  $password
  then Send (送信), Next (次へ), Register (登録): the app shows a one-time password.

  At the bank (steps 11–13), start using the token with the code the app shows:
      ${bank[*]} \\
          verify --service-id 10112231 --user-id 999800000001 --code CODE
  "accepted": true starts use; the same code again is refused (each code works once).
  Status: ${bank[*]} status --service-id 10112231 --user-id 999800000001

  Close the app window to stop the server.
EOF

"$root/target/app-dist/softtoken" "$@" || true
