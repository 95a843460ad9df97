"""A stand-in for openFDA (api.fda.gov): the drug/drugsfda, drug/label and drug/enforcement
endpoints, paged by `search_after` with `Link: <…>; rel="next"` as openFDA pages, never by skip.

An endpoint serves either
- generated records (`records`): `limit` per page, each page's Link naming the next one, the
  last page without a Link; or
- fixed pages (`page`), each found by its request's `search_after` (None: the first page), so a
  client that follows the Link walks them in order.
An endpoint with nothing to serve answers as openFDA does when nothing matches: 404
`{"error": {"code": "NOT_FOUND", …}}`; an unknown `search_after`, or any `skip`, a 400 JSON error.

The regulatory board asks for one application at a time (`application_number:"NDA211243"` of
drug/drugsfda, `openfda.application_number:"NDA211243"` of drug/label): those searches are answered
from `products` (`product(...)`), an application not registered there with 404 NOT_FOUND.

The healthy data are either real answers recorded from api.fda.gov in the `vcr` cassettes of the
shared corpus (`load_cassette`, read in place, never copied: status, body, and the headers that
matter), other real corpus bodies, the project's own fixtures under tests/fixtures/openfda, or
records built here (`recalls`).

Labels: "drugsfda:PAGE", "label:PAGE", "enforcement:PAGE", pages counted from 1; the board's
searches "drugsfda:NDA211243", "label:NDA211243".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import yaml

from .server import Answer, Reply, Request, Server

ENDPOINTS = ("drug/drugsfda", "drug/label", "drug/enforcement")
JSON = "application/json; charset=utf-8"
KEPT_HEADERS = ("content-type", "link", "etag")  # not content-encoding: the cassette body is decoded


def json_reply(body: str | bytes | dict, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    return Reply(status, data, JSON, dict(headers or {}))


def error_reply(status: int, code: str, message: str) -> Reply:
    return json_reply({"error": {"code": code, "message": message}}, status)


NOT_FOUND = error_reply(404, "NOT_FOUND", "No matches found!")
# The board's searches: one application, exactly.
APPLICATION_SEARCH = re.compile(r'^(?:openfda\.)?application_number:"((?:NDA|ANDA|BLA)\d+)"$')


# ---- recorded answers (vcr cassettes in the shared corpus) ----


@dataclass(frozen=True)
class Recorded:
    uri: str
    status: int
    headers: dict[str, str]
    body: str

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def search_after(self) -> str | None:
        return (parse_qs(urlsplit(self.uri).query).get("search_after") or [None])[0]

    def reply(self, *, link: str | None = None) -> Reply:
        """The recorded answer; `link` replaces (or adds) its Link header."""
        headers = {k: v for k, v in self.headers.items() if k != "content-type"}
        if link is not None:
            headers["link"] = link
        return Reply(self.status, self.body.encode(), self.headers.get("content-type", "application/json"), headers)


def load_cassette(path: Path) -> list[Recorded]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for interaction in doc["http_interactions"]:
        response = interaction["response"]
        headers = {}
        for name, value in (response.get("headers") or {}).items():
            if name.lower() in KEPT_HEADERS:
                headers[name.lower()] = ", ".join(value) if isinstance(value, list) else str(value)
        out.append(Recorded(interaction["request"]["uri"], int(response["status"]["status_code"]), headers,
                            response["body"]["string"]))
    return out


def error_answer(cassette: list[Recorded], code: str) -> Recorded:
    """The first recorded answer whose body carries this openFDA error code."""
    return next(r for r in cassette if f'"code": "{code}"' in r.body)


# ---- generated records ----


def recalls(n: int) -> list[dict[str, Any]]:
    """drug/enforcement records of ketamine recalls, as openFDA shapes them."""
    return [{
        "recall_number": f"D-{1000 + i}-2026", "event_id": str(90000 + i), "report_date": "20261118",
        "classification": "Class II", "status": "Ongoing", "recall_initiation_date": "20261101",
        "product_description": f"Ketamine Hydrochloride Injection, lot {i}",
        "reason_for_recall": "Lack of sterility assurance", "recalling_firm": "Example Pharma",
        "distribution_pattern": "Nationwide", "openfda": {"generic_name": ["KETAMINE HYDROCHLORIDE"]},
    } for i in range(n)]


# ---- the stand-in ----


@dataclass
class Endpoint:
    name: str  # "drug/enforcement"
    records: list[dict[str, Any]] | None = None
    pages: dict[str | None, Reply] = field(default_factory=dict)  # search_after → page, in order

    @property
    def short(self) -> str:
        return self.name.split("/")[1]

    @property
    def path(self) -> str:
        return f"/{self.name}.json"


@dataclass
class Product:
    """What openFDA holds of one application: its Drugs@FDA record (None: unknown) and its labels."""

    drugsfda: dict[str, Any] | None
    labels: list[dict[str, Any]] = field(default_factory=list)


def results_of(fixture_bytes: bytes) -> list[dict[str, Any]]:
    """The `results` of one of our fixture answers (tests/fixtures/openfda)."""
    return json.loads(fixture_bytes)["results"]


class OpenFDA:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.products: dict[str, Product] = {}
        self.endpoints = {name: Endpoint(name) for name in ENDPOINTS}
        for endpoint in self.endpoints.values():
            server.route(endpoint.path, lambda request, e=endpoint: self.answer(e, request))

    @property
    def url(self) -> str:
        """The base URL an openfda source's `url` names."""
        return self.server.url("/")

    def records(self, endpoint: str, records: list[dict[str, Any]]) -> None:
        """Serve these records, `limit` to a page."""
        self.endpoints[endpoint].records = records

    def page(self, endpoint: str, reply: Reply | Recorded, search_after: str | None = None) -> None:
        """Serve this page to the request with this `search_after` (None: the first request)."""
        self.endpoints[endpoint].pages[search_after] = reply.reply() if isinstance(reply, Recorded) else reply

    def product(self, application: str, drugsfda: dict[str, Any] | None, labels: list[dict[str, Any]] | None = None) -> None:
        """Answer the board's searches for this application: its record and its current labels."""
        self.products[application] = Product(drugsfda, list(labels or []))

    def ids(self) -> set[str]:
        """The item ids the poller makes of the generated recalls."""
        records = self.endpoints["drug/enforcement"].records or []
        return {f"openfda:enforcement:{r['recall_number']}" for r in records}

    def answer(self, endpoint: Endpoint, request: Request) -> Answer:
        q = request.query
        after = q.get("search_after")
        if q.get("skip", "0") != "0":
            return Answer(f"{endpoint.short}:?", "openfda",
                          error_reply(400, "BAD_REQUEST", "the stand-in pages by search_after only, never by skip"))
        one = APPLICATION_SEARCH.match(q.get("search", ""))
        if one and endpoint.name in ("drug/drugsfda", "drug/label"):
            return self.application(endpoint, one[1], int(q.get("limit", 1)))
        if endpoint.records:
            return self.generated(endpoint, request, after)
        if not endpoint.pages:
            return Answer(f"{endpoint.short}:1", "openfda", NOT_FOUND)
        if after not in endpoint.pages:
            return Answer(f"{endpoint.short}:?", "openfda", error_reply(400, "BAD_REQUEST", "unknown search_after"))
        number = list(endpoint.pages).index(after) + 1
        return Answer(f"{endpoint.short}:{number}", "openfda", endpoint.pages[after])

    def application(self, endpoint: Endpoint, application: str, limit: int) -> Answer:
        product = self.products.get(application)
        found = ([product.drugsfda] if product.drugsfda else []) if endpoint.name == "drug/drugsfda" and product else \
            (product.labels if product else [])
        label = f"{endpoint.short}:{application}"
        if not found:
            return Answer(label, "openfda", NOT_FOUND)
        doc = {"meta": {"results": {"skip": 0, "limit": limit, "total": len(found)}}, "results": found[:limit]}
        return Answer(label, "openfda", Reply(200, json.dumps(doc, ensure_ascii=False).encode("utf-8"), JSON))

    def generated(self, endpoint: Endpoint, request: Request, after: str | None) -> Answer:
        records, q = endpoint.records or [], request.query
        limit = int(q.get("limit", 1))  # openFDA's default page is one record
        if after is not None and not after.isdigit():
            return Answer(f"{endpoint.short}:?", "openfda", error_reply(400, "BAD_REQUEST", "unknown search_after"))
        offset = int(after or 0)
        doc = {"meta": {"results": {"skip": 0, "limit": limit, "total": len(records)}},
               "results": records[offset : offset + limit]}
        headers = {}
        if offset + limit < len(records):
            nxt = self.server.url(f"{endpoint.path}?search={quote(q.get('search', ''))}&limit={limit}"
                                  f"&search_after={offset + limit}")
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
        return Answer(f"{endpoint.short}:{offset // limit + 1}", "openfda", Reply(200, body, JSON, headers))
