"""Whether an item is on topic, and why: pure functions of an Item and the compiled topics."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from ..model import CORE, Hit, Item, Match
from .grade import Place, grade
from .scan import Folded
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
    tier: str | None = None  # when matched: CORE or RELATED (grade.py)
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
    its score the best of the matched topics'. A topic stops looking at its first unsatisfied group
    or its first veto (explain gives the whole account).
    """
    texts = ItemTexts(item)
    results = [r for r in (judge(texts, topic, full=False) for topic in topics) if r.matched]
    if not results:
        return Match(False)
    hits: dict[Hit, None] = {}
    for result in results:
        hits.update(dict.fromkeys(result.hits))
    decider = next((r for r in results if r.tier == CORE), results[0])
    return Match(True, tuple(r.topic for r in results), tuple(hits), decider.tier, max(r.score for r in results), decider.reason)


def explain(item: Item, topic: Topic) -> TopicResult:
    """The full reasoning for one topic: every group's hits, ignored false friends, excluding hits."""
    return judge(ItemTexts(item), topic, full=True)


@dataclass(frozen=True, slots=True)
class FieldText:
    """One field's texts (MeSH has many) joined into one string that no term can match across,
    folded once (scan.py); `starts` says where each text begins in it."""

    texts: tuple[str, ...]
    joined: Folded
    starts: tuple[int, ...]

    def locate(self, at: int) -> tuple[int, int]:
        """(which text, offset in it) of an offset in the joined string."""
        index = bisect_right(self.starts, at) - 1
        return index, at - self.starts[index]


JOIN = "\x00"  # no word character, space or hyphen: no term, phrase or wildcard reaches across it


class ItemTexts:
    """An item's searchable fields, each joined and folded once and shared by every topic."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.fields: dict[str, FieldText] = {}

    def __getitem__(self, name: str) -> FieldText:
        found = self.fields.get(name)
        if found is None:
            texts = field_texts(self.item, name)
            joined = JOIN.join(texts)
            starts = tuple(accumulate((len(t) + len(JOIN) for t in texts[:-1]), initial=0))
            found = self.fields[name] = FieldText(texts, Folded(joined), starts)
        return found


def judge(texts: ItemTexts, topic: Topic, *, full: bool) -> TopicResult:
    """The topic's verdict on an item; when not `full`, it stops at the first failed group or veto."""
    if topic.sources is not None and texts.item.source not in topic.sources:
        return TopicResult(topic.name, False, (), skipped_source=texts.item.source)
    spans: dict[str, list[tuple[int, int]]] = {}  # false-friend spans per field, in its joined string
    places: dict[str, list[Place]] = {}  # where each group's counted occurrences lie, for the tier

    def occurrences(terms: TermSet, fields: Iterable[str], group: str) -> tuple[list[Hit], list[Hit]]:
        counted: list[Hit] = []
        ignored: list[Hit] = []
        located = places.setdefault(group, [])
        for f in fields:
            field = texts[f]
            if not field.texts:
                continue
            found = list(terms.find(field.joined))
            if not found:
                continue
            if topic.false_friend_set is not None and f not in spans:
                spans[f] = topic.false_friend_set.spans(field.joined)
            inside = spans.get(f, ())
            for term, start, end in found:
                hit = Hit(group, term, f, field.joined.text[start:end])
                if any(s <= start and end <= e for s, e in inside):
                    ignored.append(hit)
                else:
                    counted.append(hit)
                    index, offset = field.locate(start)
                    located.append(Place(f, index, offset, offset + end - start))
        return counted, ignored

    results = []
    for group in topic.groups:
        counted, ignored = occurrences(group.terms, topic.fields, group.name)
        satisfied = len(counted) >= group.min_hits or any(h.field in group.enough_in for h in counted)
        results.append(
            GroupResult(group.name, satisfied, len(counted), distinct(counted), distinct(ignored), describe_rule(group))
        )
        if not satisfied and not full:
            return TopicResult(topic.name, False, tuple(results))
    excluded: list[Hit] = []
    for rule in topic.excludes:
        excluded.extend(occurrences(rule.terms, rule.fields, "exclude")[0])
        if excluded and not full:
            break
    matched = all(r.satisfied for r in results) and not excluded
    if not matched:
        return TopicResult(topic.name, False, tuple(results), distinct(excluded))
    searched = ("title", *topic.fields, *(f for rule in topic.excludes for f in rule.fields))
    fields = {f: texts[f].texts for f in dict.fromkeys(searched)}
    verdict = grade(topic.tiers, [g.name for g in topic.groups], fields, places)
    return TopicResult(topic.name, True, tuple(results), tier=verdict.tier, score=verdict.score, reason=verdict.reason)


def field_texts(item: Item, name: str) -> tuple[str, ...]:
    value = getattr(item, name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(v for v in value if v)


def distinct(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    return tuple(dict.fromkeys(hits))


def describe_rule(group: Group) -> str:
    need = f"{group.min_hits} occurrences" if group.min_hits > 1 else "1 occurrence"
    if group.enough_in and group.min_hits > 1:
        need += " or 1 in " + "/".join(f for f in FIELDS if f in group.enough_in)
    return need
