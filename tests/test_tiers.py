"""Tiers: every matched item is core or related, with a reason and a score. One test per rule
condition, on small topics written here (the code serves any topic); config errors with key paths;
old stored verdicts still readable. The default topic's figures are in test_evaluate.py."""

from __future__ import annotations

import json
import random
import re

import pytest

from watcher.errors import ConfigError
from watcher.model import CORE, RELATED, Hit, Item, Match
from watcher.relevance.grade import SENTENCE_END
from watcher.relevance.match import explain, match
from watcher.relevance.topics import compile_topics
from watcher.store.codec import match_from_json, match_to_json


def item(title: str = "", abstract: str | None = None, mesh=(), keywords=(), source="test") -> Item:
    return Item(id="test:1", source=source, url="", title=title, abstract=abstract, mesh_headings=tuple(mesh),
                keywords=tuple(keywords))


GROUPS = {"drug": ["aspirin"], "condition": ["headache*"]}


def topic(*rules, **tiers):
    return compile_topics({"t": {"groups": GROUPS, "tiers": {"rules": list(rules), **tiers}}})


def tier_of(topics, *args, **kwargs) -> tuple[str | None, str]:
    m = match(item(*args, **kwargs), topics)
    return m.tier, m.reason


# ------------------------------------------------------------------ defaults


def test_without_tiers_every_match_is_core_and_an_unmatched_item_has_no_tier():
    t = compile_topics({"t": {"groups": GROUPS}})
    assert tier_of(t, "Aspirin for headache") == (CORE, "")
    assert match(item("Aspirin for fever"), t) == Match(False)


def test_when_no_rule_holds_the_item_is_core():
    t = topic({"related": "the title names another use", "title": ["fever"]})
    assert tier_of(t, "Aspirin for headache") == (CORE, "")


# ------------------------------------------------------------------ conditions


def test_title_condition_gives_its_reason_with_what_the_title_named():
    t = topic({"related": "the title names another indication", "title": ["fever", "arthritis"]})
    assert tier_of(t, "Aspirin in arthritis and fever", "Headache was recorded.") == (
        RELATED, "the title names another indication: arthritis, fever")


def test_not_title_and_group_title_tests_spare_items_whose_title_names_the_subject():
    t = topic({"related": "the title names another indication", "title": ["fever"], "not_title": ["migraine clinic"],
               "groups": {"condition": {"title": False}}})
    assert tier_of(t, "Aspirin for fever", "Headache too.")[0] == RELATED
    assert tier_of(t, "Aspirin for fever and headache")[0] == CORE  # the condition is in the title
    assert tier_of(t, "Aspirin for fever at a migraine clinic", "Headache too.")[0] == CORE


def test_counts_and_places_of_a_group():
    rule = {"related": "the condition only in passing", "groups": {"condition": {"title": False, "lead": False, "at_most": 2}}}
    t = topic(rule)
    late = "Aspirin was given. Pain fell. Headache was rare."
    assert tier_of(t, "Aspirin trial", late) == (RELATED, "the condition only in passing")
    assert tier_of(t, "Aspirin trial", "Headache is common. " + late)[0] == CORE  # in the lead (first 2 sentences)
    assert tier_of(t, "Aspirin trial", late + " Headache again. Headache once more.")[0] == CORE  # 3 times
    assert tier_of(t, "Aspirin trial", late, mesh=["Headache"])[0] == RELATED  # headings are not the title
    t1 = topic(rule, lead_sentences=3)
    assert tier_of(t1, "Aspirin trial", late)[0] == CORE  # now the third sentence is lead


def test_headings_and_at_least():
    t = topic({"related": "the drug only once", "groups": {"drug": {"headings": False, "at_most": 1}}},
              {"core": "the drug named often", "groups": {"drug": {"at_least": 3}}})
    assert tier_of(t, "Headache", "Aspirin once.")[0] == RELATED
    assert tier_of(t, "Headache", "Aspirin once.", keywords=["aspirin"])[0] == CORE


def test_body_is_the_abstract_after_its_lead():
    t = topic({"related": "the drug only as background", "lead_sentences": 1, "abstract_sentences": 3,
               "groups": {"drug": {"title": False, "body": False}}})
    background = "Unlike aspirin, the new drug is slow. Headache fell. It was safe."
    assert tier_of(t, "Headache trial", background)[0] == RELATED
    assert tier_of(t, "Headache trial", "Headache fell. Aspirin was given. It was safe.")[0] == CORE  # drug in the body
    assert tier_of(t, "Headache trial", "Unlike aspirin, the new drug is slow. Headache fell.")[0] == CORE  # 2 sentences


def test_near_and_apart_count_words_within_one_sentence():
    t = topic({"related": "drug and condition stand apart", "apart": ["drug", "condition"]}, near_words=3)
    assert tier_of(t, "Trial", "Aspirin for acute headache.")[0] == CORE  # 2 words between
    assert tier_of(t, "Trial", "Aspirin was given to adults who had headache.")[0] == RELATED  # 5 words between
    assert tier_of(t, "Trial", "We gave aspirin. Headache fell.")[0] == RELATED  # another sentence
    assert tier_of(t, "Trial", "We gave aspirin\nHeadache fell.")[0] == RELATED  # a line break ends a sentence
    near = topic({"core": "drug given for the condition", "near": ["drug", "condition"]},
                 {"related": "anything else", "groups": {"drug": {"at_least": 1}}})
    assert tier_of(near, "Headache with aspirin")[0] == CORE  # the title is one sentence
    assert tier_of(near, "Trial", "We gave aspirin. Headache fell.")[0] == RELATED


def test_first_rule_that_holds_decides():
    t = topic({"core": "drug and condition in the title", "groups": {"drug": {"title": True}, "condition": {"title": True}}},
              {"related": "the title names another indication", "title": ["fever"]})
    assert tier_of(t, "Aspirin for fever and headache") == (CORE, "drug and condition in the title")
    assert tier_of(t, "Aspirin for fever", "Headache.") == (RELATED, "the title names another indication: fever")


def test_false_friends_do_not_count_for_tiers_either():
    raw = {"t": {"groups": GROUPS, "false_friends": ["headache clinic"],
                 "tiers": {"rules": [{"related": "condition only in passing", "groups": {"condition": {"at_most": 1}}}]}}}
    t = compile_topics(raw)
    assert tier_of(t, "Aspirin", "Headache fell. At the headache clinic, headache was rare.")[0] == CORE  # 2 counted
    assert tier_of(t, "Aspirin", "Headache fell at the headache clinic.")[0] == RELATED  # 1 counted


def test_title_lists_each_need_a_term_and_the_reason_names_them_all():
    t = topic({"related": "the outcome of the anaesthetic", "title": [["memory"], ["anaesthesia", "surgery"]]})
    assert tier_of(t, "Aspirin, memory and anaesthesia", "Headache.") == (
        RELATED, "the outcome of the anaesthetic: memory, anaesthesia")
    assert tier_of(t, "Aspirin and memory in headache")[0] == CORE  # the second list has no term in the title
    assert tier_of(t, "Aspirin under anaesthesia", "Headache.")[0] == CORE  # nor the first


def test_beside_needs_every_occurrence_of_the_group_close_to_one_of_its_terms():
    t = topic({"related": "the drug only as another treatment", "beside": {"drug": ["unlike", "excluded"]}}, near_words=3)
    assert tier_of(t, "Headache trial", "Unlike aspirin, it is new.") == (RELATED, "the drug only as another treatment")
    assert tier_of(t, "Headache trial", "Users of aspirin were excluded. Unlike aspirin, it is new.")[0] == RELATED
    assert tier_of(t, "Headache trial", "Unlike aspirin, it is new. We gave aspirin.")[0] == CORE  # once without
    assert tier_of(t, "Headache trial", "Aspirin users, who took it daily and for long, were excluded.")[0] == CORE  # 7 words
    assert tier_of(t, "Headache trial", "Unlike the rest. Aspirin was given.")[0] == CORE  # another sentence
    assert tier_of(t, "Unlike aspirin", "Headache.")[0] == RELATED  # the title is one sentence
    assert tier_of(t, "Unlike aspirin: a headache trial", "Aspirin was given.")[0] == CORE
    other = topic({"related": "x", "beside": {"condition": ["unlike"]}})
    assert tier_of(other, "Aspirin", keywords=["headache"])[0] == CORE  # headings have no words around them


def test_tier_false_friends_hide_words_from_the_rules_but_not_from_matching():
    rules = [{"related": "the title names another indication", "title": ["fever"], "groups": {"condition": {"title": False}}},
             {"related": "the drug only as another treatment", "beside": {"drug": ["unlike"]}}]
    t = topic(*rules, false_friends=["fever diary", "headache drugs", "unlike aspirin-like"])
    assert tier_of(t, "Aspirin: a fever diary", "Headache fell.")[0] == CORE  # `fever` inside a false friend
    assert tier_of(t, "Aspirin in fever", "Headache fell.")[0] == RELATED
    # A group's occurrence inside one does not count for the rules: the title names no condition.
    assert tier_of(t, "Aspirin and headache drugs in fever")[0] == RELATED
    assert tier_of(t, "Aspirin and headache in fever")[0] == CORE
    # A term of `beside` inside one is not beside anything.
    assert tier_of(t, "Trial", "Unlike aspirin-like drugs, it helps headache.")[0] == CORE
    assert tier_of(t, "Trial", "Unlike aspirin, it helps headache.")[0] == RELATED
    assert match(item("Aspirin and headache drugs in fever"), t).hits == (
        Hit("drug", "aspirin", "title", "Aspirin"), Hit("condition", "headache*", "title", "headache"))  # matching as before
    assert match(item("Aspirin: a fever diary", "Headache fell."), compile_topics(
        {"t": {"groups": GROUPS, "tiers": {"rules": rules}}})).tier == RELATED  # without them


# ------------------------------------------------------------------ several topics, score, explain


def test_core_in_any_matched_topic_makes_the_item_core():
    t = compile_topics({
        "narrow": {"groups": GROUPS, "tiers": {"rules": [{"related": "another indication", "title": ["fever"]}]}},
        "brand": {"groups": {"brand": ["Aspro"]}},
    })
    assert tier_of(t, "Aspirin for fever", "Headache.") == (RELATED, "another indication: fever")
    m = match(item("Aspro (aspirin) for fever", "Headache."), t)
    assert (m.tier, m.topics, m.reason) == (CORE, ("narrow", "brand"), "")


def test_score_grows_with_where_and_how_often_the_terms_occur():
    t = compile_topics({"t": {"groups": GROUPS}})
    weak = match(item("Trial", "Aspirin was given. Later, in another part, headache."), t).score
    title = match(item("Aspirin for headache", "Aspirin was given."), t).score
    strong = match(item("Aspirin for headache", "Aspirin for headache. " * 8, keywords=["aspirin", "headache"]), t).score
    assert 0 < weak < title < strong <= 1.0
    assert strong == 1.0  # everywhere, often, and close


def test_explain_says_the_tier_and_reason():
    t = topic({"related": "the title names another indication", "title": ["fever"]})
    why = explain(item("Aspirin for fever", "Headache."), t[0]).why()
    assert why.startswith("t: matched, related: the title names another indication: fever (score ")


def test_sentence_ends_are_those_of_the_plain_definition():
    # grade.SENTENCE_END is written to let the regex engine skip to whitespace; it must find the
    # same breaks as the plain definition it stands for.
    plain = re.compile(r"(?<=[.!?])\s+(?=[^\sa-z])|\s*\n\s*")
    rng = random.Random(5)
    pieces = ["Aspirin", "was given", ".", "!", "?", " ", "  ", "\n", " \n ", "\t", "a", "B", "1", "(", "é", "É", ". x", ".\n"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert [m.span() for m in SENTENCE_END.finditer(text)] == [m.span() for m in plain.finditer(text)], repr(text)


# ------------------------------------------------------------------ stored verdicts


def test_stored_match_keeps_tier_score_and_reason_and_old_rows_read_as_core():
    m = Match(True, ("t",), (Hit("drug", "aspirin", "title", "Aspirin"),), RELATED, 0.42, "another indication: fever")
    assert match_from_json(1, match_to_json(m)) == m
    old = json.dumps({"topics": ["t"], "hits": [{"group": "drug", "term": "aspirin", "field": "title", "text": "Aspirin"}]})
    assert match_from_json(1, old) == Match(True, ("t",), (Hit("drug", "aspirin", "title", "Aspirin"),), CORE)
    assert match_from_json(0, json.dumps({"topics": [], "hits": []})) == Match(False)


# ------------------------------------------------------------------ config errors, with key paths


@pytest.mark.parametrize(
    ("tiers", "path", "words"),
    [
        ([{"related": "x", "title": ["a"]}], "topics.t.tiers", "must be a mapping with `rules`"),
        ({"rule": []}, "topics.t.tiers.rule", "unknown key; expected one of: lead_sentences, near_words, false_friends, rules"),
        ({}, "topics.t.tiers.rules", "non-empty list of rules"),
        ({"rules": []}, "topics.t.tiers.rules", "non-empty list of rules"),
        ({"rules": [{"related": "x", "title": ["a"]}], "lead_sentences": 0}, "topics.t.tiers.lead_sentences", "from 1 to 20"),
        ({"rules": [{"related": "x", "title": ["a"]}], "near_words": "ten"}, "topics.t.tiers.near_words", "whole number"),
        ({"rules": ["related"]}, "topics.t.tiers.rules[0]", "must be a mapping"),
        ({"rules": [{"title": ["a"]}]}, "topics.t.tiers.rules[0]", "exactly one of `core: REASON` or `related: REASON`"),
        ({"rules": [{"core": "a", "related": "b", "title": ["a"]}]}, "topics.t.tiers.rules[0]", "exactly one of"),
        ({"rules": [{"related": "", "title": ["a"]}]}, "topics.t.tiers.rules[0].related", "must be the reason"),
        ({"rules": [{"related": ["x"], "title": ["a"]}]}, "topics.t.tiers.rules[0].related", "must be the reason"),
        ({"rules": [{"related": "x"}]}, "topics.t.tiers.rules[0]", "has no condition, so it would always hold"),
        ({"rules": [{"related": "x", "titel": ["a"]}]}, "topics.t.tiers.rules[0].titel", "unknown key"),
        ({"rules": [{"related": "x", "title": []}]}, "topics.t.tiers.rules[0].title", "is empty"),
        ({"rules": [{"related": "x", "title": ["a*b"]}]}, "topics.t.tiers.rules[0].title[0]", "wildcard"),
        ({"rules": [{"related": "x", "not_title": "fever"}]}, "topics.t.tiers.rules[0].not_title", "must be a list of terms"),
        ({"rules": [{"related": "x", "groups": {"dose": {"title": False}}}]}, "topics.t.tiers.rules[0].groups.dose",
         "'dose' is not a group of this topic; its groups: drug, condition"),
        ({"rules": [{"related": "x", "groups": {"drug": {}}}]}, "topics.t.tiers.rules[0].groups.drug", "mapping of tests"),
        ({"rules": [{"related": "x", "groups": {"drug": {"in_title": False}}}]}, "topics.t.tiers.rules[0].groups.drug.in_title",
         "unknown test; expected one of: title, lead, body, headings, at_least, at_most"),
        ({"rules": [{"related": "x", "groups": {"drug": {"title": "no"}}}]}, "topics.t.tiers.rules[0].groups.drug.title", "true or false"),
        ({"rules": [{"related": "x", "groups": {"drug": {"at_most": -1}}}]}, "topics.t.tiers.rules[0].groups.drug.at_most", "from 0"),
        ({"rules": [{"related": "x", "groups": {"drug": {"at_least": 3, "at_most": 2}}}]}, "topics.t.tiers.rules[0].groups.drug",
         "no item can pass"),
        ({"rules": [{"related": "x", "groups": []}]}, "topics.t.tiers.rules[0].groups", "mapping of group names"),
        ({"rules": [{"related": "x", "apart": ["drug"]}]}, "topics.t.tiers.rules[0].apart", "list of two group names"),
        ({"rules": [{"related": "x", "near": ["drug", "drug"]}]}, "topics.t.tiers.rules[0].near", "the same group twice"),
        ({"rules": [{"related": "x", "near": ["drug", "dose"]}]}, "topics.t.tiers.rules[0].near[1]", "not a group of this topic"),
        ({"rules": [{"related": "x", "abstract_sentences": 0}]}, "topics.t.tiers.rules[0].abstract_sentences", "from 1"),
        ({"rules": [{"related": "x", "title": [["a"], "b"]}]}, "topics.t.tiers.rules[0].title", "mixes terms and lists of terms"),
        ({"rules": [{"related": "x", "title": [["a"], []]}]}, "topics.t.tiers.rules[0].title[1]", "is empty"),
        ({"rules": [{"related": "x", "beside": ["unlike"]}]}, "topics.t.tiers.rules[0].beside", "mapping of group names to terms"),
        ({"rules": [{"related": "x", "beside": {"dose": ["unlike"]}}]}, "topics.t.tiers.rules[0].beside.dose", "not a group of this topic"),
        ({"rules": [{"related": "x", "beside": {"drug": "unlike"}}]}, "topics.t.tiers.rules[0].beside.drug", "must be a list of terms"),
        ({"rules": [{"related": "x", "title": ["fever"]}], "false_friends": "fever clinic"}, "topics.t.tiers.false_friends",
         "must be a list of terms"),
        ({"rules": [{"related": "x", "title": ["fever"]}], "false_friends": []}, "topics.t.tiers.false_friends", "is empty"),
        ({"rules": [{"related": "x", "title": ["fever"]}], "false_friends": ["hay fever", "feaver clinic"]},
         "topics.t.tiers.false_friends[1]", "contains no term of any group or tier rule"),
        ({"rules": [{"related": "x", "title": ["a"], "lead_sentences": 50}]}, "topics.t.tiers.rules[0].lead_sentences", "from 1 to 20"),
    ],
)
def test_tier_config_errors_name_the_key_and_the_fix(tiers, path, words):
    with pytest.raises(ConfigError) as caught:
        compile_topics({"t": {"groups": GROUPS, "tiers": tiers}})
    assert caught.value.path == path
    assert words in caught.value.message
    assert "\n" not in str(caught.value)
