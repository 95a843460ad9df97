"""Which weekly outputs are missing: every complete ISO week after the last one whose output of a
format was written after the week had ended (or, in a new database, from the week of its first run
or item). The current week is rewritten on every catch-up so it stays fresh; a week's output is
final once written after the week ended (nothing can be missing from it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..config import Config
from ..store import OutputRecord, Store
from ..weeks import WEEK_RE, iso_week, next_week, parse_utc, previous_week, week_bounds


def is_final(record: OutputRecord, config: Config) -> bool:
    """Written after its week ended, so nothing can be missing from it."""
    return bool(WEEK_RE.match(record.week)) and parse_utc(record.written_at) >= week_bounds(record.week, config.timezone)[1]


def missing_weeks(store: Store, config: Config, now: datetime, formats: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Complete weeks, oldest first, whose final output has not been written yet, each with the
    `formats` (those with a file per week) it lacks."""
    last_complete = previous_week(now, config.timezone)
    begun = store.first_activity()
    missing: dict[str, list[str]] = {}
    for fmt in formats:
        final = [r.week for r in store.outputs(fmt) if r.week <= last_complete and is_final(r, config)]
        if final:
            week = next_week(max(final))
        elif begun is not None:
            week = iso_week(parse_utc(begun), config.timezone)
        else:
            continue
        while week <= last_complete:
            missing.setdefault(week, []).append(fmt)
            week = next_week(week)
    return {week: tuple(formats) for week, formats in sorted(missing.items())}
