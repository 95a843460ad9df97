"""Make untrusted text inert in Markdown: no links, HTML, emphasis or layout changes can get through."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# C0/C1 controls (but not tab/newline, which we fold to spaces), and bidirectional overrides
# and isolates, which can make a line read differently from what it says.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
WHITESPACE = re.compile(r"\s+")
# The inline syntax text could trigger: code, emphasis, links and images, tables, strikethrough, math.
MARKDOWN_PUNCT = re.compile(r"([\\`*_\[\]|~$])")
# A backslash splits the text where a renderer would otherwise make a link of its own: a bare URL
# (GFM), and, for renderers that link fuzzily (markdown-it's linkify, as in VS Code's preview),
# any name.name (a top-level domain has two letters or more) and any e-mail address. "vs. placebo",
# "U.S." and "0.05" are left alone.
AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=[^\W_])\.(?=[^\W\d_]{2})|@")
# Some text starts a line of the digest (a byline, a type list, a quoted abstract); there a
# heading, list, setext underline or thematic break marker would be live. > is already &gt;.
BLOCK_START = re.compile(r"^(?:[#+=-]|\d{1,9}(?=[.)](?:\s|$)))")
ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def plain(value: str | None) -> str:
    """One line of visible text: controls and bidi marks removed, whitespace folded."""
    if not value:
        return ""
    return WHITESPACE.sub(" ", INVISIBLE.sub("", value)).strip()


def escape(value: str | None) -> str:
    text = plain(value)
    text = "".join(ENTITIES.get(ch, ch) for ch in text)
    text = MARKDOWN_PUNCT.sub(r"\\\1", text)
    text = AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0), text)


def shorten(value: str | None, limit: int) -> str:
    """Cut plain text at a word boundary near `limit` characters, marking the cut."""
    text = plain(value)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + " …"


def safe_url(value: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link destination, or None.

    Characters that could end the destination or open markup are percent-encoded, and "&" is
    written as the character reference "&amp;".
    """
    if not value:
        return None
    url = plain(value)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # A destination's character references are decoded by Markdown renderers ("&#64;" would
    # become "@"): "&" is written as "&amp;", which they decode back to the "&" the URL has.
    return quote(url, safe="/:?#[]@!$&'*+,;=%~-._").replace("&", "&amp;")
