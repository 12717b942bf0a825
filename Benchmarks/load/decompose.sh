#!/usr/bin/env bash
# Where a batch's CPU goes, stage by stage, in the real server:
#
#   Benchmarks/load/decompose.sh WORK_DIR [ROUNDS=3] [SECONDS=8] [CONNECTIONS=32]
#
# WORK_DIR is a work directory kept by `KEEP=1 Benchmarks/load/run.sh`. The script checks the current
# commit out into a git worktree (`.build-decompose/tree`, made afresh each time), applies
# `decompose.patch` there (never to this tree: the patch lets a build stop before enforcement, which no
# real build may do), builds it in release (scratch `.build-decompose/build`: a cold build of every
# dependency the first time, about 10 minutes here; later runs rebuild only our modules) and then
# measures it with cpu.sh once per stage per round, the stages in turn, through
# CONSENTGATE_DECOMPOSE:
#   floor    Hummingbird answers every request at once (the body is drained, not read)
#   ingress  our responder reads the body under its cap and deadline and answers 200
#   proxy    ... and forwards the body untouched to the sink (the server as a plain proxy)
#   inflate  ... after inflating it
#   scan     ... after inflating and scanning it
#   full     the real request path: inflate, scan, look up, decide, forward
# After each round's stages, yardstick.sh measures nginx (pooled, and with proxy_pass's defaults) for
# the same SECONDS. The difference between two stages is what the later one adds. CONSENTGATE_BIN=path measures a
# binary built from the patch already (its stages must match).
set -euo pipefail
work="${1:?usage: decompose.sh WORK_DIR [ROUNDS] [SECONDS] [CONNECTIONS]}"
rounds="${2:-3}"
seconds="${3:-8}"
connections="${4:-32}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stages=(floor ingress proxy inflate scan full)

bin="${CONSENTGATE_BIN:-}"
if [[ -z "$bin" ]]; then
  # The same paths every time, so that the scratch directory's dependencies are built once.
  tree="$root/.build-decompose/tree"
  scratch="$root/.build-decompose/build"
  remove_tree() { git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"; git -C "$root" worktree prune; }
  remove_tree  # a tree an interrupted run left behind
  trap remove_tree EXIT
  git -C "$root" worktree add --detach "$tree" HEAD >/dev/null
  git -C "$tree" apply "$here/decompose.patch"
  echo "building the decomposition build (release, scratch $scratch)..." >&2
  swift build -c release --product consentgate --package-path "$tree" --scratch-path "$scratch" >&2
  bin="$scratch/release/consentgate"
fi

printf '%-8s %s\n' stage "cpu.sh: batches/s, CPU per batch, ..."
for round in $(seq 1 "$rounds"); do
  for stage in "${stages[@]}"; do
    printf '%-8s ' "$stage"
    CONSENTGATE_DECOMPOSE="$stage" "$here/cpu.sh" "$work" "$bin" "$seconds" "$connections"
  done
  "$here/yardstick.sh" "$work" 1 "$seconds" "$connections"
done
