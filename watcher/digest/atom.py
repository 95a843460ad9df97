"""The Atom feed (RFC 4287): one entry per weekly digest, the last FEED_WEEKS of them, each
carrying that week's HTML body. Entry ids are stable: a `tag:` URI from `site_url`, or without
one a URN derived from the topics; `updated` is when that week's digest last changed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..store import OutputRecord

FEED_WEEKS = 52
FILE = "feed.xml"

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
    link: str | None
    html: str  # the week's page body, escaped once more by the template


def entry_id(site_url: str | None, namespace: str, week: str) -> str:
    if site_url:
        parts = urlsplit(site_url)
        # tag:host,YEAR:path — the week's own year is a date on which the site published it.
        return f"tag:{parts.hostname},{week[:4]}:{parts.path.rstrip('/')}/{week}"
    return uuid.uuid5(uuid.NAMESPACE_URL, f"watcher:{namespace}:{week}").urn


def title_of(record: OutputRecord) -> str:
    title = f"Literature watch {record.week}: {record.items} new item{'' if record.items == 1 else 's'}"
    if record.warnings:
        title += f", {record.warnings} source{'' if record.warnings == 1 else 's'} failing"
    return title


def render_feed(
    records: Sequence[OutputRecord],
    body_of: Callable[[str], str],
    *,
    site_url: str | None,
    namespace: str,
    page_suffix: str,
) -> str:
    """`records`: the primary output of each week, any order; `body_of(week)` its HTML body."""
    latest = sorted(records, key=lambda r: r.week, reverse=True)[:FEED_WEEKS]
    entries = [
        FeedEntry(
            id=entry_id(site_url, namespace, r.week),
            title=title_of(r),
            updated=r.changed_at or r.written_at,
            link=f"{site_url}{r.week}{page_suffix}" if site_url else None,
            html=body_of(r.week),
        )
        for r in latest
    ]
    return ENV.get_template("feed.xml.j2").render(
        feed_id=entry_id(site_url, namespace, "feed") if site_url else uuid.uuid5(uuid.NAMESPACE_URL, f"watcher:{namespace}").urn,
        updated=max((e.updated for e in entries), default="1970-01-01T00:00:00Z"),
        site_url=site_url,
        self_url=f"{site_url}{FILE}" if site_url else None,
        index_url=f"{site_url}index{page_suffix}" if site_url else None,
        entries=entries,
    )
