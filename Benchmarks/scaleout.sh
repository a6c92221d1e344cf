#!/usr/bin/env bash
# Several Switchboard instances on one PostgreSQL behind nginx, against a standards-following OAuth 2.0 provider
# (Authlib: PKCE, 3-second access tokens, rotating refresh tokens that revoke the old pair): the guide's flow across
# instances, refresh bursts, kill -9 of an instance mid-burst. See Benchmarks/scaleout/harness.py.
# Usage: Benchmarks/scaleout.sh [--instances N] [--burst CALLS] [--bursts N] [--lifetime SECONDS]
#   POSTGRES_URL (default $SWITCHBOARD_TEST_POSTGRES_URL): a role that may create databases; each run makes its own.
#   Needs nginx (Debian nginx-light) and .build/test-venv with Tests/Tools/requirements.txt (.ci/run installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
url="${POSTGRES_URL:-${SWITCHBOARD_TEST_POSTGRES_URL:-}}"
[ -n "$url" ] || { echo "scaleout: set POSTGRES_URL (or SWITCHBOARD_TEST_POSTGRES_URL) to a role that may create databases" >&2; exit 2; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "scaleout: needs nginx (apt-get install nginx-light)" >&2; exit 2; }
python=.build/test-venv/bin/python3
[ -x "$python" ] || { echo "scaleout: needs .build/test-venv (python3 -m venv .build/test-venv && .build/test-venv/bin/pip install -r Tests/Tools/requirements.txt)" >&2; exit 2; }
swift build -c release --product switchboard >&2
bin="$(swift build -c release --show-bin-path)"
exec "$python" Benchmarks/scaleout/harness.py "$bin/switchboard" "$url" --python "$python" "$@"
