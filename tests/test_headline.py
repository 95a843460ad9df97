"""The headline that opens every format, and a week in which nothing could be fetched: said plainly
at the top and again where the lists would be, never shown as a quiet week, in the Markdown, the
HTML page, the Atom entry and both parts of the mail (through a real SMTP server)."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser

from tests.configs import pubmed, rss, write_config
from tests.polls import NOW, WEEK, run_poll
from tests.smtp import SmtpServer
from watcher.article.claims import ARTICLE
from watcher.article.verdicts import CONTRADICTED, GONE, UNCHANGED, FactCited, Verdict
from watcher.digest.editors import EditorsView, Look, needs_a_look
from watcher.digest.headline import Counted, kinds, listing, missing
from watcher.digest.mail import send_week
from watcher.digest.publish import publish_week, render
from watcher.digest.view import MatchedTerm, in_words, matched_terms
from watcher.model import Hit, Item, Match
from watcher.store import PollRecord, Store
from watcher.weeks import Week, utc_iso

DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens, a poll of it fails at once
CLAIMS = {"url": f"{DOWN}/page", "claims": [
    {"id": "lasting", "text": "the effect lasts for weeks", "terms": ["sustain*"]},
    {"id": "mechanism", "text": "it acts on NMDA receptors", "terms": ["NMDA*"]},
]}
ANY = Match(True, ("t",), (Hit("any", "*", "title", "Ketamine"),))


# ---- the words, pure ----


def test_works_are_counted_by_kind_strongest_evidence_first_then_preprints():
    works = [Counted("rct"), Counted("rct"), Counted("other", preprint=True), Counted("synthesis"),
             Counted("regulatory", change=True), Counted("regulatory"), Counted("registry"), Counted("other")]
    assert kinds(works) == ("1 regulatory change", "1 regulatory item", "1 meta-analysis or systematic review",
                            "2 randomised trials", "1 trial registration", "1 other item", "1 preprint")
    assert kinds([]) == () and listing(["a"]) == "a" and listing(["a", "b", "c"]) == "a, b and c" and listing([]) == ""


def test_the_failures_lead_says_which_kind_of_trouble():
    assert missing(1, 0, 0) == "1 source failed this week; items from it may be missing"
    assert missing(0, 1, 0) == "1 source was not polled this week; items from it may be missing"
    assert missing(2, 1, 0) == "3 sources failed or were not polled this week; items from them may be missing"
    assert missing(0, 2, 1) == "2 sources were not polled this week; items from them may be missing"
    assert missing(0, 0, 1) == "Items may be missing this week" and missing(0, 0, 0) == ""


def test_an_items_terms_in_words_as_the_text_wrote_them():
    matched = (MatchedTerm("esketamine", (), ("title", "abstract")), MatchedTerm("depress*", ("depression",), ("title", "abstract")),
               MatchedTerm("TRD", (), ("abstract",)), MatchedTerm('"mood disorder*"', ("mood disorders",), ("MeSH",)),
               MatchedTerm("suicid*", ("suicidal", "suicide"), ("abstract",)))
    assert in_words(matched) == ("esketamine and depression in the title and abstract; TRD, suicidal and suicide in the"
                                 " abstract; mood disorders in the MeSH headings")
    assert "*" not in in_words(matched) and '"' not in in_words(matched)
    assert in_words([MatchedTerm("NDA211243", (), ("regulatory.products",))]) == "NDA211243 in the watched products"


def test_the_words_are_lower_case_but_for_capitals_inside_a_word():
    hits = [Hit("c", "vitamin D*", "title", "Vitamin D3"), Hit("c", "depress*", "title", "Depression"),
            Hit("c", "depress*", "abstract", "depression"), Hit("d", "NMDA*", "abstract", "NMDA"), Hit("d", "TRD", "abstract", "TRD")]
    assert in_words(matched_terms(hits)) == ("vitamin D3 in the title; depression in the title and abstract;"
                                             " NMDA and TRD in the abstract")


def test_the_claims_that_need_a_look_are_the_contradicted_then_those_the_page_does_not_carry():
    fact = FactCited("The agency approved another drug.", "2019-03-05", "https://agency.example/news", None)
    verdicts = (Verdict("gone", "a sentence the page said once", GONE, None, removed=True),
                Verdict("typo", "a sentence it never said", GONE, None, removed=False),
                Verdict("wrong", "the agency approved this drug", CONTRADICTED, "the agency approved this drug", (fact,)),
                Verdict("fine", "a sentence that holds", UNCHANGED, "a sentence that holds"))
    editors = EditorsView((), (), None, verdicts=verdicts)
    assert needs_a_look(editors) == (Look("wrong", "the agency approved this drug", "contradicted by the record (2019-03-05)"),
                                     Look("gone", "a sentence the page said once", "the page no longer says this"),
                                     Look("typo", "a sentence it never said", "the page never said this"))
    assert needs_a_look(EditorsView((), ("fine",), None, verdicts=verdicts[3:])) == ()  # nothing to look at


# ---- the headline of a week ----


def paper(n: int, title: str, *types: str, **kw) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
                publication_types=("Journal Article", *types), **kw)


def test_the_headline_is_the_first_text_after_the_title_in_every_format(tmp_path):
    config = write_config(tmp_path, [pubmed()], site_url="https://clinic.example/watch/")
    with Store.open(config.database) as store:
        store.save_batch("pubmed", [(paper(1, "Esketamine RCT", "Randomized Controlled Trial"), ANY),
                                    (paper(2, "Esketamine meta-analysis", "Meta-Analysis"), ANY),
                                    (paper(3, "A ketamine preprint", "Preprint"), ANY),
                                    (paper(4, "Ketamine letter", "Letter"), ANY)], now=NOW)
        store.record_poll(PollRecord("pubmed", utc_iso(NOW), True, 4, 4, 4))
        publish_week(store, config, Week.parse(WEEK), now=NOW)
    lead = ("4 new items from Mon 23 Nov 2026 to Sun 29 Nov 2026: 1 meta-analysis or systematic review, 1 randomised trial,"
            " 1 other item and 1 preprint.")
    markdown = (config.digests / f"{WEEK}.md").read_text()
    assert markdown.startswith(f"# Literature watch {WEEK}\n\n{lead.replace('4 new items', '**4 new items**')}\n\nContents: ")
    page = (config.digests / f"{WEEK}.html").read_text()
    assert (f'<h1 id="top">Literature watch {WEEK}</h1>\n<section id="headline" class="headline">\n<p class="lead">'
            f"{lead.replace('4 new items', '<strong>4 new items</strong>')}</p>\n</section>\n<nav class=\"contents\">") in page
    entry = feedparser.parse((config.digests / "feed.xml").read_bytes()).entries[0]
    assert entry.summary == lead and entry.title == f"Literature watch {WEEK}: 4 new items"


# ---- nothing could be fetched ----


def offline_config(tmp_path, port: int):
    email = {"host": "127.0.0.1", "port": port, "security": "none", "from": "watch@clinic.example", "to": ["ed@clinic.example"]}
    return write_config(tmp_path, [pubmed(f"{DOWN}/entrez/eutils/"), rss(f"{DOWN}/press.xml")], article=CLAIMS, email=email,
                        site_url="https://clinic.example/watch/")


def test_a_week_in_which_nothing_could_be_fetched_says_so_in_every_format(tmp_path):
    with SmtpServer() as smtp:
        config = offline_config(tmp_path, smtp.port)
        first = run_poll(config)
        second = run_poll(config, now=NOW + timedelta(days=1))
        assert not any(s.ok for s in first.report.sources + second.report.sources)  # every source, both polls
        with Store.open(config.database) as store:
            publish_week(store, config, Week.parse(WEEK), now=NOW + timedelta(days=7))
            assert send_week(store, config, Week.parse(WEEK), now=NOW + timedelta(days=7), env={}).ok
    plainly = "Nothing could be fetched this week: this is not a quiet week."
    failed = {"pubmed": "127.0.0.1:9: connection refused", "fda-press": "127.0.0.1:9: connection refused", ARTICLE: "127.0.0.1:9: connection refused"}

    markdown = (config.digests / f"{WEEK}.md").read_text()
    assert markdown.startswith(f"# Literature watch {WEEK}\n\n**{plainly}** Every source failed at each of its polls from Mon 23 Nov"
                               " 2026 to Sun 29 Nov 2026; what was published comes with the first poll that succeeds.\n\n"
                               "**3 sources failed this week; items from them may be missing:**\n\n")
    for name, reason in failed.items():  # one line each, in the one block
        assert re.search(rf"\n- \*\*{name}\*\* failed 2 of 2 polls this week: {re.escape(reason)} \([^)]*GET /[^)]*\)"
                         r" · failing since 2026-11-24 12:00 CST · last success: never\n", markdown), name
    # Again where the lists would be, before the editors' section.
    again = markdown.index(f"> **{plainly}** The lists are empty because every source failed, not because nothing was published")
    assert markdown.index("Contents: ") < again < markdown.index("## For the editors")
    # No claim is said to have "no new evidence": nothing was looked for.
    assert "No new evidence" not in markdown
    assert "\nNot looked for this week, every source failed: “the effect lasts for weeks”; “it acts on NMDA receptors”.\n" in markdown
    assert "No new items" not in markdown and "0 new items" not in markdown and "No new matching items" not in markdown

    page = (config.digests / f"{WEEK}.html").read_text()
    assert f'<h1 id="top">Literature watch {WEEK}</h1>\n<section id="headline" class="headline">\n<p class="lead"><strong class="warn">{plainly}</strong>' in page
    assert f'<p class="notice" id="nothing-fetched"><strong>{plainly}</strong>' in page
    assert "No new evidence" not in page and "Not looked for this week, every source failed" in page
    assert f"<title>Literature watch {WEEK}: nothing fetched, 3 sources failing</title>" in page
    assert all(f"<li><strong>{name}</strong> failed 2 of 2 polls this week: {reason} (" in page for name, reason in failed.items())

    [entry] = feedparser.parse((config.digests / "feed.xml").read_bytes()).entries
    assert entry.title == f"Literature watch {WEEK}: nothing fetched, 3 sources failing"
    assert entry.summary.startswith("NOTHING COULD BE FETCHED THIS WEEK: this is not a quiet week.")
    assert entry.link == f"https://clinic.example/watch/{WEEK}.html"
    assert entry.content[0].value.count(plainly) == 2 and "No new evidence" not in entry.content[0].value

    [msg] = smtp.inbox.parsed()
    assert msg["Subject"] == f"Literature watch {WEEK}: nothing fetched, 3 sources failing"
    text, html = (part.get_content().replace("\r\n", "\n") for part in msg.iter_parts())
    assert text.startswith(f"Literature watch {WEEK}\n=========================\n\nNOTHING COULD BE FETCHED THIS WEEK: this is not a"
                           " quiet week. Every source\nfailed at each of its polls from Mon 23 Nov 2026 to Sun 29 Nov 2026; what\n")
    assert text.count("NOTHING COULD BE FETCHED THIS WEEK") == 2 and "No new evidence" not in text
    assert "- pubmed failed 2 of 2 polls this week: 127.0.0.1:9: connection refused (2\n" in text
    assert html.replace("https://clinic.example/watch/", "") == page  # the HTML part is the week's page, its own links absolute

    index = (config.digests / "index.md").read_text()
    assert f"- [{WEEK}]({WEEK}.md) · 23 Nov – 29 Nov 2026 · 0 new items · **3 sources failing or not polled**" in index


def test_an_item_from_a_poll_begun_the_week_before_is_no_empty_week(tmp_path):
    # The poll stamped Sunday night stored its items after midnight: the week has items and no poll of its own.
    config = write_config(tmp_path, [pubmed()])
    with Store.open(config.database) as store:
        store.save_batch("pubmed", [(paper(1, "Esketamine RCT", "Randomized Controlled Trial"), ANY)], now=NOW)
        text = render(store, config, Week.parse(WEEK))
    assert "Nothing could be fetched" not in text and "**1 new item**" in text
    assert "**1 source was not polled this week; items from it may be missing:**" in text
