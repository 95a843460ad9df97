"""A poll killed with SIGKILL between batches loses nothing, and the re-run stores nothing twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.configs import pubmed, write_feeds
from tests.upstreams import eutils, faults
from tests.upstreams.eutils import Eutils, corpus_articles, with_pmid

pytestmark = pytest.mark.slow  # SIGKILL of a real `watcher poll`, then a real re-run


def test_sigkill_between_batches_then_rerun(tmp_path, upstream, corpus_dir):
    articles = corpus_articles(corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml")
    fake = Eutils(upstream)
    fake.add(eutils.local_today(), [with_pmid(articles[i % 100], 80_000_000 + i) for i in range(250)])
    hold = faults.Hold("head")  # the first batch is committed before the second is asked for
    upstream.arm("efetch:100", hold, times=1)
    write_feeds(tmp_path, [pubmed(fake.url, query="k", batch_size=100)], topics={"t": {"groups": {"g": ["cancer*"]}}})
    command = [sys.executable, "-m", "watcher", "poll"]
    child = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if not hold.reached.wait(60):
            child.kill()
            raise AssertionError(f"the poll never asked for the second batch: {child.communicate()[1][-2000:]!r}")
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        hold.release.set()
    assert child.returncode == -signal.SIGKILL

    db = tmp_path / "watcher.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 100
        assert conn.execute("SELECT cursor FROM sources WHERE name = 'pubmed'").fetchone() in (None, (None,))

    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM items").fetchone() == (250, 250)
        assert conn.execute("SELECT cursor FROM sources WHERE name = 'pubmed'").fetchone()[0] is not None
