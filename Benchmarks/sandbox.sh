#!/usr/bin/env bash
# Requests per second of the sandbox's GET /contacts/{id} and POST /contacts/search over 10,000 contacts,
# against a baseline measured in the same run (GET /health on the same server), with wrk on loopback.
# Usage: Benchmarks/sandbox.sh [SECONDS]   (release build; each endpoint runs SECONDS, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "installing wrk (Debian)" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product switchboard >&2
exec python3 Benchmarks/sandbox.py "$(swift build -c release --show-bin-path)/switchboard" "${1:-10}"
