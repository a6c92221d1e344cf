"""The end-to-end scripts' one way to report: a line per check ("ok …" or "FAIL …: why"), and the failures kept
for the exit status."""

failures: list[str] = []


def check(name: str, condition: bool, detail: object = "") -> None:
    if condition:
        print(f"ok {name}", flush=True)
    else:
        failures.append(name)
        print(f"FAIL {name}: {detail}", flush=True)
