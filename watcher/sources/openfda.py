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

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.utils import parse_header_links

from ..checks import between, check_keys, optional, string_list
from ..errors import ConfigError, ParseError, UpstreamError
from ..http import SECRET_PARAMS, HttpClient, Response
from ..model import Item, SourceConfig, SourceState
from ..text import shorten
from .base import Batch, SourceContext, client_for, folder
from .openfda_json import MAPPERS
from .window import DateWindow, window

log = logging.getLogger(__name__)

API_KEY_ENV = "OPENFDA_API_KEY"
RATE = 4.0  # requests/s: openFDA allows 240 requests per minute
MAX_LIMIT = 1000  # openFDA's largest page
MAX_PAGES = 1000  # a guard against a server that never stops sending "next"
TERM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .,'/&()+-]{0,99}$")
WHITESPACE = re.compile(r"\s+")
SERVER_ERROR_RE = re.compile(rb'"code"\s*:\s*"SERVER_ERROR"')


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
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)
    lookback_days: int = 90
    overlap_days: int = 30
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
        check_keys(raw, path, {"endpoints", "search", "lookback_days", "overlap_days", "limit"}, required={"search"})
        return OpenfdaSettings(
            search=string_list(raw["search"], f"{path}.search", search_term),
            endpoints=optional(raw, "endpoints", path, lambda v, p: string_list(v, p, endpoint_name), tuple(ENDPOINTS)),
            lookback_days=optional(raw, "lookback_days", path, between(1, 3650), 90),
            overlap_days=optional(raw, "overlap_days", path, between(0, 365), 30),
            limit=optional(raw, "limit", path, between(1, MAX_LIMIT), 100),
        )

    @classmethod
    def build(cls, source: SourceConfig, context: SourceContext) -> OpenfdaSource:
        api_key = (context.env.get(API_KEY_ENV) or "").strip() or None
        client = client_for(context, rate=RATE, secrets=[api_key or ""], accept="application/json")
        return cls(source, api_key=api_key, client=client)

    def __init__(self, source: SourceConfig, *, api_key: str | None, client: HttpClient) -> None:
        self.name = source.name
        self.settings: OpenfdaSettings = source.settings
        self.base = folder(source.url)
        self.api_key = api_key
        self.client = client

    # ---- the poll ----

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        s = self.settings
        span = window(self.name, state.cursor, now.date(), lookback_days=s.lookback_days, overlap_days=s.overlap_days)
        for name in s.endpoints:
            yield from self.fetch_endpoint(ENDPOINTS[name], span)
        # Reached only when every endpoint was read to its last page: now the cursor may move.
        yield Batch(items=(), final=True, cursor=span.cursor)

    def query(self, endpoint: Endpoint, span: DateWindow) -> str:
        names = " OR ".join(f'{field}:"{term}"' for term in self.settings.search for field in endpoint.name_fields)
        return f"({names}) AND {endpoint.date_field}:[{span.start:%Y%m%d} TO {span.end:%Y%m%d}]"

    def fetch_endpoint(self, endpoint: Endpoint, span: DateWindow) -> Iterator[Batch]:
        url = self.base + endpoint.path
        params: list[tuple[str, str]] = [("search", self.query(endpoint, span)), ("limit", str(self.settings.limit))]
        seen: set[tuple[tuple[str, str], ...]] = set()
        for page in range(1, MAX_PAGES + 1):
            seen.add(tuple(params))
            response = self.client.get(url, params=self.with_key(params), not_retried=not_retried)
            doc = self.read(endpoint, response)
            if doc is None:  # NOT_FOUND: no (more) matches
                return
            results = doc.get("results")
            if not isinstance(results, list):
                raise ParseError(f"openFDA {endpoint.name}: the answer has no `results` list")
            yield Batch(items=tuple(self.items(endpoint, results, span)))
            following = next_params(response.headers)
            if following is None:
                return
            if tuple(following) in seen:
                raise UpstreamError(f"openFDA {endpoint.name}: the next-page link repeats an earlier page (page {page})")
            params = following
        raise UpstreamError(f"openFDA {endpoint.name}: more than {MAX_PAGES} pages; narrow `search` or the window")

    def with_key(self, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*params, ("api_key", self.api_key)] if self.api_key else params

    def read(self, endpoint: Endpoint, response: Response) -> dict[str, Any] | None:
        return read_answer(endpoint.name, response, self.api_key)

    def items(self, endpoint: Endpoint, results: Iterable[Any], span: DateWindow) -> Iterator[Item]:
        build = MAPPERS[endpoint.name]
        for index, record in enumerate(results):
            if not isinstance(record, dict):
                log.warning("%s: %s result %d is not an object; skipped", self.name, endpoint.name, index + 1)
                continue
            try:
                yield from build(record, source=self.name, base=self.base, window=span)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("%s: %s result %d skipped: %s: %s", self.name, endpoint.name, index + 1, type(exc).__name__, exc)


def read_answer(what: str, response: Response, api_key: str | None) -> dict[str, Any] | None:
    """The JSON document of a 200, None for "no matches", or raise with openFDA's own message.
    `what` names the request in messages ("openFDA drug/label")."""
    problem = None
    try:
        doc = json.loads(response.body.decode("utf-8"))
    except UnicodeDecodeError:
        doc, problem = None, "the answer is not valid UTF-8 JSON"
    except ValueError:
        doc = None
    except RecursionError:  # arrays nested thousands deep: json gives up, and so do we
        doc, problem = None, "the answer is nested too deeply"
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
        raise ParseError(f"openFDA {what}: {problem or 'the answer is not a JSON object'}")
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
