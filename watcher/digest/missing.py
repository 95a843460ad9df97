"""Which weekly outputs are missing: every complete ISO week after the last one whose output of a
format was written after the week had ended (or, in a new database, from the week of its first run
or item). The current week is rewritten on every catch-up so it stays fresh; a week's output is
final once written after the week ended (nothing can be missing from it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..config import Config
from ..store import OutputRecord, Store
from ..weeks import Week, parse_utc


def is_final(record: OutputRecord, config: Config) -> bool:
    """Written after its week ended, so nothing can be missing from it."""
    try:
        week = Week.parse(record.week)
    except ValueError:  # a row of another making: never final, never trusted
        return False
    return parse_utc(record.written_at) >= week.bounds(config.timezone)[1]


def missing_weeks(store: Store, config: Config, now: datetime, formats: Sequence[str]) -> dict[Week, tuple[str, ...]]:
    """Complete weeks, oldest first, whose final output has not been written yet, each with the
    `formats` (those with a file per week) it lacks."""
    last_complete = Week.containing(now, config.timezone).previous
    begun = store.first_activity()
    missing: dict[Week, list[str]] = {}
    for fmt in formats:
        final = [Week.parse(r.week) for r in store.outputs(fmt) if is_final(r, config)]
        final = [w for w in final if w <= last_complete]
        if final:
            week = max(final).next
        elif begun is not None:
            week = Week.containing(parse_utc(begun), config.timezone)
        else:
            continue
        while week <= last_complete:
            missing.setdefault(week, []).append(fmt)
            week = week.next
    return {week: tuple(formats) for week, formats in sorted(missing.items())}
