"""ClinicalTrials.gov API v2: the studies matching feeds.yaml's query, new or updated since the cursor.

One search, `GET <url>studies`, with the user's `query.term` / `query.cond` / `query.intr` as
written, `filter.advanced=AREA[LastUpdatePostDate]RANGE[<cursor − overlap>,MAX]`, `fields=` for what
is kept and `pageSize` up to 1000. Pages are followed through `nextPageToken`, sent back as
`pageToken` with every other parameter repeated, until a page has none. Tokens are opaque and tied
to one search: they are never stored; the date cursor (the last day whose updates are all stored)
is. The registry is refreshed Monday to Friday, and has no published rate limit: one request a
second by default, backing off on 429 and 5xx (http.py). A 400 comes as `text/plain` ("`filter.phase`
is unknown parameter"): a failure with that message, never retried.

The studies become Items in ctgov_json.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..checks import between, check_keys, join, mapping, number, one_line, optional
from ..errors import ConfigError, ParseError, UpstreamError
from ..http import HttpClient, Response
from ..model import Item, SourceConfig, SourceState
from .base import Batch, SourceContext, client_for, folder
from .ctgov_json import Place, studies_of, study_item
from .json_body import json_document
from .window import window

log = logging.getLogger(__name__)

NAME = "ClinicalTrials.gov"  # how its failures read
MAX_PAGE_SIZE = 1000  # the API's largest page
MAX_PAGES = 1000  # a guard against a server whose tokens never end
QUERY_KEYS = ("term", "cond", "intr")  # feeds.yaml `query.<key>` → the API's `query.<key>`
# The pieces ctgov_json.py reads; everything else of a record (eligibility text, outcomes, the
# results section) is left on the server.
FIELDS = ",".join((
    "NCTId", "BriefTitle", "OfficialTitle", "Acronym", "OverallStatus", "WhyStopped", "StartDate",
    "PrimaryCompletionDate", "CompletionDate", "StudyFirstPostDate", "LastUpdatePostDate", "LeadSponsorName",
    "BriefSummary", "DetailedDescription", "Condition", "Keyword", "StudyType", "Phase", "EnrollmentCount",
    "EnrollmentType", "InterventionName", "InterventionType", "LocationFacility", "LocationCity", "LocationState",
    "LocationCountry", "LocationStatus", "ConditionMeshTerm", "InterventionMeshTerm", "HasResults",
))


@dataclass(frozen=True, slots=True)
class ClinicaltrialsSettings:
    query: tuple[tuple[str, str], ...]  # ("query.cond", "depression"), … as feeds.yaml writes them
    near: tuple[Place, ...] = ()
    lookback_days: int = 30
    overlap_days: int = 3
    page_size: int = 100
    rate: float = 1.0  # requests per second


def parse_query(raw: Any, path: str) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, str):  # a bare query is the free-text `term`
        raw = {"term": raw}
    raw = mapping(raw, path, "a mapping of term, cond and/or intr to query text")
    check_keys(raw, path, QUERY_KEYS)
    found = tuple((f"query.{key}", one_line(raw[key], join(path, key))) for key in QUERY_KEYS if raw.get(key) is not None)
    if not found:
        raise ConfigError(path, "needs at least one of term, cond or intr, e.g. {cond: asthma, intr: budesonide}")
    for key, value in found:
        if len(value) > 2000:
            raise ConfigError(join(path, key.removeprefix("query.")), "is longer than 2000 characters")
    return found


def parse_near(raw: Any, path: str) -> tuple[Place, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, "must be a list of places, e.g. [{city: Chicago, state: Illinois, country: United States}]")
    places = []
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        entry = mapping(entry, where, "a place: {city: …, state: …, country: …}")
        check_keys(entry, where, {"city", "state", "country"}, required={"city"})
        places.append(Place(
            city=one_line(entry["city"], f"{where}.city"),
            state=optional(entry, "state", where, one_line, None),
            country=optional(entry, "country", where, one_line, None),
        ))
    return tuple(places)


class ClinicaltrialsSource:
    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> ClinicaltrialsSettings:
        check_keys(raw, path, {"query", "near", "lookback_days", "overlap_days", "page_size", "rate"}, required={"query"})
        return ClinicaltrialsSettings(
            query=parse_query(raw["query"], f"{path}.query"),
            near=optional(raw, "near", path, parse_near, ()),
            lookback_days=optional(raw, "lookback_days", path, between(1, 3650), 30),
            overlap_days=optional(raw, "overlap_days", path, between(0, 365), 3),
            page_size=optional(raw, "page_size", path, between(1, MAX_PAGE_SIZE), 100),
            rate=optional(raw, "rate", path, lambda v, p: number(v, p, 0.05, 10), 1.0),
        )

    @classmethod
    def build(cls, source: SourceConfig, context: SourceContext) -> ClinicaltrialsSource:
        client = client_for(context, rate=source.settings.rate, accept="application/json")
        return cls(source, client=client)

    def __init__(self, source: SourceConfig, *, client: HttpClient) -> None:
        self.name = source.name
        self.settings: ClinicaltrialsSettings = source.settings
        self.url = folder(source.url) + "studies"
        self.client = client

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        s = self.settings
        span = window(self.name, state.cursor, now.date(), lookback_days=s.lookback_days, overlap_days=s.overlap_days)
        params = [
            *s.query,
            ("filter.advanced", f"AREA[LastUpdatePostDate]RANGE[{span.start.isoformat()},MAX]"),
            ("fields", FIELDS),
            ("pageSize", str(s.page_size)),
            ("countTotal", "true"),
            ("format", "json"),
        ]
        token: str | None = None
        tokens: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            doc = self.read(self.client.get(self.url, params=[*params, *([("pageToken", token)] if token else [])]))
            if page == 1 and isinstance(doc.get("totalCount"), int):
                log.info("%s: %d studies updated since %s", self.name, doc["totalCount"], span.start)
            yield Batch(items=tuple(self.items(doc)))
            following = doc.get("nextPageToken")
            if following is None or following == "":
                break
            if not isinstance(following, str):
                raise ParseError(f"{NAME}: nextPageToken is not text")
            if following in tokens:
                raise UpstreamError(f"{NAME}: nextPageToken repeats an earlier page's (page {page})")
            tokens.add(following)
            token = following
        else:
            raise UpstreamError(f"{NAME}: more than {MAX_PAGES} pages; narrow the query or lower lookback_days")
        # Reached only when the last page (without a token) is stored: now the cursor may move.
        yield Batch(items=(), final=True, cursor=span.cursor)

    @staticmethod
    def read(response: Response) -> Mapping[str, Any]:
        """The JSON document of a 200, or a failure with the registry's own message (400s are text/plain)."""
        if response.status != 200:
            raise response.failure()
        doc = json_document(response.body, NAME)
        if not isinstance(doc, dict) or not isinstance(doc.get("studies"), list):
            raise ParseError(f"{NAME}: the answer has no `studies` list")
        return doc

    def items(self, doc: Mapping[str, Any]) -> Iterator[Item]:
        for index, study in enumerate(studies_of(doc)):
            if not isinstance(study, dict):
                log.warning("%s: study %d is not an object; skipped", self.name, index + 1)
                continue
            try:
                yield study_item(study, source=self.name, near=self.settings.near)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("%s: study %d skipped: %s: %s", self.name, index + 1, type(exc).__name__, exc)
