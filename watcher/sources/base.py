"""The contract every source meets.

A source type is a class registered in `registry.SOURCE_TYPES` under its feeds.yaml `type`. It has:

- `parse_settings(raw, path)`: validate the entry's own keys (everything but name, type and url)
  with the shared checkers and return a frozen settings dataclass; errors name the key path;
- `build(source, context)`: make a `Source` for one poll, with an `HttpClient` from `client_for`
  (feeds.yaml's http limits, the upstream's own rate and headers, its secrets to redact).

A `Source` turns the stored `SourceState` (cursor, validators) into `Batch`es. The poller commits
each batch in one transaction; only the last one (`final=True`) moves the cursor and validators,
so a failure or a crash before it loses nothing and the next poll asks again. A source knows
nothing of the store, the filter or the digest: it fetches, and its pure parser module (bytes in,
`Item`s out) makes the items. Failures are `SourceError`s; the poller says them of the source's
host when the error does not name one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..checks import between, number, optional
from ..errors import UpstreamError
from ..http import HttpClient, HttpPolicy, UnreachableHosts
from ..model import Contact, HttpSettings, Item, SourceConfig, SourceState

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # a guard against a server whose pages never end
T = TypeVar("T")
Token = TypeVar("Token", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Batch:
    """Items to commit together. Only the final batch moves the source's cursor and validators."""

    items: tuple[Item, ...]
    final: bool = False
    cursor: str | None = None
    validators: tuple[str | None, str | None] | None = None  # (ETag, Last-Modified)
    skipped: int = 0  # records of this batch's pages that could not be read (each logged)


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source may know of the rest of the configuration and of the process."""

    http: HttpSettings
    contact: Contact
    env: Mapping[str, str]  # API keys are read from the environment, never from feeds.yaml
    sleep: Callable[[float], None]  # waits between tries; a stop request ends it early
    # Ids of this source's stored items that matched a topic: listed in a digest, so a source that
    # can re-check them for later news (a retraction, an erratum) does; see pubmed.py.
    known: frozenset[str] = frozenset()
    # The hosts found unreachable so far in this poll, shared by every client made for it: the
    # poll makes one and passes it to every source, the regulatory board and the page.
    unreachable: UnreachableHosts = field(default_factory=UnreachableHosts)


class Source(Protocol):
    name: str

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        """Yield batches from the stored cursor onward; raise a SourceError on failure.

        `now` is in the configured zone, so "today" is the clinic's today."""
        ...


class SourceType(Protocol):
    def parse_settings(self, raw: Mapping[str, Any], path: str) -> Any: ...

    def build(self, source: SourceConfig[Any], context: SourceContext) -> Source: ...


# ---- the scaffold every source shares ----


@dataclass(frozen=True, slots=True)
class Paging:
    """feeds.yaml `page_size` (records per request) and `rate` (requests per second), for an upstream
    that publishes no limit of its own."""

    page_size: int
    rate: float


PAGING_KEYS = ("page_size", "rate")


def paging(raw: Mapping[str, Any], path: str, *, largest: int, page_size: int = 100, rate: float = 1.0) -> Paging:
    return Paging(
        page_size=optional(raw, "page_size", path, between(1, largest), page_size),
        rate=optional(raw, "rate", path, lambda v, p: number(v, p, 0.05, 10), rate),
    )


def walk_pages(first: Token, fetch: Callable[[Token], tuple[T, Token | None]], *, what: str,
               repeated: str | None, max_pages: int = MAX_PAGES) -> Iterator[T]:
    """Each page's result, from `first` on: `fetch(token)` gives a page and the next token (None:
    the last page). A token seen before ends the walk when `repeated` is None (a service that
    repeats its last mark to say "no more"), else fails with "<what>: <repeated> (page N)". More
    than `max_pages` pages fail too: a server whose tokens never end cannot hold a poll."""
    token, seen = first, {first}
    for page in range(1, max_pages + 1):
        result, following = fetch(token)
        yield result
        if following is None:
            return
        if following in seen:
            if repeated is None:
                return
            raise UpstreamError(f"{what}: {repeated} (page {page})")
        seen.add(following)
        token = following
    raise UpstreamError(f"{what}: more than {max_pages} pages; narrow the query or the date window")


def kept(records: Iterable[Any], build: Callable[[dict[str, Any]], Iterable[Item]], *, source: str,
         what: str) -> tuple[tuple[Item, ...], int]:
    """The items of each record that is a JSON object and maps, and how many records were skipped:
    any other is left out with a warning naming it ("<source>: <what> 3 skipped: KeyError: …"), as
    one odd record must never fail a poll."""
    items: list[Item] = []
    skipped = 0
    for index, record in enumerate(records, 1):
        if not isinstance(record, dict):
            log.warning("%s: %s %d is not an object; skipped", source, what, index)
            skipped += 1
            continue
        try:
            items.extend(build(record))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("%s: %s %d skipped: %s: %s", source, what, index, type(exc).__name__, exc)
            skipped += 1
    return tuple(items), skipped


def folder(url: str) -> str:
    """A configured base URL that relative paths can be appended to: ending in "/"."""
    return url if url.endswith("/") else url + "/"


def client_for(
    context: SourceContext,
    *,
    rate: float,
    secrets: Iterable[str] = (),
    user_agent: str | None = None,
    accept: str | None = None,
    max_bytes: int | None = None,
) -> HttpClient:
    """An HttpClient with feeds.yaml's `http` settings and the upstream's own rate and headers."""
    limit = context.http.max_mb * 1024 * 1024
    policy = HttpPolicy(
        user_agent=user_agent or context.http.user_agent,
        accept=accept,
        timeout=context.http.timeout,
        deadline=context.http.deadline,
        max_bytes=min(limit, max_bytes) if max_bytes else limit,
        rate=rate,
    )
    return HttpClient(policy, secrets=[s for s in secrets if s], sleep=context.sleep, unreachable=context.unreachable)
