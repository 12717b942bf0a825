#!/usr/bin/env bash
# The load benchmark of BENCHMARKS.md, in one command:
#
#   Benchmarks/load/run.sh
#
# Builds consentgate in release mode, makes realistic 100-event gzip batches (gen.py), seeds the SQLite
# store with SUBJECTS subjects through `consentgate consent import`, starts an nginx TLS sink that answers
# like Segment, nginx as a plain reverse proxy to that sink, and consentgate in front of the same sink;
# then drives both with wrk (batch.lua), alternating, ROUNDS x SECONDS each, and prints for each one
# batches/s, events/s, p50 and p99 latency and the ratio consentgate/nginx. It also measures:
#   - resident memory per cached subject: VmRSS before and after putting every subject in the cache;
#   - p99 latency at half of consentgate's peak rate, both servers paced to the same rate, twice: with
#     random gaps between a connection's requests (independent arrivals, as from many clients: the
#     figure for the target) and with fixed gaps (the connections' requests then arrive in bursts);
#   - store lookups per 100 events under Zipf(1.1) traffic (the /metrics counters over a live run,
#     and the ZipfLookups simulation of the cache over several TTLs at the measured event rate).
# Everything it starts it stops (by pid) when it ends; every loop is bounded.
#
# Settings (environment): ROUNDS=3 SECONDS_EACH=10 CONNECTIONS=32 THREADS=1 SUBJECTS=1000000
#   SCRATCH=.build (swift build --scratch-path) NGINX_WORKERS=2 SINK_WORKERS=1 KEEP=1 (keep the work dir)
#   QUICK=1 (SUBJECTS=100000 ROUNDS=1 SECONDS_EACH=5: a smoke run, not for the record)
#   CONSENTGATE_BIN=path (measure that binary instead of building one), ZIPF_BIN=path (the same for ZipfLookups)
#   SPOOL=1 (also run a second consentgate with delivery.mode: spool, alternating with the other two in the
#   peak and paced phases: its batch rate against relay's (sustained: counting the time its deliverer then
#   needs for the batches a run left acknowledged but undelivered; the verdict takes the lower of the median of
#   the round-by-round ratios and the ratio of the medians), fsyncs per second against requests per second,
#   and its p99 at the same half load; SPOOL_COMMIT_MS=2 sets its delivery.spool.commit_interval_ms)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ "${QUICK:-0}" == 1 ]]; then
  : "${SUBJECTS:=100000}" "${ROUNDS:=1}" "${SECONDS_EACH:=5}"
fi
QUICK="${QUICK:-0}"
ROUNDS="${ROUNDS:-3}"
SECONDS_EACH="${SECONDS_EACH:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
SUBJECTS="${SUBJECTS:-1000000}"
SCRATCH="${SCRATCH:-$root/.build}"
NGINX_WORKERS="${NGINX_WORKERS:-2}"
SPOOL="${SPOOL:-0}"
SPOOL_COMMIT_MS="${SPOOL_COMMIT_MS:-2}"
SINK_WORKERS="${SINK_WORKERS:-1}"
EVENTS_PER_BATCH=100

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools --------------------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
dpkg -s libdeflate0 >/dev/null 2>&1 || missing+=(libdeflate0)
dpkg -s pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v python3 >/dev/null || die "python3 is required"

# --- build --------------------------------------------------------------------------------------------
if [[ -n "${CONSENTGATE_BIN:-}" ]]; then
  bin="$CONSENTGATE_BIN"
  log "using $bin (CONSENTGATE_BIN; not building)"
else
  log "building consentgate (release, scratch path $SCRATCH)"
  (cd "$root" && swift build -c release --product consentgate --scratch-path "$SCRATCH" 2>&1 | tail -3) >&2
  bin="$SCRATCH/release/consentgate"
fi
[[ -x "$bin" ]] || die "no $bin after the build"
if [[ -n "${ZIPF_BIN:-}" ]]; then
  zipf_bin="$ZIPF_BIN"
  log "using $zipf_bin (ZIPF_BIN; not building)"
else
  log "building the ZipfLookups simulation (Benchmarks package, release)"
  (cd "$here/.." && swift build -c release --product ZipfLookups --scratch-path "$here/../.build" 2>&1 | tail -3) >&2
  zipf_bin="$here/../.build/release/ZipfLookups"
fi

# --- work dir, processes, cleanup ----------------------------------------------------------------------
work="$(mktemp -d /tmp/consentgate-load.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # host port seconds
  for _ in $(seq 1 $(($3 * 10))); do
    python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('$1',$2)))" && return 0
    sleep 0.1
  done
  return 1
}
fill() {  # template output: substitutes @NAME@ with $NAME
  python3 - "$1" "$2" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"@([A-Z_]+)@", lambda m: os.environ[m.group(1)], text))
PY
}

export DIR="$work" CERTS="$work/certs"
export SINK_PORT PROXY_PORT CG_PORT ADMIN_PORT SINK_WORKERS PROXY_WORKERS="$NGINX_WORKERS"
SINK_PORT="$(free_port)"; PROXY_PORT="$(free_port)"; CG_PORT="$(free_port)"; ADMIN_PORT="$(free_port)"
SPOOL_PORT="$(free_port)"; SPOOL_ADMIN_PORT="$(free_port)"
export CACHE_CAPACITY=$((SUBJECTS + SUBJECTS / 10 + 1000))

bash "$root/certs/make-dev-certs.sh" "$CERTS" >/dev/null
chmod 644 "$CERTS"/*.pem

# --- data (cached by generator version and subject count) ------------------------------------------------
data_key="$( (cat "$here/gen.py"; echo "$SUBJECTS") | sha256sum | cut -c1-12)"
data="$SCRATCH/load-data-$data_key"
if [[ ! -f "$data/meta.txt" ]]; then
  log "generating batches and the seed of $SUBJECTS subjects"
  rm -rf "$data"
  python3 "$here/gen.py" "$data" --subjects "$SUBJECTS" --batches 200 --zipf-batches 200
fi
echo "data=$data" >"$work/data-dir"  # for cpu.sh, which reuses a kept work directory
uniform_count=$(ls "$data/uniform" | wc -l)
zipf_count=$(ls "$data/zipf" | wc -l)
batch_json=$(sed -n 's/^batch_json_bytes_avg=//p' "$data/meta.txt")
batch_gzip=$(sed -n 's/^batch_gzip_bytes_avg=//p' "$data/meta.txt")
event_bytes=$(sed -n 's/^event_bytes_avg=//p' "$data/meta.txt")

# --- servers --------------------------------------------------------------------------------------------
fill "$here/sink.conf.in" "$work/sink.conf"
fill "$here/proxy.conf.in" "$work/proxy.conf"
fill "$here/consentgate.yaml.in" "$work/consentgate.yaml"

nginx -p "$work" -c "$work/sink.conf" -g 'daemon off;' 2>>"$work/sink-error.log" &
pids+=($!)
nginx -p "$work" -c "$work/proxy.conf" -g 'daemon off;' 2>>"$work/proxy-error.log" &
pids+=($!)
wait_port 127.0.0.1 "$SINK_PORT" 10 || die "the nginx sink did not start: $(cat "$work/sink-error.log")"
wait_port 127.0.0.1 "$PROXY_PORT" 10 || die "the nginx proxy did not start: $(cat "$work/proxy-error.log")"

log "seeding the store: consentgate consent import ($SUBJECTS subjects)"
import_start=$(date +%s.%N)
"$bin" consent import "$data/seed.jsonl" --config "$work/consentgate.yaml" >&2
import_seconds=$(python3 -c "print(round($(date +%s.%N) - $import_start, 1))")

"$bin" serve --config "$work/consentgate.yaml" >"$work/consentgate.log" 2>&1 &
cg_pid=$!
pids+=($cg_pid)
wait_port 127.0.0.1 "$CG_PORT" 30 || die "consentgate did not start: $(tail -5 "$work/consentgate.log")"
wait_port 127.0.0.1 "$ADMIN_PORT" 10 || die "consentgate's admin listener did not start"

# SPOOL=1: the same gateway in delivery.mode: spool, on its own copy of the store and its own ports.
servers="nginx consentgate"
if [[ "$SPOOL" == 1 ]]; then
  cp "$work/consent.sqlite" "$work/consent-spool.sqlite"
  sed -e "s|port: $CG_PORT|port: $SPOOL_PORT|; s|port: $ADMIN_PORT|port: $SPOOL_ADMIN_PORT|" \
    -e "s|$work/consent.sqlite|$work/consent-spool.sqlite|; s|$work/audit.jsonl|$work/audit-spool.jsonl|" \
    "$work/consentgate.yaml" >"$work/consentgate-spool.yaml"
  printf 'delivery:\n  mode: spool\n  spool: {path: %s/spool, commit_interval_ms: %s}\n' "$work" "$SPOOL_COMMIT_MS" >>"$work/consentgate-spool.yaml"
  "$bin" serve --config "$work/consentgate-spool.yaml" >"$work/consentgate-spool.log" 2>&1 &
  spool_pid=$!
  pids+=($spool_pid)
  wait_port 127.0.0.1 "$SPOOL_PORT" 30 || die "consentgate (spool) did not start: $(tail -5 "$work/consentgate-spool.log")"
  servers="nginx consentgate consentgate-spool"
fi
port_of() { case "$1" in nginx) echo "$PROXY_PORT";; consentgate) echo "$CG_PORT";; consentgate-spool) echo "$SPOOL_PORT";; esac; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
metric() {  # sum of a metric's samples whose line matches a pattern (default: any); METRICS_PORT= another admin port
  curl -s "http://127.0.0.1:${METRICS_PORT:-$ADMIN_PORT}/metrics" | awk -v m="$1" -v p="${2:-}" '
    $1 ~ "^"m"($|\\{)" && index($0, p) > 0 { s += $NF } END { printf "%.0f\n", s }'
}

# One check that the path works end to end before measuring: 200, and every event forwarded.
for url in $(for server in $servers; do echo "http://127.0.0.1:$(port_of "$server")/v1/batch"; done); do
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url" -H 'Content-Type: application/json' \
    -H 'Content-Encoding: gzip' -H 'Authorization: Basic YmVuY2gtd3JpdGUta2V5Og==' --data-binary @"$data/uniform/0000.gz")
  [[ "$status" == 200 ]] || die "POST $url answered $status"
done

wrk_run() {  # label url dir count seconds connections [delay_ms [gaps]] -> prints the RESULT line's fields
  local out
  out=$(wrk -t"$THREADS" -c"$6" -d"$5"s --timeout 5s -s "$here/batch.lua" "$2" -- "$3" "$4" "${7:-0}" "${8:-fixed}" 2>&1) || {
    log "wrk failed: $out"; return 1; }
  local line
  line=$(grep '^RESULT ' <<<"$out") || { log "wrk printed no result: $out"; return 1; }
  echo "$1 ${line#RESULT }"
}
# The spool gateway's fsyncs and group commits over one run (zero for the other servers).
spool_counts_before() {
  fsyncs_before=0; commits_before=0
  if [[ $server == consentgate-spool ]]; then
    fsyncs_before=$(METRICS_PORT=$SPOOL_ADMIN_PORT metric consentgate_spool_fsyncs_total)
    commits_before=$(METRICS_PORT=$SPOOL_ADMIN_PORT metric consentgate_spool_commits_total)
  fi
}
# Then the batches it acknowledged but had not yet delivered when the run ended (backlog), and how long its
# deliverer took to send them (drain_ms): it waits for that, at most 60 s, so the next run does not share the
# machine with it, and the spool's sustained rate counts the wait (a deliverer that falls behind would
# otherwise lend the ingress its CPU).
spool_counts_after() {
  if [[ $server == consentgate-spool ]]; then
    local fsyncs commits backlog started drain_ms=0
    fsyncs=$(( $(METRICS_PORT=$SPOOL_ADMIN_PORT metric consentgate_spool_fsyncs_total) - fsyncs_before ))
    commits=$(( $(METRICS_PORT=$SPOOL_ADMIN_PORT metric consentgate_spool_commits_total) - commits_before ))
    backlog=$(METRICS_PORT=$SPOOL_ADMIN_PORT metric consentgate_spool_batches)
    if [[ "$backlog" != 0 ]]; then
      started=$(date +%s%N)
      for _ in $(seq 1 600); do
        [[ $(METRICS_PORT=$SPOOL_ADMIN_PORT metric consentgate_spool_batches) == 0 ]] && break
        sleep 0.05
      done
      drain_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    fi
    echo "fsyncs=$fsyncs commits=$commits backlog=$backlog drain_ms=$drain_ms"
  else
    echo "fsyncs=0 commits=0"
  fi
}
field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<" $1"; }

# --- 1. memory per cached subject ---------------------------------------------------------------------------
log "warm-up without caching subjects (one batch of 10 subjects, ${SECONDS_EACH}s)"
wrk_run warm "http://127.0.0.1:$CG_PORT/v1/batch" "$data/few" 1 "$SECONDS_EACH" "$CONNECTIONS" >/dev/null
sleep 1
rss_before=$(rss_kib "$cg_pid")
cached_before=$(metric consentgate_cache_entries)
log "putting all $SUBJECTS subjects in the cache (RSS before: $rss_before KiB)"
warm_start=$(date +%s.%N)
python3 "$here/warm.py" "http://127.0.0.1:$CG_PORT" "$SUBJECTS" --threads 3
warm_seconds=$(python3 -c "print(round($(date +%s.%N) - $warm_start, 1))")
sleep 1
rss_after=$(rss_kib "$cg_pid")
cached_after=$(metric consentgate_cache_entries)
bytes_per_subject=$(python3 -c "print(round(($rss_after - $rss_before) * 1024 / $SUBJECTS, 1))")
log "RSS after: $rss_after KiB; cache entries $cached_before -> $cached_after; $bytes_per_subject B per subject"
if [[ "$SPOOL" == 1 ]]; then
  log "putting all $SUBJECTS subjects in the spool gateway's cache"
  python3 "$here/warm.py" "http://127.0.0.1:$SPOOL_PORT" "$SUBJECTS" --threads 3
fi

# --- 2. peak throughput, alternating -------------------------------------------------------------------------
log "warm-up of both servers (${SECONDS_EACH}s each)"
wrk_run warm "http://127.0.0.1:$PROXY_PORT/v1/batch" "$data/uniform" "$uniform_count" "$SECONDS_EACH" "$CONNECTIONS" >/dev/null
wrk_run warm "http://127.0.0.1:$CG_PORT/v1/batch" "$data/uniform" "$uniform_count" "$SECONDS_EACH" "$CONNECTIONS" >/dev/null
if [[ "$SPOOL" == 1 ]]; then
  wrk_run warm "http://127.0.0.1:$SPOOL_PORT/v1/batch" "$data/uniform" "$uniform_count" "$SECONDS_EACH" "$CONNECTIONS" >/dev/null
fi
results="$work/results.txt"
: >"$results"
lookups_before=$(metric consentgate_store_request_duration_seconds_count)
for round in $(seq 1 "$ROUNDS"); do
  for server in $servers; do
    port=$(port_of "$server")
    spool_counts_before
    line=$(wrk_run "$server" "http://127.0.0.1:$port/v1/batch" "$data/uniform" "$uniform_count" "$SECONDS_EACH" "$CONNECTIONS")
    echo "peak $round $line $(spool_counts_after) load=$(cut -d' ' -f1 /proc/loadavg)" >>"$results"
    log "round $round $server: $(python3 -c "print(round($(field "$line" requests) / $(field "$line" duration_us) * 1e6))") batches/s, p99 $(field "$line" p99_us) us, non-2xx $(field "$line" errors_status)"
  done
done
lookups_after_peak=$(metric consentgate_store_request_duration_seconds_count)
forwarded=$(metric consentgate_events_total 'action="forward"')
events_total=$(metric consentgate_events_total)

# --- 3. latency at half of consentgate's peak rate ---------------------------------------------------------
cg_peak=$(python3 - "$results" <<'PY'
import statistics, sys
rates = []
for line in open(sys.argv[1]):
    f = dict(kv.split("=") for kv in line.split()[3:] if "=" in kv)
    if line.split()[2] == "consentgate":
        rates.append(int(f["requests"]) / int(f["duration_us"]) * 1e6)
print(round(statistics.median(rates)))
PY
)
delay_ms=20
paced_connections=$(python3 -c "print(max(1, round($cg_peak / 2 * ($delay_ms + 1) / 1000)))")
log "paced runs: ~$((cg_peak / 2)) batches/s ($paced_connections connections, ${delay_ms} ms on average between a connection's requests)"
for round in $(seq 1 "$ROUNDS"); do
  for gaps in random fixed; do
    for server in $servers; do
      port=$(port_of "$server")
      spool_counts_before
      line=$(wrk_run "$server" "http://127.0.0.1:$port/v1/batch" "$data/uniform" "$uniform_count" "$SECONDS_EACH" "$paced_connections" "$delay_ms" "$gaps")
      echo "paced-$gaps $round $line $(spool_counts_after) load=$(cut -d' ' -f1 /proc/loadavg)" >>"$results"
    done
  done
done

# --- 4. store lookups under Zipf(1.1) ------------------------------------------------------------------------
log "Zipf(1.1) traffic on the warm cache (${SECONDS_EACH}s)"
zipf_lookups_before=$(metric consentgate_store_request_duration_seconds_count)
zipf_events_before=$(metric consentgate_events_total)
line=$(wrk_run consentgate "http://127.0.0.1:$CG_PORT/v1/batch" "$data/zipf" "$zipf_count" "$SECONDS_EACH" "$CONNECTIONS")
echo "zipf 1 $line load=$(cut -d' ' -f1 /proc/loadavg)" >>"$results"
zipf_lookups=$(( $(metric consentgate_store_request_duration_seconds_count) - zipf_lookups_before ))
zipf_events=$(( $(metric consentgate_events_total) - zipf_events_before ))
rss_end=$(rss_kib "$cg_pid")
cg_event_rate=$(( cg_peak * EVENTS_PER_BATCH ))
log "simulating the cache under Zipf(1.1) at $cg_event_rate events/s over 3 TTLs (ZipfLookups)"
zipf_sim=$("$zipf_bin" --rate "$cg_event_rate" --ttl 300 --subjects "$SUBJECTS" --capacity "$CACHE_CAPACITY" --s 1.1 --windows 3)
echo "$zipf_sim" >&2
zipf_sim_result=$(sed -n 's/^RESULT lookups_per_100_events_warm=//p' <<<"$zipf_sim")

# --- report -----------------------------------------------------------------------------------------------
export results SECONDS_EACH CONNECTIONS THREADS SUBJECTS EVENTS_PER_BATCH batch_json batch_gzip event_bytes \
  rss_before rss_after rss_end bytes_per_subject cached_before cached_after warm_seconds import_seconds \
  lookups_before lookups_after_peak forwarded events_total zipf_lookups zipf_events zipf_sim_result \
  paced_connections delay_ms ROUNDS NGINX_WORKERS SINK_WORKERS QUICK SPOOL SPOOL_COMMIT_MS
python3 - <<'PY'
import os, statistics
E = os.environ
rows = {}
for line in open(E["results"]):
    parts = line.split()
    phase, rnd, server = parts[0], parts[1], parts[2]
    f = {k: v for k, v in (kv.split("=") for kv in parts[3:] if "=" in kv)}
    rows.setdefault((phase, server), []).append(f)

def summary(phase, server):
    runs = rows.get((phase, server), [])
    rates = [int(r["requests"]) / int(r["duration_us"]) * 1e6 for r in runs]
    # Sustained: over the run and the time the spool's deliverer then needed for its backlog (0 for relay).
    sustained = [int(r["requests"]) / (int(r["duration_us"]) + int(r.get("drain_ms", 0)) * 1000) * 1e6 for r in runs]
    return {
        "rates": rates,
        "rate": statistics.median(rates) if rates else 0,
        "sustained": statistics.median(sustained) if sustained else 0,
        "sustaineds": sustained,
        "backlogs": [int(r.get("backlog", 0)) for r in runs],
        "p50": statistics.median(int(r["p50_us"]) for r in runs) / 1000 if runs else 0,
        "p99": statistics.median(int(r["p99_us"]) for r in runs) / 1000 if runs else 0,
        "p99s": [int(r["p99_us"]) / 1000 for r in runs],
        "errors": sum(int(r["errors_status"]) + int(r["errors_connect"]) + int(r["errors_read"]) + int(r["errors_write"]) + int(r["errors_timeout"]) for r in runs),
        "loads": [r.get("load", "?") for r in runs],
    }

n = int(E["EVENTS_PER_BATCH"])
smoke = E.get("QUICK", "0") == "1"

def verdict(met):
    # One short round on 100 k subjects checks the machinery; a single noisy round must not read as a result.
    return "smoke run, no verdict" if smoke else ("MET" if met else "NOT MET")

print()
print(f"consentgate load benchmark: {E['SUBJECTS']} subjects, batches of {n} events "
      f"(~{E['event_bytes']} B/event, {int(E['batch_json'])//1000} KB JSON, {int(E['batch_gzip'])/1000:.1f} KB gzip), "
      f"wrk -t{E['THREADS']} -c{E['CONNECTIONS']}, {E['ROUNDS']} x {E['SECONDS_EACH']} s each, alternating")
print(f"nginx: {E['NGINX_WORKERS']} worker(s) as the proxy, {E['SINK_WORKERS']} as the TLS sink; loadavg during runs in results")
print()
print("peak (closed loop)     batches/s    events/s   p50 ms   p99 ms  errors  per-round batches/s")
peak = {}
for server in ("nginx", "consentgate"):
    s = summary("peak", server)
    peak[server] = s
    print(f"{server:<20} {s['rate']:>11.0f} {s['rate']*n:>11.0f} {s['p50']:>8.2f} {s['p99']:>8.2f} {s['errors']:>7d}  "
          + " ".join(f"{r:.0f}" for r in s["rates"]))
ratio = peak["consentgate"]["rate"] / peak["nginx"]["rate"] if peak["nginx"]["rate"] else 0
print(f"ratio consentgate/nginx: {ratio:.3f}  ({ratio*100:.1f} %; target >= 35 %: {verdict(ratio >= 0.35)})")
spooled = E.get("SPOOL") == "1"
def fsync_rate(phase):
    runs = rows.get((phase, "consentgate-spool"), [])
    fs, cs = sum(int(r.get("fsyncs", 0)) for r in runs), sum(int(r.get("commits", 0)) for r in runs)
    us, reqs = sum(int(r["duration_us"]) for r in runs), sum(int(r["requests"]) for r in runs)
    return (fs / us * 1e6 if us else 0), (reqs / us * 1e6 if us else 0), (cs / us * 1e6 if us else 0)
if spooled:
    s = summary("peak", "consentgate-spool")
    peak["consentgate-spool"] = s
    print(f"{'consentgate-spool':<20} {s['rate']:>11.0f} {s['rate']*n:>11.0f} {s['p50']:>8.2f} {s['p99']:>8.2f} {s['errors']:>7d}  "
          + " ".join(f"{r:.0f}" for r in s["rates"]))
    medians_ratio = s["sustained"] / peak["consentgate"]["rate"] if peak["consentgate"]["rate"] else 0
    # Each round's spool run against the relay run just before it: the machine drifts less within a round
    # than across the run. The verdict takes the lower of this median and the ratio of the medians.
    paired = [sp / re for sp, re in zip(s["sustaineds"], peak["consentgate"]["rates"]) if re]
    paired_ratio = statistics.median(paired) if paired else 0
    spool_ratio = min(medians_ratio, paired_ratio)
    acknowledged_ratio = s["rate"] / peak["consentgate"]["rate"] if peak["consentgate"]["rate"] else 0
    fps, rps, cps = fsync_rate("peak")
    print(f"spool backlog at the end of each run (acknowledged, not yet delivered): {' '.join(str(b) for b in s['backlogs'])}; "
          f"sustained (counting the time to deliver it) {s['sustained']:.0f} batches/s, acknowledged {s['rate']:.0f}")
    print(f"spool/relay round by round (sustained): {' '.join(f'{r*100:.1f} %' for r in paired)}; "
          f"median {paired_ratio*100:.1f} %, ratio of the medians {medians_ratio*100:.1f} %")
    print(f"ratio spool/relay: {spool_ratio:.3f} ({spool_ratio*100:.1f} % sustained, the lower of the two; {acknowledged_ratio*100:.1f} % acknowledged, ratio of the medians; "
          f"goal >= 80 %: {verdict(spool_ratio >= 0.8)}); "
          f"spool: {rps:.0f} requests/s, {cps:.0f} group commits/s ({cps / rps if rps else 0:.3f} per request), "
          f"{fps:.0f} fsyncs/s in all ({fps / rps if rps else 0:.3f} per request); commit interval {E['SPOOL_COMMIT_MS']} ms")
print()
for gaps, what in (("random", "random gaps, mean"), ("fixed", "fixed gaps,")):
    print(f"paced (~half of consentgate's peak; {E['paced_connections']} connections, {what} {E['delay_ms']} ms between a connection's requests)")
    print("                       batches/s   p50 ms   p99 ms  errors  per-round p99 ms")
    paced = {}
    for server in ("nginx", "consentgate") + (("consentgate-spool",) if spooled else ()):
        s = summary("paced-" + gaps, server)
        paced[server] = s
        print(f"{server:<20} {s['rate']:>11.0f} {s['p50']:>8.2f} {s['p99']:>8.2f} {s['errors']:>7d}  " + " ".join(f"{p:.2f}" for p in s["p99s"]))
    added = paced["consentgate"]["p99"] - paced["nginx"]["p99"]
    if spooled:
        fps, rps, cps = fsync_rate("paced-" + gaps)
        print(f"spool p99 {paced['consentgate-spool']['p99']:.2f} ms vs relay {paced['consentgate']['p99']:.2f} ms; "
              f"spool: {rps:.0f} requests/s, {cps:.0f} group commits/s, {fps:.0f} fsyncs/s in all")
    if gaps == "random":
        print(f"p99 added over nginx: {added:.2f} ms (target <= 2 ms: {verdict(added <= 2)})")
    else:
        print(f"p99 added over nginx: {added:.2f} ms (the connections' requests arrive in bursts: for comparison with earlier runs)")
    print()
print()
before, after = int(E["rss_before"]), int(E["rss_after"])
bps = float(E["bytes_per_subject"])
print(f"memory: VmRSS {before/1024:.1f} MiB before warming, {after/1024:.1f} MiB after caching {E['SUBJECTS']} subjects "
      f"({E['cached_before']} -> {E['cached_after']} cache entries, warmed in {E['warm_seconds']} s; "
      f"{int(E['rss_end'])/1024:.1f} MiB at the end)")
print(f"resident bytes per cached subject: {bps:.1f} (target <= 200: {verdict(bps <= 200)})")
print()
ev, lk = int(E["zipf_events"]), int(E["zipf_lookups"])
print(f"Zipf(1.1), live on the warm cache: {lk} store lookups for {ev} events = {lk / ev * 100 if ev else 0:.4f} per 100 events")
sim = float(E["zipf_sim_result"] or "nan")
print(f"Zipf(1.1), cache simulated over 3 TTLs (300 s) at consentgate's peak event rate: {sim:.3f} store lookups per 100 events once warm "
      f"(target <= 1: {verdict(sim <= 1)})")
fwd, tot = int(E["forwarded"]), int(E["events_total"])
print(f"every event checked: {tot} events decided by consentgate, {fwd} forwarded "
      f"({'all forwarded, as seeded' if fwd == tot else 'NOT ALL FORWARDED: the data and the store disagree'})"
      f"; store lookups during the peak rounds: {int(E['lookups_after_peak']) - int(E['lookups_before'])}")
PY
