"""A stand-in for RSS and Atom feeds (fda.gov's press-release and drug feeds, journals' feeds).

A `Feed` serves one body on one path: bytes given by the test (the project's own fixtures under
tests/fixtures/rss, or real feeds of the shared corpus, read in place) or an RSS 2.0 document
built from `Entry` values. With an ETag and/or Last-Modified it answers a conditional GET whose
validators still hold with 304 Not Modified; the body and validators can change between polls.
`redirect` and `page` stand in for fda.gov's way of refusing a client: a 302 to an HTML
"abuse-detection apology" page.

Labels: the feed's own ("rss" unless given), "redirect:PATH" and "page:PATH".
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from xml.sax.saxutils import escape as xml_escape

from .server import Answer, Reply, Request, Server

RSS_TYPE = "application/rss+xml; charset=utf-8"
PATH = "/rss-feeds/press-releases/rss.xml"  # as fda.gov names its feeds


@dataclass
class Entry:
    guid: str
    title: str
    link: str
    description: str = "Ketamine news for the clinic."
    author: str | None = None
    category: str | None = None


def entries(n: int, prefix: str = "fda") -> list[Entry]:
    return [Entry(f"{prefix}-{i}", f"Ketamine safety notice {i}", f"https://www.example.org/{prefix}/{i}") for i in range(n)]


def rss_body(items: list[Entry]) -> bytes:
    e = xml_escape
    parts = []
    for it in items:
        extra = f"<dc:creator>{e(it.author)}</dc:creator>" if it.author else ""
        extra += f"<category>{e(it.category)}</category>" if it.category else ""
        parts.append(f"<item><title>{e(it.title)}</title><link>{e(it.link)}</link><guid isPermaLink=\"false\">{e(it.guid)}</guid>"
                     f"<description>{e(it.description)}</description>{extra}"
                     f"<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>\n")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<channel><title>FDA press releases</title><link>https://www.example.org/</link>"
            "<description>news</description>\n" + "".join(parts) + "</channel></rss>\n").encode("utf-8")


class Feed:
    def __init__(self, server: Server, path: str = PATH, *, items: list[Entry] | None = None, body: bytes | None = None,
                 content_type: str = RSS_TYPE, headers: dict[str, str] | None = None, label: str = "rss",
                 etag: str | None = None, last_modified: str | None = None) -> None:
        if (items is None) == (body is None):
            raise ValueError("a feed is built from `items` or given as `body`, one of the two")
        self.server, self.path, self.label = server, path, label
        self.items = items
        self.body = body if body is not None else rss_body(items or [])
        self.content_type, self.headers = content_type, dict(headers or {})
        self.etag, self.last_modified = etag, last_modified
        server.route(path, self.answer)

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    def ids(self, source: str) -> set[str]:
        """The item ids a source named `source` makes of the built entries."""
        return {f"rss:{source}:{it.guid}" for it in self.items or []}

    def validators(self) -> dict[str, str]:
        out = {"ETag": self.etag, "Last-Modified": self.last_modified}
        return {k: v for k, v in out.items() if v is not None}

    def answer(self, request: Request) -> Answer:
        if self.not_modified(request):
            return Answer(self.label, "rss", Reply(304, b"", None, self.validators()))
        return Answer(self.label, "rss", Reply(200, self.body, self.content_type, {**self.headers, **self.validators()}))

    def not_modified(self, request: Request) -> bool:
        """RFC 9110 §13.2.2: If-None-Match decides when sent; otherwise If-Modified-Since."""
        inm, ims = request.headers.get("if-none-match"), request.headers.get("if-modified-since")
        if inm is not None:
            return self.etag is not None and self.etag in {tag.strip() for tag in inm.split(",")}
        if ims is None or self.last_modified is None:
            return False
        try:
            return parsedate_to_datetime(self.last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False


def redirect(server: Server, path: str, location: str, status: int = 302) -> str:
    """A redirect from `path` to `location` (a path on this server, or a URL)."""
    return server.static(path, Reply(status, b"", "text/html", {"Location": location}), label=f"redirect:{path}", kind="rss")


def page(server: Server, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> str:
    """A page that is not a feed, e.g. fda.gov's abuse-detection apology."""
    return server.static(path, Reply(200, body, content_type), label=f"page:{path}", kind="rss")
