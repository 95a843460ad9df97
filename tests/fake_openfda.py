"""A small api.fda.gov stand-in for pytest-httpserver that replays recorded answers.

Real answers come from the `vcr` cassettes in the shared corpus (read in place, never copied):
each interaction's status, body and the headers that matter (Content-Type, Link, ETag). A page is
found by its request's `search_after` value, so a client that follows `Link: rel="next"` walks the
recorded pages in order; a client that used `skip` instead would get the first page again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from werkzeug import Request, Response

KEPT_HEADERS = ("content-type", "link", "etag")  # not content-encoding: the cassette body is decoded


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

    def response(self, *, link: str | None = None) -> Response:
        headers = {k: v for k, v in self.headers.items() if k != "content-type"}
        if link is not None:
            headers["link"] = link
        return Response(self.body, status=self.status, headers=headers,
                        content_type=self.headers.get("content-type", "application/json"))


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


@dataclass
class FakeOpenFDA:
    """Serves, per endpoint path, a list of pages keyed by search_after (None = the first page)."""

    pages: dict[str, dict[str | None, Callable[[], Response]]] = field(default_factory=dict)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    raw_queries: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def install(self, httpserver) -> str:
        for path in ("/drug/drugsfda.json", "/drug/label.json", "/drug/enforcement.json"):
            httpserver.expect_request(path).respond_with_handler(self.handle)
        return httpserver.url_for("/")

    def serve(self, path: str, response: Callable[[], Response], search_after: str | None = None) -> None:
        """`response` makes a fresh Response per request (the same page may be asked twice)."""
        self.pages.setdefault(path, {})[search_after] = response

    def handle(self, request: Request) -> Response:
        args = {k: request.args.getlist(k) for k in request.args}
        self.requests.append(args)
        self.raw_queries.append(request.query_string.decode())
        self.paths.append(request.path)
        pages = self.pages.get(request.path)
        if pages is None:
            return Response('{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}', status=404,
                            content_type="application/json")
        key = (args.get("search_after") or [None])[0]
        if key not in pages:
            return Response('{"error": {"code": "BAD_REQUEST", "message": "unknown search_after"}}', status=400,
                            content_type="application/json")
        return pages[key]()
