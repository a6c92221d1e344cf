"""Several Switchboard instances on one PostgreSQL behind nginx (round robin), against a standards-following OAuth 2.0
provider (provider.py: Authlib, PKCE, 3-second access tokens, rotating refresh tokens that revoke the old pair) and the
Intercom sandbox, under faults. Each scenario checks what it promises and prints "ok …" or "FAIL …" per check, then
its numbers as one JSON line; the run exits non-zero on any FAIL.

Scenarios (--scenarios, comma-separated; default: all but those that need a flag):
- flows:    the guide's custom pre-authorize flow, each step on another instance (the provider's redirect back through
            the balancer); then the per-user flow for several end users, each step (the action that answers the
            connect link, the link's page, its button, the retried action) on another instance.
- burst:    refresh bursts: BURST concurrent calls through nginx just after the access token expired. No call fails,
            one refresh per expiry across all instances, no refresh token used twice, the connection still active.
- kill:     kill -9 of an instance in the middle of a burst sent straight to the instances: the others answer every
            call; no acknowledged run is lost beyond the killed instance's run-buffer window (each call names its own
            end user and is looked for in the audit log); no half-stored connection.
- callbacks: kill -9 of an instance while end users connect and their connection.created events are being delivered
            (a slow receiver keeps deliveries in flight); the instance is started again, the users whose flow broke
            connect again: every user has exactly one complete connection, every event is delivered.
- sigterm:  SIGTERM to an instance mid-burst: every call it accepted is answered, it exits 0, and every acknowledged
            run is in the audit log (its buffer was written on the way out).
- faults:   the sandbox's faults on the system app's integration, one at a time (2 s latency, half the calls 500, the
            next 40 calls 429, the sandbox killed and started again: dropped connections): every answer is 200 or the
            documented problem (no 500 from Switchboard), and once the fault is gone every call succeeds.
- pg-restart (with --postgres-restart CMD): PostgreSQL restarted while calls run; afterwards every call succeeds.
- soak (with --soak SECONDS): a fixed rate through the balancer with each instance's memory sampled: no error, and
            no instance's resident memory growing by more than --soak-bound MB after the first minute.

Usage: harness.py SWITCHBOARD_BINARY POSTGRES_URL [--instances 3] [--burst 300] [--bursts 3] [--scenarios …]
POSTGRES_URL's role must be allowed to create databases: each run makes its own.
"""

import argparse
import base64
import concurrent.futures
import http.client
import http.cookiejar
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import free_port, hidden_fields, http_call, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ALL = ["flows", "burst", "kill", "callbacks", "sigterm", "faults", "pg-restart", "soak"]
failures = []
figures = {}

# A run is acknowledged to its caller before it is written: `serve` batches the run log and writes it within
# RunBuffer.delay (100 ms) plus the write itself. A SIGKILL may lose the runs acknowledged that recently, no others.
RUN_BUFFER_WINDOW = 1.0


def check(name, passed, detail=""):
    print(("ok " if passed else "FAIL ") + name + ("" if passed or not detail else f": {detail}"), flush=True)
    if not passed:
        failures.append(name + (f": {detail}" if detail != "" else ""))


def report(scenario, numbers):
    figures[scenario] = numbers
    print(json.dumps({scenario: numbers}), flush=True)


# MARK: - The cluster

class Cluster:
    """The provider, the sandbox, N `serve` instances on one PostgreSQL database, nginx in front; and the admin key."""

    def __init__(self, args, work, database):
        self.args, self.work, self.database = args, work, database
        self.processes, self.serves = [], []
        self.environment = dict(os.environ, SWITCHBOARD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
        self.client_id, self.client_secret = "scaleout-client", base64.urlsafe_b64encode(os.urandom(24)).decode()
        self.provider_port, self.sandbox_port, self.balancer = free_port(), free_port(), free_port()
        self.provider = f"http://127.0.0.1:{self.provider_port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.public = f"http://127.0.0.1:{self.balancer}"
        self.ports = [free_port() for _ in range(args.instances)]

    def start(self):
        self.processes.append(subprocess.Popen(
            [self.args.python, f"{HERE}/provider.py", "--port", str(self.provider_port), "--client-id", self.client_id,
             "--client-secret", self.client_secret, "--lifetime", str(self.args.lifetime)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.sandbox_process = self.start_sandbox()
        wait_for(self.provider_port, "the provider", "/_stats", seconds=30)
        wait_for(self.sandbox_port, "the sandbox", seconds=60)
        subprocess.run([self.args.binary, "migrate", "--database-url", self.database], env=self.environment, check=True, capture_output=True)
        key = subprocess.run([self.args.binary, "keys", "create", "--workspace", "scale-out", "--database-url", self.database],
                             env=self.environment, capture_output=True, text=True, check=True).stdout.strip()
        self.admin = {"Authorization": f"Bearer {key}"}
        self.serves = [self.start_serve(index) for index in range(len(self.ports))]
        for index, port in enumerate(self.ports):
            wait_for(port, f"serve instance {index + 1}")
        self.start_nginx()

    def start_sandbox(self):
        process = subprocess.Popen(
            [self.args.binary, "sandbox", "run", "--port", str(self.sandbox_port), "--rate-limit", "1000000000", "--data", f"{self.work}/sandbox.sqlite",
             "--app", f"scaleout-sandbox:scaleout-sandbox-secret:{self.public}/oauth/callback"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def start_serve(self, index):
        log = open(f"{self.work}/serve-{index + 1}.log", "a")
        process = subprocess.Popen(
            [self.args.binary, "serve", "--port", str(self.ports[index]), "--database-url", self.database, "--public-url", self.public,
             "--intercom-client-id", "scaleout-sandbox", "--intercom-authorize-url", f"{self.sandbox}/oauth",
             "--intercom-token-url", f"{self.sandbox}/auth/eagle/token", "--intercom-api-us", self.sandbox,
             "--intercom-api-eu", self.provider, "--intercom-api-au", self.sandbox, "--intercom-timeout", "10",
             "--allow-private-network", "--log-level", os.environ.get("SCALEOUT_LOG_LEVEL", "warning")],
            env=dict(self.environment, SWITCHBOARD_INTERCOM_CLIENT_SECRET="scaleout-sandbox-secret"), stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def restart(self, index):
        self.serves[index] = self.start_serve(index)
        wait_for(self.ports[index], f"serve instance {index + 1}, started again")

    def start_nginx(self):
        os.makedirs(f"{self.work}/nginx/logs", exist_ok=True)
        servers = "\n".join(f"    server 127.0.0.1:{p};" for p in self.ports)
        with open(f"{self.work}/nginx/nginx.conf", "w") as conf:
            conf.write(f"""daemon off;
worker_processes 1;
pid {self.work}/nginx/nginx.pid;
error_log {self.work}/nginx/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {self.work}/nginx/body; proxy_temp_path {self.work}/nginx/proxy;
  fastcgi_temp_path {self.work}/nginx/fastcgi; uwsgi_temp_path {self.work}/nginx/uwsgi; scgi_temp_path {self.work}/nginx/scgi;
  upstream switchboard {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{self.balancer};
    location / {{
      proxy_pass http://switchboard;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_read_timeout 60s;
    }}
  }}
}}
""")
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.processes.append(subprocess.Popen([binary, "-p", f"{self.work}/nginx", "-c", f"{self.work}/nginx/nginx.conf"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(self.balancer, "nginx", "/health", seconds=20)

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def api(self, method, path, body=None, port=None):
        return http_call(port or self.balancer, method, path, body, self.admin, timeout=self.args.timeout)

    def act(self, integration_id, user=None, port=None):
        """Runs intercom.who_am_i; the HTTP status and the problem's code (or None)."""
        body = {"input": {}} if user is None else {"input": {}, "user": {"id": user}}
        try:
            status, _, answer = self.api("POST", f"/v1/integrations/{integration_id}/actions/intercom.who_am_i", body, port)
            return status, (answer.get("code") if isinstance(answer, dict) else None), answer
        except (OSError, http.client.HTTPException) as error:
            return 0, type(error).__name__, None

    def burst(self, integration_id, calls, users=None, timings=None, direct=False):
        def one(i):
            started = time.time()
            answer = self.act(integration_id, users(i) if users else None, self.ports[i % len(self.ports)] if direct else None)[:2]
            if timings is not None:
                timings.append((round(started, 2), round(time.time() - started, 2)) + answer + ((i % len(self.ports) + 1) if direct else "nginx", users(i) if users else None))
            return answer
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(calls, 300)) as pool:
            return list(pool.map(one, range(calls)))

    def provider_stats(self):
        return http_call(self.provider_port, "GET", "/_stats")[2]

    def ok_run_users(self, integration_id):
        """The end users named by the integration's successful runs in the audit log, all pages."""
        users, cursor = set(), None
        while True:
            path = f"/v1/runs?integration={integration_id}&outcome=ok&limit=100" + (f"&starting_after={cursor}" if cursor else "")
            status, _, page = self.api("GET", path)
            if status != 200:
                raise SystemExit(f"GET /v1/runs answered {status}: {page}")
            users.update(run.get("userId") for run in page["data"])
            cursor = page.get("next")
            if not cursor:
                return users

    def connections(self, integration_id):
        found, cursor = [], None
        while True:
            path = f"/v1/integrations/{integration_id}/connections?limit=100" + (f"&starting_after={cursor}" if cursor else "")
            status, _, page = self.api("GET", path)
            if status != 200:
                raise SystemExit(f"GET connections answered {status}: {page}")
            found.extend(page["data"])
            cursor = page.get("next")
            if not cursor:
                return found

    def memory_mb(self, index):
        with open(f"/proc/{self.serves[index].pid}/status") as status:
            return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024


def browser():
    """A browser's cookies and redirects, for start pages, connect links, the provider and the callback."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def press(opener, port, path):
    """Presses a page's button (an empty form POST) on this instance, following the redirects; the final page's text."""
    try:
        # As a browser posts a form from the page it came from (Switchboard's pages send no referrer: Origin is null).
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"", method="POST",
                                         headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
        page = opener.open(request, timeout=30)
        return page.status, page.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:
        return 0, type(error).__name__


class Receiver:
    """An assistant's notify URL: answers each event after `delay` seconds, and keeps what arrived, by event id."""

    def __init__(self, delay):
        self.events, self.deliveries, self.lock, self.delay = {}, 0, threading.Lock(), delay
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.events[body.get("id")] = body
                    receiver.deliveries += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, kind):
        with self.lock:
            return {i: e for i, e in self.events.items() if e.get("type") == kind}


# MARK: - Scenarios

def flows(cluster):
    """The guide's Custom × pre-authorize steps, each on another instance; then per-user connections across instances."""
    step = iter(range(10_000))

    def next_port():
        return cluster.ports[next(step) % len(cluster.ports)]

    status, _, profile = cluster.api("POST", "/v1/auth-profiles", {
        "name": "Scale-out provider", "clientId": cluster.client_id, "clientSecret": cluster.client_secret,
        "authorizationURL": f"{cluster.provider}/authorize", "tokenURL": f"{cluster.provider}/token", "scopes": ["profile"], "pkce": True,
    }, next_port())
    check("flows: the profile is created (instance 1)", status == 201, profile)
    cluster.profile_id = profile["id"]
    status, _, integration = cluster.api("POST", "/v1/integrations", {
        "name": "Scale-out bot", "app": "custom", "authProfileId": profile["id"], "authorization": "preauthorized", "region": "EU"}, next_port())
    check("flows: the integration is created (instance 2)", status == 201, integration)
    cluster.shared = integration["id"]
    status, _, started = cluster.api("POST", f"/v1/integrations/{cluster.shared}/authorize", {}, next_port())
    check("flows: authorize answers the start page (instance 3)", status == 200 and "authorizationURL" in started, started)
    status, text = press(browser(), next_port(), urllib.parse.urlsplit(started["authorizationURL"]).path)
    check("flows: start page (another instance) → provider → callback (through nginx): connected", status == 200 and "connected" in text, text[:300])
    status, _, enabled = cluster.api("POST", f"/v1/integrations/{cluster.shared}/enable", {}, next_port())
    check("flows: Enable proves the connection (another instance)", status == 200 and enabled.get("status") == "enabled", enabled)

    # Users authorize: a per-user integration with a notify URL; each user's steps on different instances.
    cluster.receiver = Receiver(delay=0.3)
    status, _, per_user = cluster.api("POST", "/v1/integrations", {
        "name": "Scale-out users", "app": "custom", "authProfileId": profile["id"], "authorization": "per_user", "region": "EU",
        "notifyURL": cluster.receiver.url}, next_port())
    check("flows: the per-user integration is created", status == 201, per_user)
    cluster.per_user = per_user["id"]
    status, _, enabled = cluster.api("POST", f"/v1/integrations/{cluster.per_user}/enable", {}, next_port())
    check("flows: the per-user integration is enabled", status == 200, enabled)
    users = [f"flow-user-{n}" for n in range(6)]
    connected = sum(1 for user in users if connect_user(cluster, user, next_port) == "connected")
    check(f"flows: {len(users)} end users connect, each step on another instance, and act", connected == len(users), f"{connected} of {len(users)}")
    report("flows", {"instances": len(cluster.ports), "endUsersConnected": connected})


def connect_user(cluster, user, next_port):
    """One end user's way through: the action answers the connect link, the link's page, its button (the provider and
    the callback), the action again. Each step on the instance `next_port` gives. "connected", or what broke."""
    status, code, answer = cluster.act(cluster.per_user, user, next_port())
    if status == 200:
        return "connected"  # already: a flow that broke after its callback had stored the connection
    if status != 409 or code != "authorization_required":
        return f"the first call answered {status} {code}"
    link = urllib.parse.urlsplit(answer["authorizationURL"]).path
    try:
        status = http_call(next_port(), "GET", link)[0]
    except OSError as error:
        return f"the link's page failed: {type(error).__name__}"
    if status != 200:
        return f"the link's page answered {status}"
    status, text = press(browser(), next_port(), link)
    if status != 200 or "connected" not in text:
        return f"the button ended on {status}"
    status, code, _ = cluster.act(cluster.per_user, user, next_port())
    return "connected" if status == 200 else f"the call after connecting answered {status} {code}"


def bursts(cluster):
    before = cluster.provider_stats()
    outcomes = []
    for number in range(cluster.args.bursts):
        time.sleep(cluster.args.lifetime + 0.5)  # the stored access token has expired
        statuses = cluster.burst(cluster.shared, cluster.args.burst)
        outcomes.extend(statuses)
        failed = [s for s in statuses if s[0] != 200]
        check(f"burst {number + 1}: {cluster.args.burst} concurrent calls through nginx on an expired token all succeed", not failed,
              f"{len(failed)} failed, e.g. {failed[:5]}")
    after = cluster.provider_stats()
    refreshes = after["refreshes"] - before["refreshes"]
    check(f"burst: one refresh per expiry across {len(cluster.ports)} instances", refreshes == cluster.args.bursts,
          f"{refreshes} refreshes for {cluster.args.bursts} expiries")
    check("burst: no refresh token used twice", after["refresh_reused"] == 0, f"{after['refresh_reused']} refused reuses")
    connection = (cluster.api("GET", f"/v1/integrations/{cluster.shared}")[2] or {}).get("connection") or {}
    check("burst: the connection is still active", connection.get("status") == "active", connection)
    ok = sum(1 for s in outcomes if s[0] == 200)
    report("burst", {"calls": len(outcomes), "ok": ok, "failed": len(outcomes) - ok, "refreshes": refreshes, "expiries": cluster.args.bursts,
                     "refreshTokenReuse": after["refresh_reused"], "providerRefused401": after["unauthorized"] - before["unauthorized"]})


def straight_burst(cluster, calls, tag, during):
    """`calls` concurrent calls sent round robin straight to the instances, each naming its own end user; `during()` runs
    0.3 s in and returns when its fault happened. Each answer as (instance, status, time, user)."""
    answers, lock = [], threading.Lock()

    def one(index):
        target = index % len(cluster.ports)
        status = cluster.act(cluster.shared, f"{tag}-{index}", cluster.ports[target])[0]
        with lock:
            answers.append((target, status, time.time(), f"{tag}-{index}"))

    def fire():
        with concurrent.futures.ThreadPoolExecutor(max_workers=calls) as pool:
            list(pool.map(one, range(calls)))
    thread = threading.Thread(target=fire)
    thread.start()
    time.sleep(0.3)
    at = during()
    thread.join()
    return answers, at


def kill(cluster):
    victim = len(cluster.ports) - 1

    def fault():
        cluster.serves[victim].kill()
        return time.time()
    answers, killed_at = straight_burst(cluster, cluster.args.burst, "kill", fault)
    cluster.serves[victim].wait()
    survivors_failed = [a for a in answers if a[0] != victim and a[1] != 200]
    check("kill: the other instances answer every call of the burst", not survivors_failed, survivors_failed[:5])
    time.sleep(RUN_BUFFER_WINDOW + 1)  # the survivors' run logs have been written
    recorded = cluster.ok_run_users(cluster.shared)
    acknowledged = [a for a in answers if a[1] == 200]
    lost = [a for a in acknowledged if a[3] not in recorded]
    beyond = [a for a in lost if a[0] != victim or a[2] < killed_at - RUN_BUFFER_WINDOW]
    in_window = sum(1 for a in acknowledged if a[0] == victim and a[2] >= killed_at - RUN_BUFFER_WINDOW)
    check(f"kill: no acknowledged run lost beyond the killed instance's last {RUN_BUFFER_WINDOW:.0f} s", not beyond,
          f"{len(beyond)} lost outside it, e.g. {beyond[:3]}")
    after = cluster.burst(cluster.shared, 60)
    check("kill: afterwards, calls through nginx all succeed", all(a[0] == 200 for a in after), [a for a in after if a[0] != 200][:5])
    connection = (cluster.api("GET", f"/v1/integrations/{cluster.shared}")[2] or {}).get("connection") or {}
    check("kill: no half-stored connection (active and refreshable)", connection.get("status") == "active" and connection.get("refreshable"), connection)
    cluster.restart(victim)
    report("kill", {"acknowledged": len(acknowledged), "lost": len(lost), "lostBeyondWindow": len(beyond),
                    "killedInstanceAcksInWindow": in_window, "killedInstanceFailed": sum(1 for a in answers if a[0] == victim and a[1] != 200)})


def callbacks(cluster):
    victim = 0
    users = [f"cb-user-{n}" for n in range(60)]
    outcomes, lock = {}, threading.Lock()
    step = iter(range(100_000))
    step_lock = threading.Lock()

    def next_port():
        with step_lock:
            return cluster.ports[next(step) % len(cluster.ports)]

    def one(user):
        result = connect_user(cluster, user, next_port)
        with lock:
            outcomes[user] = result
    cluster.receiver.delay = 1.0  # deliveries stay in flight, the killed instance's among them
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(one, user) for user in users]
        time.sleep(0.5)
        cluster.serves[victim].kill()
        killed_at = time.time()
        for future in futures:
            future.result()
    cluster.serves[victim].wait()
    cluster.restart(victim)
    broken = [u for u, r in outcomes.items() if r != "connected"]
    again = {user: connect_user(cluster, user, next_port) for user in broken}
    check("callbacks: the users whose flow broke with the instance connect again", all(r == "connected" for r in again.values()), again)
    rows = [c for c in cluster.connections(cluster.per_user) if str(c.get("userId", "")).startswith("cb-user-")]
    complete = [c for c in rows if c.get("status") == "active" and c.get("refreshable")]
    check("callbacks: every user has exactly one connection, complete (active, with its refresh token)",
          len(rows) == len(users) and len(complete) == len(users) and len({c["userId"] for c in rows}) == len(users),
          f"{len(rows)} rows, {len(complete)} complete, for {len(users)} users")
    # Every connection.created is delivered, the killed instance's leased deliveries by another once the lease lapses.
    deadline = time.time() + 120
    while time.time() < deadline:
        delivered = {e.get("userId") or (e.get("data") or {}).get("userId") for e in cluster.receiver.of_type("connection.created").values()}
        if all(user in delivered for user in users):
            break
        time.sleep(1)
    delivered = {e.get("userId") or (e.get("data") or {}).get("userId") for e in cluster.receiver.of_type("connection.created").values()}
    missing = [u for u in users if u not in delivered]
    check("callbacks: every connection.created event is delivered, none lost with the killed instance", not missing,
          f"{len(missing)} missing, e.g. {missing[:5]}")
    report("callbacks", {"users": len(users), "brokenByKill": len(broken), "connections": len(rows),
                         "eventsDelivered": len(users) - len(missing), "deliveries": cluster.receiver.deliveries,
                         "secondsToDeliverAll": round(time.time() - killed_at, 1)})


def sigterm(cluster):
    victim = 1 % len(cluster.ports)

    def fault():
        cluster.serves[victim].terminate()
        return time.time()
    answers, _ = straight_burst(cluster, cluster.args.burst, "term", fault)
    code = cluster.serves[victim].wait(timeout=60)
    accepted_then_dropped = [a for a in answers if a[1] not in (200, 0)]
    refused = sum(1 for a in answers if a[0] == victim and a[1] == 0)
    check("sigterm: every call the instance accepted is answered (the others were refused at connect, never dropped)",
          not accepted_then_dropped, accepted_then_dropped[:5])
    check("sigterm: the instance exits 0", code == 0, f"exit {code}")
    time.sleep(RUN_BUFFER_WINDOW + 1)
    recorded = cluster.ok_run_users(cluster.shared)
    lost = [a for a in answers if a[1] == 200 and a[3] not in recorded]
    check("sigterm: every acknowledged run is in the audit log, the stopping instance's included", not lost, lost[:5])
    cluster.restart(victim)
    report("sigterm", {"acknowledged": sum(1 for a in answers if a[1] == 200), "refusedAtConnect": refused, "lost": len(lost), "exit": code})


def sandbox_integration(cluster):
    """The system app's integration, pre-authorized through the sandbox's login and consent pages, enabled."""
    _, _, integration = cluster.api("POST", "/v1/integrations", {"name": "Faults", "app": "system", "authorization": "preauthorized"})
    _, _, started = cluster.api("POST", f"/v1/integrations/{integration['id']}/authorize", {})
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = opener.open(urllib.request.Request(started["authorizationURL"], data=b"", method="POST",
                                               headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}), timeout=30).read().decode()
    consent = opener.open(urllib.request.Request(f"{cluster.sandbox}/oauth/login", method="POST", data=urllib.parse.urlencode(
        hidden_fields(login) + [("email", "ada@acme.test"), ("password", "sandbox-password")]).encode()), timeout=30).read().decode()
    done = opener.open(urllib.request.Request(f"{cluster.sandbox}/oauth/authorize", method="POST", data=urllib.parse.urlencode(
        hidden_fields(consent) + [("decision", "allow")]).encode()), timeout=30).read().decode()
    status, _, enabled = cluster.api("POST", f"/v1/integrations/{integration['id']}/enable", {})
    check("faults: the system app's integration is authorized at the sandbox and enabled", status == 200 and "connected" in done, enabled)
    return integration["id"]


def faults(cluster):
    integration = sandbox_integration(cluster)
    documented = {200, 429, 502, 503, 504}
    numbers = {}

    def set_faults(settings):
        status, _, answer = http_call(cluster.sandbox_port, "PUT", "/_sandbox/faults", settings)
        assert status == 200, f"PUT /_sandbox/faults answered {status}: {answer}"

    for name, settings in [("latency 2 s", {"latencyMs": 2000}), ("half the calls 500", {"serverErrorRate": 0.5}),
                           ("the next 40 calls 429", {"rateLimitNext": 40})]:
        set_faults(settings)
        during = cluster.burst(integration, 100)
        set_faults({})
        after = cluster.burst(integration, 50)
        statuses = sorted({s[0] for s in during})
        check(f"faults, {name}: every answer is 200 or a documented problem (never a 500 of ours)", set(statuses) <= documented,
              [s for s in during if s[0] not in documented][:5])
        check(f"faults, {name}: once it is gone, every call succeeds", all(s[0] == 200 for s in after), [s for s in after if s[0] != 200][:5])
        numbers[name] = {"ok": sum(1 for s in during if s[0] == 200), "problems": {str(c): sum(1 for s in during if s[0] == c) for c in statuses if c != 200}}

    # Dropped connections: the sandbox killed mid-burst and started again on its data file.
    def outage():
        cluster.sandbox_process.kill()
        cluster.sandbox_process.wait()
        time.sleep(1)
        cluster.sandbox_process = cluster.start_sandbox()
        wait_for(cluster.sandbox_port, "the sandbox, started again", seconds=60)
    results = []
    thread = threading.Thread(target=lambda: results.extend(cluster.burst(integration, 100)))
    thread.start()
    time.sleep(0.1)
    outage()
    thread.join()
    after = cluster.burst(integration, 50)
    check("faults, connections dropped (the sandbox killed and started again): every answer is 200 or a documented problem",
          {s[0] for s in results} <= documented, [s for s in results if s[0] not in documented][:5])
    check("faults, connections dropped: once the sandbox is back, every call succeeds", all(s[0] == 200 for s in after), [s for s in after if s[0] != 200][:5])
    numbers["connections dropped"] = {"ok": sum(1 for s in results if s[0] == 200), "failed": sum(1 for s in results if s[0] != 200)}
    report("faults", numbers)


def pg_restart(cluster):
    results, timings = [], []
    thread = threading.Thread(target=lambda: results.extend(cluster.burst(cluster.shared, cluster.args.burst, timings=timings, direct=True, users=lambda i: f"pgr-{i}")))
    thread.start()
    time.sleep(0.2)
    started = time.time()
    subprocess.run(shlex.split(cluster.args.postgres_restart), check=True, capture_output=True)
    restart_seconds = time.time() - started
    thread.join()
    # Sequential calls for a few seconds: when does every call succeed again?
    probe = []
    probe_until = time.time() + 8
    while time.time() < probe_until:
        probe.append((round(time.time() - started, 2),) + cluster.act(cluster.shared)[:2])
        time.sleep(0.05)
    slow = sorted(timings, key=lambda t: -t[1])[:5]
    print("pg-restart slowest calls (start offset s, duration s, status, code):", [(round(t[0] - started, 2),) + t[1:] for t in slow], flush=True)
    last_failure = max([p[0] for p in probe if p[1] != 200] or [0])
    after = cluster.burst(cluster.shared, 100)
    check("pg-restart: every call in flight gets an answer", all(s[0] != 0 for s in results), [t for t in timings if t[2] == 0][:5])
    check("pg-restart: answers during the restart are 200 or 503 (never a 500)",
          all(s[0] in (0, 200, 503) for s in results), sorted({s for s in results if s[0] not in (0, 200, 503)})[:5])
    check("pg-restart: a second after, every call succeeds (the pools reconnected)", all(s[0] == 200 for s in after),
          [s for s in after if s[0] != 200][:5])
    report("pg-restart", {"calls": len(results), "ok": sum(1 for s in results if s[0] == 200),
                          "databaseUnavailable": sum(1 for s in results if s == (503, "database_unavailable")),
                          "otherProblems": sorted({f"{s[0]} {s[1]}" for s in results if s[0] not in (200, 0) and s != (503, "database_unavailable")}),
                          "unanswered": sum(1 for s in results if s[0] == 0), "restartSeconds": round(restart_seconds, 1),
                          "lastFailedProbeAfterRestartBegan": last_failure})


def soak(cluster):
    seconds, rate = cluster.args.soak, cluster.args.rate
    samples = {index: [] for index in range(len(cluster.ports))}
    errors, sent, lock = [], [0], threading.Lock()
    stop = time.time() + seconds

    def sampler():
        while time.time() < stop:
            for index in samples:
                samples[index].append((time.time(), cluster.memory_mb(index)))
            time.sleep(10)
    threading.Thread(target=sampler, daemon=True).start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        next_at = time.time()
        while time.time() < stop:
            def one():
                status = cluster.act(cluster.shared)[0]
                with lock:
                    sent[0] += 1
                    if status != 200:
                        errors.append(status)
            pool.submit(one)
            next_at += 1 / rate
            time.sleep(max(0, next_at - time.time()))
    growth = {}
    for index, points in samples.items():
        settled = [mb for at, mb in points if at >= points[0][0] + 60] or [points[-1][1]]
        growth[index + 1] = round(settled[-1] - settled[0], 1)
    check(f"soak: {sent[0]} calls over {seconds} s at {rate}/s, none failing", not errors, f"{len(errors)} failed: {sorted(set(errors))}")
    check(f"soak: no instance's memory grows by more than {cluster.args.soak_bound} MB after the first minute",
          all(g <= cluster.args.soak_bound for g in growth.values()), growth)
    report("soak", {"calls": sent[0], "errors": len(errors), "seconds": seconds, "rate": rate,
                    "residentMB": {i + 1: [round(p[1], 1) for p in points[::6]] for i, points in samples.items()},
                    "growthAfterFirstMinuteMB": growth})


SCENARIOS = {"flows": flows, "burst": bursts, "kill": kill, "callbacks": callbacks, "sigterm": sigterm, "faults": faults,
             "pg-restart": pg_restart, "soak": soak}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("postgres_url")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--lifetime", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(ALL))
    parser.add_argument("--postgres-restart", help="a command that restarts PostgreSQL, e.g. 'pg_ctlcluster 15 main restart'")
    parser.add_argument("--soak", type=int, default=0, help="seconds of soak (0: none)")
    parser.add_argument("--rate", type=int, default=50, help="calls a second during the soak")
    parser.add_argument("--soak-bound", type=float, default=32.0, help="MB an instance may grow after the soak's first minute")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a call may take before the harness gives up on it")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    chosen = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenarios: {unknown}; known: {ALL}")
    if "pg-restart" in chosen and not args.postgres_restart:
        print("scale-out: pg-restart skipped (no --postgres-restart command)", flush=True)
        chosen.remove("pg-restart")
    if "soak" in chosen and args.soak <= 0:
        print("scale-out: soak skipped (no --soak SECONDS)", flush=True)
        chosen.remove("soak")
    if "flows" not in chosen:
        chosen.insert(0, "flows")  # every other scenario acts on the integrations it makes

    work = tempfile.mkdtemp(prefix="sb-scaleout-")
    name, database = database_for_run(args.postgres_url)
    cluster = Cluster(args, work, database)
    try:
        cluster.start()
        print(f"scale-out: {args.instances} instances on one PostgreSQL behind nginx; access tokens live {args.lifetime} s; "
              f"scenarios: {', '.join(chosen)}", flush=True)
        for scenario in chosen:
            SCENARIOS[scenario](cluster)
    finally:
        cluster.stop()
        drop_database(args.postgres_url, name)
        if failures:
            print(f"scale-out: logs kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    # Last, each failed check with its detail: the end of the output is what a test's failure message carries.
    if failures:
        print(f"scale-out: {len(failures)} check(s) failed:", flush=True)
        for failure in failures:
            print(f"FAILED {failure}", flush=True)
    else:
        print("scale-out: every check passed", flush=True)
    return 1 if failures else 0


def database_for_run(admin_url):
    """A fresh database on the server POSTGRES_URL names, for this run only."""
    name = f"sb_scaleout_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parts = urllib.parse.urlsplit(admin_url)
    return name, urllib.parse.urlunsplit(parts._replace(path="/" + name))


def drop_database(admin_url, name):
    subprocess.run(["psql", admin_url, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
