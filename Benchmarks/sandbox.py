"""Drives wrk against a release sandbox holding 10,000 contacts per workspace.

Each endpoint gets the same load (1 wrk thread, 16 connections, N seconds) after a 2-second warm-up;
the baseline is GET /health on the same server, so the ratios show what auth, rate limiting, lookup,
search and JSON rendering cost. The unindexed search scans every contact, for contrast with the
email search, which an index answers.
"""
import http.client, json, os, re, socket, subprocess, sys, tempfile, time

binary, seconds = sys.argv[1], int(sys.argv[2])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
sandbox = subprocess.Popen([binary, "sandbox", "--port", str(port), "--contacts", "10000", "--rate-limit", "1000000000",
                            "--app", "bench:bench-secret:http://127.0.0.1/cb"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def request(method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data[:1] in (b"{", b"[") else data.decode()


def wrk(name, path, method="GET", body=None, token=None):
    lua = f'wrk.method = "{method}"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Accept"] = "application/json"\n'
    if token:
        lua += f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    if body is not None:
        lua += f"wrk.body = [[{json.dumps(body)}]]\n"
    lua += "function response(status, headers, body) if status ~= 200 then io.stderr:write('status ' .. status .. '\\n') end end\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run(["wrk", "-t1", "-c16", "-d2s", "-s", script.name, url], capture_output=True)
    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", script.name, url], capture_output=True, text=True)
    os.unlink(script.name)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))

    def percentile(p):
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = len(out.stderr.strip().splitlines()) if out.stderr.strip() else 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return name, rps, percentile(50), percentile(99), errors + (int(non2xx.group(1)) if non2xx else 0)


try:
    deadline = time.time() + 120
    while True:
        try:
            if request("GET", "/health")[0] == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or sandbox.poll() is not None:
            raise SystemExit("the sandbox did not start")
        time.sleep(0.1)
    _, token_body = request("POST", "/_sandbox/tokens", {"clientId": "bench", "workspace": "acme7x2k"})
    token = token_body["token"]
    status, listing = request("GET", "/contacts?per_page=1", token=token)
    total = listing["total_count"]
    _, middle = request("POST", "/contacts/search", {"query": {"field": "external_id", "operator": "=", "value": "user-5000"}}, token)
    contact = middle["data"][0]
    results = [
        wrk("baseline: GET /health", "/health"),
        wrk("GET /contacts/{id}", f"/contacts/{contact['id']}", token=token),
        wrk("search email = (indexed)", "/contacts/search", "POST",
            {"query": {"field": "email", "operator": "=", "value": contact["email"]}}, token),
        wrk("search name ~ (full scan)", "/contacts/search", "POST",
            {"query": {"field": "name", "operator": "~", "value": "zzz"}, "pagination": {"per_page": 1}}, token),
    ]
finally:
    sandbox.terminate()
    sandbox.wait(timeout=15)

print(f"sandbox benchmark: {total} contacts in the workspace, wrk 1 thread x 16 connections, {seconds}s each, {os.cpu_count()} cores")
print(f"{'':30}{'req/s':>10}{'p50':>10}{'p99':>10}{'errors':>8}{'vs baseline':>13}")
base = results[0][1]
for name, rps, p50, p99, errors in results:
    print(f"{name:30}{rps:10.0f}{p50:8.2f}ms{p99:8.2f}ms{errors:8d}{rps / base:12.2f}x")
