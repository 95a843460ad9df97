"""One ISO week of the store as a DigestView: the items that first matched that week, grouped by
section and ordered, the headline that says what the week holds, and the account of every
source. Raw text throughout: each renderer escapes for its own format.

A view is a function of the store, the week and the config (no clock is read here), so the same
database always gives the same view, and every renderer the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from ..article.claims import ARTICLE
from ..config import Config
from ..corrections.settings import CROSSREF
from ..decide import FLAG, UPDATE
from ..model import CORE, RELATED, Hit
from ..regulatory.settings import REGULATORY
from ..sections import RECRUITING_NEAR, SECTIONS, flags_of, recruiting_flags, section_of
from ..store import PollRecord, Store, StoredItem
from ..text import http_link, plain, shorten
from ..weeks import Week, local_stamp, parse_utc, utc_iso
from ..works import Work, Works, joined_by, works_of
from .board import BoardView, build_board
from .claims import ClaimIndex
from .editors import EditorsView, build_editors, needs_a_look
from .gaps import gap_limit, gaps
from .headline import Counted, Headline, kinds, listing, missing

ABSTRACT_CHARS = 320
TITLE_CHARS = 400  # real titles are shorter; a 100 kB "title" from a hostile feed is cut, not shown whole
ERROR_CHARS = 300
SHOWN_AUTHORS = 3
SHOWN_ALSO = 10
FIELD_NAMES = {"mesh_headings": "MeSH", "keywords": "keywords", "title": "title", "abstract": "abstract"}
# Where a term was found, in words: "matched aspirin in the title and abstract".
FIELD_WORDS = {"MeSH": "MeSH headings", "regulatory.products": "watched products"}
CORRECTION_CHARS = 120
# Publication types that say nothing about the kind of evidence; left out to keep items short.
UNINFORMATIVE_TYPES = ("Journal Article", "English Abstract", "Research Support")


@dataclass(frozen=True, slots=True)
class MatchedTerm:
    """Why an item was kept: `headache*`, seen as "headaches", in the title and MeSH."""

    term: str
    spellings: tuple[str, ...]  # how the text wrote it, when that differs from the term (at most 3)
    fields: tuple[str, ...]  # "title", "abstract", "MeSH", "keywords"

    @property
    def words(self) -> tuple[str, ...]:
        """The term as the text wrote it: "depression" for `depress*`; no wildcard, no quotes."""
        return self.spellings or (self.term.strip('"').replace("*", ""),)


def in_words(matched: Iterable[MatchedTerm]) -> str:
    """"aspirin and headache in the title and abstract; migraine in the abstract": the words as
    the text wrote them, grouped by the fields they were found in."""
    where: dict[tuple[str, ...], list[str]] = {}
    for m in matched:
        words = where.setdefault(m.fields, [])
        words.extend(w for w in m.words if w not in words)
    return "; ".join(f"{listing(words)} in the {listing(FIELD_WORDS.get(f, f) for f in fields)}" for fields, words in where.items())


CORRECTIONS, UPDATES = "Corrections and retractions", "Updates to items already listed"
WORK = "work"  # a NoticeView's kind: a record of a work listed in an earlier week (see works.py)


@dataclass(frozen=True, slots=True)
class AlsoIn:
    """Another source's record of the work an entry lists: "also in europepmc MED:40123456"."""

    source: str  # the source's name in feeds.yaml
    ref: str  # the record's id within that source: "NCT01234567", "MED:40123456"
    url: str | None
    title: str | None  # when it differs from the entry's (a preprint's own title, another report)


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
    marks: tuple[str, ...] = ()  # "recruiting in Chicago, Illinois"
    facts: tuple[str, ...] = ()  # a trial's tracked values: "status: RECRUITING", "phase: PHASE2"
    also: tuple[AlsoIn, ...] = ()  # the work's records from other sources (or other reports of it)
    more_also: int = 0  # further records not shown (a trial reported by dozens of papers)

    @property
    def matched_words(self) -> str:
        """Why it was kept, in words: "aspirin and headache in the title and abstract"."""
        return in_words(self.matched) or "(no terms recorded)"


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
    since: str | None = None  # failing since: the first failed poll after its last success; None: not failing now


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch without any poll run: the job was not running."""

    start: str  # local time
    end: str


@dataclass(frozen=True, slots=True)
class StoppedPoll:
    """A poll that did not finish (the process was killed, the machine lost power)."""

    started: str  # local time
    resumed: str | None  # local time of the next poll that ran to its end; None: none yet


@dataclass(frozen=True, slots=True)
class NoticeView:
    """News this week about an item listed in an earlier week's digest."""

    kind: str  # notices.FLAG | notices.UPDATE | WORK
    detail: str  # "RETRACTED"; "status: RECRUITING → COMPLETED"; "published version of the preprint"
    entry: Entry
    listed_in: str  # the week whose digest listed the item as new
    link: str | None = None  # the notice's own page (the retraction or erratum notice), an http(s) link


@dataclass(frozen=True, slots=True)
class ContentsLine:
    """One part of the week, as the contents list it: the HTML id of its heading, its title and count."""

    anchor: str  # "section-rct"; a Markdown renderer links its heading's own slug instead
    title: str
    count: int | None  # shown after the title, as the part's heading shows it; None: no count


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
    also_matched: tuple[Entry, ...] = ()  # related items: matched the terms, subject something else
    editors: EditorsView | None = None  # the article's claims with this week's evidence; None: no `article`
    board: BoardView | None = None  # the week's regulatory board: a line per product, this week's changes (board.py)
    updates: tuple[NoticeView, ...] = ()  # tracked values that changed (a trial's status); a work's later records
    stopped: tuple[StoppedPoll, ...] = ()  # polls begun this week that did not finish
    headline: Headline | None = None  # what the week holds, in words (None only in a view made by hand)
    contents: tuple[ContentsLine, ...] = ()  # the week's parts, in the order every format shows them

    @property
    def failing(self) -> tuple[SourceLine, ...]:
        return tuple(s for s in self.sources if s.failed)

    @property
    def silent(self) -> tuple[SourceLine, ...]:
        """Sources not polled at all this week."""
        return tuple(s for s in self.sources if not s.polls)

    @property
    def failures(self) -> tuple[SourceLine, ...]:
        """Every source that failed a poll or was not polled this week, in the sources' order."""
        return tuple(s for s in self.sources if s.failed or not s.polls)

    @property
    def nothing_fetched(self) -> bool:
        """No source answered a single poll this week, and nothing came in (a poll begun the week
        before may have stored items in it): an empty week that is not a quiet one."""
        nothing_answered = bool(self.sources) and all(s.polls == s.failed for s in self.sources)
        return nothing_answered and not (self.total or self.corrections or self.updates)

    @property
    def tally(self) -> str:
        """The week in a few words, for a title or a subject: "4 new items, 1 source failing"."""
        failing = len(self.failures)
        sources = f"{failing} source{'' if failing == 1 else 's'} failing"
        if self.nothing_fetched:
            return f"nothing fetched, {sources}"
        text = f"{self.total} new item{'' if self.total == 1 else 's'}"
        return f"{text}, {sources}" if failing else text


def build_view(store: Store, config: Config, week: Week, works: Works | None = None,
               index: ClaimIndex | None = None) -> DigestView:
    """`works`: the store's works when the caller has them already (one grouping for many weeks)."""
    start, end = week.bounds(config.timezone)
    tz = config.timezone
    works = works if works is not None else works_of(store, separate=config.separate, sources=[s.name for s in config.sources])
    items = store.matched_between(start, end)
    # A work is listed once, in the week its first record matched; a record joining a work
    # listed before is a notice this week, or nothing when it is the same publication again.
    listed: dict[str, Work] = {}
    joined: list[NoticeView] = []
    for stored in items:
        work = works.of(stored)
        first = work.first_matched or stored.first_matched or ""
        if first >= utc_iso(start):
            listed.setdefault(work.id, work)
            continue
        how = joined_by(work, next(r for r in work.records if r.id == stored.item.id))
        if how:
            joined.append(NoticeView(WORK, how, entry_for(stored), Week.containing(parse_utc(first), tz).label))
    entries = listings(store, items, listed.values(), end)
    # Core works in their evidence sections, strongest first; related ones in "Also matched".
    groups: dict[str, list[tuple[StoredItem, Entry]]] = {}
    related = sorted((pair for pair in entries if pair[0].match.tier == RELATED), key=lambda pair: strongest_first(pair[0]))
    for lead, entry in entries:
        if lead.match.tier != RELATED:
            groups.setdefault(section_of(lead.item), []).append((lead, entry))
    for pairs in groups.values():
        pairs.sort(key=lambda pair: strongest_first(pair[0]))
    sections = tuple(SectionView(s.key, s.title, tuple(e for _, e in groups[s.key])) for s in SECTIONS if s.key in groups)
    shown = [lead for s in SECTIONS if s.key in groups for lead, _ in groups[s.key]]  # as the digest lists them
    polls = store.polls_between(start, end)
    counts: dict[str, int] = {}
    for stored in items:
        counts[stored.item.source] = counts.get(stored.item.source, 0) + 1
    configured = [s.name for s in config.sources] + ([REGULATORY] if config.regulatory else []) + (
        [CROSSREF] if config.crossref else []) + ([ARTICLE] if config.article and config.article.page_key else [])
    names = configured + sorted({p.source for p in polls} - set(configured))
    lines = tuple(source_line(name, counts.get(name, 0), polls, store, end, tz) for name in names)
    failed = {s.name for s in lines if s.polls and s.failed == s.polls and not s.items}  # nothing came from them
    monday, sunday = week.monday, week.sunday
    notices: list[NoticeView] = []
    told: set[tuple[str, str, str]] = set()  # one notice per work: PubMed's and Europe PMC's copies retract together
    for n in store.notices_between(start, end):
        work = works.of(n.stored)
        first = work.first_matched or n.stored.first_matched or n.at
        if (work.id, n.notice.kind, n.notice.detail) in told:
            continue
        told.add((work.id, n.notice.kind, n.notice.detail))
        notices.append(NoticeView(n.notice.kind, n.notice.detail, entry_for(n.stored), Week.containing(parse_utc(first), tz).label,
                                  http_link(n.notice.link)))
    item_sources = [s.name for s in config.sources] + ([REGULATORY] if config.regulatory else [])
    view = DigestView(
        week=week.label,
        first_day=f"{monday:%a %d %b %Y}",
        last_day=f"{sunday:%a %d %b %Y}",
        timezone=tz.key,
        total=len(entries),
        sources=lines,
        sections=sections,
        last_poll=local_stamp(polls[-1].at, tz) if polls else None,
        gaps=tuple(Gap(local_stamp(utc_iso(a), tz) or "", local_stamp(utc_iso(b), tz) or "")
                   for a, b in gaps(store, start, end, gap_limit(config.schedule))),
        corrections=tuple(n for n in notices if n.kind == FLAG),
        updates=tuple(n for n in notices if n.kind == UPDATE) + tuple(joined),
        also_matched=tuple(e for _, e in related),
        editors=build_editors(store, config, shown, end, tz, works, sources=item_sources, failed=failed, index=index)
        if config.article else None,
        board=build_board(store, config.regulatory, end=end, last_day=sunday, tz=tz, week_items=items)
        if config.regulatory else None,
        stopped=stopped_polls(store, start, end, tz),
    )
    return replace(view, headline=headline_of(view), contents=contents_of(view))


def headline_of(view: DigestView) -> Headline:
    return Headline(
        nothing_fetched=view.nothing_fetched,
        polled=any(s.polls for s in view.sources),
        total=view.total,
        kinds=kinds(Counted(s.key, any(f.startswith("preprint") for f in e.flags), e.id.startswith(f"{REGULATORY}:"))
                    for s in view.sections for e in s.entries),
        also=len(view.also_matched),
        regulatory=view.board.changes if view.board else (),
        corrections=tuple(f"{n.detail}: {shorten(n.entry.title, CORRECTION_CHARS)} (listed in {n.listed_in})"
                          for n in view.corrections),
        claims=needs_a_look(view.editors) if view.editors else (),
        missing=missing(len(view.failing), len(view.silent), len(view.gaps) + len(view.stopped)),
    )


def contents_of(view: DigestView) -> tuple[ContentsLine, ...]:
    """The parts of the week in the order they come: the news by strength of evidence, the notices
    about earlier items, the editors' section, the board, "Also matched", the sources."""
    parts = [ContentsLine(f"section-{s.key}", s.title, len(s.entries)) for s in view.sections]
    if view.corrections:
        parts.append(ContentsLine("section-corrections", CORRECTIONS, len(view.corrections)))
    if view.updates:
        parts.append(ContentsLine("section-updates", UPDATES, len(view.updates)))
    if view.editors:
        parts.append(ContentsLine("section-editors", "For the editors", None))
    if view.board:
        parts.append(ContentsLine("board", "Regulatory board", None))
    if view.also_matched:
        parts.append(ContentsLine("section-also-matched", "Also matched", len(view.also_matched)))
    parts.append(ContentsLine("sources", "Sources", None))
    return tuple(parts)


def stopped_polls(store: Store, start: datetime, end: datetime, tz: ZoneInfo) -> tuple[StoppedPoll, ...]:
    """Polls begun in [start, end) that died. No lock is looked at (the view reads the store alone):
    the latest run counts only once a writer has marked it interrupted, which every writer does on
    taking the lock, as the digest's writer does before it writes."""
    latest = store.latest_run_id()
    return tuple(
        StoppedPoll(local_stamp(r.started, tz) or "", local_stamp(store.completed_run_after(r.id), tz))
        for r in store.unfinished_runs()
        if utc_iso(start) <= r.started < utc_iso(end) and r.died(latest=r.id == latest, writer_busy=True)
    )


def listings(store: Store, items: Sequence[StoredItem], works: Iterable[Work], end: datetime) -> list[tuple[StoredItem, Entry]]:
    """Each work listed this week: its lead record's entry, with the work's other records stored by
    the week's end as "also in" (later ones are notices of a later week: this week's digest stays put)."""
    by_id = {s.item.id: s for s in items}
    cutoff = utc_iso(end)
    chosen = []
    for work in works:
        lead = work.lead(cutoff)
        chosen.append((lead, [r for r in work.records if r.first_seen < cutoff and r is not lead]))
    missing = {r.id for lead, others in chosen for r in [*others, *([lead] if lead else [])] if r.id not in by_id}
    by_id.update(store.items_by_id(missing))
    # Flags a record gained through a notice of its own (a retraction Crossref reports, say) before
    # the week ended: the entry carries them, whichever of the work's records the notice was about.
    gained = store.flag_history(before=end)
    found = []
    for lead, others in chosen:
        if lead is None or lead.id not in by_id:
            continue
        stored = by_id[lead.id]
        also = [also_in(by_id[r.id], stored) for r in others if r.id in by_id]
        told = [flag for r in (lead, *others) for flag in gained.get(r.id, {})]
        found.append((stored, entry_for(stored, also, told)))
    return found


def also_in(other: StoredItem, lead: StoredItem) -> AlsoIn:
    item = other.item
    title = shorten(item.title, TITLE_CHARS)
    same = title.casefold().rstrip(" .") == shorten(lead.item.title, TITLE_CHARS).casefold().rstrip(" .")
    return AlsoIn(plain(item.source), plain(item.id.partition(":")[2]) or plain(item.id), http_link(item.url),
                  None if same or not title else title)


def source_line(name: str, count: int, polls: Sequence[PollRecord], store: Store, end: datetime, tz: ZoneInfo) -> SourceLine:
    mine = [p for p in polls if p.source == name]
    failed = [p for p in mine if not p.ok]
    success = store.last_success_before(name, end)
    return SourceLine(
        name=name,
        items=count,
        polls=len(mine),
        failed=len(failed),
        last_error=shorten(failed[-1].error, ERROR_CHARS) if failed else None,
        last_error_at=local_stamp(failed[-1].at, tz) if failed else None,
        last_success=local_stamp(success, tz),
        since=local_stamp(store.first_failure_after(name, success, end), tz) if failed or not mine else None,
    )


def entry_for(stored: StoredItem, also: Sequence[AlsoIn] = (), told: Sequence[str] = ()) -> Entry:
    """`told`: flags that notices reported of the work's records, besides the record's own."""
    item = stored.item
    flags = flags_of(item)
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
        flags=tuple(dict.fromkeys([*flags, *told])),
        matched=matched_terms(stored.match.hits),
        opening=shorten(item.abstract, ABSTRACT_CHARS),
        tier=stored.match.tier or CORE,
        reason=plain(stored.match.reason),
        score=stored.match.score,
        marks=tuple(shorten(m, TITLE_CHARS) for m in recruiting_flags(item)),
        facts=tuple(shorten(f"{label}: {value}", TITLE_CHARS) for label, value in item.tracked if label != RECRUITING_NEAR),
        also=tuple(also[:SHOWN_ALSO]),
        more_also=max(0, len(also) - SHOWN_ALSO),
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
        spelled = as_written(plain(hit.text))
        seen = spellings.setdefault(hit.term, [])
        if spelled.lower() != hit.term.lower().strip('"') and spelled.lower() not in (s.lower() for s in seen):
            seen.append(spelled)
    return tuple(MatchedTerm(plain(term), tuple(spellings[term][:3]), tuple(where)) for term, where in fields.items())


def as_written(text: str) -> str:
    """A matched word as a sentence shows it: lower case, but for words written with capitals or
    digits inside ("NMDA", "D3"), which keep theirs: "Vitamin D3" is "vitamin D3"."""
    return " ".join(w if any(c.isupper() or c.isdigit() for c in w[1:]) else w.lower() for w in text.split(" "))


def strongest_first(stored: StoredItem) -> tuple[float, bool, str, str]:
    """By how strongly the item matches, then newest first (a tie-break that keeps the order stable)."""
    return (-stored.match.score, *newest_first(stored))


def newest_first(stored: StoredItem) -> tuple[bool, str, str]:
    # Newest publication first, undated last, then a stable tie-break: same store, same order.
    date = stored.item.date
    return (date is None, invert(date or ""), stored.item.id)


def invert(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)
