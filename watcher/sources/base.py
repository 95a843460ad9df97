"""What every source gives the poller: batches of items, the last one carrying the new cursor."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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
