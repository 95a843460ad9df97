"""The article's claims: feeds.yaml's `article` block validated, claims matched to items (pure),
the editors' section of the digest in Markdown and HTML, and each item's claims in the export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.article_page import article_text, default_article, default_topic
from tests.configs import feeds_document, pubmed, write_config
from watcher.article.claims import matching
from watcher.article.page_text import comparable, contains
from watcher.config import parse
from watcher.digest import html
from watcher.digest.publish import render
from watcher.digest.view import build_view
from watcher.errors import ConfigError
from watcher.export.items import write_csv, write_jsonl
from watcher.model import Item
from watcher.relevance.match import match
from watcher.store import Store
from watcher.weeks import Week

CHICAGO = ZoneInfo("America/Chicago")
WEEK = "2026-W48"
TUESDAY = Week.parse(WEEK).bounds(CHICAGO)[0] + timedelta(days=1, hours=9)

TWO_CLAIMS = {
    "claims": [
        {"id": "durable-effect", "text": "persistent effects for several weeks",
         "groups": {"effect": ["durab*", "sustain*", "persist*", "relaps*", "long-term"]}},
        {"id": "mechanism", "text": "acts on the NMDA receptors", "terms": ["NMDA*", "glutamat*"]},
        {"id": "weight-gain", "text": "it does not cause weight gain", "terms": ["weight gain", "body weight"]},
    ]
}


def item(n: int, title: str, abstract: str = "", **kw) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
                abstract=abstract, **kw)


def load_article(article, **top):
    """The article block through the real parser, with the clinic's topic (its false friends)."""
    raw = feeds_document([pubmed()], topics=default_topic(), article=article, **top)
    return parse(raw, base=Path("/tmp"), path=Path("feeds.yaml"))


# ---- the block validated ----

BROKEN = [
    ("not a mapping", ["x"], "article", "must be a mapping with `claims`"),
    ("no claims", {"url": "https://clinic.example/k"}, "article.claims", "is required but missing"),
    ("empty claims", {"claims": []}, "article.claims", "must be a non-empty list of claims"),
    ("unknown key", {"claims": [{"id": "a", "text": "x y", "terms": ["t"]}], "pages": 1}, "article.pages", "unknown key"),
    ("claim not a mapping", {"claims": ["the FDA approved it"]}, "article.claims[0]", "must be a mapping with id, text"),
    ("claim unknown key", {"claims": [{"id": "a", "text": "x", "terms": ["t"], "term": ["u"]}]}, "article.claims[0].term", "unknown key"),
    ("no id", {"claims": [{"text": "x", "terms": ["t"]}]}, "article.claims[0].id", "is required but missing"),
    ("bad id", {"claims": [{"id": "FDA Approval", "text": "x", "terms": ["t"]}]}, "article.claims[0].id", "claim id 'FDA Approval' must be 1-40 lower-case"),
    ("duplicate id", {"claims": [{"id": "a", "text": "x", "terms": ["t"]}, {"id": "a", "text": "y", "terms": ["u"]}]},
     "article.claims[1].id", "'a' is already the id of article.claims[0]; ids must be unique"),
    ("no text", {"claims": [{"id": "a", "terms": ["t"]}]}, "article.claims[0].text", "is required but missing"),
    ("empty text", {"claims": [{"id": "a", "text": "  ", "terms": ["t"]}]}, "article.claims[0].text", "must not be empty"),
    ("text of punctuation", {"claims": [{"id": "a", "text": "“—?!”", "terms": ["t"]}]}, "article.claims[0].text", "has no words to find on the page"),
    ("text a number", {"claims": [{"id": "a", "text": 12, "terms": ["t"]}]}, "article.claims[0].text", "must be text, not int 12"),
    ("neither terms nor groups", {"claims": [{"id": "a", "text": "x"}]}, "article.claims[0]", "needs either `terms`"),
    ("both terms and groups", {"claims": [{"id": "a", "text": "x", "terms": ["t"], "groups": {"g": ["u"]}}]},
     "article.claims[0]", "not both"),
    ("empty terms", {"claims": [{"id": "a", "text": "x", "terms": []}]}, "article.claims[0].terms", "is empty: add at least one term"),
    ("terms not a list", {"claims": [{"id": "a", "text": "x", "terms": "FDA"}]}, "article.claims[0].terms", "must be a list of terms"),
    ("wildcard inside a word", {"claims": [{"id": "a", "text": "x", "terms": ["ap*prov"]}]}, "article.claims[0].terms[0]", "wildcard * may only end a word"),
    ("unbalanced quote", {"claims": [{"id": "a", "text": "x", "terms": ['"weight gain']}]}, "article.claims[0].terms[0]", "unbalanced double quote"),
    ("duplicate term", {"claims": [{"id": "a", "text": "x", "terms": ["FDA", "fda"]}]}, "article.claims[0].terms[1]", "duplicates article.claims[0].terms[0]"),
    ("empty group", {"claims": [{"id": "a", "text": "x", "groups": {"g": []}}]}, "article.claims[0].groups.g", "is an empty group"),
    ("groups not a mapping", {"claims": [{"id": "a", "text": "x", "groups": ["FDA"]}]}, "article.claims[0].groups", "must be a non-empty mapping"),
    ("bad group name", {"claims": [{"id": "a", "text": "x", "groups": {"Big Group": ["t"]}}]}, "article.claims[0].groups.Big Group", "group name"),
    ("group min_hits", {"claims": [{"id": "a", "text": "x", "groups": {"g": {"terms": ["t"], "min_hits": 0}}}]},
     "article.claims[0].groups.g.min_hits", "must be a whole number from 1 to 100"),
    ("url without scheme", {"url": "clinic.example/ketamine", "claims": [{"id": "a", "text": "x", "terms": ["t"]}]},
     "article.url", "must be a full http(s) URL with a host"),
    ("url of another scheme", {"url": "javascript:alert(1)", "claims": [{"id": "a", "text": "x", "terms": ["t"]}]},
     "article.url", "must be a full http(s) URL with a host"),
]


@pytest.mark.parametrize(("case", "article", "path", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_article_block_names_its_key_path(case, article, path, message):
    with pytest.raises(ConfigError) as caught:
        load_article(article)
    assert caught.value.path == path, str(caught.value)
    assert message in caught.value.message, str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_source_named_article_collides_with_the_page_watch_only_when_the_page_is_watched():
    claims = {"claims": [{"id": "a", "text": "x", "terms": ["t"]}]}
    raw = feeds_document([pubmed(name="article")], topics=default_topic(), article={**claims, "url": "https://clinic.example/k"})
    with pytest.raises(ConfigError, match=r"^article\.url: a source is already named 'article'"):
        parse(raw, base=Path("/tmp"), path=Path("feeds.yaml"))
    raw["article"] = claims
    assert parse(raw, base=Path("/tmp"), path=Path("feeds.yaml")).article


def test_the_default_claims_quote_the_page_and_are_valid():
    config = load_article(default_article())
    claims = config.article.claims
    assert [c.id for c in claims] == ["fda-approval", "durable-effect", "mechanism", "weight-gain", "stress-damage", "anxiety"]
    assert config.article.url is None  # the clinic's address is not known: the page is not watched by default
    page = comparable(article_text())
    assert [c.id for c in claims if not contains(page, comparable(c.text))] == []
    # The topics' false friends came along with the claims.
    assert all("long-term depress*" in c.rules.false_friends for c in claims)


def test_the_default_feeds_yaml_loads_with_its_article(tmp_path):
    from tests.article_page import FEEDS
    from watcher.config import load

    config = load(FEEDS)
    assert config.article is not None and len(config.article.claims) == 6


# ---- matching: pure, per item ----


@pytest.fixture
def claims():
    return load_article(TWO_CLAIMS).article.claims


def ids(found) -> list[str]:
    return [m.claim.id for m in found]


def test_an_item_may_bear_on_two_claims_and_a_claim_on_none(claims):
    both = item(1, "Sustained antidepressant response to NMDA receptor antagonists", "Relapse by week 4 was rare.")
    assert ids(matching(both, claims)) == ["durable-effect", "mechanism"]
    found = matching(both, claims)
    assert found[0].terms == ("sustain*", "relaps*") and found[1].terms == ("NMDA*",)
    assert matching(item(2, "Ketamine for depression: a pilot study"), claims) == ()


def test_the_topics_false_friends_hide_a_claim_term(claims):
    synapses = item(3, "Ketamine reverses long-term depression at hippocampal synapses in depressed rats")
    assert ids(matching(synapses, claims)) == []  # "long-term depression" is a false friend of the topic
    durable = item(4, "Long-term outcomes of ketamine for depression")
    assert ids(matching(durable, claims)) == ["durable-effect"]


def test_every_group_of_a_claim_needs_a_term():
    config = load_article({"claims": [{"id": "fda", "text": "the FDA approved it",
                                       "groups": {"who": ["FDA"], "what": ["approv*", "label*"]}}]})
    claims = config.article.claims
    assert ids(matching(item(1, "FDA safety communication on esketamine"), claims)) == []
    assert ids(matching(item(2, "FDA approves a label change for esketamine"), claims)) == ["fda"]


def test_claims_match_the_same_fields_as_topics_and_keep_terms_case_insensitive(claims):
    by_mesh = item(5, "Ketamine for depression", mesh_headings=("Receptors, N-Methyl-D-Aspartate",), keywords=("glutamate",))
    assert ids(matching(by_mesh, claims)) == ["mechanism"]
    assert {(h.field, h.text) for h in matching(by_mesh, claims)[0].hits} == {("keywords", "glutamate")}


# ---- the editors' section of the digest ----


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, [pubmed()], topics=default_topic(), article=TWO_CLAIMS)


def keep(store: Store, config, *items: Item, now=TUESDAY) -> None:
    store.save_batch("pubmed", [(i, match(i, config.topics)) for i in items], now=now)


WEEK_ITEMS = (
    item(11, "Sustained antidepressant response to ketamine and NMDA receptor occupancy: a randomized trial",
         "Ketamine in depression. Relapse was rare.", publication_types=("Randomized Controlled Trial",), date="2026-11-20"),
    item(12, "Esketamine and glutamate in treatment-resistant depression", "Ketamine, esketamine for depression.",
         publication_types=("Review",), date="2026-10"),
    item(13, "Ketamine for depression in primary care", "Ketamine and depression: a survey."),
)


def test_the_editors_section_lists_each_claim_with_its_items_and_names_the_quiet_ones(store, config):
    keep(store, config, *WEEK_ITEMS)
    view = build_view(store, config, Week.parse(WEEK))
    editors = view.editors
    assert [(c.id, [i.id for i in c.items]) for c in editors.claims] == [
        ("durable-effect", ["pubmed:11"]),
        ("mechanism", ["pubmed:11", "pubmed:12"]),  # in the digest's order: the trial's section first
    ]
    assert editors.quiet == ("weight-gain",)
    first = editors.claims[1].items[0]
    assert (first.evidence, first.date, first.terms) == ("Randomised controlled trials", "2026-11-20", ("NMDA*",))
    assert view.total == 3  # every item is still listed in its evidence section
    assert editors.page is None  # no article.url: the page is not watched

    text = render(store, config, Week.parse(WEEK))
    section = text[text.index("## For the editors"):]
    # Each claim named by its text; the whole sentence quoted only when the name had to shorten it.
    assert "### acts on the NMDA receptors (2)\n\n- [" in section
    assert ("- [Sustained antidepressant response to ketamine and NMDA receptor occupancy: a randomized trial]"
            "(https://pubmed.ncbi.nlm.nih.gov/11/) · Randomised controlled trials · 2026-11-20 · terms: NMDA\\*") in section
    assert "- [Esketamine and glutamate in treatment-resistant depression](https://pubmed.ncbi.nlm.nih.gov/12/) · Reviews · 2026-10 · terms: glutamat\\*" in section
    assert "\nNo new evidence this week for: “it does not cause weight gain”.\n" in section
    # After the evidence sections (the news first), before the sources; each item still listed there.
    assert text.index("## Randomised controlled trials (1)") < text.index("## For the editors") < text.index("| source |")
    assert text.count("](https://pubmed.ncbi.nlm.nih.gov/11/)") == 3

    page = html.render_body(view)
    assert page.index('<section id="section-rct">') < page.index('<section id="section-editors">') < page.index("</table>")
    assert '<h3 id="claim-mechanism">acts on the NMDA receptors (2)</h3>\n<ul>' in page  # the id stays the anchor
    assert '<li><a href="https://pubmed.ncbi.nlm.nih.gov/12/">Esketamine and glutamate in treatment-resistant depression</a> · Reviews · 2026-10 · terms: glutamat*</li>' in page
    assert '<p>No new evidence this week for: <span id="claim-weight-gain">“it does not cause weight gain”</span>.</p>' in page


def test_a_long_claim_is_named_by_the_start_of_its_sentence_and_quoted_whole(tmp_path):
    long = ("the treatment for depression can have persistent effects for several weeks following each treatment"
            " session in most of the patients who respond")
    config = write_config(tmp_path, [pubmed()], topics=default_topic(),
                          article={"claims": [{"id": "durable-effect", "text": long, "terms": ["relaps*"]}]})
    with Store.open(config.database) as store:
        keep(store, config, WEEK_ITEMS[0])
        text = render(store, config, Week.parse(WEEK))
        page = html.render_body(build_view(store, config, Week.parse(WEEK)))
    name = "the treatment for depression can have persistent effects for several weeks …"
    assert f"### {name} (1)\n\n> {long}\n" in text
    assert "durable-effect" not in text.replace("(claims/durable-effect.md)", "")  # named by its words; the id only links its dossier
    assert f'<h3 id="claim-durable-effect">{name} (1)</h3>\n<blockquote>{long}</blockquote>' in page


def test_a_week_without_evidence_names_every_claim_on_one_line(store, config):
    keep(store, config, WEEK_ITEMS[2])
    text = render(store, config, Week.parse(WEEK))
    assert ("No new evidence this week for: “persistent effects for several weeks”; “acts on the NMDA receptors”;"
            " “it does not cause weight gain”.\n") in text
    assert "\n### " not in text.replace("\n### Verdicts", "")  # no claim of its own: nothing new bears on any
    assert "- **“persistent effects for several weeks”: unchanged** since the watch began" in text


def test_no_article_block_no_editors_section(tmp_path):
    config = write_config(tmp_path, [pubmed()], topics=default_topic())
    with Store.open(config.database) as store:
        keep(store, config, *WEEK_ITEMS)
        assert build_view(store, config, Week.parse(WEEK)).editors is None
        assert "For the editors" not in render(store, config, Week.parse(WEEK))
        assert "For the editors" not in html.render_body(build_view(store, config, Week.parse(WEEK)))


def test_a_claim_edited_in_feeds_yaml_takes_effect_in_the_next_digest_without_a_poll(tmp_path):
    config = write_config(tmp_path, [pubmed()], topics=default_topic(), article=TWO_CLAIMS)
    with Store.open(config.database) as store:
        keep(store, config, *WEEK_ITEMS)
    edited = {"claims": [*TWO_CLAIMS["claims"][:2], {"id": "weight-gain", "text": "it does not cause weight gain",
                                                      "terms": ["primary care"]}]}
    config = write_config(tmp_path, [pubmed()], topics=default_topic(), article=edited)
    with Store.open(config.database) as store:
        claims = {c.id: [i.id for i in c.items] for c in build_view(store, config, Week.parse(WEEK)).editors.claims}
    assert claims["weight-gain"] == ["pubmed:13"]


def test_hostile_titles_stay_inert_in_the_editors_section(store, config):
    evil = item(20, "Relapse after ketamine [click](javascript:alert(1)) <script>alert(1)</script> | depression",
                "Ketamine for depression.")
    keep(store, config, evil)
    text = render(store, config, Week.parse(WEEK))
    section = text[text.index("## For the editors"):text.index("No new evidence")]
    assert "\\[click\\](javascript:alert(1)) \\<script\\>" in section and not re.search(r"(?<!\\)\]\(javascript", section)
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("gfm-like").render(section)
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert [h for h in hrefs if not h.startswith("claims/")] == ["https://pubmed.ncbi.nlm.nih.gov/20/"] and "<script>" not in rendered
    page = html.render_body(build_view(store, config, Week.parse(WEEK)))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---- the export ----


def test_export_lists_each_matched_items_claims(store, config):
    keep(store, config, *WEEK_ITEMS)
    keep(store, config, item(30, "Unrelated NMDA receptor chemistry"))  # not on topic: no claims either
    out = io.StringIO()
    write_jsonl(store, out, claims=config.article.claims)
    rows = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert {k: rows[k]["claims"] for k in rows} == {
        "pubmed:11": ["durable-effect", "mechanism"], "pubmed:12": ["mechanism"], "pubmed:13": [], "pubmed:30": []}
    out = io.StringIO()
    write_csv(store, out, claims=config.article.claims)
    by_id = {r["id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert by_id["pubmed:11"]["claims"] == "durable-effect; mechanism"


@pytest.mark.slow
def test_watcher_check_refuses_a_broken_claim_in_one_line(tmp_path):
    import subprocess
    import sys

    from tests.configs import write_feeds

    path = write_feeds(tmp_path, [pubmed()], topics=default_topic(),
                       article={"claims": [{"id": "a", "text": "x", "terms": ["ap*prov"]}]})
    done = subprocess.run([sys.executable, "-m", "watcher", "--config", str(path), "check"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert re.fullmatch(r"watcher: configuration error: article\.claims\[0\]\.terms\[0\]: wildcard \* may only end a word.*\n",
                        done.stderr)
