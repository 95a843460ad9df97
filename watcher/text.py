"""Plain text from untrusted strings: one visible line, cut at a word boundary."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# C0/C1 controls (tab and newline are folded to spaces instead), zero-width and bidirectional
# marks, overrides and isolates: they can make a line read differently from what it says.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
WHITESPACE = re.compile(r"\s+")


def fold(value: object) -> str:
    """Visible text on one line: controls and bidi marks removed, each run of whitespace one space.
    Not text → ""."""
    if not isinstance(value, str) or not value:
        return ""
    return WHITESPACE.sub(" ", INVISIBLE.sub("", value))


def plain(value: object) -> str:
    """`fold`, without leading or trailing space."""
    return fold(value).strip()


def shorten(value: object, limit: int) -> str:
    """Plain text cut at a word boundary near `limit` characters, the cut marked with " …"."""
    text = plain(value)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + " …"


def http_link(value: str | None) -> str | None:
    """The URL when it is an http(s) URL with a host, else None: no other scheme becomes a link."""
    url = plain(value)
    try:
        parts = urlsplit(url)
        return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None
    except ValueError:
        return None


def describe_exception(exc: object) -> str:
    """An exception as one short line (parsers put line breaks and whole inputs in messages)."""
    if exc is None:
        return "unknown error"
    message = shorten(str(exc), 200)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
