#!/usr/bin/env bash
# Measures the release app beside Debian's otpclient (a GTK authenticator), in one run, under
# Xvfb with a private Secret Service:
#   - launch -> first code visible (the app reports when its first codes are painted);
#   - total RSS and PSS of the app and its WebKit processes, with a code on screen;
#   - wakeups per minute with a code on screen (context switches of every thread of every
#     process, over 60 s);
#   - release binary size (profile app-dist, the build shipped to customers).
# Prints a Markdown table for docs/PERFORMANCE.md. Usage: bash scripts/app-perf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

LAUNCHES=${LAUNCHES:-5}
WAKEUP_SECS=${WAKEUP_SECS:-60}
SETTLE_SECS=${SETTLE_SECS:-5}

# shellcheck source=SCRIPTDIR/lib.sh
source scripts/lib.sh
say() { printf '==> app-perf: %s\n' "$*" >&2; }

if [ "${1:-}" != "--inside" ]; then
  bash scripts/app-deps.sh
  # otpclient: the GTK authenticator to compare with.
  apt_install otpclient
  say "building the app as shipped (profile app-dist), the server and the provisioning example"
  # Separately: an example pulls in dev-dependency features, and the measured binary must be
  # the one a plain customer build makes.
  # The demo server on loopback: a customer build must name its server (built_server.rs).
  SOFTTOKEN_SERVER_URL=http://127.0.0.1:8080 cargo build --profile app-dist -p softtoken-app --bin softtoken
  cargo build --release -p softtoken-server --bin softtoken-server
  SOFTTOKEN_SERVER_URL=http://127.0.0.1:8080 cargo build --release -p softtoken-app --example provision
  exec bash scripts/with-secret-service.sh bash "$0" --inside
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp" 2>/dev/null || true
}
trap cleanup EXIT

# A private display.
for n in $(seq 160 260); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
  Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.05; done
  export DISPLAY=":$n"
  break
done
[ -n "${DISPLAY:-}" ] || { echo "no free X display" >&2; exit 1; }

# The bank, in demo mode, and a token provisioned into the app's own data directory.
server="$root/target/release/softtoken-server"
master_key=$("$server" gen-key)
export SOFTTOKEN_DATABASE="$tmp/bank.db" SOFTTOKEN_MASTER_KEY="$master_key"
export SOFTTOKEN_DEMO_ACTIVATION_PASSWORD=4321 RUST_LOG=warn
"$server" serve --bind 127.0.0.1:0 --admin-bind 127.0.0.1:0 --demo > "$tmp/server.out" 2>/dev/null &
pids+=($!)
url=
for _ in $(seq 200); do
  url=$(sed -n 's/^softtoken-server listening on //p' "$tmp/server.out")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "the server did not start" >&2; exit 1; }
export XDG_DATA_HOME="$tmp/xdg-data" XDG_CONFIG_HOME="$tmp/xdg-config" XDG_CACHE_HOME="$tmp/xdg-cache"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
echo 4321 | "$root/target/release/examples/provision" "$url" "$XDG_DATA_HOME/jp.softtoken.app" \
  10112231 999800000001 >/dev/null

descendants() {
  local p=$1
  echo "$p"
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do descendants "$c"; done
}

# Sum of a smaps_rollup field (kB) over a process tree.
mem_kb() {
  local field=$1 total=0 v
  for p in $(descendants "$2"); do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# "pid/tid count" lines: context switches of every thread of a process tree.
switches() {
  for p in $(descendants "$1"); do
    for t in /proc/"$p"/task/*; do
      awk -v id="$p/${t##*/}" '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 } END { print id, n + 0 }' \
        "$t/status" 2>/dev/null || true
    done
  done
}

# Wakeups per minute of a process tree over WAKEUP_SECS: each thread's new context switches
# (a thread that ended meanwhile is not counted; one that started counts from zero).
wakeups_per_min() {
  switches "$1" > "$tmp/sw.a"
  sleep "$WAKEUP_SECS"
  switches "$1" > "$tmp/sw.b"
  awk 'NR == FNR { a[$1] = $2; next } { d += $2 - ($1 in a ? a[$1] : 0) } END { print d + 0 }' \
    "$tmp/sw.a" "$tmp/sw.b" | awk -v s="$WAKEUP_SECS" '{ printf "%d", $1 * 60 / s }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

now_ms() { date +%s%3N; }

# --- softtoken -------------------------------------------------------------------------
app="$root/target/app-dist/softtoken"
say "softtoken: $LAUNCHES launches to the first code"
times=()
for i in $(seq "$LAUNCHES"); do
  start=$(now_ms)
  SOFTTOKEN_PERF=1 "$app" 2> "$tmp/app.err" &
  app_pid=$!
  shown=
  for _ in $(seq 400); do
    shown=$(sed -n 's/.*first-code-visible .*unix_ms=\([0-9]*\).*/\1/p' "$tmp/app.err")
    [ -n "$shown" ] && break
    sleep 0.05
  done
  [ -n "$shown" ] || { cat "$tmp/app.err" >&2; echo "softtoken showed no code within 20 s" >&2; exit 1; }
  times+=($((shown - start)))
  if [ "$i" -lt "$LAUNCHES" ]; then
    kill -TERM "$app_pid"; wait "$app_pid" 2>/dev/null || true
  fi
done
app_first_code=$(printf '%s\n' "${times[@]}" | median)
say "softtoken: launch times ${times[*]} ms; measuring memory and wakeups with a code shown"
sleep "$SETTLE_SECS"
app_rss=$(mem_kb Rss "$app_pid")
app_pss=$(mem_kb Pss "$app_pid")
app_procs=$(descendants "$app_pid" | wc -l)
app_wake=$(wakeups_per_min "$app_pid")
kill -TERM "$app_pid"; wait "$app_pid" 2>/dev/null || true
app_size=$(stat -c %s "$app")

# --- otpclient -------------------------------------------------------------------------
# otpclient creates its encrypted database only through its own dialogs, so it is measured
# on its first window (the database dialog), which it shows before any code.
say "otpclient: $LAUNCHES launches to the first window"
otimes=()
for i in $(seq "$LAUNCHES"); do
  rm -rf "$XDG_CONFIG_HOME/otpclient.cfg"
  start=$(now_ms)
  otpclient >/dev/null 2>&1 &
  otp_pid=$!
  up=
  for _ in $(seq 400); do
    if xwininfo -root -tree 2>/dev/null | grep -q '("otpclient"'; then up=$(now_ms); break; fi
    sleep 0.02
  done
  [ -n "$up" ] || { echo "otpclient showed no window within 8 s" >&2; exit 1; }
  otimes+=($((up - start)))
  if [ "$i" -lt "$LAUNCHES" ]; then
    kill -TERM "$otp_pid"; wait "$otp_pid" 2>/dev/null || true
  fi
done
otp_first=$(printf '%s\n' "${otimes[@]}" | median)
sleep "$SETTLE_SECS"
otp_rss=$(mem_kb Rss "$otp_pid")
otp_pss=$(mem_kb Pss "$otp_pid")
otp_wake=$(wakeups_per_min "$otp_pid")
kill -TERM "$otp_pid"; wait "$otp_pid" 2>/dev/null || true
otp_size=$(stat -c %s "$(command -v otpclient)")

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
bytes_mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }

cat <<EOF

| measure (median of $LAUNCHES launches; ${WAKEUP_SECS} s for wakeups) | softtoken (app-dist build) | otpclient $(dpkg-query -W -f='${Version}' otpclient 2>/dev/null) | target |
|---|---|---|---|
| launch → first code visible | ${app_first_code} ms | ${otp_first} ms to its first window (no code: see note) | ≤ 400 ms |
| RSS, all processes | $(mb "$app_rss") ($app_procs processes) | $(mb "$otp_rss") | |
| PSS, all processes | $(mb "$app_pss") | $(mb "$otp_pss") | ≤ 200 MB |
| wakeups per minute, code on screen | ${app_wake} | ${otp_wake} (first window) | ≤ 60 |
| binary size | $(bytes_mb "$app_size") | $(bytes_mb "$otp_size") (plus shared libraries) | ≤ 12 MB |

Launch times (ms): softtoken ${times[*]}; otpclient ${otimes[*]}.
EOF
