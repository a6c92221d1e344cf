"""The same intercom.get_contact as a REST action (POST /v1/integrations/{id}/actions/intercom.get_contact with an
admin key) and as an MCP tool call over streamable HTTP (POST /mcp, tools/call intercom_get_contact, with an agent
token), in one run against one `switchboard serve` and one sandbox: requests/s, p50/p99, and serve's CPU time per
call, read from /proc. Each MCP request is answered statelessly, as any instance behind a balancer would: the token
checked, the tool set built from the integration's allow-list, a fresh MCP server for the request.

Load: wrk, 1 thread, 16 connections, N seconds after a 2-second warm-up, the two targets taking turns for
BENCH_ROUNDS rounds (default 3; medians). Target: an MCP call costs at most 1.3x the REST call's CPU.
Usage: mcp.py SWITCHBOARD_BINARY SECONDS
"""
import os, shutil, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import find_contact, http_call, median, start_switchboard, wrk  # noqa: E402

binary, seconds = sys.argv[1], int(sys.argv[2])
rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
work = tempfile.mkdtemp(prefix="switchboard-bench-mcp-")
processes = []

try:
    system = start_switchboard(binary, work, processes)
    serve_port, admin, integration_id = system["serve_port"], system["admin"], system["integration_id"]
    _, _, contact = find_contact(system["sandbox_port"])
    status, _, made = http_call(serve_port, "POST", f"/v1/integrations/{integration_id}/agent-tokens", {"name": "bench agent"}, admin)
    assert status == 201, f"making an agent token answered {status}: {made}"
    agent = {"Authorization": f"Bearer {made['token']}", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "intercom_get_contact", "arguments": {"contact_id": contact}}}
    status, _, answered = http_call(serve_port, "POST", "/mcp", call, agent)
    assert status == 200 and answered["result"].get("isError") is not True and answered["result"]["structuredContent"]["id"] == contact, \
        f"the MCP call answered {status}: {answered}"
    status, _, ran = http_call(serve_port, "POST", f"/v1/integrations/{integration_id}/actions/intercom.get_contact", {"input": {"contact_id": contact}}, admin)
    assert status == 200 and ran["result"]["id"] == contact, f"the REST action answered {status}: {ran}"

    serve_pid, sandbox_pid = system["serve_pid"], system["sandbox_pid"]
    targets = [
        ("REST get_contact", f"/v1/integrations/{integration_id}/actions/intercom.get_contact", {"input": {"contact_id": contact}}, admin),
        ("MCP tools/call get_contact", "/mcp", call, agent),
    ]
    runs = {name: [] for name, *_ in targets}
    for _ in range(rounds):
        for name, path, body, headers in targets:
            runs[name].append(wrk(name, serve_port, path, "POST", body, headers, (serve_pid,), sandbox_pid, work=work, seconds=seconds))
finally:
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(timeout=15)
        except Exception:  # noqa: BLE001 - a process that will not stop is killed
            process.kill()
    shutil.rmtree(work, ignore_errors=True)

print(f"MCP benchmark: GET one contact of 10,000, as a REST action and as an MCP tool call; wrk 1 thread x 16 connections; "
      f"{rounds} rounds of {seconds}s per target, medians; {os.cpu_count()} cores")
print(f"{'':28}{'req/s':>9}{'p50':>10}{'p99':>10}{'errors':>8}{'serve CPU/call':>16}")
summary = {}
for name, measured in runs.items():
    row = {key: median([m[key] for m in measured]) for key in ("rps", "p50", "p99", "front_us")}
    row["errors"] = sum(m["errors"] for m in measured)
    summary[name] = row
    print(f"{name:28}{row['rps']:9.0f}{row['p50']:8.2f}ms{row['p99']:8.2f}ms{row['errors']:8d}{row['front_us']:13.0f} µs")
rest, mcp = summary["REST get_contact"], summary["MCP tools/call get_contact"]
ratio = mcp["front_us"] / rest["front_us"]
print(f"MCP costs {ratio:.2f}x the REST call's CPU (target <= 1.30) and reaches {mcp['rps'] / rest['rps']:.2f}x its throughput; "
      f"p99 {mcp['p99'] - rest['p99']:+.2f} ms")
