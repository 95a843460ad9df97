"""Scheduled operation: fire times across DST, catch-up from the store after downtime, clean shutdown.

No test sleeps: clocks are injected. The subprocess tests talk to the local E-utilities stand-in,
which holds the first efetch until the child has logged the SIGTERM it was sent, so that the
signal lands in the middle of a poll.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from tests.configs import DRUG_TOPIC, pubmed, write_config, write_feeds
from tests.upstreams import eutils, faults
from watcher import cli
from watcher.config import Config, load
from watcher.digest.gaps import gap_limit
from watcher.digest.missing import is_final, missing_weeks
from watcher.digest.publish import render
from watcher.model import Hit, Item, Match
from watcher.poll import PollReport, SourceReport, poll
from watcher.schedule.due import digest_trigger, last_fire_time, next_fire_times, poll_due, poll_trigger
from watcher.schedule.service import DIGEST_GRACE, POLL_GRACE, Service, catch_up
from watcher.status import status
from watcher.store import PollRecord, Store
from watcher.store.lock import WriterLock
from watcher.weeks import Week, utc_iso

CHICAGO = ZoneInfo("America/Chicago")
UTC = UTC
PROJECT_ROOT = Path(__file__).resolve().parent.parent
YES = Match(True, ("t",), (Hit("drug", "ketamine", "title", "Ketamine"),))


def config_at(folder: Path, poll: tuple[str, ...] = ("06:00",), day: str = "mon") -> Config:
    """The schedule these tests reason about, written out: polls at `poll`, the digest `day` 07:00."""
    return write_config(folder, schedule={"poll": list(poll), "digest": {"day": day, "time": "07:00"}})


def local(*args) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# ---- fire times across DST (America/Chicago: 2026-11-01 back to CST, 2027-03-14 forward to CDT) ----


def fire_times(trigger, start: datetime, n: int) -> list[datetime]:
    out = [trigger.get_next_fire_time(None, start)]
    while len(out) < n:
        out.append(trigger.get_next_fire_time(out[-1], in_utc(out[-1]) + timedelta(seconds=1)))
    return out


def test_daily_poll_stays_at_six_local_across_the_spring_change(tmp_path):
    times = fire_times(poll_trigger(config_at(tmp_path)), local(2027, 3, 13, 0, 0), 3)
    assert [(t.date(), t.hour, t.minute, t.tzname()) for t in times] == [
        (date(2027, 3, 13), 6, 0, "CST"), (date(2027, 3, 14), 6, 0, "CDT"), (date(2027, 3, 15), 6, 0, "CDT"),
    ]
    assert in_utc(times[1]) - in_utc(times[0]) == timedelta(hours=23)  # the short day
    assert in_utc(times[1]) == datetime(2027, 3, 14, 11, 0, tzinfo=UTC)


def test_daily_poll_stays_at_six_local_across_the_autumn_change(tmp_path):
    times = fire_times(poll_trigger(config_at(tmp_path)), local(2026, 10, 31, 0, 0), 3)
    assert [(t.date(), t.hour, t.tzname()) for t in times] == [
        (date(2026, 10, 31), 6, "CDT"), (date(2026, 11, 1), 6, "CST"), (date(2026, 11, 2), 6, "CST"),
    ]
    assert in_utc(times[1]) - in_utc(times[0]) == timedelta(hours=25)  # the long day
    assert in_utc(times[1]) == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "start, expected_utc, tzname",
    [
        (local(2027, 3, 9), datetime(2027, 3, 15, 12, 0, tzinfo=UTC), "CDT"),  # first Monday after the spring change
        (local(2027, 3, 2), datetime(2027, 3, 8, 13, 0, tzinfo=UTC), "CST"),  # the Monday before it
        (local(2026, 10, 27), datetime(2026, 11, 2, 13, 0, tzinfo=UTC), "CST"),  # first Monday after the autumn change
        (local(2026, 10, 20), datetime(2026, 10, 26, 12, 0, tzinfo=UTC), "CDT"),  # the Monday before it
    ],
)
def test_weekly_digest_is_monday_seven_local_across_dst(tmp_path, start, expected_utc, tzname):
    fire = digest_trigger(config_at(tmp_path)).get_next_fire_time(None, start)
    assert (fire.isoweekday(), fire.hour, fire.minute, fire.tzname()) == (1, 7, 0, tzname)
    assert in_utc(fire) == expected_utc


@pytest.mark.parametrize("day, isoweekday", [("mon", 1), ("wed", 3), ("sun", 7)])
def test_digest_day_is_named_not_numbered(tmp_path, day, isoweekday):
    # APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0: names avoid both traps.
    fire = digest_trigger(config_at(tmp_path, day=day)).get_next_fire_time(None, local(2026, 11, 26, 12, 0))
    assert fire.isoweekday() == isoweekday


def test_several_poll_times_a_day(tmp_path):
    trigger = poll_trigger(config_at(tmp_path, poll=("18:30", "06:00")))
    times = fire_times(trigger, local(2026, 11, 25, 12, 0), 3)
    assert [(t.day, t.hour, t.minute) for t in times] == [(25, 18, 30), (26, 6, 0), (26, 18, 30)]


def test_last_fire_time_survives_the_repeated_hour(tmp_path):
    # 01:30 happens twice on 1 Nov 2026 in Chicago; APScheduler fires at both. Looking back must
    # neither loop nor step back an hour.
    trigger = poll_trigger(config_at(tmp_path, poll=("01:30",)))
    now = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)  # 02:00 CST, after both 01:30s
    assert in_utc(last_fire_time(trigger, now, timedelta(days=2))) == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert in_utc(last_fire_time(trigger, datetime(2026, 11, 1, 7, 0, tzinfo=UTC), timedelta(days=2))) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


def test_next_fire_times_for_status(tmp_path):
    next_poll, next_digest = next_fire_times(config_at(tmp_path), local(2026, 11, 26, 18, 0))  # a Thursday
    assert next_poll == local(2026, 11, 27, 6, 0)
    assert next_digest == local(2026, 11, 30, 7, 0)


# ---- schedules beyond daily: weekdays in schedule.poll ----


def test_poll_entries_name_weekdays_or_mean_every_day(tmp_path):
    config = config_at(tmp_path, poll=("06:00", "Mon,thu 06:30", "mon-fri 12:00", "fri-mon 18:00", "sunday 20:00"))
    assert [(p.days, p.time) for p in config.schedule.polls] == [
        (("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "06:00"), (("mon", "thu"), "06:30"),
        (("mon", "tue", "wed", "thu", "fri"), "12:00"), (("mon", "fri", "sat", "sun"), "18:00"), (("sun",), "20:00")]
    assert [str(p) for p in config.schedule.polls] == ["06:00", "mon,thu 06:30", "mon,tue,wed,thu,fri 12:00",
                                                       "mon,fri,sat,sun 18:00", "sun 20:00"]


@pytest.mark.parametrize(("poll", "limit"), [
    (("06:00",), timedelta(hours=36)),  # daily: 24 h between polls
    (("06:00", "18:00"), timedelta(hours=18)),  # twice daily: 12 h
    (("06:00", "09:00"), timedelta(hours=31, minutes=30)),  # the longest stretch counts: 09:00 to 06:00, 21 h
    (("mon 06:00", "thu 06:00"), timedelta(hours=144)),  # twice weekly: Thursday to Monday, 96 h
    (("wed 06:00",), timedelta(days=10, hours=12)),  # weekly
])
def test_the_gap_limit_is_half_as_much_again_as_the_longest_interval(tmp_path, poll, limit):
    assert gap_limit(config_at(tmp_path, poll=poll).schedule) == limit


EVERY_MORNING = [local(2026, 11, d, 6, 0) for d in range(23, 31)]  # Mon 23 Nov (2026-W48) to Mon 30 Nov
TWICE_A_DAY = sorted(EVERY_MORNING + [local(2026, 11, d, 18, 0) for d in range(23, 30)])
MON_THU = [local(2026, 11, 23, 6, 0), local(2026, 11, 26, 6, 0), local(2026, 11, 30, 6, 0)]


@pytest.mark.parametrize(("poll", "runs", "notes"), [
    (("06:00",), EVERY_MORNING, []),
    (("06:00",), [t for t in EVERY_MORNING if t.day not in (25, 26)], [("2026-11-24 06:00 CST", "2026-11-27 06:00 CST")]),
    (("06:00", "18:00"), TWICE_A_DAY, []),
    (("06:00", "18:00"), [t for t in TWICE_A_DAY if t != local(2026, 11, 24, 18, 0)],  # 24 h: one poll missed, twice a day
     [("2026-11-24 06:00 CST", "2026-11-25 06:00 CST")]),
    (("mon 06:00", "thu 06:00"), MON_THU, []),  # 72 and 96 h apart, as scheduled: no note
    (("mon 06:00", "thu 06:00"), [MON_THU[0], MON_THU[2]], [("2026-11-23 06:00 CST", "2026-11-30 06:00 CST")]),
], ids=["daily", "daily-two-missed", "twice-daily", "twice-daily-one-missed", "twice-weekly", "twice-weekly-one-missed"])
def test_the_gap_note_follows_the_schedule(tmp_path, poll, runs, notes):
    config = config_at(tmp_path, poll=poll)
    with Store.open(config.database) as store:
        for at in runs:
            record_run(store, at)
        markdown, html = render(store, config, Week.parse("2026-W48")), render(store, config, Week.parse("2026-W48"), "html")
    found = re.findall(r"\n- No polls from (.+?) to (.+?): the job was not running", markdown)
    assert found == notes
    assert html.count("the job was not running") == len(notes)


def test_twice_weekly_polls_drive_the_service_status_and_what_is_due(tmp_path, capsys):
    config = config_at(tmp_path, poll=("thu 06:00", "mon 06:00"))
    thursday = local(2026, 11, 26, 7, 0)
    assert [(t.date(), t.hour, t.minute) for t in fire_times(poll_trigger(config), local(2026, 11, 24, 12, 0), 4)] == [
        (date(2026, 11, 26), 6, 0), (date(2026, 11, 30), 6, 0), (date(2026, 12, 3), 6, 0), (date(2026, 12, 7), 6, 0)]
    service = Service(config, scheduler_class=BackgroundScheduler)
    service.add_jobs()
    job = service.scheduler.get_job("poll")
    assert job.trigger.get_next_fire_time(None, thursday) == local(2026, 11, 30, 6, 0)
    assert job.misfire_grace_time == int(timedelta(hours=96).total_seconds())  # a whole period, Thursday to Monday
    with Store.open(config.database) as store:
        record_run(store, local(2026, 11, 23, 6, 0, 3))
        report = status(store, config, thursday)
        assert report.next_poll == local(2026, 11, 30, 6, 0) and report.overdue_since == local(2026, 11, 26, 6, 0)
        assert poll_due(store, config, local(2026, 11, 25, 12, 0)) is None  # Monday's poll ran; Thursday's not yet due
        # Thursday's poll missed: still due on Saturday, more than two days after it.
        assert poll_due(store, config, local(2026, 11, 28, 12, 0)) == local(2026, 11, 26, 6, 0)
    cli.print_status(report, CHICAGO)
    assert "next poll:      2026-11-30 06:00 CST (a poll is overdue since 2026-11-26 06:00 CST;" in capsys.readouterr().out


# ---- is a poll due? (from the runs/polls tables) ----


@pytest.fixture
def config(tmp_path):
    return config_at(tmp_path)


def record_run(store: Store, at: datetime, status: str = "ok") -> None:
    run = store.begin_run("poll", now=at)
    store.finish_run(run, now=at + timedelta(minutes=1), status=status, new_items=0, matched=0, failures=status == "failed")


def test_a_new_database_is_due_at_once(store, config):
    now = local(2026, 11, 26, 5, 0)
    assert poll_due(store, config, now) == local(2026, 11, 25, 6, 0)


def test_poll_due_follows_the_schedule(store, config):
    record_run(store, local(2026, 11, 25, 6, 0, 3))
    assert poll_due(store, config, local(2026, 11, 25, 20, 0)) is None
    assert poll_due(store, config, local(2026, 11, 26, 5, 59)) is None
    assert poll_due(store, config, local(2026, 11, 26, 6, 0)) == local(2026, 11, 26, 6, 0)
    assert poll_due(store, config, local(2026, 11, 29, 12, 0)) == local(2026, 11, 29, 6, 0)


def test_a_failed_poll_counts_as_an_attempt_an_interrupted_one_does_not(store, config):
    record_run(store, local(2026, 11, 26, 6, 0), status="failed")
    assert poll_due(store, config, local(2026, 11, 26, 9, 0)) is None
    fresh = config_at(config.database.parent / "b")
    with Store.open(fresh.database) as s:
        record_run(s, local(2026, 11, 26, 6, 0), status="interrupted")
        assert poll_due(s, fresh, local(2026, 11, 26, 9, 0)) == local(2026, 11, 26, 6, 0)


# ---- catch-up after downtime: a simulated history, a fake poll, a moving clock ----


class World:
    """Stands in for the network: each poll 'finds' the items published since the last one."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config, self.store = config, store
        self.now = local(2026, 9, 7, 6, 0)  # Monday of 2026-W37
        self.next_id = 1
        self.found: dict[str, datetime] = {}  # item id → when our poll first saw it
        self.polls = 0

    def clock(self) -> datetime:
        return self.now

    def poll(self, config, store, *, clock, should_stop=None, **_options) -> PollReport:
        """Same bookkeeping as watcher.poll.poll: a run, one batch per source, a poll record."""
        now = clock()
        self.polls += 1
        run = store.begin_run("poll", now=now)
        item = Item(id=f"pubmed:{self.next_id}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{self.next_id}/",
                    title=f"Ketamine study number {self.next_id}")
        self.next_id += 1
        self.found[item.id] = now
        saved = store.save_batch("pubmed", [(item, YES)], now=now, cursor=f"{now:%Y/%m/%d}", final=True)
        store.record_poll(PollRecord("pubmed", utc_iso(now), True, 1, saved.new, saved.new_matched), run_id=run)
        store.finish_run(run, now=now, status="ok", new_items=saved.new, matched=saved.new_matched, failures=0)
        return PollReport(run, [SourceReport("pubmed", ok=True, fetched=1, new=saved.new, new_matched=saved.new_matched)])

    def tick(self):
        return catch_up(self.config, self.store, clock=self.clock, poll_fn=self.poll)

    def run_daily_until(self, end: datetime) -> None:
        """`watcher run` with a 06:00 poll whose catch-up writes the digests, day by day."""
        while self.now <= end:
            self.tick()
            self.now = local(*(self.now + timedelta(days=1)).timetuple()[:3], 6, 0)


def digest_weeks(config: Config) -> list[str]:
    return sorted(p.stem for p in config.digests.glob("20??-W??.md"))


def occurrences(config: Config, item_id: str) -> list[str]:
    number = item_id.split(":")[1]
    return [p.stem for p in sorted(config.digests.glob("20??-W??.md")) if f"Ketamine study number {number}]" in p.read_text()]


@pytest.mark.parametrize("missed", [0, 1, 3])
def test_one_start_writes_every_missing_digest(store, config, missed):
    world = World(config, store)
    world.run_daily_until(local(2026, 9, 21, 6, 0))  # W37, W38 and the Monday of W39
    assert digest_weeks(config) == ["2026-W37", "2026-W38", "2026-W39"]
    assert world.polls == 15

    # Down from Monday 06:00 of W39 until Tuesday 09:00, `missed` weeks later.
    world.now = local(2026, 9, 22, 9, 0) + timedelta(weeks=missed)
    current = Week.containing(world.now, CHICAGO).label
    assert missing_weeks(store, config, world.now, ("markdown",)) == {Week(2026, 39 + k): ("markdown",) for k in range(missed)}
    result = world.tick()

    assert result.poll is not None  # the 06:00 poll of the restart day was overdue
    assert [r.week for r in result.outputs if r.format == "markdown"] == [*(f"2026-W{39 + k}" for k in range(missed)), current]
    assert digest_weeks(config) == [f"2026-W{w}" for w in range(37, 40 + missed)]
    for item_id, seen in world.found.items():  # each item in exactly one digest: the week it was found
        assert occurrences(config, item_id) == [Week.containing(seen, CHICAGO).label], item_id
    assert not missing_weeks(store, config, world.now, ("markdown",))

    notes = {w: re.findall(r"\n- No polls from (.+?) to (.+?): the job was not running", (config.digests / f"{w}.md").read_text())
             for w in digest_weeks(config)}
    if missed == 0:  # 27 h without a poll is one missed poll, not an outage worth a note
        assert not any(notes.values())
    else:
        outage = [("2026-09-21 06:00 CDT", f"{world.now:%Y-%m-%d} 09:00 CDT")]
        assert {w for w, n in notes.items() if n} == {f"2026-W{39 + k}" for k in range(missed + 1)}
        assert all(n == outage for n in notes.values() if n)
        assert "items first seen after it came back are listed in the week they were found" in (config.digests / "2026-W39.md").read_text()


def test_catch_up_is_idempotent_and_digests_deterministic(store, config):
    world = World(config, store)
    world.run_daily_until(local(2026, 9, 16, 6, 0))
    before = {p.name: p.read_bytes() for p in config.digests.glob("*.md")}
    world.now = local(2026, 9, 16, 8, 0)  # two hours after the last poll
    result = world.tick()
    assert result.poll is None  # nothing due
    assert [r.week for r in result.outputs if r.format == "markdown"] == ["2026-W38"]  # only the current week, refreshed
    assert {p.name: p.read_bytes() for p in config.digests.glob("*.md")} == before


def test_a_new_database_starts_from_its_first_run(store, config):
    world = World(config, store)
    world.now = local(2026, 9, 9, 6, 0)  # a Wednesday: the first run ever
    assert not missing_weeks(store, config, world.now, ("markdown",))
    result = world.tick()
    assert result.poll is not None and [r.week for r in result.outputs if r.format == "markdown"] == ["2026-W37"]
    world.now = local(2026, 9, 30, 12, 0)  # three weeks on, nothing ran in between
    assert [str(w) for w in missing_weeks(store, config, world.now, ("markdown",))] == ["2026-W37", "2026-W38", "2026-W39"]


def test_a_digest_written_mid_week_is_not_final(store, config):
    world = World(config, store)
    world.run_daily_until(local(2026, 9, 9, 6, 0))  # Mon–Wed of W37
    assert [r.week for r in store.outputs("markdown")] == ["2026-W37"]
    world.now = local(2026, 9, 14, 8, 0)
    assert [str(w) for w in missing_weeks(store, config, world.now, ("markdown",))] == ["2026-W37"]  # it lacks Thu–Sun


# ---- the service's wiring (not started: nothing blocks, nothing sleeps) ----


def test_jobs_are_configured_on_purpose(config):
    service = Service(config, scheduler_class=BackgroundScheduler)
    service.add_jobs()
    jobs = {job.id: job for job in service.scheduler.get_jobs()}
    assert set(jobs) == {"poll", "digest", "catch-up"}
    for job_id, grace in (("poll", POLL_GRACE), ("digest", DIGEST_GRACE)):
        job = jobs[job_id]
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, grace)
        assert job.trigger.timezone == CHICAGO
    assert str(jobs["digest"].trigger) == "cron[day_of_week='mon', hour='7', minute='0']"
    assert isinstance(service.scheduler._jobstores["default"], MemoryJobStore)
    assert service.scheduler.timezone == CHICAGO


def test_a_busy_lock_defers_the_job_and_schedules_a_retry(config):
    service = Service(config, wait=0, scheduler_class=BackgroundScheduler, poll_fn=lambda *a, **k: pytest.fail("polled"))
    with WriterLock.for_database(config.database, "watcher poll"):
        service.poll_job()
    retry = service.scheduler.get_job("catch-up")
    assert retry is not None and retry.trigger.run_date > datetime.now(UTC) + timedelta(minutes=4)


def test_the_digest_job_writes_the_week_that_ended_final_and_the_site_once(config):
    monday = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)  # the digest's time, after 2026-W48 ended
    with Store.open(config.database) as store:
        store.save_batch("pubmed", [(Item("pubmed:1", "pubmed", "", "Ketamine"), Match(True, ("t",), ()))],
                         now=monday - timedelta(days=3))
    service = Service(config, scheduler_class=BackgroundScheduler, clock=lambda: monday.astimezone(UTC))
    service.digest_job()
    with Store.open(config.database) as store:
        written = {(r.week, r.format): r for r in store.outputs()}
    assert written[("2026-W48", "markdown")].items == 1 and is_final(written[("2026-W48", "markdown")], config)
    assert ("2026-W49", "markdown") in written  # the week begun, fresh
    later = Service(config, scheduler_class=BackgroundScheduler, clock=lambda: (monday + timedelta(hours=1)).astimezone(UTC))
    later.digest_job()  # again: the ended week is final, so only the current week is written again
    with Store.open(config.database) as store:
        again = {(r.week, r.format): r.written_at for r in store.outputs()}
    assert again[("2026-W48", "markdown")] == written[("2026-W48", "markdown")].written_at
    assert again[("2026-W49", "markdown")] > written[("2026-W49", "markdown")].written_at


def test_a_stopped_service_starts_no_work(config):
    service = Service(config, scheduler_class=BackgroundScheduler, poll_fn=lambda *a, **k: pytest.fail("polled"))
    service.stop.signal = signal.SIGTERM
    service.poll_job()
    service.digest_job()
    assert not config.database.exists()


# ---- real processes: SIGTERM mid-poll, and `watcher run` start-up catch-up + shutdown ----

ARTICLE = (
    '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
    '<Article PubModel="Print"><Journal><JournalIssue><PubDate><Year>2026</Year></PubDate></JournalIssue>'
    "<Title>J Test</Title></Journal><ArticleTitle>Ketamine for depression, record {pmid}</ArticleTitle>"
    "<Abstract><AbstractText>Ketamine helped.</AbstractText></Abstract><PublicationTypeList>"
    "<PublicationType>Journal Article</PublicationType></PublicationTypeList></Article></MedlineCitation>"
    '<PubmedData><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId></ArticleIdList></PubmedData></PubmedArticle>'
)


def site_with(tmp_path: Path, upstream, n: int, first_pmid: int, batch_size: int) -> Path:
    """feeds.yaml for `n` records that Entrez saw yesterday (inside the poller's local-date window)."""
    stand_in = eutils.Eutils(upstream)
    stand_in.add(eutils.local_today() - timedelta(days=1), [ARTICLE.format(pmid=first_pmid + i).encode() for i in range(n)])
    return write_feeds(tmp_path, [pubmed(stand_in.url, lookback_days=3, batch_size=batch_size)], topics=DRUG_TOPIC)


class Child:
    """`watcher` in a subprocess, its stderr read line by line as it comes (and kept)."""

    def __init__(self, feeds: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher.cli", "--config", str(feeds), "--log-level", "INFO", *args],
            cwd=feeds.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.said = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self.said:
                self.lines.append(line)
                self.said.notify_all()

    def wait_for(self, text: str, timeout: float = 15) -> bool:
        with self.said:
            return self.said.wait_for(lambda: any(text in line for line in self.lines) or self.proc.poll() is not None,
                                      timeout) and any(text in line for line in self.lines)

    def finish(self, timeout: float = 15) -> tuple[str, str]:
        out = self.proc.stdout.read()
        self.proc.wait(timeout)
        self.reader.join(timeout)
        return out, "".join(self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["poll"], ["run", "--once"], ["run"]])
def test_sigterm_during_a_poll_leaves_a_consistent_database(tmp_path, upstream, command):
    feeds = site_with(tmp_path, upstream, 12, 70_000_000, batch_size=5)
    hold = faults.Hold("head")  # the first batch stays on the wire until the child has the signal
    upstream.arm("efetch:0", hold, times=1)
    child = Child(feeds, *command)
    try:
        assert hold.reached.wait(15), "the poller never reached efetch"
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait_for("SIGTERM received"), "".join(child.lines)
        hold.release.set()  # now the first batch arrives, whole
        out, err = child.finish()
    finally:
        hold.release.set()
        child.proc.kill()
    assert child.proc.returncode == 0, err
    assert "SIGTERM received" in err
    assert "poll pubmed: stopped on request after 5 fetched (5 new, stored)" in err
    if command != ["run"]:  # the one-shot commands also report on stdout
        assert "pubmed: stopped on request after 5 fetched, 5 new (stored); the rest next poll" in out
    assert not list((tmp_path / "digests").glob("*.md"))  # a stopped run writes no digest

    db = sqlite3.connect(tmp_path / "watcher.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 5  # the batch in progress, whole; no part of the next
    assert db.execute("SELECT cursor FROM sources WHERE name = 'pubmed'").fetchone() in (None, (None,))  # cursor did not move
    assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert db.execute("SELECT COUNT(*) FROM polls").fetchone()[0] == 0
    db.close()
    assert upstream.count("efetch") == 1  # no request after the stop
    assert not list((tmp_path).glob("*.tmp")) and not list((tmp_path / "digests").glob("*.tmp"))

    # The next poll picks up the rest, with no duplicates, and now moves the cursor.
    config = load(feeds)
    with Store.open(config.database) as store:
        report = poll(config, store, env={}, sleep=lambda s: None)
        assert report.ok and not report.interrupted
        assert sum(1 for _ in store.iter_items()) == 12
        assert store.source_state("pubmed").cursor is not None


@pytest.mark.slow
def test_watcher_run_catches_up_at_start_and_stops_cleanly_on_sigterm(tmp_path, upstream):
    feeds = site_with(tmp_path, upstream, 3, 71_000_000, batch_size=500)
    child = Child(feeds, "run")
    current = tmp_path / "digests" / f"{Week.containing(datetime.now(UTC), CHICAGO)}.md"
    try:
        deadline = time.monotonic() + 15
        while not current.exists() and child.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the child, not for a schedule
        assert current.exists(), "".join(child.lines) if child.proc.poll() is not None else "no digest written"
        child.proc.send_signal(signal.SIGTERM)
        _out, err = child.finish()
    finally:
        child.proc.kill()
    assert child.proc.returncode == 0, err
    assert "scheduler: started" in err and "catch-up: poll due since" in err and "scheduler: stopped" in err
    assert "3 new item" in current.read_text()
    with Store.open(tmp_path / "watcher.db") as store:
        assert [r[0] for r in store.conn.execute("SELECT status FROM runs ORDER BY id DESC")] == ["ok"]
    with WriterLock.for_database(tmp_path / "watcher.db", "test", wait=0):  # the lock was let go
        pass
