"""Checks on an XML document from the network before any parser sees it: what its prolog says
(DOCTYPE, root element), whether it ends, how deep it nests, and its DOCTYPE removed when that
DOCTYPE declares entities. Cheap, linear in the input, and for any XML source.

Why a parser is not trusted to do this itself: feedparser 6.0.14 re-declares "safe" internal
entities and its loose parser expands them (a small feed with a long entity used thousands of
times inflates to gigabytes); it keeps the entries of a truncated document, the last one half
read; and its cost grows faster than the nesting depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParseError

SNIFF_BYTES = 8192
MAX_DEPTH = 256  # libxml2's own limit; real feeds nest about 5 deep, XHTML content a few more

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"), (b"\xef\xbb\xbf", "utf-8"),
)
_NO_BOM = (
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"),
)
_SKIP = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([^\s>\[]+)", re.I)
_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_TAG = re.compile(rb"<(/?)([A-Za-z_][^\s/<>]*)[^<>]*?(/?)>")  # never crosses a "<": linear time on any input
_VOID = frozenset(b"area base br col embed hr img input meta param source track wbr".split())


@dataclass(frozen=True, slots=True)
class Prolog:
    doctype: str | None  # the DOCTYPE's name, lower case
    root: str | None  # the root element's local name, lower case; None when not seen


def head_codec(body: bytes) -> str:
    """The encoding a BOM or the first character's width shows; latin-1 when neither does."""
    for marks in (_BOMS, _NO_BOM):
        for mark, codec in marks:
            if body.startswith(mark):
                return codec
    return "latin-1"


def head_text(body: bytes) -> str:
    """The first few kB as text, enough to see the prolog and the root element's name."""
    return body[:SNIFF_BYTES].decode(head_codec(body), "ignore").lstrip("\ufeff")


def tail_text(body: bytes) -> str:
    """The last few kB as text, decoded as `head_text` decodes the start."""
    start = max(0, len(body) - SNIFF_BYTES) // 4 * 4  # UTF-16/32 stay aligned
    return body[start:].decode(head_codec(body), "ignore")


def sniff(body: bytes) -> Prolog:
    """The DOCTYPE name and root element local name from the start of a document."""
    text = head_text(body)
    pos, doctype = 0, None
    while pos < len(text):
        skipped = _SKIP.match(text, pos)
        if skipped and skipped.end() > pos:
            pos = skipped.end()
            continue
        found = _DOCTYPE.match(text, pos)
        if found:
            doctype = found.group(1).lower()
            end = doctype_end(text, pos)
            if end is None:
                return Prolog(doctype, None)
            pos = end
            continue
        root = _ROOT.match(text, pos)
        return Prolog(doctype, root.group(2).lower() if root else None)
    return Prolog(doctype, None)


def closes(body: bytes, root: str) -> bool:
    """Whether the document ends with the root element's end tag (then only comments, PIs, space)."""
    tail = tail_text(body).rstrip()
    while tail.endswith(("-->", "?>")):  # trailing comments and processing instructions
        start = tail.rfind("<!--" if tail.endswith("-->") else "<?")
        if start < 0:
            return False
        tail = tail[:start].rstrip()
    return re.search(rf"</(?:[A-Za-z_][\w.\-]*:)?{re.escape(root)}\s*>\Z", tail, re.I) is not None


def nesting(body: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep elements nest (CDATA, comments and HTML void elements aside), stopping past `limit`."""
    codec = head_codec(body)
    if codec.startswith(("utf-16", "utf-32")):
        body = body.decode(codec, "ignore").encode("utf-8")
    depth = deepest = 0
    i = body.find(b"<")
    while i >= 0:
        if body.startswith((b"<![CDATA[", b"<!--"), i):
            end = body.find(b"]]>" if body[i + 2] == ord("[") else b"-->", i)
            if end < 0:
                break  # the rest is inside it
            i = body.find(b"<", end)
            continue
        found = _TAG.match(body, i)
        if found is None:
            i = body.find(b"<", i + 1)
            continue
        closing, name, empty = found.groups()
        if not empty and name.lower() not in _VOID:
            if closing:
                depth = max(0, depth - 1)
            else:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > limit:
                        break
        i = body.find(b"<", found.end())
    return deepest


def doctype_end(text: str, start: int) -> int | None:
    """Index just past the DOCTYPE declaration at `start` (internal subset, quotes, comments skipped)."""
    i, depth, n = start + 2, 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            close = text.find(c, i + 1)
            if close < 0:
                return None
            i = close + 1
            continue
        if text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            if close < 0:
                return None
            i = close + 3
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == ">" and depth == 0:
            return i + 1
        i += 1
    return None


def without_internal_subset(text: str) -> str | None:
    """The decoded document without its DOCTYPE, when that DOCTYPE has an internal subset (entity
    declarations); None when there is nothing to remove."""
    pos = 0
    while pos < len(text):
        skipped = _SKIP.match(text, pos)
        if skipped and skipped.end() > pos:
            pos = skipped.end()
            continue
        if not _DOCTYPE.match(text, pos):
            return None  # the root element (or junk) comes first: no DOCTYPE in the prolog
        end = doctype_end(text, pos)
        if end is None:
            raise ParseError("its DOCTYPE declaration never ends; refused (untrusted input)")
        if "[" not in text[pos:end]:
            return None
        return text[:pos] + text[end:]
    return None
