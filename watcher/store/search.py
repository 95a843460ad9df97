"""Full-text search over every item's title, abstract and authors: SQLite FTS5, kept in step with
the items table by the triggers of its migration (schema.py), so every writer keeps it current in
the transaction that writes the item."""

from __future__ import annotations

import re

from .codec import stored_item
from .database import Database
from .rows import StoredItem

MAX_WORDS = 12
WORD = re.compile(r"[^\W_]+")  # what unicode61 makes a token of: letters and digits


def fts_query(text: str) -> str | None:
    """A person's words as an FTS5 query: every word, each as a prefix ("lindq" finds Lindqvist), all
    of them needed. Each word is quoted, so no input is FTS5 syntax. None: no word to look for."""
    words = WORD.findall(text)[:MAX_WORDS]
    return " AND ".join(f'"{w}"*' for w in words) if words else None


class SearchMixin(Database):
    """The FTS5 table `item_search` (and `search_keys`, its stable row ids)."""

    def search(self, text: str, *, limit: int = 50) -> list[StoredItem]:
        """The items whose title, abstract or authors hold every word, best match first (bm25)."""
        query = fts_query(text)
        if query is None:
            return []
        rows = self.conn.execute(
            "SELECT i.* FROM (SELECT rowid, rank FROM item_search WHERE item_search MATCH ? ORDER BY rank LIMIT ?) s"
            " JOIN search_keys k ON k.id = s.rowid JOIN items i ON i.id = k.item_id ORDER BY s.rank",
            (query, limit),
        )
        return [stored_item(r) for r in rows]
