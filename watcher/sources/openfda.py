"""openFDA: approvals and supplements (drug/drugsfda), label revisions (drug/label) and
recalls (drug/enforcement) naming the configured drugs, new since the cursor.

One search per endpoint, e.g.

    (openfda.generic_name:"aspirin" OR openfda.brand_name:"aspirin" OR ...)
    AND submissions.submission_status_date:[20261001 TO 20261124]

sent with spaces, which the query string encodes as `+` (openFDA's documented form: `+AND+`,
`"multiple+myeloma"`, `[20040101+TO+20081231]`). Pages are followed through the `Link: <…>;
rel="next"` header (search_after), never by a growing `skip` (capped at 25,000). A 404 whose
body says NOT_FOUND means "no match": a successful poll with nothing new.

Cursor = the last day (ISO date) whose records are all stored; each poll re-asks `overlap_days`
before it, because records reach openFDA days or weeks after their own date. Ids are stable, so the
overlap stores nothing twice. The records become Items in openfda_json.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.utils import parse_header_links

from ..checks import between, check_keys, optional, string_list
from ..errors import ConfigError, ParseError
from ..http import SECRET_PARAMS, HttpClient, Response
from ..model import SourceConfig, SourceState
from ..text import shorten
from .base import Batch, SourceContext, client_for, folder, kept, walk_pages
from .json_body import json_document
from .openfda_json import MAPPERS
from .window import WINDOW_KEYS, DateWindow, WindowSettings, window_settings

log = logging.getLogger(__name__)

API_KEY_ENV = "OPENFDA_API_KEY"
RATE = 4.0  # requests/s: openFDA allows 240 requests per minute
MAX_LIMIT = 1000  # openFDA's largest page
TERM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .,'/&()+-]{0,99}$")
WHITESPACE = re.compile(r"\s+")
SERVER_ERROR_RE = re.compile(rb'"code"\s*:\s*"SERVER_ERROR"')
Params = tuple[tuple[str, str], ...]  # a page's query: the next page's comes from the Link header


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # as written in feeds.yaml
    path: str  # relative to the base URL
    date_field: str  # the field the window is asked on (YYYYMMDD)
    name_fields: tuple[str, ...]  # where a drug name is looked for


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("drug/drugsfda", "drug/drugsfda.json", "submissions.submission_status_date",
                 ("openfda.generic_name", "openfda.brand_name", "products.brand_name", "products.active_ingredients.name")),
        # Harmonised `openfda.*` fields cover only some labels (a generic injection's listing may have
        # an empty `openfda`): the substance name, and the label's own product text, find the rest.
        Endpoint("drug/label", "drug/label.json", "effective_time",
                 ("openfda.generic_name", "openfda.brand_name", "openfda.substance_name", "spl_product_data_elements")),
        # Recalls often leave `openfda` empty; the product description names the drug.
        Endpoint("drug/enforcement", "drug/enforcement.json", "report_date",
                 ("openfda.generic_name", "openfda.brand_name", "product_description")),
    )
}


@dataclass(frozen=True, slots=True)
class OpenfdaSettings:
    search: tuple[str, ...]  # drug names (brand, generic) to look for: the topic's, from feeds.yaml
    window: WindowSettings
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)
    limit: int = 100


def endpoint_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or value.strip().strip("/") not in ENDPOINTS:
        raise ConfigError(path, f"unknown endpoint {value!r}; use one of: {', '.join(ENDPOINTS)}")
    return value.strip().strip("/")


def search_term(value: Any, path: str) -> str:
    if not isinstance(value, str) or not TERM_RE.match(value.strip()):
        raise ConfigError(path, f"{value!r}: a drug name of letters, digits, spaces and . , ' / & ( ) + - (no quotes)")
    return WHITESPACE.sub(" ", value.strip())


class OpenfdaSource:
    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> OpenfdaSettings:
        check_keys(raw, path, {"endpoints", "search", *WINDOW_KEYS, "limit"}, required={"search"})
        return OpenfdaSettings(
            search=string_list(raw["search"], f"{path}.search", search_term),
            window=window_settings(raw, path, lookback=90, overlap=30),
            endpoints=optional(raw, "endpoints", path, lambda v, p: string_list(v, p, endpoint_name), tuple(ENDPOINTS)),
            limit=optional(raw, "limit", path, between(1, MAX_LIMIT), 100),
        )

    @classmethod
    def build(cls, source: SourceConfig[OpenfdaSettings], context: SourceContext) -> OpenfdaSource:
        api_key = (context.env.get(API_KEY_ENV) or "").strip() or None
        client = client_for(context, rate=RATE, secrets=[api_key or ""], accept="application/json")
        return cls(source, api_key=api_key, client=client)

    def __init__(self, source: SourceConfig[OpenfdaSettings], *, api_key: str | None, client: HttpClient) -> None:
        self.name = source.name
        self.settings = source.settings
        self.base = folder(source.url)
        self.api_key = api_key
        self.client = client

    # ---- the poll ----

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        s = self.settings
        span = s.window.window(self.name, state.cursor, now.date())
        for name in s.endpoints:
            yield from self.fetch_endpoint(ENDPOINTS[name], span)
        # Reached only when every endpoint was read to its last page: now the cursor may move.
        yield Batch(items=(), final=True, cursor=span.cursor)

    def query(self, endpoint: Endpoint, span: DateWindow) -> str:
        names = " OR ".join(f'{field}:"{term}"' for term in self.settings.search for field in endpoint.name_fields)
        return f"({names}) AND {endpoint.date_field}:[{span.start:%Y%m%d} TO {span.end:%Y%m%d}]"

    def fetch_endpoint(self, endpoint: Endpoint, span: DateWindow) -> Iterator[Batch]:
        url = self.base + endpoint.path
        build = MAPPERS[endpoint.name]

        def page(params: Params) -> tuple[Batch | None, Params | None]:
            response = self.client.get(url, params=self.with_key(list(params)), not_retried=not_retried)
            doc = self.read(endpoint, response)
            if doc is None:  # NOT_FOUND: no (more) matches
                return None, None
            results = doc.get("results")
            if not isinstance(results, list):
                raise ParseError(f"openFDA {endpoint.name}: the answer has no `results` list")
            items, skipped = kept(results, lambda record: build(record, source=self.name, base=self.base, window=span),
                                  source=self.name, what=f"{endpoint.name} result")
            following = next_params(response.headers)
            return Batch(items=items, skipped=skipped), tuple(following) if following else None

        first: Params = (("search", self.query(endpoint, span)), ("limit", str(self.settings.limit)))
        for batch in walk_pages(first, page, what=f"openFDA {endpoint.name}", repeated="the next-page link repeats an earlier page"):
            if batch is not None:
                yield batch

    def with_key(self, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*params, ("api_key", self.api_key)] if self.api_key else params

    def read(self, endpoint: Endpoint, response: Response) -> dict[str, Any] | None:
        return read_answer(endpoint.name, response, self.api_key)


def read_answer(what: str, response: Response, api_key: str | None) -> dict[str, Any] | None:
    """The JSON document of a 200, None for "no matches", or raise with openFDA's own message.
    `what` names the request in messages ("openFDA drug/label")."""
    # Not JSON at all is openFDA's answer only in an outage: the status speaks then, else the body's problem.
    problem: ParseError | None = None
    try:
        doc = json_document(response.body, f"openFDA {what}")
    except ParseError as exc:
        doc, problem = None, exc
    error = doc.get("error") if isinstance(doc, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if response.status == 404 and code == "NOT_FOUND":
        log.info("openFDA %s: no matches", what)
        return None
    if response.status != 200 or error is not None:
        if error is None:  # not openFDA's JSON: the client's snippet of the body, already redacted
            raise response.failure()
        detail = error_text(error)
        if api_key:  # a message echoing the key must not carry it into the store
            detail = detail.replace(api_key, "***")
        raise response.failure(detail=detail)
    if not isinstance(doc, dict):
        raise problem or ParseError(f"openFDA {what}: the answer is not a JSON object")
    return doc


def not_retried(status: int, head: bytes) -> bool:
    """openFDA answers a malformed query with HTTP 500 and a JSON `SERVER_ERROR` body ("Check your
    request and try again"): the same request fails the same way, so it is reported at once.

    `head` is the body's first few kB: a long `details` may cut the JSON short, so the code is
    looked for in the text of a JSON object. An HTML 500 page (a real outage) is still retried."""
    return status == 500 and head.lstrip()[:1] == b"{" and SERVER_ERROR_RE.search(head) is not None


def error_text(error: Any) -> str:
    """openFDA's `{"code": …, "message": …}` as one short line."""
    if isinstance(error, dict):
        text = ": ".join(str(error[k]) for k in ("code", "message") if isinstance(error.get(k), str)) or "error"
    else:
        text = str(error)
    return shorten(text, 300)


def next_params(headers: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """The query of the `Link: <…>; rel="next"` target, without any api_key it may echo.

    Only the query is taken: the next page is asked of our own endpoint URL, so a link can never
    send the request (and the api_key) to another host.
    """
    value = headers.get("link")
    if not value:
        return None
    for link in parse_header_links(value):
        if "next" in str(link.get("rel", "")).lower().split():  # rel values are case-insensitive (RFC 8288)
            query = urlsplit(link.get("url", "")).query
            pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() not in SECRET_PARAMS]
            return pairs or None
    return None
