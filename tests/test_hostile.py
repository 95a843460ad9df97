"""Hostile text, delivered over HTTP through each source, is inert in the digest.

Titles, authors, journals, types, summaries and links carrying Markdown links to javascript: and
data: URLs, raw HTML, pipes, backticks, block markers, bare URLs and e-mail addresses (which
fuzzy linkifiers turn into links), entity references, control and bidirectional-override
characters, and a 100 kB title come from the stand-ins' efetch XML, RSS feed and openFDA JSON
(and ClinicalTrials.gov and Europe PMC JSON) through the real poll into the store, and out through
the real digest.

The digest's Markdown is then rendered by a real CommonMark/GFM renderer, markdown-it-py's
"gfm-like" preset (raw HTML allowed, tables, strikethrough, and linkify with fuzzy links and
e-mail addresses: stricter than GitHub), and the HTML is checked: only the elements the digest's
own template makes, no script, no on* attribute, every link http(s) and one the source gave for
the item or that we build (PubMed, DOI, openFDA, the registry, Europe PMC), and every hostile
string shown as plain text. The HTML page and the Atom feed written from the same poll pass the
same checks.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from lxml import etree
from markdown_it import MarkdownIt

from tests import configs
from tests.configs import openfda, pubmed, rss, write_config
from tests.polls import NOW, TODAY, WEEK
from tests.upstreams import ctgov, eutils, feeds
from tests.upstreams import europepmc as epmc
from tests.upstreams import openfda as fda
from tests.upstreams.server import Server
from watcher.digest import plaintext
from watcher.digest.publish import publish_week
from watcher.digest.view import build_view
from watcher.model import Hit, Item, Match
from watcher.poll import poll
from watcher.sections import SECTIONS
from watcher.sources.rss_feed import parse_feed
from watcher.sources.xml_guard import MAX_DEPTH, closes, nesting
from watcher.store import PollRecord, Store
from watcher.text import plain
from watcher.weeks import Week, utc_iso

HOSTILE = {
    "js-link": "Click [here](javascript:alert(1)) now",
    "data-link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "ref-link": "[a][r] [r]: javascript:alert(3)",
    "autolink": "<javascript:alert(2)> and <https://evil.example/a>",
    "image": "![img](https://evil.example/x.png)",
    "script": "<script>alert(4)</script>",
    "img-onerror": "<img src=x onerror=alert(5)>",
    "a-tag": "<a href='javascript:alert(6)'>a</a>",
    "svg-onload": "<svg onload=alert(7)>",
    "pipes": "| a | b | c |",
    "backticks": "```js alert(8) ``` and `code`",
    "emphasis": "**bold** _em_ ~~struck~~ $x$",
    "heading": "# Heading",
    "quote": "> quoted",
    "list": "- item",
    "ordered": "1. first",
    "setext": "===",
    "rule": "---",
    "bare-url": "see http://evil.example/p and www.evil.example and evil.example.com",
    "email": "write to evil@example.com",
    "entity": "&lt;script&gt;alert(9)&lt;/script&gt; &#106;avascript",
    "bidi": "\u202egnp.exe\u202c \u2066x\u2069 \u200fend",
    "c1-controls": "\x9b31mred\x9b0m\x85",
}
C0 = "\x1b[2J\x07\x00bell"  # JSON can carry these; XML cannot
LONG = "Ketamine " + "long title " * 10_000  # ~110 kB

HOSTILE_LINKS = [  # item links a feed might give: only http(s) ones may become links, encoded
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "https://www.example.org/a) [x](javascript:alert(1)", "https://www.example.org/b\"onmouseover=\"alert(1)",
    "https://www.example.org/c <script>", "//evil.example/protocol-relative",
]

KEPT = Match(True, ("t",), (Hit("drug", "ketamine", "title", "Ketamine"),))


def eutils_item(title: str) -> Item:
    return Item(id="pubmed:42000100", source="pubmed", url="https://pubmed.ncbi.nlm.nih.gov/42000100/", title=title,
                publication_types=("Journal Article",))


ALLOWED_TAGS = {"h1", "h2", "p", "strong", "em", "a", "ul", "li", "blockquote", "table", "thead", "tbody", "tr", "th", "td", "br"}
SECTION_TITLES = {s.title for s in SECTIONS}
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def pubmed_articles() -> list[eutils.Article]:
    out = []
    for i, text in enumerate(HOSTILE.values()):
        out.append(eutils.Article(
            str(42_000_000 + i), f"Ketamine {text}", abstract=text, authors=((text, "Jane"), ("Roe", text)),
            journal=text, doi=f"10.1000/{i}) {text}", publication_types=(text, "Journal Article"), keywords=(text,)))
    out.append(eutils.Article("42999999", LONG))
    return out


def feed_entries() -> list[feeds.Entry]:
    out = []
    for i, text in enumerate(HOSTILE.values()):
        link = HOSTILE_LINKS[i] if i < len(HOSTILE_LINKS) else f"https://www.example.org/item/{i}"
        # The description is HTML: escaped once more, so that what is left after the markup is gone is the text.
        out.append(feeds.Entry(f"h-{i}", f"Ketamine {text}", link, description=html.escape(text), author=text, category=text))
    out.append(feeds.Entry("h-long", LONG, "https://www.example.org/long"))
    return out


def studies() -> list[dict]:
    out = []
    for i, text in enumerate({**HOSTILE, "c0-controls": C0}.values()):
        out.append(ctgov.study(f"NCT0{i:07d}", f"Ketamine {text}", status=text, phases=(text,), conditions=(text,),
                               interventions=(text,), summary=text, sponsor=text, start=text, last_update="2026-11-23",
                               locations=[{"facility": text, "city": "Chicago", "state": "Illinois", "status": "RECRUITING"}]))
    out.append(ctgov.study("NCT09999999", LONG, last_update="2026-11-23"))
    return out


def search_results() -> list[dict]:
    out = []
    for i, text in enumerate({**HOSTILE, "c0-controls": C0}.values()):
        # Titles and abstracts are HTML: escaped once more, so that what is left after the markup is gone is the text.
        out.append(epmc.result(str(45_000_000 + i), f"Ketamine {html.escape(text)}", pmid=str(45_000_000 + i),
                               abstract=html.escape(text), authors=(text, "Roe R"), journal=text, doi=f"10.1000/{i}) {text}",
                               pub_types=(text, "Journal Article")))
    out.append(epmc.result("45999999", LONG, pmid="45999999"))
    out.append(epmc.result("javascript:alert(1)", "Ketamine with a hostile id"))  # refused: no link is made of it
    return out


def recall_records() -> list[dict]:
    out = []
    for i, text in enumerate({**HOSTILE, "c0-controls": C0}.values()):
        out.append({
            "recall_number": f"D-{i}-2026" if i else "D-0) [x](javascript:alert(1)", "report_date": "20261118",
            "classification": text, "status": text, "product_description": f"Ketamine {text}",
            "reason_for_recall": text, "recalling_firm": text, "distribution_pattern": text,
            "openfda": {"generic_name": [text], "brand_name": ["KETALAR"]},
        })
    out.append({"recall_number": "D-LONG-2026", "report_date": "20261118", "product_description": LONG})
    return out


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.headings: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self.open.append(tag)
        if tag in ("h1", "h2"):
            self.headings.append((tag, ""))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.open and self.open[-1] in ("h1", "h2") and self.headings:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)


def render(markdown: str) -> str:
    return MarkdownIt("gfm-like").enable(["linkify", "strikethrough", "table"]).render(markdown)


def poll_and_digest(tmp_path: Path, source: dict) -> tuple[str, dict]:
    config = write_config(tmp_path, [source], http={"timeout": 5, "max_mb": 5})
    with Store.open(config.database) as store:
        report = poll(config, store, clock=lambda: NOW, env={}, sleep=lambda s: None)
        assert report.ok, [s.error for s in report.sources]
        items = {s.item.id: s.item for s in store.iter_items()}
        record = publish_week(store, config, Week.parse(WEEK), now=NOW + timedelta(hours=1))[0]
    assert record.items == len(items)
    return (config.digests / record.path).read_text(encoding="utf-8"), items


def source_for(kind: str, server: Server) -> dict:
    if kind == "pubmed":
        papers = eutils.Eutils(server)
        papers.add(TODAY, pubmed_articles())
        return pubmed(papers.url, query="k")
    if kind == "rss":
        return rss(feeds.Feed(server, items=feed_entries()).url, name="feed")
    if kind == "clinicaltrials":
        trials = ctgov.ClinicalTrials(server)
        trials.add(*studies())
        return configs.clinicaltrials(trials.url, near=[{"city": "Chicago", "state": "Illinois"}])
    if kind == "europepmc":
        search = epmc.EuropePMC(server)
        search.add(*search_results())
        return configs.europepmc(search.url)
    recalls = fda.OpenFDA(server)
    recalls.records("drug/enforcement", recall_records())
    return openfda(recalls.url, endpoints=["drug/enforcement"], search=["ketamine"])


@pytest.mark.parametrize("kind", ["pubmed", "rss", "openfda", "clinicaltrials", "europepmc"])
def test_hostile_text_is_inert_in_the_rendered_digest(tmp_path, upstream, kind):
    markdown, items = poll_and_digest(tmp_path, source_for(kind, upstream))
    page = Page()
    page.feed(render(markdown))
    page.close()

    # Only what the template makes: one title, known section headings, lists, quotes, the table.
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS, {tag for tag, _ in page.tags} - ALLOWED_TAGS
    assert [h for h in page.headings if h[0] == "h1"] == [("h1", f"Literature watch {WEEK}")]
    assert {re.sub(r" \(\d+\)$", "", text) for tag, text in page.headings if tag == "h2"} <= SECTION_TITLES | {"Sources"}
    for tag, attrs in page.tags:
        for name, value in attrs:
            assert not name.lower().startswith("on"), (tag, name, value)
            if tag == "a":
                assert name == "href", (tag, name)
            else:
                assert tag in ("th", "td") and name == "style" and re.fullmatch(r"text-align:(left|right|center)", value or ""), (tag, name, value)

    check_links_and_text(page, items, kind)
    assert not INVISIBLE.search(markdown)

    # The 100 kB title is stored whole (openFDA's titles are made by the source, from a cut
    # description) but shown cut: no line of the digest is longer than a few kB.
    assert any(len(it.title) > 100_000 for it in items.values()) or kind == "openfda"
    assert max(len(line) for line in markdown.splitlines()) < 4000


def check_links_and_text(page: Page, items: dict, kind: str, ours: tuple[str, ...] = ()) -> None:
    """Links: http(s) only, and only the item's own link or one we build from its identifiers
    (compared as the source gave them, percent-decoded: renderers normalise the encoding), plus
    our own relative file names in `ours`. Every hostile string there as text; nothing invisible."""
    given = [u for it in items.values() for u in (it.url, it.doi and f"https://doi.org/{it.doi}")
             if u and urlsplit(u).scheme in ("http", "https")]
    hrefs = [value or "" for tag, attrs in page.tags if tag == "a" for name, value in attrs if name == "href"]
    # Ours: our own file names, and the contents' links to the page's own headings (they cannot leave it).
    links = [h for h in hrefs if h not in ours and not re.fullmatch(r"#[a-z0-9-]+", h)]
    assert len(links) == len(given)
    for href in links:
        assert urlsplit(href).scheme in ("http", "https") and urlsplit(href).hostname, href
        assert unquote(href) in {unquote(plain(u)) for u in given}, href
    if kind == "rss":  # the javascript:, data: and vbscript: links made no link, and no item holds them
        assert not any(it.url.startswith(("javascript", "data", "vbscript")) for it in items.values())
        assert sum(1 for it in items.values() if not it.url) == 3
    text = "".join(page.text)
    for key, payload in HOSTILE.items():
        if kind == "rss" and key == "c1-controls":
            continue  # feedparser reads C1 controls as windows-1252 ("\x9b" becomes "›"): text, but not this text
        assert plain(payload) in text, key
    assert not INVISIBLE.search(text)


# What the HTML templates make, and the attributes each may carry; nothing else may appear.
HTML_TAGS: dict[str, set[str]] = {
    "html": {"lang"}, "head": set(), "meta": {"charset", "name", "content"}, "title": set(), "style": set(),
    "body": set(), "main": set(), "h1": {"id"}, "h2": set(), "p": {"class", "id"}, "strong": {"class"}, "em": set(),
    "a": {"href"}, "br": set(), "table": set(), "thead": set(), "tbody": set(), "tr": {"id"}, "th": {"class"},
    "td": {"class"}, "section": {"id", "class"}, "ol": {"class"}, "ul": {"class"}, "li": {"id"}, "div": {"class", "id"},
    "span": {"class", "id"}, "blockquote": set(), "nav": {"class"}, "details": {"id"}, "summary": set(),
}


def check_html(markup: str, items: dict, kind: str, ours: tuple[str, ...] = ("index.html",)) -> Page:
    page = Page()
    page.feed(markup)
    page.close()
    for tag, attrs in page.tags:
        assert tag in HTML_TAGS, tag
        for name, value in attrs:
            assert name in HTML_TAGS[tag], (tag, name, value)
            if name in ("id", "class"):
                assert re.fullmatch(r"[a-z0-9 -]+", value or ""), (tag, name, value)
    assert [h for h in page.headings if h[0] == "h1"] == [("h1", f"Literature watch {WEEK}")]
    check_links_and_text(page, items, kind, ours=ours)
    return page


@pytest.mark.parametrize("kind", ["pubmed", "rss", "openfda"])
def test_hostile_text_is_inert_in_the_html_page_and_the_atom_feed(tmp_path, upstream, kind):
    _markdown, items = poll_and_digest(tmp_path, source_for(kind, upstream))
    folder = tmp_path / "digests"
    page = check_html((folder / f"{WEEK}.html").read_text(encoding="utf-8"), items, kind)
    assert "".join(page.text).count("Literature watch") >= 2  # the <title> and the heading
    # The feed carries the same body as escaped HTML text; read it as a feed reader gets it.
    feed = etree.fromstring((folder / "feed.xml").read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    atom = "{http://www.w3.org/2005/Atom}"
    [content] = feed.findall(f"{atom}entry/{atom}content")
    assert content.get("type") == "html"
    check_html(content.text or "", items, kind)


def check_text(text: str, items: dict, kind: str, ours: tuple[str, ...] = ()) -> None:
    """Plain text: every hostile string there as text (wrapping may move a line break into it, so
    compared word by word), nothing invisible, and every line that is a link alone (our lines for
    links) one the source gave for an item, percent-encoded where a mail client would end it."""
    assert not INVISIBLE.search(text)
    words = " ".join(text.split())
    for key, payload in HOSTILE.items():
        if kind == "rss" and key == "c1-controls":
            continue  # as above
        assert " ".join(plain(payload).split()) in words, key
    given = {unquote(plain(u)) for it in items.values() for u in (it.url,) if u and urlsplit(u).scheme in ("http", "https")}
    links = [line.strip() for line in text.splitlines() if re.fullmatch(r" *https?://\S+", line)]
    assert links and all(unquote(link) in given | set(ours) for link in links), links
    assert not any(re.search(r"[\s<>\"]", link) for link in links)


@pytest.mark.parametrize("kind", ["pubmed", "rss", "openfda", "clinicaltrials", "europepmc"])
def test_hostile_text_is_inert_in_the_mails_text_part(tmp_path, upstream, kind):
    poll_and_digest(tmp_path, source_for(kind, upstream))
    config = write_config(tmp_path, [source_for(kind, upstream)], http={"timeout": 5, "max_mb": 5},
                          site_url="https://clinic.example/watch/")
    with Store.open(config.database) as store:
        items = {s.item.id: s.item for s in store.iter_items()}
        text = plaintext.render_week(build_view(store, config, Week.parse(WEEK)), base=config.site_url)
    check_text(text, items, kind, ours=(f"https://clinic.example/watch/{WEEK}.html", "https://clinic.example/watch/index.html"))
    # A 100 kB title is cut, and no line but a link is wider than the mail's width.
    assert all(len(line) <= plaintext.WIDTH for line in text.splitlines() if " " in line.strip())


def test_hostile_text_in_the_headline_and_the_failures_is_inert_in_every_format(tmp_path):
    """What the headline and the block of failures repeat: a listed paper's title (a correction),
    and a failing source's error, which carries an upstream's own words."""
    config = write_config(tmp_path, [configs.pubmed(), configs.pubmed(name="other")], site_url="https://clinic.example/watch/")
    payload = " ".join(HOSTILE[k] for k in ("js-link", "script", "pipes", "bidi"))  # short enough to be shown whole
    paper = eutils_item(f"Ketamine {payload}")
    before, now = NOW - timedelta(days=7), NOW
    with Store.open(config.database) as store:
        store.save_batch("pubmed", [(paper, KEPT)], now=before)
        store.save_batch("pubmed", [(replace(paper, publication_types=("Retracted Publication",)), KEPT)], now=now)
        store.record_poll(PollRecord("pubmed", utc_iso(now), True))
        store.record_poll(PollRecord("other", utc_iso(now), False, error=f"127.0.0.1:9: HTTP 500: {payload} {C0}"))
        publish_week(store, config, Week.parse(WEEK), now=now)
        view = build_view(store, config, Week.parse(WEEK))
        text = plaintext.render_week(view, base=config.site_url)
    assert view.headline.corrections and view.failures
    markdown = (config.digests / f"{WEEK}.md").read_text(encoding="utf-8")
    head = markdown[:markdown.index("Contents:")]  # the headline and the failures
    page = Page()
    page.feed(render(head))
    page.close()
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS and not any(tag == "a" for tag, _ in page.tags), page.tags
    shown = " ".join("".join(page.text).split())
    assert shown.count(" ".join(plain(payload).split())) == 2 and not INVISIBLE.search(head)
    body = (config.digests / f"{WEEK}.html").read_text(encoding="utf-8")
    checked = Page()
    checked.feed(body)
    checked.close()
    for tag, attrs in checked.tags:
        assert tag in HTML_TAGS and all(name in HTML_TAGS[tag] for name, _ in attrs), (tag, attrs)
    hrefs = {value for tag, attrs in checked.tags if tag == "a" for name, value in attrs if name == "href"}
    assert {h for h in hrefs if not (h or "").startswith("#")} == {"index.html", paper.url, "2026-W47.html#item-pubmed-42000100"}
    assert " ".join("".join(checked.text).split()).count(" ".join(plain(payload).split())) >= 3  # headline, failures, notice
    assert " ".join(text.split()).count(" ".join(plain(payload).split())) >= 3 and not INVISIBLE.search(text)
    feed = etree.fromstring((config.digests / "feed.xml").read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    summary = feed.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}summary")
    assert summary.get("type") == "text" and " ".join(plain(payload).split()) in " ".join(summary.text.split())
    assert not INVISIBLE.search(summary.text)


# ---- the feed checks that refuse truncated and deeply nested feeds accept every real shape ----

FEED = feeds.rss_body(feeds.entries(2, "f"))


@pytest.mark.parametrize("body", [
    FEED,
    FEED + b"<!-- generated 2026-11-24 -->\n<?pi done?>\n\n",
    "\ufeff".encode("utf-16-le") + FEED.decode().replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16-le"),
    FEED.replace(b"<description>Ketamine news for the clinic.</description>",
                 b"<description><![CDATA[" + b"<p>para<br>" * 400 + b"]]></description>", 1),
    b'<?xml version="1.0"?><atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:title>t</atom:title>'
    b"<atom:entry><atom:id>urn:1</atom:id><atom:title>Ketamine</atom:title></atom:entry></atom:feed>",
    b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
    b'<channel rdf:about="x"><title>t</title></channel><item rdf:about="https://example.org/1"><title>Ketamine</title>'
    b"<link>https://example.org/1</link></item></rdf:RDF>",
], ids=["plain", "trailing-comment-and-pi", "utf-16", "cdata-with-400-unclosed-tags", "prefixed-atom", "rss-1.0-rdf"])
def test_real_feed_shapes_pass_the_truncation_and_depth_checks(body):
    assert len(parse_feed(body, source="f", feed_url="https://example.org/feed")) >= 1


@pytest.mark.parametrize(("body", "depth"), [
    (b"<a" * 1_000_000, 0),  # tags that never close: no "<" is crossed, so no element
    (b"<" * 2_000_000, 0),
    (b"<![CDATA[" * 200_000, 0),  # all inside the first CDATA section
    (b"<x>" * 1_000_000, MAX_DEPTH + 1),  # counting stops past the limit
    (b"<r>" + b"<a></a>" * 300_000 + b"</r>", 2),
], ids=["unclosed-tags", "only-lt", "nested-cdata", "deep", "wide"])
def test_the_depth_check_is_right_on_pathological_input(body, depth):
    # Its time is linear in the input: benchmarks/time_bounds.py measures it against a real feed's.
    assert nesting(body) == depth


def test_the_depth_and_end_checks_on_plain_input():
    assert nesting(b"<r><a/><b></b><br><c></c></r>") == 2
    assert closes(b"<rss></rss>\n<!-- a -->\n", "rss") and not closes(b"<rss><item>", "rss")
    assert closes(b"<rss></rss>\n<!-- a -->\n", "rss") and not closes(b"<rss><item>", "rss")
