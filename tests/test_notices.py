"""Later news about a listed work is a notice in the week it is seen, never a second listing."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.configs import write_config
from watcher.decide import FLAG, UPDATE, Notice, changes
from watcher.digest.publish import render
from watcher.digest.view import build_view
from watcher.model import Hit, Item, Match, Related
from watcher.weeks import Week

CHICAGO = ZoneInfo("America/Chicago")
HIT = (Hit("any", "*", "title", "Ketamine"),)


def paper(**kw) -> Item:
    return Item(id="pubmed:1", source="pubmed", url="https://pubmed.ncbi.nlm.nih.gov/1/", title="Ketamine for depression", **kw)


def test_a_new_flag_and_a_changed_tracked_value_are_news():
    old = paper(tracked=(("status", "RECRUITING"), ("phase", "PHASE2")))
    new = paper(related=(Related("RetractionIn", "Lancet 2026", "2"),), tracked=(("status", "COMPLETED"), ("phase", "PHASE2")))
    assert changes(old, new) == (Notice(FLAG, "RETRACTED"), Notice(UPDATE, "status: RECRUITING → COMPLETED"))


def test_a_tracked_value_that_appears_or_goes_reads_as_a_sentence():
    old = paper(tracked=(("status", "RECRUITING"), ("recruiting near", "Chicago, Illinois")))
    new = paper(tracked=(("status", "RECRUITING"), ("results", "posted")))
    assert changes(old, new) == (Notice(UPDATE, "results posted"), Notice(UPDATE, "recruiting near: Chicago, Illinois → (none)"))
    assert changes(paper(), new) == ()  # a record that never tracked anything: its first values are not news
    assert changes(new, paper()) == ()  # nor is a revision that lost them all (a source that stopped tracking)


def test_the_same_record_again_is_no_news_and_a_flag_is_news_once():
    retracted = paper(publication_types=("Retracted Publication",))
    assert changes(paper(), paper()) == ()
    assert changes(paper(), retracted) == (Notice(FLAG, "RETRACTED"),)
    assert changes(retracted, retracted) == ()


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path)


def test_a_retraction_two_weeks_later_is_listed_once_in_the_week_it_arrives(store, config):
    w46, w48, w49 = (Week.parse(w).bounds(CHICAGO)[0] + timedelta(days=1) for w in ("2026-W46", "2026-W48", "2026-W49"))
    store.save_batch("pubmed", [(paper(), Match(True, ("t",), HIT))], now=w46)
    retracted = paper(related=(Related("RetractionIn", "J Affect Disord. 2026", "99"),))
    store.save_batch("pubmed", [(retracted, Match(True, ("t",), HIT))], now=w48)
    store.save_batch("pubmed", [(retracted, Match(True, ("t",), HIT))], now=w49)  # seen again: no news
    view = build_view(store, config, Week.parse("2026-W48"))
    assert view.total == 0 and [(n.detail, n.listed_in) for n in view.corrections] == [("RETRACTED", "2026-W46")]
    text = render(store, config, Week.parse("2026-W48"))
    assert "## Corrections and retractions (1)" in text
    assert "- **RETRACTED**: [Ketamine for depression](https://pubmed.ncbi.nlm.nih.gov/1/) (listed in 2026-W46)" in text
    assert not build_view(store, config, Week.parse("2026-W49")).corrections and "Corrections" not in render(store, config, Week.parse("2026-W49"))
    assert build_view(store, config, Week.parse("2026-W46")).total == 1  # still new only in its first week


def test_news_about_an_item_first_listed_this_week_is_no_notice(store, config):
    monday = Week.parse("2026-W48").bounds(CHICAGO)[0]
    store.save_batch("pubmed", [(paper(), Match(True, ("t",), HIT))], now=monday + timedelta(hours=1))
    store.save_batch("pubmed", [(paper(publication_types=("Retracted Publication",)), Match(True, ("t",), HIT))],
                     now=monday + timedelta(days=2))
    view = build_view(store, config, Week.parse("2026-W48"))
    assert view.total == 1 and not view.corrections
    assert "RETRACTED" in render(store, config, Week.parse("2026-W48"))  # the listing itself carries the flag


def test_a_flag_reported_from_elsewhere_the_week_a_work_is_listed_is_on_its_entry(store, config):
    # The PubMed record leads the work; Crossref's data retracts its Europe PMC copy (same DOI) two
    # days later, in the same week: the entry says so, and no later week lists it as news.
    monday = Week.parse("2026-W48").bounds(CHICAGO)[0]
    copy = Item(id="europepmc:MED:1", source="europepmc", url="https://europepmc.org/article/MED/1", title="Ketamine for depression",
                doi="10.1000/k.1", identifiers=("epmc:MED:1", "pmid:1"))
    store.save_batch("pubmed", [(paper(doi="10.1000/K.1", identifiers=("pmid:1",)), Match(True, ("t",), HIT))],
                     now=monday + timedelta(hours=1))
    store.save_batch("europepmc", [(copy, Match(True, ("t",), HIT))], now=monday + timedelta(hours=2))
    store.add_notices([("europepmc:MED:1", Notice(FLAG, "RETRACTED", "https://doi.org/10.1000/k.1.retraction"))],
                      now=monday + timedelta(days=2))
    view = build_view(store, config, Week.parse("2026-W48"))
    [entry] = [e for s in view.sections for e in s.entries]
    assert entry.id == "pubmed:1" and "RETRACTED" in entry.flags and not view.corrections
    assert "**RETRACTED**" in render(store, config, Week.parse("2026-W48"))
    earlier = build_view(store, config, Week.parse("2026-W48"))  # the same store, the same week: the same view
    assert earlier == view and not build_view(store, config, Week.parse("2026-W49")).corrections
