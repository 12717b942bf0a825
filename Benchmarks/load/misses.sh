#!/usr/bin/env bash
# One request of many distinct unknown subjects against a slow consent service (issue "Consent smuggling",
# item 7): how long the gateway takes to answer it.
#
#   Benchmarks/load/misses.sh BINARY [SUBJECTS=2500] [LATENCY_MS=20] [ROUNDS=3] [MAX_CONCURRENT=32] [DEADLINE_S=5]
#
# A local HTTP consent service (Python, one thread per request) answers every lookup with 404 (unknown
# subject) after LATENCY_MS. The gateway (store.kind: http, store.http.max_concurrent MAX_CONCURRENT,
# store.request_deadline_seconds DEADLINE_S) gets ROUNDS batches of SUBJECTS distinct subjects each (fresh
# ones every round, so every lookup is a miss) and drops them all (unknown subjects, policy drop); the
# upstream is never contacted. Prints, per round, the status, the seconds to the answer and the lookups the
# service saw. Loopback only; everything it starts it stops.
set -euo pipefail
bin="${1:?usage: misses.sh BINARY [SUBJECTS] [LATENCY_MS] [ROUNDS] [MAX_CONCURRENT] [DEADLINE_S]}"
subjects="${2:-2500}"
latency_ms="${3:-20}"
rounds="${4:-3}"
max_concurrent="${5:-32}"
deadline_s="${6:-5}"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
service_port=$(free_port)
ingress_port=$(free_port)

cat >"$work/service.py" <<EOF
import http.server, socketserver, time, threading
count = 0
lock = threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        global count
        if self.path == "/count":
            body = str(count).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            return
        with lock: count += 1
        time.sleep($latency_ms / 1000)
        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
Server(("127.0.0.1", $service_port), Handler).serve_forever()
EOF
python3 "$work/service.py" &
pids+=($!)

cat >"$work/consentgate.yaml" <<EOF
ingress: {host: 127.0.0.1, port: $ingress_port}
upstream: {url: "https://127.0.0.1:9"}
admin: {host: 127.0.0.1, port: 0}
store:
  kind: http
  request_deadline_seconds: $deadline_s
  http: {url_template: "http://127.0.0.1:$service_port/consent/{subject}", max_concurrent: $max_concurrent, timeout_seconds: 10}
cache: {negative_ttl_seconds: 600}
audit: {path: ""}
log: {level: warning}
EOF
"$bin" serve --config "$work/consentgate.yaml" >"$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$ingress_port/" && break; sleep 0.1; done

for round in $(seq 1 "$rounds"); do
  python3 - "$work/batch.json" "$subjects" "$round" <<'EOF'
import json, sys
path, n, r = sys.argv[1], int(sys.argv[2]), sys.argv[3]
events = [{"type": "track", "event": "e", "userId": f"stranger-{r}-{i}",
           "context": {"consent": {"categoryPreferences": {"Analytics": True}}}} for i in range(n)]
open(path, "w").write(json.dumps({"batch": events}, separators=(",", ":")))
EOF
  before=$(curl -s "http://127.0.0.1:$service_port/count")
  result=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    --data-binary @"$work/batch.json" --max-time 300 "http://127.0.0.1:$ingress_port/v1/batch")
  after=$(curl -s "http://127.0.0.1:$service_port/count")
  echo "round $round: status ${result% *}, ${result#* } s, $((after - before)) lookups for $subjects subjects (latency ${latency_ms} ms, max_concurrent $max_concurrent, deadline ${deadline_s} s)"
done
