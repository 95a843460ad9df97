"""openFDA over real HTTP: the api.fda.gov stand-in of tests/upstreams replays real answers from the
shared corpus (paging with Link headers, error bodies, labels) and the project's own fixtures
(Drugs@FDA, recalls), through the real poll path and into the digest."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests import configs
from tests.configs import DRUG_TOPIC
from tests.polls import NOW, WEEK, run_poll
from tests.upstreams import faults, fixture
from tests.upstreams.openfda import OpenFDA, Recorded, error_answer, json_reply, load_cassette
from watcher.config import Config
from watcher.digest.publish import render
from watcher.errors import ConfigError
from watcher.sources import openfda_json
from watcher.sources.openfda import OpenfdaSource
from watcher.sources.window import DateWindow as Window
from watcher.store import Store
from watcher.weeks import Week

RECORDED = datetime(2025, 7, 22, 17, 0, tzinfo=UTC)  # when the cassettes were recorded
SECRET = "Zq9sEcReT-openfda-KEY-7741"
DRUGSFDA, LABEL, ENFORCEMENT = "drug/drugsfda", "drug/label", "drug/enforcement"


def openfda_source(url: str, **keys) -> dict:
    return configs.openfda(url, **keys)


def write_config(tmp_path: Path, sources: list[dict]) -> Config:
    """The clinic's kind of topic: only records naming one of the drugs match."""
    return configs.write_config(tmp_path, sources, topics=DRUG_TOPIC)


@pytest.fixture
def fake(upstream) -> OpenFDA:
    return OpenFDA(upstream)


def host(fake: OpenFDA) -> str:
    """How an error names the stand-in: its host and port, first."""
    return fake.server.base.split("/")[2]


def asked(fake: OpenFDA) -> list[dict[str, list[str]]]:
    """The query of every request the stand-in answered, each parameter with all its values."""
    return [r.query_lists for r in fake.server.requests(kind="openfda")]


@pytest.fixture
def corpus_fda(corpus_dir) -> Path:
    path = corpus_dir / "fda" / "openfda"
    if not path.is_dir():
        pytest.skip(f"no fda/openfda folder in the shared corpus at {path}")
    return path


@pytest.fixture
def paging(corpus_fda) -> list[Recorded]:
    return load_cassette(corpus_fda / "simpar1471-openFDA" / "test-paging.yml")


@pytest.fixture
def errors(corpus_fda) -> list[Recorded]:
    return load_cassette(corpus_fda / "simpar1471-openFDA" / "test-handle_http_errors.yml")


def serve_semaglutide_pages(fake: OpenFDA, paging: list[Recorded], link_suffix: str = "") -> list[Recorded]:
    """The two recorded pages of `openfda.generic_name:"semaglutide"&limit=2`, in order."""
    first = next(r for r in paging if "semaglutide" in r.uri and r.search_after is None)
    second = next(r for r in paging if r.search_after is not None and "semaglutide" in r.uri)
    assert 'rel="next"' in first.headers["link"] and "link" not in second.headers
    link = first.headers["link"].replace(">;", link_suffix + ">;") if link_suffix else None
    fake.page(DRUGSFDA, first.reply(link=link))
    fake.page(DRUGSFDA, second, search_after=second.search_after)
    return [first, second]


def submissions_in(pages: list[Recorded], window: Window) -> set[str]:
    """The ids the source should make, counted from the recorded bodies themselves."""
    ids = set()
    for page in pages:
        for record in json.loads(page.body)["results"]:
            for s in record["submissions"]:
                if window.start <= datetime.strptime(s["submission_status_date"], "%Y%m%d").date() <= window.end:
                    ids.add(f"openfda:drugsfda:{record['application_number']}:{s['submission_type']}:{s['submission_number']}")
    return ids


# ---- paging, windows, stable ids ----


def test_paging_follows_the_link_header_until_there_is_none(fake, paging, tmp_path):
    pages = serve_semaglutide_pages(fake, paging)
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda"], lookback_days=3650)])
    polled = run_poll(config, now=RECORDED)

    assert polled.report.ok, polled.report
    assert fake.server.labels() == ["drugsfda:1", "drugsfda:2"]
    first, second = asked(fake)
    assert "search_after" not in first and "skip" not in first  # no skip: search_after needs its absence
    assert second["search_after"] == [pages[1].search_after]
    assert second.get("skip", ["0"]) == ["0"]  # the link's own skip=0, never a growing offset
    assert second["search"] == ['openfda.generic_name:"semaglutide"'] and second["limit"] == ["2"]  # the link's query
    expected = submissions_in(pages, Window(date(2015, 7, 25), date(2025, 7, 22)))
    assert len(expected) > 5
    assert set(polled.items) == expected
    assert polled.states["openfda"].cursor == "2025-07-22"


def test_the_search_is_quoted_fields_or_ed_and_a_date_range(fake, tmp_path):
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda", "drug/label", "drug/enforcement"],
                                                    search=["esketamine hydrochloride", "Spravato"], limit=1000)])
    assert run_poll(config).report.ok
    searches = [r["search"][0] for r in asked(fake)]
    assert searches[0] == (
        '(openfda.generic_name:"esketamine hydrochloride" OR openfda.brand_name:"esketamine hydrochloride"'
        ' OR products.brand_name:"esketamine hydrochloride" OR products.active_ingredients.name:"esketamine hydrochloride"'
        ' OR openfda.generic_name:"Spravato" OR openfda.brand_name:"Spravato" OR products.brand_name:"Spravato"'
        ' OR products.active_ingredients.name:"Spravato")'
        " AND submissions.submission_status_date:[20260826 TO 20261124]")
    assert searches[1].endswith(" AND effective_time:[20260826 TO 20261124]")
    assert 'product_description:"Spravato"' in searches[2] and searches[2].endswith(" AND report_date:[20260826 TO 20261124]")
    # On the wire, spaces are `+` as openFDA documents: `+AND+`, `"esketamine+hydrochloride"`, `[a+TO+b]`.
    raw = fake.server.requests()[0].raw_query
    assert "+AND+submissions.submission_status_date%3A%5B20260826+TO+20261124%5D" in raw
    assert "%22esketamine+hydrochloride%22" in raw and "limit=1000" in raw
    assert [r.path for r in fake.server.requests()] == ["/drug/drugsfda.json", "/drug/label.json", "/drug/enforcement.json"]


def test_ids_are_stable_and_later_polls_overlap_the_cursor(fake, tmp_path):
    fake.page(DRUGSFDA, json_reply(fixture("openfda", "drugsfda_spravato.json")))
    fake.page(ENFORCEMENT, json_reply(fixture("openfda", "enforcement_ketamine.json")))
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda", "drug/enforcement"],
                                                    overlap_days=30)])
    first = run_poll(config)
    second = run_poll(config, now=NOW.replace(day=25))
    assert second.report.ok
    assert second.source("openfda").fetched == first.source("openfda").fetched == 3
    assert second.source("openfda").new == 0  # the same records, the same ids: nothing stored twice
    assert set(second.items) == set(first.items) == {
        "openfda:drugsfda:NDA211243:SUPPL:12", "openfda:drugsfda:NDA211243:SUPPL:13", "openfda:enforcement:D-0042-2027"}
    # First poll: lookback (90 days); second: from the cursor minus the overlap, to today.
    searches = [r["search"][0] for r in asked(fake)]
    assert searches[0].endswith("submissions.submission_status_date:[20260826 TO 20261124]")
    assert searches[2].endswith("submissions.submission_status_date:[20261025 TO 20261125]")
    assert searches[3].endswith("report_date:[20261025 TO 20261125]")
    assert second.states["openfda"].cursor == "2026-11-25"


def test_paging_that_never_ends_is_a_failure(fake, paging, tmp_path):
    page = next(r for r in paging if "semaglutide" in r.uri and r.search_after is None)
    loop = page.headers["link"]
    search_after = "0=YEwDMJgBCsORzztAE_Kv"
    fake.page(DRUGSFDA, page)
    fake.page(DRUGSFDA, page.reply(link=loop), search_after=search_after)  # "next" is itself
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda"], lookback_days=3650)])
    polled = run_poll(config, now=RECORDED)
    assert polled.source("openfda").error == f"{host(fake)}: openFDA drug/drugsfda: the next-page link repeats an earlier page (page 2)"
    assert polled.states["openfda"].cursor is None  # nothing moved


def test_a_next_link_to_another_host_is_asked_of_our_own(fake, paging, tmp_path):
    # Only the link's query is used: the api_key is never sent to whatever host a link names.
    first = next(r for r in paging if "semaglutide" in r.uri and r.search_after is None)
    second = next(r for r in paging if r.search_after is not None and "semaglutide" in r.uri)
    evil = '<https://evil.example/steal?search_after=0%3DYEwDMJgBCsORzztAE_Kv&api_key=leaked>; rel="next"'
    fake.page(DRUGSFDA, first.reply(link=evil))
    fake.page(DRUGSFDA, second, search_after=second.search_after)
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda"], lookback_days=3650)])
    polled = run_poll(config, now=RECORDED, env={"OPENFDA_API_KEY": SECRET})
    assert polled.report.ok
    assert fake.server.labels() == ["drugsfda:1", "drugsfda:2"]  # both asked of our own server
    assert asked(fake)[1]["api_key"] == [SECRET]  # ours, once; the link's echo dropped


# ---- what openFDA answers when there is nothing, or something is wrong ----


def test_not_found_means_nothing_new(fake, errors, corpus_fda, tmp_path):
    recorded = error_answer(errors, "NOT_FOUND")
    assert recorded.status == 404
    fake.page(DRUGSFDA, recorded)
    fake.page(LABEL, json_reply((corpus_fda / "TFlowGit-tf-ads-bpa" / "404.json").read_bytes(), 404))
    fake.page(ENFORCEMENT, recorded)
    config = write_config(tmp_path, [openfda_source(fake.url)])
    polled = run_poll(config)
    source = polled.source("openfda")
    assert source.ok and source.fetched == 0 and source.error is None
    assert polled.states["openfda"].cursor == "2026-11-24"
    assert fake.server.labels() == ["drugsfda:1", "label:1", "enforcement:1"]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("BAD_REQUEST", 400, "HTTP 400 (GET /drug/label.json?…): BAD_REQUEST: Sorting allowed by non-analyzed fields only: invalid_field"),
        ("API_KEY_INVALID", 403, "HTTP 403 (GET /drug/label.json?…): API_KEY_INVALID: An invalid api_key was supplied."),
        ("SERVER_ERROR", 500, "HTTP 500 (GET /drug/label.json?…): SERVER_ERROR: Check your request and try again"),
    ],
)
def test_error_answers_fail_naming_code_and_message(fake, errors, tmp_path, code, status, expected):
    recorded = error_answer(errors, code)
    assert recorded.status == status
    fake.page(LABEL, recorded)
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/label"])])
    sleeps: list[float] = []
    polled = run_poll(config, sleeps=sleeps)
    error = polled.source("openfda").error
    assert error.startswith(f"{host(fake)}: {expected}")
    assert "\n" not in error
    assert polled.states["openfda"].cursor is None and polled.states["openfda"].last_error == error
    # openFDA's 500 SERVER_ERROR answers a malformed query: asking again fails again, so it is reported at once.
    assert fake.server.count("label") == 1 and sleeps == []


def test_old_server_error_body_is_reported_too(fake, corpus_fda, tmp_path):
    fake.page(ENFORCEMENT, json_reply((corpus_fda / "TFlowGit-tf-ads-bpa" / "500.json").read_bytes(), 500))
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/enforcement"])])
    error = run_poll(config).source("openfda").error
    assert error == f"{host(fake)}: HTTP 500 (GET /drug/enforcement.json?…): SERVER_ERROR: Check your request and try again"
    assert fake.server.count("enforcement") == 1


def test_error_inside_a_200_and_non_json_answers_are_failures(fake, tmp_path):
    fake.page(DRUGSFDA, json_reply('{"error": {"code": "TIMEOUT", "message": "took too long"}}'))
    fake.page(LABEL, json_reply(fixture("openfda", "drugsfda_spravato.json")))
    fake.server.arm("label", faults.answer(200, "<html>maintenance</html>", "text/html"))
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda"]),
                                     openfda_source(fake.url, name="labels", endpoints=["drug/label"])])
    polled = run_poll(config)
    assert polled.source("openfda").error == f"{host(fake)}: HTTP 200 (GET /drug/drugsfda.json?…): TIMEOUT: took too long"
    assert polled.source("labels").error == f"{host(fake)}: openFDA drug/label: the answer is not JSON"


def test_api_key_is_sent_but_never_shown(fake, errors, paging, tmp_path, caplog):
    # Page 1 echoes the key in its Link (as a keyed request's links may); the label endpoint refuses it.
    serve_semaglutide_pages(fake, paging, link_suffix=f"&api_key={SECRET}")
    fake.page(LABEL, error_answer(errors, "API_KEY_INVALID"))
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda", "drug/label"],
                                                    lookback_days=3650)])
    with caplog.at_level(logging.DEBUG):
        polled = run_poll(config, now=RECORDED, env={"OPENFDA_API_KEY": SECRET})
    assert [r["api_key"] for r in asked(fake)] == [[SECRET]] * 3
    error = polled.source("openfda").error
    assert error.startswith(f"{host(fake)}: HTTP 403 (GET /drug/label.json?…): API_KEY_INVALID: An invalid api_key")
    assert SECRET not in error
    ours = caplog.records
    assert any("api_key=***" in r.getMessage() for r in ours)  # the debug line names the URL, redacted
    assert not [r for r in ours if SECRET in r.getMessage()]
    assert SECRET.encode() not in Path(config.database).read_bytes()
    for wal in Path(config.database).parent.glob("*.db-wal"):
        assert SECRET.encode() not in wal.read_bytes()
    with sqlite3.connect(config.database) as conn:
        dumped = "\n".join(conn.iterdump())
    assert SECRET not in dumped


# ---- records into items ----


def test_label_items_from_real_labels(fake, corpus_fda, tmp_path):
    ambien = json.loads((corpus_fda / "TFlowGit-tf-ads-bpa" / "ambien.json").read_text())
    zoloft = json.loads((corpus_fda / "ythalorossy-openfda" / "label-zoloft.json").read_text())
    both = json.dumps({"meta": ambien["meta"], "results": ambien["results"] + zoloft["results"]})
    fake.page(LABEL, json_reply(both))
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/label"])])
    polled = run_poll(config)
    assert polled.report.ok
    item = polled.items["openfda:label:02b5e3bb-c976-40a3-9077-64ffe637429f:3"].item
    assert item.url == "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=02b5e3bb-c976-40a3-9077-64ffe637429f"
    assert item.date == "2012-09-18"
    assert item.title == "FDA label revision: AMBIEN (zolpidem tartrate), STAT Rx USA LLC (version 3)"
    assert item.abstract.startswith("Ambien (zolpidem tartrate) is indicated for the short-term treatment of insomnia")
    assert len(item.abstract) <= openfda_json.SUMMARY_CHARS + 2 and item.abstract.endswith("…")
    assert {"AMBIEN", "ZOLPIDEM TARTRATE"} <= set(item.keywords)
    assert item.section == "regulatory" and item.kind == "label change"
    # The abridged label has no set_id/version/effective_time: openfda.spl_set_id and the SPL id stand in.
    abridged = polled.items["openfda:label:fda754f6-d0f3-4dce-a17a-927d64f912f7:spl-fd27d2f5-1ade-4dbf-b2d2-bb98daf7da3a"].item
    assert abridged.date is None and abridged.title.startswith("FDA label revision: ZOLOFT (sertraline hydrochloride)")


def test_drugsfda_submissions_in_the_window_become_one_item_each(fake, tmp_path):
    fake.page(DRUGSFDA, json_reply(fixture("openfda", "drugsfda_spravato.json")))
    config = write_config(tmp_path, [openfda_source(fake.url, endpoints=["drug/drugsfda"])])
    polled = run_poll(config)
    assert sorted(polled.items) == ["openfda:drugsfda:NDA211243:SUPPL:12", "openfda:drugsfda:NDA211243:SUPPL:13"]
    efficacy = polled.items["openfda:drugsfda:NDA211243:SUPPL:12"].item
    assert efficacy.title == "FDA approval: SPRAVATO (esketamine hydrochloride) NDA211243 supplement SUPPL-12 (Efficacy)"
    assert efficacy.url == "https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s012ltr.pdf"
    assert efficacy.date == "2026-11-10"
    assert efficacy.abstract == ("Drugs@FDA: SUPPL-12 to NDA211243 (JANSSEN PHARMS), status AP on 2026-11-10; class: Efficacy;"
                                 " review priority: PRIORITY; documents: Label, Letter.")
    assert efficacy.keywords == ("SPRAVATO", "ESKETAMINE HYDROCHLORIDE")
    assert efficacy.kind == "approval" and efficacy.section == "regulatory"
    no_docs = polled.items["openfda:drugsfda:NDA211243:SUPPL:13"].item
    assert no_docs.url == f'{fake.url}drug/drugsfda.json?search=application_number:%22NDA211243%22'


def test_recalls_and_approvals_reach_the_regulatory_section_of_the_digest(fake, tmp_path):
    fake.page(DRUGSFDA, json_reply(fixture("openfda", "drugsfda_spravato.json")))
    fake.page(ENFORCEMENT, json_reply(fixture("openfda", "enforcement_ketamine.json")))
    config = write_config(tmp_path, [openfda_source(fake.url)])  # label: NOT_FOUND from the stand-in
    polled = run_poll(config)
    assert polled.report.ok
    recall = polled.items["openfda:enforcement:D-0042-2027"].item
    assert recall.title == ("FDA recall (Class II): Ketamine Hydrochloride Injection, USP, 500 mg/10 mL (50 mg/mL), 10 mL"
                            " multiple-dose vial, Rx only, NDC 00000-000-00 — Example Injectables LLC")
    assert recall.abstract.startswith("Reason: Lack of Assurance of Sterility")
    assert "initiated: 2026-10-30" in recall.abstract and recall.date == "2026-11-18"
    assert recall.url == f'{fake.url}drug/enforcement.json?search=recall_number.exact:%22D-0042-2027%22'
    with Store.open(config.database) as store:
        page = render(store, config, Week.parse(WEEK))
    regulatory = page.split("## Regulatory (3)", 1)[1].split("\n## ", 1)[0]
    assert "[FDA approval: SPRAVATO (esketamine hydrochloride) NDA211243 supplement SUPPL-12 (Efficacy)]" \
           "(https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s012ltr.pdf)" in regulatory
    assert "2026-11-18" in regulatory and "2026-11-10" in regulatory
    assert "> Reason: Lack of Assurance of Sterility" in regulatory  # the one-line summary
    assert "FDA recall (Class II): Ketamine Hydrochloride Injection" in regulatory


# ---- configuration ----


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"endpoints": ["drug/label", "drug/event"]},
         "sources[0] (openfda).endpoints[1]: unknown endpoint 'drug/event'; use one of: drug/drugsfda, drug/label, drug/enforcement"),
        ({"endpoints": ["drug/label", "drug/label"]}, "sources[0] (openfda).endpoints[1]: 'drug/label' is listed twice"),
        ({"endpoints": []}, "sources[0] (openfda).endpoints: must be a non-empty list"),
        ({"search": ['spravato" OR *:*']}, "sources[0] (openfda).search[0]: "),
        ({"limit": 1001}, "sources[0] (openfda).limit: must be from 1 to 1000, not 1001"),
        ({"api_key": "x"}, "sources[0] (openfda).api_key: unknown key"),
    ],
)
def test_config_errors_name_the_key(tmp_path, keys, message):
    with pytest.raises(ConfigError) as caught:
        write_config(tmp_path, [openfda_source("https://api.fda.gov/", **keys)])
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_defaults():
    settings = OpenfdaSource.parse_settings({"search": "esketamine"}, "sources[0]")
    assert settings.endpoints == ("drug/drugsfda", "drug/label", "drug/enforcement")
    assert settings.limit == 100 and settings.search == ("esketamine",)


def test_the_drug_names_come_from_feeds_yaml_alone():
    with pytest.raises(ConfigError, match=r"^sources\[0\]\.search: is required but missing$"):
        OpenfdaSource.parse_settings({}, "sources[0]")
