"""PubMed over real HTTP: a local E-utilities stand-in replays real records from the shared corpus."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.fake_eutils import FakeEutils, Fault, corpus_articles, with_pmid
from watcher.config import load
from watcher.poll import poll
from watcher.sources import pubmed
from watcher.store import Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 24)


def write_config(tmp_path, url, **source_keys) -> object:
    keys = {"lookback_days": 30, "overlap_days": 3, "batch_size": 500, **source_keys}
    extra = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in keys.items())
    (tmp_path / "feeds.yaml").write_text(
        f"""
contact: {{tool: watcher-test, email: test@example.org}}
sources:
  - name: pubmed
    type: pubmed
    url: {url}
    query: ketamine AND depression
{extra}topics:
  anything:
    groups:
      any: ["*"]
"""
    )
    return load(tmp_path / "feeds.yaml")


@pytest.fixture
def articles(corpus_dir):
    return corpus_articles(corpus_dir / "pubmed" / "efetch_pubmedportable_100_articles_medlinedate_multilang.xml")


@pytest.fixture
def fake(httpserver):
    fake = FakeEutils()
    fake.base_url = fake.install(httpserver)
    return fake


def run_poll(config, *, clock=lambda: NOW, env=None, sleeps=None):
    with Store.open(config.database) as store:
        report = poll(config, store, clock=clock, env=env or {}, sleep=(sleeps.append if sleeps is not None else lambda s: None))
        ids = [s.item.id for s in store.iter_items()]
        state = store.source_state("pubmed")
    return report, ids, state


def many(articles, n):
    return [with_pmid(articles[i % len(articles)], 90_000_000 + i) for i in range(n)]


def test_poll_stores_real_records_and_moves_the_cursor(tmp_path, fake, articles):
    fake.add(TODAY - timedelta(days=2), articles)
    config = write_config(tmp_path, fake.base_url)
    report, ids, state = run_poll(config)
    assert report.ok and report.sources[0].new == len(articles) == 100
    assert len(ids) == 100 and all(i.startswith("pubmed:") for i in ids)
    assert state.cursor == "2026-11-24" and state.consecutive_failures == 0


def test_every_request_names_tool_and_email_and_uses_the_history_server(tmp_path, fake, articles):
    fake.add(TODAY, articles[:3])
    run_poll(write_config(tmp_path, fake.base_url))
    search, fetch = fake.requests
    assert all(r["tool"] == "watcher-test" and r["email"] == "test@example.org" for r in fake.requests)
    assert search["usehistory"] == "y" and search["datetype"] == "edat"
    assert (search["mindate"], search["maxdate"]) == ("2026/10/25", "2026/11/24")  # 30-day first look-back
    assert fetch["WebEnv"].startswith("MCID_") and fetch["query_key"] == "1" and fetch["retmode"] == "xml"


def test_next_poll_starts_at_the_cursor_minus_the_overlap(tmp_path, fake, articles):
    fake.add(TODAY, articles[:3])
    config = write_config(tmp_path, fake.base_url)
    run_poll(config)
    _, ids, _ = run_poll(config, clock=lambda: NOW + timedelta(days=1))
    assert fake.requests[-2]["mindate"] == "2026/11/21" and fake.requests[-2]["maxdate"] == "2026/11/25"
    assert len(ids) == 3  # the overlap re-fetches, but stores nothing twice


@pytest.mark.parametrize(("n", "batch"), [(1, 500), (500, 500), (1201, 500), (250, 100)])
def test_requests_per_poll_are_one_search_plus_one_fetch_per_batch(tmp_path, fake, articles, n, batch):
    fake.add(TODAY, many(articles, n))
    report, ids, _ = run_poll(write_config(tmp_path, fake.base_url, batch_size=batch))
    assert len(ids) == n
    assert (fake.count("esearch"), fake.count("efetch")) == (1, math.ceil(n / batch))


def test_a_window_over_the_esearch_cap_is_split_until_each_part_fits(tmp_path, fake, articles, monkeypatch):
    monkeypatch.setattr(pubmed, "ESEARCH_CAP", 40)
    fake.cap = 40
    for day in range(10):  # 12 records a day over 10 days: 120 in all, three times the cap
        fake.add(TODAY - timedelta(days=day), many(articles, 120)[day * 12 : (day + 1) * 12])
    report, ids, state = run_poll(write_config(tmp_path, fake.base_url, lookback_days=9, batch_size=25))
    assert report.ok and len(ids) == len(set(ids)) == 120
    windows = [(r["mindate"], r["maxdate"]) for r in fake.requests if r["endpoint"] == "esearch"]
    assert windows[0] == ("2026/11/15", "2026/11/24") and len(windows) > 1


def test_a_single_day_over_the_cap_fails_clearly(tmp_path, fake, articles, monkeypatch):
    monkeypatch.setattr(pubmed, "ESEARCH_CAP", 5)
    fake.add(TODAY, many(articles, 6))
    report, ids, state = run_poll(write_config(tmp_path, fake.base_url, lookback_days=1))
    assert not report.ok and "6 records on the single day 2026-11-24" in report.sources[0].error
    assert state.cursor is None


def test_429_with_retry_after_is_honoured(tmp_path, fake, articles):
    body = b'{"error":"API rate limit exceeded","api-key":"1.2.3.4","count":"4","limit":"3"}'
    fake.faults.append(Fault(429, body, {"Retry-After": "7"}, "esearch"))
    fake.add(TODAY, articles[:2])
    sleeps: list[float] = []
    report, ids, _ = run_poll(write_config(tmp_path, fake.base_url), sleeps=sleeps)
    assert report.ok and len(ids) == 2
    assert 7 in sleeps


def test_5xx_then_success(tmp_path, fake, articles):
    fake.faults.extend([Fault(502, b"Bad Gateway", endpoint="efetch"), Fault(503, b"busy", endpoint="efetch")])
    fake.add(TODAY, articles[:2])
    report, ids, _ = run_poll(write_config(tmp_path, fake.base_url))
    assert report.ok and len(ids) == 2 and fake.count("efetch") == 3


@pytest.mark.parametrize(
    ("endpoint", "body", "reason"),
    [
        ("esearch", b"<eSearchResult><ERROR>Invalid query</ERROR></eSearchResult>", "Invalid query"),
        ("esearch", b"<eSearchResult><Count>0</Count><ErrorList><PhraseNotFound>ketamineq</PhraseNotFound></ErrorList></eSearchResult>", "PhraseNotFound"),
        ("efetch", b"<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>", "Unable to obtain query"),
        ("efetch", b"<html><body>Service unavailable</body></html>", "not an E-utilities response"),
    ],
)
def test_an_error_inside_http_200_is_a_failed_poll_not_a_quiet_week(tmp_path, fake, articles, endpoint, body, reason):
    fake.faults.append(Fault(200, body, endpoint=endpoint))
    fake.add(TODAY, articles[:2])
    config = write_config(tmp_path, fake.base_url)
    report, ids, state = run_poll(config)
    assert not report.ok and reason in report.sources[0].error
    assert state.cursor is None and state.consecutive_failures == 1 and state.last_error


def test_a_failure_between_batches_loses_nothing_and_a_rerun_stores_nothing_twice(tmp_path, fake, articles):
    fake.add(TODAY, many(articles, 250))
    config = write_config(tmp_path, fake.base_url, batch_size=100)
    # The second efetch fails on every try: the first batch stays stored, the cursor stays put.
    fake.faults.extend(Fault(500, b"down", endpoint="efetch", retstart=100) for _ in range(4))
    report, ids, state = run_poll(config)
    assert not report.ok and len(ids) == 100 and state.cursor is None
    report, ids, state = run_poll(config)
    assert report.ok and len(ids) == len(set(ids)) == 250 and state.cursor == "2026-11-24"


def test_the_api_key_is_sent_but_never_stored_or_shown(tmp_path, fake, articles, caplog):
    secret = "sEcReT0123456789abcdef"
    fake.faults.append(Fault(429, b'{"error":"API rate limit exceeded","api-key":"' + secret.encode() + b'"}', {"Retry-After": "0"}, "esearch"))
    fake.faults.extend(Fault(500, b"down", endpoint="efetch") for _ in range(4))
    fake.add(TODAY, articles[:2])
    config = write_config(tmp_path, fake.base_url)
    caplog.set_level("DEBUG")
    report, _, state = run_poll(config, env={"NCBI_API_KEY": secret})
    assert all(r.get("api_key") == secret for r in fake.requests)
    assert not report.ok and secret not in (report.sources[0].error or "")
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))  # not the test server's
    assert secret not in ours
    assert secret.encode() not in config.database.read_bytes()
    assert secret not in (state.last_error or "")


def test_a_stop_request_ends_a_retry_wait_without_recording_a_failure(tmp_path, fake, articles):
    fake.faults.extend(Fault(503, b"busy", {"Retry-After": "120"}, "esearch") for _ in range(4))
    fake.add(TODAY, articles[:2])
    config = write_config(tmp_path, fake.base_url)
    waited: list[float] = []
    with Store.open(config.database) as store:
        report = poll(config, store, clock=lambda: NOW, env={}, sleep=waited.append, should_stop=lambda: len(waited) >= 3)
        state = store.source_state("pubmed")
    assert report.interrupted and report.sources[0].interrupted and not report.sources[0].error
    assert sum(waited) < 1 and fake.count("esearch") == 1  # stopped inside the first 120 s wait
    assert state.consecutive_failures == 0 and state.cursor is None
