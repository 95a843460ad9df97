"""A stand-in for the ClinicalTrials.gov API v2 search, `GET /api/v2/studies`.

It serves either
- fixed pages (`page(body, token)`): the page that answers the request carrying that `pageToken`
  (None: the first request), e.g. the real search pages of the shared corpus, read in place; or
- generated studies (`add(study(...))`): `pageSize` to a page, only those whose last update falls
  in `filter.advanced`'s `AREA[LastUpdatePostDate]RANGE[from,MAX]`, `totalCount` on the first
  page only and a `nextPageToken` on every page but the last, as the registry pages.

It refuses what the registry refuses, with a 400 in `text/plain`: an unknown parameter
("`filter.phase` is unknown parameter"), an unknown `pageToken`, and a `pageToken` sent without
the parameters of the search it belongs to (tokens are tied to one query).

`study()` builds a record in the registry's shape (protocolSection modules, derivedSection,
hasResults): the project's own data, for trials the corpus does not hold (it has no ketamine study).

Labels: "studies:N", the Nth page of a walk counted from 1; "studies:?" for a refused request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .server import Answer, Reply, Request, Server

PATH = "/api/v2/studies"
JSON = "application/json"
KNOWN = {
    "format", "markupFormat", "query.cond", "query.term", "query.locn", "query.titles", "query.intr", "query.outc",
    "query.spons", "query.lead", "query.id", "query.patient", "filter.overallStatus", "filter.geo", "filter.ids",
    "filter.advanced", "filter.synonyms", "postFilter.overallStatus", "postFilter.geo", "postFilter.ids",
    "postFilter.advanced", "postFilter.synonyms", "aggFilters", "geoDecay", "fields", "sort", "countTotal",
    "pageSize", "pageToken",
}
RANGE = re.compile(r"AREA\[LastUpdatePostDate\]RANGE\[(\d{4}-\d{2}-\d{2}),MAX\]")


def plain_400(message: str) -> Reply:
    return Reply(400, message.encode(), "text/plain")


def study(nct: str, title: str, *, status: str = "RECRUITING", phases: Sequence[str] = ("PHASE2",),
          conditions: Sequence[str] = ("Depression, Treatment-Resistant",), interventions: Sequence[str] = ("Esketamine",),
          summary: str = "A randomized trial of ketamine for treatment-resistant depression.",
          first_posted: str = "2026-11-20", last_update: str = "2026-11-20", start: str | None = "2026-12",
          primary_completion: str | None = "2027-06", completion: str | None = "2027-12", has_results: bool = False,
          locations: Sequence[dict[str, Any]] = (), sponsor: str = "Example University") -> dict[str, Any]:
    """A study record as the API returns it with `fields=` (the modules the source asks for)."""
    status_module: dict[str, Any] = {
        "overallStatus": status,
        "studyFirstPostDateStruct": {"date": first_posted, "type": "ACTUAL"},
        "lastUpdatePostDateStruct": {"date": last_update, "type": "ACTUAL"},
    }
    for key, value in (("startDateStruct", start), ("primaryCompletionDateStruct", primary_completion),
                       ("completionDateStruct", completion)):
        if value:
            status_module[key] = {"date": value, "type": "ESTIMATED"}
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct, "briefTitle": title, "officialTitle": f"{title}: A Randomized Trial"},
            "statusModule": status_module,
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": sponsor}},
            "descriptionModule": {"briefSummary": summary},
            "conditionsModule": {"conditions": list(conditions)},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": list(phases), "enrollmentInfo": {"count": 60, "type": "ESTIMATED"}},
            "armsInterventionsModule": {"interventions": [{"type": "DRUG", "name": n} for n in interventions]},
            "contactsLocationsModule": {"locations": list(locations)},
        },
        "derivedSection": {"conditionBrowseModule": {"meshes": [{"id": "D000003866", "term": "Depressive Disorder"}]}},
        "hasResults": has_results,
    }


def studies(n: int, *, last_update: str = "2026-11-20") -> list[dict[str, Any]]:
    return [study(f"NCT{i:08d}", f"Ketamine infusion trial {i}", last_update=last_update) for i in range(n)]


@dataclass
class ClinicalTrials:
    server: Server
    generated: list[dict[str, Any]] = field(default_factory=list)
    pages: dict[str | None, Reply] = field(default_factory=dict)  # pageToken → page, in walk order
    first_params: dict[str, str] | None = None  # the parameters of the walk's first request, for token checks

    def __post_init__(self) -> None:
        self.server.route(PATH, self.answer)

    @property
    def url(self) -> str:
        """The base URL a clinicaltrials source's `url` names."""
        return self.server.url("/api/v2/")

    def add(self, *records: dict[str, Any]) -> None:
        self.generated.extend(records)

    def page(self, body: bytes, token: str | None = None) -> None:
        self.pages[token] = Reply(200, body, JSON)

    def ids(self) -> set[str]:
        return {f"ctgov:{s['protocolSection']['identificationModule']['nctId']}" for s in self.generated}

    def answer(self, request: Request) -> Answer:
        q = request.query
        unknown = sorted(set(q) - KNOWN)
        if unknown:
            return Answer("studies:?", "ctgov", plain_400(f"`{unknown[0]}` is unknown parameter"))
        token = q.get("pageToken")
        rest = {k: v for k, v in q.items() if k != "pageToken"}
        if token is None:
            self.first_params = rest
        elif rest != self.first_params:
            return Answer("studies:?", "ctgov", plain_400("pageToken does not belong to this query: repeat its parameters"))
        if self.generated or not self.pages:  # nothing given: an empty result, as the registry answers
            return self.generated_page(q, token)
        if token not in self.pages:
            return Answer("studies:?", "ctgov", plain_400(f"unknown pageToken {token!r}"))
        return Answer(f"studies:{list(self.pages).index(token) + 1}", "ctgov", self.pages[token])

    def generated_page(self, q: dict[str, str], token: str | None) -> Answer:
        found = RANGE.search(q.get("filter.advanced", ""))
        since = found.group(1) if found else "0000"
        matching = [s for s in self.generated
                    if s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] >= since]
        size = int(q.get("pageSize", "10"))
        if token is not None and not re.fullmatch(r"tok-\d+", token):
            return Answer("studies:?", "ctgov", plain_400(f"unknown pageToken {token!r}"))
        offset = int(token[4:]) if token else 0
        doc: dict[str, Any] = {"studies": matching[offset : offset + size]}
        if token is None and q.get("countTotal") == "true":
            doc["totalCount"] = len(matching)
        if offset + size < len(matching):
            doc["nextPageToken"] = f"tok-{offset + size}"
        body = json.dumps(doc, indent=2).encode()
        return Answer(f"studies:{offset // size + 1}", "ctgov", Reply(200, body, JSON))
