#!/usr/bin/env bash
# Measures the release app beside a bare Tauri 2 window (src-tauri/examples/bare_window.rs: the
# same Tauri, WebKit and WebKit settings, one page with a code and a one-second countdown, none
# of the app's work), in one run, under Xvfb with a private Secret Service:
#   - launch -> first code visible (each reports when its first code is painted), the two
#     launched in turn, LAUNCHES times each, after a first launch of each that is reported
#     apart (the page cache may not hold their libraries yet);
#   - total RSS and PSS of each and its WebKit processes, with a code on screen;
#   - wakeups per minute (context switches of every thread of every process) with a code on
#     screen over WAKEUP_SECS, and with the window hidden (unmapped) over HIDDEN_SECS;
#   - release binary size (profile app-dist, the build shipped to customers).
# The ratio to the bare window, not the machine, is the figure. Prints a Markdown table for
# docs/PERFORMANCE.md. Usage: bash scripts/app-perf.sh (PERF_THREADS=1: the busiest threads
# of each wakeup count on stderr; PROFILE=dev: both as debug builds, a quick look on a machine
# too busy for the fat-LTO build, not the customer's figures).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

LAUNCHES=${LAUNCHES:-10}
WAKEUP_SECS=${WAKEUP_SECS:-60}
HIDDEN_SECS=${HIDDEN_SECS:-120}
SETTLE_SECS=${SETTLE_SECS:-5}
PROFILE=${PROFILE:-app-dist}
out=$PROFILE
[ "$PROFILE" = dev ] && out=debug

# shellcheck source=SCRIPTDIR/lib.sh
source scripts/lib.sh
say() { printf '==> app-perf: %s\n' "$*" >&2; }

if [ "${1:-}" != "--inside" ]; then
  bash scripts/app-deps.sh
  # xdotool: hides and shows the windows as a window manager's minimise would.
  apt_install xdotool
  say "building the app as shipped (profile app-dist), the bare window, the server and the provisioning example"
  # Separately: an example pulls in dev-dependency features, and the measured binary must be
  # the one a plain customer build makes.
  # The demo server on loopback: a customer build must name its server (built_server.rs).
  SOFTTOKEN_SERVER_URL=http://127.0.0.1:8080 cargo build --locked --profile "$PROFILE" -p softtoken-app --bin softtoken
  # The provisioning example files the vault key where a customer build looks for it, so it is
  # built like one; the server only serves the demo registration, unmeasured.
  SOFTTOKEN_SERVER_URL=http://127.0.0.1:8080 cargo build --locked --profile "$PROFILE" -p softtoken-app \
    --example provision --example bare_window
  cargo build --locked -p softtoken-server --bin softtoken-server
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
server="$root/target/debug/softtoken-server"
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
echo 4321 | "$root/target/$out/examples/provision" "$url" "$XDG_DATA_HOME/jp.softtoken.app" \
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

# Wakeups per minute of a process tree over $2 seconds: each thread's new context switches
# (a thread that ended meanwhile is not counted; one that started counts from zero). With
# PERF_THREADS=1 the busiest threads are listed on stderr.
wakeups_per_min() {
  switches "$1" > "$tmp/sw.a"
  sleep "$2"
  switches "$1" > "$tmp/sw.b"
  if [ "${PERF_THREADS:-0}" = 1 ]; then
    awk 'NR == FNR { a[$1] = $2; next } { print $2 - ($1 in a ? a[$1] : 0), $1 }' \
      "$tmp/sw.a" "$tmp/sw.b" | sort -rn | head -12 | while read -r n id; do
      printf '  %6d %s %s\n' "$n" "$id" "$(cat "/proc/${id%/*}/task/${id#*/}/comm" 2>/dev/null)" >&2
    done
  fi
  awk 'NR == FNR { a[$1] = $2; next } { d += $2 - ($1 in a ? a[$1] : 0) } END { print d + 0 }' \
    "$tmp/sw.a" "$tmp/sw.b" | awk -v s="$2" '{ printf "%d", $1 * 60 / s }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

now_ms() { date +%s%3N; }

# One launch of $1 to its first code: sets `launched` (its pid) and `took` (ms from exec).
launch() {
  local bin=$1 start shown=
  start=$(now_ms)
  SOFTTOKEN_PERF=1 "$bin" 2> "$tmp/launch.err" &
  launched=$!
  for _ in $(seq 400); do
    shown=$(sed -n 's/.*first-code-visible .*unix_ms=\([0-9]*\).*/\1/p' "$tmp/launch.err")
    [ -n "$shown" ] && break
    sleep 0.05
  done
  [ -n "$shown" ] || { cat "$tmp/launch.err" >&2; echo "$bin showed no code within 20 s" >&2; exit 1; }
  took=$((shown - start))
}

end() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

app="$root/target/$out/softtoken"
bare="$root/target/$out/examples/bare_window"

say "first launch of each (not in the medians)"
launch "$bare"; bare_first=$took; end "$launched"
launch "$app"; app_first=$took; end "$launched"

say "$LAUNCHES launches of each to the first code, in turn"
app_times=() bare_times=()
for _ in $(seq "$LAUNCHES"); do
  launch "$bare"; bare_times+=("$took"); end "$launched"
  launch "$app"; app_times+=("$took"); end "$launched"
done
say "bare window: ${bare_times[*]} ms; softtoken: ${app_times[*]} ms"

# Memory and wakeups of one run of $1 with its code on screen, then with its window hidden
# (unmapped, as a minimise does; its page then stops its tick); sets rss, pss, procs,
# wake_shown, wake_hidden.
steady() {
  launch "$1"
  local pid=$launched w
  sleep "$SETTLE_SECS"
  rss=$(mem_kb Rss "$pid")
  pss=$(mem_kb Pss "$pid")
  procs=$(descendants "$pid" | wc -l)
  wake_shown=$(wakeups_per_min "$pid" "$WAKEUP_SECS")
  for w in $(xdotool search --pid "$pid" 2>/dev/null || true); do
    xdotool windowunmap "$w" 2>/dev/null || true
  done
  sleep 2
  wake_hidden=$(wakeups_per_min "$pid" "$HIDDEN_SECS")
  end "$pid"
}

say "bare window: memory and wakeups (${WAKEUP_SECS} s shown, ${HIDDEN_SECS} s hidden)"
steady "$bare"
bare_rss=$rss bare_pss=$pss bare_procs=$procs bare_wake=$wake_shown bare_hidden=$wake_hidden
say "softtoken: memory and wakeups"
steady "$app"
app_rss=$rss app_pss=$pss app_procs=$procs app_wake=$wake_shown app_hidden=$wake_hidden

app_code=$(printf '%s\n' "${app_times[@]}" | median)
bare_code=$(printf '%s\n' "${bare_times[@]}" | median)
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
bytes_mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f %%", (a - b) * 100 / b }'; }
above_mb() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f MB", (a - b) / 1024 }'; }

cat <<EOF

| measure (median of $LAUNCHES launches in turn; wakeups over ${WAKEUP_SECS} s shown, ${HIDDEN_SECS} s hidden) | softtoken ($PROFILE) | bare Tauri window | softtoken against it | target |
|---|---|---|---|---|
| launch → first code visible | ${app_code} ms | ${bare_code} ms | $(above "$app_code" "$bare_code") | ≤ +10 % |
| first launch of the run | ${app_first} ms | ${bare_first} ms | | reported |
| RSS, all processes | $(mb "$app_rss") ($app_procs processes) | $(mb "$bare_rss") ($bare_procs processes) | | |
| PSS, all processes | $(mb "$app_pss") | $(mb "$bare_pss") | $(above_mb "$app_pss" "$bare_pss") | ≤ +5 MB |
| wakeups per minute, code on screen | ${app_wake} | ${bare_wake} | | |
| wakeups per minute, window hidden | ${app_hidden} | ${bare_hidden} | | ≤ 60 |
| binary size | $(bytes_mb "$(stat -c %s "$app")") | $(bytes_mb "$(stat -c %s "$bare")") | | ≤ 12 MB |

Launch times (ms), in turn: softtoken ${app_times[*]}; bare window ${bare_times[*]}.
EOF
