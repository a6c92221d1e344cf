"""What the benchmarks share: loopback HTTP, the sandbox and `switchboard serve` started with an integration
authorized through the sandbox's real login and consent pages, wrk runs with CPU time per request read from /proc."""
import base64, html, http.client, json, os, re, socket, subprocess, sys, time, urllib.parse


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_call(port, method, path, body=None, headers=None, form=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    all_headers = {"Accept": "application/json"}
    data = None
    if form is not None:
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form)
    elif body is not None:
        all_headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    all_headers.update(headers or {})
    conn.request(method, path, body=data, headers=all_headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    text = raw.decode()
    parsed = json.loads(text) if text[:1] in ("{", "[") else text
    return response.status, response.getheader("Location"), parsed


def press(port, path):
    """A form's button with nothing in it, as a browser presses it: where it sends the browser, and the cookie it sets."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, body="", headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "null", "Sec-Fetch-Site": "same-origin"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.getheader("Location"), (response.getheader("Set-Cookie") or "").split(";")[0]


def wait_for(port, name, path="/health", seconds=120):
    """Until GET path answers 200."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if http_call(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{name} did not start")


def hidden_fields(page):
    return [(name, html.unescape(value)) for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)]


def cpu_seconds(pids):
    """User + system CPU time so far of these processes and their children (nginx's workers)."""
    total, seen, queue = 0.0, set(), list(pids)
    while queue:
        pid = queue.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                queue += [int(child) for child in f.read().split()]
        except OSError:
            pass
    return total


def wrk(name, port, path, method="GET", body=None, headers=None, front=(), sandbox_pid=None, connections=16, *, work, seconds):
    """One wrk run of `seconds` (scripts kept in `work`); also the CPU time per request of the process in front of
    the sandbox, and of the sandbox."""
    lua = f'wrk.method = "{method}"\nwrk.headers["Accept"] = "application/json"\n'
    for key, value in (headers or {}).items():
        lua += f'wrk.headers["{key}"] = "{value}"\n'
    if body is not None:
        lua += 'wrk.headers["Content-Type"] = "application/json"\n'
        lua += f"wrk.body = [[{json.dumps(body)}]]\n"
    lua += "function response(status, headers, body) if status ~= 200 then io.stderr:write('status ' .. status .. '\\n') end end\n"
    script = os.path.join(work, f"wrk-{port}.lua")
    with open(script, "w") as f:
        f.write(lua)
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run(["wrk", "-t1", f"-c{connections}", "-d2s", "-s", script, url], capture_output=True)
    front_before, sandbox_before = cpu_seconds(front), cpu_seconds([sandbox_pid] if sandbox_pid else [])
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url], capture_output=True, text=True)
    front_cpu, sandbox_cpu = cpu_seconds(front) - front_before, cpu_seconds([sandbox_pid] if sandbox_pid else []) - sandbox_before
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))

    def percentile(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text).groups()
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)

    errors = len(out.stderr.strip().splitlines()) if out.stderr.strip() else 0
    errors += sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    per_request = lambda cpu: cpu * 1e6 / requests if requests else 0.0
    return dict(name=name, rps=rps, p50=percentile(50), p99=percentile(99), errors=errors,
                front_us=per_request(front_cpu) if front else None, sandbox_us=per_request(sandbox_cpu) if sandbox_pid else None)



def start_switchboard(binary, work, processes):
    """The sandbox (10,000 contacts, rate limit out of the way) and `serve` on a fresh SQLite file, wired to it as
    Intercom, with an enabled integration authorized through the sandbox's pages. Returns the ports, the admin
    headers and the integration's id; the processes are appended to `processes` (sandbox first, then serve)."""
    sandbox_port, serve_port = free_port(), free_port()
    callback = f"http://127.0.0.1:{serve_port}/oauth/callback"
    processes.append(subprocess.Popen(
        [binary, "sandbox", "--port", str(sandbox_port), "--contacts", "10000", "--rate-limit", "1000000000",
         "--app", f"bench:bench-secret:{callback}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    environment = dict(os.environ, SWITCHBOARD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
    database = f"sqlite:{work}/switchboard.sqlite"
    key = subprocess.run([binary, "keys", "create", "--workspace", "bench", "--database-url", database],
                         env=environment, capture_output=True, text=True, check=True).stdout.strip()
    processes.append(subprocess.Popen(
        [binary, "serve", "--port", str(serve_port), "--database-url", database, "--public-url", f"http://127.0.0.1:{serve_port}",
         "--intercom-client-id", "bench", "--intercom-authorize-url", f"{sandbox}/oauth", "--intercom-token-url", f"{sandbox}/auth/eagle/token",
         "--intercom-api-us", sandbox, "--intercom-api-eu", sandbox, "--intercom-api-au", sandbox],
        env=dict(environment, SWITCHBOARD_INTERCOM_CLIENT_SECRET="bench-secret"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    if os.environ.get("BENCH_DIAGNOSE"):
        print(f"serve pid {processes[-1].pid}", file=sys.stderr, flush=True)
    wait_for(sandbox_port, "the sandbox")
    wait_for(serve_port, "switchboard serve")

    # An integration, pre-authorized through the sandbox's login and consent pages, and enabled.
    admin = {"Authorization": f"Bearer {key}"}
    _, _, integration = http_call(serve_port, "POST", "/v1/integrations", {"name": "Bench", "app": "system", "authorization": "preauthorized"}, admin)
    integration_id = integration["id"]
    _, _, started = http_call(serve_port, "POST", f"/v1/integrations/{integration_id}/authorize", {}, admin)
    # The answer is Switchboard's start page: its button ties the authorization to this "browser" and goes to Intercom.
    provider, binding = press(serve_port, urllib.parse.urlsplit(started["authorizationURL"]).path)
    authorize = urllib.parse.urlsplit(provider)
    _, _, login = http_call(sandbox_port, "GET", f"{authorize.path}?{authorize.query}")
    _, _, consent = http_call(sandbox_port, "POST", "/oauth/login", form=hidden_fields(login) + [("email", "ada@acme.test"), ("password", "sandbox-password")])
    _, location, _ = http_call(sandbox_port, "POST", "/oauth/authorize", form=hidden_fields(consent) + [("decision", "allow")])
    back = urllib.parse.urlsplit(location)
    status, _, _ = http_call(serve_port, "GET", f"{back.path}?{back.query}", headers={"Cookie": binding})
    assert status == 200, f"the callback answered {status}"
    status, _, enabled = http_call(serve_port, "POST", f"/v1/integrations/{integration_id}/enable", {}, admin)
    assert status == 200, f"enable answered {status}: {enabled}"

    return dict(sandbox_port=sandbox_port, serve_port=serve_port, sandbox=sandbox, admin=admin, integration_id=integration_id,
                sandbox_pid=processes[0].pid, serve_pid=processes[1].pid)


def find_contact(sandbox_port):
    """A sandbox token of the benchmark's app and workspace, its headers, and the id of one contact of the 10,000."""
    _, _, issued = http_call(sandbox_port, "POST", "/_sandbox/tokens", {"clientId": "bench", "workspace": "acme7x2k"})
    bearer = {"Authorization": f"Bearer {issued['token']}", "Intercom-Version": "2.14"}
    _, _, found = http_call(sandbox_port, "POST", "/contacts/search", {"query": {"field": "external_id", "operator": "=", "value": "user-5000"}}, bearer)
    return issued["token"], bearer, found["data"][0]["id"]


def median(values):
    values = sorted(values)
    return values[len(values) // 2]
