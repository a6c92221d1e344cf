#!/usr/bin/env bash
# Generates a Swift client from the admin API's description with swift-openapi-generator (a real generator, as the
# issue asks of the description) and compiles it with code that uses it: typed bodies (an integration's create as
# .system or .custom), typed answers, typed problems, the paging cursor. Fails if the generator refuses the description
# or the client does not compile. Needs a built `switchboard` (swift build).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${SWITCHBOARD_BIN:-.build/debug/switchboard}"
[ -x "$bin" ] || { echo "generate-client: $bin is missing: run 'swift build' first" >&2; exit 2; }
package=Tests/Tools/GeneratedClient
"$bin" openapi > "$package/Sources/SwitchboardClient/openapi.yaml"
echo "generate-client: swift-openapi-generator on /openapi.yaml ($(grep -c '' "$package/Sources/SwitchboardClient/openapi.yaml") lines)"
log=$(mktemp)
if swift build --package-path "$package" --scratch-path .build-client >"$log" 2>&1; then
    grep -E "^warning: " "$log" | sort -u || true
    echo "generate-client: the generated client compiles with Usage.swift"
else
    grep -E "error|warning: " "$log" | sort -u | head -40
    echo "generate-client: FAILED"
    exit 1
fi
