"""JSON round trip of the values kept in the items table: an Item and its Match, written as the
store writes them and read back tolerantly (rows written by older versions lack newer fields)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, fields
from typing import Any

from ..model import CORE, Hit, Item, Match, Related
from .rows import StoredItem


def item_to_json(item: Item) -> str:
    # Not dataclasses.asdict: its deep copies were most of the cost of saving a batch.
    raw = {f.name: getattr(item, f.name) for f in fields(item)}
    raw["related"] = [{"kind": r.kind, "ref": r.ref, "pmid": r.pmid, "url": r.url, "item_id": r.item_id} for r in item.related]
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def item_from_json(data: str) -> Item:
    raw = json.loads(data)
    raw["related"] = tuple(Related(**r) for r in raw.get("related", ()))
    raw["tracked"] = tuple((str(k), str(v)) for k, v in raw.get("tracked", ()))
    for key in ("authors", "publication_types", "mesh_headings", "keywords", "identifiers"):
        raw[key] = tuple(raw.get(key, ()))
    return Item(**raw)


def match_to_json(match: Match) -> str:
    raw: dict[str, Any] = {"topics": list(match.topics), "hits": [asdict(h) for h in match.hits]}
    if match.tier is not None:
        raw.update(tier=match.tier, score=match.score, reason=match.reason)
    return json.dumps(raw, ensure_ascii=False)


def match_from_json(matched: int, data: str) -> Match:
    raw = json.loads(data)
    # Rows stored before tiers existed have none: a matched one reads as core, as it was shown then.
    tier = raw.get("tier") or (CORE if matched else None)
    return Match(bool(matched), tuple(raw["topics"]), tuple(Hit(**h) for h in raw["hits"]), tier,
                 float(raw.get("score", 0.0)), str(raw.get("reason", "")))


def stored_item(row: sqlite3.Row) -> StoredItem:
    """An items row (all columns) as a StoredItem."""
    return StoredItem(
        item=item_from_json(row["data"]),
        match=match_from_json(row["matched"], row["match"]),
        first_seen=row["first_seen"],
        first_matched=row["first_matched"],
    )


def strings(data: str | None) -> list[str]:
    """A JSON array of text from json_extract (None when the record has none)."""
    found = json.loads(data) if isinstance(data, str) and data.startswith("[") else []
    return [v for v in found if isinstance(v, str)]
