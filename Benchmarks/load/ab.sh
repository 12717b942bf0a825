#!/usr/bin/env bash
# Several gateways side by side, warm, measured in alternation: for comparing builds or settings whose
# difference is smaller than this machine's drift between runs (±15 % over minutes).
#
#   Benchmarks/load/ab.sh WORK_DIR ROUNDS SECONDS NAME=BINARY[:MODE[:KEYS]] ...
#
# WORK_DIR is a work directory kept by `KEEP=1 SPOOL=1 Benchmarks/load/run.sh` (its configurations,
# certificates, seeded stores, TLS sink and batches). Each NAME runs BINARY on a configuration of its own
# (its own ports, its own copy of the store, its own spool directory): MODE `relay` (the default) starts from
# the work directory's consentgate.yaml, `spool` from consentgate-spool.yaml; KEYS, if given, are added to
# (or replace) the spool's flow mapping, e.g. `spool:commit_interval_ms: 0` or `spool:max_bytes: 64MiB`.
# Every gateway stays up for the whole run; each is warmed (4 s of the uniform batches, which caches all
# their subjects), then the gateways are driven in turn, ROUNDS times, with wrk for SECONDS each (32
# connections), and each run prints its batches/s, the gateway's CPU per batch (utime + stime) and p99. The
# summary gives each one's mean rate and its share of the first NAME's. Everything it starts it stops.
set -euo pipefail
work="${1:?usage: ab.sh WORK_DIR ROUNDS SECONDS NAME=BINARY[:MODE[:KEYS]] ...}"
rounds="${2:?rounds}"
seconds="${3:?seconds}"
shift 3
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/kept-work.sh"
kept_work "$work" ab.sh
lua="$here/batch.lua"
scratch="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$scratch"' EXIT
nginx -p "$work" -c "$work/sink.conf" -g 'daemon off;' 2>>"$work/sink-error.log" &
pids+=($!)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
names=() ports=() gateways=()
for spec in "$@"; do
  name="${spec%%=*}" rest="${spec#*=}"
  IFS=: read -r bin mode keys <<<"$rest"
  mode="${mode:-relay}"
  base="$work/consentgate.yaml"
  [[ "$mode" == spool ]] && base="$work/consentgate-spool.yaml"
  [[ -f "$base" ]] || { echo "ab.sh: $base is missing (keep a work directory of SPOOL=1 run.sh)" >&2; exit 1; }
  dir="$scratch/$name"
  mkdir -p "$dir"
  port=$(free_port)
  python3 - "$base" "$work" "$dir" "$port" "$(free_port)" "${keys:-}" <<'PY'
import re, shutil, sys
base, work, directory, port, admin, keys = sys.argv[1:]
text = open(base).read()
# The two listeners (ingress, then admin), the store, the audit log and the spool become this gateway's own.
listeners = re.findall(r"^  port: (\d+)$", text, re.M)
text = text.replace(f"port: {listeners[0]}", f"port: {port}", 1).replace(f"port: {listeners[1]}", f"port: {admin}", 1)
for store in set(re.findall(re.escape(work) + r"/consent[\w-]*\.sqlite", text)):
    shutil.copy(store, directory + "/consent.sqlite")
    text = text.replace(store, directory + "/consent.sqlite")
text = re.sub(re.escape(work) + r"/audit[\w-]*\.jsonl", directory + "/audit.jsonl", text)
text = re.sub(r"path: " + re.escape(work) + r"/spool", f"path: {directory}/spool", text)
if keys:
    key = keys.split(":")[0].strip()
    text = re.sub(r"(  spool: \{[^}]*?)(, )?" + key + r": [^,}]*", r"\1", text)
    text = re.sub(r"(  spool: \{[^}]*)\}", r"\1, " + keys + "}", text)
open(directory + "/consentgate.yaml", "w").write(text)
PY
  "$bin" serve --config "$dir/consentgate.yaml" >"$dir/log" 2>&1 &
  pids+=($!)
  names+=("$name") ports+=("$port") gateways+=($!)
done
for i in "${!names[@]}"; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:${ports[$i]}/" && break; sleep 0.1; done
  wrk -t1 -c32 -d4s -s "$lua" "http://127.0.0.1:${ports[$i]}/v1/batch" -- "$data/uniform" 200 >/dev/null
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results="$scratch/results"
for round in $(seq 1 "$rounds"); do
  for i in "${!names[@]}"; do
    sleep 1  # a spool gateway's deliverer finishes the previous round's backlog
    before=$(ticks "${gateways[$i]}")
    line=$(wrk -t1 -c32 -d"${seconds}"s -s "$lua" "http://127.0.0.1:${ports[$i]}/v1/batch" -- "$data/uniform" 200 | grep '^RESULT ')
    after=$(ticks "${gateways[$i]}")
    record="$round ${names[$i]} $before $after $(getconf CLK_TCK) ${line#RESULT }"
    echo "$record" >>"$results"
    python3 - $record <<'PY'
import sys
round, name, before, after, hz, *fields = sys.argv[1:]
f = dict(kv.split("=") for kv in fields)
n, s = int(f["requests"]), int(f["duration_us"]) / 1e6
cpu = (int(after) - int(before)) / int(hz) / n * 1e6
print(f"round {round} {name}: {n / s:.0f} batches/s, {cpu:.0f} us CPU per batch, p99 {int(f['p99_us']) / 1000:.1f} ms")
PY
  done
done
python3 - "$results" <<'PY'
import collections, sys
rates = collections.OrderedDict()
for line in open(sys.argv[1]):
    round, name, before, after, hz, *fields = line.split()
    f = dict(kv.split("=") for kv in fields)
    rates.setdefault(name, []).append(int(f["requests"]) / (int(f["duration_us"]) / 1e6))
first = next(iter(rates.values()))
for name, values in rates.items():
    mean = sum(values) / len(values)
    print(f"{name}: mean {mean:.0f} batches/s, {mean / (sum(first) / len(first)) * 100:.1f} % of {next(iter(rates))}")
PY
