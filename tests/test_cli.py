"""The command line as a user meets it: real subprocesses, exit codes, one-line errors.

Broken feeds.yaml files are tests/test_config_errors.py's table."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.configs import pubmed, write_feeds
from tests.upstreams import eutils
from tests.upstreams.eutils import Eutils, corpus_articles

pytestmark = pytest.mark.slow  # every test runs `watcher` in a subprocess, most after a poll of 101 records

# The corpus holds no ketamine record, so the CLI tests watch a topic its real records do contain.
TOPIC = {
    "depression_evidence": {
        "groups": {"condition": ["depress*", "suicid*"], "design": ["meta-analys*", "randomi*", "cohort*"]},
        "false_friends": ["respiratory depression"],
    }
}


@dataclass
class Site:
    path: Path
    fake: Eutils

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return str(self.path)


def watcher(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def site(tmp_path, upstream, corpus_dir):
    """A feeds.yaml pointing at the E-utilities stand-in holding 101 real records: 100 from today, one from yesterday."""
    fake = Eutils(upstream)
    today = eutils.local_today()
    fake.add(today, corpus_articles(corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml"))
    fake.add(today - timedelta(days=1), corpus_articles(corpus_dir / "pubmed" / "efetch_metapub_37729413_meta_analysis_depression_italic.xml"))
    write_feeds(tmp_path, [pubmed(fake.url)], topics=TOPIC)
    return Site(tmp_path, fake)


def test_check_accepts_the_shipped_feeds_yaml():
    result = watcher("check", cwd=Path(__file__).resolve().parent.parent)  # the project's own feeds.yaml
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout


def test_run_once_polls_and_writes_this_weeks_digest(site):
    result = watcher("run", "--once", cwd=site)
    assert result.returncode == 0, result.stderr
    assert "pubmed: ok, 101 fetched, 101 new" in result.stdout
    digests = sorted(p.name for p in (site / "digests").glob("*.md"))
    assert "index.md" in digests and len(digests) == 2
    week = next(p for p in (site / "digests").glob("*-W*.md")).read_text()
    assert "Meta-analyses and systematic reviews (1)" in week


def test_a_failing_source_exits_1_and_shows_in_status(site):
    site.fake.server.arm("esearch", eutils.search_error("Database is not supported"), times=1)
    result = watcher("poll", cwd=site)
    assert result.returncode == 1
    # The host first, then the reason, as in `status` and the digest header.
    said = r"(?:localhost|127\.0\.0\.1):\d+: esearch error: Database is not supported"
    assert re.search(rf"^pubmed: FAILED: {said}$", result.stdout, re.M)
    status = watcher("status", cwd=site)
    assert status.returncode == 1
    assert "FAILING:      1 poll(s) in a row" in status.stdout
    assert re.search(rf"^  last error:   \d{{4}}-\d\d-\d\d \d\d:\d\d \w+: {said}$", status.stdout, re.M)


def test_status_after_a_good_poll(site):
    watcher("poll", cwd=site)
    status = watcher("status", cwd=site)
    assert status.returncode == 0
    assert "items:        101 stored, 1 matched" in status.stdout
    assert "last digest:    none yet" in status.stdout


def test_export_jsonl_has_the_documented_fields(site):
    watcher("poll", cwd=site)
    result = watcher("export", "--format", "jsonl", cwd=site)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 101
    row = next(r for r in rows if r["matched"])
    for key in ("id", "source", "url", "first_seen", "matched", "matched_terms", "pmid", "title", "abstract",
                "journal", "pub_year", "authors", "doi", "publication_types", "mesh_headings"):
        assert key in row, key
    assert row["id"] == f"pubmed:{row['pmid']}" and row["url"] == f"https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/"
    assert {"depress*", "meta-analys*"} <= set(row["matched_terms"])
    assert "Meta-Analysis" in row["publication_types"]


def test_export_csv_keeps_lists_readable_and_formulas_inert(site):
    watcher("poll", cwd=site)
    result = watcher("export", "--format", "csv", cwd=site)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 101
    assert all(not r["title"].startswith(("=", "+", "@")) for r in rows)
    assert any("; " in r["authors"] for r in rows)


def test_digest_of_a_given_week_and_a_bad_week(site):
    assert watcher("digest", "--week", "2026-W01", cwd=site).returncode == 0
    assert (site / "digests" / "2026-W01.md").exists()
    bad = watcher("digest", "--week", "2026-53", cwd=site)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "YYYY-Www" in bad.stderr
    assert bad.stderr.startswith("watcher: error: --week '2026-53' is not an ISO week")


def test_a_week_that_has_not_begun_is_refused_and_nothing_is_written(site):
    next_year = f"{eutils.local_today().year + 1}-W02"
    result = watcher("digest", "--week", next_year, cwd=site)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"watcher: error: --week {next_year} has not begun yet")
    assert "the current week is" in result.stderr
    assert not (site / "digests").exists() and not (site / "watcher.db").exists()


def test_a_reader_that_closes_the_pipe_ends_the_export_quietly(site):
    assert watcher("poll", cwd=site).returncode == 0
    # 101 records of CSV: far more than a pipe holds, so the export is still writing when `head` leaves.
    export = subprocess.Popen([sys.executable, "-m", "watcher", "export", "--format", "csv"], cwd=site,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert export.stdout is not None and export.stderr is not None
    header = export.stdout.readline()
    export.stdout.close()
    errors = export.stderr.read().decode()
    assert export.wait(timeout=60) == 141  # as a shell reports a command ended by SIGPIPE
    assert header.startswith(b"id,work,source") and errors == ""


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    result = watcher("--config", "nowhere.yaml", "poll", cwd=tmp_path)
    assert result.returncode == 2 and "nowhere.yaml: no such file" in result.stderr


def test_an_unknown_command_is_a_usage_error(tmp_path):
    result = watcher("frobnicate", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_status_shows_upstream_errors_without_terminal_control_codes(site):
    # An upstream message (e.g. openFDA's JSON error text) may carry escape sequences.
    from watcher.store import PollRecord, Store

    with Store.open(site / "watcher.db") as store:
        store.record_poll(PollRecord("pubmed", "2026-11-26T12:00:00Z", False, error="bad \x1b]0;pwned\x07 query \x1b[2J"))
    status = watcher("status", cwd=site)
    assert "\x1b" not in status.stdout and "\x07" not in status.stdout
    assert "bad ]0;pwned query [2J" in status.stdout


def test_a_poll_on_a_terminal_shows_progress_and_in_a_pipe_does_not(site):
    import os
    import pty

    primary, secondary = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "watcher", "poll"], cwd=site, stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed with the child
            break
        if not chunk:
            break
        shown += chunk
    child.wait(60)
    os.close(primary)
    assert b"pubmed: 100 records fetched" in shown or b"pubmed: 101 records fetched" in shown
    piped = watcher("poll", cwd=site)
    assert "records fetched" not in piped.stderr
