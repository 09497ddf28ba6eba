#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/check_calls.py - no layer calls one above it: the layering rules
on the built objects, where check_layers.py checks them on the includes.

An include path stops a file from including a header of a layer above
it, but not from declaring a function by hand and calling it.  This
reads the symbols of each layer's static library (nm) and fails on any
reference from a layer to a symbol defined in a layer that is not below
it (or its own).  The order, bottom up:

    base  <  store, ring (not each other)  <  rt  <  task  <  actor  <  proc

Usage: check_calls.py --nm NM LAYER=ARCHIVE ...  (meson's `calls` test)
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layers  # noqa: E402  (the one statement of the order)


def layer_order():
    """LAYER -> the layers below it, from check_layers: its layers with
    runtime/ split into its folders (rt is runtime/ itself)."""
    below = {l: set(b) for l, b in check_layers.BELOW.items() if l != "runtime"}
    under = set(check_layers.BELOW["runtime"])
    for folder in check_layers.RUNTIME_ORDER:
        name = folder or "rt"
        below[name] = set(under)
        under.add(name)
    return below


BELOW = layer_order()


NM_LINE = re.compile(r"^[^:]*:([^:]*):\s*[0-9a-fA-F]*\s+([A-Za-z])\s+(\S+)$")


def symbols(nm, archive):
    """The global symbols an archive defines, and those it references
    (name -> the objects that reference it)."""
    out = subprocess.run([nm, "-A", "-g", archive], check=True,
                         capture_output=True, text=True).stdout
    defined, undefined = set(), {}
    for line in out.splitlines():
        m = NM_LINE.match(line)
        if not m:
            continue
        obj, kind, name = m.groups()
        if kind == "U":
            undefined.setdefault(name, set()).add(obj)
        else:
            defined.add(name)
    return defined, undefined


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nm", default="nm")
    ap.add_argument("layers", nargs="+", help="LAYER=ARCHIVE")
    args = ap.parse_args()
    defs, undefs = {}, {}
    for spec in args.layers:
        layer, _, archive = spec.partition("=")
        if layer not in BELOW:
            print("unknown layer %s" % layer)
            return 2
        defs[layer], undefs[layer] = symbols(args.nm, archive)
    owner = {}
    for layer, names in defs.items():
        for n in names:
            owner.setdefault(n, layer)
    errors = 0
    for layer, refs in sorted(undefs.items()):
        for sym, objs in sorted(refs.items()):
            target = owner.get(sym)
            if target is None or target == layer or target in BELOW[layer]:
                continue
            print("%s (%s) calls %s, defined in %s: %s is not below %s"
                  % (layer, ", ".join(sorted(objs)), sym, target, target, layer))
            errors += 1
    print("calls: %d layers, %d upward references" % (len(defs), errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
