"""Europe PMC REST search: articles and preprints matching feeds.yaml's query, first indexed since
the cursor.

One search, `GET <url>search` with `query=(<query>) AND FIRST_IDATE:[<cursor − overlap> TO <today>]`
(the day a record was first indexed: the analogue of PubMed's Entrez date; a publication-date
filter would miss records indexed late), `resultType=core`, `format=json`, `pageSize` up to 1000.
Pages are walked with `cursorMark`, from `*` to each answer's `nextCursorMark`, until that is
absent or repeats the mark just sent, or a page is empty (`page` is ignored by the service). The
cursor stored is the last day whose records are all stored; marks are never stored. No rate limit
is published: one request a second by default, backing off on 429 and 5xx (http.py).

The results become Items in europepmc_json.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..checks import check_keys, text
from ..errors import ConfigError, ParseError
from ..http import HttpClient, Response
from ..model import SourceConfig, SourceState
from .base import PAGING_KEYS, Batch, Paging, SourceContext, client_for, folder, kept, paging, walk_pages
from .europepmc_json import result_item, results_of
from .json_body import json_document
from .window import WINDOW_KEYS, WindowSettings, window_settings

log = logging.getLogger(__name__)

NAME = "Europe PMC"  # how its failures read
MAX_PAGE_SIZE = 1000
FIRST_MARK = "*"


@dataclass(frozen=True, slots=True)
class EuropepmcSettings:
    query: str  # Europe PMC query syntax, as feeds.yaml writes it
    window: WindowSettings
    paging: Paging


def query_text(value: Any, path: str) -> str:
    found = " ".join(text(value, path).split())  # a folded YAML block is one line
    if len(found) > 4000:
        raise ConfigError(path, "is longer than 4000 characters")
    return found


class EuropepmcSource:
    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> EuropepmcSettings:
        check_keys(raw, path, {"query", *WINDOW_KEYS, *PAGING_KEYS}, required={"query"})
        return EuropepmcSettings(
            query=query_text(raw["query"], f"{path}.query"),
            window=window_settings(raw, path, lookback=30, overlap=3),
            paging=paging(raw, path, largest=MAX_PAGE_SIZE),
        )

    @classmethod
    def build(cls, source: SourceConfig[EuropepmcSettings], context: SourceContext) -> EuropepmcSource:
        return cls(source, client=client_for(context, rate=source.settings.paging.rate, accept="application/json"))

    def __init__(self, source: SourceConfig[EuropepmcSettings], *, client: HttpClient) -> None:
        self.name = source.name
        self.settings = source.settings
        self.url = folder(source.url) + "search"
        self.client = client

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        s = self.settings
        span = s.window.window(self.name, state.cursor, now.date())
        params = [
            ("query", f"({s.query}) AND FIRST_IDATE:[{span.start.isoformat()} TO {span.end.isoformat()}]"),
            ("resultType", "core"),
            ("format", "json"),
            ("pageSize", str(s.paging.page_size)),
        ]

        def page(mark: str) -> tuple[Batch, str | None]:
            doc = self.read(self.client.get(self.url, params=[*params, ("cursorMark", mark)]))
            if mark == FIRST_MARK:
                log.info("%s: %s records first indexed since %s", self.name, doc["hitCount"], span.start)
            results = list(results_of(doc))
            following = doc.get("nextCursorMark")
            if following is not None and (not isinstance(following, str) or not following):
                raise ParseError(f"{NAME}: nextCursorMark is not text")
            items, skipped = kept(results, lambda result: [result_item(result, source=self.name)], source=self.name,
                                  what="result")
            # The last page has no mark, or repeats the one sent (walk_pages stops on a repeat), or is empty.
            return Batch(items=items, skipped=skipped), following if results else None

        yield from walk_pages(FIRST_MARK, page, what=NAME, repeated=None)
        yield Batch(items=(), final=True, cursor=span.cursor)

    @staticmethod
    def read(response: Response) -> Mapping[str, Any]:
        """The JSON document of a 200 with its `hitCount`, or a failure with a readable reason."""
        if response.status != 200:
            raise response.failure()
        doc = json_document(response.body, NAME)
        if not isinstance(doc, dict) or "hitCount" not in doc:
            raise ParseError(f"{NAME}: the answer is not a search result (no hitCount)")
        return doc
