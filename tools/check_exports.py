#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/check_exports.py - libshoal.so exports what libshoal.map lists,
each under its node, and the map lists what the public headers declare
with SHOAL_API (the test `exports`, run by `meson test`).

    check_exports.py --nm NM --lib libshoal.so --map libshoal.map HEADER...

Three sets of names, which must be equal:
  exported  `nm -D --defined-only` of the library, less the names of the
            version nodes themselves (nm lists them as absolute symbols);
  listed    the `global:` names of every node of the map;
  declared  the functions the headers declare with SHOAL_API (comments
            and preprocessor lines left out).
And each exported symbol carries the version of the node that lists it,
as its default version (name@@NODE).

What each difference means, and its fix, is printed; the exit status is
0 when they agree, 1 when not, 2 when an input cannot be read.
"""
import argparse
import re
import subprocess
import sys

COMMENT = re.compile(r"/\*.*?\*/", re.S)
NODE = re.compile(r"([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*([\w.]*)\s*;", re.S)
SECTION = re.compile(r"\b(global|local)\s*:")
DECL = re.compile(r"\bSHOAL_API\b[^;{(]*?\b([A-Za-z_]\w*)\s*\(")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        sys.exit("check_exports: %s" % e)


def map_names(path):
    """{name: node} of every global name, and the list of nodes."""
    text = COMMENT.sub(" ", read(path))
    text = "\n".join(l.split("#", 1)[0] for l in text.splitlines())
    names, nodes, errors = {}, [], []
    for node, body, _parent in NODE.findall(text):
        nodes.append(node)
        section = None
        for part in SECTION.split(body):
            part = part.strip()
            if part in ("global", "local"):
                section = part
                continue
            for name in filter(None, (n.strip() for n in part.split(";"))):
                if section != "global":
                    continue
                if not re.fullmatch(r"[A-Za-z_]\w*", name):
                    errors.append("%s: '%s' in %s is not a plain name "
                                  "(no patterns in global:)" % (path, name, node))
                elif name in names:
                    errors.append("%s: %s is in %s and in %s" %
                                  (path, name, names[name], node))
                else:
                    names[name] = node
    if not nodes:
        errors.append("%s: no version node" % path)
    return names, nodes, errors


def exported(nm, lib, nodes):
    """{name: (version, default)} of every defined dynamic symbol."""
    try:
        out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("check_exports: %s -D %s: %s" % (nm, lib, e))
    syms = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        kind, sym = fields[-2], fields[-1]
        if kind == "A" and sym.rstrip("@") in nodes:
            continue  # the version node itself
        name, at, version = sym.partition("@")
        default = version.startswith("@")
        syms[name] = (version.lstrip("@") if at else None, default)
    return syms


def declared(headers):
    names = {}
    for h in headers:
        text = COMMENT.sub(" ", read(h))
        text = "\n".join(l for l in text.splitlines()
                         if not l.lstrip().startswith("#"))
        for name in DECL.findall(text):
            names.setdefault(name, h)
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--map", required=True)
    ap.add_argument("headers", nargs="+")
    a = ap.parse_args()

    listed, nodes, errors = map_names(a.map)
    syms = exported(a.nm, a.lib, nodes)
    decl = declared(a.headers)

    for name in sorted(set(syms) - set(listed)):
        errors.append("%s exports %s, which %s does not list: add it to "
                      "the node of the next release, or make it static or "
                      "shoal__" % (a.lib, name, a.map))
    for name in sorted(set(listed) - set(syms)):
        errors.append("%s lists %s (%s), which %s does not export: "
                      "not defined, or not SHOAL_API where it is"
                      % (a.map, name, listed[name], a.lib))
    for name in sorted(set(listed) - set(decl)):
        errors.append("%s lists %s, which no public header declares "
                      "with SHOAL_API" % (a.map, name))
    for name in sorted(set(decl) - set(listed)):
        errors.append("%s declares %s with SHOAL_API, which %s does not "
                      "list: the library would not export it"
                      % (decl[name], name, a.map))
    for name in sorted(set(syms) & set(listed)):
        version, default = syms[name]
        if version != listed[name] or not default:
            errors.append("%s exports %s as %s%s%s, the map says @@%s"
                          % (a.lib, name, name, "@@" if default else "@",
                             version or "(no version)", listed[name]))
    for e in errors:
        print(e)
    print("exports: %d exported, %d listed in %d node%s (%s), %d declared; "
          "%d problem%s" % (len(syms), len(listed), len(nodes),
                            "" if len(nodes) == 1 else "s", " ".join(nodes),
                            len(decl), len(errors),
                            "" if len(errors) == 1 else "s"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
