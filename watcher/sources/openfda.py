"""openFDA (api.fda.gov): approvals and supplements (drug/drugsfda), label revisions (drug/label) and
recalls (drug/enforcement) naming the configured drugs, new since the cursor.

One search per endpoint, e.g.

    (openfda.generic_name:"esketamine" OR openfda.brand_name:"esketamine" OR ...)
    AND submissions.submission_status_date:[20261001 TO 20261124]

sent with spaces, which the query string encodes as `+` (openFDA's documented form: `+AND+`,
`"multiple+myeloma"`, `[20040101+TO+20081231]`). Pages are followed through the `Link: <…>;
rel="next"` header (search_after), never by a growing `skip` (capped at 25,000). A 404 whose
body says NOT_FOUND means "no match": a successful poll with nothing new.

Cursor = the last day (ISO date) whose records are all stored; each poll re-asks `overlap_days`
before it, because records reach openFDA days or weeks after their own date. Ids are stable, so the
overlap stores nothing twice.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from requests.utils import parse_header_links

from ..config import SourceConfig, check_keys, integer, optional
from ..errors import ConfigError, FetchError, ParseError, UpstreamError
from ..http import SECRET_PARAMS, HttpClient, Response
from ..model import Item
from ..store import SourceState
from .base import Batch, client_for

log = logging.getLogger(__name__)

API_KEY_ENV = "OPENFDA_API_KEY"
RATE = 4.0  # requests/s: openFDA allows 240 requests per minute
MAX_LIMIT = 1000  # openFDA's largest page
MAX_PAGES = 1000  # a guard against a server that never stops sending "next"
SUMMARY_CHARS = 300
DEFAULT_SEARCH = ("esketamine", "spravato", "ketamine", "ketalar")
TERM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .,'/&()+-]{0,99}$")
WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # as written in feeds.yaml
    path: str  # relative to the base URL
    date_field: str  # the field the window is asked on (YYYYMMDD)
    name_fields: tuple[str, ...]  # where a drug name is looked for
    label: str  # shown as the item's journal


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("drug/drugsfda", "drug/drugsfda.json", "submissions.submission_status_date",
                 ("openfda.generic_name", "openfda.brand_name", "products.brand_name", "products.active_ingredients.name"),
                 "Drugs@FDA (openFDA)"),
        Endpoint("drug/label", "drug/label.json", "effective_time",
                 ("openfda.generic_name", "openfda.brand_name"), "Drug labels (openFDA)"),
        # Recalls often leave `openfda` empty; the product description names the drug.
        Endpoint("drug/enforcement", "drug/enforcement.json", "report_date",
                 ("openfda.generic_name", "openfda.brand_name", "product_description"), "Enforcement reports (openFDA)"),
    )
}


@dataclass(frozen=True, slots=True)
class OpenfdaSettings:
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)
    search: tuple[str, ...] = DEFAULT_SEARCH
    lookback_days: int = 90
    overlap_days: int = 30
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date  # inclusive, as openFDA's [a TO b] is

    def clause(self, field: str) -> str:
        return f"{field}:[{self.start:%Y%m%d} TO {self.end:%Y%m%d}]"

    def __contains__(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


def string_list(value: Any, path: str, check: Callable[[Any, str], str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(path, "must be a non-empty list")
    found = tuple(check(v, f"{path}[{i}]") for i, v in enumerate(value))
    for i, v in enumerate(found):
        if v in found[:i]:
            raise ConfigError(f"{path}[{i}]", f"{v!r} is listed twice")
    return found


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
        check_keys(raw, path, {"endpoints", "search", "lookback_days", "overlap_days", "limit"})
        return OpenfdaSettings(
            endpoints=optional(raw, "endpoints", path, lambda v, p: string_list(v, p, endpoint_name), tuple(ENDPOINTS)),
            search=optional(raw, "search", path, lambda v, p: string_list(v, p, search_term), DEFAULT_SEARCH),
            lookback_days=optional(raw, "lookback_days", path, lambda v, p: integer(v, p, 1, 3650), 90),
            overlap_days=optional(raw, "overlap_days", path, lambda v, p: integer(v, p, 0, 365), 30),
            limit=optional(raw, "limit", path, lambda v, p: integer(v, p, 1, MAX_LIMIT), 100),
        )

    def __init__(self, source: SourceConfig, *, api_key: str | None, client: HttpClient) -> None:
        self.name = source.name
        self.settings: OpenfdaSettings = source.settings
        self.base = source.url if source.url.endswith("/") else source.url + "/"
        self.api_key = api_key
        self.client = client

    @classmethod
    def build(cls, source: SourceConfig, app: Any, env: Mapping[str, str], sleep: Callable[[float], None]) -> OpenfdaSource:
        api_key = (env.get(API_KEY_ENV) or "").strip() or None
        client = client_for(app, rate=RATE, secrets=[api_key or ""], accept="application/json", sleep=sleep)
        return cls(source, api_key=api_key, client=client)

    # ---- the poll ----

    def window(self, state: SourceState, today: date) -> Window:
        start = None
        if state.cursor:
            try:
                start = date.fromisoformat(state.cursor) - timedelta(days=self.settings.overlap_days)
            except ValueError:
                log.warning("%s: unreadable cursor %r; starting from the lookback", self.name, state.cursor)
        if start is None:
            start = today - timedelta(days=self.settings.lookback_days)
        return Window(min(start, today), today)

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        window = self.window(state, now.date())
        for name in self.settings.endpoints:
            yield from self.fetch_endpoint(ENDPOINTS[name], window)
        # Reached only when every endpoint was read to its last page: now the cursor may move.
        yield Batch(items=(), final=True, cursor=window.end.isoformat())

    def query(self, endpoint: Endpoint, window: Window) -> str:
        names = " OR ".join(f'{field}:"{term}"' for term in self.settings.search for field in endpoint.name_fields)
        return f"({names}) AND {window.clause(endpoint.date_field)}"

    def fetch_endpoint(self, endpoint: Endpoint, window: Window) -> Iterator[Batch]:
        url = self.base + endpoint.path
        params: list[tuple[str, str]] = [("search", self.query(endpoint, window)), ("limit", str(self.settings.limit))]
        seen: set[tuple[tuple[str, str], ...]] = set()
        for page in range(1, MAX_PAGES + 1):
            seen.add(tuple(params))
            response = self.get(endpoint, url, params)
            doc = self.read(endpoint, response)
            if doc is None:  # NOT_FOUND: no (more) matches
                return
            results = doc.get("results")
            if not isinstance(results, list):
                raise ParseError(f"openFDA {endpoint.name}: the answer has no `results` list")
            yield Batch(items=tuple(self.items(endpoint, results, window)))
            following = next_params(response.headers)
            if following is None:
                return
            if tuple(following) in seen:
                raise UpstreamError(f"openFDA {endpoint.name}: the next-page link repeats an earlier page (page {page})")
            params = following
        raise UpstreamError(f"openFDA {endpoint.name}: more than {MAX_PAGES} pages; narrow `search` or the window")

    def with_key(self, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return params + [("api_key", self.api_key)] if self.api_key else params

    def get(self, endpoint: Endpoint, url: str, params: list[tuple[str, str]]) -> Response:
        try:
            return self.client.get(url, params=self.with_key(params))
        except FetchError as exc:
            message = str(exc)  # "GET <url, redacted> → <reason>": the search is long, the reason is the news
        log.debug("openFDA %s: %s", endpoint.name, message)
        raise FetchError(f"openFDA {endpoint.name} → {message.partition(' → ')[2] or message}")

    def read(self, endpoint: Endpoint, response: Response) -> dict[str, Any] | None:
        """The JSON document of a 200, None for "no matches", or raise with openFDA's own message."""
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
            log.info("openFDA %s: no matches", endpoint.name)
            return None
        if response.status != 200 or error is not None:
            log.debug("openFDA %s: %s", endpoint.name, response.status_line)  # the URL, api_key redacted
            if error is not None:
                detail = f"HTTP {response.status}: {error_text(error)}"
                if self.api_key:  # a message echoing the key must not carry it into the store
                    detail = detail.replace(self.api_key, "***")
            else:  # not openFDA's JSON: the client's snippet of the body, already redacted
                detail = response.status_line.partition(" → ")[2] or f"HTTP {response.status}"
            raise UpstreamError(f"openFDA {endpoint.name} → {detail}")
        if not isinstance(doc, dict):
            raise ParseError(f"openFDA {endpoint.name}: {problem or 'the answer is not a JSON object'}")
        return doc

    def items(self, endpoint: Endpoint, results: Iterable[Any], window: Window) -> Iterator[Item]:
        build = {"drug/drugsfda": drugsfda_items, "drug/label": label_items, "drug/enforcement": enforcement_items}[endpoint.name]
        for index, record in enumerate(results):
            if not isinstance(record, dict):
                log.warning("%s: %s result %d is not an object; skipped", self.name, endpoint.name, index + 1)
                continue
            try:
                yield from build(record, source=self.name, base=self.base, window=window)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("%s: %s result %d skipped: %s: %s", self.name, endpoint.name, index + 1, type(exc).__name__, exc)


def error_text(error: Any) -> str:
    """openFDA's `{"code": …, "message": …}` as one short line."""
    if isinstance(error, dict):
        text = ": ".join(str(error[k]) for k in ("code", "message") if isinstance(error.get(k), str)) or "error"
    else:
        text = str(error)
    return cut(WHITESPACE.sub(" ", text).strip(), 300)


def next_params(headers: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """The query of the `Link: <…>; rel="next"` target, without any api_key it may echo.

    Only the query is taken: the next page is asked of our own endpoint URL, so a link can never
    send the request (and the api_key) to another host.
    """
    value = headers.get("link")
    if not value:
        return None
    for link in parse_header_links(value):
        if "next" in str(link.get("rel", "")).split():
            query = urlsplit(link.get("url", "")).query
            pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() not in SECRET_PARAMS]
            return pairs or None
    return None


# ---- records → Items (pure) ----


def fda_date(value: Any) -> date | None:
    """openFDA dates are YYYYMMDD strings."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{8}", value.strip()):
        return None
    try:
        return datetime.strptime(value.strip(), "%Y%m%d").date()
    except ValueError:
        return None


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def plain(value: Any) -> str:
    if isinstance(value, list):
        value = " ".join(v for v in value if isinstance(v, str))
    return WHITESPACE.sub(" ", value).strip() if isinstance(value, str) else ""


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [plain(v) for v in value if isinstance(v, str) and plain(v)] if isinstance(value, list) else []


def first(value: Any) -> str:
    found = strings(value)
    return found[0] if found else ""


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit)
    return text[: space if space > limit // 2 else limit].rstrip(" ,;:.") + " …"


def names_of(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Brand, generic and substance names: the item's keywords, so the topic filter can match them."""
    openfda = record.get("openfda") if isinstance(record.get("openfda"), dict) else {}
    found: list[str] = []
    for key in ("brand_name", "generic_name", "substance_name"):
        found += strings(openfda.get(key))
    for product in record.get("products") or []:
        if isinstance(product, dict):
            found += strings(product.get("brand_name"))
            found += [plain(i.get("name")) for i in product.get("active_ingredients") or [] if isinstance(i, dict) and plain(i.get("name"))]
    return tuple(dict.fromkeys(n.upper() for n in found))


def drug_name(record: Mapping[str, Any]) -> str:
    """"SPRAVATO (esketamine hydrochloride)", or whichever half is known."""
    openfda = record.get("openfda") if isinstance(record.get("openfda"), dict) else {}
    products = [p for p in record.get("products") or [] if isinstance(p, dict)]
    brand = first(openfda.get("brand_name")) or next((first(p.get("brand_name")) for p in products if first(p.get("brand_name"))), "")
    generic = first(openfda.get("generic_name")) or next(
        (plain(i.get("name")) for p in products for i in p.get("active_ingredients") or [] if isinstance(i, dict) and plain(i.get("name"))), "")
    if brand and generic and brand.lower() != generic.lower():
        return f"{brand.upper()} ({generic.lower()})"
    return (brand or generic).upper() or "unnamed product"


def search_url(base: str, path: str, field: str, value: str) -> str:
    """A public openFDA query for one record: a link that works without an api_key."""
    term = field + ':"' + value + '"'
    return f"{base}{path}?search={quote(term, safe=':')}"


SUBMISSION_TYPES = {"ORIG": "original application", "SUPPL": "supplement"}
STATUS_KINDS = {"AP": "approval", "TA": "tentative approval"}


def drugsfda_items(record: Mapping[str, Any], *, source: str, base: str, window: Window) -> Iterator[Item]:
    """One item per submission whose status date falls in the window: a supplement appears once."""
    application = plain(record.get("application_number"))
    if not application:
        raise ValueError("no application_number")
    name, keywords = drug_name(record), names_of(record)
    sponsor = plain(record.get("sponsor_name"))
    for submission in record.get("submissions") or []:
        if not isinstance(submission, dict):
            continue
        day = fda_date(submission.get("submission_status_date"))
        if day not in window:
            continue
        kind_code, number = plain(submission.get("submission_type")), plain(submission.get("submission_number"))
        status = plain(submission.get("submission_status"))
        kind = STATUS_KINDS.get(status, f"action ({status or 'no status'})")
        klass = plain(submission.get("submission_class_code_description")) or plain(submission.get("submission_class_code"))
        docs = [d for d in submission.get("application_docs") or [] if isinstance(d, dict) and plain(d.get("url"))]
        doc = next((d for t in ("Letter", "Label") for d in docs if plain(d.get("type")) == t), docs[0] if docs else None)
        url = quote(plain(doc["url"]), safe=":/?#[]@!$&'()*+,;=%~-._") if doc else search_url(
            base, "drug/drugsfda.json", "application_number", application)
        title = f"FDA {kind}: {name} {application} {SUBMISSION_TYPES.get(kind_code, kind_code.lower() or 'submission')}"
        title += f" {kind_code}-{number}" if kind_code and number else ""
        title += f" ({klass})" if klass else ""
        summary = [f"Drugs@FDA: {kind_code or 'submission'}-{number or '?'} to {application}"]
        summary[0] += f" ({sponsor})" if sponsor else ""
        summary[0] += f", status {status} on {day.isoformat()}"
        if klass:
            summary.append(f"class: {klass}")
        if plain(submission.get("review_priority")):
            summary.append(f"review priority: {plain(submission.get('review_priority'))}")
        if docs:
            summary.append("documents: " + ", ".join(dict.fromkeys(plain(d.get("type")) or "document" for d in docs)))
        yield Item(
            id=f"openfda:drugsfda:{application}:{kind_code}:{number}",
            source=source,
            url=url,
            title=title,
            abstract="; ".join(summary) + ".",
            date=iso(day),
            journal=ENDPOINTS["drug/drugsfda"].label,
            publication_types=(kind,),
            keywords=keywords,
            extra={
                "section": "regulatory", "kind": kind, "application_number": application,
                "submission_type": kind_code, "submission_number": number, "submission_status": status,
                **({"sponsor": sponsor} if sponsor else {}),
            },
        )


_INDICATIONS_HEADING = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*)?INDICATIONS?\s*(?:AND|&)\s*USAGE\s*:?\s*", re.I)


def label_items(record: Mapping[str, Any], *, source: str, base: str, window: Window) -> Iterator[Item]:
    openfda = record.get("openfda") if isinstance(record.get("openfda"), dict) else {}
    set_id = plain(record.get("set_id")) or first(openfda.get("spl_set_id"))
    version = plain(record.get("version"))
    spl_id = plain(record.get("id")) or first(openfda.get("spl_id"))
    if not set_id or not (version or spl_id):
        raise ValueError("no set_id and version (or SPL id)")
    revision = version or f"spl-{spl_id}"  # abridged records lack `version`: the SPL id is per version too
    day = fda_date(record.get("effective_time"))
    maker = first(openfda.get("manufacturer_name"))
    title = f"FDA label revision: {drug_name(record)}" + (f", {maker}" if maker else "")
    title += f" (version {version})" if version else ""
    indications = _INDICATIONS_HEADING.sub("", plain(record.get("indications_and_usage")))
    abstract = cut(indications, SUMMARY_CHARS) if indications else None
    yield Item(
        id=f"openfda:label:{set_id}:{revision}",
        source=source,
        url=f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={quote(set_id, safe='')}",
        title=title,
        abstract=abstract,
        date=iso(day),
        journal=ENDPOINTS["drug/label"].label,
        publication_types=("label change",),
        keywords=names_of(record),
        extra={
            "section": "regulatory", "kind": "label change", "set_id": set_id, "version": version,
            **({"spl_id": spl_id} if spl_id else {}),
        },
    )


def enforcement_items(record: Mapping[str, Any], *, source: str, base: str, window: Window) -> Iterator[Item]:
    number = plain(record.get("recall_number"))
    if not number:
        raise ValueError("no recall_number")
    day = fda_date(record.get("report_date"))
    klass = plain(record.get("classification"))
    product = plain(record.get("product_description"))
    firm = plain(record.get("recalling_firm"))
    title = f"FDA recall{f' ({klass})' if klass else ''}: {cut(product, 160) or 'product not described'}"
    title += f" — {firm}" if firm else ""
    parts = [f"Reason: {plain(record.get('reason_for_recall')) or 'not given'}"]
    for label, key in (("status", "status"), ("initiated", "recall_initiation_date"), ("distribution", "distribution_pattern")):
        value = plain(record.get(key))
        if key == "recall_initiation_date":
            value = iso(fda_date(value)) or value
        if value:
            parts.append(f"{label}: {value}")
    yield Item(
        id=f"openfda:enforcement:{number}",
        source=source,
        url=search_url(base, "drug/enforcement.json", "recall_number", number),
        title=title,
        abstract=cut("; ".join(parts) + ".", 600),
        date=iso(day),
        journal=ENDPOINTS["drug/enforcement"].label,
        publication_types=("recall",),
        keywords=names_of(record),
        extra={
            "section": "regulatory", "kind": "recall", "recall_number": number,
            **({"classification": klass} if klass else {}),
            **({"event_id": plain(record.get("event_id"))} if plain(record.get("event_id")) else {}),
        },
    )
