"""One writer at a time: the flock next to the database, its holder's note, bounded waiting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.configs import DRUG_TOPIC, pubmed, write_feeds
from tests.fakes import FakeTime
from watcher.cli import main
from watcher.store.lock import LockHeld, WriterLock, describe_holder, lock_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys
from pathlib import Path
from watcher.store.lock import WriterLock
with WriterLock(Path(sys.argv[1]), "watcher run (poll)"):
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
"""


@pytest.fixture
def feeds(tmp_path) -> Path:
    return write_feeds(tmp_path, [pubmed()], topics=DRUG_TOPIC)  # the source is never reached



def test_the_lock_file_sits_next_to_the_database(tmp_path):
    assert lock_path(tmp_path / "data" / "watcher.db") == tmp_path / "data" / "watcher.db.lock"


def test_the_holder_writes_who_it_is_and_wipes_it_on_release(tmp_path):
    path = tmp_path / "w.db.lock"
    with WriterLock(path, "watcher poll"):
        note = json.loads(path.read_text())
        assert note["pid"] == os.getpid() and note["command"] == "watcher poll"
        assert note["started"].endswith("UTC") and note["host"]
    assert path.read_text() == ""  # no stale note, and the file stays (deleting flock files races)


def test_a_second_writer_waits_a_bounded_time_then_names_the_holder(tmp_path):
    path = tmp_path / "w.db.lock"
    fake = FakeTime()
    with WriterLock(path, "watcher run (poll)"), pytest.raises(LockHeld) as caught:
        WriterLock(path, "watcher digest", wait=2, clock=fake.clock, sleep=fake.sleep).acquire()
    assert sum(fake.waits) == pytest.approx(2.0) and max(fake.waits) <= 0.1
    message = str(caught.value)
    assert f"pid {os.getpid()} (watcher run (poll), since " in message
    assert "waited 2 s" in message and "--wait" in message


def test_the_lock_is_taken_as_soon_as_it_is_free(tmp_path):
    path = tmp_path / "w.db.lock"
    holder = WriterLock(path, "watcher poll")
    holder.acquire()
    fake = FakeTime()

    def sleep(seconds):  # the holder finishes while we wait
        fake.sleep(seconds)
        if len(fake.waits) == 3:
            holder.release()

    with WriterLock(path, "watcher digest", wait=60, clock=fake.clock, sleep=sleep):
        assert json.loads(path.read_text())["command"] == "watcher digest"
    assert len(fake.waits) == 3


def test_a_stop_request_ends_the_wait(tmp_path):
    path = tmp_path / "w.db.lock"
    fake = FakeTime()
    with WriterLock(path, "watcher poll"), pytest.raises(LockHeld, match="stop requested"):
        WriterLock(path, "watcher run (poll)", wait=60, clock=fake.clock, sleep=fake.sleep,
                   should_stop=lambda: len(fake.waits) >= 2).acquire()
    assert len(fake.waits) == 2


def test_an_unreadable_note_is_still_a_clear_message():
    assert describe_holder("") == "another process (it has not said who it is yet)"
    assert describe_holder('{"pid": 7, "command": "watcher poll", "started": "x", "host": "h"}') == (
        "pid 7 (watcher poll, since x on h)"
    )


@pytest.mark.parametrize("command", [["poll"], ["digest"], ["run", "--once"]])
def test_every_writing_command_takes_the_lock(feeds, command, capsys):
    with WriterLock(lock_path(feeds.parent / "watcher.db"), "watcher run (poll)"):
        assert main(["--config", str(feeds), *command, "--wait", "0"]) == 1
    err = capsys.readouterr().err
    assert "another watcher is writing" in err and "watcher run (poll)" in err
    assert not (feeds.parent / "watcher.db").exists()  # refused before opening the database


@pytest.mark.parametrize("command", [["status"], ["export"]])
def test_readers_take_no_lock(feeds, command):
    assert main(["--config", str(feeds), "digest"]) == 0
    with WriterLock(lock_path(feeds.parent / "watcher.db"), "watcher run (poll)"):
        assert main(["--config", str(feeds), *command]) in (0, 1)  # status is 1 while a source has never succeeded


def start_holder(lock: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def run_cli(feeds: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "watcher.cli", "--config", str(feeds), *args], cwd=feeds.parent,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=30,
    )


@pytest.mark.slow  # three processes: the holder, a waiter, and the one that goes through
def test_two_processes_one_waits_then_fails_naming_the_holder(feeds):
    holder = start_holder(lock_path(feeds.parent / "watcher.db"))
    try:
        began = time.monotonic()
        second = run_cli(feeds, "digest", "--wait", "0.5")
        waited = time.monotonic() - began
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert second.returncode == 1
    assert waited >= 0.5
    assert f"another watcher is writing: pid {holder.pid} (watcher run (poll), since " in second.stderr
    assert "waited 0.5 s" in second.stderr
    # Once the holder is gone, the same command goes through.
    again = run_cli(feeds, "digest", "--wait", "0")
    assert again.returncode == 0, again.stderr


@pytest.mark.slow  # a holder process, killed
def test_a_killed_holder_leaves_no_stale_lock(feeds):
    path = lock_path(feeds.parent / "watcher.db")
    holder = start_holder(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    with WriterLock(path, "watcher poll", wait=0):  # the kernel let go with the process
        pass
