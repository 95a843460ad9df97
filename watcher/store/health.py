"""Each source's health (its cursor, validators and failures), every poll of a source, and every run
of a command: what `status`, the digest header and the catch-up read."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ..model import SourceState
from ..weeks import utc_iso
from .database import Database
from .rows import PollRecord, RunRecord


def ensure_source(conn: sqlite3.Connection, source: str) -> None:
    conn.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", (source,))


def mark_success(conn: sqlite3.Connection, source: str, stamp: str, *, cursor: str | None,
                 validators: tuple[str | None, str | None] | None) -> None:
    """A source's poll ended well: in the transaction of its final batch, move its cursor and
    validators with the items they cover."""
    ensure_source(conn, source)
    sets = "last_attempt = ?, last_success = ?, consecutive_failures = 0"
    args: list[Any] = [stamp, stamp]
    if cursor is not None:
        sets += ", cursor = ?"
        args.append(cursor)
    if validators is not None:
        sets += ", etag = ?, last_modified = ?"
        args.extend(validators)
    conn.execute(f"UPDATE sources SET {sets} WHERE name = ?", (*args, source))


class HealthMixin(Database):
    """The tables `sources`, `polls` and `runs`."""

    def record_poll(self, record: PollRecord, *, run_id: int | None = None) -> None:
        """Log one source's poll; a failure also updates the source's state."""
        with self.transaction() as conn:
            if not record.ok:
                ensure_source(conn, record.source)
                conn.execute(
                    "UPDATE sources SET last_attempt = ?, last_error = ?, last_error_at = ?,"
                    " consecutive_failures = consecutive_failures + 1 WHERE name = ?",
                    (record.at, record.error, record.at, record.source),
                )
            conn.execute(
                "INSERT INTO polls (run_id, source, at, ok, fetched, new, new_matched, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, record.source, record.at, int(record.ok), record.fetched, record.new, record.new_matched, record.error),
            )

    def begin_run(self, command: str, *, now: datetime) -> int:
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO runs (command, started) VALUES (?, ?)", (command, utc_iso(now)))
            assert cur.lastrowid is not None  # set by every INSERT
            return cur.lastrowid

    def finish_run(self, run_id: int, *, now: datetime, status: str, new_items: int, matched: int, failures: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished = ?, status = ?, new_items = ?, matched = ?, failures = ? WHERE id = ?",
                (utc_iso(now), status, new_items, matched, failures, run_id),
            )

    def source_state(self, name: str) -> SourceState:
        row = self.conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        return SourceState(**dict(row)) if row else SourceState(name=name)

    def source_states(self) -> dict[str, SourceState]:
        return {r["name"]: SourceState(**dict(r)) for r in self.conn.execute("SELECT * FROM sources ORDER BY name")}

    def polls_between(self, start: datetime, end: datetime) -> list[PollRecord]:
        rows = self.conn.execute(
            "SELECT source, at, ok, fetched, new, new_matched, error FROM polls WHERE at >= ? AND at < ? ORDER BY at, id",
            (utc_iso(start), utc_iso(end)),
        )
        return [PollRecord(**{**dict(r), "ok": bool(r["ok"])}) for r in rows]

    def last_success_before(self, source: str, end: datetime) -> str | None:
        row = self.conn.execute(
            "SELECT MAX(at) FROM polls WHERE source = ? AND ok = 1 AND at < ?", (source, utc_iso(end))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def first_failure_after(self, source: str, after: str | None, end: datetime) -> str | None:
        """When the first failed poll of `source` after the stamp `after` (or ever, for None) and
        before `end` was made: how long the source has been failing."""
        row = self.conn.execute(
            "SELECT MIN(at) FROM polls WHERE source = ? AND ok = 0 AND at > ? AND at < ?", (source, after or "", utc_iso(end))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def last_poll_at(self) -> str | None:
        """When the latest poll attempt that ran to its end (ok or failed) began, UTC text.

        Interrupted or still-running runs do not count: after one, a poll is still due. Source
        polls logged without a run (older databases, tests) count too.
        """
        row = self.conn.execute(
            "SELECT MAX(at) FROM ("
            " SELECT started AS at FROM runs WHERE command = 'poll' AND status IN ('ok', 'failed')"
            " UNION ALL SELECT at FROM polls)"
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def unfinished_runs(self, command: str = "poll") -> list[RunRecord]:
        """Runs of `command` that never reached their end (running, or dead), oldest first."""
        rows = self.conn.execute(
            "SELECT id, command, started, finished, status FROM runs WHERE command = ? AND finished IS NULL ORDER BY started, id",
            (command,),
        )
        return [RunRecord(*r) for r in rows]

    def latest_run_id(self) -> int | None:
        row = self.conn.execute("SELECT MAX(id) FROM runs").fetchone()
        return int(row[0]) if row[0] is not None else None

    def completed_run_after(self, run_id: int, command: str = "poll") -> str | None:
        """When the first run of `command` begun after run `run_id` that ran to its end (ok or failed) began."""
        row = self.conn.execute(
            "SELECT MIN(started) FROM runs WHERE command = ? AND id > ? AND status IN ('ok', 'failed')", (command, run_id)
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def first_activity(self) -> str | None:
        """The earliest run start or item first_seen: where the history of this database begins."""
        row = self.conn.execute(
            "SELECT MIN(at) FROM (SELECT MIN(started) AS at FROM runs UNION ALL SELECT MIN(first_seen) FROM items)"
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def runs_between(self, start: datetime, end: datetime, command: str = "poll") -> list[str]:
        """Start times (UTC text) of the runs of `command` that began in [start, end), oldest first.

        Any status counts: an interrupted run still shows the job was running.
        """
        rows = self.conn.execute(
            "SELECT started FROM runs WHERE command = ? AND started >= ? AND started < ? ORDER BY started, id",
            (command, utc_iso(start), utc_iso(end)),
        )
        return [r[0] for r in rows]

    def run_before(self, moment: datetime, command: str = "poll") -> str | None:
        """Start time of the latest run of `command` that began before `moment`."""
        row = self.conn.execute(
            "SELECT MAX(started) FROM runs WHERE command = ? AND started < ?", (command, utc_iso(moment))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def run_after(self, moment: datetime, command: str = "poll") -> str | None:
        """Start time of the earliest run of `command` that began at or after `moment`."""
        row = self.conn.execute(
            "SELECT MIN(started) FROM runs WHERE command = ? AND started >= ?", (command, utc_iso(moment))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None
