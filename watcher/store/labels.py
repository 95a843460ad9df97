"""Editors' labels: every one kept with its time and who gave it; the latest counts.

A row is the item's whole decision at that time: a verdict (relevant, irrelevant, or none), the
claim it is cited for (a relevant verdict only), and a note. A note alone keeps the verdict; an
undo is a row that withdraws the latest row not yet withdrawn, so the decision before it counts
again (and a second undo goes one further back). The current decision of an item is its latest row
that is neither an undo nor withdrawn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..relevance.labels import Label
from ..weeks import utc_iso
from .codec import stored_item
from .database import Database
from .rows import Decision, LabelResult, StoredLabel

# The rows that count: neither an undo nor withdrawn by one. `current`: the latest of them per item.
CURRENT = """
    WITH live AS (
        SELECT * FROM labels l WHERE l.undoes IS NULL AND NOT EXISTS (SELECT 1 FROM labels u WHERE u.undoes = l.id)
    ), current AS (
        SELECT * FROM live WHERE id IN (SELECT MAX(id) FROM live GROUP BY item_id)
    )
"""
COLUMNS = "id, item_id, label, claim, note, at, user, undoes"


def decision(row: Sequence[object]) -> Decision:
    return Decision(*row)  # type: ignore[arg-type]


class LabelsMixin(Database):
    """The table `labels`."""

    def add_labels(self, labels: Sequence[Label], *, now: datetime, user: str = "") -> LabelResult:
        """Store labels in one transaction. A label equal to the item's current one (same verdict and
        note) is not stored again; when an id is not a stored item, nothing is stored."""
        with self.transaction() as conn:
            unknown = [lb.item_id for lb in labels
                       if conn.execute("SELECT 1 FROM items WHERE id = ?", (lb.item_id,)).fetchone() is None]
            if unknown:
                return LabelResult(0, 0, unknown)
            fresh = []
            for lb in labels:
                latest = self.current_decision(lb.item_id)
                if latest is None or (latest.label, latest.note) != (lb.label, lb.note):
                    fresh.append(lb)
            conn.executemany("INSERT INTO labels (item_id, label, claim, note, at, user) VALUES (?, ?, ?, ?, ?, ?)",
                             [(lb.item_id, lb.label, lb.claim, lb.note, utc_iso(now), user) for lb in fresh])
        return LabelResult(len(fresh), len(labels) - len(fresh), [])

    def decide(self, item_id: str, label: str | None, *, claim: str | None = None, note: str | None = None,
               user: str, now: datetime) -> Decision | None:
        """One decision from the workspace: a verdict (None: none), the claim it cites the item for,
        and a note (None: the current note stays). Returns the row stored, or None when the item is
        not stored."""
        with self.transaction():
            return self._insert(item_id, label, claim, note, user, now)

    def annotate(self, item_id: str, note: str, *, user: str, now: datetime) -> Decision | None:
        """A note: the current verdict and claim stay, the note is replaced."""
        with self.transaction():
            latest = self.current_decision(item_id)
            return self._insert(item_id, latest.label if latest else None, latest.claim if latest else None, note, user, now)

    def _insert(self, item_id: str, label: str | None, claim: str | None, note: str | None, user: str,
                now: datetime) -> Decision | None:
        if self.conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
            return None
        if note is None:
            latest = self.current_decision(item_id)
            note = latest.note if latest else ""
        cur = self.conn.execute("INSERT INTO labels (item_id, label, claim, note, at, user) VALUES (?, ?, ?, ?, ?, ?)",
                                (item_id, label, claim if label else None, note, utc_iso(now), user))
        return self._decision(cur.lastrowid)

    def undo(self, item_id: str, *, user: str, now: datetime) -> Decision | None:
        """Withdraw the item's current decision (the one before it counts again). Returns the row
        withdrawn, or None when there is nothing to withdraw."""
        with self.transaction() as conn:
            latest = self.current_decision(item_id)
            if latest is None:
                return None
            conn.execute("INSERT INTO labels (item_id, note, at, user, undoes) VALUES (?, '', ?, ?, ?)",
                         (item_id, utc_iso(now), user, latest.id))
            return latest

    def current_decision(self, item_id: str) -> Decision | None:
        row = self.conn.execute(
            f"SELECT {COLUMNS} FROM labels l WHERE item_id = ? AND undoes IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM labels u WHERE u.undoes = l.id) ORDER BY id DESC LIMIT 1", (item_id,)
        ).fetchone()
        return decision(row) if row else None

    def decision_history(self, item_id: str) -> list[Decision]:
        """Every row of an item, oldest first, undos included."""
        rows = self.conn.execute(f"SELECT {COLUMNS} FROM labels WHERE item_id = ? ORDER BY id", (item_id,))
        return [decision(r) for r in rows]

    def _decision(self, row_id: int | None) -> Decision:
        return decision(self.conn.execute(f"SELECT {COLUMNS} FROM labels WHERE id = ?", (row_id,)).fetchone())

    def labels(self) -> list[StoredLabel]:
        """Each item with a current verdict, that verdict, by id: what `evaluate` and `export` read."""
        rows = self.conn.execute(
            CURRENT + "SELECT c.label AS label_value, c.note AS label_note, c.claim AS label_claim, c.at AS label_at,"
            " c.user AS label_user, i.* FROM current c JOIN items i ON i.id = c.item_id WHERE c.label IS NOT NULL ORDER BY i.id"
        )
        return [StoredLabel(stored_item(r), Label(r["id"], r["label_value"], r["label_note"], r["label_claim"]), r["label_at"],
                            r["label_user"]) for r in rows]
