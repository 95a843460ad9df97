"""One SQLite file: opened (checked for damage, foreign tables and a newer schema), migrated, and
written only inside transactions. WAL, so readers (status, the digest, the workspace) read while a
poll writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from ..errors import StoreError, os_reason
from .rows import INTERRUPTED
from .schema import MIGRATIONS, OUR_TABLES, statements


def store_failure(path: Path, exc: sqlite3.Error) -> str:
    """A database error met after opening, in one line that says what to do."""
    text = " ".join(str(exc).split())
    if isinstance(exc, sqlite3.OperationalError) and ("full" in text or "I/O" in text):
        return f"{path}: cannot write the database ({text}): is the disk full? Nothing after the last commit was kept"
    return f"{path}: database error ({text}); it is left as it is: if it is damaged, restore it from a backup"


class Database:
    """A thin layer over one sqlite3 connection. Writes happen only inside `transaction()`.

    The queries live in one mixin per table family (items.py, health.py, outputs.py, snapshots.py,
    labels.py); `Store` (store/__init__.py) is all of them over one Database."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # ---- opening and migrating ----

    @classmethod
    def open(cls, path: str | Path, *, writer: bool = False) -> Self:
        """`writer`: the caller holds the writer lock (lock.py), so no run it finds unfinished is
        still running: each is marked interrupted (its `finished` left NULL) before anything else."""
        path = Path(path)
        conn = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            # A damaged page deep in the file passes the lines above; find it before anything is
            # written into it (about 3 ms per MB).
            damage = " ".join(str(conn.execute("PRAGMA quick_check(1)").fetchone()[0]).split())
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"{path}: not a usable watcher database ({exc}); move it aside or fix the path") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the database: {os_reason(exc)}") from None
        if damage != "ok":
            conn.close()
            raise StoreError(f"{path}: the database is damaged ({damage[:200]}); it is left as it is:"
                             " restore it from a backup, or move it aside to start a new one")
        if version == 0 and tables - OUR_TABLES:
            conn.close()
            foreign = ", ".join(sorted(tables - OUR_TABLES))
            raise StoreError(f"{path}: holds tables that are not watcher's ({foreign}); refusing to touch it")
        if version > len(MIGRATIONS):
            conn.close()
            raise StoreError(f"{path}: schema version {version} is newer than this watcher knows ({len(MIGRATIONS)}); upgrade watcher")
        store = cls(conn, path)
        try:
            # WAL lets readers (status, digest) work while a poll writes.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            store.migrate(version)
            if writer:
                store.mark_dead_runs()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path}: cannot write the database: {exc}") from None
        return store

    @classmethod
    def attach(cls, path: str | Path, *, busy_timeout: float) -> Self:
        """One more connection to a database that `open` has checked and migrated in this process
        (the workspace keeps one per server thread): no check, no migration. `busy_timeout`: how long
        a write waits for another writer's transaction (a poll commits a batch at a time)."""
        path = Path(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from None
        if version != len(MIGRATIONS):
            conn.close()
            raise StoreError(f"{path}: schema version {version}, expected {len(MIGRATIONS)}: another watcher version"
                             " changed it; restart `watcher serve`")
        return cls(conn, path)

    def migrate(self, version: int) -> None:
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as conn:
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def mark_dead_runs(self) -> int:
        """Runs that never reached their end (the process was killed, the machine lost power) are
        marked interrupted, their `finished` left NULL. Only for a holder of the writer lock."""
        with self.transaction() as conn:
            return conn.execute("UPDATE runs SET status = ? WHERE status IS NULL AND finished IS NULL", (INTERRUPTED,)).rowcount

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock at once, so a second writer waits here rather than mid-way.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:  # SQLite may have rolled back already (e.g. on a disk I/O error)
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
