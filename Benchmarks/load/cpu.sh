#!/usr/bin/env bash
# CPU per batch of one consentgate binary, for comparing two builds back to back:
#
#   Benchmarks/load/cpu.sh WORK_DIR BINARY [SECONDS=8] [CONNECTIONS=32] [DELAY_MS=0]
#
# BATCHES=NAME (environment) drives it with the batches of DATA/NAME instead of DATA/uniform (e.g. the
# `browser` and `server` variants that variants.py makes). MODE=spool runs the work directory's
# consentgate-spool.yaml (kept by `SPOOL=1 KEEP=1 run.sh`) instead of its relay configuration. Where
# `perf` can count trace points, it also prints futex calls per batch (lock waits and wake-ups).
#
# WORK_DIR is a work directory kept by `KEEP=1 Benchmarks/load/run.sh` (its configs, certificates, seeded
# SQLite store and ports). It starts that run's TLS sink and the given binary, warms the cache for 3 s
# with the uniform batches (20 000 subjects), then drives it with wrk for SECONDS and prints batches/s,
# the CPU time consentgate used per batch (utime + stime from /proc/PID/stat), its threads' context
# switches per batch (voluntary: it slept and was woken; involuntary: it was preempted) and wrk's p50/p99.
# With DELAY_MS > 0 every connection waits a random gap of that mean after each answer (batch.lua's
# GAPS=random): a paced load, for the cost of a batch below saturation.
# Alternate two binaries, several rounds each: CPU per batch is far steadier than batches/s on a
# shared machine. Everything it starts it stops; one run at a time (it takes a lock).
set -euo pipefail
work="${1:?usage: cpu.sh WORK_DIR BINARY [SECONDS] [CONNECTIONS] [DELAY_MS]}"
bin="${2:?usage: cpu.sh WORK_DIR BINARY [SECONDS] [CONNECTIONS] [DELAY_MS]}"
seconds="${3:-8}"
connections="${4:-32}"
delay_ms="${5:-0}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/kept-work.sh"
kept_work "$work" cpu.sh
config="$work/consentgate.yaml"
[[ "${MODE:-relay}" == spool ]] && config="$work/consentgate-spool.yaml"
port=$(sed -n '/^ingress:/,/^[a-z]/s/^  port: //p' "$config")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
nginx -p "$work" -c "$work/sink.conf" -g 'daemon off;' 2>>"$work/sink-error.log" &
pids+=($!)
"$bin" serve --config "$config" >"$work/cpu-consentgate.log" 2>&1 &
cg=$!
pids+=($cg)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
lua="$here/batch.lua"
wrk -t1 -c"$connections" -d3s -s "$lua" "http://127.0.0.1:$port/v1/batch" -- "$data/${BATCHES:-uniform}" 200 >/dev/null
ticks() { awk '{print $14 + $15}' "/proc/$cg/stat"; }
switches() {  # voluntary and involuntary context switches of all of consentgate's threads
  cat /proc/"$cg"/task/*/status | awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v, n}'
}
futex_file="$work/cpu-futex.csv"
rm -f "$futex_file"
perf_pid=""
if perf stat -e syscalls:sys_enter_futex true >/dev/null 2>&1; then
  perf stat -x, -e syscalls:sys_enter_futex -p "$cg" -o "$futex_file" &
  perf_pid=$!
  pids+=($perf_pid)
fi
before=$(ticks)
switches_before=$(switches)
line=$(wrk -t1 -c"$connections" -d"${seconds}"s -s "$lua" "http://127.0.0.1:$port/v1/batch" -- "$data/${BATCHES:-uniform}" 200 "$delay_ms" random | grep '^RESULT ')
after=$(ticks)
switches_after=$(switches)
futex=""
if [[ -n "$perf_pid" ]]; then
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  futex=$(awk -F, '/sys_enter_futex/ {print $1}' "$futex_file")
fi
python3 - "$line" "$before" "$after" "$(getconf CLK_TCK)" $switches_before $switches_after "$futex" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
requests, seconds = int(fields["requests"]), int(fields["duration_us"]) / 1e6
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
voluntary = (int(sys.argv[7]) - int(sys.argv[5])) / requests
involuntary = (int(sys.argv[8]) - int(sys.argv[6])) / requests
print(f"{requests / seconds:.0f} batches/s, {cpu / requests * 1e6:.0f} us CPU per batch, "
      f"context switches per batch {voluntary:.2f} + {involuntary:.2f} involuntary, "
      f"p50 {int(fields['p50_us']) / 1000:.2f} ms, p99 {int(fields['p99_us']) / 1000:.2f} ms, non-2xx {fields['errors_status']}"
      + (f", futex calls per batch {int(sys.argv[9]) / requests:.2f}" if sys.argv[9].isdigit() else ""))
PY
