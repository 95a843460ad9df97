"""A topic's `tiers` from feeds.yaml, validated and compiled once (the grading is in grade.py).

A matched item is `core` (its subject is the topic) or `related` (it matches the terms, but its
subject is something else). `tiers.rules` is an ordered list; the first rule whose conditions all
hold decides the tier, and its text is the reason the digest shows; when none holds, the item is
`core`. A rule is a mapping with exactly one of `core: REASON` or `related: REASON` and at least
one condition:

- `title: [terms]`: one of these terms occurs in the title (what was found is added to the reason);
  `title: [[terms], [terms]]`: one term of each list occurs in the title;
- `not_title: [terms]`: none of these terms occurs in the title;
- `groups: {GROUP: {title, lead, body, headings: true|false, at_least: N, at_most: N}}`: where
  the topic group's counted occurrences lie: in the title, in the lead (the first `lead_sentences`
  sentences of the abstract), in the body (the abstract after its lead), in the headings (keywords
  or MeSH), and how many there are;
- `near: [GROUP, GROUP]` / `apart: [GROUP, GROUP]`: the two groups do / do not stand within
  `near_words` words of each other in one sentence (the title counts as one);
- `beside: {GROUP: [terms]}`: the group occurs, and each of its counted occurrences stands within
  `near_words` words of one of these terms in one sentence ("the drug is named only beside
  `excluded`, `unlike`, ...");
- `abstract_sentences: N`: the abstract has at least N sentences.

A rule may set its own `lead_sentences` (e.g. 1: "only in the opening sentence").

`tiers.false_friends` lists phrases in which a word the rules read means something else, for the
tiers only ("hay fever" is not the indication `fever`): a term of a rule's `title`,
`not_title` or `beside`, or a counted occurrence of a group, lying inside one does not count for the
rules or the score. Matching is not changed by them (the topic's own `false_friends` do that).

Terms are written as in `groups` (topics.py); the code knows no topic word.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..checks import describe, integer
from ..errors import ConfigError
from ..model import CORE, RELATED

TIERS_KEYS = ("lead_sentences", "near_words", "false_friends", "rules")
RULE_KEYS = (CORE, RELATED, "lead_sentences", "title", "not_title", "groups", "near", "apart", "beside", "abstract_sentences")
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


class Phrases(Protocol):
    """Compiled false-friend phrases (topics.PhraseSet)."""

    @property
    def phrases(self) -> tuple[str, ...]: ...

    def spans(self, text: str) -> list[tuple[int, int]]: ...


TermCompiler = Callable[[Any, str], Terms]  # (raw list, key path) → compiled terms; raises ConfigError
PhraseCompiler = Callable[[Any, str], Phrases]  # (raw list, key path) → compiled phrases; raises ConfigError


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
    title: tuple[Terms, ...] = ()  # each list needs a term in the title; () : not asked
    not_title: Terms | None = None
    groups: tuple[GroupTest, ...] = ()
    near: tuple[str, str] | None = None
    apart: tuple[str, str] | None = None
    beside: tuple[tuple[str, Terms], ...] = ()  # (group, terms each of its occurrences stands beside)
    abstract_sentences: int | None = None
    lead_sentences: int | None = None  # None: the topic's

    def term_lists(self) -> tuple[Terms, ...]:
        """Every term list the rule reads (for checking false friends)."""
        return (*self.title, *((self.not_title,) if self.not_title else ()), *(terms for _, terms in self.beside))


@dataclass(frozen=True, slots=True)
class Tiers:
    rules: tuple[TierRule, ...] = ()
    lead_sentences: int = DEFAULT_LEAD_SENTENCES
    near_words: int = DEFAULT_NEAR_WORDS
    false_friends: Phrases | None = None  # for the tiers only; None: none


def compile_tiers(raw: Any, path: str, group_names: Sequence[str], terms: TermCompiler,
                  phrases: PhraseCompiler | None = None) -> Tiers:
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
    false_friends = None
    if raw.get("false_friends") is not None:
        if phrases is None:
            raise ConfigError(f"{path}.false_friends", "is not supported here")
        false_friends = phrases(raw["false_friends"], f"{path}.false_friends")
    return Tiers(rules, lead, near, false_friends)


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
        title=title_lists(raw["title"], f"{path}.title", terms) if "title" in raw else (),
        not_title=terms(raw["not_title"], f"{path}.not_title") if "not_title" in raw else None,
        groups=group_tests(raw["groups"], f"{path}.groups", group_names) if "groups" in raw else (),
        near=group_pair(raw["near"], f"{path}.near", group_names) if "near" in raw else None,
        apart=group_pair(raw["apart"], f"{path}.apart", group_names) if "apart" in raw else None,
        beside=beside_terms(raw["beside"], f"{path}.beside", group_names, terms) if "beside" in raw else (),
        abstract_sentences=integer(raw["abstract_sentences"], f"{path}.abstract_sentences", 1, 1000)
        if "abstract_sentences" in raw else None,
        lead_sentences=integer(raw["lead_sentences"], f"{path}.lead_sentences", 1, 20) if "lead_sentences" in raw else None,
    )


def title_lists(raw: Any, path: str, terms: TermCompiler) -> tuple[Terms, ...]:
    """`[terms]` (one list) or `[[terms], [terms], ...]` (each needs a term in the title)."""
    if isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
        return tuple(terms(x, f"{path}[{i}]") for i, x in enumerate(raw))
    if isinstance(raw, list) and any(isinstance(x, list) for x in raw):
        raise ConfigError(path, "mixes terms and lists of terms; write [terms] or [[terms], [terms]] (one term of each list)")
    return (terms(raw, path),)


def beside_terms(raw: Any, path: str, group_names: Sequence[str], terms: TermCompiler) -> tuple[tuple[str, Terms], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(path, f"must be a mapping of group names to terms, e.g. {{drug: [excluded, unlike]}}, not {describe(raw)}")
    return tuple((known_group(name, f"{path}.{name}", group_names), terms(value, f"{path}.{name}"))
                 for name, value in raw.items())


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
