#!/usr/bin/env python3
"""Puts every subject of the load benchmark into consentgate's cache: one event per subject, in
batches of 100, each stamped with the subject's seeded truth (so each is looked up and forwarded).

  warm.py URL SUBJECTS [--threads T] [--first F]

Exits non-zero if any batch is not answered 200. Bounded: SUBJECTS / 100 requests, one pass.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, __import__("os").path.dirname(__file__))
from gen import subject, truth  # noqa: E402


def body(first: int, last: int) -> bytes:
    events = [{"type": "track", "event": "Warm", "userId": subject(i),
               "context": {"consent": {"categoryPreferences": truth(i)}}} for i in range(first, last)]
    return json.dumps({"batch": events, "writeKey": "bench-write-key"}, separators=(",", ":")).encode()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("subjects", type=int)
    p.add_argument("--threads", type=int, default=3)
    p.add_argument("--first", type=int, default=0)
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    starts = list(range(a.first, a.first + a.subjects, 100))
    failures = []
    lock = threading.Lock()
    done = [0]

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for start in starts[k::a.threads]:
            conn.request("POST", "/v1/batch", body(start, min(start + 100, a.first + a.subjects)),
                         {"Content-Type": "application/json", "Authorization": "Basic YmVuY2gtd3JpdGUta2V5Og=="})
            r = conn.getresponse()
            r.read()
            with lock:
                done[0] += 1
                if r.status != 200:
                    failures.append(r.status)
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    print(f"warm: {a.subjects} subjects in {done[0]} batches, {elapsed:.1f} s, {len(failures)} not 200", file=sys.stderr)
    if failures:
        print(f"warm: statuses {sorted(set(failures))}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
