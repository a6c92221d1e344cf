"""Measures how long `serve` takes from exec to answering /health, and its memory once idle.

Each run starts a fresh process on a free loopback port (serve on a new, empty SQLite file, so every
run includes creating the schema) and polls /health every millisecond. The baseline is the sandbox
from the same binary, measured alternately in the same run, so machine noise hits both alike.
"""
import base64, http.client, os, socket, statistics, subprocess, sys, tempfile, time

binary, runs = sys.argv[1], int(sys.argv[2])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(args, env):
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([binary] + args(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = start + 30
        while not healthy(port):
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit(f"{args(port)[0]} did not start")
            time.sleep(0.001)
        ready_ms = (time.perf_counter() - start) * 1000
        time.sleep(2)  # idle
        return ready_ms, rss_kib(proc.pid) / 1024, rss_kib(proc.pid, "VmHWM") / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=15)


base_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
samples = {"sandbox": [], "serve": []}
for i in range(runs):
    samples["sandbox"].append(measure(lambda p: ["sandbox", "--port", str(p)], base_env))
    with tempfile.TemporaryDirectory() as directory:
        env = dict(base_env,
                   SWITCHBOARD_DATABASE_URL=f"sqlite:{directory}/switchboard.sqlite",
                   SWITCHBOARD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
                   SWITCHBOARD_LOG_LEVEL="warning")
        samples["serve"].append(measure(lambda p: ["serve", "--port", str(p)], env))


def summary(name):
    ready = [s[0] for s in samples[name]]
    rss = [s[1] for s in samples[name]]
    peak = [s[2] for s in samples[name]]
    return statistics.median(ready), max(ready), statistics.median(rss), statistics.median(peak)


print(f"switchboard start-up benchmark: {runs} runs each, release build, {os.cpu_count()} cores")
print(f"{'':28}{'ready p50':>11}{'ready max':>11}{'idle RSS':>11}{'peak RSS':>11}")
rows = {name: summary(name) for name in ("sandbox", "serve")}
labels = {"sandbox": "baseline: sandbox (no DB)", "serve": "serve (empty SQLite)"}
for name, (p50, worst, rss, peak) in rows.items():
    print(f"{labels[name]:28}{p50:9.1f}ms{worst:9.1f}ms{rss:8.1f}MiB{peak:8.1f}MiB")
b, s = rows["sandbox"], rows["serve"]
print(f"{'ratio serve / baseline':28}{s[0] / b[0]:10.2f}x{s[1] / b[1]:10.2f}x{s[2] / b[2]:10.2f}x{s[3] / b[3]:10.2f}x")
