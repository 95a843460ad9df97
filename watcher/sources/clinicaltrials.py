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

from ..checks import check_keys, join, mapping, one_line, optional
from ..errors import ConfigError, ParseError
from ..http import HttpClient, Response
from ..model import SourceConfig, SourceState
from .base import PAGING_KEYS, Batch, Paging, SourceContext, client_for, folder, kept, paging, walk_pages
from .ctgov_json import Place, studies_of, study_item
from .json_body import json_document
from .window import WINDOW_KEYS, WindowSettings, window_settings

log = logging.getLogger(__name__)

NAME = "ClinicalTrials.gov"  # how its failures read
MAX_PAGE_SIZE = 1000  # the API's largest page
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
    window: WindowSettings
    paging: Paging
    near: tuple[Place, ...] = ()


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
        check_keys(raw, path, {"query", "near", *WINDOW_KEYS, *PAGING_KEYS}, required={"query"})
        return ClinicaltrialsSettings(
            query=parse_query(raw["query"], f"{path}.query"),
            window=window_settings(raw, path, lookback=30, overlap=3),
            paging=paging(raw, path, largest=MAX_PAGE_SIZE),
            near=optional(raw, "near", path, parse_near, ()),
        )

    @classmethod
    def build(cls, source: SourceConfig[ClinicaltrialsSettings], context: SourceContext) -> ClinicaltrialsSource:
        client = client_for(context, rate=source.settings.paging.rate, accept="application/json")
        return cls(source, client=client)

    def __init__(self, source: SourceConfig[ClinicaltrialsSettings], *, client: HttpClient) -> None:
        self.name = source.name
        self.settings = source.settings
        self.url = folder(source.url) + "studies"
        self.client = client

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        s = self.settings
        span = s.window.window(self.name, state.cursor, now.date())
        params = [
            *s.query,
            ("filter.advanced", f"AREA[LastUpdatePostDate]RANGE[{span.start.isoformat()},MAX]"),
            ("fields", FIELDS),
            ("pageSize", str(s.paging.page_size)),
            ("countTotal", "true"),
            ("format", "json"),
        ]

        def page(token: str | None) -> tuple[Batch, str | None]:
            doc = self.read(self.client.get(self.url, params=[*params, *([("pageToken", token)] if token else [])]))
            if token is None and isinstance(doc.get("totalCount"), int):
                log.info("%s: %d studies updated since %s", self.name, doc["totalCount"], span.start)
            following = doc.get("nextPageToken")
            if following is not None and not isinstance(following, str):
                raise ParseError(f"{NAME}: nextPageToken is not text")
            items, skipped = kept(studies_of(doc), lambda study: [study_item(study, source=self.name, near=s.near)],
                                  source=self.name, what="study")
            return Batch(items=items, skipped=skipped), following or None

        yield from walk_pages(None, page, what=NAME, repeated="nextPageToken repeats an earlier page's")
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
