#!/usr/bin/env python3
"""Makes variants of the load benchmark's uniform batches for the client-address benchmark
(BENCHMARKS.md, "Browser traffic: filling context.ip"). Python standard library only, deterministic.

  variants.py DATA_DIR

Reads DATA_DIR/uniform/*.gz (gen.py's analytics.js-shaped events, each with its own context.ip) and writes:
  DATA_DIR/browser/NNNN.gz  the same events without context.ip: analytics.js events as a page sends
                            them, which `ingress.client_ip.fill: client_libraries` fills (re-encoded)
  DATA_DIR/server/NNNN.gz   the same events without context.ip, library analytics-python: what a server
                            SDK sends, forwarded unchanged (the zero-copy path), same sizes within bytes
  DATA_DIR/browser-plain/NNNN.json, DATA_DIR/server-plain/NNNN.json
                            the same two uncompressed, as analytics.js posts them (batch.lua sends a
                            directory of .json files without Content-Encoding)
"""
import gzip
import json
import os
import sys


def main() -> None:
    data = sys.argv[1]
    names = sorted(os.listdir(os.path.join(data, "uniform")))
    for variant in ("browser", "server", "browser-plain", "server-plain"):
        os.makedirs(os.path.join(data, variant), exist_ok=True)
    for name in names:
        with gzip.open(os.path.join(data, "uniform", name)) as f:
            batch = json.load(f)
        for variant in ("browser", "server"):
            events = []
            for event in batch["batch"]:
                event = json.loads(json.dumps(event))
                context = event.get("context", {})
                context.pop("ip", None)
                if variant == "server":
                    context["library"] = {"name": "analytics-python", "version": "2.3.4"}
                events.append(event)
            body = dict(batch, batch=events)
            raw = json.dumps(body, separators=(",", ":")).encode()
            with open(os.path.join(data, variant, name), "wb") as f:
                f.write(gzip.compress(raw, compresslevel=6, mtime=0))
            with open(os.path.join(data, variant + "-plain", name[: -len(".gz")] + ".json"), "wb") as f:
                f.write(raw)
    print(f"{len(names)} batches each in {data}/browser, server, browser-plain and server-plain")


if __name__ == "__main__":
    main()
