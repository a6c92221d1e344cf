"""Several Switchboard instances on one PostgreSQL behind nginx (round robin), against a standards-following OAuth 2.0
provider (provider.py: Authlib, PKCE, short-lived access tokens, rotating refresh tokens that revoke the old pair).

It runs, and checks after each:
- the guide's custom pre-authorize flow, each API step sent to a different instance (profile, integration, authorize,
  start page, enable), the provider's redirect back through the balancer;
- refresh bursts: BURST concurrent action calls through nginx, each burst on an access token that has just expired.
  Required: no call fails, one refresh per expiry across all instances, no refresh token used twice, the connection
  still active.
Prints one "ok …" / "FAIL …" line per check and a summary of the numbers; exits non-zero on any FAIL.

Usage: harness.py SWITCHBOARD_BINARY POSTGRES_URL [--instances 3] [--burst 300] [--bursts 3] [--lifetime 3]
POSTGRES_URL's role must be allowed to create databases: each run makes its own.
"""

import argparse
import base64
import concurrent.futures
import http.cookiejar
import json
import os
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
from benchlib import free_port, http_call, wait_for  # noqa: E402

failures = []


def check(name, passed, detail=""):
    print(("ok " if passed else "FAIL ") + name + ("" if passed or not detail else f": {detail}"), flush=True)
    if not passed:
        failures.append(name)


def database_for_run(admin_url):
    """A fresh database on the server POSTGRES_URL names, for this run only."""
    name = f"sb_scaleout_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parts = urllib.parse.urlsplit(admin_url)
    return name, urllib.parse.urlunsplit(parts._replace(path="/" + name))


def drop_database(admin_url, name):
    subprocess.run(["psql", admin_url, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


def start_nginx(work, port, upstreams, processes):
    os.makedirs(f"{work}/nginx/logs", exist_ok=True)
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in upstreams)
    with open(f"{work}/nginx/nginx.conf", "w") as conf:
        conf.write(f"""daemon off;
worker_processes 1;
pid {work}/nginx/nginx.pid;
error_log {work}/nginx/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx/body; proxy_temp_path {work}/nginx/proxy;
  fastcgi_temp_path {work}/nginx/fastcgi; uwsgi_temp_path {work}/nginx/uwsgi; scgi_temp_path {work}/nginx/scgi;
  upstream switchboard {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
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
    processes.append(subprocess.Popen([binary, "-p", f"{work}/nginx", "-c", f"{work}/nginx/nginx.conf"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(port, "nginx", "/health", seconds=20)


def browser():
    """A browser's cookies and redirects, for the start page, the provider and the callback."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def guide_flow(ports, balancer, provider, admin, client_id, client_secret):
    """The guide's Custom × pre-authorize steps, each on another instance; returns the integration's id."""
    step = iter(range(1000))

    def on_next(method, path, body=None):
        port = ports[next(step) % len(ports)]
        return http_call(port, method, path, body, admin)

    status, _, profile = on_next("POST", "/v1/auth-profiles", {
        "name": "Scale-out provider", "clientId": client_id, "clientSecret": client_secret,
        "authorizationURL": f"{provider}/authorize", "tokenURL": f"{provider}/token", "scopes": ["profile"], "pkce": True,
    })
    check("the profile is created (instance 1)", status == 201, profile)
    status, _, integration = on_next("POST", "/v1/integrations", {
        "name": "Scale-out bot", "app": "custom", "authProfileId": profile["id"], "authorization": "preauthorized",
    })
    check("the integration is created (instance 2)", status == 201, integration)
    integration_id = integration["id"]
    status, _, started = on_next("POST", f"/v1/integrations/{integration_id}/authorize", {})
    check("authorize answers the start page (instance 3)", status == 200 and "authorizationURL" in started, started)
    # The start page's button binds the authorization to this browser, on yet another instance; the provider approves
    # and sends the browser back to the callback through the balancer.
    start = urllib.parse.urlsplit(started["authorizationURL"])
    port = ports[next(step) % len(ports)]
    try:
        page = browser().open(urllib.request.Request(f"http://127.0.0.1:{port}{start.path}", data=b"", method="POST"), timeout=20)
        text = page.read().decode()
        check("start page → provider → callback: connected", page.status == 200 and "connected" in text, text[:300])
    except urllib.error.HTTPError as error:
        check("start page → provider → callback: connected", False, f"{error.code} {error.read()[:300]!r}")
    status, _, enabled = on_next("POST", f"/v1/integrations/{integration_id}/enable", {})
    check("enable proves the connection (another instance)", status == 200 and enabled.get("status") == "enabled", enabled)
    return integration_id


def burst(balancer, admin, integration_id, calls):
    """`calls` concurrent action calls through the balancer; their statuses."""
    def one(_):
        try:
            status, _, body = http_call(balancer, "POST", f"/v1/integrations/{integration_id}/actions/intercom.who_am_i", {"input": {}}, admin)
            return status, (body.get("code") if isinstance(body, dict) else None)
        except OSError as error:
            return 0, type(error).__name__
    with concurrent.futures.ThreadPoolExecutor(max_workers=calls) as pool:
        return list(pool.map(one, range(calls)))


def ok_run_users(balancer, admin, integration_id):
    """The end users named by the integration's successful runs in the audit log, all pages."""
    users, cursor = set(), None
    while True:
        path = f"/v1/runs?integration={integration_id}&outcome=ok&limit=100" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = http_call(balancer, "GET", path, headers=admin)
        if status != 200:
            raise SystemExit(f"GET /v1/runs answered {status}: {page}")
        users.update(run.get("userId") for run in page["data"])
        cursor = page.get("next")
        if not cursor:
            return users


# A run is acknowledged to its caller before it is written: `serve` batches the run log and writes it within
# RunBuffer.delay (100 ms) plus the write itself. A SIGKILL may lose the runs acknowledged that recently, no others.
RUN_BUFFER_WINDOW = 1.0


def kill_during_burst(ports, serves, balancer, admin, integration_id, calls):
    """`calls` concurrent calls sent round robin straight to the instances; one instance is killed (SIGKILL) while they
    run. Survivors must answer every call; acknowledged runs may be lost only from the killed instance's last window.
    Each call names its own end user, so that each acknowledged call is looked for in the audit log by name."""
    victim = len(ports) - 1
    answers = []
    lock = threading.Lock()

    def one(index):
        target = index % len(ports)
        try:
            status = http_call(ports[target], "POST", f"/v1/integrations/{integration_id}/actions/intercom.who_am_i",
                               {"input": {}, "user": {"id": f"kill-{index}"}}, admin)[0]
        except OSError:
            status = 0
        with lock:
            answers.append((target, status, time.time(), f"kill-{index}"))

    def fire():
        with concurrent.futures.ThreadPoolExecutor(max_workers=calls) as pool:
            list(pool.map(one, range(calls)))
    thread = threading.Thread(target=fire)
    thread.start()
    time.sleep(0.3)
    serves[victim].kill()
    killed_at = time.time()
    thread.join()
    serves[victim].wait()
    survivors_failed = [a for a in answers if a[0] != victim and a[1] != 200]
    check("kill -9 of an instance mid-burst: the other instances answer every call", not survivors_failed, survivors_failed[:5])
    time.sleep(RUN_BUFFER_WINDOW + 1)  # the survivors' run logs have been written
    recorded = ok_run_users(balancer, admin, integration_id)
    acknowledged = [a for a in answers if a[1] == 200]
    lost = [a for a in acknowledged if a[3] not in recorded]
    beyond = [a for a in lost if a[0] != victim or a[2] < killed_at - RUN_BUFFER_WINDOW]
    in_window = sum(1 for a in acknowledged if a[0] == victim and a[2] >= killed_at - RUN_BUFFER_WINDOW)
    check(f"kill -9: no acknowledged run lost beyond the killed instance's last {RUN_BUFFER_WINDOW:.0f} s", not beyond,
          f"{len(beyond)} lost outside it, e.g. {beyond[:3]}")
    after = burst(balancer, admin, integration_id, 60)
    check("after the kill, calls through nginx all succeed", all(a[0] == 200 for a in after), [a for a in after if a[0] != 200][:5])
    return {"acknowledged": len(acknowledged), "lost": len(lost), "lostBeyondWindow": len(beyond), "killedInstanceAcksInWindow": in_window,
            "killedInstanceFailed": sum(1 for a in answers if a[0] == victim and a[1] != 200)}


def provider_stats(port):
    return http_call(port, "GET", "/_stats")[2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("postgres_url")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--lifetime", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="sb-scaleout-")
    processes = []
    name, database = database_for_run(args.postgres_url)
    try:
        run(args, work, database, processes)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_database(args.postgres_url, name)
        shutil.rmtree(work, ignore_errors=True)
    print(f"scale-out: {len(failures)} check(s) failed" if failures else "scale-out: every check passed", flush=True)
    return 1 if failures else 0


def run(args, work, database, processes):
    environment = dict(os.environ, SWITCHBOARD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
    client_id, client_secret = "scaleout-client", base64.urlsafe_b64encode(os.urandom(24)).decode()
    provider_port, balancer = free_port(), free_port()
    provider = f"http://127.0.0.1:{provider_port}"
    here = os.path.dirname(os.path.abspath(__file__))
    processes.append(subprocess.Popen([args.python, f"{here}/provider.py", "--port", str(provider_port), "--client-id", client_id,
                                       "--client-secret", client_secret, "--lifetime", str(args.lifetime)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(provider_port, "the provider", "/_stats", seconds=30)

    subprocess.run([args.binary, "migrate", "--database-url", database], env=environment, check=True, capture_output=True)
    key = subprocess.run([args.binary, "keys", "create", "--workspace", "scale-out", "--database-url", database],
                         env=environment, capture_output=True, text=True, check=True).stdout.strip()
    admin = {"Authorization": f"Bearer {key}"}
    ports = [free_port() for _ in range(args.instances)]
    serves = []
    for index, port in enumerate(ports):
        log = open(f"{work}/serve-{index + 1}.log", "w")
        serves.append(subprocess.Popen(
            [args.binary, "serve", "--port", str(port), "--database-url", database, "--public-url", f"http://127.0.0.1:{balancer}",
             "--intercom-api-us", provider, "--intercom-api-eu", provider, "--intercom-api-au", provider,
             "--allow-private-network", "--log-level", "warning"],
            env=environment, stdout=log, stderr=log))
    processes.extend(serves)
    for index, port in enumerate(ports):
        wait_for(port, f"serve instance {index + 1}")
    start_nginx(work, balancer, ports, processes)
    print(f"scale-out: {args.instances} instances on one PostgreSQL behind nginx; access tokens live {args.lifetime} s", flush=True)

    integration_id = guide_flow(ports, balancer, provider, admin, client_id, client_secret)

    before = provider_stats(provider_port)
    outcomes = []
    for number in range(args.bursts):
        time.sleep(args.lifetime + 0.5)  # the stored access token has expired
        statuses = burst(balancer, admin, integration_id, args.burst)
        outcomes.extend(statuses)
        failed = [s for s in statuses if s[0] != 200]
        check(f"refresh burst {number + 1}: {args.burst} concurrent calls on an expired token all succeed", not failed,
              f"{len(failed)} failed, e.g. {failed[:5]}")
    after = provider_stats(provider_port)
    refreshes = after["refreshes"] - before["refreshes"]
    check(f"one refresh per expiry across {args.instances} instances", refreshes == args.bursts, f"{refreshes} refreshes for {args.bursts} expiries")
    check("no refresh token used twice", after["refresh_reused"] == 0, f"{after['refresh_reused']} refused reuses")
    status, _, integration = http_call(balancer, "GET", f"/v1/integrations/{integration_id}", headers=admin)
    connection = integration.get("connection", {}) if isinstance(integration, dict) else {}
    check("the connection is still active", connection.get("status") == "active", integration)

    killed = kill_during_burst(ports, serves, balancer, admin, integration_id, args.burst) if args.instances > 1 else {}
    status, _, integration = http_call(balancer, "GET", f"/v1/integrations/{integration_id}", headers=admin)
    connection = integration.get("connection", {}) if isinstance(integration, dict) else {}
    check("no half-stored connection: active and refreshable after the kill", connection.get("status") == "active" and connection.get("refreshable"),
          connection)

    ok = sum(1 for s in outcomes if s[0] == 200)
    print(json.dumps({"kill9": killed}), flush=True)
    print(json.dumps({
        "instances": args.instances, "calls": len(outcomes), "ok": ok, "failed": len(outcomes) - ok,
        "refreshes": refreshes, "expiries": args.bursts, "refreshTokenReuse": after["refresh_reused"],
        "providerRefused401": after["unauthorized"] - before["unauthorized"], "connection": connection.get("status"),
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
