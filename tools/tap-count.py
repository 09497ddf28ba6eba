#!/usr/bin/env python3
"""Counts TAP results in meson test logs and prints "N passed, N failed".

Each meson test is a criterion suite run with --tap; its output lists one
"ok"/"not ok" line per test case.  A suite that crashed or timed out before
printing its plan counts as one failure.  Exits 1 if anything failed or no
test ran.
"""
import json
import sys


def count(path):
    passed = failed = 0
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        return 0, 1
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        out = t.get("stdout") or t.get("stdo") or ""
        ok = sum(1 for l in out.splitlines() if l.startswith("ok "))
        bad = sum(1 for l in out.splitlines() if l.startswith("not ok "))
        good = t.get("result") in ("OK", "EXPECTEDFAIL")
        if ok + bad == 0:
            ok, bad = (1, 0) if good else (0, 1)
        elif not good and bad == 0:
            bad = 1
        passed += ok
        failed += bad
    return passed, failed


def main():
    passed = failed = 0
    for path in sys.argv[1:]:
        p, f = count(path)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
