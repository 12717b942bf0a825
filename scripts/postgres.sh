#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and benchmarks: loopback only, a free port, trust auth,
# everything in one temporary directory that `stop` removes.
#
#   scripts/postgres.sh start [DIR]   create and start a cluster in DIR (default: a new temp dir);
#                                     prints DIR, and writes DIR/env to be sourced:
#                                       CONSENTGATE_TEST_POSTGRES_URL   postgres://postgres@127.0.0.1:PORT/postgres
#                                       CONSENTGATE_TEST_POSTGRES_DIR   DIR
#                                       CONSENTGATE_TEST_POSTGRES_PORT  PORT
#   scripts/postgres.sh pause DIR     stop the server (fast shutdown: clients are disconnected), keep the data
#   scripts/postgres.sh resume DIR    start it again on the same port
#   scripts/postgres.sh stop DIR      stop the server and remove DIR
#
# Needs Debian's PostgreSQL server (`apt-get install postgresql`; scripts/test.sh installs it). initdb refuses
# to run as root, so as root the cluster belongs to the `postgres` user the package creates.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] \
    || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: apt-get install -y postgresql"
  echo "$dir"
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install -y postgresql creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

server_start() {
  local dir=$1 bin port
  bin=$(bin_dir)
  port=$(cat "$dir/port")
  # fsync off: a throw-away cluster need not survive a power cut, and tests run faster.
  # The server must not inherit the caller's descriptors beyond 0-2: a caller (a test process) waiting
  # for the end of one of its pipes would wait as long as the server runs. Closed in a subshell.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start </dev/null >/dev/null
  ) || { cat "$dir/postgres.log" >&2 || true; echo "postgres.sh: the server did not start" >&2; return 1; }
}

server_stop() {
  local dir=$1 bin
  bin=$(bin_dir)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
  fi
}

command=${1:-}
case "$command" in
  start)
    dir=${2:-$(mktemp -d "${TMPDIR:-/tmp}/consentgate-postgres.XXXXXX")}
    mkdir -p "$dir"
    bin=$(bin_dir)
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # A free port can be taken by someone else between our probe and the server's bind: try a few.
    for attempt in 1 2 3 4 5; do
      free_port >"$dir/port"
      if server_start "$dir" 2>"$dir/start-error.log"; then break; fi
      grep -q "Address already in use" "$dir/postgres.log" && [ "$attempt" -lt 5 ] || { cat "$dir/start-error.log" >&2; exit 1; }
      : >"$dir/postgres.log"
    done
    port=$(cat "$dir/port")
    cat >"$dir/env" <<EOF
export CONSENTGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres
export CONSENTGATE_TEST_POSTGRES_DIR=$dir
export CONSENTGATE_TEST_POSTGRES_PORT=$port
EOF
    echo "$dir"
    ;;
  pause)
    [ -d "${2:-}" ] || die "usage: postgres.sh pause DIR"
    server_stop "$2"
    ;;
  resume)
    [ -d "${2:-}" ] || die "usage: postgres.sh resume DIR"
    server_start "$2"
    ;;
  stop)
    [ -d "${2:-}" ] || die "usage: postgres.sh stop DIR"
    server_stop "$2"
    rm -rf "$2"
    ;;
  *)
    die "usage: postgres.sh start [DIR] | pause DIR | resume DIR | stop DIR"
    ;;
esac
