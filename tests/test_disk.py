"""Disk and database faults, met by the real command line in a subprocess.

- A path that must be a folder is a file (the digests folder, the database's folder): root
  ignores permission bits, so this is how these tests make a place unwritable.
- A full disk: the child runs with RLIMIT_FSIZE (`ulimit -f`) just above what is already on disk,
  so SQLite's or the digest's next write fails with EFBIG, a real write error from the kernel.
  (Python ignores SIGXFSZ, so the write fails instead of killing the process.)
- A damaged database: garbage bytes, a real database cut short or overwritten half way, another
  application's database, a folder in its place.

Each gives exit code 1 and exactly one line on stderr that names the path, no traceback, and
leaves the previous state as it was: the database file byte for byte when it is damaged (never
replaced), the committed items when a write fails, the old digest when a digest write fails.
"""

from __future__ import annotations

import errno
import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.configs import pubmed, rss, write_feeds
from tests.polls import WEEK
from tests.upstreams import eutils, feeds
from watcher import cli
from watcher.config import load
from watcher.digest.publish import publish_week
from watcher.model import Item
from watcher.relevance.match import match
from watcher.store import Store
from watcher.weeks import Week

pytestmark = pytest.mark.slow  # full disks and damaged databases, met by `watcher` in subprocesses

PROJECT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def watcher(*args: str, cwd: Path, fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "PYTHONPATH": str(PROJECT), "NCBI_API_KEY": "disk-test-key"}
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120, preexec_fn=limit if fsize else None)


def one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("watcher: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


OFFLINE = [pubmed()]  # a source on a port where nothing listens: these commands never reach it


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- a file where a folder should be ----


def test_digests_folder_that_is_a_file(tmp_path):
    write_feeds(tmp_path, OFFLINE)
    (tmp_path / "digests").write_text("not a folder\n")
    result = watcher("digest", "--week", WEEK, cwd=tmp_path)
    one_line_error(result, f"{tmp_path / 'digests'}", "cannot write the digest")
    assert (tmp_path / "digests").read_text() == "not a folder\n"


@pytest.mark.parametrize("command", ["poll", "digest", "status", "export"])
def test_database_folder_that_is_a_file(tmp_path, command):
    write_feeds(tmp_path, OFFLINE, database="state/watcher.db")
    (tmp_path / "state").write_text("not a folder\n")
    result = watcher(command, cwd=tmp_path)
    one_line_error(result, str(tmp_path / "state"))
    assert (tmp_path / "state").read_text() == "not a folder\n"


# ---- the disk fills up ----


def big_articles(n: int) -> list[eutils.Article]:
    items = eutils.articles(n)
    for a in items:
        a.abstract = "Ketamine and esketamine for treatment-resistant depression. " * 40
    return items


def test_database_write_fails_on_a_full_disk_and_the_committed_state_stays(tmp_path, upstream):
    feed = feeds.Feed(upstream, items=feeds.entries(5, "d"))
    papers = eutils.Eutils(upstream)
    papers.add(eutils.local_today(), big_articles(300))
    sources = [rss(feed.url), pubmed(papers.url, query="k", batch_size=100)]
    write_feeds(tmp_path, sources[:1])
    assert watcher("poll", cwd=tmp_path).returncode == 0  # the state before: five feed items, committed
    write_feeds(tmp_path, sources)
    db = tmp_path / "watcher.db"
    before = {r[0] for r in sqlite3.connect(db).execute("SELECT id FROM items")}
    assert len(before) == 5

    # Room for the run's bookkeeping, not for a batch of 100 records of 2.5 kB each.
    full = watcher("poll", cwd=tmp_path, fsize=db.stat().st_size + 48 * 1024)
    one_line_error(full, str(db), "cannot write the database", "disk")
    assert full.stdout == ""  # no source is blamed for the disk
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {r[0] for r in conn.execute("SELECT id FROM items")} == before
        assert conn.execute("SELECT cursor FROM sources WHERE name = 'pubmed'").fetchone() in (None, (None,))

    again = watcher("poll", cwd=tmp_path)  # room again: the poll completes, nothing twice
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM items").fetchone() == (305, 305)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def item(n: int) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/",
                title=f"Ketamine for depression {n}", abstract="Ketamine helps. " * 20, date="2026-11-20")


def test_digest_write_fails_on_a_full_disk_and_the_old_digest_stays(tmp_path):
    config = load(write_feeds(tmp_path, OFFLINE))
    with Store.open(config.database) as store:
        entries = [(it, match(it, config.topics)) for it in map(item, range(400))]
        store.save_batch("pubmed", entries[:3], now=NOW)
        publish_week(store, config, Week.parse(WEEK), now=NOW)
        store.save_batch("pubmed", entries[3:], now=NOW)  # the next digest is ~200 kB
    old = sha(config.digests / f"{WEEK}.md")
    old_index = sha(config.digests / "index.md")
    limit = 64 * 1024  # the digest command writes nothing else before the digest: the database is only read
    result = watcher("digest", "--week", WEEK, cwd=tmp_path, fsize=limit)
    one_line_error(result, str(config.digests / f"{WEEK}.md"), "cannot write the digest", "File too large")
    assert sha(config.digests / f"{WEEK}.md") == old and sha(config.digests / "index.md") == old_index
    # No temporary file left, and nothing after the failed Markdown was written.
    assert sorted(p.name for p in config.digests.iterdir()) == [f"{WEEK}.html", f"{WEEK}.md", "feed.xml", "index.html", "index.md"]
    assert watcher("digest", "--week", WEEK, cwd=tmp_path).returncode == 0
    assert sha(config.digests / f"{WEEK}.md") != old


def test_no_space_left_while_writing_a_digest_in_process(tmp_path, monkeypatch, capsys):
    """ENOSPC, which RLIMIT_FSIZE cannot make, simulated at fsync: the command line's answer."""
    config = load(write_feeds(tmp_path, OFFLINE))
    with Store.open(config.database) as store:
        store.save_batch("pubmed", [(item(1), match(item(1), config.topics))], now=NOW)
        publish_week(store, config, Week.parse(WEEK), now=NOW)[0]
    old = sha(config.digests / f"{WEEK}.md")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    assert cli.main(["--config", str(config.path), "digest", "--week", WEEK, "--wait", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and str(config.digests) in err
    assert sha(config.digests / f"{WEEK}.md") == old


# ---- a damaged database: reported with its path, never replaced ----


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> bytes:
    """The bytes of a real watcher database of a few MB, closed cleanly (no WAL beside it)."""
    path = tmp_path_factory.mktemp("real") / "watcher.db"
    config_dir = path.parent
    config = load(write_feeds(config_dir, OFFLINE))
    with Store.open(path) as store:
        items = [Item(id=f"pubmed:{n}", source="pubmed", url="https://pubmed.ncbi.nlm.nih.gov/1/", title="t" * 200,
                      abstract="a" * 2000) for n in range(1500)]
        store.save_batch("pubmed", [(it, match(it, config.topics)) for it in items], now=NOW, final=True, cursor="2026/11/24")
    return path.read_bytes()


def other_app_db(tmp: Path) -> bytes:
    path = tmp / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('a note')")
    return path.read_bytes()


DAMAGE = {
    "garbage": lambda real, tmp: os.urandom(64 * 1024),
    "cut-in-half": lambda real, tmp: real[: len(real) // 2],
    "only-the-first-page": lambda real, tmp: real[:4096],
    "second-half-overwritten": lambda real, tmp: real[: len(real) // 2] + os.urandom(len(real) - len(real) // 2),
    "another-apps-database": lambda real, tmp: other_app_db(tmp),
}
MESSAGES = {
    "garbage": "not a usable watcher database (file is not a database)",
    "cut-in-half": "not a usable watcher database (database disk image is malformed)",
    "only-the-first-page": "not a usable watcher database (database disk image is malformed)",
    "second-half-overwritten": "the database is damaged",
    "another-apps-database": "holds tables that are not watcher's (notes); refusing to touch it",
}
COMMANDS = ["poll", "digest", "status", "export"]


@pytest.fixture(scope="module")
def damaged_runs(real_db, tmp_path_factory):
    """Every (damage, command) run at once, four at a time: 20 interpreter start-ups in parallel."""
    jobs = {}
    for damage, make in DAMAGE.items():
        for command in COMMANDS:
            site = tmp_path_factory.mktemp(f"{damage}-{command}")
            write_feeds(site, OFFLINE)
            data = make(real_db, site)
            (site / "watcher.db").write_bytes(data)
            jobs[damage, command] = (site, hashlib.sha256(data).hexdigest())
    extra = ("--wait", "0")
    with ThreadPoolExecutor(4) as pool:
        futures = {key: pool.submit(watcher, key[1], *(extra if key[1] in ("poll", "digest") else ()), cwd=site)
                   for key, (site, _) in jobs.items()}
        return {key: (jobs[key][0], jobs[key][1], f.result()) for key, f in futures.items()}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_database_is_reported_and_never_replaced(damaged_runs, damage, command):
    site, digest, result = damaged_runs[damage, command]
    db = site / "watcher.db"
    one_line_error(result, str(db), MESSAGES[damage])
    assert sha(db) == digest  # byte for byte as it was
    assert not (site / "digests").exists() and result.stdout == ""


def test_a_folder_where_the_database_should_be(tmp_path):
    write_feeds(tmp_path, OFFLINE)
    (tmp_path / "watcher.db").mkdir()
    for command in ("status", "poll"):
        one_line_error(watcher(command, cwd=tmp_path), str(tmp_path / "watcher.db"))
