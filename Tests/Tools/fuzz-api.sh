#!/usr/bin/env bash
# Fuzzes the admin API against its own description: schemathesis (pinned, in .build/test-venv) runs every check on a
# running `switchboard serve` (SQLite, the system app in the Intercom sandbox, no private-network allowance), with a
# fixed seed and its stateful phase, and fails on any failure. Needs a built `switchboard` (swift build) and the venv
# (.ci/run makes it).
#
#   Tests/Tools/fuzz-api.sh [--max-examples N] [--seed S]      environment: SWITCHBOARD_BIN, FUZZ_PORT
set -euo pipefail
cd "$(dirname "$0")/../.."

examples=40
seed=20261206
while [ $# -gt 0 ]; do
    case "$1" in
        --max-examples) examples="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        *) echo "fuzz-api: unknown argument $1" >&2; exit 2 ;;
    esac
done

bin="${SWITCHBOARD_BIN:-.build/debug/switchboard}"
schemathesis=.build/test-venv/bin/schemathesis
[ -x "$bin" ] || { echo "fuzz-api: $bin is missing: run 'swift build' first" >&2; exit 2; }
[ -x "$schemathesis" ] || { echo "fuzz-api: $schemathesis is missing: .ci/run installs Tests/Tools/requirements.txt into .build/test-venv" >&2; exit 2; }

port="${FUZZ_PORT:-18580}"
sandbox_port=$((port + 1))
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

master_key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
database="sqlite:$work/switchboard.sqlite"
client_id="fuzz-app"
client_secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
base="http://127.0.0.1:$port"
sandbox="http://127.0.0.1:$sandbox_port"

"$bin" sandbox run --port "$sandbox_port" --app "$client_id:$client_secret:$base/oauth/callback" >"$work/sandbox.log" 2>&1 &
pids+=($!)
"$bin" migrate --database-url "$database" --master-key "$master_key" >/dev/null
api_key=$("$bin" keys create --database-url "$database" --master-key "$master_key" --workspace Fuzz --name schemathesis | grep -o 'sbk_[A-Za-z0-9_-]*' | head -n 1)
[ -n "$api_key" ] || { echo "fuzz-api: keys create printed no key" >&2; exit 1; }
"$bin" serve --database-url "$database" --master-key "$master_key" --port "$port" --public-url "$base" \
    --intercom-client-id "$client_id" --intercom-client-secret "$client_secret" \
    --intercom-authorize-url "$sandbox/oauth" --intercom-token-url "$sandbox/auth/eagle/token" \
    --intercom-api-us "$sandbox" --intercom-api-eu "$sandbox" --intercom-api-au "$sandbox" \
    --log-level warning >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fs "$base/health" >/dev/null 2>&1 && curl -fs "$sandbox/health" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fs "$base/health" >/dev/null || { echo "fuzz-api: serve did not start"; cat "$work/serve.log"; exit 1; }

echo "fuzz-api: schemathesis $("$schemathesis" --version | awk '{print $NF}') against $base (seed $seed, up to $examples cases an operation, every check, stateful phase included)"
status=0
"$schemathesis" run "$base/openapi.yaml" \
    --checks all --seed "$seed" --max-examples "$examples" --phases examples,coverage,fuzzing,stateful \
    --header "Authorization: Bearer $api_key" --workers 2 --request-timeout 30 \
    --report junit --report-dir "$work/report" --no-color 2>&1 | tee "$work/schemathesis.out" || status=$?

if grep -qiE "internal_error|unhandled error" "$work/serve.log"; then
    echo "fuzz-api: serve logged an unhandled error:"; grep -iE "internal_error|unhandled error" "$work/serve.log" | head -20
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "fuzz-api: FAILED (schemathesis exit $status); serve's log:"
    tail -n 40 "$work/serve.log"
fi
exit "$status"
