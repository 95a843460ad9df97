"""What is due, decided from the store and the schedule in feeds.yaml, never from a running
scheduler (whose memory a restart or a suspended laptop loses):

- a poll is due when no poll attempt (ok or failed) has started since the latest scheduled poll
  time that has passed;
- a week's outputs are missing for every complete ISO week after the last one whose output of
  that format was written after the week had ended (or, in a new database, from the week of its
  first run or item); the current week is rewritten on every catch-up so it stays fresh;
- a gap is a stretch without any poll run longer than half as much again as the longest interval
  between two scheduled polls (36 h for a daily poll): the job was not running.

The schedule's own arithmetic (APScheduler 3 triggers, DST-aware, in the configured zone) is here
too, so `watcher status` and the service agree on the times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from .config import WEEKDAYS, Config, PollTime
from .store import OutputRecord, Store
from .weeks import WEEK_RE, iso_week, next_week, parse_utc, previous_week, week_bounds

WEEK = timedelta(days=7)


# ---- when, by the schedule ----


def hour_minute(hhmm: str) -> tuple[int, int]:
    hour, minute = hhmm.split(":")
    return int(hour), int(minute)


def poll_trigger(config: Config) -> BaseTrigger:
    """At each `schedule.poll` time on its weekdays, in the configured zone (explicit, never the
    host's). Weekdays by name: no crontab numbering to get wrong."""
    triggers: list[BaseTrigger] = []
    for poll in sorted(set(config.schedule.polls), key=lambda p: (p.time, p.days)):
        hour, minute = hour_minute(poll.time)
        days = "*" if poll.every_day else ",".join(poll.days)
        triggers.append(CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=config.timezone))
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def longest_interval(polls: Sequence[PollTime]) -> timedelta:
    """The longest wall-clock stretch between two consecutive scheduled polls, the week round."""
    moments: set[timedelta] = set()  # after Monday 00:00
    for poll in polls:
        hour, minute = hour_minute(poll.time)
        moments.update(timedelta(days=WEEKDAYS.index(day), hours=hour, minutes=minute) for day in poll.days)
    ordered = sorted(moments)
    return max([b - a for a, b in pairwise(ordered)] + [ordered[0] + WEEK - ordered[-1]])


def gap_limit(config: Config) -> timedelta:
    """A longer stretch than this without any poll run means the job was down (not one poll missed)."""
    return longest_interval(config.schedule.polls) * 3 / 2


def digest_trigger(config: Config) -> CronTrigger:
    """Weekly on `schedule.digest.day` at its time. Weekdays by name: no crontab numbering to get wrong."""
    hour, minute = hour_minute(config.schedule.digest_time)
    return CronTrigger(day_of_week=config.schedule.digest_day, hour=hour, minute=minute, timezone=config.timezone)


def last_fire_time(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time in (now - lookback, now], by the trigger's own (DST-aware) arithmetic."""
    # Arithmetic in UTC: `local + 1 s` is wall-clock arithmetic and drops the fold, which in the
    # repeated hour of an autumn DST change steps *back* an hour (and would loop forever here).
    now = now.astimezone(UTC)
    last = None
    moment = trigger.get_next_fire_time(None, now - lookback)
    while moment is not None and moment <= now:
        last = moment
        after = moment.astimezone(UTC) + timedelta(seconds=1)
        following = trigger.get_next_fire_time(moment, after)
        # Belt and braces: never accept a fire time that does not move forward.
        moment = following if following is None or following > moment else trigger.get_next_fire_time(None, after + timedelta(minutes=1))
    return last


def next_fire_times(config: Config, now: datetime) -> tuple[datetime, datetime]:
    """(next poll, next digest) by the config's schedule: what `status` shows."""
    poll, digest = poll_trigger(config).get_next_fire_time(None, now), digest_trigger(config).get_next_fire_time(None, now)
    assert poll is not None and digest is not None  # weekly cron triggers never end
    return poll, digest


# ---- what is due, from the store ----


def poll_due(store: Store, config: Config, now: datetime) -> datetime | None:
    """The scheduled time of a poll that has not happened yet, or None when polls are up to date."""
    # Looking back over the longest interval (and a day for DST) always finds the last scheduled poll.
    due = last_fire_time(poll_trigger(config), now, longest_interval(config.schedule.polls) + timedelta(days=1))
    last = store.last_poll_at()
    if last is None:
        return due or now  # never polled: due now
    if due is not None and parse_utc(last) < due:
        return due
    return None


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
