#!/usr/bin/env bash
# How much the yardstick's keep-alive to the sink matters: nginx as the load benchmark runs it
# (`proxy.conf`: HTTP/1.1 and a pool of kept-alive TLS connections to the sink) against nginx with
# `proxy_pass`'s defaults (HTTP/1.0 to the sink, so a new TLS connection per request, sessions reused):
#
#   Benchmarks/load/yardstick.sh WORK_DIR [ROUNDS=3] [SECONDS=10] [CONNECTIONS=32] [DELAY_MS=0]
#
# WORK_DIR is a work directory kept by `KEEP=1 Benchmarks/load/run.sh`. The second configuration is the
# first without its four keep-alive lines. The two alternate, each driven by `wrk -t1` with the uniform
# batches; it prints batches/s and p99 for each round. With DELAY_MS > 0 each connection waits a random
# gap of that mean after each answer, as cpu.sh's paced rounds do. Everything it starts it stops.
set -euo pipefail
work="${1:?usage: yardstick.sh WORK_DIR [ROUNDS] [SECONDS] [CONNECTIONS] [DELAY_MS]}"
rounds="${2:-3}"
seconds="${3:-10}"
connections="${4:-32}"
delay_ms="${5:-0}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/kept-work.sh"
kept_work "$work" yardstick.sh

kept_port=$(sed -n 's/^ *listen 127.0.0.1:\([0-9]*\);/\1/p' "$work/proxy.conf")
plain_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$work/proxy.conf" "$work/proxy-plain.conf" "$kept_port" "$plain_port" <<'PY'
import sys
text = open(sys.argv[1]).read()
for line in ["        keepalive 128;\n", "        keepalive_requests 10000000;\n    }",
             "            proxy_http_version 1.1;\n", "            proxy_set_header Connection \"\";\n"]:
    assert line in text, f"proxy.conf lacks {line!r}"
    text = text.replace(line, "    }" if line.endswith("}") else "", 1)
text = text.replace(f"127.0.0.1:{sys.argv[3]};", f"127.0.0.1:{sys.argv[4]};").replace("proxy.pid", "proxy-plain.pid")
open(sys.argv[2], "w").write(text)
PY

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
nginx -p "$work" -c "$work/sink.conf" -g 'daemon off;' 2>>"$work/sink-error.log" &
pids+=($!)
nginx -p "$work" -c "$work/proxy.conf" -g 'daemon off;' 2>>"$work/proxy-error.log" &
pids+=($!)
nginx -p "$work" -c "$work/proxy-plain.conf" -g 'daemon off;' 2>>"$work/proxy-error.log" &
pids+=($!)
for port in "$kept_port" "$plain_port"; do
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

for round in $(seq 1 "$rounds"); do
  for variant in keep-alive plain; do
    port=$kept_port; [[ $variant == plain ]] && port=$plain_port
    line=$(wrk -t1 -c"$connections" -d"${seconds}"s -s "$here/batch.lua" "http://127.0.0.1:$port/v1/batch" -- "$data/uniform" 200 "$delay_ms" random | grep '^RESULT ')
    python3 - "$line" "$round" "$variant" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
rate = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
print(f"round {sys.argv[2]} nginx {sys.argv[3]:10}: {rate:6.0f} batches/s, p99 {int(f['p99_us']) / 1000:.2f} ms, non-2xx {f['errors_status']}")
PY
  done
done
