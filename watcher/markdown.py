"""Make untrusted text inert in Markdown: no links, HTML, emphasis or layout changes can get through."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# C0/C1 controls (but not tab/newline, which we fold to spaces), and bidirectional overrides
# and isolates, which can make a line read differently from what it says.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
WHITESPACE = re.compile(r"\s+")
# The inline syntax text could trigger: code, emphasis, links and images, tables, strikethrough,
# math. Text is always rendered inside a line we start, so block markers (#, >, -) are inert.
MARKDOWN_PUNCT = re.compile(r"([\\`*_\[\]|~$])")
# A backslash splits the text where GFM would otherwise auto-link a bare URL or www. name.
AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=www)\.")
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
    return AUTOLINK.sub(lambda m: "\\" + m.group(0), text)


def shorten(value: str | None, limit: int) -> str:
    """Cut plain text at a word boundary near `limit` characters, marking the cut."""
    text = plain(value)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + " …"


def safe_url(value: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link destination, or None.

    Characters that could end the destination or open markup are percent-encoded.
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
    return quote(url, safe="/:?#[]@!$&'*+,;=%~-._")
