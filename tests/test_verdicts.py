"""The verdict rules (article/verdicts.py, pure), the facts' links to claims in feeds.yaml, the
editors' records (`watcher claim`), the references in CSL styles and the safety of the dossier and
the annotated article against hostile text."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.article_page import article_text, default_article, default_topic
from tests.configs import feeds_document, openfda, pubmed, write_config
from watcher.article.verdicts import (
    CONTRADICTED,
    GONE,
    NEW_EVIDENCE,
    UNCHANGED,
    EvidenceItem,
    PageState,
    relative_wording,
    verdict,
    verdicts,
)
from watcher.cli import main
from watcher.config import parse
from watcher.errors import ConfigError
from watcher.export.cite import references, style_name
from watcher.regulatory.settings import Fact
from watcher.store import ClaimResolution

FDA = "Last March, the FDA approved ketamine as a treatment for depression"
RECORD = Fact("FDA approved esketamine nasal spray in 2019.", "2019-03-05", "https://regulator.example/approval",
              contradicts=("fda-approval",))
SUPPORT = Fact("A trial found effects for weeks.", "2024-01", "https://regulator.example/trial", supports=("durable-effect",))


@pytest.fixture(scope="module")
def claims():
    raw = feeds_document([pubmed()], topics=default_topic(), article=default_article())
    return parse(raw, base=Path("/tmp"), path=Path("feeds.yaml")).article.claims


def page(text: str | None = None, *, changed_at: str = "2026-11-24T18:00:00Z", earlier: tuple[str, ...] = ()) -> PageState:
    if text is None:
        return PageState(watched=False)
    return PageState(True, text, "2026-11-10", changed_at[:10], changed_at, earlier)


def item(n: int, listed_at: str, section: str = "rct", **kw) -> EvidenceItem:
    return EvidenceItem(f"pubmed:{n}", f"Item {n}", None, section, listed_at, "2026-W48", **kw)


def record(action: str, at: str, text: str = FDA, claim: str = "fda-approval") -> ClaimResolution:
    return ClaimResolution(claim, action, "Ana", "page corrected", text, at)


# ---- the rules ----


def test_a_contradicted_claim_quotes_the_page_sentence_and_the_record(claims):
    fda = claims[0]
    found = verdict(fda, [RECORD, SUPPORT], page(article_text()), [], [])
    assert found.kind == CONTRADICTED and found.contradicting[0].date == "2019-03-05" and found.supporting == ()
    assert found.page_says == f"{FDA} – a change that could help thousands of sufferers."
    assert [(s.phrase, s.first_seen, s.record_date) for s in found.stale] == [("Last March", "2026-11-10", "2019-03-05")]


def test_the_page_sentence_is_quoted_as_visible_text(claims):
    """The page is from the network: a bidi override or a control inside the sentence is not quoted."""
    text = f"Intro.\n{FDA} \u202eevil\u202c end\x1b[2J. Next."
    found = verdict(claims[0], [RECORD], page(text), [], [])
    assert found.page_says == f"{FDA} evil end[2J."


def test_the_page_not_watched_still_contradicts_but_cannot_quote_it(claims):
    found = verdict(claims[0], [RECORD], page(None), [], [])
    assert found.kind == CONTRADICTED and found.page_says is None and found.stale[0].first_seen is None
    assert found.since is None  # no baseline: every item since the watch began


def test_no_longer_on_the_page_comes_before_contradicted(claims):
    edited = article_text().replace(FDA, "In 2019 the FDA approved esketamine")
    found = verdict(claims[0], [RECORD], page(edited, earlier=(article_text(),)), [], [])
    assert (found.kind, found.removed) == (GONE, True)
    never = verdict(claims[0], [RECORD], page(edited), [], [])
    assert (never.kind, never.removed) == (GONE, False)


def test_a_resolution_holds_for_the_wording_it_was_given_and_a_reopen_undoes_it(claims):
    fda = claims[0]
    resolved = [record("resolved", "2026-11-25T10:00:00Z")]
    found = verdict(fda, [RECORD], page(article_text()), [], resolved)
    assert found.kind == UNCHANGED and found.resolved and found.since_what == "an editor's record" and found.since == "2026-11-25"
    reopened = [*resolved, record("reopened", "2026-11-26T10:00:00Z")]
    assert verdict(fda, [RECORD], page(article_text()), [], reopened).kind == CONTRADICTED
    other_wording = [record("resolved", "2026-11-25T10:00:00Z", text="Last March, the FDA approved it")]
    assert verdict(fda, [RECORD], page(article_text()), [], other_wording).kind == CONTRADICTED


def test_new_evidence_counts_since_the_baseline_strongest_kind_first(claims):
    durable = claims[1]
    evidence = [item(1, "2026-11-20T00:00:00Z", "rct"),  # before the page last changed: not new
                item(2, "2026-11-25T00:00:00Z", "review"), item(3, "2026-11-26T00:00:00Z", "synthesis"),
                item(4, "2026-11-27T00:00:00Z", "rct", flags=("RETRACTED",))]
    found = verdict(durable, [SUPPORT], page(article_text()), evidence, [], day=lambda s: s[:10])
    assert found.kind == NEW_EVIDENCE and found.new == 3 and found.since == "2026-11-24"
    assert found.counts == (("Meta-analyses and systematic reviews", 1), ("Randomised controlled trials", 1), ("Reviews", 1))
    assert found.strongest.id == "pubmed:3" and found.supporting[0].date == "2024-01"
    assert verdict(durable, [], page(article_text()), evidence[:1], []).kind == UNCHANGED


def test_verdicts_list_what_needs_a_look_first(claims):
    edited = article_text().replace("persistent effects for several weeks", "effects")
    found = verdicts(claims, [RECORD], page(edited, earlier=(article_text(),)), {"mechanism": [item(5, "2026-11-30T00:00:00Z")]}, [])
    assert [(v.claim_id, v.kind) for v in found][:3] == [("fda-approval", CONTRADICTED), ("durable-effect", GONE),
                                                         ("mechanism", NEW_EVIDENCE)]


@pytest.mark.parametrize(("text", "phrases"), [
    (FDA, ("Last March",)),
    ("A new treatment recently approved, now widely used", ("new", "recently", "now")),
    ("Approved three years ago, and this year again", ("three years ago", "this year")),
    ("Approved in March 2019 for adults; renewed in 2024", ()),
    ("The news: renewal of the newsletter", ()),  # whole words only
])
def test_relative_wording(text, phrases):
    assert relative_wording(text) == phrases


# ---- feeds.yaml: facts name claims ----


def config_with(facts, article=True):
    raw = feeds_document([openfda("http://127.0.0.1:9/")], topics=default_topic(),
                         regulatory={"products": [{"name": "P", "application": "NDA211243"}], "facts": facts},
                         article=default_article() if article else None)
    return parse(raw, base=Path("/tmp"), path=Path("feeds.yaml"))


FACT = {"statement": "S.", "date": "2019-03-05", "source": "https://regulator.example/s"}


@pytest.mark.parametrize(("fact", "article", "path", "message"), [
    ({**FACT, "contradicts": ["fda-aproval"]}, True, "regulatory.facts[0].contradicts[0]",
     "'fda-aproval' is not the id of a claim in article.claims; known: fda-approval, durable-effect"),
    ({**FACT, "supports": ["durable-effect"]}, False, "regulatory.facts[0].supports[0]", "but feeds.yaml has no `article` block"),
    ({**FACT, "contradicts": "fda-approval"}, True, None, None),  # one id alone is a list of one
    ({**FACT, "contradicts": ["Bad Id"]}, True, "regulatory.facts[0].contradicts[0]", "claim id 'Bad Id' must be"),
    ({**FACT, "contradicts": ["fda-approval"], "supports": ["fda-approval"]}, True, "regulatory.facts[0].supports",
     "also under contradicts"),
    ({**FACT, "contradicts": []}, True, "regulatory.facts[0].contradicts", "must be a non-empty list"),
])
def test_facts_name_claims_that_exist(fact, article, path, message):
    if path is None:
        assert config_with([fact], article).regulatory.facts[0].contradicts == ("fda-approval",)
        return
    with pytest.raises(ConfigError) as caught:
        config_with([fact], article)
    assert caught.value.path == path and message in caught.value.message, str(caught.value)


def test_the_shipped_facts_contradict_the_fda_claim():
    from tests.article_page import FEEDS
    from watcher.config import load

    config = load(FEEDS)
    linked = [f.statement[:40] for f in config.regulatory.facts if "fda-approval" in f.contradicts]
    assert len(linked) == 2 and linked[0].startswith("FDA approved Spravato") and linked[1].startswith("Ketamine is not FDA-approved")
    assert config.crossref is not None and config.crossref.url == "https://api.crossref.org/"


# ---- the editors' records through the CLI ----


def test_claim_resolve_keeps_who_when_and_every_record(tmp_path):
    config = write_config(tmp_path, [openfda("http://127.0.0.1:9/")], topics=default_topic(), article=default_article(),
                          regulatory={"products": [{"name": "P", "application": "NDA211243"}],
                                      "facts": [{**FACT, "contradicts": ["fda-approval"]}]})
    args = ["--config", str(config.path), "claim"]

    def run(*more: str) -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = main([*args, *more])
        return code, out.getvalue()

    assert run("show", "fda-approval")[1].startswith("fda-approval: contradicted\n  the record says (2019-03-05): S.")
    code, said = run("resolve", "fda-approval", "--by", "Ana Ruiz", "--note", "sentence corrected")
    assert code == 0 and re.fullmatch(r"claim fda-approval: resolved by Ana Ruiz at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n", said)
    assert run("show", "fda-approval")[1].startswith("fda-approval: unchanged since an editor's record on ")
    assert run("reopen", "fda-approval", "--by", "Ben")[0] == 0
    code, shown = run("show", "fda-approval")
    assert shown.startswith("fda-approval: contradicted") and "resolved by Ana Ruiz: sentence corrected" in shown and "reopened by Ben" in shown
    assert run("resolve", "no-such-claim", "--by", "Ana")[0] == 2
    assert run("resolve", "fda-approval")[0] == 2  # who is required


def test_the_store_keeps_every_record_in_order(tmp_path):
    from watcher.store import Store

    with Store.open(tmp_path / "w.db") as store:
        t = datetime(2026, 11, 24, 12, tzinfo=UTC)
        store.resolve_claim("a", "Ana", "", t, text="x")
        store.resolve_claim("a", "Ben", "why", t + timedelta(hours=1), text="x", action="reopened")
        store.resolve_claim("b", "Ana", "", t + timedelta(hours=2), text="y")
        assert [(r.by, r.action) for r in store.claim_resolutions("a")] == [("Ana", "resolved"), ("Ben", "reopened")]
        assert [r.claim_id for r in store.claim_resolutions(before=t + timedelta(minutes=30))] == ["a"]
        with pytest.raises(ValueError):
            store.resolve_claim("a", "Ana", "", t, text="x", action="deleted")


# ---- references in CSL styles ----

ITEM = {"id": "pubmed:1", "type": "article-journal", "title": "Esketamine for depression: a trial",
        "author": [{"family": "Smith", "given": "J. A."}, {"family": "Doe", "given": "J."}, {"literal": "ENIGMA Consortium"}],
        "container-title": "JAMA Psychiatry", "issued": {"date-parts": [[2024, 3, 5]]}, "DOI": "10.1001/x.1", "PMID": "38000001"}


@pytest.mark.parametrize(("style", "expected"), [
    ("ama", "Smith JA, Doe J, ENIGMA Consortium. Esketamine for depression: a trial. JAMA Psychiatry. Published online March 5, 2024."
            " doi:10.1001/x.1"),
    # The date's spaces are the style's own (citeproc-py alone writes "2024Mar5"): cite.py mends it.
    ("vancouver", "Smith JA, Doe J, ENIGMA Consortium. Esketamine for depression: a trial. JAMA Psychiatry. 2024 Mar 5."
                  " doi:10.1001/x.1 PubMed PMID: 38000001."),
    ("apa", "Smith, J. A., Doe, J., & ENIGMA Consortium. (2024). Esketamine for depression: a trial. JAMA Psychiatry."
            " https://doi.org/10.1001/x.1"),
])
def test_references_in_the_three_styles(style, expected):
    text = references([ITEM], style_name(style, "article.citation_style"))["pubmed:1"]
    assert text.startswith(expected), text
    assert not re.match(r"^\d", text)  # a numeric style's "1." is dropped


def test_an_unknown_style_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^article\.citation_style: no CSL style named 'chicago-fantasy'"):
        style_name("chicago-fantasy", "article.citation_style")
    with pytest.raises(ConfigError):
        style_name("../../etc/passwd", "article.citation_style")
    assert style_name("nature", "x") == "nature"  # any packaged style by its file name


# ---- hostile text in the dossier and the annotated article ----


def test_hostile_titles_stay_inert_in_the_dossier_and_the_annotated_article(tmp_path):
    from markdown_it import MarkdownIt

    from watcher.digest.publish import publish_week
    from watcher.model import Item
    from watcher.relevance.match import match
    from watcher.store import Store
    from watcher.weeks import Week

    config = write_config(tmp_path, [pubmed()], topics=default_topic(), article=default_article())
    evil = "Sustained relapse <script>alert(1)</script> [x](javascript:alert(1)) ~~ketamine~~ depression"
    hostile = Item(id="pubmed:66", source="pubmed", url="javascript:alert(1)", title=evil, abstract="Ketamine for depression.",
                   authors=("<img src=x onerror=alert(1)> X",), journal="J <b>", date="2026-11-20")
    with Store.open(config.database) as store:
        store.save_batch("pubmed", [(hostile, match(hostile, config.topics))], now=datetime(2026, 11, 24, 18, tzinfo=UTC))
        publish_week(store, config, Week.parse("2026-W48"), now=datetime(2026, 11, 24, 19, tzinfo=UTC))
    dossier = (config.digests / "claims" / "durable-effect.md").read_text(encoding="utf-8")
    rendered = MarkdownIt("gfm-like").render(dossier)
    assert "<script>" not in rendered and "<img" not in rendered and "javascript:" not in "".join(re.findall(r'href="([^"]*)"', rendered))
    page = (config.digests / "claims" / "durable-effect.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<img src=x" not in page
    assert 'href="javascript' not in page
    assert date(2026, 11, 24)  # the week's files were written too
