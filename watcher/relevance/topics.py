"""Topic rules from feeds.yaml, validated and compiled once (the matching is in match.py).

The vocabulary lives in feeds.yaml; nothing here knows what a topic is about. A topic is:

- `groups`: every group must be satisfied by at least one of its terms (AND of ORs). A group may
  also ask for more than a passing mention: `min_hits: N` counts occurrences over all searched
  fields, and `enough_in: [title, ...]` lets one occurrence in one of those fields suffice.
- `false_friends`: phrases in which a term means something else (for a topic on heart attacks,
  "attack rate" is a false friend of `attack`); a term occurrence lying inside one does not count,
  while another occurrence elsewhere in the text still does.
- `exclude`: rules that veto the topic when one of their terms occurs in the rule's fields.
- `sources`: names of sources (feeds.yaml `sources[].name`) the topic applies to; default all.
- `tiers`: rules that make a matched item `core` or `related` (tier_rules.py); default: all core.

Term syntax (terms, false friends, exclude terms alike): case-insensitive, whole words;
`word*` matches any word starting with `word` (the `*` only at the end of a word; `*` alone is any
word); several words form a phrase, and a space or hyphen between them matches any run of spaces
and hyphens/dashes ("long-term" matches "long term" and "long‐term" with a Unicode hyphen).
Surrounding double quotes are allowed and optional: `"long-term"` is the same phrase.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..checks import describe
from ..checks import name as valid_name
from ..errors import ConfigError
from .scan import Folded, finditer, leading_literal, shortest_leads
from .tier_rules import Tiers, compile_tiers

FIELDS = ("title", "abstract", "mesh_headings", "keywords")  # Item fields a topic may search
TOPIC_KEYS = ("description", "sources", "fields", "groups", "false_friends", "exclude", "tiers")
GROUP_KEYS = ("terms", "min_hits", "enough_in")
EXCLUDE_KEYS = ("terms", "fields")
MAX_MIN_HITS = 100
EMPTY_GROUP = "is an empty group: add at least one term, or remove the group"

# Between the words of a phrase: any run of whitespace (incl. no-break space) and hyphens/dashes.
SEPARATOR = r"[\s\-\u2010-\u2015\u2212]+"
WORD_SPLIT = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
FLAGS = re.IGNORECASE


# ---------------------------------------------------------------- compiled rules


@dataclass(frozen=True, slots=True)
class TermSet:
    """Terms compiled into one regex; the named group `t<i>` says which term matched."""

    terms: tuple[str, ...]  # as written in feeds.yaml (shown in hits and digests)
    regex: re.Pattern[str]
    leads: tuple[str, ...] | None = None  # what every match starts with, folded (scan.py); None: anything

    def find(self, text: str | Folded) -> Iterable[tuple[str, int, int]]:
        """(term, start, end) for each occurrence, left to right, non-overlapping."""
        for m in finditer(self.regex, self.leads, text):
            yield self.terms[int(m.lastgroup[1:])], m.start(), m.end()  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """False-friend phrases compiled into one lookahead regex, which finds overlapping phrases too."""

    phrases: tuple[str, ...]
    regex: re.Pattern[str]
    leads: tuple[str, ...] | None = None

    def spans(self, text: str | Folded) -> list[tuple[int, int]]:
        return [m.span(1) for m in finditer(self.regex, self.leads, text)]


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    terms: TermSet
    min_hits: int = 1  # occurrences needed over all searched fields ...
    enough_in: frozenset[str] = frozenset()  # ... unless one occurs in one of these fields


@dataclass(frozen=True, slots=True)
class Exclude:
    terms: TermSet
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    description: str
    fields: tuple[str, ...]
    groups: tuple[Group, ...]
    false_friends: tuple[str, ...] = ()
    false_friend_set: PhraseSet | None = None
    excludes: tuple[Exclude, ...] = ()
    sources: frozenset[str] | None = None  # None: items from any source
    tiers: Tiers | None = None  # None: every match is core


# ---------------------------------------------------------------- compiling and validating


def compile_topics(raw: Any, path: str = "topics", *, source_names: Collection[str] | None = None) -> tuple[Topic, ...]:
    """Validate the `topics` value of feeds.yaml and compile it. Raises ConfigError naming the key.

    `source_names`, when given (the names in feeds.yaml `sources`), lets a topic's `sources` list be
    checked for names that no source has.
    """
    example = "e.g. topics: {my_topic: {groups: {drug: [aspirin], condition: [headache*]}}}"
    if raw is None or (isinstance(raw, Mapping) and not raw):
        raise ConfigError(path, f"at least one topic is required; {example}")
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"must be a mapping of topic names to topics, not {describe(raw)}; {example}")
    topics = []
    for name, body in raw.items():
        topic_path = f"{path}.{name}"
        check_name(name, topic_path, "topic")
        topics.append(compile_topic(str(name), body, topic_path, source_names))
    return tuple(topics)


def compile_topic(name: str, raw: Any, path: str, source_names: Collection[str] | None = None) -> Topic:
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"must be a mapping with at least `groups`, not {describe(raw)}")
    check_keys(raw, path, TOPIC_KEYS)
    if "groups" not in raw:
        raise ConfigError(f"{path}.groups", "is required: a mapping of group names to lists of terms, e.g. drug: [aspirin]")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise ConfigError(f"{path}.description", f"must be text, not {describe(description)}")
    fields = field_list(raw["fields"], f"{path}.fields") if raw.get("fields") is not None else FIELDS
    sources = source_list(raw["sources"], f"{path}.sources", source_names) if raw.get("sources") is not None else None

    raw_groups = raw["groups"]
    if not isinstance(raw_groups, Mapping) or not raw_groups:
        raise ConfigError(
            f"{path}.groups",
            f"must be a non-empty mapping of group names to lists of terms, e.g. drug: [aspirin], not {describe(raw_groups)}",
        )
    groups = []
    for group_name, body in raw_groups.items():
        group_path = f"{path}.groups.{group_name}"
        check_name(group_name, group_path, "group")
        groups.append(compile_group(str(group_name), body, group_path, fields))

    excludes = tuple(compile_excludes(raw.get("exclude"), f"{path}.exclude"))

    false_friends: tuple[str, ...] = ()
    ff_set = None
    if raw.get("false_friends") is not None:
        ff_path = f"{path}.false_friends"
        false_friends = term_list(raw["false_friends"], ff_path)
        for i, phrase in enumerate(false_friends):
            check_false_friend(phrase, f"{ff_path}[{i}]", [g.terms for g in groups] + [e.terms for e in excludes])
        ff_set = false_friend_set(false_friends, ff_path)

    tiers = None
    if raw.get("tiers") is not None:
        def terms(value: Any, where: str) -> TermSet:
            return term_set(term_list(value, where, empty="is empty: add at least one term, or remove the condition"), where)

        def phrases(value: Any, where: str) -> PhraseSet:
            found = false_friend_set(term_list(value, where, empty="is empty: add at least one phrase, or remove the key"), where)
            assert found is not None
            return found

        tiers = compile_tiers(raw["tiers"], f"{path}.tiers", [g.name for g in groups], terms, phrases)
        if tiers.false_friends is not None:
            readable = [g.terms for g in groups] + [t for rule in tiers.rules for t in rule.term_lists()
                                                    if isinstance(t, TermSet)]
            for i, phrase in enumerate(tiers.false_friends.phrases):
                check_false_friend(phrase, f"{path}.tiers.false_friends[{i}]", readable, "of any group or tier rule")

    return Topic(name, description.strip(), fields, tuple(groups), false_friends, ff_set, excludes, sources, tiers)


def false_friend_set(phrases: tuple[str, ...], path: str) -> PhraseSet | None:
    """One lookahead regex finding every false friend, overlapping ones too; None for no phrases."""
    patterns = [term_pattern(t, f"{path}[{i}]") for i, t in enumerate(phrases)]
    if not patterns:
        return None
    # Longest first, so that at one position the longest phrase wins.
    body = "|".join(sorted(patterns, key=len, reverse=True))
    regex = re.compile(rf"(?=((?<!\w)(?:{body})(?!\w)))", FLAGS)
    return PhraseSet(phrases, regex, leads_of(phrases))


def compile_group(name: str, raw: Any, path: str, fields: tuple[str, ...]) -> Group:
    if isinstance(raw, Mapping):
        check_keys(raw, path, GROUP_KEYS)
        if "terms" not in raw:
            raise ConfigError(f"{path}.terms", "is required: the list of terms of this group, e.g. terms: [aspirin]")
        terms_path = f"{path}.terms"
        terms = term_list(raw["terms"], terms_path, empty=EMPTY_GROUP)
        min_hits = raw.get("min_hits", 1)
        if isinstance(min_hits, bool) or not isinstance(min_hits, int) or not 1 <= min_hits <= MAX_MIN_HITS:
            raise ConfigError(f"{path}.min_hits", f"must be a whole number from 1 to {MAX_MIN_HITS}, not {min_hits!r}")
        enough_in: tuple[str, ...] = ()
        if raw.get("enough_in") is not None:
            enough_in = field_list(raw["enough_in"], f"{path}.enough_in")
            for i, f in enumerate(enough_in):
                if f not in fields:
                    raise ConfigError(
                        f"{path}.enough_in[{i}]",
                        f"{f!r} is not searched by this topic (its fields: {', '.join(fields)}); add it to `fields` or remove it here",
                    )
            if min_hits == 1:
                raise ConfigError(
                    f"{path}.enough_in",
                    "has no effect while min_hits is 1 (one occurrence anywhere is already enough); set min_hits: 2 or more",
                )
    else:
        terms_path = path
        terms = term_list(raw, path, empty=EMPTY_GROUP)
        min_hits, enough_in = 1, ()
    return Group(name, term_set(terms, terms_path), min_hits, frozenset(enough_in))


def compile_excludes(raw: Any, path: str) -> Iterable[Exclude]:
    if raw is None:
        return
    if not isinstance(raw, list):
        raise ConfigError(path, f"must be a list of rules, e.g. - {{terms: [recreational], fields: [title]}}, not {describe(raw)}")
    for i, rule in enumerate(raw):
        rule_path = f"{path}[{i}]"
        if not isinstance(rule, Mapping):
            raise ConfigError(rule_path, f"must be a mapping with `terms` (and optionally `fields`), not {describe(rule)}")
        check_keys(rule, rule_path, EXCLUDE_KEYS)
        if "terms" not in rule:
            raise ConfigError(f"{rule_path}.terms", "is required: the terms that veto the topic, e.g. terms: [recreational]")
        terms = term_list(rule["terms"], f"{rule_path}.terms", empty="is empty: add at least one term, or remove the rule")
        fields = field_list(rule["fields"], f"{rule_path}.fields") if rule.get("fields") is not None else FIELDS
        yield Exclude(term_set(terms, f"{rule_path}.terms"), fields)


def term_list(raw: Any, path: str, *, empty: str | None = None) -> tuple[str, ...]:
    """A list of term strings; `empty` is the complaint about an empty list (None: allowed)."""
    if not isinstance(raw, list):
        raise ConfigError(path, f"must be a list of terms, e.g. [aspirin, \"acetylsalicylic acid\"], not {describe(raw)}")
    if not raw and empty:
        raise ConfigError(path, empty)
    seen: dict[str, int] = {}
    terms = []
    for i, term in enumerate(raw):
        if term is None:
            raise ConfigError(f"{path}[{i}]", "is empty; write a term or remove the entry")
        if not isinstance(term, str):
            raise ConfigError(f"{path}[{i}]", f"must be text, not {describe(term)}; put it in quotes, e.g. \"{term}\"")
        term = term.strip()
        key = " ".join(WORD_SPLIT.split(term.strip('"').lower()))
        if key in seen:
            raise ConfigError(f"{path}[{i}]", f"duplicates {path}[{seen[key]}] ({term!r}); remove one")
        seen[key] = i
        terms.append(term)
    return tuple(terms)


def term_set(terms: tuple[str, ...], path: str) -> TermSet:
    alternatives = "|".join(f"(?P<t{i}>{term_pattern(t, f'{path}[{i}]')})" for i, t in enumerate(terms))
    regex = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", FLAGS)
    return TermSet(terms, regex, leads_of(terms))


def leads_of(terms: tuple[str, ...]) -> tuple[str, ...] | None:
    """What every match of one of these terms starts with, folded (scan.py); None: anything."""
    return shortest_leads(leading_literal(first_word(t)) for t in terms)


def first_word(term: str) -> str:
    """The first word of a term that term_pattern accepted (quotes removed)."""
    return WORD_SPLIT.split(term.strip().strip('"').strip())[0]


def term_pattern(term: str, path: str) -> str:
    """The regex body for one term (no boundaries). Raises ConfigError for what cannot be meant."""
    body = term.strip()
    if body.startswith('"') or body.endswith('"'):
        if len(body) < 2 or not (body.startswith('"') and body.endswith('"')):
            raise ConfigError(path, f"unbalanced double quote in {term!r}; write a phrase as \"two words\" or without quotes")
        body = body[1:-1].strip()
    if '"' in body:
        raise ConfigError(path, f"double quote inside {term!r}; quotes may only surround a whole phrase")
    if not body:
        raise ConfigError(path, "is empty; write a word or a phrase, or remove the line")
    words = WORD_SPLIT.split(body)
    if not words[0] or not words[-1]:
        raise ConfigError(path, f"{term!r} starts or ends with a hyphen; remove it (hyphens only join words)")
    parts = []
    for word in words:
        stem = word[:-1] if word.endswith("*") else word
        if "*" in stem:
            raise ConfigError(
                path,
                f"wildcard * may only end a word (a prefix match such as analges*), not appear inside or before it: {term!r}",
            )
        if not word.endswith("*"):
            parts.append(re.escape(word))
        elif stem:
            parts.append(re.escape(stem) + r"\w*")
        else:
            parts.append(r"\w+")  # `*` alone: any word
    return SEPARATOR.join(parts)


def check_false_friend(phrase: str, path: str, term_sets: list[TermSet], whose: str = "of any group or exclude rule") -> None:
    """A false friend must contain a term, or it can never hide anything (usually a typo)."""
    if "*" in phrase:
        return  # its wildcard may well reach a term; nothing simple to check
    text = phrase.strip().strip('"')
    if not any(ts.regex.search(text) for ts in term_sets):
        raise ConfigError(
            path,
            f"{phrase!r} contains no term {whose}, so it can never hide an occurrence; check its spelling",
        )


def field_list(raw: Any, path: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, f"must be a non-empty list of fields from: {', '.join(FIELDS)}; not {describe(raw)}")
    for i, f in enumerate(raw):
        if f not in FIELDS:
            raise ConfigError(f"{path}[{i}]", f"unknown field {f!r}; use one of: {', '.join(FIELDS)}")
    if len(set(raw)) != len(raw):
        raise ConfigError(path, "lists a field twice; list each once")
    return tuple(raw)


def source_list(raw: Any, path: str, known: Collection[str] | None) -> frozenset[str]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, f"must be a non-empty list of source names from `sources`, e.g. [pubmed]; not {describe(raw)}")
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}[{i}]", f"must be a source name (text), not {describe(name)}")
        if known is not None and name not in known:
            choices = ", ".join(sorted(known)) or "none defined"
            raise ConfigError(f"{path}[{i}]", f"no source is named {name!r}; names in `sources`: {choices}")
    return frozenset(raw)



def check_name(value: Any, path: str, what: str) -> None:
    valid_name(value, path, f"{what} name")


def check_keys(raw: Mapping[Any, Any], path: str, allowed: tuple[str, ...]) -> None:
    """Unknown keys of a topic, group or rule: the allowed ones listed in the order feeds.yaml documents them."""
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{path}.{key}", f"unknown key; expected one of: {', '.join(allowed)}")
