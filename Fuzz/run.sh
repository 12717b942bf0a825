#!/usr/bin/env bash
# Builds a fuzzer (libFuzzer + AddressSanitizer) and runs it: the decoder fuzzer over its seed corpus,
# or, with FUZZER=CacheFuzzer, the consent cache's fuzzer (no seeds: its inputs are operation programs).
#
#   Fuzz/run.sh                 # run until stopped (Ctrl-C)
#   Fuzz/run.sh 60              # run for 60 seconds (the CI smoke)
#   Fuzz/run.sh -runs=1000000   # run one million inputs
#   Fuzz/run.sh -runs=1000000 -max_len=16384   # any further libFuzzer flags are passed on
#   Fuzz/run.sh FILE            # replay one input (a file path), e.g. from Fuzz/.build/crashes/
#   Fuzz/run.sh FILE -minimize_crash=1 -runs=100000   # minimize a crash for its regression test
#   FUZZER=CacheFuzzer Fuzz/run.sh 30                  # the cache fuzzer for 30 seconds (also in CI)
#
# New interesting inputs go to Fuzz/.build/corpus (the seeds in Fuzz/corpus stay untouched);
# a crash, leak or failed invariant is written to Fuzz/.build/crashes/ and the script exits non-zero.
# The cache fuzzer uses Fuzz/.build/cache-corpus and Fuzz/.build/cache-crashes instead.
set -euo pipefail
cd "$(dirname "$0")"
fuzzer="${FUZZER:-DecoderFuzzer}"
case "$fuzzer" in
  DecoderFuzzer) corpus=.build/corpus; crashes=.build/crashes; extra=(-dict=json.dict); seeds=(corpus) ;;
  CacheFuzzer) corpus=.build/cache-corpus; crashes=.build/cache-crashes; extra=(); seeds=() ;;
  *) echo "run.sh: FUZZER is DecoderFuzzer or CacheFuzzer, not $fuzzer" >&2; exit 2 ;;
esac

# `--sanitize=fuzzer` makes SwiftPM link libFuzzer's main (and not rename the executable's entry point);
# `-sanitize=fuzzer,address` (one flag: the last -sanitize wins) instruments the code for coverage and ASan;
# `-parse-as-library` because main.swift only declares LLVMFuzzerTestOneInput.
build() {
  swift build -c debug --scratch-path .build --product "$fuzzer" \
    --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 \
    | { grep -v -e "Cannot export local symbol" || true; }
}
build
binary=.build/debug/$fuzzer
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
# Swift's own crash backtracer would run inside the crashing process and trip AddressSanitizer.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

mkdir -p "$corpus" "$crashes"
args=()
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  args+=("-max_total_time=$1")
  shift
elif [ $# -gt 0 ] && [ -f "$1" ]; then
  exec "$binary" "$@"
fi
args+=("$@")

start=$(date +%s)
set +e
"$binary" -artifact_prefix="$crashes/" ${extra[@]+"${extra[@]}"} -print_final_stats=1 ${args[@]+"${args[@]}"} "$corpus" ${seeds[@]+"${seeds[@]}"}
status=$?
set -e
echo "$fuzzer exited with $status after $(( $(date +%s) - start )) s"
exit $status
