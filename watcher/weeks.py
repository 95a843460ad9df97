"""Time as watcher counts it: UTC stamps in the store, ISO weeks (Monday to Sunday) in the
configured zone. Used by the digest, the catch-up, the status report and the CLI."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import UsageError

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


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    """The week `moment` falls in, in the zone `tz`."""
    return week_of(moment.astimezone(tz).date())


def week_days(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week `YYYY-Www`; UsageError for anything else."""
    found = WEEK_RE.match(week)
    if not found:
        raise UsageError(f"--week {week!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W05")
    try:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        raise UsageError(f"--week {week!r}: year {found[1]} has no week {found[2]}") from None
    return monday, monday + timedelta(days=6)


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the week as aware datetimes at local midnight (DST-safe)."""
    monday, sunday = week_days(week)
    return datetime.combine(monday, time(0), tz), datetime.combine(sunday + timedelta(days=1), time(0), tz)


def next_week(week: str) -> str:
    return week_of(week_days(week)[0] + timedelta(days=7))


def previous_week(now: datetime, tz: ZoneInfo) -> str:
    """The ISO week that ended most recently, in the zone `tz`."""
    return week_of(now.astimezone(tz).date() - timedelta(days=7))
