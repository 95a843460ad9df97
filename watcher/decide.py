"""Later news about a work already stored: a notice, never a second listing (a retraction, an
erratum, a trial's status change). Pure: the stored version and the new one in, notices out."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Item
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
