"""Any RSS or Atom feed (FDA press releases and safety alerts, journal feeds, PubMed saved
searches): one conditional GET per poll; the feed's bytes go to the pure parser in rss_feed.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..checks import check_keys, one_line, optional
from ..http import HttpClient
from ..model import SourceConfig, SourceState
from ..sections import section_name
from .base import Batch, SourceContext, client_for
from .rss_feed import parse_feed

log = logging.getLogger(__name__)

DEFAULT_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8"
FEED_MAX_BYTES = 20 * 1024 * 1024  # feeds are tens of kB; feedparser holds several copies in memory
RATE = 1.0  # requests/s to one feed host: feeds are one request per poll; be polite


@dataclass(frozen=True, slots=True)
class RssSettings:
    user_agent: str | None = None  # None: the config's http.user_agent
    accept: str = DEFAULT_ACCEPT
    section: str | None = None  # the digest section for every entry, e.g. "regulatory"
    kind: str | None = None  # a label such as "press release", shown as the item's type


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

    @classmethod
    def build(cls, source: SourceConfig[RssSettings], context: SourceContext) -> RssSource:
        settings = source.settings
        client = client_for(
            context, rate=RATE, user_agent=settings.user_agent, accept=settings.accept, max_bytes=FEED_MAX_BYTES
        )
        return cls(source, client=client)

    def __init__(self, source: SourceConfig[RssSettings], *, client: HttpClient) -> None:
        self.name = source.name
        self.url = source.url
        self.settings = source.settings
        self.client = client

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        conditional = bool(state.etag or state.last_modified)
        response = self.client.get(self.url, etag=state.etag, last_modified=state.last_modified)
        if response.status == 304 and conditional:
            log.info("%s: not modified since the last poll", self.name)
            yield Batch(items=(), final=True, validators=(state.etag, state.last_modified))
            return
        response.expect(200)
        items = parse_feed(
            response.body,
            source=self.name,
            feed_url=response.url,
            content_type=response.headers.get("content-type"),
            section=self.settings.section,
            kind=self.settings.kind,
            redirected=response.redirects > 0,
        )
        validators = (response.headers.get("etag"), response.headers.get("last-modified"))
        yield Batch(items=tuple(items), final=True, validators=validators)
