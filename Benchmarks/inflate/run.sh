#!/usr/bin/env bash
# Inflate and re-gzip of a 100-event batch (~87 KB JSON, ~9.6 KB gzip) on both libraries, libdeflate
# (loaded at run time) and zlib: SegmentWire's sources and main.swift compiled together with -O, so it
# needs only swiftc and zlib's headers (no package build). Prints p0/p50/p90 per round.
#   Benchmarks/inflate/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
swiftc -O -wmo -package-name consentgate -module-name SegmentWire -I Sources/CZlib \
  Sources/SegmentWire/*.swift Benchmarks/inflate/main.swift -lz -o "$out/inflatebench"
"$out/inflatebench" "${1:-5}"
