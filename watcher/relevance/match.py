"""Whether an item is on topic, and why: pure functions of an Item and the compiled topics."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..model import CORE, Hit, Item, Match
from .grade import Place, grade
from .topics import FIELDS, Group, TermSet, Topic

# ---------------------------------------------------------------- verdicts (for match and explain)


@dataclass(frozen=True, slots=True)
class GroupResult:
    name: str
    satisfied: bool
    count: int  # counted occurrences (false friends left out)
    hits: tuple[Hit, ...]  # distinct counted occurrences
    ignored: tuple[Hit, ...]  # distinct occurrences that lay inside a false friend
    rule: str  # what the group needed, in words


@dataclass(frozen=True, slots=True)
class TopicResult:
    topic: str
    matched: bool
    groups: tuple[GroupResult, ...]
    excluded_by: tuple[Hit, ...] = ()  # exclude hits (group = "exclude")
    skipped_source: str | None = None  # the item's source, when the topic does not apply to it
    tier: str | None = None  # when matched: CORE or RELATED (tiering.py)
    score: float = 0.0
    reason: str = ""  # why it is in its tier, when a tier rule said so

    @property
    def hits(self) -> tuple[Hit, ...]:
        return tuple(h for g in self.groups for h in g.hits)

    def why(self) -> str:
        """One line an editor can read: which groups held, with what, and what vetoed the topic."""
        if self.skipped_source is not None:
            return f"{self.topic}: not applied to items from source {self.skipped_source!r}"
        parts = []
        for g in self.groups:
            found = ", ".join(dict.fromkeys(f"{h.text} ({h.field})" for h in g.hits)) or "nothing"
            state = "ok" if g.satisfied else f"NOT satisfied, needs {g.rule}"
            line = f"{g.name}: {state}: {g.count}x {found}"
            if g.ignored:
                line += "; ignored as false friends: " + ", ".join(dict.fromkeys(h.text for h in g.ignored))
            parts.append(line)
        if self.excluded_by:
            parts.append("excluded by " + ", ".join(dict.fromkeys(f"{h.text} ({h.field})" for h in self.excluded_by)))
        verdict = "no match"
        if self.matched:
            verdict = f"matched, {self.tier}{': ' + self.reason if self.reason else ''} (score {self.score:.2f})"
        return f"{self.topic}: {verdict} | " + " | ".join(parts)


# ---------------------------------------------------------------- matching


def match(item: Item, topics: Sequence[Topic]) -> Match:
    """The verdict on one item: matched when any topic matches; hits of the matched topics. Pure.

    The item is core when any matched topic finds it core; its reason is the deciding topic's, and
    its score the best of the matched topics'.
    """
    results = [r for r in (explain(item, topic) for topic in topics) if r.matched]
    if not results:
        return Match(False)
    hits: dict[Hit, None] = {}
    for result in results:
        hits.update(dict.fromkeys(result.hits))
    decider = next((r for r in results if r.tier == CORE), results[0])
    return Match(True, tuple(r.topic for r in results), tuple(hits), decider.tier, max(r.score for r in results), decider.reason)


def explain(item: Item, topic: Topic) -> TopicResult:
    """The full reasoning for one topic: every group's hits, ignored false friends, excluding hits."""
    if topic.sources is not None and item.source not in topic.sources:
        return TopicResult(topic.name, False, (), skipped_source=item.source)
    texts = {f: field_texts(item, f) for f in set(topic.fields).union(*(e.fields for e in topic.excludes))}
    spans: dict[tuple[str, int], list[tuple[int, int]]] = {}  # false-friend spans per (field, index)

    places: dict[str, list[Place]] = {}  # where each group's counted occurrences lie, for the tier

    def occurrences(terms: TermSet, fields: Iterable[str], group: str) -> tuple[list[Hit], list[Hit]]:
        counted: list[Hit] = []
        ignored: list[Hit] = []
        located = places.setdefault(group, [])
        for f in fields:
            for i, text in enumerate(texts[f]):
                found = list(terms.find(text))
                if not found:
                    continue
                if topic.false_friend_regex is not None and (f, i) not in spans:
                    spans[(f, i)] = false_friend_spans(topic.false_friend_regex, text)
                inside = spans.get((f, i), ())
                for term, start, end in found:
                    hit = Hit(group, term, f, text[start:end])
                    if any(s <= start and end <= e for s, e in inside):
                        ignored.append(hit)
                    else:
                        counted.append(hit)
                        located.append(Place(f, i, start, end))
        return counted, ignored

    results = []
    for group in topic.groups:
        counted, ignored = occurrences(group.terms, topic.fields, group.name)
        satisfied = len(counted) >= group.min_hits or any(h.field in group.enough_in for h in counted)
        results.append(
            GroupResult(group.name, satisfied, len(counted), distinct(counted), distinct(ignored), describe_rule(group))
        )
    excluded: list[Hit] = []
    for rule in topic.excludes:
        excluded.extend(occurrences(rule.terms, rule.fields, "exclude")[0])
    matched = all(r.satisfied for r in results) and not excluded
    if not matched:
        return TopicResult(topic.name, False, tuple(results), distinct(excluded))
    texts["title"] = texts.get("title") or field_texts(item, "title")
    verdict = grade(topic.tiers, [g.name for g in topic.groups], texts, places)
    return TopicResult(topic.name, True, tuple(results), tier=verdict.tier, score=verdict.score, reason=verdict.reason)


def field_texts(item: Item, name: str) -> tuple[str, ...]:
    value = getattr(item, name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(v for v in value if v)


def false_friend_spans(regex: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    # The regex is a lookahead, so phrases that overlap are all found.
    return [m.span(1) for m in regex.finditer(text)]


def distinct(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    return tuple(dict.fromkeys(hits))


def describe_rule(group: Group) -> str:
    need = f"{group.min_hits} occurrences" if group.min_hits > 1 else "1 occurrence"
    if group.enough_in and group.min_hits > 1:
        need += " or 1 in " + "/".join(f for f in FIELDS if f in group.enough_in)
    return need
