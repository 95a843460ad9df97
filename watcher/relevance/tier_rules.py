"""A topic's `tiers` from feeds.yaml, validated and compiled once (the grading is in tiering.py).

A matched item is `core` (its subject is the topic) or `related` (it matches the terms, but its
subject is something else). `tiers.rules` is an ordered list; the first rule whose conditions all
hold decides the tier, and its text is the reason the digest shows; when none holds, the item is
`core`. A rule is a mapping with exactly one of `core: REASON` or `related: REASON` and at least
one condition:

- `title: [terms]`: one of these terms occurs in the title (what was found is added to the reason);
- `not_title: [terms]`: none of these terms occurs in the title;
- `groups: {GROUP: {title, lead, body, headings: true|false, at_least: N, at_most: N}}`: where
  the topic group's counted occurrences lie: in the title, in the lead (the first `lead_sentences`
  sentences of the abstract), in the body (the abstract after its lead), in the headings (keywords
  or MeSH), and how many there are;
- `near: [GROUP, GROUP]` / `apart: [GROUP, GROUP]`: the two groups do / do not stand within
  `near_words` words of each other in one sentence (the title counts as one);
- `abstract_sentences: N`: the abstract has at least N sentences.

A rule may set its own `lead_sentences` (e.g. 1: "only in the opening sentence").

Terms are written as in `groups` (topics.py); the code knows no topic word.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..checks import describe, integer
from ..errors import ConfigError
from ..model import CORE, RELATED

TIERS_KEYS = ("lead_sentences", "near_words", "rules")
RULE_KEYS = (CORE, RELATED, "lead_sentences", "title", "not_title", "groups", "near", "apart", "abstract_sentences")
CONDITIONS = RULE_KEYS[3:]
ZONES = ("title", "lead", "body", "headings")  # where a group's occurrences can be asked about
GROUP_TEST_KEYS = (*ZONES, "at_least", "at_most")
DEFAULT_LEAD_SENTENCES = 2
DEFAULT_NEAR_WORDS = 10


class Terms(Protocol):
    """A compiled term list (topics.TermSet)."""

    @property
    def terms(self) -> tuple[str, ...]: ...

    def find(self, text: str) -> Iterable[tuple[str, int, int]]: ...


TermCompiler = Callable[[Any, str], Terms]  # (raw list, key path) → compiled terms; raises ConfigError


@dataclass(frozen=True, slots=True)
class GroupTest:
    """What a rule asks of one topic group; None: not asked."""

    group: str
    title: bool | None = None
    lead: bool | None = None
    body: bool | None = None
    headings: bool | None = None
    at_least: int | None = None
    at_most: int | None = None


@dataclass(frozen=True, slots=True)
class TierRule:
    tier: str  # CORE | RELATED
    reason: str
    title: Terms | None = None
    not_title: Terms | None = None
    groups: tuple[GroupTest, ...] = ()
    near: tuple[str, str] | None = None
    apart: tuple[str, str] | None = None
    abstract_sentences: int | None = None
    lead_sentences: int | None = None  # None: the topic's


@dataclass(frozen=True, slots=True)
class Tiers:
    rules: tuple[TierRule, ...] = ()
    lead_sentences: int = DEFAULT_LEAD_SENTENCES
    near_words: int = DEFAULT_NEAR_WORDS


def compile_tiers(raw: Any, path: str, group_names: Sequence[str], terms: TermCompiler) -> Tiers:
    """Validate a topic's `tiers` value. Raises ConfigError naming the key path and the fix."""
    example = "e.g. tiers: {rules: [{related: the title names another use, title: [surgery]}]}"
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"must be a mapping with `rules`, not {describe(raw)}; {example}")
    for key in raw:
        if key not in TIERS_KEYS:
            raise ConfigError(f"{path}.{key}", f"unknown key; expected one of: {', '.join(TIERS_KEYS)}")
    lead = raw.get("lead_sentences", DEFAULT_LEAD_SENTENCES)
    near = raw.get("near_words", DEFAULT_NEAR_WORDS)
    lead = integer(lead, f"{path}.lead_sentences", 1, 20)
    near = integer(near, f"{path}.near_words", 1, 100)
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"{path}.rules", f"must be a non-empty list of rules, not {describe(rules_raw)}; {example}")
    rules = tuple(compile_rule(r, f"{path}.rules[{i}]", group_names, terms) for i, r in enumerate(rules_raw))
    return Tiers(rules, lead, near)


def compile_rule(raw: Any, path: str, group_names: Sequence[str], terms: TermCompiler) -> TierRule:
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"must be a mapping such as {{related: REASON, title: [term]}}, not {describe(raw)}")
    for key in raw:
        if key not in RULE_KEYS:
            raise ConfigError(f"{path}.{key}", f"unknown key; expected one of: {', '.join(RULE_KEYS)}")
    tiers = [t for t in (CORE, RELATED) if t in raw]
    if len(tiers) != 1:
        raise ConfigError(path, "needs exactly one of `core: REASON` or `related: REASON`: the tier the rule gives, and why")
    tier = tiers[0]
    reason = raw[tier]
    if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
        raise ConfigError(f"{path}.{tier}", f"must be the reason, one line of text an editor reads, not {describe(reason)}")
    if not any(k in raw for k in CONDITIONS):
        raise ConfigError(path, f"has no condition, so it would always hold; add one of: {', '.join(CONDITIONS)}")
    return TierRule(
        tier=tier,
        reason=reason.strip(),
        title=terms(raw["title"], f"{path}.title") if "title" in raw else None,
        not_title=terms(raw["not_title"], f"{path}.not_title") if "not_title" in raw else None,
        groups=group_tests(raw["groups"], f"{path}.groups", group_names) if "groups" in raw else (),
        near=group_pair(raw["near"], f"{path}.near", group_names) if "near" in raw else None,
        apart=group_pair(raw["apart"], f"{path}.apart", group_names) if "apart" in raw else None,
        abstract_sentences=integer(raw["abstract_sentences"], f"{path}.abstract_sentences", 1, 1000)
        if "abstract_sentences" in raw else None,
        lead_sentences=integer(raw["lead_sentences"], f"{path}.lead_sentences", 1, 20) if "lead_sentences" in raw else None,
    )


def known_group(name: Any, path: str, group_names: Sequence[str]) -> str:
    if not isinstance(name, str) or name not in group_names:
        raise ConfigError(path, f"{name!r} is not a group of this topic; its groups: {', '.join(group_names)}")
    return name


def group_tests(raw: Any, path: str, group_names: Sequence[str]) -> tuple[GroupTest, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(path, f"must be a mapping of group names to tests, e.g. {{condition: {{title: false}}}}, not {describe(raw)}")
    tests = []
    for name, body in raw.items():
        where = f"{path}.{name}"
        known_group(name, where, group_names)
        if not isinstance(body, Mapping) or not body:
            raise ConfigError(where, f"must be a mapping of tests from: {', '.join(GROUP_TEST_KEYS)}, not {describe(body)}")
        for key, value in body.items():
            if key not in GROUP_TEST_KEYS:
                raise ConfigError(f"{where}.{key}", f"unknown test; expected one of: {', '.join(GROUP_TEST_KEYS)}")
            if key in ZONES and not isinstance(value, bool):
                raise ConfigError(f"{where}.{key}", f"must be true or false, not {describe(value)}")
        counts = {k: integer(body[k], f"{where}.{k}", 0, 1000) for k in ("at_least", "at_most") if k in body}
        if counts.get("at_least", 0) > counts.get("at_most", 1000):
            raise ConfigError(where, f"at_least ({counts['at_least']}) is more than at_most ({counts['at_most']}): no item can pass")
        tests.append(GroupTest(str(name), title=body.get("title"), lead=body.get("lead"), body=body.get("body"),
                               headings=body.get("headings"),
                               at_least=counts.get("at_least"), at_most=counts.get("at_most")))
    return tuple(tests)


def group_pair(raw: Any, path: str, group_names: Sequence[str]) -> tuple[str, str]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ConfigError(path, f"must be a list of two group names, e.g. [drug, condition], not {describe(raw)}")
    first, second = (known_group(g, f"{path}[{i}]", group_names) for i, g in enumerate(raw))
    if first == second:
        raise ConfigError(path, "names the same group twice; name two different groups")
    return first, second
