# SPDX-License-Identifier: MIT
"""tools/headerdoc.py - reads the public headers' declarations and the
comments that document them (used by check_docs.py and gen_man.py).

A header is cut into items, one per line or per multi-line construct:
a comment that starts a line (/* ... */), a SHOAL_API declaration (from
its first line to the ';' that ends it), a blank line, or anything else.
A declaration's comment is the comment item directly before it, with no
blank line between; declarations that follow each other with no blank
line and no comment between share the comment above the first (a group).
The header's overview is its first comment after the SPDX line.
"""
import re

ERRORS_RE = re.compile(
    r"(?<![A-Za-z0-9_])-E[A-Z0-9]{2,}\b"   # a negated errno: -EINVAL
    r"|\bSHOAL_E[A-Z]+\b"                  # one of shoal's own codes
    r"|\bNo errors\b"                      # a function that cannot fail
    r"|\bnever fails\b")
NAME_RE = re.compile(r"\b(shoal_\w+)\s*\(")


class Item:
    def __init__(self, kind, first, last, lines):
        self.kind = kind          # 'comment', 'decl', 'blank', 'other'
        self.first = first        # 1-based line numbers
        self.last = last
        self.lines = lines


def split_items(text):
    lines = text.split("\n")
    items = []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("/*"):
            j = i
            while "*/" not in lines[j] and j + 1 < len(lines):
                j += 1
            items.append(Item("comment", i + 1, j + 1, lines[i:j + 1]))
        elif s.startswith("SHOAL_API"):
            j = i
            while ";" not in lines[j] and j + 1 < len(lines):
                j += 1
            items.append(Item("decl", i + 1, j + 1, lines[i:j + 1]))
        elif not s:
            j = i
            items.append(Item("blank", i + 1, i + 1, lines[i:i + 1]))
        else:
            j = i
            items.append(Item("other", i + 1, i + 1, lines[i:i + 1]))
        i = j + 1
    return items


def comment_text(lines):
    """The text of a comment, without its markers and its ' * ' margin:
    a list of lines, blank lines kept (paragraph breaks)."""
    out = []
    for n, line in enumerate(lines):
        s = line.strip()
        if n == 0:
            s = s[2:]
        if s.endswith("*/"):
            s = s[:-2]
        s = s.rstrip()
        if n > 0:
            if s.startswith("* "):
                s = s[2:]
            elif s == "*":
                s = ""
        elif s.startswith(" "):
            s = s[1:]
        out.append(s)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


class Decl:
    def __init__(self, name, line, decl, doc, doc_line, grouped):
        self.name = name          # shoal_put
        self.line = line          # where SHOAL_API is
        self.decl = decl          # the declaration, SHOAL_API removed
        self.doc = doc            # its comment's lines, or None
        self.doc_line = doc_line  # where that comment starts
        self.grouped = grouped    # shares the comment of a declaration above


def declarations(text):
    items = split_items(text)
    out = []
    for k, it in enumerate(items):
        if it.kind != "decl":
            continue
        joined = " ".join(l.strip() for l in it.lines)
        m = NAME_RE.search(joined)
        name = m.group(1) if m else "?"
        decl = "\n".join(it.lines)
        decl = re.sub(r"^SHOAL_API\s+", "", decl)
        j = k - 1
        while j >= 0 and items[j].kind == "decl":
            j -= 1
        doc = doc_line = None
        if j >= 0 and items[j].kind == "comment":
            doc = comment_text(items[j].lines)
            doc_line = items[j].first
        out.append(Decl(name, it.first, decl, doc, doc_line, j < k - 1))
    return out


def overview(text):
    """The header's first comment after the SPDX line, as lines."""
    for it in split_items(text):
        if it.kind == "comment" and "SPDX-License-Identifier" not in it.lines[0]:
            return comment_text(it.lines)
    return []


def says_errors(doc):
    return bool(ERRORS_RE.search(" ".join(doc)))
