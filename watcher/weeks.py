"""Time as watcher counts it: UTC stamps in the store, ISO weeks (Monday to Sunday) in the
configured zone. Used by the digest, the catch-up, the status report and the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
STAMP = "%Y-%m-%dT%H:%M:%SZ"


# ---- the store's stamps ----


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """Timestamps are stored as UTC text that sorts as time does."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).strftime(STAMP)


def parse_utc(value: str) -> datetime:
    return datetime.strptime(value, STAMP).replace(tzinfo=UTC)


def local_stamp(value: str | None, tz: ZoneInfo) -> str | None:
    """A stored UTC stamp as local time for people: "2026-11-26 19:10 CST"."""
    return parse_utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if value else None


# ---- ISO weeks ----


@dataclass(frozen=True, order=True, slots=True)
class Week:
    """An ISO week (Monday to Sunday), read once from its label `YYYY-Www` and passed on as a value.

    Weeks order as time does; `str(week)` is its label. Bounds are local midnights in a zone."""

    year: int
    number: int

    def __post_init__(self) -> None:
        date.fromisocalendar(self.year, self.number, 1)  # ValueError for a week the year does not have

    @classmethod
    def parse(cls, label: str) -> Week:
        """`2026-W05` → Week; ValueError, in words, for anything else."""
        found = WEEK_RE.match(label)
        if not found:
            raise ValueError(f"{label!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W05")
        try:
            return cls(int(found[1]), int(found[2]))
        except ValueError:
            raise ValueError(f"{label!r}: year {found[1]} has no week {found[2]}") from None

    @classmethod
    def of(cls, day: date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> Week:
        """The week `moment` falls in, in the zone `tz`."""
        return cls.of(moment.astimezone(tz).date())

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the week as aware datetimes at local midnight (DST-safe)."""
        return datetime.combine(self.monday, time(0), tz), datetime.combine(self.sunday + timedelta(days=1), time(0), tz)

    @property
    def next(self) -> Week:
        return Week.of(self.monday + timedelta(days=7))

    @property
    def previous(self) -> Week:
        return Week.of(self.monday - timedelta(days=7))
