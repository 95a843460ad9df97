"""RSS 0.9x/1.0/2.0 and Atom feeds through feedparser: FDA press releases and safety alerts, journal
feeds, PubMed saved-search feeds.

The feed is fetched with our HttpClient (conditional GET, limits, redaction) and feedparser only ever
sees the bytes, wrapped in a file object: given a URL it would do its own network I/O, and given a
`bytes` value it first tries to open it as a local *file name*.

Untrusted input, handled so:
- a body that is an HTML page (fda.gov's "apology" page, a login wall) or empty is a failure with its
  reason, never an empty week;
- a DOCTYPE with an internal subset is removed before parsing: feedparser 6.0.14 re-declares
  "safe" entities (any value without `&`) and its loose parser expands them, so a small feed with a
  long entity used thousands of times (quadratic blow-up) would inflate to gigabytes;
- feedparser raising (it does on some malformed feeds) is a ParseError of this feed alone;
- a "bozo" feed that still yields entries keeps them, with a warning in the log.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from bs4 import BeautifulSoup
from feedparser.encodings import convert_to_utf8

from ..config import SourceConfig, check_keys, optional, text
from ..errors import ConfigError, FetchError, ParseError, UpstreamError
from ..http import HttpClient
from ..model import Item
from ..store import SourceState
from .base import Batch, client_for

log = logging.getLogger(__name__)

DEFAULT_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8"
FEED_MAX_BYTES = 20 * 1024 * 1024  # feeds are tens of kB; feedparser holds several copies in memory
MAX_TEXT = 20_000  # characters kept of one summary (the digest shows ~300)
SNIFF_BYTES = 8192
HTML_TYPES = ("text/html", "application/xhtml+xml")
WHITESPACE = re.compile(r"\s+")

RATE = 1.0  # requests/s to one feed host: feeds are one request per poll; be polite


@dataclass(frozen=True, slots=True)
class RssSettings:
    user_agent: str | None = None  # None: the config's http.user_agent
    accept: str = DEFAULT_ACCEPT
    section: str | None = None  # extra["section"] when set: "regulatory" puts items in that digest section
    kind: str | None = None  # a label such as "press release", shown as the item's type


def is_fda(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "fda.gov" or host.endswith(".fda.gov")


def section_name(value: Any, path: str) -> str:
    from ..digest import SECTIONS  # the digest owns the section names; imported late, only to validate

    name = text(value, path).lower()
    known = [key for key, _title, _types in SECTIONS]
    if name not in known:
        raise ConfigError(path, f"unknown section {name!r}; use one of: {', '.join(known)}")
    return name


def one_line(value: Any, path: str) -> str:
    found = text(value, path)
    if "\n" in found or "\r" in found:
        raise ConfigError(path, "must be a single line")
    return found


class RssSource:
    """One feed. No cursor: the feed is a window of recent entries, and ids make re-reads harmless.
    The conditional-GET validators (ETag, Last-Modified) are the feed's state."""

    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> RssSettings:
        check_keys(raw, path, {"user_agent", "accept", "section", "kind"})
        return RssSettings(
            user_agent=optional(raw, "user_agent", path, one_line, None),
            accept=optional(raw, "accept", path, one_line, DEFAULT_ACCEPT),
            section=optional(raw, "section", path, section_name, None),
            kind=optional(raw, "kind", path, one_line, None),
        )

    def __init__(self, source: SourceConfig, *, client: HttpClient) -> None:
        self.name = source.name
        self.url = source.url
        self.settings: RssSettings = source.settings
        # FDA feeds are regulatory news unless the config says otherwise.
        self.section = self.settings.section or ("regulatory" if is_fda(source.url) else None)
        self.client = client

    @classmethod
    def build(cls, source: SourceConfig, app: Any, env: Mapping[str, str], sleep: Callable[[float], None]) -> RssSource:
        settings: RssSettings = source.settings
        client = client_for(
            app, rate=RATE, user_agent=settings.user_agent, accept=settings.accept, max_bytes=FEED_MAX_BYTES, sleep=sleep
        )
        return cls(source, client=client)

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        conditional = bool(state.etag or state.last_modified)
        response = self.client.get(self.url, etag=state.etag, last_modified=state.last_modified)
        if response.status == 304 and conditional:
            log.info("%s: not modified since the last poll", self.name)
            yield Batch(items=(), final=True, validators=(state.etag, state.last_modified))
            return
        if response.status != 200:
            raise FetchError(response.status_line)
        items = parse_feed(
            response.body,
            source=self.name,
            feed_url=response.url,
            content_type=response.headers.get("content-type"),
            section=self.section,
            kind=self.settings.kind,
            redirected=response.redirects > 0,
        )
        validators = (response.headers.get("etag"), response.headers.get("last-modified"))
        yield Batch(items=tuple(items), final=True, validators=validators)


# ---- parsing: bytes in, Items out, no I/O ----


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
    when feedparser cannot read it.
    """
    if not body.strip():
        raise UpstreamError(f"answered with an empty body ({feed_url}) instead of a feed")
    doctype, root = sniff(body)
    media = (content_type or "").split(";")[0].strip().lower()
    # The root element decides; the DOCTYPE only when no root could be seen (feeds with an XHTML
    # DOCTYPE exist, and feedparser strips it).
    if root == "html" or (root is None and doctype == "html") or (media in HTML_TYPES and root not in FEED_ROOTS):
        how = "after a redirect " if redirected else ""
        raise UpstreamError(f"answered {how}with an HTML page ({feed_url}) instead of a feed")
    if root in FEED_ROOTS and not closes(body, root):
        # feedparser would keep the entries before the cut, the last one half read: without its
        # guid it gets another id, and stays as a duplicate once the whole feed comes back.
        raise ParseError(f"feed is truncated: the document ends before its closing </{root}> tag")
    if nesting(body) > MAX_DEPTH:
        # feedparser's cost grows faster than the depth: 100,000 levels took it 10 s, a 20 MB feed would take minutes.
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
    except Exception as exc:  # noqa: BLE001 - feedparser raises assorted errors on malformed feeds
        failure = f"feed could not be parsed: {describe(exc)}"
    if failure:
        raise ParseError(failure)  # outside the except block: one line, no chained traceback

    entries = list(parsed.get("entries") or [])
    if not parsed.get("version") and not entries:
        reason = describe(parsed.get("bozo_exception")) if parsed.get("bozo") else "no RSS or Atom elements"
        raise ParseError(f"not an RSS or Atom feed: {reason}")
    if parsed.get("bozo"):
        log.warning("%s: feed is not well-formed (%s); keeping its %d entries", source,
                    describe(parsed.get("bozo_exception")), len(entries))

    feed = parsed.get("feed") or {}
    feed_title = clean(feed.get("title"), detail_type(feed.get("title_detail"))) or None
    items: dict[str, Item] = {}
    for index, entry in enumerate(entries):
        try:
            item = to_item(entry, source=source, feed_url=feed_url, feed_title=feed_title, section=section, kind=kind)
        except Exception as exc:  # noqa: BLE001 - one odd entry must not cost the others
            log.warning("%s: entry %d skipped: %s", source, index + 1, describe(exc))
            continue
        if item.id in items:
            log.info("%s: entry %d repeats id %s; kept once", source, index + 1, item.id)
            continue
        items[item.id] = item
    return list(items.values())


FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel", "scriptingnews"})
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


def head_text(body: bytes) -> str:
    """The first few kB as text, enough to see the prolog and the root element's name."""
    return body[:SNIFF_BYTES].decode(head_codec(body), "ignore").lstrip("\ufeff")


def tail_text(body: bytes) -> str:
    """The last few kB as text, decoded as `head_text` decodes the start."""
    start = max(0, len(body) - SNIFF_BYTES) // 4 * 4  # UTF-16/32 stay aligned
    return body[start:].decode(head_codec(body), "ignore")


def closes(body: bytes, root: str) -> bool:
    """Whether the document ends with the root element's end tag (then only comments, PIs, space)."""
    tail = tail_text(body).rstrip()
    while tail.endswith(("-->", "?>")):  # trailing comments and processing instructions
        start = tail.rfind("<!--" if tail.endswith("-->") else "<?")
        if start < 0:
            return False
        tail = tail[:start].rstrip()
    return re.search(rf"</(?:[A-Za-z_][\w.\-]*:)?{re.escape(root)}\s*>\Z", tail, re.I) is not None


MAX_DEPTH = 256  # libxml2's own limit; real feeds nest about 5 deep, XHTML content a few more
_TAG = re.compile(rb"<(/?)([A-Za-z_][^\s/<>]*)[^<>]*?(/?)>")  # never crosses a "<": linear time on any input
_VOID = frozenset(b"area base br col embed hr img input meta param source track wbr".split())


def nesting(body: bytes) -> int:
    """How deep elements nest (CDATA, comments and HTML void elements aside), stopping past MAX_DEPTH."""
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
                    if deepest > MAX_DEPTH:
                        break
        i = body.find(b"<", found.end())
    return deepest


def head_codec(body: bytes) -> str:
    """The encoding a BOM or the first character's width shows; latin-1 when neither does."""
    for marks in (_BOMS, _NO_BOM):
        for mark, codec in marks:
            if body.startswith(mark):
                return codec
    return "latin-1"


def sniff(body: bytes) -> tuple[str | None, str | None]:
    """(DOCTYPE name, root element local name), lower case, from the start of a document."""
    text_ = head_text(body)
    pos, doctype = 0, None
    while pos < len(text_):
        skipped = _SKIP.match(text_, pos)
        if skipped and skipped.end() > pos:
            pos = skipped.end()
            continue
        found = _DOCTYPE.match(text_, pos)
        if found:
            doctype = found.group(1).lower()
            end = doctype_end(text_, pos)
            if end is None:
                return doctype, None
            pos = end
            continue
        root = _ROOT.match(text_, pos)
        return doctype, (root.group(2).lower() if root else None)
    return doctype, None


def doctype_end(text_: str, start: int) -> int | None:
    """Index just past the DOCTYPE declaration at `start` (internal subset, quotes, comments skipped)."""
    i, depth, n = start + 2, 0, len(text_)
    while i < n:
        c = text_[i]
        if c in "\"'":
            close = text_.find(c, i + 1)
            if close < 0:
                return None
            i = close + 1
            continue
        if text_.startswith("<!--", i):
            close = text_.find("-->", i + 4)
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
    except Exception as exc:  # noqa: BLE001 - feedparser's encoding detection reads untrusted bytes too
        failure = f"feed could not be decoded: {describe(exc)}"
    if failure:
        raise ParseError(failure)
    text_ = utf8.decode("utf-8", "replace")
    pos = 0
    while pos < len(text_):
        skipped = _SKIP.match(text_, pos)
        if skipped and skipped.end() > pos:
            pos = skipped.end()
            continue
        if not _DOCTYPE.match(text_, pos):
            return None  # the root element (or junk) comes first: no DOCTYPE in the prolog
        end = doctype_end(text_, pos)
        if end is None:
            raise ParseError("not a feed: its DOCTYPE declaration never ends")
        if "[" not in text_[pos:end]:
            return None
        return (text_[:pos] + text_[end:]).encode("utf-8")
    return None


def describe(exc: Any) -> str:
    """An exception as one short line (parsers put line breaks and whole inputs in messages)."""
    if exc is None:
        return "unknown error"
    message = WHITESPACE.sub(" ", str(exc)).strip()
    if len(message) > 200:
        message = message[:199] + "…"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


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
    if section:
        extra["section"] = section
    if kind:
        extra["kind"] = kind
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
        year, month, day = (int(g) if g else None for g in found.groups())
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
