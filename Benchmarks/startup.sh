#!/usr/bin/env bash
# Start-up time and idle memory of `switchboard serve` on an empty SQLite file, against a baseline measured
# in the same run: `switchboard sandbox`, a bare Hummingbird server from the same binary (no database).
# Usage: Benchmarks/startup.sh [RUNS]   (release build; RUNS defaults to 15)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product switchboard >&2
exec python3 Benchmarks/startup.py "$(swift build -c release --show-bin-path)/switchboard" "${1:-15}"
