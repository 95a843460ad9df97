"""Corrections to what was already published: each poll re-checks the PubMed records listed in
an earlier digest (esearch by modification date, efetch by id of those that changed), and a
retraction, an erratum or an expression of concern that one of them gained, or that a new notice
record announces (RetractionOf), is listed once under "Corrections and retractions" in the next
digest, with the week the item was first listed; counted in requests over the local server."""

from __future__ import annotations

import io
import json
import math
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from tests.configs import pubmed, write_config
from tests.polls import NOW, run_poll
from tests.upstreams import faults
from tests.upstreams.eutils import Article, Eutils
from watcher.digest import html
from watcher.digest.publish import render
from watcher.digest.view import build_view
from watcher.export.items import write_jsonl
from watcher.sources.pubmed import RECHECK_BATCH
from watcher.store import Store
from watcher.weeks import Week

W46, W47, W48, W49 = (NOW + timedelta(days=7 * k) for k in (-2, -1, 0, 1))  # Tuesdays, 12:00 in Chicago
PUBLISHED = date(2026, 11, 5)  # the Entrez date of the records first listed in 2026-W46
REVISED = date(2026, 11, 23)  # the Monday of 2026-W48, when NCBI revised them

PAPERS = [
    Article("41000001", "Esketamine for treatment-resistant depression: a randomised trial"),
    Article("41000002", "Ketamine infusions and suicidal ideation in depression"),
    Article("41000003", "Arketamine in major depression: an open-label study"),
    Article("41000004", "Ketamine for depression in older adults"),
]


def counts(upstream) -> dict[str, int]:
    return {label: upstream.count(label) for label in ("esearch", "efetch", "esearch-ids", "efetch-ids")}


@pytest.fixture
def eutils(upstream):
    fake = Eutils(upstream)
    fake.add(PUBLISHED, PAPERS)
    return fake


@pytest.fixture
def config(tmp_path, eutils):
    return write_config(tmp_path, [pubmed(eutils.url, lookback_days=30, overlap_days=3)])


def revise(eutils, n: int, *, publication_types=(), corrections=()) -> None:
    paper = PAPERS[n]
    eutils.revise(paper.pmid, Article(paper.pmid, paper.title, publication_types=("Journal Article", *publication_types),
                                      corrections=corrections), mdat=REVISED)


def test_a_retraction_an_erratum_and_a_concern_two_weeks_later_are_listed_once_in_the_next_digest(config, eutils, upstream):
    assert run_poll(config, now=W46).report.ok
    assert counts(upstream) == {"esearch": 1, "efetch": 1, "esearch-ids": 0, "efetch-ids": 0}  # nothing listed yet
    assert run_poll(config, now=W47).report.ok  # nothing changed: one search, no fetch
    assert counts(upstream) == {"esearch": 2, "efetch": 1, "esearch-ids": 1, "efetch-ids": 0}

    revise(eutils, 0, publication_types=("Retracted Publication",), corrections=(("RetractionIn", "41100001"),))
    revise(eutils, 1, corrections=(("ErratumIn", "41100002"),))
    revise(eutils, 2, corrections=(("ExpressionOfConcernIn", "41100003"),))
    polled = run_poll(config, now=W48)
    assert polled.report.ok and polled.source("pubmed").new == 0
    assert counts(upstream) == {"esearch": 3, "efetch": 1, "esearch-ids": 2, "efetch-ids": 1}
    search = upstream.requests("esearch-ids")[-1].query
    assert (search["datetype"], search["mindate"], search["maxdate"], search["term"]) == ("mdat", "2026/11/14", "2026/11/24", "ketamine")
    assert "usehistory" not in search and search["retmax"] == "9999"
    assert upstream.requests("efetch-ids")[0].query["id"] == "41000001,41000002,41000003"
    assert run_poll(config, now=W49).report.ok  # seen again: no news

    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse("2026-W48"))
        text = render(store, config, Week.parse("2026-W48"))
        body = html.render_body(view)
        later = render(store, config, Week.parse("2026-W49"))
        first = build_view(store, config, Week.parse("2026-W46"))
        out = io.StringIO()
        write_jsonl(store, out)
    assert [(n.detail, n.entry.id, n.listed_in, n.link) for n in view.corrections] == [
        ("RETRACTED", "pubmed:41000001", "2026-W46", "https://pubmed.ncbi.nlm.nih.gov/41100001/"),
        ("has erratum", "pubmed:41000002", "2026-W46", "https://pubmed.ncbi.nlm.nih.gov/41100002/"),
        ("expression of concern", "pubmed:41000003", "2026-W46", "https://pubmed.ncbi.nlm.nih.gov/41100003/"),
    ]
    assert view.total == 0 and first.total == 4  # still new only in its first week
    assert "## Corrections and retractions (3)" in text
    assert ("- **RETRACTED**: [Esketamine for treatment-resistant depression: a randomised trial]"
            "(https://pubmed.ncbi.nlm.nih.gov/41000001/) (listed in 2026-W46) · [the notice](https://pubmed.ncbi.nlm.nih.gov/41100001/)") in text
    assert "- **HAS ERRATUM**: [Ketamine infusions and suicidal ideation in depression](https://pubmed.ncbi.nlm.nih.gov/41000002/) (listed in 2026-W46)" in text
    assert "- **EXPRESSION OF CONCERN**: [Arketamine in major depression: an open-label study]" in text
    assert ('(listed in <a href="2026-W46.html#item-pubmed-41000001">2026-W46</a>) · '
            '<a href="https://pubmed.ncbi.nlm.nih.gov/41100001/">the notice</a></li>') in body
    assert "Corrections" not in later
    assert not (config.digests / "2026-W46.md").exists()  # nothing rewrote an old digest (none was written here)

    # The flag history: each current flag with when it appeared.
    rows = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert rows["pubmed:41000001"]["flags"] == [{"flag": "RETRACTED", "since": "2026-11-24T18:00:00Z"}]
    assert rows["pubmed:41000002"]["flags"] == [{"flag": "has erratum", "since": "2026-11-24T18:00:00Z"}]
    assert rows["pubmed:41000004"]["flags"] == []


def test_a_retraction_notice_arriving_as_a_new_record_names_the_item_once(config, eutils, upstream):
    run_poll(config, now=W46)
    notice = Article("41100001", "Retraction notice to: Esketamine for treatment-resistant depression: a randomised trial",
                     abstract="This article has been retracted at the request of the authors.",
                     publication_types=("Retraction of Publication",), corrections=(("RetractionOf", "41000001"),))
    eutils.add(REVISED, [notice])
    assert run_poll(config, now=W48).source("pubmed").new == 1
    # The week after, the retracted record itself says so: no second notice.
    revise(eutils, 0, publication_types=("Retracted Publication",), corrections=(("RetractionIn", "41100001"),))
    run_poll(config, now=W49 - timedelta(days=1))
    with Store.open(config.database) as store:
        w48, w49 = build_view(store, config, Week.parse("2026-W48")), build_view(store, config, Week.parse("2026-W49"))
        text = render(store, config, Week.parse("2026-W48"))
    assert [(n.detail, n.entry.id, n.link) for n in w48.corrections] == [
        ("RETRACTED", "pubmed:41000001", "https://pubmed.ncbi.nlm.nih.gov/41100001/")]
    assert w49.corrections == ()
    # The notice is itself a new item of its week, flagged as what it is.
    assert [e.flags for s in w48.sections for e in s.entries] == [("retraction notice",)]
    assert "(listed in 2026-W46) · [the notice](https://pubmed.ncbi.nlm.nih.gov/41100001/)" in text


def test_a_notice_about_an_item_never_stored_is_dropped(config, eutils):
    eutils.add(PUBLISHED, [Article("41100009", "Erratum: Ketamine for depression", publication_types=("Published Erratum",),
                                   corrections=(("ErratumFor", "39999999"),))])
    assert run_poll(config, now=W46).report.ok
    with Store.open(config.database) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM notices").fetchone()[0] == 0


@pytest.mark.parametrize(("listed", "changed"), [(3, 0), (12, 3), (450, 450)])
def test_the_recheck_costs_one_search_and_one_fetch_per_200_changed_listed_records(tmp_path, upstream, listed, changed):
    eutils = Eutils(upstream)
    papers = [Article(str(42_000_000 + i), f"Ketamine for depression, cohort {i}") for i in range(listed)]
    others = [Article(str(43_000_000 + i), f"Ketamine and depression, unlisted {i}") for i in range(25)]
    eutils.add(PUBLISHED, papers)
    config = write_config(tmp_path, [pubmed(eutils.url, lookback_days=30, overlap_days=3)])
    run_poll(config, now=W46)
    eutils.add(date(2026, 9, 1), others, mdat=REVISED)  # changed, but never listed: not fetched
    for paper in papers[:changed]:
        eutils.revise(paper.pmid, Article(paper.pmid, paper.title, corrections=(("ErratumIn", "44000000"),)), mdat=REVISED)
    before = counts(upstream)
    polled = run_poll(config, now=W48)
    after = counts(upstream)
    assert polled.report.ok and polled.source("pubmed").fetched == changed
    assert after["esearch-ids"] - before["esearch-ids"] == 1
    assert after["efetch-ids"] - before["efetch-ids"] == math.ceil(changed / RECHECK_BATCH)
    fetches = upstream.requests("efetch-ids")
    assert all(len(r.query["id"].split(",")) <= RECHECK_BATCH and len(r.target) < 2500 for r in fetches)
    assert sorted(i for r in fetches for i in r.query["id"].split(",")) == sorted(p.pmid for p in papers[:changed])
    with Store.open(config.database) as store:
        assert len(store.notices_between(W48 - timedelta(days=2), W48 + timedelta(days=1))) == changed


def test_a_failing_recheck_fails_the_source_and_is_done_again_next_poll(config, eutils, upstream):
    run_poll(config, now=W46)
    revise(eutils, 0, publication_types=("Retracted Publication",), corrections=(("RetractionIn", "41100001"),))
    upstream.arm("efetch-ids", faults.status(500))
    polled = run_poll(config, now=W48)
    assert not polled.report.ok
    assert polled.source("pubmed").error.startswith(f"127.0.0.1:{upstream.port}: HTTP 500 after 4 tries (GET /entrez/eutils/efetch.fcgi?…)")
    with Store.open(config.database) as store:
        assert store.source_state("pubmed").cursor == "2026-11-10"  # not moved: the next poll asks again
    upstream.disarm()
    assert run_poll(config, now=W48 + timedelta(hours=6)).report.ok
    with Store.open(config.database) as store:
        assert [n.notice.detail for n in store.notices_between(W48 - timedelta(days=1), W48 + timedelta(days=1))] == ["RETRACTED"]


def test_items_of_another_source_or_not_matched_are_not_rechecked(tmp_path, upstream):
    eutils = Eutils(upstream)
    eutils.add(PUBLISHED, PAPERS)
    config = write_config(tmp_path, [pubmed(eutils.url, lookback_days=30)], topics={"t": {"groups": {"g": ["arketamine"]}}})
    run_poll(config, now=W46)  # one of the four matches the topic
    for n in range(4):
        revise(eutils, n, corrections=(("ErratumIn", "41100005"),))
    run_poll(config, now=W48)
    assert [urlsplit(r.target).query for r in upstream.requests("efetch-ids")] == ["db=pubmed&tool=watcher-test&email=editors%40clinic-watch-tests.org&id=41000003&retmode=xml"]
