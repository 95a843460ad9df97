"""One entry per work: the stored records of any sources that share an identifier are one work.

A record's identifiers are its DOI (compared lower-cased) and its `Item.identifiers`: its PMID, the
NCT numbers of the trials it reports (PubMed's DataBankList, the registration itself), Europe PMC's
own ids and its "Preprint of" / "Preprint in" links, the FDA submission or label version an openfda
record or a regulatory board change is. Sharing any one joins two records, and joins
are transitive (a preprint → its published version → the trial that version reports).

This is a view over the store, computed when it is read: nothing about a work is written, every
source's record stays whole, so a wrong link is undone by correcting it upstream or by naming the
record under feeds.yaml `separate` (it is then a work of its own). The same store gives the same
works: records are ordered by when they were first seen, then by the order of feeds.yaml's
sources, then by id, and a work is named by its first record's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .checks import string_list, text
from .errors import ConfigError
from .store import Store, StoredItem, StoredKeys

PREPRINT = "Preprint"  # the publication type of a record not peer reviewed (sections.flags_of)
NCT = "nct:"
# Keys of the record itself (not a trial it reports): sharing one means "the same publication", or
# the same FDA record (a submission, a label version) stored by two paths.
SAME_RECORD = ("pmid:", "doi:", "epmc:", "fda:", "spl:")


@dataclass(frozen=True, slots=True)
class Record:
    """What grouping needs of a stored item."""

    id: str
    source: str
    keys: frozenset[str]
    first_seen: str  # UTC ISO text, as the store keeps it
    first_matched: str | None  # None: it does not match the topics
    preprint: bool



@dataclass(frozen=True, slots=True)
class Work:
    id: str  # its first record's id
    records: tuple[Record, ...]  # first seen first; of one poll, in the order of feeds.yaml's sources, then by id

    @property
    def first_matched(self) -> str | None:
        """When a record of the work first matched: picks the week that lists the work."""
        return min((r.first_matched for r in self.records if r.first_matched), default=None)

    def lead(self, by: str) -> Record | None:
        """The record the digest lists, of those matched before `by` (UTC text): a peer-reviewed
        publication before a preprint before anything else (a registration), then the first to match."""
        matched = [(i, r) for i, r in enumerate(self.records) if r.first_matched and r.first_matched < by]
        return min(matched, key=lambda p: (rank(p[1]), p[1].first_matched or "", p[0]))[1] if matched else None


class Works:
    def __init__(self, works: Sequence[Work]) -> None:
        self.works = tuple(works)
        self.by_record = {r.id: w for w in self.works for r in w.records}

    def of(self, stored: StoredItem) -> Work:
        """The work of a stored item; one of its own for an item stored after the works were read
        (a poll committing while a digest is made: it joins its work on the next reading)."""
        found = self.by_record.get(stored.item.id)
        if found is not None:
            return found
        item = stored.item
        record = Record(item.id, item.source, keys_of(item.doi, item.identifiers), stored.first_seen,
                        stored.first_matched if stored.match.matched else None, PREPRINT in item.publication_types)
        return Work(item.id, (record,))

    def __iter__(self) -> Iterator[Work]:
        return iter(self.works)

    def __len__(self) -> int:
        return len(self.works)


def keys_of(doi: str | None, identifiers: Iterable[str]) -> frozenset[str]:
    found = {i.strip() for i in identifiers if isinstance(i, str) and ":" in i and i.partition(":")[2].strip()}
    if doi and doi.strip():
        found.add("doi:" + doi.strip().lower())
    return frozenset(found)


def record_of(row: StoredKeys) -> Record:
    return Record(
        id=row.id,
        source=row.source,
        keys=keys_of(row.doi, row.identifiers),
        first_seen=row.first_seen,
        first_matched=row.first_matched if row.matched else None,
        preprint=PREPRINT in row.publication_types,
    )


def group(records: Iterable[Record], *, separate: Iterable[str] = (), sources: Sequence[str] = ()) -> Works:
    """Records joined by shared keys (union-find, near-linear); a record in `separate` joins none.
    `sources`: feeds.yaml's source names, in order: of records first seen together, the first source's comes first."""
    position = {name: i for i, name in enumerate(sources)}
    ordered = sorted(records, key=lambda r: (r.first_seen, position.get(r.source, len(position)), r.id))
    alone = set(separate)
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    holder: dict[str, int] = {}  # key → the first record that has it
    for index, record in enumerate(ordered):
        if record.id in alone:
            continue
        for key in record.keys:
            first = holder.setdefault(key, index)
            a, b = root(first), root(index)
            if a != b:
                parent[max(a, b)] = min(a, b)  # the earlier record stays the root: stable names
    members: dict[int, list[Record]] = {}
    for index, record in enumerate(ordered):
        members.setdefault(root(index), []).append(record)
    return Works([Work(rs[0].id, tuple(rs)) for _, rs in sorted(members.items())])


def works_of(store: Store, *, separate: Iterable[str] = (), sources: Sequence[str] = ()) -> Works:
    return group((record_of(row) for row in store.work_keys()), separate=separate, sources=sources)


def joined_by(work: Work, record: Record) -> str | None:
    """How a record that joined a work listed before relates to it, for a notice that goes on
    "… listed in 2026-W07": None when it is the same publication again (Europe PMC's copy of a
    PubMed record: not news)."""
    earlier = list(work.records[: work.records.index(record)])
    same = [r for r in earlier if same_publication(r, record)]
    if any(not r.preprint for r in same):
        return None
    if rank(record) == 0 and any(r.preprint for r in earlier):
        return "published version of the preprint"
    trials = ", ".join(sorted({k.removeprefix(NCT) for r in earlier for k in r.keys & record.keys if k.startswith(NCT)}))
    if trials and rank(record) == 2:
        return f"trial registration {trials} of the work"
    if trials:
        return f"same trial ({trials}) as the work"
    return "same work as the entry"


def rank(record: Record) -> int:
    if record.preprint:
        return 1
    return 0 if any(k.startswith(("pmid:", "doi:")) for k in record.keys) else 2


def same_publication(a: Record, b: Record) -> bool:
    return any(k.startswith(SAME_RECORD) for k in a.keys & b.keys)


def parse_separate(raw: Any, path: str) -> tuple[str, ...]:
    """feeds.yaml `separate`: ids of stored records that are each a work of their own."""

    def record_id(value: Any, where: str) -> str:
        found = text(value, where)
        if ":" not in found or " " in found:
            raise ConfigError(where, f"must be a record id as `watcher export` shows it, e.g. pubmed:12345678, not {found!r}")
        return found

    return string_list(raw, path, record_id)
