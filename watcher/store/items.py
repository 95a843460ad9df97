"""Items (every record of every source, with the filter's verdict and when it was first seen and first
matched) and notices (later news about them). Writes apply what the decider (decide.py) planned."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from ..decide import FLAG, Known, Notice, Plan, Prior, decide, untold, wanted
from ..model import Item, Match
from ..weeks import utc_iso
from .codec import item_from_json, item_to_json, match_to_json, stored_item, strings
from .database import Database
from .health import mark_success
from .rows import SaveResult, StoredItem, StoredKeys, StoredNotice

PART = 500  # ids per query: SQLite's limit on bound parameters is 999 in older builds


class ItemsMixin(Database):
    """The tables `items` and `notices`."""

    def save_batch(
        self,
        source: str,
        entries: Sequence[tuple[Item, Match]],
        *,
        now: datetime,
        cursor: str | None = None,
        validators: tuple[str | None, str | None] | None = None,
        final: bool = False,
    ) -> SaveResult:
        """Store one batch; on the final batch also move the cursor and mark the source healthy.

        All of it is one transaction: the cursor can only move together with the items it covers.
        """
        stamp = utc_iso(now)
        with self.transaction():
            plan = decide(entries, self._known([item for item, _ in entries]))
            self._apply(source, plan, stamp)
            if final:
                mark_success(self.conn, source, stamp, cursor=cursor, validators=validators)
        return SaveResult(plan.new, plan.new_matched)

    def _known(self, items: Sequence[Item]) -> Known:
        """What the decider needs of the store, read in the batch's transaction."""
        ids, targets = wanted(items)
        priors = {
            r["id"]: Prior(item_from_json(r["data"]), r["first_matched"] is not None)
            for r in self._rows("SELECT id, data, first_matched FROM items WHERE id IN ({})", ids)
        }
        present = {r["id"] for r in self._rows("SELECT id FROM items WHERE id IN ({})", targets)}
        told = {(r["item_id"], r["detail"]) for r in self._rows(
            f"SELECT item_id, detail FROM notices WHERE kind = '{FLAG}' AND item_id IN ({{}})", ids | targets)}
        return Known(priors, frozenset(present), frozenset(told))

    def _apply(self, source: str, plan: Plan, stamp: str) -> None:
        for w in plan.writes:
            first_matched = stamp if w.match.matched else None
            if w.new:
                self.conn.execute(
                    "INSERT INTO items (id, source, data, matched, match, first_seen, first_matched, last_seen)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (w.item.id, source, item_to_json(w.item), int(w.match.matched), match_to_json(w.match), stamp,
                     first_matched, stamp),
                )
            else:
                # Upstream records get revised (e.g. MeSH added later): keep the newest text, never the
                # first-seen time or the week it was first reported in.
                self.conn.execute(
                    "UPDATE items SET data = ?, matched = ?, match = ?, last_seen = ?,"
                    " first_matched = COALESCE(first_matched, ?) WHERE id = ?",
                    (item_to_json(w.item), int(w.match.matched), match_to_json(w.match), stamp, first_matched, w.item.id),
                )
        self.conn.executemany("INSERT INTO notices (item_id, at, kind, detail, link) VALUES (?, ?, ?, ?, ?)",
                              [(item_id, stamp, n.kind, n.detail, n.link) for item_id, n in plan.notices])

    def add_notices(self, found: Sequence[tuple[str, Notice]], *, now: datetime) -> int:
        """Store news about stored items that came from elsewhere than a record of theirs (a
        correction found in Crossref's data), in one transaction; a flag an item was already told
        of is not told again. How many were new."""
        stamp = utc_iso(now)
        with self.transaction() as conn:
            ids = {item_id for item_id, _ in found}
            present = {r["id"] for r in self._rows("SELECT id FROM items WHERE id IN ({})", ids)}
            told = {(r["item_id"], r["detail"]) for r in self._rows(
                f"SELECT item_id, detail FROM notices WHERE kind = '{FLAG}' AND item_id IN ({{}})", ids)}
            fresh = untold([(i, n) for i, n in found if i in present], told)
            conn.executemany("INSERT INTO notices (item_id, at, kind, detail, link) VALUES (?, ?, ?, ?, ?)",
                             [(item_id, stamp, n.kind, n.detail, n.link) for item_id, n in fresh])
        return len(fresh)

    def _rows(self, query: str, ids: Iterable[str]) -> Iterator[sqlite3.Row]:
        """`query` with its `{}` filled by placeholders for `ids`, a part at a time."""
        wanted_ids = sorted(set(ids))
        for start in range(0, len(wanted_ids), PART):
            part = wanted_ids[start : start + PART]
            yield from self.conn.execute(query.format(", ".join("?" * len(part))), part)

    def item_counts(self) -> dict[str, tuple[int, int]]:
        """source → (items stored, items matched)."""
        rows = self.conn.execute("SELECT source, COUNT(*), SUM(matched) FROM items GROUP BY source")
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    def matched_between(self, start: datetime, end: datetime) -> list[StoredItem]:
        """Items that first matched in [start, end), in a stable order."""
        rows = self.conn.execute(
            "SELECT * FROM items WHERE first_matched >= ? AND first_matched < ? AND matched = 1 ORDER BY id",
            (utc_iso(start), utc_iso(end)),
        )
        return [stored_item(r) for r in rows]

    def matched_before(self, end: datetime | None = None) -> list[StoredItem]:
        """Every item that matched, first matched before `end` (all of them without it), by id."""
        rows = self.conn.execute("SELECT * FROM items WHERE matched = 1 AND first_matched IS NOT NULL"
                                 " AND (? IS NULL OR first_matched < ?) ORDER BY id", 2 * [utc_iso(end) if end else None])
        return [stored_item(r) for r in rows]

    def notices_between(self, start: datetime, end: datetime) -> list[StoredNotice]:
        """News seen in [start, end) about items listed in a digest before `start`, oldest first."""
        rows = self.conn.execute(
            "SELECT n.kind, n.detail, n.link, n.at AS notice_at, i.* FROM notices n JOIN items i ON i.id = n.item_id"
            " WHERE n.at >= ? AND n.at < ? AND i.matched = 1 AND i.first_matched < ? ORDER BY n.at, n.id",
            (utc_iso(start), utc_iso(end), utc_iso(start)),
        )
        return [StoredNotice(stored_item(r), Notice(r["kind"], r["detail"], r["link"]), r["notice_at"]) for r in rows]

    def matched_among(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids are stored items that matched: already listed, or listed this week."""
        return {r["id"] for r in self._rows("SELECT id FROM items WHERE matched = 1 AND id IN ({})", ids)}

    def matched_ids(self, source: str) -> frozenset[str]:
        """Ids of the source's items that matched a topic (listed, or to be listed, in a digest)."""
        rows = self.conn.execute("SELECT id FROM items WHERE source = ? AND first_matched IS NOT NULL", (source,))
        return frozenset(r[0] for r in rows)

    def flag_history(self, *, before: datetime | None = None) -> dict[str, dict[str, str]]:
        """item id → {flag: when a notice first reported it}, for the flags items gained after first
        seen (reported before `before`, when given)."""
        rows = self.conn.execute("SELECT item_id, detail, MIN(at) FROM notices WHERE kind = ? AND (? IS NULL OR at < ?)"
                                 " GROUP BY item_id, detail", (FLAG, *(2 * [utc_iso(before) if before else None])))
        history: dict[str, dict[str, str]] = {}
        for item_id, flag, at in rows:
            history.setdefault(item_id, {})[flag] = at
        return history

    def flag_links(self, *, before: datetime | None = None) -> dict[tuple[str, str], str]:
        """(item id, flag) → the link of the notice that first reported it, where it has one."""
        rows = self.conn.execute("SELECT item_id, detail, link FROM notices WHERE kind = ? AND link IS NOT NULL"
                                 " AND (? IS NULL OR at < ?) ORDER BY at DESC, id DESC",
                                 (FLAG, *(2 * [utc_iso(before) if before else None])))
        return {(r["item_id"], r["detail"]): r["link"] for r in rows}

    def work_keys(self) -> list[StoredKeys]:
        """Every item's identifiers, without decoding whole records (thousands are read per digest)."""
        rows = self.conn.execute(
            "SELECT id, source, first_seen, first_matched, matched, json_extract(data, '$.doi'),"
            " json_extract(data, '$.identifiers'), json_extract(data, '$.publication_types') FROM items"
        )
        return [
            StoredKeys(r[0], r[1], r[2], r[3], bool(r[4]), r[5] if isinstance(r[5], str) else None,
                       tuple(strings(r[6])), tuple(strings(r[7])))
            for r in rows
        ]

    def items_by_id(self, ids: Iterable[str]) -> dict[str, StoredItem]:
        return {r["id"]: stored_item(r) for r in self._rows("SELECT * FROM items WHERE id IN ({})", ids)}

    def iter_items(self) -> Iterator[StoredItem]:
        for row in self.conn.execute("SELECT * FROM items ORDER BY first_seen, id"):
            yield stored_item(row)
