"""RSS 0.9x/1.0/2.0 and Atom documents → Items, through feedparser. Pure: bytes in, Items out.

feedparser only ever sees bytes we fetched, wrapped in a file object: given a URL it would do its
own network I/O, and given a `bytes` value it first tries to open it as a local *file name*.
Untrusted input is checked first (`xml_guard`): a body that is an HTML page (an "apology" page, a
login wall) or empty is an UpstreamError, never an empty week; a truncated or deeply nested
document is refused; a DOCTYPE with an internal subset is removed. feedparser raising (it does
on some malformed feeds) is a ParseError; a "bozo" feed that still yields entries keeps them,
with a warning in the log.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import logging
import re
import time
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from bs4 import BeautifulSoup
from feedparser.encodings import convert_to_utf8

from ..errors import ParseError, UpstreamError
from ..model import Item
from ..text import describe_exception
from .xml_guard import MAX_DEPTH, closes, nesting, sniff, without_internal_subset

log = logging.getLogger(__name__)

MAX_TEXT = 20_000  # characters kept of one summary (the digest shows ~300)
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel", "scriptingnews"})
WHITESPACE = re.compile(r"\s+")


def parse_feed(
    body: bytes,
    *,
    source: str,
    feed_url: str,
    content_type: str | None = None,
    section: str | None = None,
    kind: str | None = None,
    redirected: bool = False,
) -> list[Item]:
    """The feed's entries as Items, one per distinct id, in feed order.

    Raises UpstreamError when the body is not a feed at all (empty, an HTML page) and ParseError
    when it cannot be read.
    """
    where = f"after a redirect to {urlsplit(feed_url).path or '/'}" if redirected else f"GET {urlsplit(feed_url).path or '/'}"
    if not body.strip():
        raise UpstreamError(f"answered with an empty body instead of a feed ({where})")
    prolog = sniff(body)
    media = (content_type or "").split(";")[0].strip().lower()
    # The root element decides; the DOCTYPE only when no root could be seen (feeds with an XHTML
    # DOCTYPE exist, and feedparser strips it).
    root = prolog.root
    if root == "html" or (root is None and prolog.doctype == "html") or (media in HTML_TYPES and root not in FEED_ROOTS):
        raise UpstreamError(f"answered with an HTML page instead of a feed ({where})")
    if root in FEED_ROOTS and not closes(body, root):
        # feedparser would keep the entries before the cut, the last one half read: without its
        # guid it gets another id, and stays as a duplicate once the whole feed comes back.
        raise ParseError(f"feed is truncated: the document ends before its closing </{root}> tag")
    if nesting(body) > MAX_DEPTH:
        raise ParseError(f"feed nests elements more than {MAX_DEPTH} deep; refused (untrusted input)")

    # No Content-Location: feedparser would resolve ids (RSS permalink guids, Atom ids) against it,
    # and an id must not change when the feed moves. Links are made absolute below (xml:base
    # is still applied by feedparser).
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    data = body
    defused = defuse(body, headers)
    if defused is not None:
        log.warning("%s: removed a DOCTYPE with an internal subset (entity declarations) before parsing", source)
        data = defused
        headers["content-type"] = "application/xml; charset=utf-8"  # defuse() re-encoded it as UTF-8
    failure = None
    try:
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=True,
                                  resolve_relative_uris=True)
    except Exception as exc:
        failure = f"feed could not be parsed: {describe_exception(exc)}"
    if failure:
        raise ParseError(failure)  # outside the except block: one line, no chained traceback

    entries = list(parsed.get("entries") or [])
    if not parsed.get("version") and not entries:
        reason = describe_exception(parsed.get("bozo_exception")) if parsed.get("bozo") else "no RSS or Atom elements"
        raise ParseError(f"not an RSS or Atom feed: {reason}")
    if parsed.get("bozo"):
        log.warning("%s: feed is not well-formed (%s); keeping its %d entries", source,
                    describe_exception(parsed.get("bozo_exception")), len(entries))

    feed = parsed.get("feed") or {}
    feed_title = clean(feed.get("title"), detail_type(feed.get("title_detail"))) or None
    items: dict[str, Item] = {}
    for index, entry in enumerate(entries):
        try:
            item = to_item(entry, source=source, feed_url=feed_url, feed_title=feed_title, section=section, kind=kind)
        except Exception as exc:
            log.warning("%s: entry %d skipped: %s", source, index + 1, describe_exception(exc))
            continue
        if item.id in items:
            log.info("%s: entry %d repeats id %s; kept once", source, index + 1, item.id)
            continue
        items[item.id] = item
    return list(items.values())


def defuse(body: bytes, headers: Mapping[str, str]) -> bytes | None:
    """The document re-encoded as UTF-8 without its DOCTYPE, when that DOCTYPE has an internal
    subset (entity declarations); None when there is nothing to remove.

    Decoding follows feedparser's own rules (HTTP charset, BOM, XML declaration), so what is
    checked is exactly what feedparser would parse.
    """
    scratch: dict[str, Any] = {"bozo": False}
    failure = None
    try:
        utf8 = convert_to_utf8(dict(headers), body, scratch)
    except Exception as exc:
        failure = f"feed could not be decoded: {describe_exception(exc)}"
    if failure:
        raise ParseError(failure)
    stripped = without_internal_subset(utf8.decode("utf-8", "replace"))
    return None if stripped is None else stripped.encode("utf-8")


# ---- one entry ----


def to_item(entry: Mapping[str, Any], *, source: str, feed_url: str, feed_title: str | None,
            section: str | None, kind: str | None) -> Item:
    title = clean(entry.get("title"), detail_type(entry.get("title_detail")))
    summary = entry_summary(entry)
    link = absolute(feed_url, entry.get("link"))
    when = entry_date(entry)
    guid = plain_text(entry.get("id"))
    if guid:
        key = guid
    elif link:
        key = link
    else:
        key = "sha256:" + hashlib.sha256(f"{title}\n{when or ''}".encode()).hexdigest()
    extra: dict[str, Any] = {}
    if feed_title:
        extra["feed"] = feed_title
    if guid:
        extra["guid"] = guid
    authors = tuple(a for a in (plain_text(x.get("name")) for x in entry.get("authors") or [] if isinstance(x, Mapping)) if a)
    tags = tuple(dict.fromkeys(t for t in (plain_text(x.get("term")) for x in entry.get("tags") or [] if isinstance(x, Mapping)) if t))
    return Item(
        id=f"rss:{source}:{key}",
        source=source,
        url=link or "",
        title=title or "(untitled)",
        abstract=summary or None,
        date=when,
        authors=authors,
        journal=feed_title,
        publication_types=(kind,) if kind else (),
        keywords=tags,
        section=section,
        kind=kind,
        extra=extra,
    )


def detail_type(detail: Any) -> str:
    return str(detail.get("type") or "") if isinstance(detail, Mapping) else ""


def plain_text(value: Any) -> str:
    return WHITESPACE.sub(" ", value).strip() if isinstance(value, str) else ""


def html_to_text(value: str) -> str:
    return plain_text(BeautifulSoup(value, "html.parser").get_text(" "))


def clean(value: Any, kind: str) -> str:
    """Plain text from a feed text construct: markup flattened when it is (X)HTML, kept when plain."""
    if not isinstance(value, str):
        return ""
    return html_to_text(value) if kind in ("text/html", "application/xhtml+xml", "html", "xhtml") else plain_text(value)


def entry_summary(entry: Mapping[str, Any]) -> str:
    candidates = []
    if isinstance(entry.get("summary"), str):
        candidates.append((entry["summary"], detail_type(entry.get("summary_detail")) or "text/html"))
    for content in entry.get("content") or []:
        if isinstance(content, Mapping) and isinstance(content.get("value"), str):
            candidates.append((content["value"], str(content.get("type") or "text/html")))
    for value, kind in candidates:
        found = clean(value, kind)
        if found:
            return found[:MAX_TEXT]
    return ""


def absolute(base: str, link: Any) -> str | None:
    """An http(s) link, made absolute against the feed's URL (feedparser already applied xml:base)."""
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        url = urljoin(base, link.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


# ---- dates ----

_ISO = re.compile(r"^\s*(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?=$|[T\s])")


def raw(entry: Mapping[str, Any], key: str) -> Any:
    """A key as feedparser stored it: FeedParserDict maps some missing keys to others (with a
    DeprecationWarning for `updated`), which would make one date stand in for another."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def entry_date(entry: Mapping[str, Any]) -> str | None:
    """The entry's publication date as written (its own day, not shifted to UTC), ISO YYYY-MM-DD.

    RFC 822 (`Tue, 05 Dec 2023 16:59:37 EST`), W3C/ISO 8601 and dc:date are read from the raw text;
    any other form feedparser understood comes from its parsed (UTC) value.
    """
    for key in ("published", "updated", "created"):
        found = date_text(raw(entry, key))
        if found:
            return found
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = raw(entry, key)
        if isinstance(parsed, time.struct_time):
            try:
                return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday).isoformat()
            except ValueError:
                continue
    return None


def date_text(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    found = _ISO.match(raw)
    if found:
        year, month, day = (int(g) if g else 0 for g in found.groups())
        try:
            if day:
                return date(year, month, day).isoformat()
            if month and 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
            return f"{year:04d}"
        except ValueError:
            return None
    try:
        fields = email.utils.parsedate_tz(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        fields = None
    if fields:
        try:
            return date(fields[0], fields[1], fields[2]).isoformat()
        except (ValueError, TypeError):
            return None
    return None
