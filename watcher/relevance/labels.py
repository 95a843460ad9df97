"""Editors' verdicts on items: `relevant` or `irrelevant`, with an optional note.

A label is stored with its time (the latest one of an item counts) and never changes matching:
it is what `watcher evaluate` measures the topics against. Labels come one at a time from the
command line or from a CSV file of `id,label[,note]` rows; a file with a header row may hold any
other columns too, so `watcher export --format csv` with a `label` column filled in is read as it is
(rows whose label is empty are skipped).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import UsageError
from ..text import plain

RELEVANT, IRRELEVANT = "relevant", "irrelevant"
LABELS = (RELEVANT, IRRELEVANT)
NOTE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Label:
    item_id: str
    label: str  # RELEVANT | IRRELEVANT
    note: str = ""
    claim: str | None = None  # "cite for claim X" (the workspace): relevant, and evidence for that claim


def parse_label(value: str, where: str = "label") -> str:
    found = value.strip().lower()
    if found not in LABELS:
        raise UsageError(f"{where}: {value.strip()!r} is not a label; write {RELEVANT} or {IRRELEVANT}")
    return found


def make_label(item_id: str, value: str, note: str | None = None, where: str = "label") -> Label:
    item_id = item_id.strip()
    if not item_id:
        raise UsageError(f"{where}: the item id is empty; ids are shown by `watcher export`, e.g. pubmed:12345678")
    text = plain(note or "")
    if len(text) > NOTE_CHARS:
        raise UsageError(f"{where}: the note is {len(text)} characters long; keep it under {NOTE_CHARS}")
    return Label(item_id, parse_label(value, where), text)


def parse_csv(text: str, name: str) -> list[Label]:
    """Every label in the CSV text of the file `name`; raises UsageError naming the file and line of
    the first problem."""
    try:
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))  # spreadsheets often write a BOM
    except csv.Error as exc:
        raise UsageError(f"{name}: cannot read as CSV: {exc}") from None
    labels: list[Label] = []
    seen: dict[str, int] = {}
    for number, label in labelled_rows(name, rows):
        if label.item_id in seen:
            raise UsageError(f"{name} line {number}: {label.item_id} is labelled twice (also on line {seen[label.item_id]}); keep one row")
        seen[label.item_id] = number
        labels.append(label)
    if not labels:
        raise UsageError(f"{name}: no labelled row; write rows of id,label[,note] with label {RELEVANT} or {IRRELEVANT}")
    return labels


def labelled_rows(path: str, rows: list[list[str]]) -> Iterator[tuple[int, Label]]:
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "id" in header and "label" in header:
        id_at, label_at = header.index("id"), header.index("label")
        note_at = header.index("note") if "note" in header else None
        for number, row in enumerate(rows[1:], 2):
            cells = row + [""] * (len(header) - len(row))
            if not any(c.strip() for c in cells) or not cells[label_at].strip():
                continue  # not labelled (yet)
            note = cells[note_at] if note_at is not None else ""
            yield number, make_label(cells[id_at], cells[label_at], note, f"{path} line {number}")
        return
    for number, row in enumerate(rows, 1):
        if not any(c.strip() for c in row):
            continue
        if not 2 <= len(row) <= 3:
            raise UsageError(f"{path} line {number}: has {len(row)} column(s); write id,label or id,label,note"
                             " (or start the file with a header row naming `id` and `label`)")
        yield number, make_label(row[0], row[1], row[2] if len(row) == 3 else "", f"{path} line {number}")
