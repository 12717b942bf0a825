#!/usr/bin/env python3
"""Withdrawal-latency driver (stdlib only); run by Benchmarks/withdrawal/run.sh.

Starts a plain-HTTP sink that plays Segment and records the messageId of every event it receives, three
`consentgate serve` replicas on one PostgreSQL database, and one traffic thread per replica that posts,
back to back over a keep-alive connection, a batch whose single event (a fresh messageId each time)
stamps Advertising as granted for the subject `bench-user`. The gateway answers only after it has
forwarded (or dropped) the batch, so after each answer the driver knows whether that event reached the sink.

Each round revokes Advertising with a plain SQL UPDATE through one long-lived psql process. T0 is the
moment the statement is written to psql (so latencies include the statement's own execution). A
replica's withdrawal latency is the send time of its first request after T0 whose event was dropped,
minus T0. Then Advertising is granted again the same way and the driver waits until every replica
forwards again. Latencies are reported per replica and overall.
"""

import argparse
import http.client
import http.server
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

SUBJECT = "bench-user"
TOKEN = "bench-admin-token"
REPLICAS = 3


def log(message):
    print(f"[withdrawal {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """Plays Segment on loopback: answers 200 and remembers every event's messageId."""

    def __init__(self):
        self.seen = set()
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    document = json.loads(body)
                    events = document.get("batch", [document])
                    with sink.lock:
                        for event in events:
                            sink.seen.add(event.get("messageId"))
                except ValueError:
                    pass
                answer = b'{"success":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self, message_id):
        with self.lock:
            return message_id in self.seen

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Replica:
    def __init__(self, index, binary, work, postgres_url, sink_port):
        self.index = index
        self.ingress_port = free_port()
        self.admin_port = free_port()
        directory = os.path.join(work, f"replica-{index}")
        os.makedirs(directory, exist_ok=True)
        config = os.path.join(directory, "consentgate.yaml")
        with open(config, "w") as f:
            f.write(
                f"""ingress: {{host: 127.0.0.1, port: {self.ingress_port}}}
upstream: {{url: "http://127.0.0.1:{sink_port}", timeout_seconds: 5}}
admin: {{host: 127.0.0.1, port: {self.admin_port}, token: "{TOKEN}"}}
store:
  kind: postgres
  postgres: {{url: "{postgres_url}", pool_size: 4}}
audit: {{path: ""}}
log: {{level: warning, format: json}}
"""
            )
        self.log_path = os.path.join(directory, "gateway.log")
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", config], cwd=directory, stdout=self.log_file, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica {self.index} exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"replica {self.index} not ready within {timeout} s; see {self.log_path}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


class Phase:
    """One revocation (expect drops) or re-grant (expect forwards), as the traffic threads observe it."""

    def __init__(self, expect_forwarded, t0):
        self.expect_forwarded = expect_forwarded
        self.t0 = t0
        self.latency = [None] * REPLICAS
        # A request sent after the first expected outcome that showed the old outcome again.
        self.flaps = [0] * REPLICAS


class Traffic:
    def __init__(self, replicas, sink):
        self.replicas = replicas
        self.sink = sink
        self.lock = threading.Lock()
        self.phase = None
        self.stopping = threading.Event()
        self.requests = [0] * REPLICAS
        self.errors = [0] * REPLICAS
        self.threads = [threading.Thread(target=self.run, args=(r,), daemon=True) for r in replicas]

    def start(self):
        for thread in self.threads:
            thread.start()

    def run(self, replica):
        index = replica.index
        connection = http.client.HTTPConnection("127.0.0.1", replica.ingress_port, timeout=10)
        while not self.stopping.is_set():
            message_id = str(uuid.uuid4())
            body = json.dumps(
                {
                    "batch": [
                        {
                            "type": "track",
                            "event": "Song Played",
                            "userId": SUBJECT,
                            "messageId": message_id,
                            "timestamp": "2026-11-29T10:00:00.000Z",
                            "properties": {"plays": 3},
                            "context": {"consent": {"categoryPreferences": {"Advertising": True, "Analytics": True}}},
                        }
                    ],
                    "writeKey": "wk-bench",
                }
            ).encode()
            sent = time.monotonic()
            try:
                connection.request("POST", "/v1/batch", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                self.errors[index] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", replica.ingress_port, timeout=10)
                time.sleep(0.01)
                continue
            self.requests[index] += 1
            if status != 200:
                self.errors[index] += 1
                continue
            forwarded = self.sink.received(message_id)
            with self.lock:
                phase = self.phase
                if phase is None or sent < phase.t0:
                    continue
                if phase.latency[index] is None:
                    if forwarded == phase.expect_forwarded:
                        phase.latency[index] = sent - phase.t0
                elif forwarded != phase.expect_forwarded:
                    phase.flaps[index] += 1

    def begin(self, expect_forwarded, t0):
        phase = Phase(expect_forwarded, t0)
        with self.lock:
            self.phase = phase
        return phase

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=15)


class Psql:
    """One long-lived psql session: each statement is acknowledged by an \\echo marker."""

    def __init__(self, url):
        self.process = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.counter = 0

    def run(self, sql):
        """Writes `sql` and returns (time written, time acknowledged)."""
        self.counter += 1
        marker = f"__done_{self.counter}__"
        written = time.monotonic()
        self.process.stdin.write(f"{sql}\n\\echo {marker}\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("psql exited")
            if line.strip() == marker:
                return written, time.monotonic()

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def summary(name, values):
    if not values:
        return f"{name:<10} no samples"
    ms = [v * 1000 for v in values]
    return (
        f"{name:<10} n={len(ms):<4} p50={percentile(ms, 0.50):7.1f} ms  p99={percentile(ms, 0.99):7.1f} ms  "
        f"max={max(ms):7.1f} ms  mean={sum(ms) / len(ms):7.1f} ms"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--revocations", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    postgres_url = args.postgres_url + ("&" if "?" in args.postgres_url else "?") + "sslmode=disable"

    sink = Sink()
    replicas = []
    traffic = None
    psql = None
    try:
        log(f"sink on 127.0.0.1:{sink.port}; starting {REPLICAS} replicas on one PostgreSQL")
        for index in range(REPLICAS):
            replicas.append(Replica(index, args.binary, args.work, postgres_url, sink.port))
            # One at a time: the first creates the schema (the others would wait on its lock anyway).
            replicas[-1].wait_ready()
        request = urllib.request.Request(
            f"http://127.0.0.1:{replicas[0].admin_port}/consent/subjects/{SUBJECT}",
            data=b'{"categoryPreferences":{"Advertising":true,"Analytics":true}}',
            method="PUT",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.status

        psql = Psql(args.postgres_url)
        traffic = Traffic(replicas, sink)
        traffic.start()
        time.sleep(1.0)

        revoke = "UPDATE consent_subjects SET preferences = '{\"Advertising\": false, \"Analytics\": true}' WHERE subject = 'bench-user';"
        grant = "UPDATE consent_subjects SET preferences = '{\"Advertising\": true, \"Analytics\": true}' WHERE subject = 'bench-user';"
        revocations = [[] for _ in range(REPLICAS)]
        regrants = [[] for _ in range(REPLICAS)]
        ack_times = []
        failures = 0
        flaps = 0
        started = time.monotonic()
        requests_before = list(traffic.requests)
        for round_number in range(args.revocations):
            for expect_forwarded, sql, bucket in ((False, revoke, revocations), (True, grant, regrants)):
                # Each phase starts from a settled state, at a random offset to the traffic.
                time.sleep(random.uniform(0.05, 0.2))
                phase_t0 = time.monotonic()
                phase = traffic.begin(expect_forwarded, phase_t0)
                written, acknowledged = psql.run(sql)
                with traffic.lock:
                    phase.t0 = written
                if not expect_forwarded:
                    ack_times.append(acknowledged - written)
                deadline = written + args.timeout
                while time.monotonic() < deadline:
                    with traffic.lock:
                        if all(latency is not None for latency in phase.latency):
                            break
                    time.sleep(0.005)
                # Watch a little longer for flapping (an over-granted event forwarded after a drop).
                time.sleep(0.1)
                with traffic.lock:
                    for index in range(REPLICAS):
                        if phase.latency[index] is None:
                            failures += 1
                        else:
                            bucket[index].append(phase.latency[index])
                        if not expect_forwarded:
                            flaps += phase.flaps[index]
            if (round_number + 1) % 10 == 0:
                log(f"{round_number + 1}/{args.revocations} revocations")
        elapsed = time.monotonic() - started
        rates = [(traffic.requests[i] - requests_before[i]) / elapsed for i in range(REPLICAS)]

        print()
        print(f"Withdrawal latency: {args.revocations} revocations by SQL UPDATE, {REPLICAS} replicas on one PostgreSQL")
        print(f"traffic: {' / '.join(f'{rate:.0f}' for rate in rates)} requests/s per replica (one keep-alive connection each), "
              f"errors {sum(traffic.errors)}")
        print(f"UPDATE acknowledged by psql after p50={percentile(ack_times, 0.5) * 1000:.1f} ms "
              f"(latencies below are measured from the moment the UPDATE was written)")
        print("revocation -> first dropped over-granted event:")
        for index in range(REPLICAS):
            print("  " + summary(f"replica {index}", revocations[index]))
        print("  " + summary("overall", [v for values in revocations for v in values]))
        print("re-grant -> first forwarded event (informational):")
        print("  " + summary("overall", [v for values in regrants for v in values]))
        print(f"not enforced within {args.timeout:.0f} s: {failures}; over-granted events forwarded after a replica had dropped one: {flaps}")
        overall = [v for values in revocations for v in values]
        ok = failures == 0 and flaps == 0 and overall and percentile(overall, 0.99) < 1.0
        print("target p99 < 1 s: " + ("met" if ok else "NOT met"))
        return 0 if ok else 1
    finally:
        if traffic:
            traffic.stop()
        if psql:
            psql.close()
        for replica in replicas:
            replica.stop()
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
