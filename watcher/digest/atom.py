"""The Atom feed (RFC 4287): one entry per weekly digest, the last FEED_WEEKS of them, each
carrying that week's HTML body, its headline as the summary, and a link to the week's page.
Entry ids are stable: a `tag:` URI from `site_url`, or without one a URN derived from the topics;
`updated` is when that week's digest last changed. Without `site_url` the links are relative to
the feed's own address (the pages sit next to feed.xml), which not every feed reader follows:
`site_url_warning` says so in `watcher check`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..config import Config
from ..store import OutputRecord
from . import html, plaintext
from .site import FEED
from .view import DigestView

FEED_WEEKS = 52
FILE = "feed.xml"
SUMMARY_WIDTH = 10_000  # a feed reader wraps the summary itself: one line per paragraph

ENV = Environment(
    loader=PackageLoader("watcher.digest", "templates"),
    autoescape=True,  # XML's five special characters, like HTML's
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: str
    title: str
    updated: str  # RFC 3339, UTC
    link: str  # the week's page: absolute with site_url, else relative to the feed
    html: str  # the week's page body, escaped once more by the template
    summary: str  # the headline as plain text

def entry_id(site_url: str | None, namespace: str, week: str) -> str:
    if site_url:
        parts = urlsplit(site_url)
        # tag:host,YEAR:path — the week's own year is a date on which the site published it.
        return f"tag:{parts.hostname},{week[:4]}:{parts.path.rstrip('/')}/{week}"
    return uuid.uuid5(uuid.NAMESPACE_URL, f"watcher:{namespace}:{week}").urn


def title_of(view: DigestView) -> str:
    return f"Literature watch {view.week}: {view.tally}"


def site_url_warning(config: Config) -> str | None:
    """What `watcher check` says when the feed is written without the site's address."""
    if FEED not in config.outputs or config.site_url:
        return None
    return ("outputs include atom but site_url is not set: the feed's entries link to their pages relative to"
            " feed.xml, which some feed readers cannot open; set site_url to the address digests/ is published at")


def render_feed(
    records: Sequence[OutputRecord],
    view_of: Callable[[str], DigestView],
    *,
    site_url: str | None,
    namespace: str,
    page_suffix: str,
    title: str = "Literature watch",
) -> str:
    """`records`: the primary output of each week, any order; `view_of(week)` that week's view."""
    latest = sorted(records, key=lambda r: r.week, reverse=True)[:FEED_WEEKS]
    base = site_url or ""
    entries = []
    for r in latest:
        view = view_of(r.week)
        entries.append(FeedEntry(
            id=entry_id(site_url, namespace, r.week),
            title=title_of(view),
            updated=r.changed_at or r.written_at,
            link=f"{base}{r.week}{page_suffix}",
            html=html.render_body(view, base=site_url),
            summary=plaintext.render_headline(view, width=SUMMARY_WIDTH).strip(),
        ))
    return ENV.get_template("feed.xml.j2").render(
        feed_id=entry_id(site_url, namespace, "feed") if site_url else uuid.uuid5(uuid.NAMESPACE_URL, f"watcher:{namespace}").urn,
        updated=max((e.updated for e in entries), default="1970-01-01T00:00:00Z"),
        site_url=site_url,
        title=title,
        self_url=f"{site_url}{FILE}" if site_url else None,
        index_url=f"{base}index{page_suffix}",
        entries=entries,
    )
