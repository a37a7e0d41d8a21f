#!/usr/bin/env bash
# Builds the fuzz preset, writes the seed corpora and runs every libFuzzer target for N seconds
# (default 30), two at a time. Exits non-zero if any target reports a crash, a sanitizer error,
# a leak, an out-of-memory or a timeout; prints per target its executions, exec/s and verdict.
#   fuzz/run.sh [--fuzz-seconds N] [--jobs J] [target...]   (targets: idx_images, config, ...)
# Corpora grow in build/fuzz/corpus/<target> across runs; findings land in build/fuzz/findings.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
jobs=2
targets=()
while (($#)); do
  case "$1" in
    --fuzz-seconds) seconds="$2"; shift 2 ;;
    --fuzz-seconds=*) seconds="${1#*=}"; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "run.sh: --fuzz-seconds needs a positive integer" >&2; exit 2; }
((${#targets[@]})) || targets=(idx_images idx_labels safetensors npy_matrix npy_labels png_gray image_decode config checkpoint)

build=build/fuzz
cmake --preset fuzz >/dev/null
cmake --build "$build" -j "${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" >/dev/null
/usr/bin/python3 fuzz/make_corpus.py "$build/corpus" >/dev/null
mkdir -p "$build/findings" "$build/logs"

# One target: fuzz for $seconds with bounded memory and per-input time; the log keeps libFuzzer's
# final statistics. A crash input is written to findings/<target>-crash-<sha1> (and so on).
run_one() {
  local t="$1"
  "$build/fuzz/fuzz_$t" "$build/corpus/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=512 -print_final_stats=1 -artifact_prefix="$build/findings/$t-" \
    >"$build/logs/$t.log" 2>&1
}

start=$(date +%s)
for t in "${targets[@]}"; do
  [[ -x "$build/fuzz/fuzz_$t" ]] || { echo "run.sh: no target $t" >&2; exit 2; }
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  echo "fuzz: $t for ${seconds} s"
  run_one "$t" &
done
wait || true

# Verdicts from the logs: libFuzzer ends a clean run with "Done N runs in S second(s)".
status=0
printf '%-12s %12s %10s %8s  %s\n' target executions exec/s seconds result
for t in "${targets[@]}"; do
  log="$build/logs/$t.log"
  runs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1 || true)
  done_line=$(grep -P '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
  secs=$(grep -oP '^Done [0-9]+ runs in \K[0-9]+' "$log" | tail -1 || true)
  persec=$(grep -oP 'stat::average_exec_per_sec:\s*\K[0-9]+' "$log" | tail -1 || true)
  finding=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)[^(]*|runtime error: .*|FUZZ FINDING: .*|ALARM: .*' "$log" || true)
  if [[ -n "$finding" || -z "$done_line" ]]; then
    result="FOUND: ${finding:-no final 'Done' line (killed?)} (log: $log; inputs: $build/findings/$t-*)"
    status=1
  else
    result="nothing found"
  fi
  printf '%-12s %12s %10s %8s  %s\n' "$t" "${runs:-?}" "${persec:-?}" "${secs:-?}" "$result"
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time, $(($(date +%s) - start)) s wall"
exit "$status"
