"""What each page of the workspace shows, as data: the store and the config in, small dataclasses
out, raw text throughout (the templates escape it, as the digest's renderers do). The pages' code
(app.py) only parses the request, calls one of these and renders its template."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ..config import Config
from ..digest.view import DigestView, Entry, build_view, entry_for
from ..model import CORE, RELATED
from ..relevance.evaluate import Evaluation, Labelled, evaluate
from ..relevance.labels import IRRELEVANT, RELEVANT
from ..sections import SECTIONS
from ..store import Decision, Store, StoredItem
from ..store.lock import writer_busy
from ..text import http_link, plain
from ..weeks import Week, local_stamp, parse_utc
from ..works import Works, works_of
from .facets import Facets

PAGE = 50
SECTION_TITLES = {s.key: s.title for s in SECTIONS}
TIERS = (CORE, RELATED)
VERDICTS = (RELEVANT, IRRELEVANT)


@dataclass(frozen=True, slots=True)
class Shown:
    """A decision as a page shows it."""

    label: str | None
    claim: str | None
    note: str
    at: str  # local time
    user: str
    undoes: int | None = None

    @property
    def words(self) -> str:
        if self.undoes is not None:
            return "undo"
        if self.label is None:
            return "note" if self.note else "undecided"
        return f"cite for {self.claim}" if self.claim else self.label


def shown(decision: Decision | None, config: Config) -> Shown | None:
    if decision is None:
        return None
    return Shown(decision.label, decision.claim, decision.note, local_stamp(decision.at, config.timezone) or "",
                 decision.user, decision.undoes)


@dataclass(frozen=True, slots=True)
class Card:
    """An item in a list with its actions: the digest's entry, what it bears on, its decision."""

    entry: Entry
    section: str
    claims: tuple[str, ...]  # ids of the claims it bears on
    decision: Shown | None


@dataclass(frozen=True, slots=True)
class Status:
    poll_running: bool
    last_poll: str | None  # local time the latest finished poll ended


def status(store: Store, config: Config) -> Status:
    return Status(writer_busy(config.database), local_stamp(store.last_poll_ended(), config.timezone))


def card(stored: StoredItem, facets: Facets, config: Config, decision: Decision | None) -> Card:
    facet = (facets.get(stored.item.id) if facets.ready.is_set() else None) or facets.facet(stored)
    return Card(entry_for(stored), SECTION_TITLES.get(facet.section, facet.section), tuple(facet.claims), shown(decision, config))


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True, slots=True)
class Filters:
    tier: str | None = None
    section: str | None = None
    claim: str | None = None
    source: str | None = None

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("tier", self.tier), ("section", self.section), ("claim", self.claim),
                                  ("source", self.source)) if v}


@dataclass(frozen=True, slots=True)
class QueueView:
    cards: tuple[Card, ...]
    filters: Filters
    remaining: int  # undecided items the filters let through
    page: int
    more: bool


def queue(store: Store, config: Config, facets: Facets, filters: Filters, page: int = 0) -> QueueView:
    """Matched items without a verdict, newest first. Tier and source are filtered by the store;
    section and claim from the facets, reading the queue's ids until the page is full."""
    if filters.section is None and filters.claim is None:
        items = store.undecided(tier=filters.tier, source=filters.source, limit=PAGE + 1, offset=page * PAGE)
        remaining = store.undecided_count(tier=filters.tier, source=filters.source)
    else:
        wanted = []
        remaining = 0
        for item_id in store.undecided_ids(tier=filters.tier, source=filters.source):
            facet = facets.get(item_id)
            if facet is None or (filters.section and facet.section != filters.section) or (
                    filters.claim and filters.claim not in facet.claims):
                continue
            remaining += 1
            if page * PAGE <= remaining - 1 <= (page + 1) * PAGE:
                wanted.append(item_id)
        found = store.items_by_id(wanted)
        items = [found[i] for i in wanted if i in found]
    cards = tuple(card(s, facets, config, store.current_decision(s.item.id)) for s in items[:PAGE])
    return QueueView(cards, filters, remaining, page, len(items) > PAGE)


# ---------------------------------------------------------------- one item


@dataclass(frozen=True, slots=True)
class RecordView:
    id: str
    source: str
    url: str | None
    title: str
    first_seen: str


@dataclass(frozen=True, slots=True)
class ItemView:
    card: Card
    abstract: str
    authors: tuple[str, ...]
    keywords: tuple[str, ...]
    mesh: tuple[str, ...]
    first_seen: str
    first_matched: str | None
    week: str | None  # the digest week that lists it
    records: tuple[RecordView, ...]  # every record of its work, itself included
    history: tuple[Shown, ...]  # every decision, oldest first


def item(store: Store, config: Config, facets: Facets, works: WorksCache, item_id: str) -> ItemView | None:
    stored = store.item(item_id)
    if stored is None:
        return None
    tz = config.timezone
    work = works.get(store).of(stored)
    others = store.items_by_id(r.id for r in work.records)
    records = tuple(
        RecordView(r.id, plain(r.source), http_link(others[r.id].item.url) if r.id in others else None,
                   plain(others[r.id].item.title) if r.id in others else "", local_stamp(r.first_seen, tz) or "")
        for r in work.records)
    history = tuple(s for d in store.decision_history(item_id) if (s := shown(d, config)) is not None)
    first = work.first_matched or stored.first_matched
    week = Week.containing(parse_utc(first), tz).label if first else None
    it = stored.item
    return ItemView(
        card=card(stored, facets, config, store.current_decision(item_id)),
        abstract=plain(it.abstract),
        authors=tuple(plain(a) for a in it.authors),
        keywords=tuple(plain(k) for k in it.keywords),
        mesh=tuple(plain(m) for m in it.mesh_headings),
        first_seen=local_stamp(stored.first_seen, tz) or "",
        first_matched=local_stamp(stored.first_matched, tz),
        week=week,
        records=records,
        history=history,
    )


class WorksCache:
    """The store's works (works.py), grouped in the background when items were written since: a
    page uses the latest grouping at once (a record stored since is a work of its own until the
    next grouping is done, as `Works.of` has it), so no page waits for a regrouping."""

    def __init__(self, config: Config, attach: Callable[[], Store] | None = None) -> None:
        self.config = config
        self.attach = attach  # a connection for the background thread; None: group in the caller's
        self.works: Works | None = None
        self.mark: tuple[object, ...] = ()
        self.lock = threading.Lock()
        self.grouping = False

    def group(self, store: Store, mark: tuple[object, ...]) -> Works:
        works = works_of(store, separate=self.config.separate, sources=[s.name for s in self.config.sources])
        with self.lock:
            self.works, self.mark, self.grouping = works, mark, False
        return works

    def get(self, store: Store) -> Works:
        mark = tuple(store.conn.execute("SELECT MAX(last_seen), COUNT(*) FROM items").fetchone())
        with self.lock:
            works, stale = self.works, mark != self.mark
            start = stale and works is not None and not self.grouping and self.attach is not None
            if start:
                self.grouping = True
        if works is None:
            return self.group(store, mark)
        if start:
            threading.Thread(target=self.regroup, args=(mark,), daemon=True).start()
        return works

    def regroup(self, mark: tuple[object, ...]) -> None:
        assert self.attach is not None
        store = self.attach()
        try:
            self.group(store, mark)
        finally:
            store.close()
            with self.lock:
                self.grouping = False


# ---------------------------------------------------------------- this week


@dataclass(frozen=True, slots=True)
class WeekView:
    digest: DigestView
    decisions: dict[str, Shown]  # item id → its current decision
    claims: dict[str, tuple[str, ...]]  # item id → the claims it bears on
    previous: str
    next: str | None


def week(store: Store, config: Config, facets: Facets, works: WorksCache, which: Week, current: Week) -> WeekView:
    """The digest's own view of the week (`build_view`), with each item's decision beside it."""
    digest = build_view(store, config, which, works.get(store))
    ids = [e.id for s in digest.sections for e in s.entries] + [e.id for e in digest.also_matched]
    decisions = {i: s for i in ids if (s := shown(store.current_decision(i), config)) is not None}
    claims = {i: tuple(f.claims) for i in ids if (f := facets.get(i)) is not None}
    following = Week.of(which.sunday + timedelta(days=1))
    return WeekView(digest, decisions, claims, Week.of(which.monday - timedelta(days=1)).label,
                    following.label if following <= current else None)


# ---------------------------------------------------------------- search and quality


@dataclass(frozen=True, slots=True)
class SearchView:
    query: str
    cards: tuple[Card, ...]


def search(store: Store, config: Config, facets: Facets, query: str) -> SearchView:
    found = store.search(query, limit=PAGE) if query.strip() else []
    return SearchView(query, tuple(card(s, facets, config, store.current_decision(s.item.id)) for s in found))


def quality(store: Store, config: Config) -> Evaluation | None:
    """What `watcher evaluate` prints, from the same function over the same labels; None: no label yet."""
    records = [Labelled(s.stored.item, s.label.label == RELEVANT, s.label.note) for s in store.labels()]
    return evaluate(records, config.topics, f"the labels in {config.database.name}") if records else None
