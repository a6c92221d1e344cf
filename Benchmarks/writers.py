"""Concurrent writers on `switchboard serve` (SQLite) while two CPU hogs run: each of CLIENTS threads creates an
authorization profile and deletes it again (each request several writes: the row, the audit entry) for SECONDS; prints per binary
the requests answered, refused with 503 database_unavailable, and failed otherwise, the rate, and the slowest answer,
and the ratio of each binary to the first (the baseline), measured in the same run.

Usage: python3 Benchmarks/writers.py SECONDS CLIENTS NAME=BINARY [NAME=BINARY ...]"""
import base64, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import free_port, http_call, wait_for  # noqa: E402


def measure(binary, seconds, clients):
    work = tempfile.mkdtemp(prefix="sb-writers-")
    database = f"sqlite:{work}/switchboard.sqlite"
    master = base64.b64encode(os.urandom(32)).decode()
    subprocess.run([binary, "migrate", "--database-url", database, "--master-key", master], check=True, capture_output=True)
    made = subprocess.run([binary, "keys", "create", "--database-url", database, "--master-key", master, "--workspace", "Bench",
                           "--name", "writers"], check=True, capture_output=True, text=True).stdout
    key = next(word for word in made.split() if word.startswith("sbk_"))
    port = free_port()
    serve = subprocess.Popen([binary, "serve", "--database-url", database, "--master-key", master, "--port", str(port),
                              "--public-url", f"http://127.0.0.1:{port}", "--log-level", "error"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, "serve")
        auth = {"Authorization": f"Bearer {key}"}
        counts = {"ok": 0, "unavailable": 0, "other": 0}
        slowest = [0.0]
        lock = threading.Lock()
        stop = time.time() + seconds

        def client(number):
            n = 0
            while time.time() < stop:
                n += 1
                for step in ("create", "delete"):
                    started = time.time()
                    try:
                        if step == "create":
                            status, _, body = http_call(port, "POST", "/v1/auth-profiles", headers=auth, timeout=60, body={
                                "name": f"w{number}-{n}", "clientId": "cid", "clientSecret": "secret",
                                "authorizationURL": "https://app.intercom.com/oauth", "tokenURL": "https://api.intercom.io/auth/eagle/token"})
                            made_id = body.get("id") if isinstance(body, dict) else None
                        else:
                            if not made_id:
                                break
                            status, _, body = http_call(port, "DELETE", f"/v1/auth-profiles/{made_id}", headers=auth, timeout=60)
                    except OSError:
                        status, body = 0, None
                    elapsed = time.time() - started
                    kind = "ok" if status in (200, 201, 204) else "unavailable" if status == 503 else "other"
                    with lock:
                        counts[kind] += 1
                        slowest[0] = max(slowest[0], elapsed)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        began = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.time() - began
        return counts, counts["ok"] / took, slowest[0]
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def main():
    seconds, clients = float(sys.argv[1]), int(sys.argv[2])
    binaries = [arg.split("=", 1) for arg in sys.argv[3:]]
    hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
    try:
        results = [(name, measure(path, seconds, clients)) for name, path in binaries]
    finally:
        for hog in hogs:
            hog.kill()
    base_rate = results[0][1][1] or 1
    print(f"{clients} concurrent writers for {seconds:.0f} s each, two CPU hogs running")
    print(f"{'binary':<12}{'ok':>8}{'503':>8}{'other':>8}{'ok/s':>10}{'slowest':>10}{'vs ' + results[0][0]:>14}")
    for name, (counts, rate, slowest) in results:
        if counts["other"] and not counts["ok"]:
            raise SystemExit(f"{name}: every request failed (not a write the API accepts?)")
        print(f"{name:<12}{counts['ok']:>8}{counts['unavailable']:>8}{counts['other']:>8}{rate:>10.1f}{slowest:>9.2f}s{rate / base_rate:>13.2f}×")


if __name__ == "__main__":
    main()
