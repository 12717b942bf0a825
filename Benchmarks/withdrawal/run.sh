#!/usr/bin/env bash
# Withdrawal latency of BENCHMARKS.md, in one command:
#
#   Benchmarks/withdrawal/run.sh
#
# Builds consentgate in release mode, starts a throw-away PostgreSQL (scripts/postgres.sh), a plain-HTTP
# sink on loopback that plays Segment, and three `consentgate serve` replicas with `store.kind: postgres`
# on that one database. Each replica gets continuous traffic for one subject: batches with an event whose
# stamp grants Advertising. Then, REVOCATIONS times, Advertising is revoked by a plain SQL `UPDATE`
# (psql, behind consentgate's back) and the driver measures, per replica, how long until that replica
# stops forwarding the over-granted event; then consent is granted again the same way. It prints p50,
# p99 and max per replica and overall. Everything it starts it stops when it ends; every loop is bounded.
#
# Settings (environment): REVOCATIONS=60  SCRATCH=.build (swift build --scratch-path)
#   TIMEOUT_SECONDS=10 (a revocation not enforced within this counts as failed)  KEEP=1 (keep the work dir)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
REVOCATIONS="${REVOCATIONS:-60}"
SCRATCH="${SCRATCH:-$root/.build}"
TIMEOUT_SECONDS="${TIMEOUT_SECONDS:-10}"

log() { printf '[withdrawal %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v psql >/dev/null || { log "psql is missing: apt-get install -y postgresql"; exit 1; }
command -v python3 >/dev/null || { log "python3 is missing"; exit 1; }

log "building consentgate (release, scratch path $SCRATCH)"
(cd "$root" && swift build -c release --scratch-path "$SCRATCH" --product consentgate >&2)
binary="$SCRATCH/release/consentgate"
[[ -x "$binary" ]] || { log "no binary at $binary"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/consentgate-withdrawal.XXXXXX")"
postgres_dir=""
cleanup() {
  [[ -n "$postgres_dir" ]] && bash "$root/scripts/postgres.sh" stop "$postgres_dir" || true
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log "starting PostgreSQL"
postgres_dir="$(bash "$root/scripts/postgres.sh" start)"
# shellcheck disable=SC1091
source "$postgres_dir/env"

python3 "$here/driver.py" \
  --binary "$binary" \
  --postgres-url "$CONSENTGATE_TEST_POSTGRES_URL" \
  --work "$work" \
  --revocations "$REVOCATIONS" \
  --timeout "$TIMEOUT_SECONDS"
