"""The decider: what a batch means for the store, from what the store holds and the batch alone.
No database here: `Known` is written out by hand, as the store would read it."""

from __future__ import annotations

from watcher.decide import FLAG, UPDATE, Known, Notice, Prior, decide, wanted
from watcher.model import Hit, Item, Match, Related

MATCHED = Match(True, ("t",), (Hit("drug", "ketamine", "title", "Ketamine"),))
UNMATCHED = Match(False)


def paper(n: int, **kw) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=f"Paper {n}", **kw)


def known(priors: dict[str, Prior] | None = None, present=(), told=()) -> Known:
    return Known(priors or {}, frozenset(present), frozenset(told))


def retraction_notice_of(n: int, m: int) -> Item:
    """Record n: the retraction notice of record m."""
    return paper(n, publication_types=("Retraction of Publication",),
                 related=(Related("RetractionOf", "J 2026", str(m), item_id=f"pubmed:{m}"),))


def test_records_never_stored_are_new_and_a_match_among_them_is_newly_matched():
    plan = decide([(paper(1), MATCHED), (paper(2), UNMATCHED)], known())
    assert [(w.item.id, w.new, w.newly_matched) for w in plan.writes] == [("pubmed:1", True, True), ("pubmed:2", True, False)]
    assert (plan.new, plan.new_matched, plan.notices) == (2, 1, ())


def test_a_stored_record_matches_for_the_first_time_once():
    priors = {"pubmed:1": Prior(paper(1), matched=False), "pubmed:2": Prior(paper(2), matched=True)}
    plan = decide([(paper(1), MATCHED), (paper(2), MATCHED)], known(priors))
    assert [(w.new, w.newly_matched) for w in plan.writes] == [(False, True), (False, False)]
    assert (plan.new, plan.new_matched) == (0, 1)


def test_a_record_that_stops_matching_keeps_its_week_and_is_not_newly_matched_when_it_matches_again():
    priors = {"pubmed:1": Prior(paper(1), matched=True)}
    plan = decide([(paper(1), UNMATCHED), (paper(1), MATCHED)], known(priors))
    assert [w.newly_matched for w in plan.writes] == [False, False]


def test_a_revision_brings_its_news_and_a_flag_already_told_is_not_told_again():
    revised = paper(1, related=(Related("RetractionIn", "J 2026", "9"),), tracked=(("status", "COMPLETED"),))
    prior = Prior(paper(1, tracked=(("status", "RECRUITING"),)), matched=True)
    plan = decide([(revised, MATCHED)], known({"pubmed:1": prior}))
    assert plan.notices == (("pubmed:1", Notice(FLAG, "RETRACTED")), ("pubmed:1", Notice(UPDATE, "status: RECRUITING → COMPLETED")))
    again = decide([(revised, MATCHED)], known({"pubmed:1": prior}, told={("pubmed:1", "RETRACTED")}))
    assert again.notices == (("pubmed:1", Notice(UPDATE, "status: RECRUITING → COMPLETED")),)


def test_a_record_that_is_news_about_another_notices_it_only_when_that_one_is_stored():
    notice = retraction_notice_of(9, 1)
    assert wanted([notice]) == ({"pubmed:9"}, {"pubmed:1"})
    stored = decide([(notice, UNMATCHED)], known(present={"pubmed:1"}))
    assert stored.notices == (("pubmed:1", Notice(FLAG, "RETRACTED", "https://pubmed.ncbi.nlm.nih.gov/9/")),)
    assert decide([(notice, UNMATCHED)], known()).notices == ()  # not stored: nothing to tell about


def test_within_a_batch_records_are_taken_in_order():
    # The retracted record comes first in the batch: the notice after it finds it; a later copy of
    # the record that says it is retracted itself is the same news, told once.
    flagged = paper(1, publication_types=("Retracted Publication",))
    plan = decide([(paper(1), MATCHED), (retraction_notice_of(9, 1), UNMATCHED), (flagged, MATCHED)], known())
    assert [w.new for w in plan.writes] == [True, True, False]
    assert [(i, n.kind, n.detail) for i, n in plan.notices] == [("pubmed:1", FLAG, "RETRACTED")]
    assert plan.new_matched == 1  # the second copy is a revision, not a second first match


def test_the_notice_before_the_record_it_names_tells_nothing():
    plan = decide([(retraction_notice_of(9, 1), UNMATCHED), (paper(1), MATCHED)], known())
    assert plan.notices == ()
