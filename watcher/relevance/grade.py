"""Core or related, why, and how strongly: pure functions of where a topic's terms occur.

The filter (match.py) finds every counted occurrence of each group's terms; this module reads
where they lie (title, the lead sentences of the abstract, keywords and MeSH, how often, how close
two groups stand in one sentence, which words stand beside them), tries the topic's tier rules
(tier_rules.py) in order, and gives a score for ordering. No rule: the item is core. The tiers' own
false friends are left out of all of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

from ..model import CORE
from .tier_rules import DEFAULT_LEAD_SENTENCES, DEFAULT_NEAR_WORDS, ZONES, GroupTest, Phrases, Terms, TierRule, Tiers

HEADINGS = ("keywords", "mesh_headings")
# A sentence ends at . ! or ? before a space and a capital, digit, bracket or quote, or at a line break:
# the whitespace run of r"(?<=[.!?])\s+(?=[^\sa-z])|\s*\n\s*", written to start with \s so that the
# regex engine skips to the next whitespace instead of trying every position (same matches).
SENTENCE_END = re.compile(r"\s(?:(?<=[.!?]\s)\s*(?=[^\sa-z])|(?<=\n)\s*|\s*\n\s*)")
WORD = re.compile(r"\w+")
SHOWN_FOUND = 3

# The score: per group, points for each place it occurs and for how often; then for each pair of
# groups standing close in a sentence. Divided by the most points possible, so 0 ≤ score ≤ 1.
TITLE_POINTS, LEAD_POINTS, HEADING_POINTS, FREQUENCY_POINTS, NEAR_POINTS = 3.0, 2.0, 1.0, 2.0, 2.0
FREQUENT = 8  # occurrences that earn all the frequency points


@dataclass(frozen=True, slots=True)
class Place:
    """Where one counted occurrence lies: the field, which of its texts (MeSH has many), the span."""

    field: str
    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Verdict:
    tier: str
    score: float
    reason: str


class Evidence:
    """The facts the rules and the score read, computed once per item and topic, lazily."""

    def __init__(self, texts: Mapping[str, Sequence[str]], places: Mapping[str, Sequence[Place]],
                 lead_sentences: int, near_words: int, false_friends: Phrases | None = None) -> None:
        self.texts = texts
        self.lead_sentences = lead_sentences
        self.near_words = near_words
        self.false_friends = false_friends
        self._hidden: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self._breaks: dict[tuple[str, int], list[int]] = {}
        if false_friends is None:
            self.places = places
        else:
            self.places = {g: [p for p in found if not self.hidden(p.field, p.index, p.start, p.end)]
                           for g, found in places.items()}

    def hidden(self, field: str, index: int, start: int, end: int) -> bool:
        """Whether this span of a text lies inside one of the tiers' false friends."""
        if self.false_friends is None:
            return False
        spans = self._hidden.get((field, index))
        if spans is None:
            spans = self._hidden[(field, index)] = self.false_friends.spans(self.texts[field][index])
        return any(s <= start and end <= e for s, e in spans)

    def found(self, terms: Terms, field: str, index: int) -> list[tuple[int, int]]:
        """Spans of these terms in one text, false friends of the tiers left out."""
        return [(s, e) for _, s, e in terms.find(self.texts[field][index]) if not self.hidden(field, index, s, e)]

    @cached_property
    def abstract_ends(self) -> list[int]:
        """Where each sentence of the (first) abstract text ends."""
        abstracts = self.texts.get("abstract") or ()
        if not abstracts:
            return []
        text = abstracts[0]
        ends = [at for at in self.sentence_breaks("abstract", 0) if at > 0]
        return [e for e in ends if text[e:].strip()] + ([len(text)] if text.strip() else [])

    @property
    def lead_end(self) -> int:
        """Offset in the first abstract text where its lead sentences end."""
        ends = self.abstract_ends
        return ends[min(self.lead_sentences, len(ends)) - 1] if ends else 0

    def count(self, group: str) -> int:
        return len(self.places.get(group, ()))

    def in_zone(self, group: str, zone: str) -> bool:
        places = self.places.get(group, ())
        if zone == "title":
            return any(p.field == "title" for p in places)
        if zone == "headings":
            return any(p.field in HEADINGS for p in places)
        if zone == "body":
            return any(p.field == "abstract" and (p.index > 0 or p.start >= self.lead_end) for p in places)
        return any(p.field == "abstract" and p.index == 0 and p.start < self.lead_end for p in places)

    def sentence_breaks(self, field: str, index: int) -> list[int]:
        if field == "title" or field in HEADINGS:
            return []
        found = self._breaks.get((field, index))
        if found is None:
            found = self._breaks[(field, index)] = [m.start() for m in SENTENCE_END.finditer(self.texts[field][index])]
        return found

    def close(self, field: str, index: int, a: tuple[int, int], b: tuple[int, int]) -> bool:
        """Whether two spans of one text stand within near_words words of each other in one sentence."""
        (_, left_end), (right_start, _) = (a, b) if a[0] <= b[0] else (b, a)
        if any(left_end <= cut < right_start for cut in self.sentence_breaks(field, index)):
            return False  # a sentence ends between them
        return len(WORD.findall(self.texts[field][index][left_end:right_start])) <= self.near_words

    def near(self, first: str, second: str) -> bool:
        """Whether an occurrence of each stands within near_words words of the other in one sentence."""
        by_text: dict[tuple[str, int], list[Place]] = {}
        for p in self.places.get(second, ()):
            by_text.setdefault((p.field, p.index), []).append(p)
        for a in self.places.get(first, ()):
            for b in by_text.get((a.field, a.index), ()):
                if self.close(a.field, a.index, (a.start, a.end), (b.start, b.end)):
                    return True
        return False

    def beside(self, group: str, terms: Terms) -> bool:
        """Whether the group occurs and each of its occurrences has one of these terms close by."""
        places = self.places.get(group, ())
        found: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for p in places:
            key = (p.field, p.index)
            if key not in found:
                found[key] = self.found(terms, p.field, p.index)
            if not any(self.close(p.field, p.index, (p.start, p.end), span) for span in found[key]):
                return False
        return bool(places)


def grade(tiers: Tiers | None, groups: Sequence[str], texts: Mapping[str, Sequence[str]],
          places: Mapping[str, Sequence[Place]]) -> Verdict:
    """The tier, score and reason of an item that matched a topic with these groups. Pure."""
    lead = tiers.lead_sentences if tiers else DEFAULT_LEAD_SENTENCES
    near = tiers.near_words if tiers else DEFAULT_NEAR_WORDS
    evidence = Evidence(texts, places, lead, near, tiers.false_friends if tiers else None)
    score = round(strength(evidence, groups), 3)
    for rule in tiers.rules if tiers else ():
        evidence.lead_sentences = rule.lead_sentences or lead
        reason = applies(rule, evidence)
        if reason is not None:
            return Verdict(rule.tier, score, reason)
    return Verdict(CORE, score, "")


def applies(rule: TierRule, evidence: Evidence) -> str | None:
    """The rule's reason when all its conditions hold (with what the title named), else None."""
    title = (evidence.texts.get("title") or ("",))[0]
    named: dict[str, None] = {}
    for terms in rule.title:
        spans = evidence.found(terms, "title", 0) if title else []
        if not spans:
            return None
        named.update(dict.fromkeys(title[s:e] for s, e in spans))
    found = ", ".join(list(named)[:SHOWN_FOUND])
    if rule.not_title is not None and title and evidence.found(rule.not_title, "title", 0):
        return None
    if not all(passes(test, evidence) for test in rule.groups):
        return None
    if rule.near is not None and not evidence.near(*rule.near):
        return None
    if rule.apart is not None and evidence.near(*rule.apart):
        return None
    if not all(evidence.beside(group, terms) for group, terms in rule.beside):
        return None
    if rule.abstract_sentences is not None and len(evidence.abstract_ends) < rule.abstract_sentences:
        return None
    return f"{rule.reason}: {found}" if found else rule.reason


def passes(test: GroupTest, evidence: Evidence) -> bool:
    for zone in ZONES:
        wanted = getattr(test, zone)
        if wanted is not None and evidence.in_zone(test.group, zone) != wanted:
            return False
    count = evidence.count(test.group)
    if test.at_least is not None and count < test.at_least:
        return False
    return test.at_most is None or count <= test.at_most


def strength(evidence: Evidence, groups: Sequence[str]) -> float:
    if not groups:
        return 0.0
    points = 0.0
    for g in groups:
        points += TITLE_POINTS * evidence.in_zone(g, "title") + LEAD_POINTS * evidence.in_zone(g, "lead")
        points += HEADING_POINTS * evidence.in_zone(g, "headings")
        points += FREQUENCY_POINTS * min(evidence.count(g), FREQUENT) / FREQUENT
    pairs = list(combinations(groups, 2))
    points += sum(NEAR_POINTS for a, b in pairs if evidence.near(a, b))
    best = len(groups) * (TITLE_POINTS + LEAD_POINTS + HEADING_POINTS + FREQUENCY_POINTS) + NEAR_POINTS * len(pairs)
    return points / best
