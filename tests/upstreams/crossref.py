"""A stand-in for Crossref's REST API, `GET /works?filter=doi:…,doi:…[,from-index-date:YYYY-MM-DD]&rows=N`.

It answers in the shape of the real API's work-list (`status`, `message-type: work-list`,
`message-version`, `message: {facets, total-results, items, items-per-page, query}`), each item a
work as Crossref returns it, trimmed: DOI, title, container-title, author, issued, type,
`indexed` (the day the record was last indexed) and `updated-by`, whose entries have the shape of
real ones (the retracted Lancet paper of 1998 carries two from Retraction Watch:
`{"DOI", "type": "retraction", "label": "Retraction", "source": "retraction-watch",
"updated": {"date-parts", "date-time", "timestamp"}, "record-id"}`); see SOURCES in the docstring
of tests/test_crossref.py.

`work(doi, ...)` adds a work; `retract(doi, notice, on=...)` adds an `updated-by` entry and
re-indexes the work that day. The filter is applied as Crossref does: `doi:` filters are ORed,
`from-index-date` ANDed; an unknown filter name is a 400 with Crossref's JSON error.

Labels: "works:N" for the Nth batch of DOIs asked (a retry of a batch has its label), "works:?" for
a refused request; kind "crossref" (faults build JSON documents for it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .server import Answer, Reply, Request, Server

PATH = "/works"
JSON = "application/json;charset=utf-8"
FILTERS = ("doi", "from-index-date")


def stamp(day: date) -> dict[str, Any]:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {"date-parts": [[day.year, day.month, day.day]], "date-time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timestamp": int(moment.timestamp() * 1000)}


@dataclass
class Crossref:
    server: Server
    works: dict[str, dict[str, Any]] = field(default_factory=dict)  # DOI lower-cased → work
    indexed: dict[str, date] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)  # a request's filter → its batch number

    def __post_init__(self) -> None:
        self.server.route(PATH, self.answer)

    @property
    def url(self) -> str:
        """What feeds.yaml `crossref.url` names."""
        return self.server.url("/")

    def work(self, doi: str, title: str = "A work", *, indexed: date = date(2026, 11, 1), kind: str = "journal-article",
             container: str = "Journal of Tests") -> dict[str, Any]:
        record = {
            "indexed": stamp(indexed), "DOI": doi, "type": kind, "title": [title], "container-title": [container],
            "author": [{"given": "J", "family": "Doe", "sequence": "first", "affiliation": []}],
            "issued": {"date-parts": [[2026, 11]]}, "publisher": "Test Publisher", "URL": f"https://doi.org/{doi}",
        }
        self.works[doi.lower()] = record
        self.indexed[doi.lower()] = indexed
        return record

    def retract(self, doi: str, notice: str, *, on: date, kind: str = "retraction", source: str = "retraction-watch",
                record_id: str | None = "4036") -> None:
        """A notice updating `doi`, as Crossref lists it; the work is re-indexed that day."""
        entry: dict[str, Any] = {"DOI": notice, "type": kind, "label": kind.replace("_", " ").capitalize(), "source": source,
                                 "updated": stamp(on)}
        if record_id and source == "retraction-watch":
            entry["record-id"] = record_id
        work = self.works[doi.lower()]
        work.setdefault("updated-by", []).append(entry)
        work["indexed"] = stamp(on)
        self.indexed[doi.lower()] = on

    def answer(self, request: Request) -> Answer:
        label = f"works:{self.batches.setdefault(request.query.get('filter', ''), len(self.batches) + 1)}"
        dois, since, unknown = [], None, []
        for part in request.query.get("filter", "").split(","):
            name, _, value = part.partition(":")
            if name == "doi":
                dois.append(value.lower())
            elif name == "from-index-date":
                since = date.fromisoformat(value)
            elif part:
                unknown.append(name)
        if unknown:
            error = {"status": "failed", "message-type": "validation-failure",
                     "message": [{"type": "filter-not-available", "value": unknown[0],
                                  "message": f"Filter {unknown[0]} specified but there is no such filter for this route."}]}
            return Answer("works:?", "crossref", Reply(400, json.dumps(error).encode(), JSON))
        found = [self.works[d] for d in dois if d in self.works and (since is None or self.indexed[d] >= since)]
        rows = int(request.query.get("rows", "20"))
        doc = {"status": "ok", "message-type": "work-list", "message-version": "1.0.0",
               "message": {"facets": {}, "total-results": len(found), "items": found[:rows], "items-per-page": rows,
                           "query": {"start-index": 0, "search-terms": None}}}
        return Answer(label, "crossref", Reply(200, json.dumps(doc, indent=1).encode(), JSON))
