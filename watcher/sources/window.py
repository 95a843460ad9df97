"""The date window a source asks for: from its cursor (less an overlap, for records indexed late)
or, on a first poll or after an unreadable cursor, from a look-back; up to today, inclusive."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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
