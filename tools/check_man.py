#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/check_man.py - the man pages are complete and render cleanly
(the `man` test; man/meson.build builds the pages with gen_man.py).

  1. Every function libshoal.map exports has its page, <name>.3, in DIR,
     and shoal.7 and shoal.1 are there.
  2. Each page renders without a warning: with `man -l` (man-db, its
     groff warnings on) when man is installed, else with
     `groff -man -Tutf8 -ww`.  With neither (a minimal Debian has no
     groff-base), step 2 is skipped and says so; CI installs groff-base.

Usage: check_man.py --map libshoal.map --dir build/man
Exit status 0, or 1 with one line per missing page or warning.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def map_names(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return re.findall(r"^\s*(shoal_\w+);", text, re.M)


def render(page):
    """The renderer's complaints about page ('' if none)."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_STDERR="1")
    if shutil.which("man"):
        cmd = ["man", "--warnings=w", "-E", "UTF-8", "-l", page]
    else:
        cmd = ["groff", "-man", "-Tutf8", "-ww", "-z", page]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=30)
    err = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode != 0 and not err:
        err = "exit status %d" % r.returncode
    if r.returncode == 0 and not r.stdout.strip() and cmd[0] == "man":
        err = err or "rendered nothing"
    return err


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--map", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args(argv[1:])

    bad = []
    pages = [n + ".3" for n in map_names(a.map)] + ["shoal.7", "shoal.1"]
    for p in pages:
        if not os.path.isfile(os.path.join(a.dir, p)):
            bad.append("%s: missing (tools/gen_man.py)" % p)
    renderer = "man" if shutil.which("man") else (
        "groff" if shutil.which("groff") else None)
    if renderer is None:
        print("check_man: neither man nor groff is installed: pages not "
              "rendered (apt-get install groff-base)")
    else:
        for p in pages:
            path = os.path.join(a.dir, p)
            if os.path.isfile(path):
                err = render(path)
                if err:
                    bad.append("%s: %s" % (p, err.replace("\n", " | ")))
    for line in bad:
        print(line)
    if bad:
        return 1
    print("check_man: %d pages%s" % (len(pages), (", each rendered by %s "
          "without a warning" % renderer) if renderer else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
