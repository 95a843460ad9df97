"""Europe PMC over real HTTP: the REST search stand-in of tests/upstreams replays the real answers of
the shared corpus (core results with HTML abstracts, lite results, an empty result, a compact
byte-faithful capture) and serves the project's own preprints and ketamine records
(tests/upstreams/europepmc.py `result`): cursorMark paging to each way a walk ends, look-back and
overlap, each field, preprints and their links, failures, bad config."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests import configs
from tests.polls import NOW, TODAY, run_poll
from tests.upstreams import faults
from tests.upstreams.europepmc import EuropePMC, result, results
from watcher.config import Config
from watcher.errors import ConfigError
from watcher.model import Related
from watcher.sections import flags_of
from watcher.sources.europepmc_json import from_html, result_item, results_of

TAG = re.compile(r"</?[a-z][a-z0-9]*[ >/]")


@pytest.fixture
def epmc_dir(corpus_dir) -> Path:
    path = corpus_dir / "europepmc"
    if not path.is_dir():
        pytest.skip(f"no europepmc folder in the shared corpus at {path}")
    return path


@pytest.fixture
def fake(upstream) -> EuropePMC:
    return EuropePMC(upstream)


def write_config(tmp_path: Path, url: str, **keys) -> Config:
    return configs.write_config(tmp_path, [configs.europepmc(url, **keys)])


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def corpus_results(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in results_of(load(path))}


def asked(fake: EuropePMC) -> list[dict[str, str]]:
    return [r.query for r in fake.server.requests(kind="europepmc")]


# ---- the parser, on the corpus ----


def test_core_results_give_every_field_and_plain_text_abstracts(epmc_dir):
    found = corpus_results(epmc_dir / "pyEuropePMC" / "search_cancer_core.json")
    item = result_item(found["40468710"], source="europepmc")
    assert (item.id, item.url) == ("europepmc:MED:40468710", "https://europepmc.org/article/MED/40468710")
    assert item.title == "The role of psychological flexibility in relation to health outcomes in people in remission from cancer."
    assert item.abstract.startswith("Objective: This study investigated whether psychological flexibility")
    assert "\nDesign: This was an online, prospective" in item.abstract and not TAG.search(item.abstract)
    assert "(at p < .001)" in item.abstract  # an escaped "<" is text
    assert item.authors[:2] == ("Al-Abbadey M", "Tomescu-Stachie S")
    assert (item.journal, item.date, item.doi) == ("British journal of health psychology", "2025-09-01", "10.1111/bjhp.12807")
    assert item.publication_types == ("Journal Article",) and item.kind is None
    assert "Neoplasms" in item.mesh_headings and item.keywords[:2] == ("Cancer", "Acceptance And Commitment Therapy")
    assert item.identifiers == ("epmc:MED:40468710", "pmid:40468710")
    assert item.extra["pmid"] == "40468710" and item.extra["first_index_date"] == found["40468710"]["firstIndexDate"]
    sulfide = result_item(found["40511629"], source="europepmc")
    assert "Hydrogen sulfide (H2S) is of particular interest" in sulfide.abstract  # <sub>2</sub> without a space


def test_every_core_abstract_loses_its_markup(epmc_dir):
    found = corpus_results(epmc_dir / "pyEuropePMC" / "search_cancer_core.json")
    assert sum("<h4>" in (r.get("abstractText") or "") for r in found.values()) == 15
    for record in found.values():
        item = result_item(record, source="e")
        assert not TAG.search(item.abstract or "") and not TAG.search(item.title), item.id


def test_an_erratum_keeps_its_link_and_flag(epmc_dir):
    found = corpus_results(epmc_dir / "pyEuropePMC" / "search_cancer_core.json")
    item = result_item(found["39709208"], source="e")
    assert item.related == (Related("ErratumFor", "MED:39293462", "39293462"),)
    assert flags_of(item) == ["erratum notice"] and item.extra["pmcid"] == "PMC12124214"
    assert item.identifiers == ("epmc:MED:39709208", "pmid:39709208")  # an erratum is not the work it corrects


def test_lite_and_compact_results(epmc_dir):
    lite = result_item(corpus_results(epmc_dir / "pyEuropePMC" / "search_cancer.json")["39709209"], source="e")
    assert lite.authors == ("Schoenfeld JD", "Haas-Kogan DA", "O'Neill AF") and lite.journal == "Lancet"
    assert lite.publication_types == ("journal article",) and lite.abstract is None
    (compact,) = results_of(load(epmc_dir / "biomcp" / "search_pmid_20516115.json"))
    item = result_item(compact, source="e")
    assert item.doi == "10.1158/0008-5472.can-09-4563" and item.extra["pmcid"] == "PMC3040717" and item.journal == "Cancer Res"
    assert "research-article" in item.publication_types and len(item.authors) == 11
    assert list(results_of(load(epmc_dir / "pyEuropePMC" / "search_no_results.json"))) == []


def test_a_preprint_is_flagged_and_names_its_published_version():
    preprint = result_item(result("PPR901", "Ketamine in late-life depression", source="PPR", pub_types=("preprint",),
                                  doi="10.1101/2026.01.02.26300001", journal="medRxiv",
                                  links=[{"id": "41000001", "source": "MED", "type": "Preprint in"}]), source="e")
    assert preprint.publication_types == ("Preprint",) and preprint.kind == "preprint"
    assert flags_of(preprint) == ["preprint, not peer reviewed"] and preprint.journal == "medRxiv"
    assert preprint.identifiers == ("epmc:PPR:PPR901", "epmc:MED:41000001", "pmid:41000001")
    assert preprint.extra["preprint_links"] == [{"type": "PreprintIn", "ref": "MED:41000001"}]
    published = result_item(result("41000001", "Ketamine in late-life depression: a trial", pmid="41000001",
                                    links=[{"id": "PPR901", "source": "PPR", "type": "Preprint of"}]), source="e")
    assert published.identifiers == ("epmc:MED:41000001", "pmid:41000001", "epmc:PPR:PPR901") and not flags_of(published)


@pytest.mark.parametrize(("markup", "text"), [
    ("<h4>Background</h4>One.<h4>Methods:</h4>Two <i>in vivo</i>.", "Background: One.\nMethods: Two in vivo."),
    ("CO<sub>2</sub> &amp; O<sup>2+</sup> &lt;script&gt;", "CO2 & O2+ <script>"),
    ("<p>First.</p><p>Second<br>third.</p>", "First.\nSecond\nthird."),
    ("plain text, no markup", "plain text, no markup"),
    ("<b>" * 5000 + "deep" + "</b>" * 5000, "deep"),
    ("", None),
])
def test_html_is_reduced_to_text(markup, text):
    assert from_html(markup) == text


# ---- the walk ----


def test_cursor_mark_paging_over_real_pages_stops_at_an_empty_page(fake, epmc_dir, tmp_path):
    core = epmc_dir / "pyEuropePMC" / "search_cancer_core.json"
    fake.page(core.read_bytes())
    fake.page((epmc_dir / "pyEuropePMC" / "search_no_results.json").read_bytes(), mark=load(core)["nextCursorMark"])
    polled = run_poll(write_config(tmp_path, fake.url, query='cancer AND (TITLE:"quality of life")', page_size=25))
    assert polled.report.ok, polled.report
    first, second = asked(fake)
    assert first["query"] == '(cancer AND (TITLE:"quality of life")) AND FIRST_IDATE:[2026-10-25 TO 2026-11-24]'
    assert (first["resultType"], first["format"], first["pageSize"], first["cursorMark"]) == ("core", "json", "25", "*")
    assert second["cursorMark"] == load(core)["nextCursorMark"] and second["query"] == first["query"]
    assert len(polled.ids) == 25 and polled.states["europepmc"].cursor == TODAY.isoformat()


@pytest.mark.parametrize(("ending", "pages"), [("absent", 3), ("repeat", 3), ("empty", 4)])
def test_each_way_a_walk_ends(fake, tmp_path, ending, pages):
    fake.ending = ending
    fake.add(*results(7))
    polled = run_poll(write_config(tmp_path, fake.url, page_size=3))
    assert polled.report.ok and set(polled.ids) == fake.ids()
    assert fake.server.labels() == [f"search:{n}" for n in range(1, pages + 1)]


def test_a_single_page_without_a_next_mark_is_the_whole_answer(fake, epmc_dir, tmp_path):
    fake.page((epmc_dir / "biomcp" / "search_pmid_20516115.json").read_bytes())
    polled = run_poll(write_config(tmp_path, fake.url))
    assert polled.ids == ["europepmc:MED:20516115"] and fake.server.labels() == ["search:1"]


def test_look_back_first_then_the_cursor_less_the_overlap(fake, tmp_path):
    fake.add(result("41000002", "Ketamine and sleep", pmid="41000002", first_index="2026-09-01"),
             result("41000003", "Esketamine and anhedonia", pmid="41000003", first_index="2026-11-23"))
    config = write_config(tmp_path, fake.url, lookback_days=120, overlap_days=2)
    assert len(run_poll(config).ids) == 2
    second = run_poll(config, now=NOW + timedelta(days=3))
    windows = [q["query"].rpartition(" AND ")[2] for q in asked(fake)]
    assert windows == ["FIRST_IDATE:[2026-07-27 TO 2026-11-24]", "FIRST_IDATE:[2026-11-22 TO 2026-11-27]"]
    assert second.source("europepmc").fetched == 1 and second.source("europepmc").new == 0
    assert second.states["europepmc"].cursor == "2026-11-27"


@pytest.mark.parametrize(("body", "reason"), [
    ('{"version": "6.9", "resultList": {"result": []}}', "Europe PMC: the answer is not a search result (no hitCount)"),
    ("<responseWrapper><hitCount>1</hitCount></responseWrapper>", "Europe PMC: the answer is not JSON"),
    ('[{"hitCount": 1}]', "Europe PMC: the answer is not a search result (no hitCount)"),
])
def test_an_answer_that_is_not_a_search_result_is_a_failure(fake, tmp_path, body, reason):
    fake.add(*results(2))
    fake.server.arm("search", faults.answer(200, body, "application/json"))
    polled = run_poll(write_config(tmp_path, fake.url))
    assert polled.source("europepmc").error == f"{fake.server.base.split('/')[2]}: {reason}"
    assert polled.states["europepmc"].cursor is None


def test_an_error_status_names_the_request_and_the_message(fake, tmp_path):
    fake.server.arm("search", faults.answer(404, '{"errCode": 404, "errMsg": "no such service"}', "application/json"))
    polled = run_poll(write_config(tmp_path, fake.url))
    error = polled.source("europepmc").error
    assert error.startswith(f"{fake.server.base.split('/')[2]}: HTTP 404 (GET /europepmc/webservices/rest/search?…)")
    assert "no such service" in error and fake.server.count("search") == 1


# ---- feeds.yaml ----


@pytest.mark.parametrize(("keys", "path", "message"), [
    ({}, "sources[0] (e).query", "is required but missing"),
    ({"query": "  "}, "sources[0] (e).query", "must not be empty"),
    ({"query": ["ketamine"]}, "sources[0] (e).query", "must be text"),
    ({"query": "x", "page_size": 0}, "sources[0] (e).page_size", "must be from 1 to 1000"),
    ({"query": "x", "cursor": "*"}, "sources[0] (e).cursor", "unknown key"),
])
def test_bad_settings_name_the_key(tmp_path, keys, path, message):
    with pytest.raises(ConfigError) as error:
        configs.write_config(tmp_path, [{"name": "e", "type": "europepmc", "url": "https://example.org/rest/", **keys}])
    assert error.value.path == path and message in str(error.value)


def test_a_folded_query_is_one_line(tmp_path):
    config = write_config(tmp_path, "https://example.org/rest/", query="(ketamine OR esketamine)\n  AND depress*\n")
    assert config.sources[0].settings.query == "(ketamine OR esketamine) AND depress*"


def test_a_result_that_cannot_be_read_is_skipped_counted_and_the_rest_stored(fake, tmp_path, capsys):
    from watcher.cli import report_poll

    good = results(2)
    page = {"hitCount": 4, "resultList": {"result": [good[0], {"source": "MED", "title": "no id"}, "not an object", good[1]]}}
    fake.page(json.dumps(page).encode())  # a result without an id; one that is not a JSON object
    polled = run_poll(write_config(tmp_path, fake.url))
    assert polled.report.ok and polled.ids == ["europepmc:MED:40000000", "europepmc:MED:40000001"]
    assert polled.source("europepmc").skipped == 2
    report_poll(polled.report)
    assert "europepmc: ok, 2 fetched, 2 new, 2 newly matched, 2 unreadable record(s) skipped (see the log)" in capsys.readouterr().out
