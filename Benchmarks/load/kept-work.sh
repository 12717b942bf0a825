# Sourced by cpu.sh and yardstick.sh, which measure in a work directory kept by
# `KEEP=1 Benchmarks/load/run.sh`: `kept_work WORK_DIR SCRIPT` sets `data` to the directory of that run's
# batches and takes the work directory's lock (one measurement at a time), or exits with a message.
kept_work() {
  data="$(sed -n 's/^data=//p' "$1/data-dir" 2>/dev/null || true)"
  if [[ ! -d "$data/uniform" ]]; then
    echo "$2: no data directory recorded in $1/data-dir (keep one from: KEEP=1 Benchmarks/load/run.sh)" >&2
    exit 1
  fi
  exec 9>"$1/cpu.lock"
  flock 9
}
