"""The Claims, dossier and Article pages as data: the digest's verdicts, dossiers and annotated
article (digest/claims.py, digest/dossier.py), computed by the same functions over the same store,
with each item's decision and actions beside it and the editors' records on each claim.

The costly part, the works bearing on each claim (every matched record grouped into works), changes
only when items or their notices do: `EvidenceCache` keeps it, computed once at start and again, in
the background, after a write (a page uses the latest one meanwhile, as the works' cache does). The
page's copies and the editors' records are read at every request, so a claim marked resolved shows
at once; references are rendered for the page of the dossier shown, and kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..article.claims import Claim
from ..config import Config
from ..digest.claims import ClaimsState, ClaimWork, claim_works, judge_claims
from ..digest.dossier import AnnotatedArticle, Dossier, DossierEntry, build_annotated, citations, claim_dossier, facts_of
from ..store import ClaimResolution, Store, StoredItem
from ..text import http_link
from ..weeks import local_stamp
from ..works import Works
from .facets import Facets
from .views import PAGE, Card, WorksCache, card


def claims_of(config: Config) -> tuple[Claim, ...]:
    return config.article.claims if config.article else ()


# ---------------------------------------------------------------- the cache


@dataclass(frozen=True, slots=True)
class Evidence:
    mark: tuple[object, ...]  # the store's evidence_mark when it was read
    works: Works | None  # the grouping it was read with
    bearing: dict[str, tuple[ClaimWork, ...]]  # claim id → the works bearing on it
    cited: dict[str, str] = field(default_factory=dict)  # work id → its reference, filled as pages ask


class EvidenceCache:
    """The works bearing on each claim (`claim_works`), each record's claims taken from the facets
    (they are the same matching, kept up to date). What it does not keep fresh, each work's label,
    the pages do not show from it: they show each item's current decision."""

    def __init__(self, config: Config, facets: Facets, works: WorksCache, attach: Callable[[], Store] | None = None) -> None:
        self.config = config
        self.facets = facets
        self.works = works
        self.attach = attach  # a connection for the background thread; None: compute in the caller's
        self.evidence: Evidence | None = None
        self.lock = threading.Lock()
        self.computing = False
        self.ready = threading.Event()  # set once the first computation at start is done (or failed)

    def bears(self, stored: StoredItem) -> Iterable[str]:
        return (self.facets.get(stored.item.id) or self.facets.facet(stored)).claims

    def compute(self, store: Store) -> Evidence:
        mark = store.evidence_mark()  # read first: a write during the computation makes it stale at once
        article = self.config.article
        if article is None:
            found = Evidence(mark, None, {})
        else:
            works = self.works.get(store)
            self.facets.refresh(store)
            found = Evidence(mark, works, claim_works(store, article, works, end=None, tz=self.config.timezone,
                                                      bears=self.bears))
        with self.lock:
            self.evidence, self.computing = found, False
        self.ready.set()
        return found

    def get(self, store: Store) -> Evidence:
        self.ready.wait()
        mark, works = store.evidence_mark(), self.works.get(store)
        with self.lock:
            found = self.evidence
            stale = found is not None and (found.mark != mark or (found.works is not None and found.works is not works))
            start = stale and not self.computing and self.attach is not None
            if start:
                self.computing = True
        if found is None or (stale and self.attach is None):
            return self.compute(store)
        if start:
            threading.Thread(target=self.recompute, name="claims", daemon=True).start()
        return found

    def recompute(self) -> None:
        assert self.attach is not None
        store = self.attach()
        try:
            self.compute(store)
        finally:
            store.close()
            with self.lock:
                self.computing = False

    def cite(self, evidence: Evidence, works: Sequence[ClaimWork]) -> dict[str, str]:
        """The references of these works, rendered once each."""
        missing = [w for w in works if w.evidence.id not in evidence.cited]
        if missing and self.config.article is not None:
            evidence.cited.update(citations(missing, self.config.article.citation_style))
        return {w.evidence.id: evidence.cited[w.evidence.id] for w in works if w.evidence.id in evidence.cited}


def state(store: Store, config: Config, cache: EvidenceCache) -> tuple[ClaimsState, Evidence] | None:
    """Every claim's verdict as the digest has it, from the cached evidence and the store's page and
    records now; None without an `article` block."""
    if config.article is None:
        return None
    evidence = cache.get(store)
    return judge_claims(store, config.article, facts_of(config), evidence.bearing, end=None, tz=config.timezone), evidence


# ---------------------------------------------------------------- the pages


@dataclass(frozen=True, slots=True)
class Record:
    """An editor's record on a claim as a page shows it."""

    action: str  # "resolved" | "reopened"
    by: str
    note: str
    at: str  # local time


@dataclass(frozen=True, slots=True)
class ClaimLine:
    dossier: Dossier  # its verdict and every work bearing on it (references not rendered)
    history: tuple[Record, ...]  # the editors' records on it, newest first


@dataclass(frozen=True, slots=True)
class PageInfo:
    watched: bool  # article.url or article.file is set
    source: str | None  # the page's http(s) address, or the local copy's path
    link: bool  # `source` is an address to link
    changed: str | None  # the local day of the latest copy; None: none stored


@dataclass(frozen=True, slots=True)
class Overview:
    claims: tuple[ClaimLine, ...]  # what needs a look first: contradicted, no longer on the page, new evidence, unchanged
    page: PageInfo


@dataclass(frozen=True, slots=True)
class Line:
    entry: DossierEntry  # with its reference
    card: Card | None  # the item with its decision and actions; None: its record is gone from the store


@dataclass(frozen=True, slots=True)
class PageGroup:
    section: str
    title: str
    total: int  # the group's works, on every page
    lines: tuple[Line, ...]  # those on this page


@dataclass(frozen=True, slots=True)
class DossierPage:
    claim: ClaimLine
    groups: tuple[PageGroup, ...]  # this page's part, strongest kind first
    page: int
    more: bool


def page_info(config: Config, claims: ClaimsState) -> PageInfo:
    article = config.article
    url = http_link(article.url) if article and article.url else None
    source = url or (str(article.file) if article and article.file else None)
    return PageInfo(claims.page.watched, source, url is not None, claims.page.changed)


def history(records: Iterable[ClaimResolution], claim_id: str, config: Config) -> tuple[Record, ...]:
    mine = [Record(r.action, r.by, r.note, local_stamp(r.at, config.timezone) or r.at) for r in records if r.claim_id == claim_id]
    return tuple(reversed(mine))


def lines(claims: ClaimsState, config: Config) -> tuple[ClaimLine, ...]:
    assert config.article is not None
    by_id = {c.id: c for c in config.article.claims}
    style = config.article.citation_style
    return tuple(ClaimLine(claim_dossier(claims, by_id[v.claim_id], style, {}), history(claims.records, v.claim_id, config))
                 for v in claims.verdicts if v.claim_id in by_id)


def overview(store: Store, config: Config, cache: EvidenceCache) -> Overview:
    found = state(store, config, cache)
    if found is None:
        return Overview((), PageInfo(False, None, False, None))
    return Overview(lines(found[0], config), page_info(config, found[0]))


def dossier(store: Store, config: Config, facets: Facets, cache: EvidenceCache, claim_id: str, page: int = 0) -> DossierPage | None:
    """One claim's dossier, a page of PAGE works at a time (strongest kind first, newest first within
    a kind), each with its reference, its decision and its actions."""
    judged = state(store, config, cache)
    if judged is None or config.article is None or (claim := config.article.claim(claim_id)) is None:
        return None
    claims, evidence = judged
    found = claim_dossier(claims, claim, config.article.citation_style, {})
    flat = [(g, e) for g in found.groups for e in g.entries]
    shown = flat[page * PAGE : (page + 1) * PAGE]
    works = {w.evidence.id: w for w in claims.works.get(claim_id, ())}
    cited = cache.cite(evidence, [works[e.item.id] for _, e in shown if e.item.id in works])
    stored = store.items_by_id(e.item.id for _, e in shown)
    groups: list[PageGroup] = []
    for group, entry in shown:
        line = Line(replace(entry, citation=cited.get(entry.item.id, entry.citation)),
                    card(stored[entry.item.id], facets, config, store.current_decision(entry.item.id))
                    if entry.item.id in stored else None)
        if groups and groups[-1].section == group.section:
            groups[-1] = replace(groups[-1], lines=(*groups[-1].lines, line))
        else:
            groups.append(PageGroup(group.section, group.title, len(group.entries), (line,)))
    return DossierPage(ClaimLine(found, history(claims.records, claim_id, config)), tuple(groups), page,
                       len(flat) > (page + 1) * PAGE)


@dataclass(frozen=True, slots=True)
class ArticlePage:
    annotated: AnnotatedArticle | None  # None: feeds.yaml has no `article` block
    page: PageInfo


def article(store: Store, config: Config, cache: EvidenceCache) -> ArticlePage:
    """The annotated article: the page's latest copy, each claim's words marked by its verdict."""
    found = state(store, config, cache)
    if found is None:
        return ArticlePage(None, PageInfo(False, None, False, None))
    return ArticlePage(build_annotated(store, config, state=found[0]), page_info(config, found[0]))
