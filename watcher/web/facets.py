"""What the queue filters and the claim pages need of every matched item, kept in memory: its
evidence section and the claims it bears on (both computed from the item and feeds.yaml, as the
digest does). Filled once in the background when the server starts (`ready` is set then; the pages
that need every item wait for it), then brought up to date at each such request from the items
written since (an index on `last_seen` makes that a short read), so a poll's new items appear at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ..article.claims import Claim, matching
from ..sections import section_of
from ..store import Store, StoredItem


@dataclass(frozen=True, slots=True)
class Facet:
    first_matched: str
    section: str
    claims: dict[str, tuple[str, ...]]  # claim id → the claim terms that matched


class Facets:
    def __init__(self, claims: Sequence[Claim]) -> None:
        self.claims = tuple(claims)
        self.by_id: dict[str, Facet] = {}
        self.mark = ""  # the latest last_seen read: rows written at or after it are looked at again
        self.at_mark: set[str] = set()  # ids read with last_seen == mark
        self.lock = threading.Lock()
        self.ready = threading.Event()

    def facet(self, stored: StoredItem) -> Facet:
        found = {m.claim.id: m.terms for m in matching(stored.item, self.claims)}
        return Facet(stored.first_matched or stored.first_seen, section_of(stored.item), found)

    def refresh(self, store: Store) -> None:
        with self.lock:
            written = store.written_since(self.mark)
            # Rows at the mark itself were read last time unless written again since (same second).
            fresh = [(i, seen, matched) for i, seen, matched in written if not (seen == self.mark and i in self.at_mark)]
            found = store.items_by_id(i for i, _, matched in fresh if matched)
            for item_id, _, matched in fresh:
                if matched and item_id in found:
                    self.by_id[item_id] = self.facet(found[item_id])
                else:
                    self.by_id.pop(item_id, None)
            latest = max((seen for _, seen, _ in written), default=self.mark)
            if latest != self.mark:
                self.mark, self.at_mark = latest, set()
            self.at_mark.update(i for i, seen, _ in fresh if seen == self.mark)
        self.ready.set()

    def current(self, store: Store) -> None:
        """Every matched item's facet, up to date: waits for the first filling if it is still running."""
        self.ready.wait()
        self.refresh(store)

    def get(self, item_id: str) -> Facet | None:
        return self.by_id.get(item_id)

    def bearing_on(self, claim_id: str) -> list[str]:
        """Ids of the matched items bearing on a claim, newest first (when each first matched)."""
        with self.lock:
            found = [(f.first_matched, item_id) for item_id, f in self.by_id.items() if claim_id in f.claims]
        found.sort(key=lambda pair: (pair[0], invert_id(pair[1])), reverse=True)
        return [item_id for _, item_id in found]

    def counts(self) -> dict[str, int]:
        """claim id → how many matched items bear on it."""
        with self.lock:
            out = {c.id: 0 for c in self.claims}
            for f in self.by_id.values():
                for claim_id in f.claims:
                    if claim_id in out:
                        out[claim_id] += 1
        return out


def invert_id(item_id: str) -> tuple[int, ...]:
    """Ties on time broken by id, ascending, inside a descending sort."""
    return tuple(-ord(c) for c in item_id)
