"""Editors' labels: every one kept with its time; the latest of an item counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..relevance.labels import Label
from ..weeks import utc_iso
from .codec import stored_item
from .database import Database
from .rows import LabelResult, StoredLabel


class LabelsMixin(Database):
    """The table `labels`."""

    def add_labels(self, labels: Sequence[Label], *, now: datetime) -> LabelResult:
        """Store labels in one transaction. A label equal to the item's latest (same verdict and
        note) is not stored again; when an id is not a stored item, nothing is stored."""
        with self.transaction() as conn:
            unknown = [lb.item_id for lb in labels
                       if conn.execute("SELECT 1 FROM items WHERE id = ?", (lb.item_id,)).fetchone() is None]
            if unknown:
                return LabelResult(0, 0, unknown)
            fresh = []
            for lb in labels:
                latest = conn.execute("SELECT label, note FROM labels WHERE item_id = ? ORDER BY id DESC LIMIT 1",
                                      (lb.item_id,)).fetchone()
                if latest is None or (latest["label"], latest["note"]) != (lb.label, lb.note):
                    fresh.append(lb)
            conn.executemany("INSERT INTO labels (item_id, label, note, at) VALUES (?, ?, ?, ?)",
                             [(lb.item_id, lb.label, lb.note, utc_iso(now)) for lb in fresh])
        return LabelResult(len(fresh), len(labels) - len(fresh), [])

    def labels(self) -> list[StoredLabel]:
        """Each labelled item with its latest label, by id."""
        rows = self.conn.execute(
            "SELECT l.label AS label_value, l.note AS label_note, l.at AS label_at, i.* FROM labels l"
            " JOIN items i ON i.id = l.item_id"
            " WHERE l.id = (SELECT MAX(id) FROM labels WHERE item_id = l.item_id) ORDER BY i.id"
        )
        return [StoredLabel(stored_item(r), Label(r["id"], r["label_value"], r["label_note"]), r["label_at"]) for r in rows]
