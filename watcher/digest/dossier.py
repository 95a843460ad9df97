"""A dossier per claim: the claim and its verdict, then every work ever matched to it, grouped by the
strength of its kind of evidence (the digest's sections, strongest first) and newest first within
a kind, each with the week it was listed, its tier, the editors' label, its flags (a retracted work
is struck through, its notice linked) and a reference in the configured CSL style; and how many
arrived since the page last changed. Rewritten with each digest (`claims/<id>.md` and `.html`).

Also the annotated article (`article.html`): the page's text as last stored (the watched page, or
the local copy) with each claim's words marked by its verdict and linked to its dossier.

Views over the whole store (not a week): the same store gives the same dossiers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..article.claims import Claim
from ..article.page_text import locate
from ..article.verdicts import EvidenceItem, Verdict, grouped
from ..config import Config
from ..export.cite import references
from ..export.csl import csl_item
from ..regulatory.settings import Fact
from ..store import Store
from ..text import fold
from ..works import Works, works_of
from .claims import ClaimIndex, ClaimsState, ClaimWork, claims_state


@dataclass(frozen=True, slots=True)
class DossierEntry:
    item: EvidenceItem
    citation: str  # the reference in the configured CSL style, plain text
    notice: str | None  # the retraction (or withdrawal) notice of a struck item, an http(s) link
    new: bool  # listed since the verdict's baseline (the page's last change, or an editor's record)


@dataclass(frozen=True, slots=True)
class DossierGroup:
    section: str
    title: str
    entries: tuple[DossierEntry, ...]


@dataclass(frozen=True, slots=True)
class Dossier:
    claim_id: str
    text: str
    verdict: Verdict
    groups: tuple[DossierGroup, ...]
    style: str  # the CSL style of the references

    @property
    def total(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    @property
    def new(self) -> int:
        return sum(e.new for g in self.groups for e in g.entries)


@dataclass(frozen=True, slots=True)
class Span:
    text: str  # visible text only (the page is from the network: no control or bidi mark)
    claim_id: str | None = None  # the claim these words are; None: the page's other words
    kind: str | None = None  # that claim's verdict


@dataclass(frozen=True, slots=True)
class AnnotatedArticle:
    source: str | None  # the page's URL, or the local copy's path
    as_of: str | None  # the local day of the copy shown; None: no copy stored yet
    paragraphs: tuple[tuple[Span, ...], ...]
    verdicts: tuple[Verdict, ...]
    unplaced: tuple[Verdict, ...]  # claims whose words the copy does not carry


def facts_of(config: Config) -> Sequence[Fact]:
    return config.regulatory.facts if config.regulatory else ()


def state_of(store: Store, config: Config, works: Works | None = None, end: datetime | None = None,
             index: ClaimIndex | None = None) -> ClaimsState:
    assert config.article is not None
    works = works if works is not None else works_of(store, separate=config.separate, sources=[s.name for s in config.sources])
    return claims_state(store, config.article, facts_of(config), works, end=end, tz=config.timezone, index=index)


def citations(found: Iterable[ClaimWork], style: str) -> dict[str, str]:
    """Work id (its lead record's) → its reference in the CSL style."""
    unique = {w.evidence.id: w for w in found}
    return references([csl_item(key, w.records) for key, w in sorted(unique.items())], style)


def claim_dossier(state: ClaimsState, claim: Claim, style: str, cited: Mapping[str, str]) -> Dossier:
    """One claim's dossier from the claims' state; `cited`: the references (`citations`) by work id,
    a work without one shows its title."""
    verdict = state.verdict(claim.id)
    assert verdict is not None
    baseline = {e.id for g in verdict.evidence for e in g.items}
    found = {w.evidence.id: w for w in state.works.get(claim.id, ())}
    groups = tuple(
        DossierGroup(g.section, g.title, tuple(
            DossierEntry(e, cited.get(e.id, e.title), found[e.id].notice, e.id in baseline) for e in g.items))
        for g in grouped(w.evidence for w in found.values())
    )
    return Dossier(claim.id, claim.text, verdict, groups, style)


def build_dossiers(store: Store, config: Config, works: Works | None = None, *,
                   state: ClaimsState | None = None) -> tuple[Dossier, ...]:
    """Every claim's dossier, in feeds.yaml's order, as of everything stored."""
    assert config.article is not None
    state = state or state_of(store, config, works)
    style = config.article.citation_style
    cited = citations((w for found in state.works.values() for w in found), style)
    return tuple(claim_dossier(state, claim, style, cited) for claim in config.article.claims)


def build_dossier(store: Store, config: Config, claim_id: str, works: Works | None = None) -> Dossier | None:
    """One claim's dossier (None: no claim of that id)."""
    return next((d for d in build_dossiers(store, config, works) if d.claim_id == claim_id), None)


def build_annotated(store: Store, config: Config, works: Works | None = None, *,
                    state: ClaimsState | None = None) -> AnnotatedArticle:
    """The page's latest stored text, each claim's words marked with its verdict."""
    article = config.article
    assert article is not None
    state = state or state_of(store, config, works)
    text = state.page.text
    marks: list[tuple[int, int, Verdict]] = []
    unplaced = []
    for verdict in state.verdicts:
        span = locate(text, verdict.text) if text else None
        if span is None or any(a < span[1] and span[0] < b for a, b, _ in marks):
            unplaced.append(verdict)
        else:
            marks.append((*span, verdict))
    marks.sort(key=lambda m: m[0])
    paragraphs = []
    offset = 0
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        spans: list[Span] = []
        at = start
        for a, b, verdict in marks:
            lo, hi = max(a, start), min(b, end)
            if lo >= hi:
                continue
            if lo > at:
                spans.append(Span(fold(text[at:lo])))
            spans.append(Span(fold(text[lo:hi]), verdict.claim_id, verdict.kind))
            at = hi
        if at < end:
            spans.append(Span(fold(text[at:end])))
        if spans:
            paragraphs.append(tuple(spans))
    return AnnotatedArticle(article.url or (str(article.file) if article.file else None), state.page.changed,
                            tuple(paragraphs), state.verdicts, tuple(unplaced))
