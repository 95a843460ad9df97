"""Snapshots: the whole state of something watched as a whole (a product's FDA record, the clinic's
page), one row per successful fetch; the digest compares them."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ..weeks import utc_iso
from .database import Database
from .rows import Snapshot


class SnapshotsMixin(Database):
    """The table `snapshots`."""

    def save_snapshot(self, kind: str, key: str, data: Any, *, now: datetime) -> Snapshot:
        """Keep what was fetched, whole. Every fetch is kept (the history is what the digest diffs);
        a failed fetch saves nothing, so the previous snapshot stands."""
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.transaction() as conn:
            conn.execute("INSERT INTO snapshots (kind, key, at, data, sha256) VALUES (?, ?, ?, ?, ?)",
                         (kind, key, utc_iso(now), text, digest))
        return Snapshot(kind, key, utc_iso(now), data, digest)

    def snapshots(self, kind: str, key: str, *, before: datetime | None = None) -> list[Snapshot]:
        """The snapshots of one watched thing, oldest first; only those fetched before `before`."""
        rows = self.conn.execute(
            "SELECT kind, key, at, data, sha256 FROM snapshots WHERE kind = ? AND key = ? AND (? IS NULL OR at < ?)"
            " ORDER BY at, id",
            (kind, key, *(2 * [utc_iso(before) if before else None])),
        )
        return [Snapshot(r["kind"], r["key"], r["at"], json.loads(r["data"]), r["sha256"]) for r in rows]

    def latest_snapshot(self, kind: str, key: str, *, before: datetime | None = None) -> Snapshot | None:
        """The newest snapshot of one watched thing (fetched before `before`), without reading its history."""
        row = self.conn.execute(
            "SELECT kind, key, at, data, sha256 FROM snapshots WHERE kind = ? AND key = ? AND (? IS NULL OR at < ?)"
            " ORDER BY at DESC, id DESC LIMIT 1",
            (kind, key, *(2 * [utc_iso(before) if before else None])),
        ).fetchone()
        return Snapshot(row["kind"], row["key"], row["at"], json.loads(row["data"]), row["sha256"]) if row else None
