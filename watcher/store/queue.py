"""The workspace's queue: matched items without a current verdict, newest first."""

from __future__ import annotations

from collections.abc import Iterator

from .codec import stored_item
from .database import Database
from .labels import CURRENT
from .rows import StoredItem

UNDECIDED = (
    CURRENT + "SELECT {columns} FROM items i WHERE i.matched = 1 AND i.first_matched IS NOT NULL"
    " AND i.id NOT IN (SELECT item_id FROM current WHERE label IS NOT NULL)"
    " AND (:tier IS NULL OR json_extract(i.match, '$.tier') = :tier) AND (:source IS NULL OR i.source = :source)"
    " ORDER BY i.first_matched DESC, i.id"
)


class QueueMixin(Database):
    def undecided(self, *, tier: str | None = None, source: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[StoredItem]:
        """A page of the queue, newest first (by when each first matched)."""
        rows = self.conn.execute(UNDECIDED.format(columns="i.*") + " LIMIT :limit OFFSET :offset",
                                 {"tier": tier, "source": source, "limit": limit, "offset": offset})
        return [stored_item(r) for r in rows]

    def undecided_ids(self, *, tier: str | None = None, source: str | None = None) -> Iterator[str]:
        """The whole queue's ids, newest first, read as they are asked for (filters applied by the caller)."""
        for row in self.conn.execute(UNDECIDED.format(columns="i.id"), {"tier": tier, "source": source}):
            yield row[0]

    def undecided_count(self, *, tier: str | None = None, source: str | None = None) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM ({UNDECIDED.format(columns='i.id')})",
                                     {"tier": tier, "source": source}).fetchone()[0])

    def item(self, item_id: str) -> StoredItem | None:
        row = self.conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return stored_item(row) if row else None

    def written_since(self, stamp: str) -> list[tuple[str, str, bool]]:
        """(id, last_seen, matched) of the items written at or after `stamp` (UTC text), from the
        index alone: what the workspace's caches read again."""
        rows = self.conn.execute("SELECT id, last_seen, matched FROM items WHERE last_seen >= ?", (stamp,))
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def evidence_mark(self) -> tuple[object, ...]:
        """(the latest last_seen, how many items, the latest notice): it changes whenever a record,
        or a notice about one (a retraction found later), is written; what the workspace's claims
        cache is keyed on."""
        seen, count = self.conn.execute("SELECT MAX(last_seen), COUNT(*) FROM items").fetchone()
        return seen, count, self.conn.execute("SELECT MAX(id) FROM notices").fetchone()[0]

    def last_poll_ended(self) -> str | None:
        """When the latest poll that ran to its end finished (UTC text)."""
        row = self.conn.execute("SELECT MAX(finished) FROM runs WHERE command = 'poll' AND finished IS NOT NULL").fetchone()
        return str(row[0]) if row[0] is not None else None
