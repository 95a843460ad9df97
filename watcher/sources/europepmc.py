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

from ..checks import between, check_keys, number, optional, text
from ..errors import ConfigError, ParseError, UpstreamError
from ..http import HttpClient, Response
from ..model import Item, SourceConfig, SourceState
from .base import Batch, SourceContext, client_for, folder
from .europepmc_json import result_item, results_of
from .json_body import json_document
from .window import window

log = logging.getLogger(__name__)

NAME = "Europe PMC"  # how its failures read
MAX_PAGE_SIZE = 1000
MAX_PAGES = 1000  # a guard against marks that never end
FIRST_MARK = "*"


@dataclass(frozen=True, slots=True)
class EuropepmcSettings:
    query: str  # Europe PMC query syntax, as feeds.yaml writes it
    lookback_days: int = 30
    overlap_days: int = 3
    page_size: int = 100
    rate: float = 1.0  # requests per second


def query_text(value: Any, path: str) -> str:
    found = " ".join(text(value, path).split())  # a folded YAML block is one line
    if len(found) > 4000:
        raise ConfigError(path, "is longer than 4000 characters")
    return found


class EuropepmcSource:
    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> EuropepmcSettings:
        check_keys(raw, path, {"query", "lookback_days", "overlap_days", "page_size", "rate"}, required={"query"})
        return EuropepmcSettings(
            query=query_text(raw["query"], f"{path}.query"),
            lookback_days=optional(raw, "lookback_days", path, between(1, 3650), 30),
            overlap_days=optional(raw, "overlap_days", path, between(0, 365), 3),
            page_size=optional(raw, "page_size", path, between(1, MAX_PAGE_SIZE), 100),
            rate=optional(raw, "rate", path, lambda v, p: number(v, p, 0.05, 10), 1.0),
        )

    @classmethod
    def build(cls, source: SourceConfig, context: SourceContext) -> EuropepmcSource:
        return cls(source, client=client_for(context, rate=source.settings.rate, accept="application/json"))

    def __init__(self, source: SourceConfig, *, client: HttpClient) -> None:
        self.name = source.name
        self.settings: EuropepmcSettings = source.settings
        self.url = folder(source.url) + "search"
        self.client = client

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        s = self.settings
        span = window(self.name, state.cursor, now.date(), lookback_days=s.lookback_days, overlap_days=s.overlap_days)
        params = [
            ("query", f"({s.query}) AND FIRST_IDATE:[{span.start.isoformat()} TO {span.end.isoformat()}]"),
            ("resultType", "core"),
            ("format", "json"),
            ("pageSize", str(s.page_size)),
        ]
        mark = FIRST_MARK
        for page in range(1, MAX_PAGES + 1):
            doc = self.read(self.client.get(self.url, params=[*params, ("cursorMark", mark)]))
            if page == 1:
                log.info("%s: %s records first indexed since %s", self.name, doc["hitCount"], span.start)
            results = list(results_of(doc))
            yield Batch(items=tuple(self.items(results)))
            following = doc.get("nextCursorMark")
            if not results or following is None or following == mark:
                break
            if not isinstance(following, str) or not following:
                raise ParseError(f"{NAME}: nextCursorMark is not text")
            mark = following
        else:
            raise UpstreamError(f"{NAME}: more than {MAX_PAGES} pages; narrow the query or lower lookback_days")
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

    def items(self, results: list[Any]) -> Iterator[Item]:
        for index, result in enumerate(results):
            if not isinstance(result, dict):
                log.warning("%s: result %d is not an object; skipped", self.name, index + 1)
                continue
            try:
                yield result_item(result, source=self.name)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("%s: result %d skipped: %s: %s", self.name, index + 1, type(exc).__name__, exc)
