#!/usr/bin/env python3
"""Makes the load benchmark's data (Python standard library only, deterministic).

  gen.py OUT_DIR [--subjects N] [--batches B] [--zipf-batches Z] [--events E]

Writes into OUT_DIR:
  seed.jsonl        one line per subject for `consentgate consent import`: its true consent
  uniform/NNNN.gz   B batches of E realistic events (track/identify/page, ~740 bytes each, with
                    context, properties or traits, and a consent stamp), gzip; subjects uniform over N
  zipf/NNNN.gz      Z batches like those, subjects drawn Zipf(s = 1.1) over N
  few/0000.gz       one batch of E events of subjects 0..9 only (warm-up before the memory measurement)
  batch.json        the first uniform batch, uncompressed (for the micro-benchmarks and a look)
  meta.txt          sizes, for the report

Every event's stamp equals its subject's seeded truth, so every event is checked and forwarded
unchanged. Subject i's id is a UUID-shaped 36-character string derived from i (long enough that
a Swift String keeps it on the heap: the realistic case for the cache's memory). The warming
traffic (every subject once) is made on the fly by warm.py.
"""
import argparse
import bisect
import gzip
import json
import os
import random
import sys

CATEGORIES = ["Advertising", "Analytics", "DataSharing", "Functional"]
# A handful of distinct consent choices, as consent banners produce.
PATTERNS = [
    {"Advertising": True, "Analytics": True, "DataSharing": True, "Functional": True},
    {"Advertising": False, "Analytics": True, "DataSharing": False, "Functional": True},
    {"Advertising": False, "Analytics": False, "DataSharing": False, "Functional": True},
    {"Advertising": True, "Analytics": True, "DataSharing": False, "Functional": True},
    {"Advertising": False, "Analytics": True, "DataSharing": False, "Functional": False},
]


def subject(i: int) -> str:
    """The id of subject i (0-based): UUID-shaped, unique, stable."""
    x = (i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & ((1 << 64) - 1)
    y = (i * 0xC2B2AE3D27D4EB4F + 0x165667B19E3779F9) & ((1 << 64) - 1)
    h = f"{x:016x}{y:016x}"
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def truth(i: int) -> dict:
    return PATTERNS[(i * 7 + i // 13) % len(PATTERNS)]


def seed_line(i: int) -> str:
    return json.dumps({"subject": subject(i), "categoryPreferences": truth(i)}, separators=(",", ":"))


PAGES = [
    ("/", "Acme - Home"), ("/pricing", "Pricing - Acme"), ("/docs/getting-started", "Getting started - Acme Docs"),
    ("/blog/2026/consent-by-design", "Consent by design - Acme Blog"), ("/checkout/cart", "Your cart - Acme"),
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]
EVENTS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Signed Up", "Video Played"]


def uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def event(rng: random.Random, i: int, kind: str, t: int) -> dict:
    path, title = PAGES[rng.randrange(len(PAGES))]
    context = {
        "library": {"name": "analytics.js", "version": "1.74.0"},
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "locale": "en-US",
        "userAgent": AGENTS[rng.randrange(len(AGENTS))],
        "page": {"path": path, "title": title,
                 "url": "https://acme.example" + path},
        "consent": {"categoryPreferences": truth(i)},
    }
    e = {
        "type": kind,
        "messageId": uuid4(rng),
        "timestamp": f"2026-11-29T10:{(t // 60) % 60:02d}:{t % 60:02d}.{rng.randrange(1000):03d}Z",
        "userId": subject(i),
        "anonymousId": uuid4(rng),
        "context": context,
    }
    if kind == "track":
        e["event"] = EVENTS[rng.randrange(len(EVENTS))]
        e["properties"] = {"sku": f"sku-{rng.randrange(1000):03d}", "price": rng.randrange(5, 500),
                           "currency": "USD", "quantity": rng.randrange(1, 4)}
    elif kind == "identify":
        e["traits"] = {"plan": rng.choice(["free", "pro", "team"]), "createdAt": "2025-03-14T09:26:53Z",
                       "country": "DE"}
    else:
        e["name"] = title
        e["properties"] = {"path": path, "title": title}
    return e


KINDS = ["track"] * 6 + ["identify"] * 2 + ["page"] * 2


def batch(rng: random.Random, subjects: list) -> bytes:
    events = [event(rng, i, KINDS[n % len(KINDS)], n) for n, i in enumerate(subjects)]
    body = {"batch": events, "sentAt": "2026-11-29T10:00:00.000Z", "writeKey": "bench-write-key"}
    return json.dumps(body, separators=(",", ":")).encode()


class Zipf:
    """Draws ranks 1..n with P(k) ∝ k^-s by inverting the cumulative distribution."""

    def __init__(self, n: int, s: float):
        total = 0.0
        self.cdf = []
        for k in range(1, n + 1):
            total += k ** -s
            self.cdf.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> int:
        return bisect.bisect_left(self.cdf, rng.random() * self.total)  # 0-based rank


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--subjects", type=int, default=1_000_000)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--zipf-batches", type=int, default=200)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--zipf-s", type=float, default=1.1)
    a = p.parse_args()
    os.makedirs(os.path.join(a.out, "uniform"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "zipf"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "few"), exist_ok=True)

    with open(os.path.join(a.out, "seed.jsonl"), "w") as f:
        for start in range(0, a.subjects, 10_000):
            f.write("\n".join(seed_line(i) for i in range(start, min(start + 10_000, a.subjects))))
            f.write("\n")

    rng = random.Random(20261129)
    raw_sizes, gz_sizes = [], []
    for b in range(a.batches):
        body = batch(rng, [rng.randrange(a.subjects) for _ in range(a.events)])
        if b == 0:
            with open(os.path.join(a.out, "batch.json"), "wb") as f:
                f.write(body)
        gz = gzip.compress(body, compresslevel=6, mtime=0)
        raw_sizes.append(len(body))
        gz_sizes.append(len(gz))
        with open(os.path.join(a.out, "uniform", f"{b:04d}.gz"), "wb") as f:
            f.write(gz)

    # Warm-up traffic that caches only 10 subjects (before the memory measurement).
    with open(os.path.join(a.out, "few", "0000.gz"), "wb") as f:
        f.write(gzip.compress(batch(random.Random(1), [n % 10 for n in range(a.events)]), compresslevel=6, mtime=0))

    zipf = Zipf(a.subjects, a.zipf_s)
    # A random permutation of ranks over subjects, so that the popular subjects are not simply 0, 1, 2...
    perm_rng = random.Random(7)
    popular = {}
    for b in range(a.zipf_batches):
        ids = []
        for _ in range(a.events):
            rank = zipf.draw(rng)
            if rank not in popular:
                popular[rank] = perm_rng.randrange(a.subjects)
            ids.append(popular[rank])
        gz = gzip.compress(batch(rng, ids), compresslevel=6, mtime=0)
        with open(os.path.join(a.out, "zipf", f"{b:04d}.gz"), "wb") as f:
            f.write(gz)

    n = len(raw_sizes)
    with open(os.path.join(a.out, "meta.txt"), "w") as f:
        f.write(f"subjects={a.subjects}\nevents_per_batch={a.events}\n")
        f.write(f"batch_json_bytes_avg={sum(raw_sizes) // n}\nbatch_gzip_bytes_avg={sum(gz_sizes) // n}\n")
        f.write(f"event_bytes_avg={sum(raw_sizes) // n // a.events}\n")
    print(f"gen: {a.subjects} subjects, {a.batches}+{a.zipf_batches} batches, "
          f"{sum(raw_sizes) // n} B JSON / {sum(gz_sizes) // n} B gzip per batch "
          f"(~{sum(raw_sizes) // n // a.events} B per event)", file=sys.stderr)


if __name__ == "__main__":
    main()
