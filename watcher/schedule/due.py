"""When polls and digests are due, decided from the store and the schedule in feeds.yaml, never
from a running scheduler (whose memory a restart or a suspended laptop loses): a poll is due when
no poll attempt (ok or failed) has started since the latest scheduled poll time that has passed.

The schedule's own arithmetic (APScheduler 3 triggers, DST-aware, in the configured zone) is here,
so `watcher status` and the service agree on the times. Which weekly outputs are missing is the
digest's business (digest/missing.py, digest/gaps.py): it needs no scheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from ..config import Config
from ..store import Store
from ..weeks import parse_utc

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
    due = last_fire_time(poll_trigger(config), now, config.schedule.longest_interval + timedelta(days=1))
    last = store.last_poll_at()
    if last is None:
        return due or now  # never polled: due now
    if due is not None and parse_utc(last) < due:
        return due
    return None
