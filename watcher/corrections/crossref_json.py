"""Crossref's answer to `GET /works?filter=doi:…,doi:…` (a work-list) as the notices each work
carries. Pure: bytes in, updates out.

A work's `updated-by` lists the records that update it: the notice's DOI, its `type` (retraction,
correction, erratum, expression_of_concern, withdrawal, addendum, …), its `source` ("publisher", or
"retraction-watch" for Retraction Watch's data, which Crossref carries since 2023) and `updated`
(its date). The same notice can come twice, once from each source: it is one update here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ParseError
from ..sources.json_body import json_document

NAME = "Crossref"
# Crossref's update types → the digest's flags (sections.flags_of): the same words as PubMed's, so a
# work retracted in both is one notice.
FLAGS = {
    "retraction": "RETRACTED",
    "partial_retraction": "RETRACTED",
    "removal": "RETRACTED",
    "withdrawal": "withdrawn",
    "expression_of_concern": "expression of concern",
    "correction": "has erratum",
    "erratum": "has erratum",
    "corrigendum": "has erratum",
}


@dataclass(frozen=True, slots=True)
class Update:
    doi: str  # the updated work's DOI, lower-cased
    kind: str  # Crossref's type: "retraction"
    notice: str | None  # the notice's DOI
    source: str  # "publisher" | "retraction-watch" | …
    date: str | None  # YYYY-MM-DD

    @property
    def flag(self) -> str | None:
        return FLAGS.get(self.kind)


def text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def update_date(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    stamp = text(value.get("date-time"))
    if stamp:
        return stamp[:10]
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and all(isinstance(p, int) for p in parts[0]):
        return "-".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts[0][:3])) or None
    return None


def parse_updates(body: bytes) -> list[Update]:
    """Every update of every work in the answer; ParseError with a reason a person reads otherwise."""
    doc = json_document(body, NAME)
    if not isinstance(doc, Mapping) or doc.get("status") != "ok":
        raise ParseError(f"{NAME}: the answer is not a Crossref answer (no status ok)")
    message = doc.get("message")
    items = message.get("items") if isinstance(message, Mapping) else None
    if doc.get("message-type") != "work-list" or not isinstance(items, list):
        raise ParseError(f"{NAME}: the answer is not a list of works (message-type {text(doc.get('message-type'))!r})")
    found: dict[tuple[str, str, str | None], Update] = {}
    for work in items:
        if not isinstance(work, Mapping) or not text(work.get("DOI")):
            continue
        doi = str(work["DOI"]).strip().lower()
        updates = work.get("updated-by")
        for entry in updates if isinstance(updates, list) else ():
            if not isinstance(entry, Mapping) or not text(entry.get("type")):
                continue
            kind = str(entry["type"]).strip().lower()
            notice = (text(entry.get("DOI")) or "").lower() or None
            source = text(entry.get("source")) or ""
            found.setdefault((doi, kind, notice), Update(doi, kind, notice, source, update_date(entry.get("updated"))))
    return list(found.values())
