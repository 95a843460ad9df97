"""The clinic's page watched: reduced to its text (pure), fetched on each poll with a conditional
GET over a local server, changed (a claim removed, a claim edited), not modified, failing and
hostile; what `status` and the digest then say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.article_page import article_text, default_article, default_topic, html_page
from tests.configs import pubmed, write_config
from tests.polls import NOW, WEEK, run_poll
from tests.upstreams import faults
from tests.upstreams.eutils import Eutils
from tests.upstreams.pages import WebPage
from watcher.article.claims import ARTICLE
from watcher.article.page_text import comparable, contains, page_text
from watcher.digest import html
from watcher.digest.publish import render
from watcher.digest.view import build_view
from watcher.status import status
from watcher.store import Store
from watcher.weeks import Week

NEXT_WEEK = NOW + timedelta(days=7)  # Tuesday of 2026-W49
FDA = "Last March, the FDA approved ketamine as a treatment for depression"
DURABLE = "Researchers at the Mayo Clinic have asserted that the treatment for depression can have persistent effects for several weeks following each treatment session."


# ---- the page as text (pure) ----


def test_scripts_styles_head_navigation_and_hidden_parts_are_dropped():
    body = html_page("A claim the page makes.", extra_body=(
        '<div hidden>hidden words</div><div aria-hidden="true">aria words</div><ul role="navigation"><li>menu words</li></ul>'
        "<noscript>noscript words</noscript><template>template words</template><form>form words</form>"))
    text = page_text(body.encode(), "text/html; charset=utf-8")
    assert text == "Ketamine for depression\nA claim the page makes.\n© the clinic"
    for word in ("tracker", "color", "Home", "hidden", "aria", "menu", "noscript", "template", "form words"):
        assert word not in text


def test_blocks_end_lines_and_inline_markup_joins_as_a_browser_shows_it():
    body = b"<p>The <b>FDA</b> appro<i>ved</i> it.</p><ul><li>one</li><li>two</li></ul>SnO<sub>2</sub> film<br>next"
    assert page_text(body, "text/html") == "The FDA approved it.\none\ntwo\nSnO2 film\nnext"


def test_a_plain_text_page_is_its_text():
    assert page_text(b"  Line one \n\n<b>not markup</b>\n", "text/plain; charset=utf-8") == "Line one\n<b>not markup</b>"


@pytest.mark.parametrize(("body", "content_type"), [
    ("<p>Metropolitan Institute of Pain’s clinic – café</p>".encode(), "text/html; charset=ISO-8859-1"),  # UTF-8 labelled Latin-1
    ("<p>Metropolitan Institute of Pain’s clinic – café</p>".encode("cp1252"), "text/html; charset=utf-8"),  # cp1252 labelled UTF-8
    ('<meta charset="windows-1252"><p>Metropolitan Institute of Pain’s clinic – café</p>'.encode("cp1252"), "text/html"),
    ("\ufeff<p>Metropolitan Institute of Pain’s clinic – café</p>".encode(), None),  # a BOM, no header
    ("<p>Metropolitan Institute of Pain’s clinic – café</p>".encode("cp1252"), "text/html; charset=no-such-codec"),
    ("<p>Metropolitan Institute of Pain’s clinic – café</p>".encode("cp1252"), "text/html; charset=utf-16"),
], ids=["utf8-labelled-latin1", "cp1252-labelled-utf8", "meta-charset", "bom", "unknown-codec", "utf16-without-bom"])
def test_a_wrong_or_missing_charset_does_not_garble_the_text(body, content_type):
    assert page_text(body, content_type) == "Metropolitan Institute of Pain’s clinic – café"


def test_a_quote_is_found_ignoring_case_whitespace_punctuation_and_typographic_quotes():
    page = comparable("At Metropolitan Institute of Pain’s Pain Management Clinic\nin Chicago, our team — strives…")
    assert contains(page, comparable('metropolitan institute of PAIN\'S pain-management clinic in   Chicago our "team" strives'))
    assert contains(page, comparable("“Institute of Pain’s”"))
    assert not contains(page, comparable("Institute of Pain clinic"))  # words must follow each other
    assert not contains(page, comparable("stitute of"))  # whole words only
    assert not contains(page, comparable("?!"))  # nothing to find is not found


# ---- the page fetched on each poll ----


@pytest.fixture
def eutils(upstream):
    return Eutils(upstream)  # no records: the PubMed source is quiet and healthy


@pytest.fixture
def page(upstream):
    return WebPage(upstream, html_page(article_text()))


def config_for(tmp_path, eutils, url, **article):
    return write_config(tmp_path, [pubmed(eutils.url)], topics=default_topic(), article={**default_article(url), **article})


def copies(config):
    with Store.open(config.database) as store:
        return store.snapshots(ARTICLE, config.article.url)


def test_the_page_is_fetched_its_text_kept_and_every_default_claim_found(tmp_path, eutils, page, upstream):
    config = config_for(tmp_path, eutils, page.url)
    polled = run_poll(config)
    assert polled.report.ok and polled.source(ARTICLE).ok
    assert upstream.count("page") == 1
    kept = copies(config)
    assert len(kept) == 1 and kept[0].data["url"] == page.url and len(kept[0].sha256) == 64
    assert "Last March, the FDA approved ketamine" in kept[0].data["text"] and "tracker" not in kept[0].data["text"]
    assert upstream.requests("page")[0].headers["accept"].startswith("text/html")
    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse(WEEK))
        assert view.editors.page.fetched and view.editors.page.missing == ()
        text = render(store, config, Week.parse(WEEK))
    assert (f"The article page ([http\\://127.0.0.1:{upstream.port}/ketamine-for-depression]({page.url})) has not changed since"
            " it was first fetched on 2026-11-24; last checked 2026-11-24 12:00 CST.") in text
    assert "| article | 0 | 1 | 0 |" in text


def test_an_unchanged_page_answers_304_and_stores_no_copy(tmp_path, eutils, page, upstream):
    config = config_for(tmp_path, eutils, page.url)
    run_poll(config)
    again = run_poll(config, now=NOW + timedelta(hours=12))
    assert again.report.ok
    second = upstream.requests("page")[1]
    assert second.headers["if-none-match"] == page.etag and second.headers["if-modified-since"] == page.last_modified
    assert len(copies(config)) == 1
    # A 200 with the same text (validators lost, say) stores no copy either.
    page.validators = False
    assert run_poll(config, now=NOW + timedelta(hours=18)).report.ok and len(copies(config)) == 1


def test_a_changed_page_flags_the_removed_and_the_edited_claim(tmp_path, eutils, page, upstream):
    config = config_for(tmp_path, eutils, page.url)
    run_poll(config)
    edited = article_text().replace(FDA, "In March 2019, the FDA approved esketamine nasal spray for treatment-resistant depression")
    edited = edited.replace(DURABLE, "")
    assert edited != article_text()
    page.set(html_page(edited))
    assert run_poll(config, now=NEXT_WEEK).report.ok
    assert len(copies(config)) == 2
    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse("2026-W49"))
        before = build_view(store, config, Week.parse(WEEK))  # the week before still reads the copy it had
        text = render(store, config, Week.parse("2026-W49"))
        body = html.render_body(view)
    assert [(m.id, m.removed) for m in view.editors.page.missing] == [("fda-approval", True), ("durable-effect", True)]
    assert before.editors.page.missing == () and before.editors.page.changed is None
    assert view.editors.page.changed == "2026-12-01"
    assert "last changed on 2026-12-01; last checked 2026-12-01 12:00 CST." in text
    # Each claim named by its text (a long one by its start); the id is the HTML anchor.
    durable = "the treatment for depression can have persistent effects for several weeks …"
    assert ("- **“Last March, the FDA approved ketamine as a treatment for depression”: no longer on the page** · [dossier](claims/fda-approval.md)\n"
            "  - The page no longer says this: update or remove the claim in feeds.yaml:"
            " “Last March, the FDA approved ketamine as a treatment for depression”") in text
    assert f"- **“{durable}”: no longer on the page** · [dossier](claims/durable-effect.md)\n  - The page no longer says this:" in text
    assert ("<li>The page no longer says this: update or remove the claim in feeds.yaml:"
            " <q>Last March, the FDA approved ketamine as a treatment for depression</q></li>") in body
    assert 'id="verdict-fda-approval"' in body
    # The headline names both, and links them to their verdicts in HTML.
    assert ("\n- **Claims that need a look:** “Last March, the FDA approved ketamine as a treatment for depression”:"
            f" the page no longer says this; “{durable}”: the page no longer says this.\n") in text
    assert text.index("Claims that need a look") < text.index("Contents:")
    assert ('<li><strong>Claims that need a look:</strong> <a href="#verdict-fda-approval">“Last March, the FDA approved'
            ' ketamine as a treatment for depression”</a>: the page no longer says this; <a href="#verdict-durable-effect">') in body
    # The editors' section comes after the evidence and before the source table, flags first.
    assert text.index("## For the editors") < text.index("- **“Last March") < text.index("| article |")


def test_a_claim_the_page_never_said_is_flagged_as_a_bad_quote(tmp_path, eutils, page):
    article = default_article(page.url)
    article["claims"] = [*article["claims"], {"id": "typo", "text": "the FDA approved ketamine for anxiety", "terms": ["FDA"]}]
    config = write_config(tmp_path, [pubmed(eutils.url)], topics=default_topic(), article=article)
    run_poll(config)
    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse(WEEK))
        text = render(store, config, Week.parse(WEEK))
    assert [(m.id, m.removed) for m in view.editors.page.missing] == [("typo", False)]
    assert ("- **“the FDA approved ketamine for anxiety”: no longer on the page** · [dossier](claims/typo.md)\n  - The page does not"
            " say this (no copy of it ever did): correct the quote or remove the claim in feeds.yaml: “the FDA approved ketamine for anxiety”") in text
    assert "- **Claims that need a look:** “the FDA approved ketamine for anxiety”: the page never said this.\n" in text


@pytest.mark.parametrize(("fault", "reason"), [
    (faults.status(500), "HTTP 500 after 4 tries"),
    (faults.status(404, body="Not Found"), "HTTP 404"),
    (faults.reset, "connection reset"),
    (faults.big_body(declared=False), "body larger than the 5 MB limit"),
    (faults.big_body(declared=True), "body of 50 MB is over the 5 MB limit"),
], ids=["500", "404", "reset", "50mb-body", "50mb-declared"])
def test_a_failing_page_is_a_failing_source_and_drops_no_claim(tmp_path, eutils, page, upstream, fault, reason):
    config = config_for(tmp_path, eutils, page.url)
    run_poll(config)  # a good copy first
    upstream.arm("page", fault)
    polled = run_poll(config, now=NEXT_WEEK)
    assert not polled.report.ok and polled.source("pubmed").ok
    assert polled.source(ARTICLE).error.startswith(f"127.0.0.1:{upstream.port}: {reason}"), polled.source(ARTICLE).error
    assert len(copies(config)) == 1
    with Store.open(config.database) as store:
        report = status(store, config, NEXT_WEEK)
        view = build_view(store, config, Week.parse("2026-W49"))
        text = render(store, config, Week.parse("2026-W49"))
    assert [s.name for s in report.failing] == [ARTICLE] and report.failing[0].type == "page"
    assert "**1 source failed this week; items from it may be missing:**\n\n- **article** failed 1 of 1 poll this week: " in text
    assert view.editors.page.fetched and view.editors.page.missing == ()  # the copy before stands
    # The page failing is no source of evidence failing: every claim was still looked for.
    assert view.editors.quiet == ("fda-approval", "durable-effect", "mechanism", "weight-gain", "stress-damage", "anxiety")
    assert "No new evidence this week for: “Last March, the FDA approved ketamine as a treatment for depression”; " in text


def test_a_304_to_an_unconditional_request_is_a_failure(tmp_path, eutils, page, upstream):
    config = config_for(tmp_path, eutils, page.url)
    upstream.arm("page", faults.status(304))
    polled = run_poll(config)
    assert "answered 304 Not Modified to a request without validators" in polled.source(ARTICLE).error
    assert copies(config) == [] and "if-none-match" not in upstream.requests("page")[0].headers


def test_a_page_that_cannot_be_reached_before_any_copy_still_lists_the_claims(tmp_path, eutils):
    config = write_config(tmp_path, [pubmed(eutils.url)], topics=default_topic(),
                          article=default_article("http://127.0.0.1:9/ketamine-for-depression"))
    polled = run_poll(config)
    assert not polled.source(ARTICLE).ok and "127.0.0.1:9: connection refused" in polled.source(ARTICLE).error
    with Store.open(config.database) as store:
        text = render(store, config, Week.parse(WEEK))
    assert "has not been fetched yet: the claims are matched, but not checked against it." in text
    assert "No new evidence this week for: “Last March, the FDA approved ketamine as a treatment for depression”; " in text


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b"%PDF-1.7 ...", "application/pdf", "not a web page (Content-Type application/pdf)"),
    (b"<html><head><script>document.write('the FDA approved ketamine')</script></head><body><script>app()</script></body></html>",
     "text/html", "the page shows no text"),
], ids=["pdf", "scripts-only"])
def test_what_is_not_the_page_is_a_failure_not_an_empty_page(tmp_path, eutils, page, upstream, body, content_type, reason):
    config = config_for(tmp_path, eutils, page.url)
    run_poll(config)
    page.set(body, content_type)
    polled = run_poll(config, now=NEXT_WEEK)
    assert reason in polled.source(ARTICLE).error and len(copies(config)) == 1


def test_hostile_pages_a_claim_only_in_a_script_or_the_navigation_is_not_on_the_page(tmp_path, eutils, page):
    config = config_for(tmp_path, eutils, page.url)
    hostile = html_page(article_text().replace(FDA, "The FDA has not approved it"), extra_body=(
        f"<script>var claim = '{FDA}';</script><nav>{FDA}</nav><style>/* {FDA} */</style>"
        "<div>" * 5000 + "deep text" + "</div>" * 5000))
    page.set(hostile)
    assert run_poll(config).source(ARTICLE).ok
    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse(WEEK))
    assert [(m.id, m.removed) for m in view.editors.page.missing] == [("fda-approval", False)]
    assert "deep text" in copies(config)[0].data["text"]


def test_a_wrongly_labelled_page_still_carries_its_claims(tmp_path, eutils, page):
    config = config_for(tmp_path, eutils, page.url)
    page.set(html_page(article_text(), charset="windows-1252").encode("cp1252"), "text/html; charset=utf-8")
    assert run_poll(config).source(ARTICLE).ok
    text = copies(config)[0].data["text"]
    assert "Metropolitan Institute of Pain’s Pain Management Clinic" in text
    with Store.open(config.database) as store:
        assert build_view(store, config, Week.parse(WEEK)).editors.page.missing == ()


def test_the_page_is_not_fetched_without_a_url(tmp_path, eutils, upstream):
    config = write_config(tmp_path, [pubmed(eutils.url)], topics=default_topic(), article=default_article())
    polled = run_poll(config)
    assert [s.name for s in polled.report.sources] == ["pubmed"] and upstream.count("page") == 0
    with Store.open(config.database) as store:
        assert build_view(store, config, Week.parse(WEEK)).editors.page is None
        assert [s.name for s in status(store, config, NOW).sources] == ["pubmed"]


def test_a_poll_of_the_page_is_shown_in_the_cli_report(tmp_path, eutils, page, capsys):
    from watcher.cli import report_poll

    config = config_for(tmp_path, eutils, page.url)
    assert report_poll(run_poll(config).report) == 0
    assert "article: ok, 1 fetched, 1 new" in capsys.readouterr().out


def test_an_unforeseen_error_on_the_page_fails_it_alone(tmp_path, eutils, page, monkeypatch):
    import watcher.article.page

    def broken(body, content_type=None):
        raise KeyError("surprise")

    monkeypatch.setattr(watcher.article.page, "page_text", broken)
    config = config_for(tmp_path, eutils, page.url)
    polled = run_poll(config)
    assert polled.source("pubmed").ok and polled.source(ARTICLE).error == "internal error: KeyError: 'surprise'"
    with Store.open(config.database) as store:
        assert store.source_state(ARTICLE).consecutive_failures == 1
