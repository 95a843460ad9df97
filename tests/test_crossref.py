"""Corrections for every DOI: the listed works no PubMed re-check covers (a Europe PMC-only paper, a
preprint) are asked of the Crossref stand-in (tests/upstreams/crossref.py) on each poll, over real
HTTP; a retraction in their `updated-by` is one notice in the next digest.

The stand-in's shapes are Crossref's: a work-list answer (`status`, `message-type: work-list`,
`message.items`) and `updated-by` entries as the live API gives them for the retracted Lancet paper
of 1998 (10.1016/s0140-6736(97)11096-0: a correction and a retraction, both `source:
"retraction-watch"`, each with `updated.date-parts/date-time/timestamp` and a `record-id`), as
recorded by public projects' test suites (found with the search tool; no saved Crossref answer is
in ../shared/corpus/shapes).
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.configs import ANY_TOPIC, CONTACT, USER_AGENT, europepmc, pubmed, write_config
from tests.polls import NOW, WEEK, run_poll
from tests.test_faults import CASES, MEMORY_LIMIT, WALL_LIMIT, Fails, FaultCase
from tests.upstreams import europepmc as epmc
from tests.upstreams.crossref import Crossref
from tests.upstreams.eutils import Article, Eutils
from watcher.corrections.check import DoiCheck, batches, dois_to_check, notices_for
from watcher.corrections.crossref_json import parse_updates
from watcher.corrections.settings import CROSSREF
from watcher.digest.publish import render
from watcher.errors import ParseError
from watcher.status import status
from watcher.store import Store
from watcher.weeks import Week

NEXT = NOW + timedelta(days=7)  # Tuesday of 2026-W49
LATER = NOW + timedelta(days=14)
PREPRINT_DOI = "10.1101/2026.11.02.26300001"
AGRICOLA_DOI = "10.5555/agr.2026.0001"
PUBLISHED_DOI = "10.1000/jad.2026.100"
PMID = "41000200"

# The real shape of a work-list item's `updated-by`, as the live API answers for the 1998 Lancet paper.
LANCET = {
    "status": "ok", "message-type": "work-list", "message-version": "1.0.0",
    "message": {"facets": {}, "total-results": 1, "items-per-page": 20, "query": {"start-index": 0, "search-terms": None}, "items": [{
        "DOI": "10.1016/s0140-6736(97)11096-0", "type": "journal-article", "title": ["RETRACTED: Ileal-lymphoid-nodular hyperplasia"],
        "updated-by": [
            {"DOI": "10.1016/s0140-6736(04)15715-2", "type": "correction", "label": "Correction", "source": "retraction-watch",
             "updated": {"date-parts": [[2004, 3, 6]], "date-time": "2004-03-06T00:00:00Z", "timestamp": 1078531200000}, "record-id": "17269"},
            {"DOI": "10.1016/s0140-6736(10)60175-4", "type": "retraction", "label": "Retraction", "source": "retraction-watch",
             "updated": {"date-parts": [[2010, 2, 6]], "date-time": "2010-02-06T00:00:00Z", "timestamp": 1265414400000}, "record-id": "4036"},
            {"DOI": "10.1016/s0140-6736(10)60175-4", "type": "retraction", "label": "Retraction", "source": "publisher",
             "updated": {"date-parts": [[2010, 2, 6]]}},
        ]}]},
}


# ---- the answer parsed (pure) ----


def test_the_real_shape_gives_one_update_per_notice_whatever_its_sources():
    updates = parse_updates(json.dumps(LANCET).encode())
    assert [(u.doi, u.kind, u.notice, u.source, u.date, u.flag) for u in updates] == [
        ("10.1016/s0140-6736(97)11096-0", "correction", "10.1016/s0140-6736(04)15715-2", "retraction-watch", "2004-03-06", "has erratum"),
        ("10.1016/s0140-6736(97)11096-0", "retraction", "10.1016/s0140-6736(10)60175-4", "retraction-watch", "2010-02-06", "RETRACTED"),
    ]


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html>maintenance</html>", "Crossref: the answer is not JSON"),
    (b'{"status": "failed", "message-type": "validation-failure", "message": []}', "Crossref: the answer is not a Crossref answer"),
    (b'{"status": "ok", "message-type": "work", "message": {"DOI": "10.1/x"}}', "Crossref: the answer is not a list of works"),
    (b'\xff\xfe{"status": "ok"}', "Crossref: the answer is not valid UTF-8 JSON"),
])
def test_what_is_not_a_work_list_is_refused_with_a_reason(body, reason):
    with pytest.raises(ParseError, match=re.escape(reason)):
        parse_updates(body)


def test_odd_entries_are_skipped_not_fatal():
    doc = {"status": "ok", "message-type": "work-list", "message": {"items": [
        "not a work", {"title": ["no DOI"]}, {"DOI": "10.1/A", "updated-by": "not a list"},
        {"DOI": "10.1/B", "updated-by": [{"DOI": "10.1/n"}, {"type": "withdrawal", "updated": {"date-parts": [["x"]]}}, 7]}]}}
    assert [(u.doi, u.kind, u.notice, u.date, u.flag) for u in parse_updates(json.dumps(doc).encode())] == [
        ("10.1/b", "withdrawal", None, None, "withdrawn")]


def test_batches_keep_to_the_size_and_to_a_url_that_stays_short():
    checks = [DoiCheck(f"10.1/{i:04d}", f"r{i}", f"w{i}", True) for i in range(7)]
    assert [len(b) for b in batches(checks, 3)] == [3, 3, 1]
    long = [DoiCheck("10.1/" + "x" * 900 + str(i), f"r{i}", f"w{i}", True) for i in range(5)]
    assert [len(b) for b in batches(long, 50)] == [3, 2]


# ---- over HTTP, through the poll ----


@pytest.fixture
def stage(upstream):
    papers = Eutils(upstream)
    papers.add(date(2026, 11, 23), [Article(PMID, "Esketamine for depression: a randomised trial", doi=PUBLISHED_DOI)])
    search = epmc.EuropePMC(upstream)
    search.add(
        epmc.result(PMID, "Esketamine for depression: a randomised trial.", pmid=PMID, doi=PUBLISHED_DOI),  # PubMed covers it
        epmc.result("PPR900001", "Esketamine for depression: a randomised trial (preprint)", source="PPR", pub_types=("preprint",),
                    doi=PREPRINT_DOI, journal="medRxiv", links=[{"id": PMID, "source": "MED", "type": "Preprint in"}]),
        epmc.result("AGR900002", "Ketamine in rural depression care", source="AGR", doi=AGRICOLA_DOI),
    )
    crossref = Crossref(upstream)
    crossref.work(PREPRINT_DOI, "Esketamine for depression: a randomised trial", kind="posted-content", container="medRxiv")
    crossref.work(AGRICOLA_DOI, "Ketamine in rural depression care")
    crossref.work(PUBLISHED_DOI, "Esketamine for depression: a randomised trial")
    return papers, search, crossref


@pytest.fixture
def config(tmp_path, stage):
    papers, search, crossref = stage
    return write_config(tmp_path, [pubmed(papers.url), europepmc(search.url)], topics=ANY_TOPIC,
                        crossref={"url": crossref.url, "batch_size": 1})


def asked(upstream) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.target).query) for r in upstream.requests("works")]


def test_the_dois_no_pubmed_recheck_covers_are_asked_politely(config, upstream):
    sleeps: list[float] = []
    polled = run_poll(config, sleeps=sleeps)
    assert polled.report.ok and polled.source(CROSSREF).ok and polled.source(CROSSREF).fetched == 2
    queries = asked(upstream)
    # The preprint and the Europe PMC-only paper; not the paper PubMed re-checks (its PMID and DOI).
    assert [q["filter"] for q in queries] == [[f"doi:{PREPRINT_DOI}"], [f"doi:{AGRICOLA_DOI}"]]
    assert all(q["rows"] == ["1"] for q in queries)
    for request in upstream.requests("works"):
        agent = request.headers["user-agent"]
        assert agent.startswith(USER_AGENT) and f"mailto:{CONTACT['email']}" in agent  # Crossref's polite pool
        assert request.headers["accept"] == "application/json"
    assert any(0.5 < s <= 1.0 for s in sleeps)  # one request a second to the host, at most
    with Store.open(config.database) as store:
        assert store.source_state(CROSSREF).cursor == "2026-11-24T18:00:00Z"
        assert [s.name for s in status(store, config, NOW).sources if s.name == CROSSREF] == [CROSSREF]


def test_batches_name_several_dois_and_later_polls_ask_only_for_what_changed(tmp_path, stage, upstream):
    papers, search, crossref = stage
    config = write_config(tmp_path, [pubmed(papers.url), europepmc(search.url)], topics=ANY_TOPIC,
                          crossref={"url": crossref.url, "batch_size": 50})
    assert run_poll(config).report.ok
    (first,) = asked(upstream)
    assert first["filter"] == [f"doi:{PREPRINT_DOI},doi:{AGRICOLA_DOI}"] and first["rows"] == ["2"]
    # A week later a new preprint is listed: it is asked outright; the two checked before only if re-indexed since.
    search.add(epmc.result("PPR900003", "Arketamine and anhedonia", source="PPR", pub_types=("preprint",), doi="10.1101/2026.11.29.1",
                           journal="medRxiv", first_index="2026-11-30"))
    crossref.work("10.1101/2026.11.29.1", "Arketamine and anhedonia", kind="posted-content")
    assert run_poll(config, now=NEXT).report.ok
    assert [q["filter"] for q in asked(upstream)[1:]] == [["doi:10.1101/2026.11.29.1"],
                                                          [f"doi:{PREPRINT_DOI},doi:{AGRICOLA_DOI},from-index-date:2026-11-23"]]


def test_a_preprint_retracted_in_crossref_is_one_notice_in_the_next_digest(config, stage, upstream):
    crossref = stage[2]
    assert run_poll(config).report.ok
    crossref.retract(PREPRINT_DOI, "10.1101/retraction.1", on=date(2026, 11, 30))
    polled = run_poll(config, now=NEXT)
    assert polled.source(CROSSREF).ok and polled.source(CROSSREF).new == 1
    assert run_poll(config, now=NEXT + timedelta(hours=12)).source(CROSSREF).new == 0  # seen again: no news
    with Store.open(config.database) as store:
        text = render(store, config, Week.parse("2026-W49"))
        notices = store.conn.execute("SELECT item_id, detail, link FROM notices").fetchall()
        later = render(store, config, Week.parse("2026-W50"))
    assert [tuple(n) for n in notices] == [("europepmc:PPR:PPR900001", "RETRACTED", "https://doi.org/10.1101/retraction.1")]
    block = text.split("## Corrections and retractions (1)\n", 1)[1].split("\n## ", 1)[0]
    assert block.count("**RETRACTED**") == 1 and "(listed in 2026-W48)" in block
    assert "[the notice](https://doi.org/10.1101/retraction.1)" in block
    assert "Corrections and retractions" not in later


def test_the_pubmed_copy_and_the_preprint_retracting_together_are_one_notice(config, stage, upstream):
    papers, _, crossref = stage
    assert run_poll(config).report.ok
    papers.revise(PMID, Article(PMID, "Esketamine for depression: a randomised trial", doi=PUBLISHED_DOI,
                                publication_types=("Journal Article", "Retracted Publication"),
                                corrections=(("RetractionIn", "41999001"),)), mdat=date(2026, 11, 30))
    crossref.retract(PREPRINT_DOI, "10.1101/retraction.2", on=date(2026, 11, 30))
    assert run_poll(config, now=NEXT).report.ok
    with Store.open(config.database) as store:
        text = render(store, config, Week.parse("2026-W49"))
        told = store.conn.execute("SELECT item_id FROM notices WHERE detail = 'RETRACTED'").fetchall()
    assert [t[0] for t in told] == [f"pubmed:{PMID}"]  # the work was told once: Crossref's copy is no news
    assert text.count("**RETRACTED**") == 1


def test_a_failing_crossref_shows_in_status_and_the_digest_and_loses_nothing(config, stage, upstream):
    from tests.upstreams import faults

    crossref = stage[2]
    crossref.retract(PREPRINT_DOI, "10.1101/retraction.3", on=date(2026, 11, 20))
    upstream.arm("works:2", faults.status(503))
    polled = run_poll(config)
    assert polled.source("europepmc").ok and not polled.source(CROSSREF).ok
    assert re.match(r"^127\.0\.0\.1:\d+: HTTP 503 after 4 tries \(GET /works\?", polled.source(CROSSREF).error)
    with Store.open(config.database) as store:
        report = status(store, config, NOW)
        assert [s.name for s in report.failing] == [CROSSREF]
        assert store.source_state(CROSSREF).cursor is None  # not moved: everything is asked again
        text = render(store, config, Week.parse(WEEK))
        assert store.conn.execute("SELECT COUNT(*) FROM notices").fetchone()[0] == 1  # the first batch's finding is kept
    assert "**1 source failed this week; items from it may be missing:**" in text
    assert re.search(r"\n- \*\*crossref\*\* failed 1 of 1 poll this week: 127\.0\.0\.1:\d+: HTTP 503 after 4 tries", text)
    upstream.disarm()
    again = run_poll(config, now=NOW + timedelta(hours=12))
    assert again.source(CROSSREF).ok and again.source(CROSSREF).new == 0
    assert [q["filter"] for q in asked(upstream)[-2:]] == [[f"doi:{PREPRINT_DOI}"], [f"doi:{AGRICOLA_DOI}"]]


def test_without_a_crossref_block_crossref_is_never_asked(tmp_path, stage, upstream):
    papers, search, _crossref = stage
    config = write_config(tmp_path, [pubmed(papers.url), europepmc(search.url)], topics=ANY_TOPIC)
    polled = run_poll(config)
    assert polled.report.ok and CROSSREF not in [s.name for s in polled.report.sources] and upstream.count("works") == 0


def test_notices_are_one_per_work_and_flag(tmp_path):
    checks = [DoiCheck("10.1/a", "europepmc:PPR:1", "w1", True), DoiCheck("10.1/b", "europepmc:AGR:2", "w1", True)]
    from watcher.corrections.crossref_json import Update

    updates = [Update("10.1/a", "retraction", "10.1/n1", "publisher", "2026-11-30"),
               Update("10.1/b", "retraction", "10.1/n2", "retraction-watch", "2026-11-30"),
               Update("10.1/b", "addendum", "10.1/n3", "publisher", None)]
    found = notices_for(updates, checks, set())
    assert [(i, n.detail, n.link) for i, n in found] == [("europepmc:PPR:1", "RETRACTED", "https://doi.org/10.1/n1")]
    assert notices_for(updates, checks, {("w1", "RETRACTED")}) == []


def test_dois_to_check_skip_unlisted_works_and_dois_pubmed_covers():
    from watcher.works import Record, Work

    listed = Work("pubmed:1", (Record("pubmed:1", "pubmed", frozenset({"pmid:1", "doi:10.1/p"}), "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", False),
                               Record("europepmc:MED:1", "europepmc", frozenset({"pmid:1", "doi:10.1/p"}), "2026-11-01T00:00:00Z", None, False),
                               Record("europepmc:PPR:9", "europepmc", frozenset({"doi:10.1101/x"}), "2026-11-20T00:00:00Z", None, True)))
    unlisted = Work("europepmc:AGR:5", (Record("europepmc:AGR:5", "europepmc", frozenset({"doi:10.1/u"}), "2026-11-01T00:00:00Z", None, False),))
    found = dois_to_check([listed, unlisted], ["pubmed"], since="2026-11-10T00:00:00Z")
    assert found == [DoiCheck("10.1101/x", "europepmc:PPR:9", "pubmed:1", True)]


# ---- every fault of the catalogue, against the Crossref step ----


def crossref_expectation(case: FaultCase):
    """What the step makes of a fault: as the other JSON source (Europe PMC), in Crossref's words."""
    expect = case.expect["europepmc"]
    if isinstance(expect, Fails):
        return Fails(expect.reason.replace("Europe PMC", "Crossref"), expect.requests)
    return expect


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_fault_on_crossref(tmp_path, upstream, case: FaultCase):
    search = epmc.EuropePMC(upstream)
    crossref = Crossref(upstream)
    for i in range(5):
        doi = f"10.5555/agr.{i}"
        search.add(epmc.result(f"AGR{i}", f"Ketamine and mood {i}", source="AGR", doi=doi))
        crossref.work(doi, f"Ketamine and mood {i}")
    crossref.retract("10.5555/agr.0", "10.5555/notice.0", on=date(2026, 11, 20))
    config = write_config(tmp_path, [europepmc(search.url)], topics=ANY_TOPIC, crossref={"url": crossref.url, "batch_size": 2},
                          http={"timeout": 1, "deadline": 2, "max_mb": 1})
    marker = tmp_path / "marker.txt"
    marker.write_text("MARKER-not-for-the-store\n")
    expect = crossref_expectation(case)
    from tests.upstreams.server import Server

    with Server() as canary:
        for fault, times in case.fault_for({"canary": canary.url("/"), "marker_path": str(marker)}):
            upstream.arm("works:2", fault, times)
        tracemalloc.start()
        started = time.monotonic()
        polled = run_poll(config)
        took = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert not canary.seen()  # no external entity or DTD fetched
    assert took < WALL_LIMIT and peak < MEMORY_LIMIT
    step = polled.source(CROSSREF)
    assert polled.source("europepmc").ok
    assert step.ok == expect.ok, step.error
    if not expect.ok:
        assert re.search(expect.reason, step.error), step.error
        assert "\n" not in step.error and "MARKER" not in step.error and "internal error" not in step.error
    with Store.open(config.database) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM notices").fetchone()[0] == 1  # the first batch's finding
    upstream.disarm()
    healthy = run_poll(config, now=NOW + timedelta(hours=2))
    assert healthy.source(CROSSREF).ok
    with Store.open(config.database) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM notices").fetchone()[0] == 1  # never twice
    assert b"MARKER" not in config.database.read_bytes()
