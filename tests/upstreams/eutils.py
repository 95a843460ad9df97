"""A stand-in for NCBI E-utilities (eutils.ncbi.nlm.nih.gov/entrez/eutils/): esearch with the
history server, and efetch of the found records by WebEnv + query_key, retstart and retmax.

Each record carries an Entrez date (and a modification date, the Entrez date unless given), and
esearch honours `datetype` (edat or mdat) with `mindate`/`maxdate`, so a test can say "N records,
spread over these days" and the poller sees its window answered as NCBI would. As NCBI does,
efetch cannot page past the first 9,999 records of a search (`cap`), and errors can arrive inside
HTTP 200 (`search_error`, `phrase_not_found`, `fetch_error`: faults to arm on "esearch" or
"efetch"). The query itself (`term`) is not interpreted: every record in the window is found.

The healthy data are either real PubmedArticle elements from the shared corpus
(`corpus_articles`, `with_pmid`) or records built from the small `Article` dataclass of this
module (`articles`), never fetched from NCBI.

Labels: "esearch", and "efetch:RETSTART" for each batch ("efetch" matches them all). A search
that asks for its ids (no `usehistory=y`, as the re-check of listed records does) is
"esearch-ids"; an efetch by `id` list is "efetch-ids".
`revise` replaces a record by a later version of it, modified (mdat) on a given day.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from lxml import etree

from . import faults
from .server import Answer, Fault, Reply, Request, Server

PREFIX = "/entrez/eutils/"
XML = "text/xml; charset=UTF-8"
EFETCH_HEAD = (b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN"'
               b' "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n')
EFETCH_TAIL = b"</PubmedArticleSet>\n"
ESEARCH_HEAD = ('<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN"'
                ' "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n')
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def local_today(zone: str = "America/Chicago") -> date:
    """Today where the poller's window ends: in the configured zone (the tests' default: Chicago),
    which differs from the machine's UTC date for part of every day. Asked when needed, never
    fixed at import, so a run that crosses midnight does not miss."""
    return datetime.now(ZoneInfo(zone)).date()


# ---- records ----


@dataclass
class Article:
    """A small PubMed record, serialised by `article_xml` in the shape efetch sends."""

    pmid: str
    title: str
    abstract: str = "Ketamine and esketamine in treatment-resistant depression."
    authors: tuple[tuple[str, str], ...] = (("Doe", "Jane"), ("Roe", "Richard"))
    journal: str = "Journal of Affective Disorders"
    doi: str | None = None
    publication_types: tuple[str, ...] = ("Journal Article",)
    keywords: tuple[str, ...] = ()
    trials: tuple[str, ...] = ()  # registry numbers (NCT…) in its DataBankList
    corrections: tuple[tuple[str, str], ...] = ()  # CommentsCorrections (RefType, PMID), e.g. ("RetractionIn", "9")


def comments_corrections(links: Iterable[tuple[str, str]]) -> str:
    body = "".join(f'<CommentsCorrections RefType="{kind}"><RefSource>J Test. 2026;1:{pmid}</RefSource>'
                   f'<PMID Version="1">{pmid}</PMID></CommentsCorrections>' for kind, pmid in links)
    return f"<CommentsCorrectionsList>{body}</CommentsCorrectionsList>" if body else ""


def article_xml(a: Article) -> bytes:
    e = xml_escape
    # As PubMed writes an author: the fore name and its initials (the capitals of its words).
    authors = "".join(f"<Author ValidYN=\"Y\"><LastName>{e(last)}</LastName><ForeName>{e(fore)}</ForeName>"
                      f"<Initials>{''.join(w[0] for w in fore.split() if w[:1].isalpha()).upper()}</Initials></Author>"
                      for last, fore in a.authors)
    types = "".join(f"<PublicationType>{e(t)}</PublicationType>" for t in a.publication_types)
    keywords = "".join(f"<Keyword>{e(k)}</Keyword>" for k in a.keywords)
    doi = f'<ArticleId IdType="doi">{e(a.doi)}</ArticleId>' if a.doi else ""
    banks = "".join(f"<DataBank><DataBankName>ClinicalTrials.gov</DataBankName><AccessionNumberList><AccessionNumber>{e(t)}"
                    f"</AccessionNumber></AccessionNumberList></DataBank>" for t in a.trials)
    databanks = f'<DataBankList CompleteYN="Y">{banks}</DataBankList>' if banks else ""
    return (
        f"<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\"><PMID Version=\"1\">{a.pmid}</PMID>"
        f"<Article PubModel=\"Print\"><Journal><JournalIssue><PubDate><Year>2026</Year><Month>Nov</Month><Day>20</Day>"
        f"</PubDate></JournalIssue><Title>{e(a.journal)}</Title></Journal><ArticleTitle>{e(a.title)}</ArticleTitle>"
        f"<Abstract><AbstractText>{e(a.abstract)}</AbstractText></Abstract><AuthorList>{authors}</AuthorList>"
        f"<Language>eng</Language>{databanks}<PublicationTypeList>{types}</PublicationTypeList></Article>"
        f"{comments_corrections(a.corrections)}{'<KeywordList>' + keywords + '</KeywordList>' if keywords else ''}</MedlineCitation>"
        f"<PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">{a.pmid}</ArticleId>{doi}</ArticleIdList></PubmedData>"
        f"</PubmedArticle>\n"
    ).encode()


def articles(n: int, first_pmid: int = 41_000_000) -> list[Article]:
    return [Article(str(first_pmid + i), f"Ketamine for depression, study {i}") for i in range(n)]


def corpus_articles(path: Path) -> list[bytes]:
    """Each PubmedArticle of a corpus efetch file, serialised on its own (the file is read in place)."""
    root = etree.parse(str(path), SAFE_PARSER).getroot()
    return [etree.tostring(el) for el in root.iter("PubmedArticle")]


def with_pmid(article: bytes, pmid: int) -> bytes:
    """A copy of a real record under another PMID, to make many distinct records from a few."""
    clone = copy.deepcopy(etree.fromstring(article, SAFE_PARSER))
    clone.find("MedlineCitation/PMID").text = str(pmid)
    for aid in clone.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='pubmed']"):
        aid.text = str(pmid)
    return etree.tostring(clone)


def revised(article: bytes, *, corrections: Iterable[tuple[str, str]] = (), publication_types: Iterable[str] = ()) -> bytes:
    """A real record as NCBI revises it (made here, not from NCBI): publication types and
    CommentsCorrections links added, e.g. ("Retracted Publication",) and ("RetractionIn", PMID)."""
    clone = copy.deepcopy(etree.fromstring(article, SAFE_PARSER))
    citation = clone.find("MedlineCitation")
    types = citation.find("Article/PublicationTypeList")
    for kind in publication_types:
        etree.SubElement(types, "PublicationType").text = kind
    links = citation.find("CommentsCorrectionsList")
    if links is None:
        links = etree.SubElement(citation, "CommentsCorrectionsList")
    for kind, pmid in corrections:
        link = etree.SubElement(links, "CommentsCorrections", RefType=kind)
        etree.SubElement(link, "RefSource").text = f"Notice {pmid}"
        etree.SubElement(link, "PMID", Version="1").text = pmid
    return etree.tostring(clone)


def pmid_of(article: bytes) -> str:
    return etree.fromstring(article, SAFE_PARSER).findtext("MedlineCitation/PMID")


@dataclass(frozen=True)
class Record:
    xml: bytes
    pmid: str
    dates: dict[str, date]  # datetype → the record's date of that type


# ---- errors NCBI sends inside HTTP 200 ----


def search_error(message: str) -> Fault:
    """esearch's `<ERROR>`, e.g. "Invalid query" or "Database is not supported"."""
    return faults.answer(200, f"<eSearchResult><ERROR>{xml_escape(message)}</ERROR></eSearchResult>")


def phrase_not_found(phrase: str) -> Fault:
    """esearch found nothing and says why in an ErrorList (Count 0)."""
    return faults.answer(200, f"<eSearchResult><Count>0</Count><ErrorList><PhraseNotFound>{xml_escape(phrase)}"
                              "</PhraseNotFound></ErrorList></eSearchResult>")


def fetch_error(message: str) -> Fault:
    """efetch's `<ERROR>`, e.g. "Unable to obtain query #1" (an expired WebEnv)."""
    return faults.answer(200, fetch_error_body(message))


def fetch_error_body(message: str) -> bytes:
    return f"<eFetchResult><ERROR>{xml_escape(message)}</ERROR></eFetchResult>".encode()


# ---- the stand-in ----


@dataclass
class Eutils:
    server: Server
    prefix: str = PREFIX
    cap: int = 9999  # efetch cannot page past this many records of one search
    records: list[Record] = field(default_factory=list)
    histories: dict[str, list[Record]] = field(default_factory=dict)  # WebEnv → the search's records
    _keys: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.server.route(self.prefix + "esearch.fcgi", self.esearch)
        self.server.route(self.prefix + "efetch.fcgi", self.efetch)

    @property
    def url(self) -> str:
        """The base URL a pubmed source's `url` names."""
        return self.server.url(self.prefix)

    def add(self, edat: date, records: Iterable[Article | bytes], *, mdat: date | None = None) -> None:
        """Records first seen by Entrez on `edat` (last modified on `mdat`, by default the same day)."""
        for record in records:
            xml = article_xml(record) if isinstance(record, Article) else record
            pmid = record.pmid if isinstance(record, Article) else pmid_of(record)
            self.records.append(Record(xml, pmid, {"edat": edat, "mdat": mdat or edat}))

    def revise(self, pmid: str, record: Article | bytes, *, mdat: date) -> None:
        """A later version of a stored record (a retraction added, say), modified on `mdat`."""
        xml = article_xml(record) if isinstance(record, Article) else record
        for i, old in enumerate(self.records):
            if old.pmid == pmid:
                self.records[i] = Record(xml, pmid, {**old.dates, "mdat": mdat})
                return
        raise KeyError(pmid)

    def ids(self) -> set[str]:
        """The item ids the poller makes of every record."""
        return {f"pubmed:{r.pmid}" for r in self.records}

    # -- esearch: find the window's records and keep them on the history server --

    def esearch(self, request: Request) -> Answer:
        args = request.query
        try:
            hits = self.window(args)
        except ValueError as exc:  # what NCBI would not have understood either
            return Answer("esearch", "pubmed", Reply(200, f"<eSearchResult><ERROR>{xml_escape(str(exc))}</ERROR>"
                                                          "</eSearchResult>".encode(), XML))
        if args.get("usehistory") != "y":  # the ids themselves, up to retmax
            retmax = int(args.get("retmax", 20))
            ids = "".join(f"<Id>{r.pmid}</Id>" for r in hits[:retmax])
            body = (ESEARCH_HEAD + f"<eSearchResult><Count>{len(hits)}</Count><RetMax>{min(retmax, len(hits))}</RetMax>"
                    f"<RetStart>0</RetStart><IdList>{ids}</IdList></eSearchResult>\n").encode()
            return Answer("esearch-ids", "pubmed", Reply(200, body, XML))
        key = f"MCID_standin{next(self._keys)}"
        self.histories[key] = hits
        ids = "<IdList/>"  # usehistory=y with retmax=0, as the poller asks
        body = (ESEARCH_HEAD + f"<eSearchResult><Count>{len(hits)}</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
                f"<QueryKey>1</QueryKey><WebEnv>{key}</WebEnv>{ids}</eSearchResult>\n").encode()
        return Answer("esearch", "pubmed", Reply(200, body, XML))

    def window(self, args: dict[str, str]) -> list[Record]:
        if "mindate" not in args and "maxdate" not in args:
            return list(self.records)
        datetype = args.get("datetype", "pdat")  # NCBI's default for a date range
        if datetype not in ("edat", "mdat"):
            raise ValueError(f"the stand-in keeps no {datetype} dates (use datetype=edat or mdat)")
        lo = datetime.strptime(args["mindate"], "%Y/%m/%d").date()
        hi = datetime.strptime(args["maxdate"], "%Y/%m/%d").date()
        return [r for r in self.records if lo <= r.dates[datetype] <= hi]

    # -- efetch: a slice of a search kept on the history server --

    def efetch(self, request: Request) -> Answer:
        args = request.query
        if "id" in args:
            wanted = set(args["id"].split(","))
            body = EFETCH_HEAD + b"".join(r.xml if r.xml.endswith(b"\n") else r.xml + b"\n"
                                          for r in self.records if r.pmid in wanted) + EFETCH_TAIL
            return Answer("efetch-ids", "pubmed", Reply(200, body, XML))
        start, size = int(args.get("retstart", 0)), int(args.get("retmax", 20))
        label = f"efetch:{start}"
        hits = self.histories.get(args.get("WebEnv", ""))
        if hits is None or args.get("query_key") != "1":
            return Answer(label, "pubmed", Reply(200, fetch_error_body("Unable to obtain query #1"), XML))
        if start >= self.cap:  # as NCBI does: no paging past the cap
            return Answer(label, "pubmed", Reply(200, fetch_error_body("Search Backend failed: retstart beyond 9999"), XML))
        chunk = hits[start : min(start + size, self.cap)]
        body = EFETCH_HEAD + b"".join(r.xml if r.xml.endswith(b"\n") else r.xml + b"\n" for r in chunk) + EFETCH_TAIL
        return Answer(label, "pubmed", Reply(200, body, XML))
