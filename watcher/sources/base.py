"""What every source gives the poller: batches of items, the last one carrying the new cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..http import HttpClient, HttpPolicy
from ..model import Item
from ..store import SourceState


@dataclass(frozen=True, slots=True)
class Batch:
    """Items to commit together. Only the final batch moves the source's cursor and validators."""

    items: tuple[Item, ...]
    final: bool = False
    cursor: str | None = None
    validators: tuple[str | None, str | None] | None = None  # (ETag, Last-Modified)


class Source(Protocol):
    name: str

    def fetch(self, state: SourceState, now: datetime) -> Iterator[Batch]:
        """Yield batches from the stored cursor onward; raise a WatcherError on failure."""
        ...


class SourceType(Protocol):
    """A source class: validates its own feeds.yaml keys and builds itself."""

    @staticmethod
    def parse_settings(raw: Mapping[str, Any], path: str) -> Any: ...


def client_for(
    app: Any,
    *,
    rate: float,
    sleep: Callable[[float], None],
    secrets: Iterable[str] = (),
    user_agent: str | None = None,
    accept: str | None = None,
    max_bytes: int | None = None,
) -> HttpClient:
    """An HttpClient with feeds.yaml's `http` settings and the upstream's own rate and headers."""
    limit = app.http.max_mb * 1024 * 1024
    policy = HttpPolicy(
        user_agent=user_agent or app.http.user_agent,
        accept=accept,
        timeout=app.http.timeout,
        deadline=app.http.deadline,
        max_bytes=min(limit, max_bytes) if max_bytes else limit,
        rate=rate,
    )
    return HttpClient(policy, secrets=[s for s in secrets if s], sleep=sleep)
