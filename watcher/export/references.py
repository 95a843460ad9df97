"""`watcher export --format ris|bibtex|csljson`: the listed works as references a reference manager
imports (Zotero, EndNote, Mendeley), one per work, optionally only those bearing on a claim
(`--claim`) or listed in a week (`--week`).

Each work is its CSL-JSON item (csl.py: the lead record, with the PMID and DOI of its other
records); RIS is written by rispy, BibTeX by bibtexparser, CSL-JSON is that item as JSON. In RIS
the PMID goes in AN (accession number), in BibTeX in a `pmid` field, as Zotero and JabRef read
them; both carry the DOI and the URL.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import rispy
from bibtexparser.entrypoint import write_string
from bibtexparser.library import Library
from bibtexparser.model import Entry, Field

from ..article.claims import Claim, matching
from ..store import Store
from ..weeks import Week, utc_iso
from ..works import Works, works_of
from .csl import csl_item

FORMATS = ("ris", "bibtex", "csljson")
RIS_TYPES = {"article-journal": "JOUR", "article": "JOUR", "webpage": "ELEC"}
BIBTEX_TYPES = {"article-journal": "article", "article": "misc", "webpage": "misc"}
# Characters BibTeX reads as markup: a record's text keeps them as text (braces would unbalance an entry).
BIBTEX_SPECIAL = str.maketrans({"{": "(", "}": ")", "\\": "/"})


class RisWriter(rispy.RisWriter):  # type: ignore[misc]
    """rispy's writer without the "1." it puts before each record (not part of RIS)."""

    def set_header(self, count: int) -> str:
        return ""


def selected(store: Store, works: Works, *, claims: Sequence[Claim] = (), claim: str | None = None,
             week: Week | None = None, tz: ZoneInfo | None = None) -> Iterator[dict[str, Any]]:
    """The CSL items of the listed works (those that matched), first listed first; with `claim`,
    only those bearing on it; with `week`, only those listed in it."""
    bounds = week.bounds(tz) if week and tz else None
    start, end = (utc_iso(b) for b in bounds) if bounds else ("", "\uffff")
    rules = [c for c in claims if c.id == claim]
    listed = [w for w in works if w.first_matched and start <= w.first_matched < end]
    stored = store.items_by_id(r.id for w in listed for r in w.records)
    for work in sorted(listed, key=lambda w: (w.first_matched or "", w.id)):
        lead = work.lead("\uffff")
        records = [stored[r.id] for r in work.records if r.id in stored]
        records.sort(key=lambda s: s.item.id != (lead.id if lead else ""))
        if not records:
            continue
        if claim is not None and not any(s.match.matched and matching(s.item, rules) for s in records):
            continue
        yield csl_item(work.id, [s.item for s in records])


def ris_entry(item: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type_of_reference": RIS_TYPES.get(item["type"], "GEN"), "title": item["title"], "id": item["id"]}
    names = [a.get("literal") or f"{a['family']}, {a['given']}" for a in item.get("author", [])]
    if names:
        entry["authors"] = names
    if "container-title" in item:
        entry["journal_name"] = item["container-title"]
    parts = item.get("issued", {}).get("date-parts", [[]])[0]
    if parts:
        entry["year"] = str(parts[0])
        entry["date"] = "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts))
    for key, ris in (("DOI", "doi"), ("PMID", "accession_number"), ("abstract", "abstract")):
        if key in item:
            entry[ris] = item[key]
    if "URL" in item:
        entry["urls"] = [item["URL"]]
    if "PMID" in item:
        entry["notes"] = [f"PMID: {item['PMID']}"]
    return entry


def citation_key(item: dict[str, Any], taken: set[str]) -> str:
    """"smith2024esketamine": the first author's family name, the year and the title's first long word."""
    first = (item.get("author") or [{}])[0]
    name = first.get("family") or first.get("literal") or "anon"
    year = str((item.get("issued", {}).get("date-parts", [[""]])[0] or [""])[0])
    word = next((w for w in re.findall(r"[^\W\d_]{4,}", item["title"])), "")
    base = ascii_word(name) + year + ascii_word(word)
    key, n = base or "ref", 1
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2) if n <= 27 else n}"
    taken.add(key)
    return key


def ascii_word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def bibtex_value(text: Any) -> str:
    return " ".join(str(text).translate(BIBTEX_SPECIAL).split())


def bibtex_entry(item: dict[str, Any], taken: set[str]) -> Entry:
    fields = [Field("title", bibtex_value(item["title"]))]
    names = [f"{{{bibtex_value(a['literal'])}}}" if "literal" in a else f"{bibtex_value(a['family'])}, {bibtex_value(a['given'])}"
             for a in item.get("author", [])]
    if names:
        fields.append(Field("author", " and ".join(names)))
    if "container-title" in item:
        fields.append(Field("journal" if item["type"] == "article-journal" else "howpublished", bibtex_value(item["container-title"])))
    parts = item.get("issued", {}).get("date-parts", [[]])[0]
    if parts:
        fields.append(Field("year", str(parts[0])))
        if len(parts) > 1:
            fields.append(Field("month", str(parts[1])))
    for key, name in (("DOI", "doi"), ("PMID", "pmid"), ("URL", "url")):
        if key in item:
            fields.append(Field(name, bibtex_value(item[key])))
    return Entry(BIBTEX_TYPES.get(item["type"], "misc"), citation_key(item, taken), fields)


def write_references(items: Sequence[dict[str, Any]], out: TextIO, fmt: str) -> int:
    if fmt == "ris":
        out.write(rispy.dumps([ris_entry(i) for i in items], implementation=RisWriter))
    elif fmt == "bibtex":
        library = Library()
        taken: set[str] = set()
        for item in items:
            library.add(bibtex_entry(item, taken))
        out.write(write_string(library))  # its default stack encloses every value in braces
    elif fmt == "csljson":
        out.write(json.dumps(list(items), ensure_ascii=False, indent=1) + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return len(items)


def export_references(store: Store, out: TextIO, fmt: str, *, claims: Sequence[Claim] = (), claim: str | None = None,
                      week: Week | None = None, tz: ZoneInfo | None = None, separate: Sequence[str] = (),
                      sources: Sequence[str] = ()) -> int:
    works = works_of(store, separate=separate, sources=sources)
    return write_references(list(selected(store, works, claims=claims, claim=claim, week=week, tz=tz)), out, fmt)
