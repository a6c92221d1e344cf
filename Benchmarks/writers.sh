#!/usr/bin/env bash
# Concurrent writers on `switchboard serve` (SQLite) while two CPU hogs run, against a baseline measured in the same
# run: `switchboard` built from BASELINE (a git revision; default: before SQLite's writes queued for one writer) and
# the one built from the work tree.
# Usage: Benchmarks/writers.sh [SECONDS] [CLIENTS] [BASELINE]   (debug builds; defaults 20 s, 16 clients)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}; clients=${2:-16}
baseline=${3:-$(git log --format=%H --grep='SQLite writes queue for one writer' -n 1)^}
before=$(Benchmarks/baseline.sh "$baseline")
swift build --product switchboard >&2
python3 Benchmarks/writers.py "$seconds" "$clients" "baseline=$before" "current=$(swift build --show-bin-path)/switchboard"
