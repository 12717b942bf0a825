#!/usr/bin/env bash
# The test command (README): installs what the tests need and is missing, then builds and runs every
# test of the package.
#
# What the tests need beyond Swift (Debian package names):
#   zlib1g-dev, pkg-config   zlib's headers, the one C library the package builds against
#   libdeflate0              libdeflate's shared library, so that the tests run both inflaters
#                            (the gateway works without it: zlib does the same work)
#   openssl                  test certificates
#   postgresql               a throw-away server for the PostgreSQL store's tests (scripts/postgres.sh)
#   chromium                 the debugger page's browser test
#   prometheus               promtool, which checks and unit-tests deploy/prometheus/alerts.yaml
#   python3 + pip            the real segment-analytics-python SDK (PyPI, pinned below)
# Missing Debian packages are installed with apt-get when running as root; when one cannot be installed
# the script stops with one line naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "scripts/test.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

debian_packages=(zlib1g-dev pkg-config libdeflate0 openssl postgresql chromium prometheus)
command -v python3 >/dev/null 2>&1 || debian_packages+=(python3)
python3 -m pip --version >/dev/null 2>&1 || debian_packages+=(python3-pip)
missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "cannot install ${missing[0]}: no apt-get on this machine (install ${missing[*]} by hand)"
  [ "$(id -u)" -eq 0 ] || fail "cannot install ${missing[0]}: not root (run as root, or apt-get install ${missing[*]})"
  say "installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || fail "cannot install ${missing[0]}: apt-get update failed"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    # Name the package that cannot be installed.
    for package in "${missing[@]}"; do
      apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 || fail "cannot install $package with apt-get"
    done
  fi
fi
command -v promtool >/dev/null 2>&1 || fail "cannot find promtool: the prometheus package does not provide it here"

sdk="segment-analytics-python==2.4.0"
if ! python3 -c "import segment.analytics" 2>/dev/null; then
  say "installing with pip: $sdk"
  # Debian's own python3 refuses pip installs outside a virtual environment (PEP 668): allow it for the test SDK.
  python3 -m pip install --quiet --disable-pip-version-check "$sdk" >/dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$sdk" >/dev/null \
    || fail "cannot install $sdk with pip"
fi

# A throw-away PostgreSQL for the PostgreSQL store's tests (they fail, not skip, without it).
postgres_dir=$(bash scripts/postgres.sh start)
trap 'bash scripts/postgres.sh stop "$postgres_dir"' EXIT
# shellcheck disable=SC1091
source "$postgres_dir/env"

swift test
