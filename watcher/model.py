"""The values that flow through the pipeline: small, frozen, JSON-friendly dataclasses.

Every module may import this one; it imports nothing of watcher's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

S = TypeVar("S")  # a source type's own settings


@dataclass(frozen=True, slots=True)
class Related:
    """A link from one record to another, e.g. PubMed CommentsCorrections (ErratumIn, RetractionOf)."""

    kind: str
    ref: str = ""
    pmid: str | None = None
    url: str | None = None  # the other record's page, when the source can tell
    item_id: str | None = None  # the other record's item id, as this source names its items


@dataclass(frozen=True, slots=True)
class Item:
    """One record from any source, normalised enough for filtering, storing and rendering.

    All text is plain text (markup already flattened); it is escaped only when rendered.
    `section` (a key of `sections.SECTIONS`) places the item in the digest when its publication
    types would not, e.g. an FDA feed configured as `section: regulatory`; `kind` is a short label
    of what the record is ("press release", "label change"). `tracked` holds the values whose change a
    later poll reports as a notice (a trial's status, say). `extra` holds source-specific,
    JSON-serialisable fields (e.g. pmid, pub_year, language). `identifiers` name the work the record
    reports, as "scheme:value" ("pmid:…", "nct:NCT…", "epmc:PPR:…"; its DOI counts too): records
    sharing one are one work (works.py).
    """

    id: str  # stable across runs: "pubmed:<PMID>", "rss:<feed>:<guid>", ...
    source: str  # the source's name in feeds.yaml
    url: str
    title: str
    abstract: str | None = None
    date: str | None = None  # best publication date known, ISO 8601: YYYY, YYYY-MM or YYYY-MM-DD
    authors: tuple[str, ...] = ()
    journal: str | None = None
    doi: str | None = None
    publication_types: tuple[str, ...] = ()
    mesh_headings: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()
    section: str | None = None
    kind: str | None = None
    tracked: tuple[tuple[str, str], ...] = ()  # (label, value) pairs whose change is news: see decide.py
    identifiers: tuple[str, ...] = ()  # "pmid:123", "nct:NCT01234567": shared by the records of one work
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a topic term: which group and term, in which field, as written."""

    group: str
    term: str
    field: str
    text: str


CORE, RELATED = "core", "related"  # the tiers of a matched item: see relevance/grade.py


@dataclass(frozen=True, slots=True)
class Match:
    """The filter's verdict on one item.

    A matched item has a tier: `core` (its subject is the topic) or `related` (it matches the
    terms, but its subject is something else), and `reason` says why in words ("the title names
    another use: surgery"); `score` (0 to 1) says how strongly it matches, for ordering.
    An unmatched item has no tier.
    """

    matched: bool
    topics: tuple[str, ...] = ()  # names of the topics the item satisfied
    hits: tuple[Hit, ...] = ()
    tier: str | None = None  # CORE | RELATED when matched
    score: float = 0.0
    reason: str = ""

    @property
    def terms(self) -> tuple[str, ...]:
        """Distinct matched terms in first-seen order."""
        return tuple(dict.fromkeys(h.term for h in self.hits))


# ---- what feeds.yaml says about the sources, and what the store remembers of them ----


# Names that reach no one, reserved by RFC 2606 (and RFC 6761) for examples and tests.
RESERVED_DOMAINS = ("example.org", "example.com", "example.net")
RESERVED_TLDS = ("example", "invalid", "test", "localhost")


@dataclass(frozen=True, slots=True)
class Contact:
    """Who runs this watcher: NCBI asks every E-utilities client for a tool name and an e-mail."""

    tool: str
    email: str

    @property
    def warning(self) -> str | None:
        """Why NCBI could not reach whoever runs this watcher, and what to do; None when it can."""
        why = "NCBI writes to it about a problem before it blocks the tool"
        if not self.email:
            return f"contact.email is empty: {why}; set it in feeds.yaml to an address someone reads"
        domain = self.email.rpartition("@")[2].lower().rstrip(".")
        reserved = next((d for d in RESERVED_DOMAINS if domain == d or domain.endswith("." + d)), None)
        if reserved is None and domain.rpartition(".")[2] in RESERVED_TLDS:
            reserved = "." + domain.rpartition(".")[2]
        if reserved is None:
            return None
        return (f"contact.email {self.email} is a placeholder ({reserved} reaches no one): {why};"
                " replace it in feeds.yaml with an address someone reads")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    user_agent: str
    timeout: float
    max_mb: int
    deadline: float = 300.0  # one whole response, body included: a trickling server cannot hold a poll longer


@dataclass(frozen=True, slots=True)
class SourceConfig(Generic[S]):
    """One entry of `sources`: the common keys; `settings` is the type's own validated dataclass."""

    name: str
    type: str
    url: str
    settings: S


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's row in the store: its cursor, conditional-GET validators and health."""

    name: str
    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    consecutive_failures: int = 0
