"""Crash safety, measured: `watcher poll` and `watcher digest` killed with SIGKILL at many points.

The poll: a child process polls three sources (an RSS feed, PubMed in four efetch batches,
openFDA in three pages) from the stand-in server, which holds one chosen request at a chosen phase
(before answering, half way through the body, or just after the whole body, while the child
parses and commits) and tells the test, which then kills the child from outside. Afterwards the
database passes `PRAGMA integrity_check`, no cursor has moved without its items, and a re-run
stores every item exactly once.

The digest: a child writes the digest of a week with thousands of items over an older digest of
that week; it is killed at fixed delays and at moments seen in the digests folder (the temporary
file appears, is being filled, the index's temporary file appears). The week's file is always
either byte-identical to the old digest or the complete new one, and the index stays whole.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.configs import openfda, pubmed, rss, write_feeds
from tests.polls import WEEK
from tests.upstreams import eutils, faults, feeds
from tests.upstreams import openfda as fda
from tests.upstreams.server import Server
from watcher.config import load
from watcher.digest.publish import publish_week, render
from watcher.model import Item
from watcher.poll import poll
from watcher.relevance.match import match
from watcher.store import Store
from watcher.weeks import Week

pytestmark = pytest.mark.slow  # 25 real processes killed with SIGKILL, each followed by a re-run

PROJECT = Path(__file__).resolve().parent.parent
N_PUBMED, BATCH = 200, 50  # esearch + efetch:0, :50, :100, :150
N_FDA, LIMIT = 60, 20  # enforcement:1, :2, :3
N_RSS = 10

# (label of the held request, phase, seconds between "reached" and the kill)
KILL_POINTS = [
    ("rss", "head", 0), ("rss", "mid", 0), ("rss", "end", 0.01),
    ("esearch", "head", 0), ("esearch", "end", 0),
    ("efetch:0", "head", 0), ("efetch:0", "mid", 0), ("efetch:0", "end", 0.005), ("efetch:0", "end", 0.03),
    ("efetch:50", "head", 0), ("efetch:50", "mid", 0), ("efetch:100", "end", 0.01),
    ("efetch:150", "head", 0), ("efetch:150", "mid", 0), ("efetch:150", "end", 0.015),
    ("enforcement:1", "head", 0), ("enforcement:2", "mid", 0), ("enforcement:2", "end", 0.01),
    ("enforcement:3", "head", 0), ("enforcement:3", "end", 0.005),
]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NCBI_API_KEY", "OPENFDA_API_KEY")}
    env["NCBI_API_KEY"] = "kill-test-key"  # 10 requests/s instead of 3: a shorter run
    env["PYTHONPATH"] = str(PROJECT)
    return env


@pytest.fixture
def site(tmp_path, upstream: Server):
    feed = feeds.Feed(upstream, items=feeds.entries(N_RSS, "k"))
    papers = eutils.Eutils(upstream)
    papers.add(eutils.local_today(), eutils.articles(N_PUBMED))
    recalls = fda.OpenFDA(upstream)
    recalls.records("drug/enforcement", fda.recalls(N_FDA))
    write_feeds(tmp_path, [
        rss(feed.url),
        pubmed(papers.url, batch_size=BATCH),
        openfda(recalls.url, endpoints=["drug/enforcement"], search=["ketamine"], limit=LIMIT),
    ])
    expected = {"fda-press": feed.ids("fda-press"), "pubmed": papers.ids(), "openfda": recalls.ids()}
    return upstream, tmp_path, expected


def check_database(db: Path) -> dict[str, set[str]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        items: dict[str, set[str]] = {}
        for source, item_id in conn.execute("SELECT source, id FROM items"):
            items.setdefault(source, set()).add(item_id)
        cursors = dict(conn.execute("SELECT name, COALESCE(cursor, etag, last_success) FROM sources"))
    return items, cursors


@contextmanager
def killed_when_held(site: Path, hold: faults.Hold, label: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `watcher poll` in a child process, held by the stand-in at `label`; the body runs while it is
    held, then the child is killed with SIGKILL (and the stand-in lets go of the request)."""
    child = subprocess.Popen([sys.executable, "-m", "watcher", "poll"], cwd=site, env=child_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not hold.reached.wait(30):
            child.kill()
            pytest.fail(f"the poll never reached {label}: {child.communicate()[1][-2000:]!r}")
        yield child
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        hold.release.set()
        if child.poll() is None:
            child.kill()
        if child.stderr is not None:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(("label", "phase", "delay"), KILL_POINTS, ids=[f"{label}-{p}{f'+{d * 1000:g}ms' if d else ''}" for label, p, d in KILL_POINTS])
def test_poll_killed_then_rerun_stores_everything_once(site, label, phase, delay):
    server, site, expected = site
    hold = faults.Hold(phase)
    server.arm(label, hold, times=1)
    with killed_when_held(site, hold, label):
        time.sleep(delay)

    # Right after the kill: a consistent database, and no source marked done without all its items.
    items, done = check_database(site / "watcher.db")
    for source, ids in items.items():
        assert ids <= expected[source]
        if done.get(source):
            assert ids == expected[source], f"{source}: its cursor moved without all its items"
    assert len(items.get("fda-press", ())) in (0, N_RSS)  # one feed, one transaction

    # The re-run (in this process: the same code, no startup cost) completes the job, once.
    server.disarm()
    config = load(site / "feeds.yaml")
    with Store.open(config.database) as store:
        report = poll(config, store, clock=lambda: datetime.now(UTC), env={}, sleep=lambda s: None)
        assert report.ok, [s.error for s in report.sources]
        rows = store.conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM items").fetchone()
    items, done = check_database(site / "watcher.db")
    assert items == expected and set(done) == set(expected) and all(done.values())
    assert tuple(rows) == (sum(map(len, expected.values())),) * 2


# ---- a killed poll is told: in `status` and in its week's digest ----


def watcher(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=site, env=child_env(), capture_output=True,
                          text=True, timeout=60)


def poll_runs(db: Path) -> list[tuple[str, str | None, str | None]]:
    with sqlite3.connect(db) as conn:
        return [tuple(r) for r in conn.execute("SELECT started, finished, status FROM runs WHERE command = 'poll' ORDER BY id")]


def test_a_poll_killed_mid_way_shows_as_interrupted_a_running_one_does_not(site):
    server, site, expected = site
    db, tz = site / "watcher.db", ZoneInfo("America/Chicago")
    hold = faults.Hold("head")
    server.arm("efetch:50", hold, times=1)  # the feed and PubMed's first batch are stored by then
    with killed_when_held(site, hold, "efetch:50"):
        running = watcher(site, "status")  # the child holds the writer lock: its poll is running, not dead
        assert "poll running:   since " in running.stdout and "INTERRUPTED" not in running.stdout, running.stdout
    [(started, finished, state)] = poll_runs(db)
    assert (finished, state) == (None, None)  # as the kill left it
    begun = datetime.fromisoformat(started.replace("Z", "+00:00")).astimezone(tz)
    when, week = f"{begun:%Y-%m-%d %H:%M %Z}", f"{begun.isocalendar().year}-W{begun.isocalendar().week:02d}"
    told = (f"A poll started {when} did not finish (the process was stopped or the machine lost power);"
            " items it fetched before stopping are kept, ")

    dead = watcher(site, "status")  # the lock is free now: that run is dead
    assert dead.returncode == 1 and "poll running" not in dead.stdout
    assert f"INTERRUPTED:    {told[0].lower()}{told[1:]}the rest come with the next poll" in dead.stdout, dead.stdout
    assert poll_runs(db) == [(started, None, None)]  # a reader marks nothing

    written = watcher(site, "digest", "--week", week)  # a writer: takes the lock, finds the run dead, marks it
    assert written.returncode == 0, written.stderr
    assert poll_runs(db) == [(started, None, "interrupted")]  # `finished` stays NULL: it never finished
    assert f"\n- {told}the rest come with the next poll.\n" in (site / "digests" / f"{week}.md").read_text()
    assert f"<li>{told}the rest come with the next poll.</li>" in (site / "digests" / f"{week}.html").read_text()

    server.disarm()
    again = watcher(site, "poll")
    assert again.returncode == 0, again.stdout + again.stderr
    (_, _, _), (resumed, _, ok) = poll_runs(db)
    assert ok == "ok"
    items, done = check_database(db)
    assert items == expected and all(done.values())  # what the killed poll had stored is kept; the rest came now
    assert watcher(site, "digest", "--week", week).returncode == 0
    at = f"{datetime.fromisoformat(resumed.replace('Z', '+00:00')).astimezone(tz):%Y-%m-%d %H:%M %Z}"
    assert f"\n- {told}the rest came with the next poll, at {at}.\n" in (site / "digests" / f"{week}.md").read_text()
    after = watcher(site, "status")
    assert after.returncode == 0 and "INTERRUPTED" not in after.stdout, after.stdout


# ---- the digest ----

DIGEST_ITEMS = 6000
BIG_NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # in 2026-W48, Chicago


def item(n: int) -> Item:
    return Item(id=f"pubmed:{50_000_000 + n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{50_000_000 + n}/",
                title=f"Ketamine and esketamine for treatment-resistant depression: trial {n}",
                abstract=("BACKGROUND: Ketamine is studied for depression. " * 12) + str(n),
                date="2026-11-20", authors=("Doe J", "Roe R", "Poe P", "Loe L"), journal="J Affect Disord",
                doi=f"10.1000/k{n}", publication_types=("Journal Article", "Randomized Controlled Trial"))


@pytest.fixture(scope="module")
def big_site(tmp_path_factory):
    """A store with an old digest of WEEK on disk, and then more items, so the next digest differs."""
    site = tmp_path_factory.mktemp("digest-site")
    config = load(write_feeds(site))
    with Store.open(config.database) as store:
        entries = [(it, match(it, config.topics)) for it in map(item, range(DIGEST_ITEMS))]
        store.save_batch("pubmed", entries[: DIGEST_ITEMS // 2], now=BIG_NOW)
        publish_week(store, config, Week.parse(WEEK), now=BIG_NOW)
        store.save_batch("pubmed", entries[DIGEST_ITEMS // 2 :], now=BIG_NOW + timedelta(hours=1))
        new = render(store, config, Week.parse(WEEK)).encode()
    old = (config.digests / f"{WEEK}.md").read_bytes()
    assert old != new and len(new) > 2_000_000
    return site, old, new, (config.digests / "index.md").read_bytes()


def tmp_files(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp")]


DIGEST_KILLS = ["after-0.3s", "after-0.9s", "digest-tmp-appears", "digest-tmp-filling", "index-tmp-appears"]


def digest_killed_at(site: Path, point: str) -> int | None:
    """Run `watcher digest` in `site` and SIGKILL it at `point`; its exit status, or None when it
    finished before the moment came (a moment seen by watching the folder can be missed)."""
    digests = site / "digests"
    child = subprocess.Popen([sys.executable, "-m", "watcher", "digest", "--week", WEEK], cwd=site, env=child_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    try:
        while child.poll() is None and time.monotonic() - started < 30:
            if point.startswith("after-"):
                hit = time.monotonic() - started >= float(point[6:-1])
            elif point == "digest-tmp-appears":
                hit = bool(tmp_files(digests, f"{WEEK}.md"))
            elif point == "digest-tmp-filling":
                hit = any(p.exists() and p.stat().st_size > 0 for p in tmp_files(digests, f"{WEEK}.md"))
            else:
                hit = bool(tmp_files(digests, "index.md"))
            if hit:
                child.send_signal(signal.SIGKILL)
                break
            # No sleep: these moments last a few milliseconds, and the child has the other core.
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()
    return child.returncode if child.returncode == -signal.SIGKILL else None


@pytest.mark.parametrize("point", DIGEST_KILLS)
def test_digest_killed_leaves_the_old_file_or_the_whole_new_one(big_site, tmp_path, point):
    source, old, new, old_index = big_site
    for attempt in range(5):  # a moment missed is tried again from the same starting state
        site = tmp_path / f"site{attempt}"
        shutil.copytree(source, site)
        if digest_killed_at(site, point) is not None:
            break
    else:
        pytest.fail(f"the digest finished before {point} in 5 tries")
    digests = site / "digests"
    written = (digests / f"{WEEK}.md").read_bytes()
    assert written in (old, new), f"{len(written)} bytes: neither the old digest nor the new one"
    index = (digests / "index.md").read_bytes()
    assert index == old_index or (index.endswith(b"\n") and f"[{WEEK}]({WEEK}.md)".encode() in index)
    # A kill between mkstemp and rename can leave a hidden temporary file; nothing else is left.
    outputs = {f"{WEEK}.md", "index.md", f"{WEEK}.html", "index.html", "feed.xml"}  # as the old digest left them
    assert {p.name for p in digests.iterdir() if not p.name.startswith(".")} == outputs
    with sqlite3.connect(site / "watcher.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
