"""Stretches without any poll run in a week: the job was not running. Shown under the digest's headline,
from the store and the schedule's arithmetic alone (no clock, no scheduler).

A gap is a stretch without any poll run longer than half as much again as the longest interval
between two scheduled polls (36 h for a daily poll): one missed poll is not a gap."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from ..config import ScheduleSettings
from ..store import Store
from ..weeks import parse_utc


def gap_limit(schedule: ScheduleSettings) -> timedelta:
    """A longer stretch than this without any poll run means the job was down (not one poll missed)."""
    return schedule.longest_interval * 3 / 2


def gaps(store: Store, start: datetime, end: datetime, limit: timedelta) -> tuple[tuple[datetime, datetime], ...]:
    """Each stretch of more than `limit` (gap_limit) without a poll run that overlaps [start, end).

    Only the part of time the store knows about counts: a stretch is bounded by two poll runs
    (the last one before the week or in it, the next one in it or after it), so the weeks before
    the first run, and the time after the latest run, never show a gap. No clock is read.
    """
    before, after = store.run_before(start), store.run_after(end)
    stamps = ([before] if before else []) + store.runs_between(start, end) + ([after] if after else [])
    times = [parse_utc(stamp) for stamp in stamps]
    return tuple((a, b) for a, b in pairwise(times) if b - a > limit)
