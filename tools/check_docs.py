#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/check_docs.py - every public function is documented (the `docs`
test of the README's test command; CONTRIBUTING.md, "Code style").

For every SHOAL_API declaration in include/shoal/*.h and version.h.in:
  1. A comment directly before it (no blank line between), or, for a
     group of declarations written one after the other with no blank line
     and no comment between, one comment before the first of them.
  2. That comment says what the function returns when it fails: it names
     at least one error code (a negated errno such as -EINVAL, or one of
     shoal's own, SHOAL_E...), or says "No errors." (a function that
     cannot fail, such as one returning void or a plain value), or
     "never fails".

The comment's other duties (what the call does, which threads or
processes may make it at once, who owns and who frees what it returns)
are for review: only their absence of errors is machine-checked.

Usage: check_docs.py [HEADER...] (default: the public headers of the tree).
Exit status 0 if every declaration passes, 1 with one line per violation.
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import headerdoc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def public_headers():
    inc = os.path.join(ROOT, "include", "shoal")
    return sorted(glob.glob(os.path.join(inc, "*.h")) +
                  glob.glob(os.path.join(inc, "*.h.in")))


def check(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rel = os.path.relpath(path, ROOT)
    bad = []
    decls = headerdoc.declarations(text)
    for d in decls:
        if d.doc is None:
            bad.append("%s:%d: %s: no comment directly before it"
                       % (rel, d.line, d.name))
        elif not headerdoc.says_errors(d.doc):
            bad.append("%s:%d: %s: its comment (line %d) names no error "
                       "code and does not say \"No errors.\""
                       % (rel, d.line, d.name, d.doc_line))
    return bad, len(decls)


def main(argv):
    paths = argv[1:] or public_headers()
    bad = []
    total = 0
    for p in paths:
        b, n = check(p)
        bad += b
        total += n
    for line in bad:
        print(line)
    if bad:
        print("check_docs: %d of %d public declarations undocumented "
              "(CONTRIBUTING.md, \"Code style\": comments)" % (len(bad), total))
        return 1
    print("check_docs: %d public declarations, each with a comment that "
          "names its errors" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
