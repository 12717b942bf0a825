#!/usr/bin/env bash
# The test command (README): builds and runs every test of the package.
# It needs python3 with the real segment-analytics-python SDK (installed here when missing),
# openssl (test certificates), zlib's headers and PostgreSQL's server (Debian's `postgresql`);
# .ci/run installs the system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import segment.analytics" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check segment-analytics-python==2.4.0
fi

# A throw-away PostgreSQL for the PostgreSQL store's tests (they fail, not skip, without it).
postgres_dir=$(bash scripts/postgres.sh start)
trap 'bash scripts/postgres.sh stop "$postgres_dir"' EXIT
# shellcheck disable=SC1091
source "$postgres_dir/env"

swift test
