"""`watcher run`: the long-running service. APScheduler 3 says *when* to look; what to do is
decided from the store every time (schedule/due.py, digest/missing.py), so the APScheduler job store can be in memory and
forgetful: after any downtime, one catch-up (at start and after every poll) restores everything
that should exist. SIGTERM/SIGINT finish the write in progress, then stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler, SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from ..config import Config
from ..digest.mail import MailResult, send_due
from ..digest.publish import publish_due
from ..errors import WatcherError
from ..poll import PollReport, poll
from ..store import OutputRecord, Store
from ..store.lock import DEFAULT_WAIT, LockHeld, WriterLock
from ..weeks import utc_now
from .due import digest_trigger, poll_due, poll_trigger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
StopCheck = Callable[[], bool]

# Misfires: a job that fires late is still worth running, because every job first asks the store
# what is actually due; and several missed fire times need only one run (coalesce=True). So the
# grace spans a whole period (at least a day; for polls twice a week, the longest interval): after
# a suspend or a long job of any length, the one coalesced run still happens on wake instead of
# being dropped, as APScheduler's default grace of 1 s would drop it. Anything older is the
# catch-up's business, not the scheduler's.
POLL_GRACE = int(timedelta(days=1).total_seconds())
DIGEST_GRACE = int(timedelta(days=7).total_seconds())
# When the writer lock is busy (a manual poll, a cron job), try the catch-up again this much later.
LOCK_RETRY = timedelta(minutes=5)


@dataclass
class CatchUp:
    due: datetime | None = None  # the scheduled poll time that was overdue, if any
    poll: PollReport | None = None
    outputs: list[OutputRecord] = field(default_factory=list)
    mails: list[MailResult] = field(default_factory=list)


def catch_up(
    config: Config,
    store: Store,
    *,
    clock: Clock = utc_now,
    poll_fn: Callable[..., PollReport] = poll,
    should_stop: StopCheck | None = None,
    env: Mapping[str, str] = os.environ,
    **poll_options: Any,
) -> CatchUp:
    """Poll if a poll is overdue, then write every missing digest and refresh the current week's,
    then mail the weeks that ended (and retry a failed send).

    Run by `watcher run` at start and as its scheduled poll job. The caller holds the writer lock.
    """
    result = CatchUp(due=poll_due(store, config, clock()))
    if result.due is not None:
        log.info("catch-up: poll due since %s; polling now", result.due.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M %Z"))
        result.poll = poll_fn(config, store, clock=clock, should_stop=should_stop, env=env, **poll_options)
        if result.poll.interrupted:
            return result
    else:
        log.info("catch-up: polls are up to date")
    result.outputs = publish_due(store, config, now=clock(), should_stop=should_stop)
    if not (should_stop and should_stop()):
        result.mails = send_due(store, config, now=clock(), env=env)  # weeks that ended, and failed sends again
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
        grace = max(POLL_GRACE, int(self.config.schedule.longest_interval.total_seconds()))
        s.add_job(self.poll_job, poll_trigger(self.config), id="poll", name="poll and catch up",
                  coalesce=True, max_instances=1, misfire_grace_time=grace)
        s.add_job(self.digest_job, digest_trigger(self.config), id="digest", name="weekly digest",
                  coalesce=True, max_instances=1, misfire_grace_time=DIGEST_GRACE)
        # At start: a one-off catch-up, now (a date trigger without a date fires immediately).
        s.add_job(self.poll_job, "date", id="catch-up", name="catch up at start", misfire_grace_time=None)

    # ---- jobs (run in the scheduler's worker thread) ----

    def poll_job(self) -> None:
        self._locked("poll", lambda store: catch_up(self.config, store, clock=self.clock, poll_fn=self.poll_fn, should_stop=self.stop))

    def digest_job(self) -> None:
        def work(store: Store) -> None:
            # The week that ended has no final output yet (one written after its end), so it is
            # among the weeks due, with any other missing one; the indexes, feed and dossiers once.
            now = self.clock()
            publish_due(store, self.config, now=now, should_stop=self.stop)
            send_due(store, self.config, now=now, env=os.environ)

        self._locked("digest", work)

    def _locked(self, what: str, work: Callable[[Store], object]) -> None:
        if self.stop():
            return
        try:
            holder = f"watcher run ({what})"
            with (
                WriterLock.for_database(self.config.database, holder, wait=self.wait, should_stop=self.stop),
                Store.open(self.config.database, writer=True) as store,
            ):
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
                "scheduler: started; polls at %s, digest %s %s (%s)",
                ", ".join(map(str, schedule.polls)), schedule.digest_day, schedule.digest_time, self.config.timezone.key,
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
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=True)


def run_forever(config: Config, *, wait: float = DEFAULT_WAIT) -> int:
    return Service(config, wait=wait).run()
