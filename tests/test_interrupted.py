"""A poll that did not finish (killed, power lost) leaves its run unfinished in the store; `status`
and the digest of its week say so. A run still going (another process holds the writer lock) is not
one of them. In-process with a real writer lock and the real store; tests/test_kill.py kills a real
`watcher poll` with SIGKILL and checks the same from outside."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.configs import write_config
from tests.polls import NOW, WEEK
from watcher import cli
from watcher.config import Config
from watcher.digest.publish import render
from watcher.status import status
from watcher.store import Store
from watcher.store.lock import WriterLock, writer_busy
from watcher.weeks import Week

KILLED = NOW - timedelta(hours=6)  # Tue 2026-11-24 06:00 CST
NOTE = re.compile(r"\n- A poll started (.+?) did not finish \(the process was stopped or the machine lost power\);"
                  r" items it fetched before stopping are kept, (.+?)\.\n")


def runs(config: Config) -> list[tuple[str, str | None, str | None]]:
    with Store.open(config.database) as store:
        return [tuple(r) for r in store.conn.execute("SELECT started, finished, status FROM runs ORDER BY id")]


def killed_poll(config: Config) -> None:
    """A run begun and never finished, as a poll killed with SIGKILL leaves it."""
    with Store.open(config.database) as store:
        store.begin_run("poll", now=KILLED)


def finished_poll(config: Config, at, status: str = "ok") -> None:
    with Store.open(config.database) as store:
        run = store.begin_run("poll", now=at)
        store.finish_run(run, now=at + timedelta(minutes=2), status=status, new_items=0, matched=0, failures=0)


def cli_status(config: Config, capsys) -> tuple[int, str]:
    code = cli.main(["--config", str(config.path), "status"])
    return code, capsys.readouterr().out


def test_a_run_still_going_is_not_interrupted_a_dead_one_is(tmp_path, capsys):
    config = write_config(tmp_path)
    killed_poll(config)
    # Another process's poll, as far as this reader can tell: the writer lock is held.
    with WriterLock.for_database(config.database, "watcher poll"):
        assert writer_busy(config.database)
        code, out = cli_status(config, capsys)
        assert "poll running:   since 2026-11-24 06:00 CST (another watcher holds the writer lock)" in out
        assert "INTERRUPTED" not in out and code == 0
    assert not writer_busy(config.database)
    code, out = cli_status(config, capsys)  # the lock is free: nobody is running it any more
    assert code == 1 and "poll running" not in out
    assert ("INTERRUPTED:    a poll started 2026-11-24 06:00 CST did not finish (the process was stopped or the machine"
            " lost power); items it fetched before stopping are kept, the rest come with the next poll") in out
    assert runs(config) == [("2026-11-24T12:00:00Z", None, None)]  # `status` reads; it marks nothing


def test_a_writer_taking_the_lock_marks_the_dead_run_and_keeps_it_unfinished(tmp_path):
    config = write_config(tmp_path)
    finished_poll(config, KILLED - timedelta(days=1))
    finished_poll(config, KILLED - timedelta(hours=12), status="interrupted")  # stopped on request: it finished
    killed_poll(config)
    with WriterLock.for_database(config.database, "watcher digest"), Store.open(config.database, writer=True):
        pass
    assert runs(config) == [("2026-11-23T12:00:00Z", "2026-11-23T12:02:00Z", "ok"),
                            ("2026-11-24T00:00:00Z", "2026-11-24T00:02:00Z", "interrupted"),
                            ("2026-11-24T12:00:00Z", None, "interrupted")]


def test_a_later_run_shows_the_earlier_unfinished_one_died_even_while_the_lock_is_held(tmp_path):
    config = write_config(tmp_path)
    killed_poll(config)
    with Store.open(config.database) as store:
        store.begin_run("poll", now=NOW)  # the poll running now
        report = status(store, config, NOW, writer_busy=True)
    assert report.running_since == NOW and report.interrupted == (KILLED,) and not report.ok


def test_the_digest_header_names_the_poll_that_did_not_finish(tmp_path):
    config = write_config(tmp_path)
    finished_poll(config, KILLED - timedelta(days=1))
    killed_poll(config)
    with Store.open(config.database) as store:
        assert NOTE.findall(render(store, config, Week.parse(WEEK))) == []  # the latest run, unmarked: it may be running
    with Store.open(config.database, writer=True) as store:  # as `watcher digest` opens it, holding the lock
        markdown, html = render(store, config, Week.parse(WEEK)), render(store, config, Week.parse(WEEK), "html")
        assert render(store, config, Week.parse(WEEK)) == markdown  # a function of the store and the week
        assert NOTE.findall(render(store, config, Week.parse("2026-W49"))) == []  # only in the week the poll began
    assert NOTE.findall(markdown) == [("2026-11-24 06:00 CST", "the rest come with the next poll")]
    assert ("<li>A poll started 2026-11-24 06:00 CST did not finish (the process was"
            " stopped or the machine lost power); items it fetched before stopping are kept, the rest come with the next poll.</li>"
            ) in html.split('<div class="failures" id="failures">', 1)[1].split("</div>", 1)[0]  # in the one block of what may be missing
    finished_poll(config, NOW)  # the next scheduled poll ran to its end
    with Store.open(config.database) as store:
        assert NOTE.findall(render(store, config, Week.parse(WEEK))) == [
            ("2026-11-24 06:00 CST", "the rest came with the next poll, at 2026-11-24 12:00 CST")]
        report = status(store, config, NOW + timedelta(hours=1))
    assert report.interrupted == () and report.ok  # the next poll finished: nothing is waiting any more
