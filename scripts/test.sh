#!/usr/bin/env bash
# The test command (README): builds and runs every test of the package.
# It needs python3 with the real segment-analytics-python SDK (installed here when missing),
# openssl (test certificates) and zlib's headers; .ci/run installs the system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import segment.analytics" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check segment-analytics-python==2.4.0
fi

swift test
