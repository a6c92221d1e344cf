"""The end-to-end scripts' one way to report: a line per check ("ok …" or "FAIL …: why"), the failures kept for the
exit status, and, last, every failed check again with its detail (`summary`), so that the end of the output, which a
test's failure message carries, names what failed."""

failures: list[str] = []


def check(name: str, condition: bool, detail: object = "") -> None:
    if condition:
        print(f"ok {name}", flush=True)
    else:
        failures.append(f"{name}: {detail}" if detail != "" else name)
        print(f"FAIL {name}: {detail}", flush=True)


def summary(what: str) -> int:
    """Prints the failed checks, each with its detail, as the last lines; returns the exit status."""
    if not failures:
        print(f"{what}: every check passed", flush=True)
        return 0
    print(f"{what}: {len(failures)} check(s) failed:", flush=True)
    for failure in failures:
        print(f"FAILED {failure}", flush=True)
    return 1
