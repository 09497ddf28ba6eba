#!/usr/bin/env python3
"""tests/bench_run.py - the bench_run test: bench/run --smoke end to end.

    bench_run.py SOURCE_ROOT BUILD_DIR PEERS_BUILT

Runs bench/run --smoke (no build: meson built shoal-bench) into a
temporary results file and checks, to catch breakage, never to judge
speed:
  - every family shoal-bench --help lists has a result line, and no line
    is an error;
  - every peer that is installed (built in, PEERS_BUILT, and its server
    on PATH) has results, never a skip; one that is not says it skipped;
  - every line carries the fields the issue asks (machine, placement,
    repetitions, min/median/max, commit, ray_name) and no two share a name;
  - the summary table is printed;
  - nothing is left: no iox-roudi or redis-server of the run, no
    /tmp/shoal-bench-run.* directory, no /dev/shm file it created.
Then the same run interrupted (SIGINT to its process group, as Ctrl-C
does) once its servers are up: it ends, and leaves nothing either.
Exit 0 pass, 1 fail.
"""
import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FIELDS = ["metric", "family", "system", "ray_name", "value", "unit", "min",
          "max", "median", "reps", "placement", "cpu_model", "cpus_online",
          "commit"]


def fail(msg):
    print("not ok: " + msg)
    sys.exit(1)


def families(bench):
    out = subprocess.run([bench, "--help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    names = {}
    for line in out.split("families (system) and their metrics:")[1].splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("("):
            names[parts[0]] = parts[1].strip("()")
    return names


def ours(pattern):
    """pids of processes whose command line contains pattern."""
    r = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return set(r.stdout.split())


def snapshot():
    """What a run could leave: its servers, its temporary directory and
    iceoryx's sockets in /tmp, RouDi's lock and /dev/shm files (named
    iceoryx_mgmt and after the user).  Other programs' files come and go
    on a shared machine: only these names count."""
    shm = {"iceoryx_mgmt", getpass.getuser()}
    return {
        "roudi": ours("iox-roudi -c bench/peers/roudi.toml"),
        "redis": ours("redis-server.*shoal-bench-run"),
        "tmp": {d for d in os.listdir("/tmp")
                if d.startswith("shoal-bench") or d.startswith("iox-")},
        "shm": {f for f in os.listdir("/dev/shm") if f in shm},
    }


def check_clean(before, what):
    after = snapshot()
    for k in ("roudi", "redis", "tmp", "shm"):
        left = after[k] - before[k]
        if left:
            fail("%s left %s behind: %s" % (what, k, sorted(left)))


def run_smoke(root, build, peers_built, fams):
    out = tempfile.NamedTemporaryFile(prefix="bench-run-", suffix=".jsonl",
                                      delete=False).name
    before = snapshot()
    try:
        p = subprocess.run(
            [os.path.join(root, "bench/run"), "--smoke", "--no-build",
             "--build", build, "--out", out],
            capture_output=True, text=True, timeout=540, start_new_session=True)
        print(p.stderr[-3000:])
        if p.returncode != 0:
            fail("bench/run --smoke exited %d" % p.returncode)
        lines = [json.loads(l) for l in open(out) if l.startswith("{")]
    finally:
        os.unlink(out)
    check_clean(before, "bench/run --smoke")
    if "shoal ÷ best peer" not in p.stdout:
        fail("no summary table in bench/run's output:\n" + p.stdout)

    metrics = [l for l in lines if "metric" in l and l["metric"] != "machine"
               and "error" not in l]
    errors = [l for l in lines if "error" in l]
    skipped = {l["family"]: l for l in lines if "skipped" in l}
    if errors:
        fail("error lines: %s" % errors)
    names = [m["metric"] for m in metrics]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        fail("names used twice: %s" % sorted(dup))
    for m in metrics:
        missing = [f for f in FIELDS if f not in m]
        if missing:
            fail("%s lacks %s" % (m["metric"], missing))
    servers = {"iceoryx": "iox-roudi", "redis": "redis-server"}
    optional = {"zmq", "iceoryx", "redis"}
    measured = {m["family"] for m in metrics}
    for fam in fams:
        installed = fam not in optional or (
            fam in peers_built and
            (fam not in servers or shutil.which(servers[fam])))
        if installed and fam not in measured:
            fail("family %s installed but has no result (skipped: %s)"
                 % (fam, skipped.get(fam)))
        if not installed and fam not in skipped:
            fail("family %s not installed and not said skipped" % fam)
        print("ok family %s: %s" % (fam, "measured" if fam in measured
                                    else "skipped (not installed)"))
    if not any(m["ray_name"] for m in metrics) or all(m["ray_name"] for m in metrics):
        fail("ray_name is not true for Ray's names only")


def run_interrupted(root, build):
    """bench/run interrupted once it said what it runs (servers up)."""
    before = snapshot()
    out = tempfile.NamedTemporaryFile(prefix="bench-run-", suffix=".jsonl",
                                      delete=False).name
    p = subprocess.Popen(
        [os.path.join(root, "bench/run"), "--smoke", "--no-build", "--build",
         build, "--out", out, "--family", "iceoryx,redis,floors"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while time.monotonic() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            seen += line
            if "shoal-bench --json" in line:  # servers started
                break
        else:
            fail("bench/run did not start shoal-bench:\n" + seen)
        os.killpg(p.pid, signal.SIGINT)
        rc = p.wait(timeout=60)
        if rc == 0:
            fail("bench/run ended 0 after SIGINT")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        os.unlink(out)
    check_clean(before, "bench/run interrupted")
    print("ok interrupted run: exit %d, nothing left" % rc)


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    root, build, peers = argv
    peers_built = set(filter(None, peers.split(",")))
    fams = families(os.path.join(build, "bench/shoal-bench"))
    run_smoke(root, build, peers_built, fams)
    run_interrupted(root, build)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
