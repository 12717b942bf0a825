#!/usr/bin/env python3
"""What a group commit costs on this disk: COUNT commits of SIZE bytes, each a pwrite then an fdatasync,
either appending to a new file (MODE append: each commit grows the file, so fdatasync also journals its
size and block map) or overwriting a file written beforehand (MODE overwrite: what a recycled spool segment
gets). Prints commits/s, CPU per commit and fdatasync latency percentiles.

Usage: Benchmarks/load/fsync.py PATH COUNT SIZE append|overwrite   (PATH is created and removed)
"""
import os
import sys
import time


def main() -> int:
    path, count, size, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if mode == "overwrite":
            zeros = bytes(1 << 20)
            for offset in range(0, count * size, len(zeros)):
                os.pwrite(fd, zeros, offset)
            os.fsync(fd)
        elif mode != "append":
            print(f"unknown mode {mode}", file=sys.stderr)
            return 2
        record = os.urandom(size)
        latencies = []
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(count):
            os.pwrite(fd, record, n * size)
            started = time.perf_counter()
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - started)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        os.close(fd)
        os.unlink(path)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1e3
    print(f"{mode}: {count} commits of {size} B: {count / wall:.0f}/s, {cpu / count * 1e6:.0f} us CPU per commit, "
          f"fdatasync p50 {p(0.5):.3f} ms p90 {p(0.9):.3f} ms p99 {p(0.99):.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
