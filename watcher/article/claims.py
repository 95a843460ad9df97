"""The article's claims (feeds.yaml `article`): each a sentence of the clinic's page, quoted, and
the terms that find evidence bearing on it. Validated and compiled once; matching is pure.

A claim's `terms` (one group: any of them) or `groups` (every group needs one of its terms) use
the topic term syntax (`relevance/topics.py`), and every topic's false friends apply to them too: a claim
about "long-term" effects is not supported by "long-term depression" of synapses when a topic
says that phrase is a false friend.

Matching is done when a digest or an export is made, from the stored item and these rules, never
stored: a claim edited in feeds.yaml takes effect in the next digest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checks import check_keys, describe, http_url, mapping, name, optional, text
from ..errors import ConfigError
from ..export.cite import DEFAULT_STYLE, style_name
from ..model import Hit, Item
from ..relevance.match import explain
from ..relevance.topics import FIELDS, Group, PhraseSet, Topic, compile_group, false_friend_set, term_list
from ..text import shorten
from .page_text import comparable

ARTICLE = "article"  # the page watch's name in polls, `status` and the digest header
ARTICLE_KEYS = ("url", "file", "claims", "citation_style")
FILE_KEY = "file:"  # a local copy's snapshots are keyed "file:<absolute path>", a watched page's by its URL
CLAIM_KEYS = ("id", "text", "terms", "groups")
EXAMPLE = "e.g. - {id: durable-effect, text: \"the effect lasts for weeks\", terms: [durab*, sustain*]}"


CLAIM_CHARS = 80  # a claim is named by the start of its sentence


def short_claim(text: str) -> str:
    """A claim's name for people: its sentence, cut at a word near CLAIM_CHARS (the id is its anchor)."""
    return shorten(text, CLAIM_CHARS)


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    text: str  # the page's own words, whitespace collapsed
    rules: Topic  # the claim's groups with the topics' false friends: what `filter.explain` runs


@dataclass(frozen=True, slots=True)
class ArticleSettings:
    url: str | None  # the published page, watched on every poll; None: not watched
    claims: tuple[Claim, ...]
    # A local copy of the page's text (UTF-8 text or HTML), read on every poll when `url` is not set:
    # what the annotated article shows, and what the claims are checked against.
    file: Path | None = None
    citation_style: str = DEFAULT_STYLE  # the CSL style of the dossiers' references (export/cite.py)

    @property
    def page_key(self) -> str | None:
        """What the page's snapshots are stored under: the URL, else the local copy's path."""
        if self.url:
            return self.url
        return FILE_KEY + str(self.file) if self.file else None

    def claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    claim: Claim
    hits: tuple[Hit, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """The claim terms that matched, as feeds.yaml writes them, in first-seen order."""
        return tuple(dict.fromkeys(h.term for h in self.hits))


def matching(item: Item, claims: Sequence[Claim]) -> tuple[ClaimMatch, ...]:
    """The claims an item bears on, in feeds.yaml order, with the hits that show it. Pure."""
    found = []
    for claim in claims:
        result = explain(item, claim.rules)
        if result.matched:
            found.append(ClaimMatch(claim, result.hits))
    return tuple(found)


# ---------------------------------------------------------------- feeds.yaml


def parse_article(raw: Any, *, topics: Sequence[Topic], source_names: Collection[str], path: str = ARTICLE,
                  base: Path | None = None) -> ArticleSettings:
    """`base`: the folder of feeds.yaml, which a relative `file` is read from."""
    raw = mapping(raw, path, "a mapping with `claims` (and optionally `url` or `file`)")
    check_keys(raw, path, ARTICLE_KEYS, required={"claims"})
    url = optional(raw, "url", path, http_url, None)
    file = optional(raw, "file", path, text, None)
    local = (base or Path.cwd()) / file if file else None
    if (url is not None or local is not None) and ARTICLE in source_names:
        key = "url" if url else "file"
        raise ConfigError(f"{path}.{key}", f"a source is already named {ARTICLE!r}, the name the page watch reports under"
                                         " in `status` and the digest; rename that source")
    # The topics' false friends, once each, in the order feeds.yaml lists them.
    inherited = tuple(dict.fromkeys(p for t in topics for p in t.false_friends))
    false_friends = (inherited, false_friend_set(inherited, "topics"))  # already checked with their topics
    claims_raw = raw["claims"]
    if not isinstance(claims_raw, list) or not claims_raw:
        raise ConfigError(f"{path}.claims", f"must be a non-empty list of claims, {EXAMPLE}; not {describe(claims_raw)}")
    claims: list[Claim] = []
    for i, entry in enumerate(claims_raw):
        claim = parse_claim(entry, f"{path}.claims[{i}]", false_friends)
        for j, earlier in enumerate(claims):
            if earlier.id == claim.id:
                raise ConfigError(f"{path}.claims[{i}].id", f"{claim.id!r} is already the id of {path}.claims[{j}]; ids must be unique")
        claims.append(claim)
    return ArticleSettings(url=url, claims=tuple(claims), file=local.resolve() if local else None,
                           citation_style=optional(raw, "citation_style", path, style_name, DEFAULT_STYLE))


def parse_claim(raw: Any, path: str, false_friends: tuple[tuple[str, ...], PhraseSet | None]) -> Claim:
    raw = mapping(raw, path, f"a mapping with id, text and terms or groups, {EXAMPLE}")
    check_keys(raw, path, CLAIM_KEYS, required={"id", "text"})
    claim_id = name(raw["id"], f"{path}.id", "claim id")
    said = " ".join(text(raw["text"], f"{path}.text").split())
    if not comparable(said):
        raise ConfigError(f"{path}.text", f"has no words to find on the page: {said!r}; quote the page's sentence")
    if ("terms" in raw) == ("groups" in raw):
        raise ConfigError(path, "needs either `terms` (a list: any of them) or `groups` (every group needs one term), not "
                                + ("both" if "terms" in raw else "neither"))
    if "terms" in raw:
        term_list(raw["terms"], f"{path}.terms", empty="is empty: add at least one term")  # its own path in errors
        groups: tuple[Group, ...] = (compile_group("terms", raw["terms"], f"{path}.terms", FIELDS),)
    else:
        raw_groups = raw["groups"]
        if not isinstance(raw_groups, Mapping) or not raw_groups:
            raise ConfigError(f"{path}.groups", "must be a non-empty mapping of group names to lists of terms,"
                                                f" e.g. effect: [durab*, sustain*]; not {describe(raw_groups)}")
        groups = tuple(
            compile_group(name(g, f"{path}.groups.{g}", "group name"), body, f"{path}.groups.{g}", FIELDS)
            for g, body in raw_groups.items()
        )
    rules = Topic(claim_id, said, FIELDS, groups, *false_friends)
    return Claim(claim_id, said, rules)
