"""A stand-in for the Europe PMC REST search, `GET /europepmc/webservices/rest/search`.

It serves either
- fixed pages (`page(body, mark)`): the page that answers the request carrying that `cursorMark`
  ("*" for the first), e.g. the real answers of the shared corpus, read in place; or
- generated results (`add(result(...))`): `pageSize` to a page, only those whose
  `firstIndexDate` falls in the query's `FIRST_IDATE:[from TO to]`, each page naming the next
  one's `nextCursorMark`. How the walk ends is `ending`: "absent" (the last page has no
  `nextCursorMark`, as an empty result has none), "repeat" (it repeats the mark just sent, as the
  live service is reported to) or "empty" (it names one more page, which holds no result).

`format` must be json and `resultType` core (what the source asks for); an unknown mark is a 400.
`result()` builds a `core` result in Europe PMC's shape: the project's own data, for preprints
and ketamine records the corpus does not hold.

Labels: "search:N", the Nth page of a walk counted from 1; "search:?" for a refused request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .server import Answer, Reply, Request, Server

PATH = "/europepmc/webservices/rest/search"
JSON = "application/json;charset=UTF-8"
WINDOW = re.compile(r"FIRST_IDATE:\[(\d{4}-\d{2}-\d{2}) TO (\d{4}-\d{2}-\d{2})\]")


def result(record_id: str, title: str, *, source: str = "MED", pmid: str | None = None, doi: str | None = None,
           first_index: str = "2026-11-23", published: str = "2026-11-20", pub_types: Sequence[str] = ("Journal Article",),
           abstract: str = "<h4>Background</h4>Ketamine for depression.<h4>Methods</h4>A <i>randomised</i> trial.",
           authors: Sequence[str] = ("Doe J", "Roe R"), journal: str | None = "Journal of Tests",
           links: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A `resultType=core` result. `links` go to commentCorrectionList ({"id", "source", "type"})."""
    doc: dict[str, Any] = {
        "id": record_id, "source": source, "title": title, "abstractText": abstract,
        "authorString": ", ".join(authors) + ".",
        "authorList": {"author": [{"fullName": a, "lastName": a.split()[0]} for a in authors]},
        "pubTypeList": {"pubType": list(pub_types)}, "firstIndexDate": first_index, "firstPublicationDate": published,
        "pubYear": published[:4], "language": "eng",
    }
    if pmid:
        doc["pmid"] = pmid
    if doi:
        doc["doi"] = doi
    if journal and source != "PPR":
        doc["journalInfo"] = {"journal": {"title": journal}}
    elif journal:
        doc["bookOrReportDetails"] = {"publisher": journal}
    if links:
        doc["commentCorrectionList"] = {"commentCorrection": [{"orderIn": i + 1, **link} for i, link in enumerate(links)]}
    return doc


def results(n: int, *, first_index: str = "2026-11-23") -> list[dict[str, Any]]:
    return [result(str(40_000_000 + i), f"Ketamine and mood {i}", pmid=str(40_000_000 + i), first_index=first_index)
            for i in range(n)]


@dataclass
class EuropePMC:
    server: Server
    generated: list[dict[str, Any]] = field(default_factory=list)
    pages: dict[str, Reply] = field(default_factory=dict)  # cursorMark → page, in walk order
    ending: str = "absent"  # absent | repeat | empty

    def __post_init__(self) -> None:
        self.server.route(PATH, self.answer)

    @property
    def url(self) -> str:
        """The base URL a europepmc source's `url` names."""
        return self.server.url("/europepmc/webservices/rest/")

    def add(self, *records: dict[str, Any]) -> None:
        self.generated.extend(records)

    def page(self, body: bytes, mark: str = "*") -> None:
        self.pages[mark] = Reply(200, body, JSON)

    def ids(self) -> set[str]:
        return {f"europepmc:{r['source']}:{r['id']}" for r in self.generated}

    def answer(self, request: Request) -> Answer:
        q = request.query
        if q.get("format") != "json" or q.get("resultType") != "core":
            return Answer("search:?", "europepmc", Reply(400, b"the stand-in answers format=json&resultType=core only", "text/plain"))
        mark = q.get("cursorMark", "*")
        if not self.generated and self.pages:
            if mark not in self.pages:
                return Answer("search:?", "europepmc", Reply(400, b"unknown cursorMark", "text/plain"))
            return Answer(f"search:{list(self.pages).index(mark) + 1}", "europepmc", self.pages[mark])
        return self.generated_page(q, mark)

    def generated_page(self, q: dict[str, str], mark: str) -> Answer:
        window = WINDOW.search(q.get("query", ""))
        start, end = window.groups() if window else ("0000", "9999")
        matching = [r for r in self.generated if start <= r["firstIndexDate"] <= end]
        size = int(q.get("pageSize", "25"))
        if mark != "*" and not re.fullmatch(r"AoI-\d+", mark):
            return Answer("search:?", "europepmc", Reply(400, b"unknown cursorMark", "text/plain"))
        offset = 0 if mark == "*" else int(mark[4:])
        doc: dict[str, Any] = {"version": "6.9", "hitCount": len(matching)}
        if offset + size < len(matching) or (self.ending == "empty" and offset < len(matching)):
            doc["nextCursorMark"] = f"AoI-{offset + size}"
        elif self.ending == "repeat" or (self.ending == "empty" and offset >= len(matching) and offset):
            doc["nextCursorMark"] = mark
        doc["request"] = {"queryString": q.get("query", ""), "resultType": "core", "cursorMark": mark, "pageSize": size}
        doc["resultList"] = {"result": matching[offset : offset + size]}
        body = json.dumps(doc, indent=2).encode()
        return Answer(f"search:{offset // size + 1}", "europepmc", Reply(200, body, JSON))
