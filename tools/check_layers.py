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
  6. Every memory order stronger than relaxed (memory_order_acquire,
     _release, _acq_rel, _seq_cst, and the __ATOMIC_ builtins' names)
     names a protocol label, PREFIX-R1, -A1 or -S1 (CONTRIBUTING.md,
     "Code style"), in a comment of its statement or in the comment that
     heads its paragraph (the lines above it up to a blank line or a
     block's edge, or, in a function's first paragraph, the comment above
     the function).  UNLABELLED lists the files exempt for now.

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
ORDER = re.compile(r"memory_order_(?:acquire|release|acq_rel|seq_cst)\b|"
                   r"__ATOMIC_(?:ACQUIRE|RELEASE|ACQ_REL|SEQ_CST)\b")
LABEL = re.compile(r"\b[A-Z]{1,5}-[RAS][0-9]+\b")
# Rule 6's exemptions (none: every file labels its orders).
UNLABELLED = set()


def library_files():
    for layer in LAYERS:
        for dirpath, _, names in os.walk(os.path.join(ROOT, layer)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield layer, os.path.relpath(os.path.join(dirpath, n), ROOT)


def split_comments(lines):
    """Each line as (code, comment text); block comments span lines."""
    out, inblock = [], False
    for line in lines:
        code, com, i = [], [], 0
        while i < len(line):
            if inblock:
                j = line.find("*/", i)
                com.append(line[i:] if j < 0 else line[i:j])
                i, inblock = (len(line), True) if j < 0 else (j + 2, False)
            elif line.startswith("/*", i):
                inblock, i = True, i + 2
            elif line.startswith("//", i):
                com.append(line[i + 2:])
                i = len(line)
            elif line[i] == '"':
                j = i + 1
                while j < len(line) and line[j] != '"':
                    j += 2 if line[j] == "\\" else 1
                code.append(line[i:j + 1])
                i = j + 1
            else:
                code.append(line[i])
                i += 1
        out.append(("".join(code).strip(), " ".join(com)))
    return out


def ends_statement(code):
    return code.endswith((";", "{", "}")) or code.startswith("#")


def heading(parts, j):
    """First line of the comment that heads the paragraph of the statement
    starting at j: up through the paragraph's code (no blank line, no block
    edge), and from a function's opening brace through its signature."""
    k = j
    while k > 0:
        code, com = parts[k - 1]
        if not code and com.strip():
            while k > 0 and not parts[k - 1][0] and parts[k - 1][1].strip():
                k -= 1
            return k
        if not code or code.endswith("}") or (code.endswith("{") and code != "{"):
            return j
        k -= 1
    return j


def unlabelled_orders(lines):
    """Line numbers of the memory orders that name no label (rule 6)."""
    parts = split_comments(lines)
    bad = []
    for i, (code, _) in enumerate(parts):
        if not ORDER.search(code):
            continue
        j = i
        while j > 0 and parts[j - 1][0] and not ends_statement(parts[j - 1][0]):
            j -= 1
        depth, e = 0, j
        while e < len(parts):
            c = parts[e][0]
            depth += c.count("(") - c.count(")")
            if e >= i and (ends_statement(c) or (depth <= 0 and c.endswith(")"))):
                break
            e += 1
        if not LABEL.search(" ".join(p[1] for p in parts[heading(parts, j):e + 1])):
            bad.append(i + 1)
    return bad


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
        if rel not in UNLABELLED:
            for no in unlabelled_orders(lines):
                errors.append("%s:%d: a memory order with no label (PREFIX-R1, "
                              "-A1, -S1) in its statement or the comment "
                              "above it" % (rel, no))
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
