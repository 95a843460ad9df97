"""One ISO week of the store as a DigestView: the items that first matched that week, grouped by
section and ordered, and the header's account of every source. Raw text throughout: each
renderer escapes for its own format.

A view is a function of the store, the week and the config (no clock is read here), so the same
database always gives the same view, and every renderer the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..catchup import gaps
from ..claims import ARTICLE
from ..config import Config
from ..model import CORE, RELATED, Hit
from ..notices import FLAG, UPDATE
from ..regulatory import REGULATORY
from ..sections import SECTIONS, flags_of, section_of
from ..store import PollRecord, Store, StoredItem
from ..text import http_link, plain, shorten
from ..weeks import iso_week, local_stamp, parse_utc, utc_iso, week_bounds, week_days
from .board import BoardView, build_board
from .editors import EditorsView, build_editors

ABSTRACT_CHARS = 320
TITLE_CHARS = 400  # real titles are shorter; a 100 kB "title" from a hostile feed is cut, not shown whole
ERROR_CHARS = 300
SHOWN_AUTHORS = 3
FIELD_NAMES = {"mesh_headings": "MeSH", "keywords": "keywords", "title": "title", "abstract": "abstract"}
# Publication types that say nothing about the kind of evidence; left out to keep items short.
UNINFORMATIVE_TYPES = ("Journal Article", "English Abstract", "Research Support")


@dataclass(frozen=True, slots=True)
class MatchedTerm:
    """Why an item was kept: `headache*`, seen as "headaches", in the title and MeSH."""

    term: str
    spellings: tuple[str, ...]  # how the text wrote it, when that differs from the term (at most 3)
    fields: tuple[str, ...]  # "title", "abstract", "MeSH", "keywords"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    url: str | None  # an http(s) link the source gave, or None
    authors: tuple[str, ...]  # the first SHOWN_AUTHORS
    more_authors: bool
    journal: str | None
    date: str | None
    doi: str | None
    doi_url: str | None
    types: tuple[str, ...]
    flags: tuple[str, ...]
    matched: tuple[MatchedTerm, ...]
    opening: str  # the start of the abstract or summary
    tier: str = CORE  # RELATED: listed under "Also matched" at the end
    reason: str = ""  # why it is in its tier, e.g. "the title names another use: surgery"
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class SectionView:
    key: str
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class SourceLine:
    name: str
    items: int
    polls: int
    failed: int
    last_error: str | None
    last_error_at: str | None  # local time, e.g. "2026-11-26 19:10 CST"
    last_success: str | None


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch without any poll run: the job was not running."""

    start: str  # local time
    end: str


@dataclass(frozen=True, slots=True)
class NoticeView:
    """News this week about an item listed in an earlier week's digest."""

    kind: str  # notices.FLAG | notices.UPDATE
    detail: str
    entry: Entry
    listed_in: str  # the week whose digest listed the item as new
    link: str | None = None  # the notice's own page (the retraction or erratum notice), an http(s) link


@dataclass(frozen=True, slots=True)
class DigestView:
    week: str
    first_day: str  # "Mon 23 Nov 2026"
    last_day: str
    timezone: str
    total: int
    sources: tuple[SourceLine, ...]
    sections: tuple[SectionView, ...]
    last_poll: str | None
    gaps: tuple[Gap, ...] = ()
    corrections: tuple[NoticeView, ...] = ()  # flags an item gained: retraction, erratum, concern
    updates: tuple[NoticeView, ...] = ()  # tracked values that changed, e.g. a trial's status
    also_matched: tuple[Entry, ...] = ()  # related items: matched the terms, subject something else
    editors: EditorsView | None = None  # the article's claims with this week's evidence; None: no `article`
    board: BoardView | None = None  # the regulatory board that opens the digest (board.py)

    @property
    def failing(self) -> tuple[SourceLine, ...]:
        return tuple(s for s in self.sources if s.failed)

    @property
    def silent(self) -> tuple[SourceLine, ...]:
        """Sources not polled at all this week."""
        return tuple(s for s in self.sources if not s.polls)


def build_view(store: Store, config: Config, week: str) -> DigestView:
    start, end = week_bounds(week, config.timezone)
    tz = config.timezone
    items = store.matched_between(start, end)
    groups: dict[str, list[StoredItem]] = {}
    related = [stored for stored in items if stored.match.tier == RELATED]
    for stored in items:
        if stored.match.tier != RELATED:
            groups.setdefault(section_of(stored.item), []).append(stored)
    sections = tuple(
        SectionView(s.key, s.title, tuple(entry_for(i) for i in sorted(groups[s.key], key=strongest_first)))
        for s in SECTIONS
        if s.key in groups
    )
    polls = store.polls_between(start, end)
    counts: dict[str, int] = {}
    for stored in items:
        counts[stored.item.source] = counts.get(stored.item.source, 0) + 1
    configured = [s.name for s in config.sources] + ([REGULATORY] if config.regulatory else []) + (
        [ARTICLE] if config.article and config.article.url else [])
    names = configured + sorted({p.source for p in polls} - set(configured))
    monday, sunday = week_days(week)
    listed = [i for s in SECTIONS if s.key in groups for i in sorted(groups[s.key], key=newest_first)]  # as the digest lists them
    notices = [
        NoticeView(n.notice.kind, n.notice.detail, entry_for(n.stored), iso_week(parse_utc(n.stored.first_matched or n.at), tz),
                   http_link(n.notice.link))
        for n in store.notices_between(start, end)
    ]
    return DigestView(
        week=week,
        first_day=f"{monday:%a %d %b %Y}",
        last_day=f"{sunday:%a %d %b %Y}",
        timezone=tz.key,
        total=len(items),
        sources=tuple(source_line(name, counts.get(name, 0), polls, store, end, tz) for name in names),
        sections=sections,
        last_poll=local_stamp(polls[-1].at, tz) if polls else None,
        gaps=tuple(Gap(local_stamp(utc_iso(a), tz) or "", local_stamp(utc_iso(b), tz) or "") for a, b in gaps(store, start, end)),
        corrections=tuple(n for n in notices if n.kind == FLAG),
        updates=tuple(n for n in notices if n.kind == UPDATE),
        also_matched=tuple(entry_for(i) for i in sorted(related, key=strongest_first)),
        editors=build_editors(store, config.article, listed, end, tz) if config.article else None,
        board=build_board(store, config.regulatory, end=end, last_day=sunday, tz=tz) if config.regulatory else None,
    )


def source_line(name: str, count: int, polls: Sequence[PollRecord], store: Store, end: datetime, tz: ZoneInfo) -> SourceLine:
    mine = [p for p in polls if p.source == name]
    failed = [p for p in mine if not p.ok]
    return SourceLine(
        name=name,
        items=count,
        polls=len(mine),
        failed=len(failed),
        last_error=shorten(failed[-1].error, ERROR_CHARS) if failed else None,
        last_error_at=local_stamp(failed[-1].at, tz) if failed else None,
        last_success=local_stamp(store.last_success_before(name, end), tz),
    )


def entry_for(stored: StoredItem) -> Entry:
    item = stored.item
    return Entry(
        id=item.id,
        title=shorten(item.title, TITLE_CHARS) or "(untitled)",
        url=http_link(item.url),
        authors=tuple(plain(a) for a in item.authors[:SHOWN_AUTHORS]),
        more_authors=len(item.authors) > SHOWN_AUTHORS,
        journal=plain(item.journal) or None,
        date=plain(item.date) or None,
        doi=plain(item.doi) or None,
        doi_url=http_link(f"https://doi.org/{plain(item.doi)}") if item.doi else None,
        types=tuple(plain(t) for t in item.publication_types if not t.startswith(UNINFORMATIVE_TYPES)),
        flags=tuple(flags_of(item)),
        matched=matched_terms(stored.match.hits),
        opening=shorten(item.abstract, ABSTRACT_CHARS),
        tier=stored.match.tier or CORE,
        reason=plain(stored.match.reason),
        score=stored.match.score,
    )


def matched_terms(hits: Iterable[Hit]) -> tuple[MatchedTerm, ...]:
    """Per term, in first-seen order: the fields it was found in and how the text spelled it."""
    fields: dict[str, list[str]] = {}
    spellings: dict[str, list[str]] = {}
    for hit in hits:
        where = fields.setdefault(hit.term, [])
        name = FIELD_NAMES.get(hit.field, hit.field)
        if name not in where:
            where.append(name)
        spelled = plain(hit.text).lower()
        seen = spellings.setdefault(hit.term, [])
        if spelled != hit.term.lower().strip('"') and spelled not in seen:
            seen.append(spelled)
    return tuple(MatchedTerm(plain(term), tuple(spellings[term][:3]), tuple(where)) for term, where in fields.items())


def strongest_first(stored: StoredItem) -> tuple[float, bool, str, str]:
    """By how strongly the item matches, then newest first (a tie-break that keeps the order stable)."""
    return (-stored.match.score, *newest_first(stored))


def newest_first(stored: StoredItem) -> tuple[bool, str, str]:
    # Newest publication first, undated last, then a stable tie-break: same store, same order.
    date = stored.item.date
    return (date is None, invert(date or ""), stored.item.id)


def invert(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)
