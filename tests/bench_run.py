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
  - the scaling curves (issue 12) are there: every curve has at least
    two points (x) per series, memcpy is measured at every size the put
    is, the curves' ratio metrics are emitted, and the summary prints the
    curves and their targets;
  - the summary table is printed;
  - nothing is left: no iox-roudi or redis-server of the run, no
    /tmp/shoal-bench-run.* directory, no /dev/shm file it created.
Then the same run interrupted (SIGINT to its process group, as Ctrl-C
does) once its servers are up: it ends, and leaves nothing either.
And bench/run with a stand-in shoal-bench that dies of the SIGINT it
sends its process group while bench/run waits for it (as a Ctrl-C that
lands between its fork and exec kills it): the run ends 130 within a
bound with its servers stopped (bash's nested wait blocked it for ever).
Then shoal-bench itself SIGKILLed in the middle of the curve families
that start runtimes (tasks_in_flight, actors_scaling): none of the
processes it forked (fork servers, workers, actors: the program's own
image, /proc/PID/exe) outlives it by more than a bound.
Exit 0 pass, 1 fail.
"""
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FIELDS = ["metric", "family", "system", "ray_name", "value", "unit", "min",
          "max", "median", "reps", "placement", "cpu_model", "cpus_online",
          "commit"]

# The scaling curves (issue 12): curve -> the series (metric stems) each
# must have, with at least two points even in smoke mode.
CURVES = {
    "put_bandwidth_vs_size": ["single_client_put_gigabytes", "memcpy_gigabytes"],
    "store_cost_vs_live_objects": ["live_objects_get_ns", "live_objects_hold_ns",
                                   "live_objects_put_ns", "random_line_read_ns"],
    "tasks_vs_in_flight": ["tasks_in_flight_first_wave", "tasks_in_flight_warm"],
    "actors_vs_count": ["actors_create_ns", "actors_first_call_ns",
                        "actors_calls_round_robin_ns", "actors_kill_ns"],
}
RATIOS = ["live_objects_get_ratio_", "tasks_first_wave_ratio_1k"]
POINT = re.compile(r"_\d+(B|KiB|MiB|GiB|k)?$")
KILL_BOUND_S = 30  # a runtime's fork server reaps its own within this


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


def sweep(before):
    """After a run had to be SIGKILLed (its traps never ran): its
    temporary directory, which nothing else removes.  Its servers die
    with it (setpriv --pdeathsig)."""
    for d in snapshot()["tmp"] - before["tmp"]:
        if d.startswith("shoal-bench-run."):
            shutil.rmtree(os.path.join("/tmp", d), ignore_errors=True)


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
        # A repetition's length: round trips for a distribution's point,
        # seconds for everything else.
        rep = "rep_samples" if "dist" in m else "rep_seconds"
        if not isinstance(m.get(rep), (int, float)) or m[rep] <= 0:
            fail("%s lacks %s" % (m["metric"], rep))
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
    check_curves(metrics, p.stdout)


def check_curves(metrics, summary):
    """The scaling curves: every series with two points or more, memcpy at
    the put's sizes, the ratio metrics, the summary's curve tables."""
    series = {}
    for m in metrics:
        if m.get("curve"):
            if not isinstance(m.get("x"), (int, float)):
                fail("%s: curve point without x" % m["metric"])
            stem = POINT.sub("", m["metric"])
            series.setdefault((m["curve"], stem), set()).add(m["x"])
    for curve, stems in CURVES.items():
        for stem in stems:
            xs = series.get((curve, stem), set())
            if len(xs) < 2:
                fail("curve %s: series %s has %d points" % (curve, stem, len(xs)))
        print("ok curve %s: %s" % (curve, ", ".join(
            "%s %d points" % (st, len(series[(curve, st)])) for st in stems)))
    put = series[("put_bandwidth_vs_size", "single_client_put_gigabytes")]
    copy = series[("put_bandwidth_vs_size", "memcpy_gigabytes")]
    if put != copy:
        fail("memcpy not at the put's sizes: %s vs %s" % (sorted(put), sorted(copy)))
    names = [m["metric"] for m in metrics]
    for r in RATIOS:
        if not any(n.startswith(r) and m["unit"] == "x"
                   for n, m in zip(names, metrics)):
            fail("no ratio metric %s*" % r)
    lo = [m for n, m in zip(names, metrics)
          if n.startswith("live_objects_get_ratio_")]
    if lo and not lo[0].get("floor_bound", 0) > 0:
        fail("%s has no floor_bound (the least ratio a get could show)"
             % lo[0]["metric"])
    for head in ("scaling curves", "targets the curves show"):
        if head not in summary:
            fail("the summary has no '%s' table" % head)


def run_interrupted(root, build):
    """bench/run interrupted once it said what it runs (servers up)."""
    before = snapshot()
    out = tempfile.NamedTemporaryFile(prefix="bench-run-", suffix=".jsonl",
                                      delete=False).name
    # --quick, not --smoke: the run must outlast the interrupt's way to
    # it on a loaded machine (a --smoke run of these families can end
    # before the SIGINT lands, and then it rightly ends 0).
    p = subprocess.Popen(
        [os.path.join(root, "bench/run"), "--quick", "--no-build", "--build",
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
        if p.poll() is not None:
            fail("bench/run ended (%d) before the interrupt" % p.returncode)
        os.killpg(p.pid, signal.SIGINT)
        rc = p.wait(timeout=60)
        if rc == 0:
            fail("bench/run ended 0 after SIGINT")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            sweep(before)
        os.unlink(out)
    check_clean(before, "bench/run interrupted")
    print("ok interrupted run: exit %d, nothing left" % rc)


# A shoal-bench that dies of the SIGINT it sends its own process group,
# bench/run's, once bench/run sleeps in its `wait` for it (the kernel's
# wait channel says so; 10 s at most): bench/run's INT trap then runs
# inside that wait.
SIGINT_DEATH = """#!/usr/bin/env python3
import os, signal, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    with open("/proc/%d/wchan" % os.getppid()) as f:
        if f.read() == "do_wait":
            break
    time.sleep(0.01)
os.killpg(0, signal.SIGINT)
time.sleep(60)
"""


def run_sigint_death(root):
    """bench/run whose shoal-bench dies of the run's SIGINT: it ends."""
    before = snapshot()
    fake = tempfile.mkdtemp(prefix="bench-run-fake-")
    out = os.path.join(fake, "out.jsonl")
    os.mkdir(os.path.join(fake, "bench"))
    bench = os.path.join(fake, "bench", "shoal-bench")
    with open(bench, "w") as f:
        f.write(SIGINT_DEATH)
    os.chmod(bench, 0o755)
    p = subprocess.Popen(
        [os.path.join(root, "bench/run"), "--quick", "--no-build", "--build",
         fake, "--out", out, "--family", "iceoryx,redis,floors"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            fail("bench/run whose shoal-bench died of its SIGINT did not "
                 "end in 60 s")
        if p.returncode != 130:
            fail("bench/run whose shoal-bench died of its SIGINT ended %d, "
                 "not 130:\n%s" % (p.returncode, err))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            sweep(before)
        shutil.rmtree(fake)
    check_clean(before, "bench/run whose shoal-bench died of SIGINT")
    print("ok shoal-bench dead of the run's SIGINT: exit 130, nothing left")


def ours_by_exe(bench):
    """pids of the processes running the program's image (bench): it, and
    every process it forked that did not exec (fork servers, workers,
    actors).  Other programs' processes, another build's included, have
    another image."""
    want = os.path.realpath(bench)
    pids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % d) == want:
                    pids.add(d)
            except OSError:
                pass
    return pids


def run_killed(build, family, procs):
    """shoal-bench SIGKILLed once `family` printed its first result and a
    runtime of it is up with `procs` processes forked (fork server,
    workers, actors): they go within KILL_BOUND_S.  (Its
    stores are memfds, never in /dev/shm: harness.c; other programs' files
    come and go there, so it is not watched here.)"""
    bench = os.path.join(build, "bench/shoal-bench")
    before = ours_by_exe(bench)
    p = subprocess.Popen([bench, "--smoke", "--json", "--family", family],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                fail("shoal-bench --family %s ended before its first result"
                     % family)
            if line.startswith('{"metric":"') and '"machine"' not in line[:20]:
                break
        else:
            fail("shoal-bench --family %s printed nothing in 300 s" % family)
        # a runtime up now: kill while its processes run
        forked = set()
        while len(forked) < procs and time.monotonic() < deadline:
            forked = ours_by_exe(bench) - before - {str(p.pid)}
            time.sleep(0.02)  # polling /proc, bounded by the deadline
        if len(forked) < procs:
            fail("shoal-bench --family %s: never %d processes forked (%d)"
                 % (family, procs, len(forked)))
        p.kill()
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    deadline = time.monotonic() + KILL_BOUND_S
    left = ours_by_exe(bench) - before
    while left and time.monotonic() < deadline:
        time.sleep(0.2)  # polling the kernel's process table, bounded
        left = ours_by_exe(bench) - before
    if left:
        fail("%s: processes left %d s after SIGKILL: %s"
             % (family, KILL_BOUND_S, sorted(left)))
    print("ok %s SIGKILLed mid-run: its %d forked processes gone"
          % (family, len(forked)))


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    root, build, peers = argv
    peers_built = set(filter(None, peers.split(",")))
    fams = families(os.path.join(build, "bench/shoal-bench"))
    run_smoke(root, build, peers_built, fams)
    run_interrupted(root, build)
    run_sigint_death(root)
    run_killed(build, "tasks_in_flight", 2)  # fork server, a worker
    run_killed(build, "actors_scaling", 6)   # fork server, worker, actors
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
