"""A stored record as CSL-JSON, the citation data every reference manager and CSL processor reads
(Zotero, Mendeley, citeproc-js, citeproc-py, pandoc). Pure: a work's records in, one dict out.

A work is cited by its lead record (the one the digest lists) with what its other records add: the
PMID of its PubMed record, the DOI, the journal. Authors arrive as PubMed writes them ("Smith JA",
a family name and initials) or as a collective name ("ENIGMA Consortium"): the first become
{family, given}, the second {literal}. Only http(s) links are carried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..model import Item
from ..sections import section_of
from ..text import http_link, plain

INITIALS = re.compile(r"^[A-Z]{1,4}$")
DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")
PREPRINT = "Preprint"
# The CSL type of a record by the digest section it is listed in (sections.py) when its publication
# types do not say more: papers are journal articles; FDA pages, trial registrations and board
# changes are web pages.
WEB_SECTIONS = ("regulatory", "registry")


def author(name: str) -> dict[str, str]:
    """"Smith JA" → {family: Smith, given: J. A.}; anything else (a consortium) → {literal}."""
    text = plain(name)
    family, _, last = text.rpartition(" ")
    if family and INITIALS.match(last):
        return {"family": family, "given": " ".join(f"{c}." for c in last)}
    return {"literal": text}


def issued(date: str | None) -> dict[str, list[list[int]]] | None:
    found = DATE.match(plain(date))
    if not found:
        return None
    return {"date-parts": [[int(p) for p in found.groups() if p]]}


def pmid_of(items: Sequence[Item]) -> str | None:
    for item in items:
        for key in item.identifiers:
            if key.startswith("pmid:") and key[5:].isdigit():
                return key[5:]
        found = item.extra.get("pmid") if isinstance(item.extra, dict) else None
        if isinstance(found, str) and found.isdigit():
            return found
    return None


def csl_type(item: Item) -> str:
    if PREPRINT in item.publication_types:
        return "article"  # CSL 1.0.2: a preprint, working paper or other unpublished article
    if section_of(item) in WEB_SECTIONS or not item.journal:
        return "webpage"
    return "article-journal"


def csl_item(work_id: str, records: Sequence[Item]) -> dict[str, Any]:
    """One work as a CSL-JSON item; `records[0]` is the lead record."""
    lead = records[0]
    found: dict[str, Any] = {"id": work_id, "type": csl_type(lead), "title": plain(lead.title) or "(untitled)"}
    if lead.authors:
        found["author"] = [author(a) for a in lead.authors if plain(a)]
    journal = plain(lead.journal) or next((plain(r.journal) for r in records[1:] if plain(r.journal)), "")
    if journal:
        found["container-title"] = journal
    date = issued(lead.date) or next((d for r in records[1:] if (d := issued(r.date))), None)
    if date:
        found["issued"] = date
    doi = plain(lead.doi) or next((plain(r.doi) for r in records[1:] if plain(r.doi)), "")
    if doi:
        found["DOI"] = doi
    pmid = pmid_of(records)
    if pmid:
        found["PMID"] = pmid
    url = http_link(lead.url)
    if url:
        found["URL"] = url
    if lead.abstract:
        found["abstract"] = plain(lead.abstract)
    return found
