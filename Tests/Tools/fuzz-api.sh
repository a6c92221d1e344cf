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
SWITCHBOARD_INTERCOM_CLIENT_SECRET="$client_secret" "$bin" serve --database-url "$database" --master-key "$master_key" --port "$port" --public-url "$base" \
    --intercom-client-id "$client_id" \
    --intercom-authorize-url "$sandbox/oauth" --intercom-token-url "$sandbox/auth/eagle/token" \
    --intercom-api-us "$sandbox" --intercom-api-eu "$sandbox" --intercom-api-au "$sandbox" \
    --log-level warning >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fs "$base/health" >/dev/null 2>&1 && curl -fs "$sandbox/health" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fs "$base/health" >/dev/null || { echo "fuzz-api: serve did not start"; cat "$work/serve.log"; exit 1; }

# An agent token, so that /mcp is fuzzed past its authentication: a per-user integration, enabled, and a server-side
# agent's token for it (no userId).
integration=$(curl -fs -X POST "$base/v1/integrations" -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
    -d '{"name":"MCP target","app":"system","authorization":"per_user"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
curl -fs -X POST "$base/v1/integrations/$integration/enable" -H "Authorization: Bearer $api_key" >/dev/null
agent_token=$(curl -fs -X POST "$base/v1/integrations/$integration/agent-tokens" -H "Authorization: Bearer $api_key" \
    -H 'Content-Type: application/json' -d '{"name":"schemathesis"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# A live MCP session and an end user's connect link, so those operations are reached with a value Switchboard issued.
session=$(curl -fs -D - -o /dev/null -X POST "$base/mcp" -H "Authorization: Bearer $agent_token" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}' \
    | tr -d '\r' | awk 'tolower($1) == "mcp-session-id:" {print $2}')
connect_token=$(curl -s -X POST "$base/v1/integrations/$integration/actions/intercom.who_am_i" -H "Authorization: Bearer $api_key" \
    -H 'Content-Type: application/json' -d '{"user":{"id":"fuzz-user"}}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["authorizationURL"].rsplit("/", 1)[1])')
[ -n "$session" ] && [ -n "$connect_token" ] || { echo "fuzz-api: could not open an MCP session or make a connect link" >&2; exit 1; }

# The browser pages (OAuth callback, start page, connect links) are valid only for a state or token Switchboard issued
# moments before, which no description can express: a well-formed unknown one is rightly refused (400, 410). Every
# other check runs on them. /mcp takes the agent token instead of the admin key.
# Every check is on (here, not as --checks all on the command line, which would outrank the exceptions below).
cat >"$work/schemathesis.toml" <<TOML
[checks]
enabled = true

# No state carried between runs: the same seed gives the same run.
[cache]
enabled = false

[[operations]]
include-tag = "OAuth"
checks.positive_data_acceptance.enabled = false

# An action's input is checked against that action's own input schema (GET /v1/actions/{name}), which the description
# points to but cannot tie to the path's {name}: a random input for a random action is rightly refused (422).
[[operations]]
include-operation-id = "runAction"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/mcp"
headers = { Authorization = "Bearer $agent_token" }

# (GET /mcp with a live session is a 5-minute event stream: it is tried with unknown sessions only.)
[[operations]]
include-operation-id = ["mcp", "mcpEndSession"]
parameters = { "header.Mcp-Session-Id" = "$session" }

[[operations]]
include-path-regex = "^/connect/"
parameters = { "path.token" = "$connect_token" }

# MCP's streamable HTTP transport answers a GET it offers no stream for with 405 (the MCP specification says so):
# without Mcp-Session-Id there is none.
[[operations]]
include-operation-id = "mcpStream"
checks.missing_required_header.expected-statuses = [400, 401, 405]
TOML

echo "fuzz-api: schemathesis $("$schemathesis" --version | awk '{print $NF}') against $base (seed $seed, up to $examples cases an operation, every check, stateful phase included)"
status=0
"$schemathesis" --config-file "$work/schemathesis.toml" run "$base/openapi.yaml" \
    --seed "$seed" --max-examples "$examples" --phases examples,coverage,fuzzing,stateful \
    --header "Authorization: Bearer $api_key" --workers 2 --request-timeout 30 \
    --report junit,har --report-dir "${FUZZ_REPORT_DIR:-$work/report}" --no-color ${FUZZ_EXTRA:-} 2>&1 | tee "$work/schemathesis.out" || status=$?

if grep -qiE "internal_error|unhandled error" "$work/serve.log"; then
    echo "fuzz-api: serve logged an unhandled error:"; grep -iE "internal_error|unhandled error" "$work/serve.log" | head -20
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "fuzz-api: FAILED (schemathesis exit $status); serve's log:"
    tail -n 40 "$work/serve.log"
fi
exit "$status"
