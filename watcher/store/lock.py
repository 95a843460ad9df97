"""One writer at a time: an advisory `flock` on `<database>.lock`, held by every writing command.

`watcher run` (per job), a manual `watcher poll` and a cron `watcher run --once` all take it, so
they never write at once. A second writer waits a bounded time, then gives up with a message that
names the holder (pid, command, start time, host), which the holder writes into the lock file.

Semantics worth knowing:
- The kernel drops the lock when the holder's file descriptor closes, including when the process
  is killed with SIGKILL or crashes: there are no stale locks to clean up, and the lock file is
  never deleted (deleting a flock file lets two processes lock two different inodes).
- The lock is per open file description: two `WriterLock`s in one process exclude each other too.
- Readers (`status`, `export`) take no lock: SQLite's WAL lets them read while a writer writes.
  `status` only asks whether a writer holds it (`writer_busy`), to tell a poll still running from
  one that died.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import WatcherError, os_reason

log = logging.getLogger(__name__)

DEFAULT_WAIT = 60.0  # seconds a second writer waits before giving up
RETRY_EVERY = 0.1  # seconds between attempts while waiting


class LockHeld(WatcherError):
    """Another process holds the writer lock and did not let go in time."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def describe_holder(text: str) -> str:
    """`pid 123 (watcher run, since 2026-11-25 06:00:01 UTC on host)` from the lock file's text."""
    try:
        info = json.loads(text)
        return f"pid {info['pid']} ({info['command']}, since {info['started']} on {info['host']})"
    except (ValueError, KeyError, TypeError):
        # Written between its flock and its write, or by something that is not watcher.
        return "another process (it has not said who it is yet)"


class WriterLock:
    """`with WriterLock(path, "watcher poll"):` — exclusive, waits up to `wait` seconds, then raises LockHeld."""

    def __init__(
        self,
        path: Path,
        command: str,
        *,
        wait: float = DEFAULT_WAIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        self.command = command
        self.wait = max(0.0, wait)
        self.clock, self.sleep, self.now = clock, sleep, now
        self.should_stop = should_stop  # a stop request ends the wait early (LockHeld)
        self.fd: int | None = None

    @classmethod
    def for_database(cls, database: Path, command: str, **kw: Any) -> WriterLock:
        return cls(lock_path(database), command, **kw)

    def acquire(self) -> None:
        if self.fd is not None:
            raise RuntimeError("WriterLock is not reentrant")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND-free and no truncation on open: the holder's note must survive our open.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise WatcherError(f"{self.path}: cannot create the writer lock: {os_reason(exc)}") from None
        deadline = self.clock() + self.wait
        announced = False
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = describe_holder(read_note(fd))
                    left = deadline - self.clock()
                    if self.should_stop is not None and self.should_stop():
                        raise LockHeld(f"{self.path}: stop requested while waiting for {holder}") from None
                    if left <= 0:
                        raise LockHeld(
                            f"{self.path}: another watcher is writing: {holder}; waited {self.wait:g} s."
                            " Try again when it has finished, or pass --wait SECONDS to wait longer"
                        ) from None
                    if not announced:
                        log.warning("lock %s: held by %s; waiting up to %g s", self.path.name, holder, self.wait)
                        announced = True
                    self.sleep(min(RETRY_EVERY, left))
            note = {
                "pid": os.getpid(),
                "command": self.command,
                "started": self.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "host": socket.gethostname(),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(note) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)  # closing also releases the flock if we had it
            raise
        self.fd = fd
        log.debug("lock %s: taken by %s", self.path.name, self.command)

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.ftruncate(fd, 0)  # still ours: nobody can read a stale note after we let go
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        log.debug("lock %s: released", self.path.name)

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def writer_busy(database: Path) -> bool:
    """Whether a writer holds the lock now, for readers (`status`): a shared lock, taken and let go
    at once, fails only while someone holds the exclusive one. No lock file: nobody ever wrote."""
    try:
        fd = os.open(lock_path(database), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing also lets go of the shared lock
    return False


def read_note(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
