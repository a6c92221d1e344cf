"""Runs intercom.get_contact through Switchboard, beside the same Intercom call direct, through nginx, and through
the stack floor (the same proxy as nginx's on Hummingbird + AsyncHTTPClient, with nothing else).

One run starts: the sandbox (10,000 contacts, rate limit out of the way), `switchboard serve` on a fresh
SQLite file, wired to the sandbox as its Intercom, with an integration authorized through the sandbox's
real login and consent pages; nginx on loopback, proxying to the sandbox and adding the bearer header; and
the stack-floor proxy, when its binary is given. Each target gets the same load (1 wrk thread, 16 connections,
N seconds, after a 2-second warm-up), the targets taking turns for BENCH_ROUNDS rounds (default 3; medians
reported), then the same with one connection. The CPU time of the process in front of the sandbox, and of the
sandbox, is read from /proc around each run and divided by the requests served.

Through Switchboard each request also checks the admin API key, loads the integration and connection,
decrypts the token, validates the input, paces the call, renders the message and records the run in the audit log.
Usage: actions.py SWITCHBOARD_BINARY SECONDS [STACK_FLOOR_BINARY]
"""
import os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import find_contact, free_port, http_call, median, start_switchboard, wait_for, wrk as wrk_run  # noqa: E402

binary, seconds = sys.argv[1], int(sys.argv[2])
floor_binary = sys.argv[3] if len(sys.argv) > 3 else None
rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
work = tempfile.mkdtemp(prefix="switchboard-bench-")
processes = []


def wrk(*arguments, **options):
    return wrk_run(*arguments, work=work, seconds=seconds, **options)


try:
    system = start_switchboard(binary, work, processes)
    sandbox_port, serve_port, sandbox, admin, integration_id = (system[k] for k in ("sandbox_port", "serve_port", "sandbox", "admin", "integration_id"))
    nginx_port = free_port()
    # The same contact for every target; a token of the same app and workspace for the baselines.
    token, bearer, contact = find_contact(sandbox_port)
    status, _, ran = http_call(serve_port, "POST", f"/v1/integrations/{integration_id}/actions/intercom.get_contact",
                               {"input": {"contact_id": contact}}, admin)
    assert status == 200 and ran["result"]["id"] == contact, f"the action answered {status}: {ran}"

    os.makedirs(f"{work}/nginx/logs", exist_ok=True)
    with open(f"{work}/nginx/nginx.conf", "w") as conf:
        conf.write(f"""daemon off;
worker_processes auto;
pid {work}/nginx/nginx.pid;
error_log {work}/nginx/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx/body; proxy_temp_path {work}/nginx/proxy;
  fastcgi_temp_path {work}/nginx/fastcgi; uwsgi_temp_path {work}/nginx/uwsgi; scgi_temp_path {work}/nginx/scgi;
  upstream intercom {{ server 127.0.0.1:{sandbox_port}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{nginx_port};
    location / {{
      proxy_pass http://intercom;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer {token}";
      proxy_set_header Intercom-Version "2.14";
    }}
  }}
}}
""")
    nginx_binary = shutil.which("nginx") or "/usr/sbin/nginx"
    processes.append(subprocess.Popen([nginx_binary, "-p", f"{work}/nginx", "-c", f"{work}/nginx/nginx.conf"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(nginx_port, "nginx", f"/contacts/{contact}", seconds=10)

    sandbox_pid, serve_pid, nginx_pid = processes[0].pid, processes[1].pid, processes[-1].pid
    targets = [
        ("sandbox direct", sandbox_port, f"/contacts/{contact}", "GET", None, bearer, ()),
        ("nginx + bearer header", nginx_port, f"/contacts/{contact}", "GET", None, None, (nginx_pid,)),
        ("switchboard get_contact", serve_port, f"/v1/integrations/{integration_id}/actions/intercom.get_contact", "POST",
         {"input": {"contact_id": contact}}, admin, (serve_pid,)),
    ]
    if floor_binary:
        # The same proxy as nginx's, on Switchboard's stack (Hummingbird + AsyncHTTPClient) with nothing else.
        floor_port = free_port()
        processes.append(subprocess.Popen([floor_binary, str(floor_port), sandbox, token, f"/contacts/{contact}"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(floor_port, "the stack-floor proxy", f"/contacts/{contact}", seconds=10)
        targets.append(("stack floor (HB + AHC)", floor_port, f"/contacts/{contact}", "GET", None, None, (processes[-1].pid,)))
        # The same floor for a request shaped like Switchboard's: a POST whose JSON body is read.
        targets.append(("stack floor, POST shape", floor_port, f"/v1/integrations/{integration_id}/actions/intercom.get_contact", "POST",
                        {"input": {"contact_id": contact}}, admin, (processes[-1].pid,)))
    if os.environ.get("BENCH_DIAGNOSE"):
        # Where the time goes: the server alone, then an admin read (key check and one query).
        targets += [
            ("serve GET /health", serve_port, "/health", "GET", None, None, (serve_pid,)),
            ("serve GET integration", serve_port, f"/v1/integrations/{integration_id}", "GET", None, admin, (serve_pid,)),
        ]
    # Rounds, each target in turn, so that a slow spell of the machine touches every target alike; medians reported.
    runs = {target[0]: [] for target in targets}
    for _ in range(rounds):
        for name, port, path, method, body, headers, front in targets:
            runs[name].append(wrk(name, port, path, method, body, headers, front, sandbox_pid))
    # One connection: each call's own latency, without waiting behind others.
    single = {target[0]: [] for target in targets[:5]}
    for _ in range(rounds):
        for name, port, path, method, body, headers, front in targets[:5]:
            single[name].append(wrk(name, port, path, method, body, headers, front, sandbox_pid, connections=1))
    results = []
    for name, measured in runs.items():
        summary = {key: median([m[key] for m in measured]) for key in ("rps", "p50", "p99")}
        summary["errors"] = sum(m["errors"] for m in measured)
        for key in ("front_us", "sandbox_us"):
            values = [m[key] for m in measured if m[key] is not None]
            summary[key] = median(values) if values else None
        results.append(dict(name=name, **summary))
finally:
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(work, ignore_errors=True)

print(f"actions benchmark: GET one contact of 10,000; wrk 1 thread x 16 connections; {rounds} rounds of {seconds}s per target, "
      f"medians; {os.cpu_count()} cores")
print(f"{'':26}{'req/s':>9}{'p50':>10}{'p99':>10}{'errors':>8}{'vs nginx':>10}{'proxy CPU':>12}{'sandbox CPU':>13}")
by_name = {r["name"]: r for r in results}
nginx, direct, switchboard = by_name["nginx + bearer header"], by_name["sandbox direct"], by_name["switchboard get_contact"]
for r in results:
    front = f"{r['front_us']:8.0f} µs" if r["front_us"] is not None else ""
    print(f"{r['name']:26}{r['rps']:9.0f}{r['p50']:8.2f}ms{r['p99']:8.2f}ms{r['errors']:8d}{r['rps'] / nginx['rps']:9.2f}x"
          f"{front:>12}{r['sandbox_us']:10.0f} µs")
print("(CPU: time the process in front of the sandbox, and the sandbox, spent per request)")
floor, post_floor = by_name.get("stack floor (HB + AHC)"), by_name.get("stack floor, POST shape")
if floor:
    print(f"the stack floor reaches {floor['rps'] / nginx['rps']:.2f}x nginx ({post_floor['rps'] / nginx['rps']:.2f}x in Switchboard's POST shape); "
          f"switchboard reaches {switchboard['rps'] / post_floor['rps']:.2f}x the POST-shaped floor, spending "
          f"{switchboard['front_us'] - post_floor['front_us']:.0f} µs of CPU per request more")
print()
print("one connection (no queueing): each call's own latency")
print(f"{'':26}{'req/s':>9}{'p50':>10}{'p99':>10}{'p50 over nginx':>16}{'p99 over nginx':>16}")
single_nginx = median([m["p50"] for m in single["nginx + bearer header"]]), median([m["p99"] for m in single["nginx + bearer header"]])
for name, measured in single.items():
    rps, p50, p99 = (median([m[key] for m in measured]) for key in ("rps", "p50", "p99"))
    print(f"{name:26}{rps:9.0f}{p50:8.2f}ms{p99:8.2f}ms{p50 - single_nginx[0]:+14.2f}ms{p99 - single_nginx[1]:+14.2f}ms")
print()
print(f"switchboard: {switchboard['rps'] / nginx['rps']:.2f}x nginx's throughput (target >= 0.80); "
      f"p99 added over the direct call {switchboard['p99'] - direct['p99']:+.2f} ms, over nginx {switchboard['p99'] - nginx['p99']:+.2f} ms (target < 2 ms); "
      f"with one connection, over nginx {median([m['p99'] for m in single['switchboard get_contact']]) - single_nginx[1]:+.2f} ms")
