"""The hostile-text suite (tests/test_hostile.py) against every page of the workspace: hostile
titles, authors, abstracts, links, notes and page text, delivered over HTTP through each source
and the real poll, are shown as text on every page, the claims' verdicts, dossiers (with each
item's reference) and annotated article included, as are markup in a claim's and a fact's words and
an editor's record on the claim; nothing runs but the workspace's own script, no element or
attribute comes from the data, and every link is ours or one a source gave."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
import yaml

from tests.configs import OFFLINE, PRODUCTS, load, openfda
from tests.polls import NOW
from tests.test_hostile import HOSTILE, INVISIBLE, Page, poll_and_digest, source_for
from tests.workspace import KEY
from watcher.article.resolve import record_claim
from watcher.relevance.labels import Label
from watcher.store import Store
from watcher.text import plain
from watcher.web.app import create_app

PAGE_URL = "https://clinic.example/page"
FACT_SOURCE = "https://regulator.example/fact"
MARKUP = ("script", "img-onerror", "a-tag", "svg-onload", "entity", "js-link", "autolink")  # in feeds.yaml's own words
CLAIM = "anything at all " + " ".join(HOSTILE[k] for k in MARKUP)
FACT = "Not so: " + " ".join(HOSTILE[k] for k in MARKUP)
TAGS = {"del", "q", "html", "head", "meta", "title", "link", "script", "body", "header", "nav", "a", "div", "span", "form", "input",
        "button", "kbd", "p", "strong", "em", "main", "h1", "h2", "h3", "article", "blockquote", "section", "ul", "ol", "li",
        "label", "select", "option", "table", "thead", "tbody", "tr", "th", "td", "br", "mark", "code"}


def pages(ids: list[str]) -> list[str]:
    return ["/queue", "/queue?page=1", "/week?week=2026-W48", "/claims", "/claims/anything", "/claims/anything?page=1",
            "/article", "/search?q=ketamine", "/quality", *(f"/item?id={i}" for i in ids)]


@pytest.mark.parametrize("kind", ["pubmed", "rss", "openfda", "clinicaltrials", "europepmc"])
def test_hostile_text_is_inert_on_every_page(tmp_path, upstream, kind):
    _markdown, items = poll_and_digest(tmp_path, source_for(kind, upstream))
    raw = yaml.safe_load((tmp_path / "feeds.yaml").read_text(encoding="utf-8"))
    raw["article"] = {"url": PAGE_URL, "claims": [{"id": "anything", "text": CLAIM, "terms": ["*"]}]}
    raw["sources"].append(openfda(OFFLINE, name="fda-offline"))
    raw["regulatory"] = {"source": "fda-offline", "products": PRODUCTS,
                         "facts": [{"statement": FACT, "date": "2026-01", "source": FACT_SOURCE, "contradicts": ["anything"]}]}
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load(tmp_path / "feeds.yaml")
    assert config.article is not None
    with Store.open(config.database) as store:
        store.save_snapshot("article", PAGE_URL, {"url": PAGE_URL, "text": CLAIM + "\n" + "\n".join(HOSTILE.values())},
                            now=NOW)
        for n, (key, payload) in enumerate(HOSTILE.items()):  # an editor's records: who and why, as the CLI takes them
            record_claim(store, config.article, "anything", f"editor {key}", payload, NOW, action=("resolved", "reopened")[n % 2])
        record_claim(store, config.article, "anything", "editor", "", NOW, action="reopened")  # contradicted: the fact is shown
        notes = list(HOSTILE.values())
        store.add_labels([Label(i, "relevant" if n % 2 else "irrelevant", plain(notes[n % len(notes)]))
                          for n, i in enumerate(items)], now=NOW, user="ana")
    app = create_app(config, KEY, loopback=True)
    given = {unquote(plain(u)) for it in items.values() for u in (it.url, it.doi and f"https://doi.org/{it.doi}")
             if u and urlsplit(plain(u)).scheme in ("http", "https")} | {PAGE_URL, FACT_SOURCE}
    shown = []
    claims_page = ""
    with app.test_client() as client:
        for path in pages(list(items)):
            response = client.get(path)
            assert response.status_code == 200, path
            page = Page()
            page.feed(response.get_data(as_text=True))
            page.close()
            check(page, path, given)
            shown.append(" ".join("".join(page.text).split()))
            claims_page = shown[-1] if path == "/claims/anything" else claims_page
            assert not INVISIBLE.search(shown[-1]), (path, INVISIBLE.search(shown[-1]))
    app.extensions["watcher_stores"].close()
    text = " ".join(shown)
    for key, payload in HOSTILE.items():
        if kind == "rss" and key == "c1-controls":
            continue  # feedparser reads C1 controls as windows-1252: text, but not this text
        assert plain(payload) in text, key
        assert plain(payload) in claims_page, key  # the record's note, shown as text
    for key in MARKUP:  # the claim's and the fact's words, shown as text on the dossier
        assert HOSTILE[key] in claims_page.split("contradicted", 1)[1], key
    assert "“anything at all <script>alert(4)</script>" in claims_page and f"Not so: {HOSTILE['script']}" in claims_page
    assert not INVISIBLE.search(text)


def check(page: Page, path: str, given: set[str]) -> None:
    scripts = [dict(attrs) for tag, attrs in page.tags if tag == "script"]
    assert scripts == [{"src": "/static/keys.js", "defer": None}], path
    for tag, attrs in page.tags:
        assert tag in TAGS, (path, tag)
        for name, value in attrs:
            assert not name.lower().startswith("on") and name not in ("style", "srcdoc", "formaction"), (path, tag, name)
            if tag == "link":
                assert (name, value) in (("rel", "stylesheet"), ("href", "/static/style.css")), (path, name, value)
            if tag == "form" and name == "action":
                assert value in ("/decide", "/note", "/undo", "/signout", "/search", "/queue", "/claims/anything/resolve",
                                 "/claims/anything/reopen"), (path, value)
            if tag == "a" and name == "href":
                ours = (value or "").startswith("/") and not (value or "").startswith("//")
                assert ours or unquote(value or "") in given, (path, value)
