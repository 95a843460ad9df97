"""What a batch of fetched records means for the store, decided without it.

Given what the store holds of the batch's records (`Known`) and the batch itself (each record with
the filter's verdict), `decide` says what to write: each record new or revised, whether it matched
for the first time, and the notices it brings: later news about a work already stored (a
retraction, an erratum, a trial's status change) is a notice, never a second listing. Pure: no
I/O, no clock; the store reads `Known` and applies the `Plan` in one transaction (store/items.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .model import Item, Match
from .sections import flags_of

FLAG = "flag"  # an editor flag the item did not carry before: RETRACTED, has erratum, …
UPDATE = "update"  # a value the source tracks (`Item.tracked`) changed


# The links that carry each flag's news, on the flagged record and on the notice record itself.
CARRIED_IN = {"RETRACTED": "RetractionIn", "expression of concern": "ExpressionOfConcernIn", "has erratum": "ErratumIn"}
ANNOUNCES = {"RetractionOf": "RETRACTED", "ExpressionOfConcernFor": "expression of concern", "ErratumFor": "has erratum"}


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    detail: str  # "RETRACTED"; "status: RECRUITING → COMPLETED"
    link: str | None = None  # the page of the record that carries the news (the retraction notice)


def changes(old: Item, new: Item) -> tuple[Notice, ...]:
    """What is news in `new` compared with `old`, in a stable order."""
    before = set(flags_of(old))
    found = [Notice(FLAG, flag, link_for(flag, old, new)) for flag in flags_of(new) if flag not in before]
    previous, current = dict(old.tracked), dict(new.tracked)
    for label, value in new.tracked:
        was = previous.get(label)
        if was is None and label not in previous:
            if old.tracked:  # a value the older record did not have at all: "results posted"
                found.append(Notice(UPDATE, f"{label} {value}"))
        elif was != value:
            found.append(Notice(UPDATE, f"{label}: {was} → {value}"))
    if new.tracked:  # a value the newer record no longer has (not a record that lost all of them)
        found += [Notice(UPDATE, f"{label}: {was} → (none)") for label, was in old.tracked if label not in current]
    return tuple(found)


def link_for(flag: str, old: Item, new: Item) -> str | None:
    """The page of the notice behind a flag `new` gained: a link of the flag's kind that `old` lacked,
    else the last of that kind."""
    kind = CARRIED_IN.get(flag)
    links = [r for r in new.related if r.kind == kind and r.url]
    fresh = [r for r in links if r not in old.related]
    chosen = (fresh or links)[-1:]
    return chosen[0].url if chosen else None


def announced(item: Item) -> tuple[tuple[str, Notice], ...]:
    """(item id, notice) for each other record this one is news about: a retraction notice, an
    erratum or an expression of concern naming the record it concerns (RetractionOf, …)."""
    return tuple(
        (r.item_id, Notice(FLAG, ANNOUNCES[r.kind], item.url or None))
        for r in item.related
        if r.kind in ANNOUNCES and r.item_id and r.item_id != item.id
    )


# ---- the decider ----


@dataclass(frozen=True, slots=True)
class Prior:
    """What the store holds of a record the batch brings again."""

    item: Item  # the record as stored
    matched: bool  # it has matched a topic before (its week is chosen already)


@dataclass(frozen=True, slots=True)
class Known:
    """What the store holds that the batch's meaning depends on (see `wanted`)."""

    priors: Mapping[str, Prior]  # stored records among the batch's ids
    present: frozenset[str]  # stored ids among the records the batch is news about
    told: frozenset[tuple[str, str]]  # (item id, flag) already reported: a flag is news once


@dataclass(frozen=True, slots=True)
class Write:
    item: Item
    match: Match
    new: bool  # never stored before: insert (else the stored record is revised)
    newly_matched: bool  # matched for the first time: its week is the one being written now


@dataclass(frozen=True, slots=True)
class Plan:
    writes: tuple[Write, ...]
    notices: tuple[tuple[str, Notice], ...]  # (item id, notice), in the order they arose

    @property
    def new(self) -> int:
        return sum(w.new for w in self.writes)

    @property
    def new_matched(self) -> int:
        return sum(w.newly_matched for w in self.writes)


def untold(found: Iterable[tuple[str, Notice]], told: Iterable[tuple[str, str]]) -> tuple[tuple[str, Notice], ...]:
    """Notices that come from elsewhere than a record (a correction found in Crossref's data), kept
    to those that are news: a flag is news once per item, as in `decide`."""
    seen = set(told)
    fresh = []
    for item_id, notice in found:
        if notice.kind == FLAG:
            if (item_id, notice.detail) in seen:
                continue
            seen.add((item_id, notice.detail))
        fresh.append((item_id, notice))
    return tuple(fresh)


def wanted(items: Iterable[Item]) -> tuple[set[str], set[str]]:
    """The ids the store must look up for `Known`: the batch's own, and those it is news about."""
    items = list(items)
    return {i.id for i in items}, {target for i in items for target, _ in announced(i)}


def decide(entries: Sequence[tuple[Item, Match]], known: Known) -> Plan:
    """Entries are taken in order, as if written one by one: a record the batch brings twice is
    revised by its second copy, and a notice may name a record stored earlier in the same batch."""
    priors: dict[str, Prior] = dict(known.priors)
    present = set(known.present)
    told = set(known.told)
    writes: list[Write] = []
    notices: list[tuple[str, Notice]] = []

    def note(item_id: str, notice: Notice) -> None:
        # A flag is news once: a retraction reported by its notice (RetractionOf) is not reported
        # again when the retracted record itself later says so (RetractionIn).
        if notice.kind == FLAG:
            if (item_id, notice.detail) in told:
                return
            told.add((item_id, notice.detail))
        notices.append((item_id, notice))

    for item, match in entries:
        prior = priors.get(item.id)
        if prior is None:
            writes.append(Write(item, match, new=True, newly_matched=match.matched))
        else:
            writes.append(Write(item, match, new=False, newly_matched=match.matched and not prior.matched))
            for notice in changes(prior.item, item):
                note(item.id, notice)
        priors[item.id] = Prior(item, match.matched or (prior is not None and prior.matched))
        present.add(item.id)
        for target, notice in announced(item):  # a record that is news about another stored one
            if target in present:
                note(target, notice)
    return Plan(tuple(writes), tuple(notices))

