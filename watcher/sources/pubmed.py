"""PubMed through NCBI E-utilities: esearch (history server) for a date window, then efetch in batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..config import SourceConfig, check_keys, integer, optional, text
from ..errors import FetchError, UpstreamError
from ..http import HttpClient
from ..store import SourceState
from .base import Batch, client_for
from .pubmed_xml import EsearchResult, iter_efetch, parse_esearch, to_item

log = logging.getLogger(__name__)

ESEARCH_CAP = 9999  # esearch will not page past this many ids for one query
DATE_FMT = "%Y/%m/%d"


@dataclass(frozen=True, slots=True)
class PubmedSettings:
    query: str
    lookback_days: int = 30
    overlap_days: int = 3
    batch_size: int = 500


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date  # inclusive, as E-utilities' maxdate is

    def params(self) -> dict[str, str]:
        return {"datetype": "edat", "mindate": self.start.strftime(DATE_FMT), "maxdate": self.end.strftime(DATE_FMT)}

    def halves(self) -> tuple[Window, Window]:
        middle = self.start + (self.end - self.start) // 2
        return Window(self.start, middle), Window(middle + timedelta(days=1), self.end)


class PubmedSource:
    """Cursor = the last day (edat) whose records are all stored, as YYYY/MM/DD."""

    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> PubmedSettings:
        check_keys(raw, path, {"query", "lookback_days", "overlap_days", "batch_size"}, required={"query"})
        return PubmedSettings(
            query=text(raw["query"], f"{path}.query"),
            lookback_days=optional(raw, "lookback_days", path, lambda v, p: integer(v, p, 1, 3650), 30),
            overlap_days=optional(raw, "overlap_days", path, lambda v, p: integer(v, p, 0, 60), 3),
            batch_size=optional(raw, "batch_size", path, lambda v, p: integer(v, p, 1, 10000), 500),
        )

    def __init__(self, source: SourceConfig, *, tool: str, email: str, api_key: str | None, client: HttpClient) -> None:
        self.name = source.name
        self.settings: PubmedSettings = source.settings
        self.base = source.url if source.url.endswith("/") else source.url + "/"
        self.client = client
        self.common = {"db": "pubmed", "tool": tool}
        if email:
            self.common["email"] = email
        if api_key:
            self.common["api_key"] = api_key

    @classmethod
    def build(cls, source: SourceConfig, app: Any, env: Mapping[str, str], sleep: Callable[[float], None]) -> PubmedSource:
        api_key = env.get("NCBI_API_KEY") or None
        # NCBI's published limits: 3 requests/s, 10 with a key.
        client = client_for(app, rate=10.0 if api_key else 3.0, secrets=[api_key or ""], sleep=sleep)
        return cls(source, tool=app.contact.tool, email=app.contact.email, api_key=api_key, client=client)

    # ---- the poll ----

    def window(self, state: SourceState, today: date) -> Window:
        if state.cursor:
            start = datetime.strptime(state.cursor, DATE_FMT).date() - timedelta(days=self.settings.overlap_days)
        else:
            start = today - timedelta(days=self.settings.lookback_days)
        return Window(min(start, today), today)

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        whole = self.window(state, now.date())
        for window, found in self.searches(whole):
            yield from self.fetch_window(found)
        # Reached only when every window was fetched: now the cursor may move.
        yield Batch(items=(), final=True, cursor=whole.end.strftime(DATE_FMT))

    def searches(self, window: Window) -> Iterator[tuple[Window, EsearchResult]]:
        """esearch the window; split it in halves until each part has at most ESEARCH_CAP ids."""
        found = self.esearch(window)
        if found.count <= ESEARCH_CAP:
            if found.count:
                yield window, found
            return
        if window.start == window.end:
            raise UpstreamError(
                f"{found.count} records on the single day {window.start}: more than E-utilities can page; narrow the query"
            )
        log.info("%s: %d records in %s..%s, splitting the window", self.name, found.count, window.start, window.end)
        for half in window.halves():
            yield from self.searches(half)

    def esearch(self, window: Window) -> EsearchResult:
        params = {**self.common, "term": self.settings.query, "usehistory": "y", "retmax": "0", **window.params()}
        response = self.client.get(self.base + "esearch.fcgi", params=params).raise_for_status_line((200,))
        found = parse_esearch(response.body)
        if found.count and not (found.webenv and found.query_key):
            raise UpstreamError("esearch found records but returned no WebEnv/QueryKey (usehistory ignored?)")
        return found

    def fetch_window(self, found: EsearchResult) -> Iterator[Batch]:
        size = self.settings.batch_size
        for start in range(0, found.count, size):
            params = {
                **self.common,
                "query_key": found.query_key,
                "WebEnv": found.webenv,
                "retstart": str(start),
                "retmax": str(size),
                "retmode": "xml",
            }
            with self.client.open(self.base + "efetch.fcgi", params=params) as (status, _headers, stream):
                if status != 200:
                    raise FetchError(f"efetch at retstart {start} → HTTP {status}")
                items = tuple(to_item(record, self.name) for record in iter_efetch(stream))
            expected = min(size, found.count - start)
            if len(items) < expected:
                # Records withdrawn between esearch and efetch are rare but real; do not fail the poll.
                log.warning("%s: efetch at retstart %d gave %d of %d records", self.name, start, len(items), expected)
            yield Batch(items=items)
