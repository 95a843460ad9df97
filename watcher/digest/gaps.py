"""Stretches without any poll run in a week: the job was not running. Shown in the digest header,
from the store alone (no clock, no scheduler)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from ..store import Store
from ..weeks import parse_utc

# Polls are at least daily; a longer stretch than this without any poll run means the job was down.
GAP = timedelta(hours=36)


def gaps(store: Store, start: datetime, end: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """Each stretch of more than GAP without a poll run that overlaps [start, end).

    Only the part of time the store knows about counts: a stretch is bounded by two poll runs
    (the last one before the week or in it, the next one in it or after it), so the weeks before
    the first run, and the time after the latest run, never show a gap. No clock is read.
    """
    before, after = store.run_before(start), store.run_after(end)
    stamps = ([before] if before else []) + store.runs_between(start, end) + ([after] if after else [])
    times = [parse_utc(stamp) for stamp in stamps]
    return tuple((a, b) for a, b in pairwise(times) if b - a > GAP)
