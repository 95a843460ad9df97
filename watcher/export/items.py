"""Every stored item, matched or not: JSON Lines, one object per work (works.py), or CSV, one row per
record with the id of its work.

Besides each record's own fields: `tier`, `score` and `reason` (the filter's verdict), `label` (the
editor's current verdict) with `cite` (the claim it is cited for), `note`, `label_by` and `label_at`,
`claims` (the ids of the article's claims a matched record bears on, computed from
feeds.yaml now, as the digest does) and `flags` (its current editor flags, each with when it appeared:
the notice that reported it, or the record's first_seen when it came with one).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict
from typing import Any, TextIO

from ..article.claims import Claim, matching
from ..relevance.labels import Label
from ..sections import flags_of
from ..store import Store, StoredItem, StoredLabel
from ..works import Work, works_of

WORKS_PER_READ = 500  # records are read a chunk of works at a time, not all at once

# Leading columns for CSV; any further keys follow in sorted order.
CSV_FIELDS = (
    "id", "work", "source", "url", "first_seen", "matched", "tier", "score", "reason", "label", "cite", "note", "label_by",
    "label_at", "matched_terms", "pmid",
    "title", "abstract", "journal", "pub_year", "date", "authors", "doi", "publication_types", "mesh_headings", "keywords",
)


class Annotations:
    """What a record's row carries besides the record: read once per export, not once per record."""

    def __init__(self, store: Store, claims: Sequence[Claim]) -> None:
        self.claims = claims
        self.labels = {s.label.item_id: s for s in store.labels()}
        self.history = store.flag_history()

    def row(self, stored: StoredItem) -> dict[str, Any]:
        given = self.labels.get(stored.item.id)
        return record(stored, self.claims, self.history.get(stored.item.id), given.label if given else None, given)


def record(
    stored: StoredItem, claims: Sequence[Claim] = (), flagged: dict[str, str] | None = None, label: Label | None = None,
    given: StoredLabel | None = None,
) -> dict[str, Any]:
    """One record as a flat row. `tier` is core or related when matched, else null; `label` is the
    editor's current verdict (empty when none), with its claim, note, who and when (`given`), so an
    export with the label column filled in can be read back by `watcher label --import`; `flagged`:
    when each flag was first reported."""
    flagged = flagged or {}
    item = asdict(stored.item)
    extra = item.pop("extra")
    return {
        "id": item.pop("id"),
        "source": item.pop("source"),
        "url": item.pop("url"),
        "first_seen": stored.first_seen,
        "matched": stored.match.matched,
        "tier": stored.match.tier if stored.match.matched else None,
        "score": stored.match.score if stored.match.matched else None,
        "reason": stored.match.reason if stored.match.matched else None,
        "label": label.label if label else None,
        "cite": label.claim if label else None,
        "note": label.note if label else None,
        "label_by": given.user if given else None,
        "label_at": given.at if given else None,
        "matched_terms": list(stored.match.terms),
        "matched_topics": list(stored.match.topics),
        "claims": [m.claim.id for m in matching(stored.item, claims)] if stored.match.matched else [],
        "flags": [{"flag": f, "since": flagged.get(f, stored.first_seen)} for f in flags_of(stored.item)],
        **item,
        **extra,
    }


def records(store: Store, *, claims: Sequence[Claim] = (), separate: Collection[str] = (),
            sources: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """One row per stored record, first seen first, each naming its work."""
    work_of = {record_id: work.id for record_id, work in works_of(store, separate=separate, sources=sources).by_record.items()}
    notes = Annotations(store, claims)
    for stored in store.iter_items():
        row = notes.row(stored)
        yield {"id": row.pop("id"), "work": work_of.get(stored.item.id, stored.item.id), **row}


def works(store: Store, *, claims: Sequence[Claim] = (), separate: Collection[str] = (),
          sources: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """One object per work: its first record's fields (`id` is that record's, as before works were
    merged), `ids` and `urls` of every record, and `also`, the fields of each other record."""
    grouped = list(works_of(store, separate=separate, sources=sources))
    notes = Annotations(store, claims)
    for start in range(0, len(grouped), WORKS_PER_READ):
        chunk: list[Work] = grouped[start : start + WORKS_PER_READ]
        stored = store.items_by_id(r.id for w in chunk for r in w.records)
        for work in chunk:
            rows = [notes.row(stored[r.id]) for r in work.records if r.id in stored]
            if rows:
                yield {**rows[0], "ids": [r["id"] for r in rows], "urls": [r["url"] for r in rows if r["url"]], "also": rows[1:]}


def write_jsonl(store: Store, out: TextIO, *, claims: Sequence[Claim] = (), separate: Collection[str] = (),
                sources: Sequence[str] = ()) -> int:
    count = 0
    for row in works(store, claims=claims, separate=separate, sources=sources):
        out.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
        count += 1
    return count


def flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(flat(v) if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def cell(value: Any) -> str:
    """A spreadsheet would run a cell starting with = + - @ as a formula; a leading ' keeps it text."""
    text = flat(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(store: Store, out: TextIO, *, claims: Sequence[Claim] = (), separate: Collection[str] = (),
              sources: Sequence[str] = ()) -> int:
    rows = list(records(store, claims=claims, separate=separate, sources=sources))
    extra = sorted({k for row in rows for k in row} - set(CSV_FIELDS))
    writer = csv.DictWriter(out, fieldnames=[*CSV_FIELDS, *extra], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})
    return len(rows)
