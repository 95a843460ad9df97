"""Scheduled operation: APScheduler 3 wiring, catch-up from our own store, clean shutdown.

The scheduler only says *when* to look. *What* to do is decided from the store every time:
- a poll is due when no poll attempt (ok or failed) has started since the latest scheduled poll
  time that has passed;
- a digest is missing for every complete ISO week after the last one whose digest was written
  after the week had ended (or, in a new database, from the week of its first run or item);
  the current week's digest is rewritten on every catch-up so it stays fresh.
So the APScheduler job store can be in memory and forgetful: after any downtime, one catch-up
(at start and after every poll) restores everything that should exist.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler, SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from .config import Config
from .digest import WEEK_RE, iso_week, week_bounds, week_days, write_digest
from .errors import WatcherError
from .lock import DEFAULT_WAIT, LockHeld, WriterLock
from .poll import PollReport, poll, utc_now
from .store import DigestRecord, Store, parse_utc

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
StopCheck = Callable[[], bool]

# Misfires: a job that fires late is still worth running, because every job first asks the store
# what is actually due (see the module docstring); and several missed fire times need only one
# run (coalesce=True). So the grace spans a whole period: after a suspend or a long job of any
# length, the one coalesced run still happens on wake instead of being dropped, as APScheduler's
# default grace of 1 s would drop it. Anything older is the catch-up's business, not the scheduler's.
POLL_GRACE = int(timedelta(days=1).total_seconds())
DIGEST_GRACE = int(timedelta(days=7).total_seconds())
# When the writer lock is busy (a manual poll, a cron job), try the catch-up again this much later.
LOCK_RETRY = timedelta(minutes=5)


# ---- when ----


def hour_minute(hhmm: str) -> tuple[int, int]:
    hour, minute = hhmm.split(":")
    return int(hour), int(minute)


def poll_trigger(config: Config) -> BaseTrigger:
    """Every day at each `schedule.poll` time, in the configured zone (explicit, never the host's)."""
    triggers = [
        CronTrigger(hour=hour, minute=minute, timezone=config.timezone)
        for hour, minute in map(hour_minute, sorted(set(config.schedule.poll_times)))
    ]
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def digest_trigger(config: Config) -> CronTrigger:
    """Weekly on `schedule.digest.day` at its time. Weekdays by name: no crontab numbering to get wrong."""
    hour, minute = hour_minute(config.schedule.digest_time)
    return CronTrigger(day_of_week=config.schedule.digest_day, hour=hour, minute=minute, timezone=config.timezone)


def last_fire_time(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time in (now - lookback, now], by the trigger's own (DST-aware) arithmetic."""
    # Arithmetic in UTC: `local + 1 s` is wall-clock arithmetic and drops the fold, which in the
    # repeated hour of an autumn DST change steps *back* an hour (and would loop forever here).
    now = now.astimezone(timezone.utc)
    last = None
    moment = trigger.get_next_fire_time(None, now - lookback)
    while moment is not None and moment <= now:
        last = moment
        after = moment.astimezone(timezone.utc) + timedelta(seconds=1)
        following = trigger.get_next_fire_time(moment, after)
        # Belt and braces: never accept a fire time that does not move forward.
        moment = following if following is None or following > moment else trigger.get_next_fire_time(None, after + timedelta(minutes=1))
    return last


def next_fire_times(config: Config, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(next poll, next digest) by the config's schedule; what `status` shows."""
    return poll_trigger(config).get_next_fire_time(None, now), digest_trigger(config).get_next_fire_time(None, now)


# ---- what is due, from the store ----


def poll_due(store: Store, config: Config, now: datetime) -> datetime | None:
    """The scheduled time of a poll that has not happened yet, or None when polls are up to date."""
    due = last_fire_time(poll_trigger(config), now, timedelta(days=2))
    last = store.last_poll_at()
    if last is None:
        return due or now  # never polled: due now
    if due is not None and parse_utc(last) < due:
        return due
    return None


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def next_week(week: str) -> str:
    monday, _ = week_days(week)
    return week_of(monday + timedelta(days=7))


def previous_week(now: datetime, config: Config) -> str:
    """The ISO week that ended most recently, in the configured zone."""
    return week_of(now.astimezone(config.timezone).date() - timedelta(days=7))


def is_final(record: DigestRecord, config: Config) -> bool:
    """Written after its week ended, so nothing can be missing from it."""
    return bool(WEEK_RE.match(record.week)) and parse_utc(record.written_at) >= week_bounds(record.week, config.timezone)[1]


def missing_weeks(store: Store, config: Config, now: datetime) -> list[str]:
    """Complete weeks, oldest first, whose final digest has not been written yet."""
    last_complete = previous_week(now, config)
    final = [r.week for r in store.digests() if r.week <= last_complete and is_final(r, config)]
    if final:
        first = next_week(max(final))
    else:
        begun = store.first_activity()
        if begun is None:
            return []
        first = iso_week(parse_utc(begun), config.timezone)
    weeks = []
    while first <= last_complete:
        weeks.append(first)
        first = next_week(first)
    return weeks


def write_digests(store: Store, config: Config, *, now: datetime, should_stop: StopCheck | None = None) -> list[DigestRecord]:
    """Every missing weekly digest, then the current week's, each written atomically."""
    written = []
    for week in [*missing_weeks(store, config, now), iso_week(now, config.timezone)]:
        if should_stop is not None and should_stop():
            log.info("digests: stop requested; the rest at the next catch-up")
            break
        record = write_digest(store, config, week, now=now)
        log.info("digest %s: written, %d item(s)", week, record.items)
        written.append(record)
    return written


@dataclass
class CatchUp:
    due: datetime | None = None  # the scheduled poll time that was overdue, if any
    poll: PollReport | None = None
    digests: list[DigestRecord] = field(default_factory=list)


def catch_up(
    config: Config,
    store: Store,
    *,
    clock: Clock = utc_now,
    poll_fn: Callable[..., PollReport] = poll,
    should_stop: StopCheck | None = None,
    **poll_options,
) -> CatchUp:
    """Poll if a poll is overdue, then write every missing digest and refresh the current week's.

    Run by `watcher run` at start and as its scheduled poll job. The caller holds the writer lock.
    """
    result = CatchUp(due=poll_due(store, config, clock()))
    if result.due is not None:
        log.info("catch-up: poll due since %s; polling now", result.due.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M %Z"))
        result.poll = poll_fn(config, store, clock=clock, should_stop=should_stop, **poll_options)
        if result.poll.interrupted:
            return result
    else:
        log.info("catch-up: polls are up to date")
    result.digests = write_digests(store, config, now=clock(), should_stop=should_stop)
    return result


# ---- stopping on signals ----


class StopFlag:
    """Set by SIGTERM/SIGINT; work checks it between batches, sources and digests."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None


@contextmanager
def stop_on_signals(flag: StopFlag | None = None, on_stop: Callable[[], None] | None = None) -> Iterator[StopFlag]:
    """While inside, SIGTERM and SIGINT ask for a clean stop instead of killing the process.

    The handler only sets the flag (and calls `on_stop`): the write in progress finishes, the next
    check sees the flag. A second SIGINT is the impatient Ctrl-C: KeyboardInterrupt, and the open
    transaction rolls back. Must be entered from the main thread.
    """
    flag = flag or StopFlag()

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if flag.signal is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            log.warning("%s received again: still finishing the write in progress", name)
            return
        flag.signal = signum
        log.warning("%s received: finishing the write in progress, then stopping", name)
        if on_stop is not None:
            on_stop()

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# ---- the long-running service ----


def build_scheduler(config: Config, scheduler_class: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    return scheduler_class(
        timezone=config.timezone,  # explicit: never the host's zone
        # In memory on purpose: the SQLite store is the source of truth, and catch-up reads it.
        jobstores={"default": MemoryJobStore()},
        # One worker: the poll and the digest job never run at once inside this process (they
        # would only queue on the writer lock anyway).
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        # coalesce: several missed fire times → one run; catch-up does the rest from our own state.
        # max_instances=1: a poll still running when the next one is due is never doubled.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": POLL_GRACE},
    )


class Service:
    """`watcher run`: poll on schedule, write the weekly digest, catch up at start and after every poll.

    The writer lock is taken per job, not for the life of the process, so a manual `watcher poll`
    can run between scheduled jobs.
    """

    def __init__(
        self,
        config: Config,
        *,
        wait: float = DEFAULT_WAIT,
        clock: Clock = utc_now,
        poll_fn: Callable[..., PollReport] = poll,
        scheduler_class: type[BaseScheduler] = BlockingScheduler,
    ) -> None:
        self.config = config
        self.wait = wait
        self.clock = clock
        self.poll_fn = poll_fn
        self.stop = StopFlag()
        self.scheduler = build_scheduler(config, scheduler_class)
        self._stopper: threading.Thread | None = None

    def add_jobs(self) -> None:
        s = self.scheduler
        s.add_job(self.poll_job, poll_trigger(self.config), id="poll", name="poll and catch up",
                  coalesce=True, max_instances=1, misfire_grace_time=POLL_GRACE)
        s.add_job(self.digest_job, digest_trigger(self.config), id="digest", name="weekly digest",
                  coalesce=True, max_instances=1, misfire_grace_time=DIGEST_GRACE)
        # At start: a one-off catch-up, now (a date trigger without a date fires immediately).
        s.add_job(self.poll_job, "date", id="catch-up", name="catch up at start", misfire_grace_time=None)

    # ---- jobs (run in the scheduler's worker thread) ----

    def poll_job(self) -> None:
        self._locked("poll", lambda store: catch_up(self.config, store, clock=self.clock, poll_fn=self.poll_fn, should_stop=self.stop))

    def digest_job(self) -> None:
        def work(store: Store) -> None:
            now = self.clock()
            week = previous_week(now, self.config)
            record = write_digest(store, self.config, week, now=now)
            log.info("digest %s: written, %d item(s)", week, record.items)
            write_digests(store, self.config, now=now, should_stop=self.stop)

        self._locked("digest", work)

    def _locked(self, what: str, work: Callable[[Store], object]) -> None:
        if self.stop():
            return
        try:
            with WriterLock.for_database(self.config.database, f"watcher run ({what})", wait=self.wait, should_stop=self.stop):
                with Store.open(self.config.database) as store:
                    work(store)
        except LockHeld as exc:
            if self.stop():
                return
            retry = self.clock() + LOCK_RETRY
            log.error("%s skipped: %s; catching up at %s", what, exc, retry.astimezone(self.config.timezone).strftime("%H:%M %Z"))
            self.scheduler.add_job(self.poll_job, "date", run_date=retry, id="catch-up", replace_existing=True, misfire_grace_time=None)
        except WatcherError as exc:
            log.error("%s failed: %s", what, exc)
        except Exception as exc:  # keep the service alive; the next job tries again
            log.error("%s failed: internal error: %s: %s", what, type(exc).__name__, exc)
            log.debug("%s: traceback", what, exc_info=True)

    # ---- running and stopping ----

    def run(self) -> int:
        """Block until SIGTERM/SIGINT; then let the job in progress finish and return 0."""
        if not log.isEnabledFor(logging.DEBUG):
            # Our own lines say what happened; APScheduler keeps its warnings (missed, skipped runs).
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
        with stop_on_signals(self.stop, on_stop=self._request_shutdown):
            self.add_jobs()
            self.scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
            schedule = self.config.schedule
            log.info(
                "scheduler: started; polls daily at %s, digest %s %s (%s)",
                ", ".join(schedule.poll_times), schedule.digest_day, schedule.digest_time, self.config.timezone.key,
            )
            self.scheduler.start()  # returns once shutdown has let the running job finish
        if self._stopper is not None:
            self._stopper.join()
        log.info("scheduler: stopped")
        return 0

    def _request_shutdown(self) -> None:
        # Called from the signal handler (main thread, which may be inside the scheduler's loop):
        # shut down from another thread, so nothing the loop holds is touched here.
        if self.scheduler.running:
            self._spawn_stopper()

    def _on_started(self, _event: object) -> None:
        # A signal that came before the scheduler was running: stop now that it is.
        if self.stop():
            self._spawn_stopper()

    def _spawn_stopper(self) -> None:
        if self._stopper is None:
            self._stopper = threading.Thread(target=self._shutdown, name="watcher-stop")
            self._stopper.start()

    def _shutdown(self) -> None:
        try:
            self.scheduler.shutdown(wait=True)
        except SchedulerNotRunningError:
            pass


def run_forever(config: Config, *, wait: float = DEFAULT_WAIT) -> int:
    return Service(config, wait=wait).run()
