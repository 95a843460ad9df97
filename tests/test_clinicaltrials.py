"""ClinicalTrials.gov over real HTTP: the API v2 stand-in of tests/upstreams replays the real search
pages of the shared corpus (a first page with `totalCount` and a token, a later page without
`totalCount`, a last page without token) and single-study records with all modules, and serves
the project's own ketamine studies (tests/upstreams/ctgov.py `study`), through the real poll path
and into the digest: paging, look-back and overlap, each field, a trial update, `near`, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import configs
from tests.polls import NOW, TODAY, WEEK, run_poll
from tests.upstreams import faults
from tests.upstreams.ctgov import ClinicalTrials, study
from watcher.config import Config
from watcher.digest.publish import render
from watcher.digest.view import build_view
from watcher.errors import ConfigError
from watcher.sources.clinicaltrials import FIELDS, ClinicaltrialsSource
from watcher.sources.ctgov_json import Place, studies_of, study_item
from watcher.store import Store
from watcher.weeks import Week

CHICAGO = {"city": "Chicago", "state": "Illinois", "country": "United States"}
TREATMENT = {"cond": "treatment-resistant depression", "intr": "ketamine OR esketamine"}


@pytest.fixture
def ctgov_dir(corpus_dir) -> Path:
    path = corpus_dir / "clinicaltrials"
    if not path.is_dir():
        pytest.skip(f"no clinicaltrials folder in the shared corpus at {path}")
    return path


@pytest.fixture
def fake(upstream) -> ClinicalTrials:
    return ClinicalTrials(upstream)


def write_config(tmp_path: Path, url: str, topics: dict | None = None, **keys) -> Config:
    return configs.write_config(tmp_path, [configs.clinicaltrials(url, query=keys.pop("query", TREATMENT), **keys)],
                                topics=topics)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def asked(fake: ClinicalTrials) -> list[dict[str, str]]:
    return [r.query for r in fake.server.requests(kind="ctgov")]


# ---- the parser, on the corpus's full records ----


def test_a_full_record_with_results(ctgov_dir):
    item = study_item(load(ctgov_dir / "aact" / "NCT02210780.json"), source="ct")
    assert (item.id, item.url, item.journal, item.kind, item.section) == (
        "ctgov:NCT02210780", "https://clinicaltrials.gov/study/NCT02210780", "ClinicalTrials.gov", "trial registration", "registry")
    assert item.title == "Study of Dupilumab and Immune Responses in Adults With Atopic Dermatitis (AD)"
    assert item.extra["official_title"].startswith("A Randomized, Double-Blind, Placebo-Controlled, Study")
    assert item.date == "2014-08-07"  # first posted
    assert item.tracked == (("status", "COMPLETED"), ("phase", "PHASE2"), ("start", "2014-08-05"),
                            ("primary completion", "2015-09-15"), ("completion", "2015-09-15"), ("results", "posted"))
    assert item.extra["has_results"] is True and item.extra["enrollment"] == 194 and item.extra["enrollment_type"] == "ACTUAL"
    assert item.authors == ("Regeneron Pharmaceuticals",) and item.extra["sponsor"] == "Regeneron Pharmaceuticals"
    assert item.publication_types == ("Trial registration", "Interventional", "Phase 2")
    assert {"Atopic Dermatitis", "Dupilumab", "Placebo"} <= set(item.keywords)
    assert "Dermatitis, Atopic" in item.mesh_headings
    assert item.identifiers == ("nct:NCT02210780",)
    sites = item.extra["locations"]
    assert len(sites) > 20 and sites[0] == {"city": "Birmingham", "state": "Alabama", "country": "United States"}


def test_partial_dates_and_why_stopped_are_kept_as_given(ctgov_dir):
    item = study_item(load(ctgov_dir / "aact" / "NCT00973089.json"), source="ct")
    assert dict(item.tracked) == {"status": "WITHDRAWN", "phase": "NA", "start": "2010-05", "primary completion": "2015-03",
                                  "completion": "2015-03"}
    assert "results" not in dict(item.tracked) and item.extra["has_results"] is False
    assert item.extra["why_stopped"].startswith("recruiting or enrolling participants has halted")
    assert item.extra["locations"] == [{"facility": "Hadassah Medical Organization", "city": "Jerusalem", "country": "Israel"}]
    assert item.extra["first_posted"] == "2009-09-09" and item.extra["last_update_posted"] == "2015-08-19"
    # Brief summary then detailed description: the text the topic filter reads.
    assert item.abstract.startswith("The purpose of this study is to evaluate") and "\nThe treatment provided today" in item.abstract
    (counted,) = studies_of(load(ctgov_dir / "biomcp-ctgov" / "search_age_count_20260811.json"))
    assert study_item(counted, source="ct").extra["start_date"] == "2012-05"


def test_markdown_escapes_of_the_registry_are_undone(ctgov_dir):
    item = study_item(load(ctgov_dir / "biomcp-ctgov" / "get_nct02576665_20260811.json"), source="ct")
    assert "(including recurrent high grade glioma [rHGG])" in item.abstract  # the record says \[rHGG\]
    assert item.date == "2016-07"  # no first-posted date asked for: the start, partial as given
    assert item.extra["locations"][0] == {"facility": "Sarah Cannon Research Institute", "city": "Denver", "state": "Colorado",
                                          "country": "United States"}


def test_a_depression_study_without_the_drug_reads_its_conditions(ctgov_dir):
    item = study_item(load(ctgov_dir / "aact" / "NCT03630471.json"), source="ct")
    assert any("Depression" in c for c in item.extra["conditions"]) and item.extra["conditions"] == list(item.keywords[:1])
    assert item.tracked[0] == ("status", "COMPLETED")


def site(city: str, state: str, status: str | None = None, country: str = "United States") -> dict:
    return {"facility": f"{city} Hospital", "city": city, "state": state, "country": country, **({"status": status} if status else {})}


@pytest.mark.parametrize(("sites", "overall", "marked"), [
    ([site("Chicago", "Illinois", "RECRUITING")], "RECRUITING", ["Chicago, Illinois"]),
    ([site("chicago", "ILLINOIS", "RECRUITING")], "RECRUITING", ["Chicago, Illinois"]),  # as the registry happens to spell it
    ([site("Chicago", "Illinois", "NOT_YET_RECRUITING"), site("Boston", "Massachusetts", "RECRUITING")], "RECRUITING", []),
    ([site("Chicago", "Illinois", "COMPLETED")], "COMPLETED", []),
    ([site("Chicago", "Illinois")], "RECRUITING", ["Chicago, Illinois"]),  # no status of its own: the study's
    ([site("Chicago", "Illinois")], "ACTIVE_NOT_RECRUITING", []),
    ([site("Chicago", "Ohio", "RECRUITING")], "RECRUITING", []),  # another Chicago
    ([site("Chicago", "Illinois", "RECRUITING", country="Canada")], "RECRUITING", []),
    ([], "RECRUITING", []),
])
def test_near_marks_a_study_recruiting_at_a_site_there(sites, overall, marked):
    record = study("NCT01234567", "Ketamine", status=overall, locations=sites)
    item = study_item(record, source="ct", near=[Place("Chicago", "Illinois", "United States"), Place("Evanston")])
    assert item.extra["recruiting_near"] == marked
    assert ("recruiting near", "Chicago, Illinois") in item.tracked if marked else "recruiting near" not in dict(item.tracked)


def test_a_study_without_an_nct_number_is_refused():
    with pytest.raises(ValueError, match="no NCT number"):
        study_item({"protocolSection": {"identificationModule": {"nctId": "EUCTR2020-1"}}}, source="ct")


# ---- paging over the real pages ----


def test_paging_follows_next_page_token_repeating_every_other_parameter(fake, ctgov_dir, tmp_path):
    folder = ctgov_dir / "biomcp-ctgov"
    first, later, last = (folder / f"search_phelan_{n}_20260811.json" for n in ("limit5", "next", "limit50"))
    assert "totalCount" in load(first) and "totalCount" not in load(later) and "nextPageToken" not in load(last)
    fake.page(first.read_bytes())
    fake.page(later.read_bytes(), token=load(first)["nextPageToken"])
    fake.page(last.read_bytes(), token=load(later)["nextPageToken"])
    config = write_config(tmp_path, fake.url, query={"cond": "Phelan-McDermid Syndrome"}, page_size=5)
    polled = run_poll(config)

    assert polled.report.ok, polled.report
    assert fake.server.labels() == ["studies:1", "studies:2", "studies:3"]
    one, two, three = asked(fake)
    assert "pageToken" not in one and two["pageToken"] == load(first)["nextPageToken"] and three["pageToken"] == load(later)["nextPageToken"]
    for other in (two, three):
        assert {k: v for k, v in other.items() if k != "pageToken"} == one
    assert one["query.cond"] == "Phelan-McDermid Syndrome" and "query.term" not in one
    assert one["fields"] == FIELDS and one["pageSize"] == "5" and one["format"] == "json"
    assert one["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-10-25,MAX]"  # the 30-day look-back
    # 5 + 5 + 3 studies; the last page repeats three of the first: each is stored once.
    expected = {f"ctgov:{s['protocolSection']['identificationModule']['nctId']}" for f in (first, later, last)
                for s in load(f)["studies"]}
    assert len(expected) == 10 and set(polled.ids) == expected and len(polled.ids) == 10
    assert polled.source("clinicaltrials").fetched == 13
    assert polled.states["clinicaltrials"].cursor == TODAY.isoformat()  # the date, never a token


def test_look_back_first_then_the_cursor_less_the_overlap(fake, tmp_path):
    fake.add(study("NCT07000001", "Esketamine nasal spray for TRD", last_update="2026-10-01"),
             study("NCT07000002", "Ketamine infusions in older adults", last_update="2026-11-23"))
    config = write_config(tmp_path, fake.url, lookback_days=90, overlap_days=5)
    first = run_poll(config)
    assert set(first.ids) == {"ctgov:NCT07000001", "ctgov:NCT07000002"}
    second = run_poll(config, now=NOW + timedelta(days=2))
    ranges = [q["filter.advanced"] for q in asked(fake)]
    assert ranges == ["AREA[LastUpdatePostDate]RANGE[2026-08-26,MAX]", "AREA[LastUpdatePostDate]RANGE[2026-11-19,MAX]"]
    assert second.source("clinicaltrials").fetched == 1 and second.source("clinicaltrials").new == 0
    assert second.states["clinicaltrials"].cursor == "2026-11-26"


def test_generated_pages_are_walked_to_the_end(fake, tmp_path):
    fake.add(*[study(f"NCT0710{i:04d}", f"Ketamine trial {i}") for i in range(7)])
    polled = run_poll(write_config(tmp_path, fake.url, page_size=3))
    assert fake.server.labels() == ["studies:1", "studies:2", "studies:3"] and len(polled.ids) == 7


def test_a_token_that_repeats_is_a_failure_and_moves_nothing(fake, ctgov_dir, tmp_path):
    first = ctgov_dir / "biomcp-ctgov" / "search_phelan_limit5_20260811.json"
    fake.page(first.read_bytes())
    fake.page(first.read_bytes(), token=load(first)["nextPageToken"])  # the "next" page names itself again
    polled = run_poll(write_config(tmp_path, fake.url))
    error = polled.source("clinicaltrials").error
    assert error == f"{fake.server.base.split('/')[2]}: ClinicalTrials.gov: nextPageToken repeats an earlier page's (page 2)"
    assert polled.states["clinicaltrials"].cursor is None and len(polled.ids) == 5  # the pages read are kept


def test_a_400_is_the_registrys_own_text_and_is_not_retried(fake, tmp_path):
    fake.server.arm("studies", faults.answer(400, "`filter.phase` is unknown parameter", "text/plain"))
    polled = run_poll(write_config(tmp_path, fake.url))
    error = polled.source("clinicaltrials").error or ""
    assert error.startswith(f"{fake.server.base.split('/')[2]}: HTTP 400 (GET /api/v2/studies?…)")
    assert error.endswith(": `filter.phase` is unknown parameter")
    assert fake.server.count("studies") == 1  # no retry
    assert polled.states["clinicaltrials"].consecutive_failures == 1


def test_an_answer_without_studies_is_a_failure(fake, tmp_path):
    fake.server.arm("studies", faults.answer(200, '{"totalCount": 3}', "application/json"))
    polled = run_poll(write_config(tmp_path, fake.url))
    assert polled.source("clinicaltrials").error.endswith("ClinicalTrials.gov: the answer has no `studies` list")


def test_the_stand_in_refuses_an_unknown_parameter_as_the_registry_does(fake):
    import requests

    answer = requests.get(fake.url + "studies", params={"filter.phase": "PHASE2"}, timeout=5)
    assert (answer.status_code, answer.headers["content-type"], answer.text) == (400, "text/plain", "`filter.phase` is unknown parameter")


# ---- into the digest: the listing, near, a trial update once ----

WEEK46 = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)


def test_a_registration_is_listed_with_its_status_and_recruiting_near(fake, tmp_path):
    fake.add(study("NCT07000003", "Esketamine for adolescents with depression",
                   locations=[site("Chicago", "Illinois", "RECRUITING"), site("Houston", "Texas", "RECRUITING")]))
    config = write_config(tmp_path, fake.url, near=[CHICAGO])
    assert run_poll(config).report.ok
    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse(WEEK))
        markdown, page = render(store, config, Week.parse(WEEK)), render(store, config, Week.parse(WEEK), "html")
    (section,) = view.sections
    (entry,) = section.entries
    assert section.title == "Trial registrations" and entry.marks == ("recruiting in Chicago, Illinois",)
    assert entry.facts == ("status: RECRUITING", "phase: PHASE2", "start: 2026-12", "primary completion: 2027-06", "completion: 2027-12")
    assert ("- **[Esketamine for adolescents with depression](https://clinicaltrials.gov/study/NCT07000003)**"
            " · **recruiting in Chicago, Illinois** \\") in markdown
    assert "  status: RECRUITING · phase: PHASE2 · start: 2026-12 · primary completion: 2027-06 · completion: 2027-12 \\" in markdown
    assert '<span class="mark">recruiting in Chicago, Illinois</span>' in page
    assert '<div class="facts">status: RECRUITING · phase: PHASE2' in page


def test_a_status_change_is_one_update_in_the_week_it_is_seen(fake, tmp_path):
    recruiting = study("NCT07000004", "Ketamine versus ECT for depression", status="RECRUITING")
    fake.add(recruiting)
    config = write_config(tmp_path, fake.url, near=[CHICAGO])
    assert run_poll(config, now=WEEK46).report.ok  # registered and listed in 2026-W46
    done = study("NCT07000004", "Ketamine versus ECT for depression", status="COMPLETED", has_results=True,
                 last_update="2026-11-23", locations=[site("Chicago", "Illinois")])
    fake.generated[:] = [done]
    assert run_poll(config).report.ok  # 2026-W48: completed, results posted
    assert run_poll(config, now=NOW + timedelta(days=1)).report.ok  # seen again: no news
    with Store.open(config.database) as store:
        view = build_view(store, config, Week.parse(WEEK))
        markdown, page = render(store, config, Week.parse(WEEK)), render(store, config, Week.parse(WEEK), "html")
        later = build_view(store, config, Week.parse("2026-W49"))
    assert view.total == 0 and not view.sections
    assert [(n.detail, n.listed_in) for n in view.updates] == [("status: RECRUITING → COMPLETED", "2026-W46"),
                                                               ("results posted", "2026-W46")]
    line = "[Ketamine versus ECT for depression](https://clinicaltrials.gov/study/NCT07000004) (listed in 2026-W46)"
    assert f"- **status: RECRUITING → COMPLETED**: {line}" in markdown and f"- **results posted**: {line}" in markdown
    assert markdown.count("Ketamine versus ECT") == 2 and "## Updates to items already listed (2)" in markdown
    assert "<strong>status: RECRUITING → COMPLETED</strong>" in page and '<a href="2026-W46.html#item-ctgov-nct07000004">' in page
    assert not later.updates and later.total == 0


# ---- feeds.yaml ----


@pytest.mark.parametrize(("keys", "path", "message"), [
    ({}, "sources[0] (ct).query", "is required but missing"),
    ({"query": {}}, "sources[0] (ct).query", "needs at least one of term, cond or intr"),
    ({"query": {"condition": "x"}}, "sources[0] (ct).query.condition", "unknown key; expected one of: cond, intr, term"),
    ({"query": {"cond": "a\nb"}}, "sources[0] (ct).query.cond", "must be a single line"),
    ({"query": "x", "page_size": 5000}, "sources[0] (ct).page_size", "must be from 1 to 1000, not 5000"),
    ({"query": "x", "near": [{"state": "Illinois"}]}, "sources[0] (ct).near[0].city", "is required but missing"),
    ({"query": "x", "near": {"city": "Chicago"}}, "sources[0] (ct).near", "must be a list of places"),
    ({"query": "x", "near": [{"city": "Chicago", "zip": "60601"}]}, "sources[0] (ct).near[0].zip", "unknown key"),
    ({"query": "x", "rate": 0}, "sources[0] (ct).rate", "must be from 0.05 to 10"),
])
def test_bad_settings_name_the_key(tmp_path, keys, path, message):
    with pytest.raises(ConfigError) as error:
        configs.write_config(tmp_path, [{"name": "ct", "type": "clinicaltrials", "url": "https://example.org/api/v2/", **keys}])
    assert error.value.path == path and message in str(error.value)


def test_a_bare_query_is_the_free_text_term():
    settings = ClinicaltrialsSource.parse_settings({"query": "ketamine AND depression", "near": [CHICAGO]}, "s")
    assert settings.query == (("query.term", "ketamine AND depression"),)
    assert settings.near == (Place("Chicago", "Illinois", "United States"),) and settings.paging.rate == 1.0
