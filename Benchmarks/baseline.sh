#!/usr/bin/env bash
# Builds `switchboard` (debug) from a git revision in a worktree of its own, with a build folder kept between runs
# (.build-baseline, ignored by git), and prints the binary's path: the baseline a benchmark measures beside the
# work tree's build in the same run.
# Usage: Benchmarks/baseline.sh REVISION
set -euo pipefail
cd "$(dirname "$0")/.."
revision=$(git rev-parse --verify "${1:?a git revision}^{commit}")
work=$(mktemp -d)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/tree" "$revision" >/dev/null 2>&1
root=$PWD
(cd "$work/tree" && swift build --product switchboard --scratch-path "$root/.build-baseline" >&2)
mkdir -p .build-baseline/bin
cp .build-baseline/debug/switchboard ".build-baseline/bin/switchboard-${revision:0:12}"
echo "$root/.build-baseline/bin/switchboard-${revision:0:12}"
