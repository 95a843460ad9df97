"""PubMed through NCBI E-utilities: esearch (history server) for a date window, then efetch in batches.

Then the re-check of records already listed in a digest, for retractions, errata and expressions
of concern added to them since: one esearch of the same window by modification date
(`datetype=mdat`, ids only), kept to the listed PMIDs, and an efetch by id of those that changed,
RECHECK_BATCH ids per GET. Re-saved, a record that gained a flag becomes a notice (decide.py).
This costs 1 + ⌈changed listed records / 200⌉ requests a poll, usually 1, however many records
were ever listed; fetching every listed PMID by id (POST) would cost ⌈listed / 200⌉, growing for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..checks import between, check_keys, optional, text
from ..errors import UpstreamError
from ..http import HttpClient
from ..model import Item, SourceConfig, SourceState
from .base import Batch, SourceContext, client_for, folder
from .pubmed_xml import ITEM_PREFIX, EsearchResult, iter_efetch, parse_esearch, to_item
from .window import WINDOW_KEYS, DateWindow, WindowSettings, window_settings

log = logging.getLogger(__name__)

ESEARCH_CAP = 9999  # esearch will not page past this many ids for one query
RECHECK_BATCH = 200  # ids per efetch GET: NCBI asks for POST above about 200 ids; this URL stays under 2.5 kB
DATE_FMT = "%Y/%m/%d"
API_KEY_ENV = "NCBI_API_KEY"


@dataclass(frozen=True, slots=True)
class PubmedSettings:
    query: str
    window: WindowSettings
    batch_size: int = 500


def date_params(span: DateWindow, datetype: str = "edat") -> dict[str, str]:
    """New since: the Entrez date (when PubMed first listed the record), inclusive on both ends;
    `mdat`: changed since (the record's last modification)."""
    return {"datetype": datetype, "mindate": span.start.strftime(DATE_FMT), "maxdate": span.end.strftime(DATE_FMT)}


class PubmedSource:
    """Cursor = the last day (edat) whose records are all stored, as an ISO date."""

    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> PubmedSettings:
        check_keys(raw, path, {"query", *WINDOW_KEYS, "batch_size"}, required={"query"})
        return PubmedSettings(
            query=text(raw["query"], f"{path}.query"),
            window=window_settings(raw, path, lookback=30, overlap=3, max_overlap=60),
            batch_size=optional(raw, "batch_size", path, between(1, 10000), 500),
        )

    @classmethod
    def build(cls, source: SourceConfig[PubmedSettings], context: SourceContext) -> PubmedSource:
        api_key = context.env.get(API_KEY_ENV) or None
        # NCBI's published limits: 3 requests/s, 10 with a key.
        client = client_for(context, rate=10.0 if api_key else 3.0, secrets=[api_key or ""])
        return cls(source, tool=context.contact.tool, email=context.contact.email, api_key=api_key, client=client,
                   known=context.known, contact_warning=context.contact.warning)

    def __init__(self, source: SourceConfig[PubmedSettings], *, tool: str, email: str, api_key: str | None, client: HttpClient,
                 known: frozenset[str] = frozenset(), contact_warning: str | None = None) -> None:
        self.name = source.name
        self.contact_warning = contact_warning
        self.listed = frozenset(i.removeprefix(ITEM_PREFIX) for i in known if i.startswith(ITEM_PREFIX))  # PMIDs
        self.settings = source.settings
        self.base = folder(source.url)
        self.client = client
        self.common = {"db": "pubmed", "tool": tool}
        if email:
            self.common["email"] = email
        if api_key:
            self.common["api_key"] = api_key

    # ---- the poll ----

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        if self.contact_warning:  # once a poll: the address goes with every request
            log.warning("%s: %s", self.name, self.contact_warning)
        s = self.settings
        whole = s.window.window(self.name, state.cursor, now.date())
        fetched: set[str] = set()
        for found in self.searches(whole):
            for batch in self.fetch_found(found):
                fetched.update(item.id.removeprefix(ITEM_PREFIX) for item in batch.items)
                yield batch
        yield from self.recheck(whole, self.listed - fetched)
        # Reached only when every window was fetched and re-checked: now the cursor may move.
        yield Batch(items=(), final=True, cursor=whole.cursor)

    def searches(self, span: DateWindow) -> Iterator[EsearchResult]:
        """esearch the window; split it in halves until each part has at most ESEARCH_CAP ids."""
        found = self.esearch(span)
        if found.count <= ESEARCH_CAP:
            if found.count:
                yield found
            return
        if span.start == span.end:
            raise UpstreamError(
                f"{found.count} records on the single day {span.start}: more than E-utilities can page; narrow the query"
            )
        log.info("%s: %d records in %s..%s, splitting the window", self.name, found.count, span.start, span.end)
        for half in span.halves():
            yield from self.searches(half)

    def esearch(self, span: DateWindow) -> EsearchResult:
        params = {**self.common, "term": self.settings.query, "usehistory": "y", "retmax": "0", **date_params(span)}
        response = self.client.get(self.base + "esearch.fcgi", params=params).expect(200)
        found = parse_esearch(response.body)
        if found.count and not (found.webenv and found.query_key):
            raise UpstreamError("esearch found records but returned no WebEnv/QueryKey (usehistory ignored?)")
        return found

    def fetch_found(self, found: EsearchResult) -> Iterator[Batch]:
        size = self.settings.batch_size
        for start in range(0, found.count, size):
            params = {
                **self.common,
                "query_key": found.query_key or "",
                "WebEnv": found.webenv or "",
                "retstart": str(start),
                "retmax": str(size),
                "retmode": "xml",
            }
            with self.client.open(self.base + "efetch.fcgi", params=params) as (status, _headers, stream):
                if status != 200:
                    raise stream.target.error(f"HTTP {status} at retstart {start} ({stream.target.where})")
                items = tuple(to_item(record, self.name) for record in iter_efetch(stream))
            expected = min(size, found.count - start)
            if len(items) < expected:
                # Records withdrawn between esearch and efetch are rare but real; do not fail the poll.
                log.warning("%s: efetch at retstart %d gave %d of %d records", self.name, start, len(items), expected)
            yield Batch(items=items)

    # ---- the re-check of listed records ----

    def recheck(self, span: DateWindow, listed: frozenset[str]) -> Iterator[Batch]:
        """The listed records (PMIDs) modified in the window, fetched again."""
        if not listed:
            return
        changed = sorted(set(self.changed_ids(span)) & listed, key=lambda pmid: (len(pmid), pmid))
        log.info("%s: %d of %d listed records changed in %s..%s", self.name, len(changed), len(listed), span.start, span.end)
        for start in range(0, len(changed), RECHECK_BATCH):
            yield Batch(items=self.efetch_ids(changed[start : start + RECHECK_BATCH]))

    def changed_ids(self, span: DateWindow) -> Iterator[str]:
        """PMIDs of the query's records modified in the window (ids only, split as `searches` does)."""
        params = {**self.common, "term": self.settings.query, "retmax": str(ESEARCH_CAP), **date_params(span, "mdat")}
        found = parse_esearch(self.client.get(self.base + "esearch.fcgi", params=params).expect(200).body)
        if found.count <= ESEARCH_CAP:
            yield from found.ids
            return
        if span.start == span.end:
            raise UpstreamError(f"{found.count} records changed on the single day {span.start}: more than one esearch lists")
        for half in span.halves():
            yield from self.changed_ids(half)

    def efetch_ids(self, pmids: list[str]) -> tuple[Item, ...]:
        params = {**self.common, "id": ",".join(pmids), "retmode": "xml"}
        with self.client.open(self.base + "efetch.fcgi", params=params) as (status, _headers, stream):
            if status != 200:
                raise stream.target.error(f"HTTP {status} fetching {len(pmids)} records by id ({stream.target.where})")
            return tuple(to_item(record, self.name) for record in iter_efetch(stream))
