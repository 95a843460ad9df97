"""PubMed over real HTTP: the E-utilities stand-in of tests/upstreams replays real records from the shared corpus."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.configs import CONTACT, pubmed, write_config
from tests.polls import NOW, TODAY, run_poll
from tests.upstreams import eutils, faults
from tests.upstreams.eutils import Eutils, corpus_articles, with_pmid
from watcher.config import Config
from watcher.poll import poll
from watcher.sources import pubmed as pubmed_source
from watcher.store import Store


def config_for(tmp_path, fake: Eutils, **source_keys) -> Config:
    keys = {"lookback_days": 30, "overlap_days": 3, "batch_size": 500, **source_keys}
    return write_config(tmp_path, [pubmed(fake.url, query="ketamine AND depression", **keys)])


@pytest.fixture
def articles(corpus_dir):
    return corpus_articles(corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml")


@pytest.fixture
def fake(upstream) -> Eutils:
    return Eutils(upstream)


def many(articles, n):
    return [with_pmid(articles[i % len(articles)], 90_000_000 + i) for i in range(n)]


def test_poll_stores_real_records_and_moves_the_cursor(tmp_path, fake, articles):
    fake.add(TODAY - timedelta(days=2), articles)
    polled = run_poll(config_for(tmp_path, fake))
    assert polled.report.ok and polled.source("pubmed").new == len(articles) == 100
    assert len(polled.ids) == 100 and set(polled.ids) == fake.ids()
    state = polled.state("pubmed")
    assert state.cursor == "2026-11-24" and state.consecutive_failures == 0


def test_every_request_names_tool_and_email_and_uses_the_history_server(tmp_path, fake, articles):
    fake.add(TODAY, articles[:3])
    run_poll(config_for(tmp_path, fake))
    assert fake.server.labels() == ["esearch", "efetch:0"]
    search, fetch = (r.query for r in fake.server.requests())
    assert all(r["tool"] == "watcher-test" and r["email"] == CONTACT["email"] for r in (search, fetch))
    assert search["usehistory"] == "y" and search["datetype"] == "edat"
    assert (search["mindate"], search["maxdate"]) == ("2026/10/25", "2026/11/24")  # 30-day first look-back
    assert fetch["WebEnv"].startswith("MCID_") and fetch["query_key"] == "1" and fetch["retmode"] == "xml"


def test_next_poll_starts_at_the_cursor_minus_the_overlap(tmp_path, fake, articles):
    fake.add(TODAY, articles[:3])
    config = config_for(tmp_path, fake)
    run_poll(config)
    polled = run_poll(config, now=NOW + timedelta(days=1))
    second = fake.server.requests("esearch")[-1].query
    assert second["mindate"] == "2026/11/21" and second["maxdate"] == "2026/11/25"
    assert len(polled.ids) == 3  # the overlap re-fetches, but stores nothing twice


@pytest.mark.parametrize(("n", "batch"), [(1, 500), (500, 500), (1201, 500), (250, 100)])
def test_requests_per_poll_are_one_search_plus_one_fetch_per_batch(tmp_path, fake, articles, n, batch):
    fake.add(TODAY, many(articles, n))
    polled = run_poll(config_for(tmp_path, fake, batch_size=batch))
    assert len(polled.ids) == n
    assert (fake.server.count("esearch"), fake.server.count("efetch")) == (1, math.ceil(n / batch))


def test_a_window_over_the_esearch_cap_is_split_until_each_part_fits(tmp_path, fake, articles, monkeypatch):
    monkeypatch.setattr(pubmed_source, "ESEARCH_CAP", 40)
    fake.cap = 40
    for day in range(10):  # 12 records a day over 10 days: 120 in all, three times the cap
        fake.add(TODAY - timedelta(days=day), many(articles, 120)[day * 12 : (day + 1) * 12])
    polled = run_poll(config_for(tmp_path, fake, lookback_days=9, batch_size=25))
    assert polled.report.ok and len(polled.ids) == len(set(polled.ids)) == 120
    windows = [(r.query["mindate"], r.query["maxdate"]) for r in fake.server.requests("esearch")]
    assert windows[0] == ("2026/11/15", "2026/11/24") and len(windows) > 1


def test_a_single_day_over_the_cap_fails_clearly(tmp_path, fake, articles, monkeypatch):
    monkeypatch.setattr(pubmed_source, "ESEARCH_CAP", 5)
    fake.add(TODAY, many(articles, 6))
    polled = run_poll(config_for(tmp_path, fake, lookback_days=1))
    assert not polled.report.ok and "6 records on the single day 2026-11-24" in polled.source("pubmed").error
    assert polled.state("pubmed").cursor is None


def test_429_with_retry_after_is_honoured(tmp_path, fake, articles):
    fake.server.arm("esearch", faults.status(429, retry_after="7"), times=1)  # NCBI's JSON body
    fake.add(TODAY, articles[:2])
    sleeps: list[float] = []
    polled = run_poll(config_for(tmp_path, fake), sleeps=sleeps)
    assert polled.report.ok and len(polled.ids) == 2
    assert 7 in sleeps and fake.server.count("esearch") == 2


def test_5xx_then_success(tmp_path, fake, articles):
    fake.server.arm("efetch", faults.status(502, body="Bad Gateway"), times=1)
    fake.server.arm("efetch", faults.status(503, body="busy"), times=1)
    fake.add(TODAY, articles[:2])
    polled = run_poll(config_for(tmp_path, fake))
    assert polled.report.ok and len(polled.ids) == 2 and fake.server.count("efetch") == 3


@pytest.mark.parametrize(
    ("endpoint", "fault", "reason"),
    [
        ("esearch", eutils.search_error("Invalid query"), "Invalid query"),
        ("esearch", eutils.phrase_not_found("ketamineq"), "PhraseNotFound"),
        ("efetch", eutils.fetch_error("Unable to obtain query #1"), "Unable to obtain query"),
        ("efetch", faults.answer(200, b"<html><body>Service unavailable</body></html>"), "not an E-utilities response"),
    ],
    ids=["esearch-error", "esearch-phrase-not-found", "efetch-error", "efetch-html"],
)
def test_an_error_inside_http_200_is_a_failed_poll_not_a_quiet_week(tmp_path, fake, articles, endpoint, fault, reason):
    fake.server.arm(endpoint, fault, times=1)
    fake.add(TODAY, articles[:2])
    polled = run_poll(config_for(tmp_path, fake))
    assert not polled.report.ok and reason in polled.source("pubmed").error
    state = polled.state("pubmed")
    assert state.cursor is None and state.consecutive_failures == 1 and state.last_error


def test_a_failure_between_batches_loses_nothing_and_a_rerun_stores_nothing_twice(tmp_path, fake, articles):
    fake.add(TODAY, many(articles, 250))
    config = config_for(tmp_path, fake, batch_size=100)
    # The second efetch fails on every try: the first batch stays stored, the cursor stays put.
    fake.server.arm("efetch:100", faults.status(500, body="down"), times=4)
    polled = run_poll(config)
    assert not polled.report.ok and len(polled.ids) == 100 and polled.state("pubmed").cursor is None
    assert fake.server.count("efetch:100") == 4
    polled = run_poll(config)
    assert polled.report.ok and len(polled.ids) == len(set(polled.ids)) == 250
    assert polled.state("pubmed").cursor == "2026-11-24"


def test_the_api_key_is_sent_but_never_stored_or_shown(tmp_path, fake, articles, caplog):
    secret = "sEcReT0123456789abcdef"
    fake.server.arm("esearch", faults.status(429, retry_after="0"), times=1)  # NCBI's 429 body echoes the key
    fake.server.arm("efetch", faults.status(500, body="down"), times=4)
    fake.add(TODAY, articles[:2])
    config = config_for(tmp_path, fake)
    caplog.set_level("DEBUG")
    polled = run_poll(config, env={"NCBI_API_KEY": secret})
    sent = fake.server.requests()
    assert len(sent) == 6 and all(r.query.get("api_key") == secret for r in sent)
    assert not polled.report.ok and secret not in (polled.source("pubmed").error or "")
    assert secret not in "\n".join(r.getMessage() for r in caplog.records)
    assert secret.encode() not in config.database.read_bytes()
    assert secret not in (polled.state("pubmed").last_error or "")


def test_a_stop_request_ends_a_retry_wait_without_recording_a_failure(tmp_path, fake, articles):
    fake.server.arm("esearch", faults.status(503, retry_after="120", body="busy"), times=4)
    fake.add(TODAY, articles[:2])
    config = config_for(tmp_path, fake)
    waited: list[float] = []
    with Store.open(config.database) as store:
        report = poll(config, store, clock=lambda: NOW, env={}, sleep=waited.append, should_stop=lambda: len(waited) >= 3)
        state = store.source_state("pubmed")
    assert report.interrupted and report.sources[0].interrupted and not report.sources[0].error
    assert sum(waited) < 1 and fake.server.count("esearch") == 1  # stopped inside the first 120 s wait
    assert state.consecutive_failures == 0 and state.cursor is None
