"""Every stored item, matched or not, as JSON Lines or CSV rows.

Besides the item's own fields: `claims`, the ids of the article's claims a matched item bears on
(computed from feeds.yaml now, as the digest does), and `flags`, its current editor flags, each
with when it appeared (the notice that reported it, or the item's first_seen when it came with one).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any, TextIO

from .claims import Claim, matching
from .labels import Label
from .sections import flags_of
from .store import Store, StoredItem

# Leading columns for CSV; any further keys follow in sorted order.
CSV_FIELDS = (
    "id", "source", "url", "first_seen", "matched", "tier", "score", "reason", "label", "matched_terms", "pmid", "title",
    "abstract", "journal", "pub_year", "date", "authors", "doi", "publication_types", "mesh_headings", "keywords",
)


def record(
    stored: StoredItem, claims: Sequence[Claim] = (), flagged: dict[str, str] | None = None, label: Label | None = None
) -> dict[str, Any]:
    """One item as a flat record. `tier` is core or related when matched, else null; `label` is the
    editor's latest verdict (empty when none), so an export with the label column filled in can be
    read back by `watcher label --import`; `flagged`: when each flag of the item was first reported
    (Store.flag_history)."""
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
        "matched_terms": list(stored.match.terms),
        "matched_topics": list(stored.match.topics),
        "claims": [m.claim.id for m in matching(stored.item, claims)] if stored.match.matched else [],
        "flags": [{"flag": f, "since": flagged.get(f, stored.first_seen)} for f in flags_of(stored.item)],
        **item,
        **extra,
    }


def records(store: Store, claims: Sequence[Claim] = ()) -> Iterator[dict[str, Any]]:
    labels = {s.label.item_id: s.label for s in store.labels()}
    history = store.flag_history()
    for stored in store.iter_items():
        yield record(stored, claims, history.get(stored.item.id), labels.get(stored.item.id))


def write_jsonl(store: Store, out: TextIO, claims: Sequence[Claim] = ()) -> int:
    count = 0
    for row in records(store, claims):
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


def write_csv(store: Store, out: TextIO, claims: Sequence[Claim] = ()) -> int:
    rows = list(records(store, claims))
    extra = sorted({k for row in rows for k in row} - set(CSV_FIELDS))
    writer = csv.DictWriter(out, fieldnames=[*CSV_FIELDS, *extra], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})
    return len(rows)
