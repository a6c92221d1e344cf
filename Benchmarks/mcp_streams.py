"""Database statements a second while GET /mcp streams sit open on one MCP session that waits on many elicitations,
per binary, with the ratio of each binary to the first (the baseline), measured in the same run.

One per-user integration, a server-side agent token, one session whose client declared URL elicitation; USERS end
users who have not connected, each asked for CALLS times (each call answers -32042 with a connect link); then STREAMS
`GET /mcp` opened on that session at once, held for SECONDS; `serve` logs each statement at trace level, and the lines
written meanwhile are counted.

Usage: python3 Benchmarks/mcp_streams.py SECONDS STREAMS USERS CALLS NAME=BINARY [NAME=BINARY ...]"""
import base64, http.client, json, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import free_port, http_call, wait_for  # noqa: E402


def mcp(port, token, method, params, session=None, user=None):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["Mcp-Session-Id"] = session
    if user:
        headers["Switchboard-User-Id"] = user
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/mcp", body=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
                 headers=dict(headers, **{"Content-Type": "application/json"}))
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Mcp-Session-Id"), body


def measure(binary, seconds, streams, users, calls):
    work = tempfile.mkdtemp(prefix="sb-streams-")
    database = f"sqlite:{work}/switchboard.sqlite"
    environment = dict(os.environ, SWITCHBOARD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
    key = subprocess.run([binary, "keys", "create", "--workspace", "bench", "--database-url", database],
                         env=environment, capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    log = open(f"{work}/serve.log", "w")
    serve = subprocess.Popen([binary, "serve", "--port", str(port), "--database-url", database, "--public-url", f"http://127.0.0.1:{port}",
                              "--intercom-client-id", "bench", "--log-level", "trace"],
                             env=dict(environment, SWITCHBOARD_INTERCOM_CLIENT_SECRET="bench-secret"), stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(port, "switchboard serve")
        admin = {"Authorization": f"Bearer {key}"}
        _, _, integration = http_call(port, "POST", "/v1/integrations", {"name": "Bench", "app": "system", "authorization": "per_user"}, admin)
        status, _, enabled = http_call(port, "POST", f"/v1/integrations/{integration['id']}/enable", {}, admin)
        assert status == 200, enabled
        _, _, made = http_call(port, "POST", f"/v1/integrations/{integration['id']}/agent-tokens", {"name": "bench"}, admin)
        token = made["token"]
        _, session, _ = mcp(port, token, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"url": {}}},
                                                        "clientInfo": {"name": "bench", "version": "1"}})
        for user in range(users):
            for _ in range(calls):
                mcp(port, token, "tools/call", {"name": "intercom_who_am_i", "arguments": {}}, session, f"user-{user}")
        opened = []

        def hold():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds + 30)
            conn.request("GET", "/mcp", headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream", "Mcp-Session-Id": session})
            response = conn.getresponse()
            opened.append(response.status)
            if response.status == 200:
                deadline = time.time() + seconds + 2
                while time.time() < deadline:
                    if not response.fp.readline():
                        break
            conn.close()

        threads = [threading.Thread(target=hold, daemon=True) for _ in range(streams)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # the streams open and start polling
        log.flush()
        start_lines = count(f"{work}/serve.log")
        time.sleep(seconds)
        statements = count(f"{work}/serve.log") - start_lines
        return statements / seconds, sorted(opened)
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def count(path):
    with open(path, errors="replace") as f:
        return sum(1 for line in f if "Executing query" in line)


def main():
    seconds, streams, users, calls = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    results = [(name, measure(path, seconds, streams, users, calls)) for name, path in (arg.split("=", 1) for arg in sys.argv[5:])]
    base = results[0][1][0] or 1
    print(f"{streams} GET /mcp streams on one session waiting on {users} users x {calls} calls, {seconds:.0f} s")
    print(f"{'binary':<12}{'statements/s':>14}{'vs ' + results[0][0]:>16}   streams answered")
    for name, (rate, opened) in results:
        print(f"{name:<12}{rate:>14.1f}{rate / base:>15.3f}×   {opened}")


if __name__ == "__main__":
    main()
