"""Whether an item is on topic, and why: pure functions of an Item and the compiled topics."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import Hit, Item, Match
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
        return f"{self.topic}: {'matched' if self.matched else 'no match'} | " + " | ".join(parts)


# ---------------------------------------------------------------- matching


def match(item: Item, topics: Sequence[Topic]) -> Match:
    """The verdict on one item: matched when any topic matches; hits of the matched topics. Pure."""
    names: list[str] = []
    hits: dict[Hit, None] = {}
    for topic in topics:
        result = explain(item, topic)
        if result.matched:
            names.append(topic.name)
            hits.update(dict.fromkeys(result.hits))
    return Match(bool(names), tuple(names), tuple(hits))


def explain(item: Item, topic: Topic) -> TopicResult:
    """The full reasoning for one topic: every group's hits, ignored false friends, excluding hits."""
    if topic.sources is not None and item.source not in topic.sources:
        return TopicResult(topic.name, False, (), skipped_source=item.source)
    texts = {f: field_texts(item, f) for f in set(topic.fields).union(*(e.fields for e in topic.excludes))}
    spans: dict[tuple[str, int], list[tuple[int, int]]] = {}  # false-friend spans per (field, index)

    def occurrences(terms: TermSet, fields: Iterable[str], group: str) -> tuple[list[Hit], list[Hit]]:
        counted: list[Hit] = []
        ignored: list[Hit] = []
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
    return TopicResult(topic.name, matched, tuple(results), distinct(excluded))


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
