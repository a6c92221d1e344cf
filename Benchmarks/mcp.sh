#!/usr/bin/env bash
# The same intercom.get_contact as a REST action and as an MCP tool call over HTTP, in one run: requests/s,
# p50/p99 and serve's CPU per call for each, and the ratio (target: MCP <= 1.3x REST's CPU).
# Usage: Benchmarks/mcp.sh [SECONDS]   (release build; each run lasts SECONDS, default 10; BENCH_ROUNDS=3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
swift build -c release --product switchboard >&2
bin="$(swift build -c release --show-bin-path)"
exec python3 Benchmarks/mcp.py "$bin/switchboard" "${1:-10}"
