#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/check_layers.py - the library's layering rules, checked on its
sources (a test of the README's test command, so CI keeps them true).

The layers, bottom up (CONTRIBUTING.md, "Layers"):

    base/            depends on nothing of ours
    store/  ring/    each depends on base/ only (not on each other)
    runtime/         depends on all three

Rules checked, for every .c and .h of the library folders:
  1. A quoted #include names a bare file name (no "../", no folder): the
     build's include path decides what a layer can reach, never a path.
  2. It resolves to the file's own layer, or to a header that a lower
     layer declares for the layers above it: every header of base/,
     store/ext.h, ring/queue.h and ring/lane.h.  Nothing else of another
     layer (store/internal.h, layout.h, heap.h stay private to store/).
  3. Within runtime/, its folders task/, actor/ and proc/ are ordered too
     (runtime/ < task/ < actor/ < proc/; see RUNTIME_ORDER): a folder
     includes only its own headers and those of the folders before it.
  4. Header names are unique across the library (the include path is a
     list of folders, so a duplicate name would resolve by order).
  5. No file of the library is longer than MAX_LINES.

Exit status 0 if every rule holds, 1 with one line per violation.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["base", "store", "ring", "runtime"]
BELOW = {
    "base": [],
    "store": ["base"],
    "ring": ["base"],
    "runtime": ["base", "store", "ring"],
}
# What a layer offers the layers above it (None: every header it has).
EXPORTS = {
    "base": None,
    "store": {"ext.h"},
    "ring": {"queue.h", "lane.h"},
    "runtime": set(),
}
# runtime/'s folders in order: each may include the headers of those
# before it ("" is runtime/ itself).
RUNTIME_ORDER = ["", "task", "actor", "proc"]
MAX_LINES = 700
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def library_files():
    for layer in LAYERS:
        for dirpath, _, names in os.walk(os.path.join(ROOT, layer)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield layer, os.path.relpath(os.path.join(dirpath, n), ROOT)


def runtime_folder(rel):
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 else ""


def main():
    errors = []
    files = list(library_files())
    headers = {}
    for layer, rel in files:
        if rel.endswith(".h"):
            headers.setdefault(os.path.basename(rel), []).append((layer, rel))
    for name, where in sorted(headers.items()):
        if len(where) > 1:
            errors.append("header name %s is not unique: %s" %
                          (name, ", ".join(r for _, r in where)))
    for layer, rel in files:
        with open(os.path.join(ROOT, rel)) as f:
            lines = f.read().splitlines()
        if len(lines) > MAX_LINES:
            errors.append("%s: %d lines (at most %d: split it along its seams)"
                          % (rel, len(lines), MAX_LINES))
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            where = "%s:%d: #include \"%s\"" % (rel, no, inc)
            if "/" in inc:
                errors.append(where + ": a bare header name, not a path")
                continue
            if inc not in headers:
                errors.append(where + ": no such header in the library")
                continue
            tlayer, trel = headers[inc][0]
            if tlayer == layer:
                if layer == "runtime":
                    mine = RUNTIME_ORDER.index(runtime_folder(rel))
                    theirs = RUNTIME_ORDER.index(runtime_folder(trel))
                    if theirs > mine:
                        errors.append(where + ": runtime/%s is above runtime/%s"
                                      % (runtime_folder(trel) or ".",
                                         runtime_folder(rel) or "."))
                continue
            if tlayer not in BELOW[layer]:
                errors.append(where + ": %s/ is not below %s/" % (tlayer, layer))
                continue
            ex = EXPORTS[tlayer]
            if ex is not None and inc not in ex:
                errors.append(where + ": %s is private to %s/ (it offers %s)"
                              % (trel, tlayer, ", ".join(sorted(ex))))
    for e in errors:
        print(e)
    print("layers: %d files, %d violations" % (len(files), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
