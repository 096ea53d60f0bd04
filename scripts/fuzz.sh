#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a number of executions each, one after the other, under
# `nice -n 19`, and prints libFuzzer's final statistics with the load beside them
# (docs/FUZZING.md has the documented run). Not part of scripts/test.sh: the test command
# replays the committed corpus instead (tests/tests/fuzz_corpus.rs).
#
#   scripts/fuzz.sh [runs per target, default 10000000] [target ...]
#   FUZZ_MAX_SECONDS=150 scripts/fuzz.sh   # also stop each target after 150 s
#
# Needs a nightly toolchain (rustup) and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# New inputs go into fuzz/corpus/<target>/; minimise before committing:
#   (cd fuzz && cargo +nightly fuzz cmin -s none -a <target>)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

runs=${1:-10000000}
shift || true
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# No sanitizer: every crate of ours forbids `unsafe`, so what the fuzzers look for is panics,
# overflows (debug assertions on), hangs and huge allocations, which libFuzzer catches alone;
# without ASan each target runs several times faster.
flags=(-s none -a --codegen-units 16)
nice -n 19 cargo +nightly fuzz build "${flags[@]}"
for target in "${targets[@]}"; do
  printf '\n==> %s: %s runs, %s, load %s\n' "$target" "$runs" "$(date -u +%FT%TZ)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  mkdir -p artifacts
  log="artifacts/$target.log"
  if ! nice -n 19 cargo +nightly fuzz run "${flags[@]}" "$target" -- \
    -runs="$runs" -max_total_time="${FUZZ_MAX_SECONDS:-0}" -print_final_stats=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "$target failed: the input is in fuzz/artifacts/$target/ (full log: fuzz/$log)" >&2
    exit 1
  fi
  grep -aE 'DONE|^stat::' "$log"
  printf 'corpus: %s files, %s bytes; load after: %s\n' \
    "$(find "corpus/$target" -type f | wc -l)" \
    "$(find "corpus/$target" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
done
