"""The openFDA and fda.gov details found by checking the code against openFDA's documentation and
real responses: a 500 SERVER_ERROR is final, `rel` is case-insensitive, both date forms, recall
links on `recall_number.exact`, https document links, label search beyond the harmonised fields,
and a User-Agent that names a contact. Over real HTTP (the stand-ins of tests/upstreams)."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest

from tests import configs
from tests.configs import DRUG_TOPIC
from tests.conftest import corpus_root
from tests.polls import NOW, WEEK, run_poll
from tests.upstreams import fixture
from tests.upstreams.openfda import OpenFDA, error_reply, json_reply
from tests.upstreams.server import Reply, Server
from watcher import __version__
from watcher.config import load
from watcher.digest.publish import render
from watcher.http import HttpClient, HttpPolicy
from watcher.sources import openfda, openfda_json
from watcher.sources.window import DateWindow
from watcher.store import Store
from watcher.weeks import Week

SERVER_ERROR = {"error": {"code": "SERVER_ERROR", "message": "Check your request and try again",
                          "details": "[token_mgr_error] Lexical error at line 1, column 33. " + "x" * 9000}}


def client() -> HttpClient:
    return HttpClient(HttpPolicy(user_agent="watcher-tests/1", rate=1e9, backoff=0), sleep=lambda s: None)


# ---- 500 SERVER_ERROR: reported, not retried ----


def test_a_server_error_body_is_final_and_returned_whole(upstream: Server):
    body = json.dumps(SERVER_ERROR).encode()
    assert len(body) > 4096  # longer than the head the predicate is shown: the rest must follow it
    url = upstream.static("/q", Reply(500, body, "application/json"), label="q")
    response = client().get(url, not_retried=openfda.not_retried)
    assert (response.status, response.body) == (500, body)
    assert upstream.count("q") == 1


def test_other_500s_are_still_retried(upstream: Server):
    url = upstream.static("/q", Reply(500, b"<html><h1>500</h1></html>", "text/html"), label="q")
    with pytest.raises(Exception, match=r"HTTP 500 after 4 tries"):
        client().get(url, not_retried=openfda.not_retried)
    assert upstream.count("q") == 4
    assert not openfda.not_retried(503, json.dumps(SERVER_ERROR).encode())  # only a 500 says "your query"
    assert not openfda.not_retried(500, b"<p>while serving GET /x?search=%22code%22:%22SERVER_ERROR%22</p>")


def test_a_malformed_query_fails_the_poll_after_one_request(upstream: Server, tmp_path):
    fake = OpenFDA(upstream)
    fake.page("drug/enforcement", error_reply(500, "SERVER_ERROR", "Check your request and try again"))
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/enforcement"])], topics=DRUG_TOPIC)
    sleeps: list[float] = []
    polled = run_poll(config, sleeps=sleeps)
    assert polled.source("openfda").error.endswith(
        "HTTP 500 (GET /drug/enforcement.json?…): SERVER_ERROR: Check your request and try again")
    assert upstream.count("enforcement") == 1 and sleeps == []


# ---- paging, dates, links ----


@pytest.mark.parametrize("rel", ['rel="NEXT"', "rel=Next", 'rel="prev Next"'])
def test_the_next_link_is_found_whatever_the_case_of_rel(rel):
    found = openfda.next_params({"link": f"<https://api.example/drug/label.json?search=x&search_after=7>; {rel}"})
    assert found == [("search", "x"), ("search_after", "7")]


def test_no_next_link_without_rel_next():
    assert openfda.next_params({"link": '<https://api.example/drug/label.json?search_after=7>; rel="prev"'}) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("20190305", date(2019, 3, 5)), ("2019-03-05", date(2019, 3, 5)), (" 2019-03-05 ", date(2019, 3, 5)),
    ("2019-0305", date(2019, 3, 5)),  # tolerated: the digits are what count
    ("20190230", None), ("2019-03", None), ("", None), (20190305, None), ("05/03/2019", None),
])
def test_dates_in_both_forms(value, expected):
    assert openfda_json.fda_date(value) == expected


def test_drugsfda_document_links_are_upgraded_to_https(upstream: Server, tmp_path):
    record = json.loads(fixture("openfda", "drugsfda_spravato.json"))
    docs = record["results"][0]["submissions"][1]["application_docs"]
    docs[1]["url"] = "http://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s012, 211243Orig1s013ltr.pdf"
    fake = OpenFDA(upstream)
    fake.page("drug/drugsfda", json_reply(json.dumps(record)))
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/drugsfda"])], topics=DRUG_TOPIC)
    item = run_poll(config).items["openfda:drugsfda:NDA211243:SUPPL:12"].item
    # (Our own fixture; a real Drugs@FDA record lists documents this way: http, and a space in the name.)
    assert item.url == "https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s012,%20211243Orig1s013ltr.pdf"
    assert openfda_json.https("HTTP://a.example/x") == "https://a.example/x"
    assert openfda_json.https("https://a.example/x") == "https://a.example/x"


def test_recall_links_ask_for_the_exact_recall_number():
    url = openfda_json.search_url("https://api.example/", "drug/enforcement.json", "recall_number.exact", "D-0042-2027")
    assert url == "https://api.example/drug/enforcement.json?search=recall_number.exact:%22D-0042-2027%22"


# ---- a recall without a recall_number: kept under its event ----


def test_fdas_documented_enforcement_example_is_kept_under_its_event(tmp_path):
    # openFDA's own documented example (real, CC0) has no recall_number: it is a recall all the same.
    path = corpus_root() / "shapes" / "openfda" / "openfda_docs_enforcement_examples.json"
    if not path.exists():
        pytest.skip(f"shared corpus not found at {path}: set WATCHER_CORPUS")
    record = json.loads(path.read_text(encoding="utf-8"))["result"]
    assert "recall_number" not in record and record["event_id"] == "64372"
    window = DateWindow(date(2013, 1, 1), date(2013, 12, 31))
    [item] = openfda_json.enforcement_items(record, source="openfda", base="https://api.example/", window=window)
    assert item.id == "openfda:enforcement:event:64372"
    assert item.url == "https://www.accessdata.fda.gov/scripts/ires/index.cfm?Event=64372"
    assert item.date == "2013-06-12" and item.kind == "recall"  # its report_date, written YYYY-MM-DD
    assert item.title.startswith("FDA recall (Class III): Target Up & Up, athlete's foot cream")
    assert item.title.endswith(" — Novartis Consumer Health")
    assert "initiated: 2013-02-19" in item.abstract and item.extra == {"classification": "Class III", "event_id": "64372"}


def test_a_recall_without_a_recall_number_reaches_the_digest_once(upstream: Server, tmp_path, caplog):
    fake = OpenFDA(upstream)
    fake.page("drug/enforcement", json_reply(fixture("openfda", "enforcement_without_recall_number.json")))
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/enforcement"])], topics=DRUG_TOPIC)
    with caplog.at_level(logging.WARNING, logger="watcher"):
        polled = run_poll(config)
    assert polled.report.ok and polled.ids == ["openfda:enforcement:event:99017"]
    recall = polled.items["openfda:enforcement:event:99017"]
    assert recall.match.matched and recall.item.date == "2026-11-18"
    assert recall.item.url == "https://www.accessdata.fda.gov/scripts/ires/index.cfm?Event=99017"
    # The result with neither a recall number nor an event id is skipped, and the log says so.
    assert [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()] == [
        "openfda: drug/enforcement result 2 skipped: ValueError: no recall_number and no event_id"]
    again = run_poll(config, now=NOW + timedelta(days=1))
    assert again.ids == ["openfda:enforcement:event:99017"] and again.source("openfda").new == 0  # nothing twice
    with Store.open(config.database) as store:
        page = render(store, config, Week.parse(WEEK))
    assert page.count("Ketamine Hydrochloride Injection, USP, 200 mg/20 mL") == 1
    assert ("- **[FDA recall (Class III): Ketamine Hydrochloride Injection, USP, 200 mg/20 mL (10 mg/mL), 20 mL single-dose"
            " vial, Rx only, NDC 00000-111-20, Distributed by Example Injectables LLC. — Example Injectables LLC]"
            "(https://www.accessdata.fda.gov/scripts/ires/index.cfm?Event=99017)**") in page


def test_labels_are_also_searched_by_substance_and_product_text(upstream: Server, tmp_path):
    fake = OpenFDA(upstream)
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/label"], search=["Ketalar"])],
                                  topics=DRUG_TOPIC)
    assert run_poll(config).report.ok
    search = upstream.requests("label")[0].query["search"]
    assert search.startswith('(openfda.generic_name:"Ketalar" OR openfda.brand_name:"Ketalar"'
                             ' OR openfda.substance_name:"Ketalar" OR spl_product_data_elements:"Ketalar")')


# ---- who is asking ----


def test_the_default_user_agent_names_the_contact(upstream: Server, tmp_path):
    fake = OpenFDA(upstream)
    path = configs.write_feeds(tmp_path, [configs.openfda(fake.url, endpoints=["drug/label"])], topics=DRUG_TOPIC,
                               http=None, contact={"email": "ops@clinic.example"})
    config = load(path)
    assert config.http.user_agent == f"watcher/{__version__} (+ops@clinic.example)"
    run_poll(config)
    assert upstream.requests("label")[0].headers["user-agent"] == f"watcher/{__version__} (+ops@clinic.example)"


def test_without_a_contact_the_agent_still_says_what_it_is(tmp_path):
    config = load(configs.write_feeds(tmp_path, http=None, contact=None))
    assert config.http.user_agent == f"watcher/{__version__} (literature watch)"
    configured = load(configs.write_feeds(tmp_path, http={"user_agent": "clinic-watch/2 (+https://clinic.example/)"}))
    assert configured.http.user_agent == "clinic-watch/2 (+https://clinic.example/)"
