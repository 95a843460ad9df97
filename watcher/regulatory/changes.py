"""What changed between two snapshots of a watched product, each change with the sentence an editor
reads. Pure: two `ProductSnapshot`s in, `Change`s out, in a stable order.

The label data hold only the latest version of a label, so two revisions between polls are one
change here (the net difference). The first snapshot of a product has nothing to compare with and
gives no change: the board shows its whole state instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sources.openfda_json import label_id, label_key, submission_id, submission_key
from ..text import shorten
from .product import Label, Marketed, ProductSnapshot, Submission

STATUS_NAMES = {"AP": "approved", "TA": "tentatively approved"}
SHOWN_CHARS = 200


@dataclass(frozen=True, slots=True)
class Change:
    what: str  # submission | label | boxed-warning | marketing-status | rems | record
    value: str  # what makes this change this one: "SUPPL-12:AP"; with `what`, part of a stable id
    sentence: str  # "new supplement SUPPL-12 approved 2026-11-20 (Efficacy)"
    kind: str  # the item's type in the digest: "approval", "label change", …
    date: str | None = None  # the change's own date, when the record gives one
    url: str | None = None  # the document that shows it (a letter, the label)
    detail: str = ""  # a line more: the new boxed warning's opening, the indications
    same_as: str | None = None  # the id the openfda source gives the same record, if it lists it too
    key: str | None = None  # with same_as: the identifier both records carry, so they are one work (works.py)

    def id(self, application: str) -> str:
        return f"regulatory:{application}:{self.what}:{self.value}"


def changes(old: ProductSnapshot | None, new: ProductSnapshot) -> tuple[Change, ...]:
    if old is None:
        return ()
    found: list[Change] = []
    if old.found != new.found:
        found.append(Change("record", "found" if new.found else "not-found",
                            f"Drugs@FDA now lists {new.application}" if new.found
                            else f"Drugs@FDA no longer finds {new.application} (openFDA: NOT_FOUND)", "record change"))
    if old.found and new.found:  # with no earlier record, every submission would look new
        found += submission_changes(old, new)
        found += marketing_changes(old.products, new.products)
    found += label_changes(old.label, new.label)
    if old.found and new.found and bool(_rems(old)) != bool(_rems(new)):  # where it is named may move: not news
        named = _rems(new)
        found.append(Change("rems", "named" if named else "not-named",
                            f"a REMS is now named ({named})" if named else "a REMS is no longer named in the label or the submissions",
                            "REMS"))
    return tuple(found)


def submission_changes(old: ProductSnapshot, new: ProductSnapshot) -> list[Change]:
    out = []
    for s in new.submissions:
        before = old.submission(s.key)
        if before is not None and before.status == s.status:
            continue
        status = STATUS_NAMES.get(s.status, f"status {s.status or 'not given'}")
        what = "original application" if s.type == "ORIG" else "supplement"
        sentence = f"new {what} {s.key} {status}" if before is None else f"{s.key} now {status}"
        sentence += f" {s.date}" if s.date else ""
        sentence += f" ({s.class_name or s.class_code})" if s.class_name or s.class_code else ""
        if before is not None:
            sentence += f"; was {STATUS_NAMES.get(before.status, before.status or 'without a status')}"
        doc = next((d for t in ("Letter", "Label") for d in s.documents if d.type == t), s.documents[0] if s.documents else None)
        out.append(Change(
            "submission", f"{s.key}:{s.status or 'none'}", sentence, "approval" if s.approved else "submission",
            date=s.date, url=doc.url if doc else None, detail=_submission_detail(s),
            # A new submission is the record the openfda source lists; a status change is news of its own.
            same_as=submission_id(new.application, s.type, s.number) if before is None else None,
            key=submission_key(new.application, s.type, s.number) if before is None and s.type and s.number else None,
        ))
    return out


def _submission_detail(s: Submission) -> str:
    parts = [f"class: {s.class_name or s.class_code}" if s.class_name or s.class_code else "",
             f"review priority: {s.priority}" if s.priority else "",
             "documents: " + ", ".join(dict.fromkeys(d.type for d in s.documents)) if s.documents else ""]
    return "; ".join(p for p in parts if p)


def label_changes(old: Label | None, new: Label | None) -> list[Change]:
    if old is None and new is None:
        return []
    if new is None:
        assert old is not None
        return [Change("label", f"none:{old.set_id}:{old.revision}",
                       f"no current label found in openFDA (was version {old.version or '?'}, effective {old.effective or '?'})",
                       "label change", url=old.url or None)]
    out = []
    if old is None or (old.set_id, old.revision) != (new.set_id, new.revision):
        sentence = f"label revised: version {new.version or '?'}, effective {new.effective or '?'}"
        if old is None:
            sentence = f"a current label is in openFDA again: version {new.version or '?'}, effective {new.effective or '?'}"
        elif old.set_id != new.set_id:
            sentence += " (another label now leads: a new set id)"
        else:
            sentence += f" (was version {old.version or '?'}, effective {old.effective or '?'})"
        out.append(Change("label", f"{new.set_id}:{new.revision}", sentence, "label change", date=new.effective,
                          url=new.url or None, detail=new.indications,
                          same_as=label_id(new.set_id, new.revision), key=label_key(new.set_id, new.revision)))
    if old is not None and old.boxed_warning_sha256 != new.boxed_warning_sha256:
        opening = shorten(new.boxed_warning, SHOWN_CHARS)
        if not old.boxed_warning_sha256:
            sentence, value = f"boxed warning added: “{opening}”", new.boxed_warning_sha256[:16]
        elif not new.boxed_warning_sha256:
            sentence, value = "boxed warning removed", f"removed:{old.boxed_warning_sha256[:16]}"
        else:
            sentence, value = f"boxed warning changed; it now opens “{opening}”", new.boxed_warning_sha256[:16]
        out.append(Change("boxed-warning", value, sentence, "boxed warning", date=new.effective, url=new.url or None,
                          detail=f"was: “{shorten(old.boxed_warning, SHOWN_CHARS)}”" if old.boxed_warning else ""))
    return out


def marketing_changes(old: tuple[Marketed, ...], new: tuple[Marketed, ...]) -> list[Change]:
    before = {p.number: p for p in old}
    now = {p.number: p for p in new}
    out = []
    for number, p in now.items():
        was = before.get(number)
        if was is None:
            out.append(Change("marketing-status", f"{number}:{p.status or 'none'}",
                              f"new product {p.described}: {p.status or 'no marketing status'}", "marketing status"))
        elif was.status != p.status:
            out.append(Change("marketing-status", f"{number}:{p.status or 'none'}",
                              f"product {p.described}: marketing status {was.status or 'none'} → {p.status or 'none'}",
                              "marketing status"))
    for number, p in before.items():
        if number not in now:
            out.append(Change("marketing-status", f"{number}:gone", f"product {p.described} is no longer listed",
                              "marketing status"))
    return out


def _rems(snapshot: ProductSnapshot) -> str:
    """Where a REMS is named, in words; "" when nowhere."""
    where = [f"label: {snapshot.label.rems}"] if snapshot.label and snapshot.label.rems else []
    where += [f"Drugs@FDA {s.key}" for s in snapshot.rems_submissions[:1]]
    return ", ".join(where)
