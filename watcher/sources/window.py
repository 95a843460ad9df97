"""The date window a source asks for: from its cursor (less an overlap, for records indexed late)
or, on a first poll or after an unreadable cursor, from a look-back; up to today, inclusive. The two
settings are the same keys for every dated source (`lookback_days`, `overlap_days`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..checks import between, optional

log = logging.getLogger(__name__)

CURSOR_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")  # ISO; and E-utilities' form, as databases before v2 stored it


@dataclass(frozen=True, slots=True)
class DateWindow:
    start: date
    end: date  # inclusive, as E-utilities' maxdate and openFDA's [a TO b] are

    @property
    def cursor(self) -> str:
        """What the source stores once every record of the window is stored."""
        return self.end.isoformat()

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def halves(self) -> tuple[DateWindow, DateWindow]:
        middle = self.start + (self.end - self.start) // 2
        return DateWindow(self.start, middle), DateWindow(middle + timedelta(days=1), self.end)


def parse_cursor(cursor: str) -> date | None:
    for fmt in CURSOR_FORMATS:
        try:
            return datetime.strptime(cursor, fmt).date()
        except ValueError:
            continue
    return None


def window(source: str, cursor: str | None, today: date, *, lookback_days: int, overlap_days: int) -> DateWindow:
    start = None
    if cursor:
        last = parse_cursor(cursor)
        if last is None:
            log.warning("%s: unreadable cursor %r; starting from the look-back of %d days", source, cursor, lookback_days)
        else:
            start = last - timedelta(days=overlap_days)
    if start is None:
        start = today - timedelta(days=lookback_days)
    return DateWindow(min(start, today), today)


@dataclass(frozen=True, slots=True)
class WindowSettings:
    """feeds.yaml `lookback_days` (the first poll's reach) and `overlap_days` (re-asked before the cursor)."""

    lookback_days: int
    overlap_days: int

    def window(self, source: str, cursor: str | None, today: date) -> DateWindow:
        return window(source, cursor, today, lookback_days=self.lookback_days, overlap_days=self.overlap_days)


WINDOW_KEYS = ("lookback_days", "overlap_days")


def window_settings(raw: Mapping[str, Any], path: str, *, lookback: int, overlap: int, max_overlap: int = 365) -> WindowSettings:
    """The window keys of a source entry, checked, with the source's own defaults."""
    return WindowSettings(
        lookback_days=optional(raw, "lookback_days", path, between(1, 3650), lookback),
        overlap_days=optional(raw, "overlap_days", path, between(0, max_overlap), overlap),
    )
