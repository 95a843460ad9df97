"""Pure parsing of NCBI E-utilities XML (efetch PubmedArticleSet, esearch eSearchResult).

Input is untrusted. Every parse refuses entity expansion, DTD loading and network access, and a
document that declares entities of its own is rejected outright: real E-utilities responses carry
only an external DOCTYPE (never fetched) and numeric character references.
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

from lxml import etree

from ..errors import ParseError, UpstreamError
from ..model import Item, Related

__all__ = ["ITEM_PREFIX", "RELATED_KINDS", "EsearchResult", "PubmedRecord", "iter_efetch", "parse_esearch", "to_item"]

# Parser options shared by every parse. resolve_entities=False leaves references as unexpanded
# nodes (lxml 6.1's default 'internal' expands internal ones); libxml2 (2.14 here) still aborts
# entity-amplification bombs with an error. load_dtd=False + no_network=True: the DOCTYPE's DTD
# URL is never fetched. huge_tree=False keeps libxml2's depth (256) and text-size (10 MB) limits.
# Comments and PIs are dropped so that an element without children holds plain text only.
_SAFE_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "remove_comments": True,
    "remove_pis": True,
}

_ROOTS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet", "eFetchResult", "ERROR"})
_RECORDS = frozenset({"PubmedArticle", "PubmedBookArticle"})
_ESEARCH_ROOTS = frozenset({"eSearchResult", "ERROR"})

# CommentsCorrections worth surfacing: corrections, retractions, comments, updates, concerns.
RELATED_KINDS = frozenset(
    {
        "ErratumIn",
        "ErratumFor",
        "RetractionIn",
        "RetractionOf",
        "PartialRetractionIn",
        "PartialRetractionOf",
        "CommentIn",
        "CommentOn",
        "UpdateIn",
        "UpdateOf",
        "ExpressionOfConcernIn",
        "ExpressionOfConcernFor",
    }
)

_MAX_MESSAGE = 200
_ASCII_SPACE = re.compile(r"[ \t\r\n]+")
_NCT = re.compile(r"NCT\d{8}")  # a ClinicalTrials.gov registry number; other DataBanks hold gene ids etc.
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}


@dataclass(frozen=True, slots=True)
class PubmedRecord:
    """One PubmedArticle or PubmedBookArticle, text already flattened to plain text."""

    record_type: str  # 'article' | 'book'
    pmid: str
    title: str
    abstract: str | None = None
    journal: str | None = None
    book_title: str | None = None
    pub_year: int | None = None
    pub_date: str | None = None  # 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD'
    authors: tuple[str, ...] = ()
    doi: str | None = None
    publication_types: tuple[str, ...] = ()
    mesh_headings: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    language: str | None = None
    related: tuple[Related, ...] = ()
    trial_ids: tuple[str, ...] = ()  # registry numbers of the trials it reports (DataBankList): NCT…


@dataclass(frozen=True, slots=True)
class EsearchResult:
    count: int
    retmax: int = 0
    retstart: int = 0
    ids: tuple[str, ...] = ()
    webenv: str | None = None
    query_key: str | None = None
    warnings: tuple[str, ...] = ()


# ---- efetch ----


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def iter_efetch(stream: Readable) -> Iterator[PubmedRecord]:
    """Yield the records of an efetch response in document order, holding one record at a time.

    Raises ParseError on malformed or unexpected XML and UpstreamError on an <ERROR> answer. Records
    before the point of failure may already have been yielded: callers that need all-or-nothing
    collect first.
    """
    events = etree.iterparse(stream, events=("start", "end"), tag=(*_ROOTS, *_RECORDS), **_SAFE_OPTIONS)
    checked = False
    try:
        for event, element in events:
            if not checked:
                _check_document(element, _ROOTS)
                checked = True
            if event != "end":
                continue
            if element.tag == "ERROR":
                if _is_top_level(element):
                    raise UpstreamError(f"E-utilities error: {_message(element)}")
                continue
            if element.tag in _RECORDS:
                yield _record(element)
                _release(element)
        if not checked:
            _check_document(events.root, _ROOTS)
    except etree.LxmlError as error:
        raise _parse_error(error) from None


def _check_document(element: etree._Element, roots: frozenset[str]) -> None:
    """Refuse what no real E-utilities answer has: declared entities, or a foreign root element."""
    tree = element.getroottree()
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("XML declares its own entities; refused (untrusted input)")
    root = tree.getroot()
    if root.tag not in roots:
        raise ParseError(f"not an E-utilities response (root element <{_short(str(root.tag), 40)}>)")


def _release(element: etree._Element) -> None:
    """Drop a processed record and everything before it, so a 100 MB answer never builds a tree."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _is_top_level(element: etree._Element) -> bool:
    parent = element.getparent()
    return parent is None or parent.getparent() is None


def _record(element: etree._Element) -> PubmedRecord:
    _inline_entities(element)
    record = _book(element) if element.tag == "PubmedBookArticle" else _article(element)
    if not record.pmid:
        raise ParseError(f"a {element.tag} without a PMID")
    return record


def _inline_entities(record: etree._Element) -> None:
    """Turn leftover entity references into their literal text, e.g. '&nbsp;'.

    Only an undeclared name under an external DOCTYPE gets here (libxml2 merely warns, as the DTD
    is not loaded); text serialisation would silently drop it, and a visible '&nbsp;' is more honest.
    """
    for reference in list(record.iter(etree.Entity)):
        parent = reference.getparent()
        previous = reference.getprevious()
        literal = reference.text + (reference.tail or "")
        if previous is not None:
            previous.tail = (previous.tail or "") + literal
        else:
            parent.text = (parent.text or "") + literal
        parent.remove(reference)


def _article(node: etree._Element) -> PubmedRecord:
    citation = _child(node, "MedlineCitation")
    article = _child(citation, "Article")
    journal = _child(article, "Journal")
    pub_date = _find(journal, "JournalIssue/PubDate")
    return PubmedRecord(
        record_type="article",
        pmid=_text(_child(citation, "PMID")) or "",
        title=_text(_child(article, "ArticleTitle")) or "",
        abstract=_abstract(_child(article, "Abstract")),
        journal=_text(_child(journal, "Title")),
        pub_year=_pub_year(pub_date),
        pub_date=_pub_date(pub_date),
        authors=_authors(_children(article, "AuthorList")),
        doi=_doi(_find(node, "PubmedData/ArticleIdList"), _children(article, "ELocationID")),
        publication_types=_texts(_find_all(article, "PublicationTypeList/PublicationType")),
        mesh_headings=_texts(_find_all(citation, "MeshHeadingList/MeshHeading/DescriptorName")),
        keywords=_keywords(citation),
        language=_text(_child(article, "Language")),
        related=_related(_find_all(citation, "CommentsCorrectionsList/CommentsCorrections")),
        trial_ids=_trial_ids(_find_all(article, "DataBankList/DataBank/AccessionNumberList/AccessionNumber")),
    )


def _book(node: etree._Element) -> PubmedRecord:
    document = _child(node, "BookDocument")
    book = _child(document, "Book")
    book_title = _text(_child(book, "BookTitle"))
    pub_date = _child(book, "PubDate")  # the book's date, not the chapter's ContributionDate
    # Chapter authors when the chapter names them, else the book's authors; editors never.
    authors = _authors(_children(document, "AuthorList")) or _authors(_children(book, "AuthorList"))
    id_lists = [_find(node, "PubmedBookData/ArticleIdList"), _child(document, "ArticleIdList")]
    return PubmedRecord(
        record_type="book",
        pmid=_text(_child(document, "PMID")) or "",
        title=_text(_child(document, "ArticleTitle")) or book_title or "",
        abstract=_abstract(_child(document, "Abstract")),
        journal=None,
        book_title=book_title,
        pub_year=_pub_year(pub_date),
        pub_date=_pub_date(pub_date),
        authors=authors,
        doi=next((doi for ids in id_lists if (doi := _doi(ids, ()))), None),
        publication_types=_texts(_children(document, "PublicationType")),
        mesh_headings=(),
        keywords=_keywords(document),
        language=_text(_child(document, "Language")),
        related=(),
    )


# ---- fields ----


def _abstract(abstract: etree._Element | None) -> str | None:
    """Sections as 'LABEL: text' lines; CopyrightInformation (a sibling) is left out by design."""
    if abstract is None:
        return None
    lines = []
    for section in _children(abstract, "AbstractText"):
        body = _text(section) or ""
        label = _clean(section.get("Label") or "")
        lines.append(f"{label}: {body}" if label else body)
    return "\n".join(lines)


def _authors(author_lists: Iterable[etree._Element]) -> tuple[str, ...]:
    names: list[str] = []
    for author_list in author_lists:
        if author_list.get("Type", "authors") != "authors":
            continue  # editors
        for author in _children(author_list, "Author"):
            name = _author(author)
            if name:
                names.append(name)
    return tuple(names)


def _author(author: etree._Element) -> str | None:
    last = _text(_child(author, "LastName"))
    if last:
        initials = _text(_child(author, "Initials"))
        return f"{last} {initials}" if initials else last
    return _text(_child(author, "CollectiveName"))


def _doi(id_list: etree._Element | None, locations: Iterable[etree._Element]) -> str | None:
    """The record's own ArticleIdList wins; ReferenceList ids are never reached (direct children only)."""
    for article_id in _children(id_list, "ArticleId"):
        if article_id.get("IdType") == "doi" and (doi := _text(article_id)):
            return doi
    for location in locations:
        if location.get("EIdType") == "doi" and (doi := _text(location)):
            return doi
    return None


def _keywords(parent: etree._Element | None) -> tuple[str, ...]:
    words = _texts(_find_all(parent, "KeywordList/Keyword"))
    return tuple(dict.fromkeys(words))  # lists from several owners repeat each other


def _related(links: Iterable[etree._Element]) -> tuple[Related, ...]:
    found = []
    for link in links:
        kind = link.get("RefType", "")
        if kind in RELATED_KINDS:
            found.append(Related(kind=kind, ref=_text(_child(link, "RefSource")) or "", pmid=_text(_child(link, "PMID"))))
    return tuple(found)


def _trial_ids(accessions: Iterable[etree._Element]) -> tuple[str, ...]:
    """NCT numbers among the record's DataBank accessions, upper-cased, each once."""
    found = (text.upper() for text in _texts(accessions))
    return tuple(dict.fromkeys(number for number in found if _NCT.fullmatch(number)))


def _pub_year(pub_date: etree._Element | None) -> int | None:
    year = _text(_child(pub_date, "Year"))
    if year and year.isascii() and year.isdigit():
        return int(year)
    match = re.search(r"\d{4}", _text(_child(pub_date, "MedlineDate")) or "")
    return int(match.group()) if match else None


def _pub_date(pub_date: etree._Element | None) -> str | None:
    """Best-effort ISO date: Year/Month/Day, Year + Season's first month, else MedlineDate."""
    if pub_date is None:
        return None
    year = _text(_child(pub_date, "Year"))
    if year and re.fullmatch(r"\d{4}", year):
        month = _month(_text(_child(pub_date, "Month")) or _text(_child(pub_date, "Season")) or "")
        return _iso(int(year), month, _text(_child(pub_date, "Day")))
    # MedlineDate: '1999 Jan-Feb', '1998 Dec-1999 Jan', '2000 Spring', '1976 Aug 5-12', '1999-2000'.
    match = re.match(r"(\d{4})(?:[ \t]+([A-Za-z]+)\.?(?:[ \t]+(\d{1,2})\b)?)?", _text(_child(pub_date, "MedlineDate")) or "")
    if not match:
        return None
    return _iso(int(match.group(1)), _month(match.group(2) or ""), match.group(3))


def _month(value: str) -> int | None:
    """'Jan', 'January', '01', '1', or a season range 'Apr-Jun' (its first month); 'Spring' → None."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        number = int(value)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(value[:3].lower()) if re.match(r"[A-Za-z]{3}", value) else None


def _iso(year: int, month: int | None, day: str | None) -> str:
    if month is None:
        return f"{year:04d}"
    if day and day.isascii() and day.isdigit():
        try:
            return date(year, month, int(day)).isoformat()
        except ValueError:
            pass  # an impossible day: keep year and month
    return f"{year:04d}-{month:02d}"


# ---- text ----


def _clean(text: str) -> str:
    """Collapse ASCII whitespace only: U+00A0 and U+2009 are meaningful in PubMed text."""
    if "\n" in text or "\t" in text or "\r" in text or "  " in text:
        text = _ASCII_SPACE.sub(" ", text)
    return text.strip(" ")  # fast path first: most PubMed fields are already clean


def _text(element: etree._Element | None) -> str | None:
    """All text inside an element, markup (i, b, sup, sub, MathML ...) dropped without adding spaces."""
    if element is None:
        return None
    if len(element) == 0:
        text = element.text or ""
    else:  # one C-level pass: far cheaper than joining itertext() pieces
        text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return _clean(text) or None


def _texts(elements: Iterable[etree._Element]) -> tuple[str, ...]:
    return tuple(text for element in elements if (text := _text(element)))


# Navigation by direct children only (never descendants), so e.g. ReferenceList ids stay out of reach.
# iterchildren() is about twice as fast as find() here, which shows on 100 MB answers.


def _child(parent: etree._Element | None, tag: str) -> etree._Element | None:
    return None if parent is None else next(parent.iterchildren(tag), None)


def _children(parent: etree._Element | None, tag: str) -> list[etree._Element]:
    return [] if parent is None else list(parent.iterchildren(tag))


def _find(parent: etree._Element | None, path: str) -> etree._Element | None:
    for tag in path.split("/"):
        parent = _child(parent, tag)
    return parent


def _find_all(parent: etree._Element | None, path: str) -> list[etree._Element]:
    found = [] if parent is None else [parent]
    for tag in path.split("/"):
        found = [child for element in found for child in element.iterchildren(tag)]
    return found


def _short(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(element: etree._Element) -> str:
    return _short(_text(element) or "(no message)")


def _parse_error(error: etree.LxmlError) -> ParseError:
    detail = getattr(error, "msg", None) or str(error) or type(error).__name__
    return ParseError(f"malformed XML: {_short(str(detail))}")


# ---- esearch ----


def parse_esearch(data: bytes) -> EsearchResult:
    """Read an esearch answer. A query error (ErrorList or ERROR) raises: it must never read as 0 hits."""
    parser = etree.XMLParser(**_SAFE_OPTIONS)
    try:
        root = etree.parse(io.BytesIO(data), parser).getroot()
    except etree.LxmlError as error:
        raise _parse_error(error) from None
    _check_document(root, _ESEARCH_ROOTS)
    _inline_entities(root)
    answer_error = root if root.tag == "ERROR" else root.find("ERROR")
    if answer_error is not None:
        raise UpstreamError(f"esearch error: {_message(answer_error)}")
    problems = [f"{item.tag}: {_text(item) or ''}" for item in _find_all(root, "ErrorList/*")]
    if problems:
        raise UpstreamError(_short("esearch query error: " + "; ".join(problems)))
    return EsearchResult(
        count=_integer(root, "Count", required=True),
        retmax=_integer(root, "RetMax"),
        retstart=_integer(root, "RetStart"),
        ids=_texts(_find_all(root, "IdList/Id")),
        webenv=_text(_child(root, "WebEnv")),
        query_key=_text(_child(root, "QueryKey")),
        warnings=tuple(f"{item.tag}: {_text(item) or ''}" for item in _find_all(root, "WarningList/*")),
    )


def _integer(root: etree._Element, tag: str, *, required: bool = False) -> int:
    value = _text(_child(root, tag))
    if value is None and not required:
        return 0
    if value is None or not (value.isascii() and value.isdigit()):
        raise ParseError(f"esearch <{tag}> is {'missing' if value is None else repr(_short(value, 40))}")
    return int(value)


# ---- to the pipeline ----


ITEM_PREFIX = "pubmed:"  # an item's id is the prefix and its PMID


def page_of(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


def linked(related: Related) -> Related:
    """A CommentsCorrections link with the other record's page and item id, when it names a PMID."""
    if not (related.pmid and related.pmid.isascii() and related.pmid.isdigit()):
        return related
    return replace(related, url=page_of(related.pmid), item_id=ITEM_PREFIX + related.pmid)


def to_item(record: PubmedRecord, source: str) -> Item:
    return Item(
        id=ITEM_PREFIX + record.pmid,
        source=source,
        url=page_of(record.pmid),
        title=record.title,
        abstract=record.abstract,
        date=record.pub_date,
        authors=record.authors,
        journal=record.journal,
        doi=record.doi,
        publication_types=record.publication_types,
        mesh_headings=record.mesh_headings,
        keywords=record.keywords,
        related=tuple(linked(r) for r in record.related),
        identifiers=(f"pmid:{record.pmid}", *(f"nct:{number}" for number in record.trial_ids)),
        extra={
            "pmid": record.pmid,
            "pub_year": record.pub_year,
            "record_type": record.record_type,
            "language": record.language,
            "book_title": record.book_title,
        },
    )
