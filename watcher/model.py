"""The values that flow through the pipeline: small, frozen, JSON-friendly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Related:
    """A link from one record to another, e.g. PubMed CommentsCorrections (ErratumIn, RetractionOf)."""

    kind: str
    ref: str = ""
    pmid: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One record from any source, normalised enough for filtering, storing and rendering.

    All text is plain text (markup already flattened); it is escaped only when rendered.
    `extra` holds source-specific, JSON-serialisable fields (e.g. pmid, pub_year, language).
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
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a topic term: which group and term, in which field, as written."""

    group: str
    term: str
    field: str
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    """The filter's verdict on one item."""

    matched: bool
    topics: tuple[str, ...] = ()  # names of the topics the item satisfied
    hits: tuple[Hit, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """Distinct matched terms in first-seen order."""
        return tuple(dict.fromkeys(h.term for h in self.hits))
