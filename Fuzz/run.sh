#!/usr/bin/env bash
# Builds the decoder fuzzer (libFuzzer + AddressSanitizer) and runs it over the seed corpus.
#
#   Fuzz/run.sh                 # run until stopped (Ctrl-C)
#   Fuzz/run.sh 60              # run for 60 seconds (the CI smoke)
#   Fuzz/run.sh -runs=1000000   # run one million inputs
#   Fuzz/run.sh -runs=1000000 -max_len=16384   # any further libFuzzer flags are passed on
#   Fuzz/run.sh FILE            # replay one input (a file path), e.g. from Fuzz/.build/crashes/
#   Fuzz/run.sh FILE -minimize_crash=1 -runs=100000   # minimize a crash for its regression test
#
# New interesting inputs go to Fuzz/.build/corpus (the seeds in Fuzz/corpus stay untouched);
# a crash, leak or failed invariant is written to Fuzz/.build/crashes/ and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"

# `--sanitize=fuzzer` makes SwiftPM link libFuzzer's main (and not rename the executable's entry point);
# `-sanitize=fuzzer,address` (one flag: the last -sanitize wins) instruments the code for coverage and ASan;
# `-parse-as-library` because main.swift only declares LLVMFuzzerTestOneInput.
build() {
  swift build -c debug --scratch-path .build --product DecoderFuzzer \
    --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 \
    | { grep -v -e "Cannot export local symbol" || true; }
}
build
binary=.build/debug/DecoderFuzzer
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
# Swift's own crash backtracer would run inside the crashing process and trip AddressSanitizer.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

mkdir -p .build/corpus .build/crashes
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
"$binary" -artifact_prefix=.build/crashes/ -dict=json.dict -print_final_stats=1 "${args[@]}" .build/corpus corpus
status=$?
set -e
echo "DecoderFuzzer exited with $status after $(( $(date +%s) - start )) s"
exit $status
