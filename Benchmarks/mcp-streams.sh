#!/usr/bin/env bash
# Database statements a second while 10 GET /mcp streams sit open on one session (Benchmarks/mcp_streams.py), for the
# `switchboard` built from BASELINE (a git revision; default: before the tenant bounds) and the work tree's, in one run.
# Usage: Benchmarks/mcp-streams.sh [SECONDS] [BASELINE]   (debug builds; default 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=${2:-$(git log --format=%H --grep='No tenant, token or link holder' -n 1)^}
before=$(Benchmarks/baseline.sh "$baseline")
swift build --product switchboard >&2
python3 Benchmarks/mcp_streams.py "${1:-10}" 10 50 10 "baseline=$before" "current=$(swift build --show-bin-path)/switchboard"
