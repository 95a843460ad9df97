"""Later news about a work already stored: a notice, never a second listing (a retraction, an
erratum, a trial's status change). Pure: the stored version and the new one in, notices out."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Item
from .sections import flags_of

FLAG = "flag"  # an editor flag the item did not carry before: RETRACTED, has erratum, …
UPDATE = "update"  # a value the source tracks (`Item.tracked`) changed


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    detail: str  # "RETRACTED"; "status: RECRUITING → COMPLETED"


def changes(old: Item, new: Item) -> tuple[Notice, ...]:
    """What is news in `new` compared with `old`, in a stable order."""
    before = set(flags_of(old))
    found = [Notice(FLAG, flag) for flag in flags_of(new) if flag not in before]
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
