"""Europe PMC REST search results (`resultType=core` or `lite`, `format=json`) → Items. Pure: the
decoded JSON of one result in, an Item out; no I/O. Every field is checked for its type.

Titles and abstracts carry HTML (`<h4>Background</h4>…`, `<i>`, `<sub>`): BeautifulSoup reduces
them to plain text, a heading becoming a "Background: " label as in PubMed's structured abstracts.
A preprint (`source` PPR, or pubType "preprint") gets the publication type "Preprint" (flagged
"preprint, not peer reviewed"); its "Preprint in" / "Preprint of" links (Europe PMC's own
title-and-first-author match) become identifiers, so works.py joins a preprint and its published
version.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from ..model import Item, Related
from ..text import plain

ARTICLE_PAGE = "https://europepmc.org/article/"  # + SOURCE/ID: Europe PMC's public page of a record
PREPRINT_SOURCE = "PPR"
PUBMED_SOURCE = "MED"
PREPRINT = "Preprint"  # the publication type sections.flags_of flags
MAX_MARKUP = 200_000  # characters of one title or abstract parsed; a longer one is cut first
# Europe PMC's commentCorrection types, as PubMed names the same links (sections.flags_of reads those).
LINK_KINDS = {
    "retraction in": "RetractionIn", "retraction of": "RetractionOf",
    "partial retraction in": "PartialRetractionIn", "partial retraction of": "PartialRetractionOf",
    "erratum in": "ErratumIn", "erratum for": "ErratumFor",
    "expression of concern in": "ExpressionOfConcernIn", "expression of concern for": "ExpressionOfConcernFor",
    "comment in": "CommentIn", "comment on": "CommentOn", "update in": "UpdateIn", "update of": "UpdateOf",
    "preprint in": "PreprintIn", "preprint of": "PreprintOf",
}
PREPRINT_LINKS = frozenset({"PreprintIn", "PreprintOf"})
HEADING = re.compile(r"^h[1-6]$")
BLOCKS = ("p", "div", "li", "br", "tr")
TAG = re.compile(r"<[^>]*>")
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")  # "39709209", "PMC3040717", "PPR123456": a path segment as it is
SOURCE_RE = re.compile(r"[A-Z]{2,5}")  # MED, PMC, PPR, AGR, CBA, …


def block(parent: Any, *path: str) -> Mapping[str, Any]:
    for key in path:
        parent = parent.get(key) if isinstance(parent, Mapping) else None
    return parent if isinstance(parent, Mapping) else {}


def listed(value: Any) -> list[Any]:
    """Europe PMC wraps lists in objects ({"pubType": [...]}) and sends one value bare at times."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def text(value: Any) -> str | None:
    return plain(value) or None if isinstance(value, str) else None


def strings(value: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(found for v in listed(value) if (found := text(v))))


def from_html(value: Any) -> str | None:
    """Plain text of an HTML fragment, one line per paragraph; a heading becomes "Heading: "."""
    if not isinstance(value, str):
        return None
    if "<" not in value and "&" not in value:
        return plain(value) or None
    markup = value[:MAX_MARKUP]
    try:
        with warnings.catch_warnings():  # a short text looking like a file name or URL is still text
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            soup = BeautifulSoup(markup, "html.parser")
        for heading in soup.find_all(HEADING):
            label = heading.get_text(" ", strip=True).rstrip(":")
            heading.replace_with(f"\n{label}: " if label else "\n")
        for tag in soup.find_all(BLOCKS):
            tag.insert_before("\n")
        found = soup.get_text()
    except RecursionError:  # markup nested thousands deep: drop the tags by pattern instead
        found = TAG.sub(" ", markup)
    lines = (plain(line) for line in found.split("\n"))
    return "\n".join(line for line in lines if line) or None


def authors_of(result: Mapping[str, Any]) -> tuple[str, ...]:
    names = [text(a.get("fullName")) or text(a.get("collectiveName"))
             for a in listed(block(result, "authorList").get("author")) if isinstance(a, Mapping)]
    found = tuple(n for n in names if n)
    if found:
        return found
    line = text(result.get("authorString")) or ""  # lite results: "Lee MS, Green R, Glover JN."
    return tuple(n for part in line.rstrip(".").split(", ") if (n := part.strip()))


def types_of(result: Mapping[str, Any]) -> tuple[str, ...]:
    core = strings(block(result, "pubTypeList").get("pubType"))
    if core:
        return core
    line = text(result.get("pubType")) or ""  # lite results: "review; journal article"
    return tuple(dict.fromkeys(t for part in line.split(";") if (t := part.strip())))


def journal_of(result: Mapping[str, Any]) -> str | None:
    return (text(block(result, "journalInfo", "journal").get("title")) or text(result.get("journalTitle"))
            or text(block(result, "bookOrReportDetails").get("publisher")))  # preprints: the server, e.g. medRxiv


def links_of(result: Mapping[str, Any]) -> tuple[Related, ...]:
    found = []
    for link in listed(block(result, "commentCorrectionList").get("commentCorrection")):
        if not isinstance(link, Mapping):
            continue
        kind = LINK_KINDS.get((text(link.get("type")) or "").casefold())
        if kind is None:
            continue
        ref_id, ref_source = text(link.get("id")), (text(link.get("source")) or "").upper()
        ref = f"{ref_source}:{ref_id}" if ref_id and ref_source else text(link.get("reference")) or ""
        found.append(Related(kind, ref, ref_id if ref_source == PUBMED_SOURCE else None))
    return tuple(found)


def result_item(result: Mapping[str, Any], *, source: str) -> Item:
    """One search result as an Item; ValueError when it lacks its id or source."""
    record_id, origin = text(result.get("id")), (text(result.get("source")) or "").upper()
    if not record_id or not ID_RE.fullmatch(record_id) or not SOURCE_RE.fullmatch(origin):
        raise ValueError(f"no usable id and source ({(record_id or '')[:20]!r}, {origin[:10]!r})")
    pmid = text(result.get("pmid"))
    pmid = pmid if pmid and pmid.isdigit() else None
    types = types_of(result)
    preprint = origin == PREPRINT_SOURCE or any(t.casefold() == "preprint" for t in types)
    if preprint and PREPRINT not in types:
        types = (PREPRINT, *(t for t in types if t.casefold() != "preprint"))
    related = links_of(result)
    same_work = [f"epmc:{origin}:{record_id}", *([f"pmid:{pmid}"] if pmid else [])]
    for link in related:
        if link.kind in PREPRINT_LINKS and link.ref:
            same_work.append(f"epmc:{link.ref}")
            if link.pmid:
                same_work.append(f"pmid:{link.pmid}")
    mesh = strings([m.get("descriptorName") for m in listed(block(result, "meshHeadingList").get("meshHeading"))
                    if isinstance(m, Mapping)])
    return Item(
        id=f"europepmc:{origin}:{record_id}",
        source=source,
        url=f"{ARTICLE_PAGE}{origin}/{record_id}",
        title=from_html(result.get("title")) or "(untitled)",
        abstract=from_html(result.get("abstractText")),
        date=text(result.get("firstPublicationDate")) or text(result.get("pubYear")),
        authors=authors_of(result),
        journal=journal_of(result),
        doi=text(result.get("doi")),
        publication_types=types,
        mesh_headings=mesh,
        keywords=strings(block(result, "keywordList").get("keyword")),
        related=related,
        kind="preprint" if preprint else None,
        identifiers=tuple(dict.fromkeys(same_work)),
        extra={
            "europepmc_source": origin,
            "europepmc_id": record_id,
            "pmid": pmid,
            "pmcid": text(result.get("pmcid")),
            "first_index_date": text(result.get("firstIndexDate")),
            "pub_year": text(result.get("pubYear")),
            "language": text(result.get("language")),
            "preprint_links": [{"type": r.kind, "ref": r.ref} for r in related if r.kind in PREPRINT_LINKS],
        },
    )


def results_of(page: Mapping[str, Any]) -> Iterator[Any]:
    yield from listed(block(page, "resultList").get("result"))
