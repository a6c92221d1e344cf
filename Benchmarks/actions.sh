#!/usr/bin/env bash
# Throughput and latency of running intercom.get_contact through Switchboard, against two baselines measured
# in the same run: the same Intercom call sent to the sandbox directly, and through an nginx reverse proxy
# that adds the bearer token (the least any proxy holding the token must do); and the floor of our own stack: the
# same proxy written with Hummingbird and AsyncHTTPClient and nothing else (Benchmarks/StackFloor).
# Usage: Benchmarks/actions.sh [SECONDS]   (release build; each run lasts SECONDS, default 10; BENCH_ROUNDS=3 rounds;
#        BENCH_DIAGNOSE=1 adds serve's /health and an admin read, and prints serve's pid for perf)
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # The package starts a system nginx on port 80; the benchmark runs its own.
  (service nginx stop || true) >/dev/null 2>&1
fi
swift build -c release --product switchboard >&2
swift build -c release --product stack-floor-proxy >&2
bin="$(swift build -c release --show-bin-path)"
exec python3 Benchmarks/actions.py "$bin/switchboard" "${1:-10}" "$bin/stack-floor-proxy"
