"""A poll killed with SIGKILL between batches loses nothing, and the re-run stores nothing twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading

from tests.fake_eutils import LOCAL_TODAY, FakeEutils, corpus_articles, with_pmid


def test_sigkill_between_batches_then_rerun(tmp_path, httpserver, corpus_dir):
    articles = corpus_articles(corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml")
    fake = FakeEutils()
    fake.add(LOCAL_TODAY, [with_pmid(articles[i % 100], 80_000_000 + i) for i in range(250)])
    reached, release = threading.Event(), threading.Event()
    serve = fake.efetch

    def efetch(request):
        if request.args["retstart"] == "100" and not release.is_set():
            reached.set()  # the first batch is committed before this request is made
            release.wait(30)
        return serve(request)

    fake.efetch = efetch
    url = fake.install(httpserver)
    (tmp_path / "feeds.yaml").write_text(
        f"sources:\n  - {{name: pubmed, type: pubmed, url: '{url}', query: k, batch_size: 100}}\n"
        "topics:\n  t:\n    groups:\n      g: [cancer*]\n"
    )
    command = [sys.executable, "-m", "watcher", "poll"]
    child = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if not reached.wait(60):
            child.kill()
            raise AssertionError(f"the poll never asked for the second batch: {child.communicate()[1][-2000:]!r}")
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        release.set()
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
