"""Choose and group one ISO week's newly matched items, render them to Markdown, write atomically.

A digest is a function of the store, the week and the config: no clock is read here, so the
same database always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from .config import Config
from .errors import ConfigError, StoreError, os_reason
from .markdown import escape, safe_url, shorten
from .model import Hit, Item
from .store import DigestRecord, PollRecord, Store, StoredItem, parse_utc, utc_iso

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
ABSTRACT_CHARS = 320
TITLE_CHARS = 400  # real titles are shorter; a 100 kB "title" from a hostile feed is cut, not shown whole
# Polls are at least daily; a longer stretch than this without any poll run means the job was down.
GAP = timedelta(hours=36)
SHOWN_AUTHORS = 3

# Sections in the order staff read them: strongest evidence first. An item goes to the first
# section any of its publication types names.
SECTIONS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("regulatory", "Regulatory", frozenset()),
    ("synthesis", "Meta-analyses and systematic reviews", frozenset({"Meta-Analysis", "Systematic Review"})),
    ("rct", "Randomised controlled trials", frozenset({"Randomized Controlled Trial", "Equivalence Trial"})),
    (
        "trial",
        "Other clinical trials",
        frozenset(
            {
                "Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II", "Clinical Trial, Phase III",
                "Clinical Trial, Phase IV", "Controlled Clinical Trial", "Pragmatic Clinical Trial",
                "Adaptive Clinical Trial", "Clinical Trial Protocol",
            }
        ),
    ),
    (
        "observational",
        "Observational studies",
        frozenset({"Observational Study", "Comparative Study", "Multicenter Study", "Twin Study", "Validation Study", "Evaluation Study"}),
    ),
    ("review", "Reviews", frozenset({"Review", "Scoping Review", "Systematic Review"})),
    ("case", "Case reports", frozenset({"Case Reports"})),
    ("other", "Other", frozenset()),
)


def section_of(item: Item) -> str:
    if item.extra.get("section") == "regulatory":
        return "regulatory"
    types = set(item.publication_types)
    for key, _title, names in SECTIONS:
        if types & names:
            return key
    return "other"


def flags_of(item: Item) -> list[str]:
    """Warnings an editor must not miss before citing the item."""
    types = set(item.publication_types)
    kinds = {r.kind for r in item.related}
    flags = []
    if "Retracted Publication" in types or "RetractionIn" in kinds:
        flags.append("RETRACTED")
    if "Retraction of Publication" in types:
        flags.append("retraction notice")
    if "ExpressionOfConcernIn" in kinds or "Expression of Concern" in types:
        flags.append("expression of concern")
    if "Published Erratum" in types:
        flags.append("erratum notice")
    if "ErratumIn" in kinds:
        flags.append("has erratum")
    if "Preprint" in types:
        flags.append("preprint, not peer reviewed")
    return flags


# ---- weeks ----


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def week_days(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week `YYYY-Www`."""
    found = WEEK_RE.match(week)
    if not found:
        raise ConfigError("--week", f"{week!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W05")
    try:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        raise ConfigError("--week", f"{week!r}: year {found[1]} has no week {found[2]}") from None
    return monday, monday + timedelta(days=6)


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the week as aware datetimes at local midnight (DST-safe)."""
    monday, sunday = week_days(week)
    start = datetime.combine(monday, time(0), tz)
    end = datetime.combine(sunday + timedelta(days=1), time(0), tz)
    return start, end


# ---- the view the template renders ----


@dataclass(frozen=True, slots=True)
class Entry:
    title: str
    url: str | None
    byline: str  # authors · journal · date, already escaped
    doi: str | None
    doi_url: str | None
    types: str
    flags: tuple[str, ...]
    matched: str
    opening: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class SourceLine:
    name: str
    items: int
    polls: int
    failed: int
    last_error: str | None
    last_error_at: str | None
    last_success: str | None


@dataclass(frozen=True, slots=True)
class DigestView:
    week: str
    first_day: str
    last_day: str
    timezone: str
    total: int
    sources: tuple[SourceLine, ...]
    sections: tuple[Section, ...]
    last_poll: str | None
    gaps: tuple[str, ...] = ()  # "No polls from … to …" notes: the job was down during the week


def local_stamp(value: str | None, tz: ZoneInfo) -> str | None:
    return parse_utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if value else None


FIELD_NAMES = {"mesh_headings": "MeSH", "keywords": "keywords", "title": "title", "abstract": "abstract"}
# Publication types that say nothing about the kind of evidence; left out to keep items short.
UNINFORMATIVE_TYPES = ("Journal Article", "English Abstract", "Research Support")


def describe_hits(hits: Iterable[Hit]) -> str:
    """`ketamine` (title, abstract); `depress*` as "depressive" (MeSH) — why an item was kept."""
    where: dict[str, list[str]] = {}
    seen_as: dict[str, list[str]] = {}
    for hit in hits:
        where.setdefault(hit.term, [])
        if hit.field not in where[hit.term]:
            where[hit.term].append(hit.field)
        spelled = hit.text.lower()
        if spelled != hit.term.lower().strip('"') and spelled not in seen_as.setdefault(hit.term, []):
            seen_as[hit.term].append(spelled)
    parts = []
    for term, fields in where.items():
        shown = f"{escape(term)}"
        if seen_as.get(term):
            shown += " (" + ", ".join(escape(s) for s in seen_as[term][:3]) + ")"
        parts.append(f"{shown} in {', '.join(FIELD_NAMES.get(f, f) for f in fields)}")
    return "; ".join(parts)


def entry_for(stored: StoredItem) -> Entry:
    item = stored.item
    authors = list(item.authors[:SHOWN_AUTHORS])
    people = ", ".join(escape(a) for a in authors) + (" et al." if len(item.authors) > SHOWN_AUTHORS else "")
    byline = " · ".join(part for part in (people, f"*{escape(item.journal)}*" if item.journal else "", escape(item.date)) if part)
    doi_url = safe_url(f"https://doi.org/{item.doi}") if item.doi else None
    return Entry(
        title=escape(shorten(item.title, TITLE_CHARS)) or "(untitled)",
        url=safe_url(item.url),
        byline=byline,
        doi=escape(item.doi) if item.doi else None,
        doi_url=doi_url,
        types=", ".join(escape(t) for t in item.publication_types if not t.startswith(UNINFORMATIVE_TYPES)),
        flags=tuple(flags_of(item)),
        matched=describe_hits(stored.match.hits),
        opening=escape(shorten(item.abstract, ABSTRACT_CHARS)),
    )


def sort_key(stored: StoredItem) -> tuple[bool, str, str]:
    # Newest publication first, undated last, then a stable tie-break: same store, same order.
    date = stored.item.date
    return (date is None, invert(date or ""), stored.item.id)


def invert(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def build_view(store: Store, config: Config, week: str) -> DigestView:
    start, end = week_bounds(week, config.timezone)
    items = store.matched_between(start, end)
    groups: dict[str, list[StoredItem]] = {}
    for stored in items:
        groups.setdefault(section_of(stored.item), []).append(stored)
    sections = tuple(
        Section(title, tuple(entry_for(s) for s in sorted(groups[key], key=sort_key)))
        for key, title, _ in SECTIONS
        if key in groups
    )
    polls = store.polls_between(start, end)
    counts: dict[str, int] = {}
    for stored in items:
        counts[stored.item.source] = counts.get(stored.item.source, 0) + 1
    names = [s.name for s in config.sources] + sorted({p.source for p in polls} - {s.name for s in config.sources})
    lines = tuple(source_line(name, counts.get(name, 0), polls, store, end, config.timezone) for name in names)
    monday, sunday = week_days(week)
    return DigestView(
        week=week,
        first_day=f"{monday:%a %d %b %Y}",
        last_day=f"{sunday:%a %d %b %Y}",
        timezone=config.timezone.key,
        total=len(items),
        sources=lines,
        sections=sections,
        last_poll=local_stamp(polls[-1].at, config.timezone) if polls else None,
        gaps=gap_notes(store, start, end, config.timezone),
    )


def gap_notes(store: Store, start: datetime, end: datetime, tz: ZoneInfo) -> tuple[str, ...]:
    """One note per stretch of more than GAP without a poll run that overlaps [start, end).

    Only the part of time the store knows about counts: a stretch is bounded by two poll runs
    (the last one before the week or in it, the next one in it or after it), so the weeks before
    the first run, and the time after the latest run, never show a gap. No clock is read.
    """
    before, after = store.run_before(start), store.run_after(end)
    stamps = ([before] if before else []) + store.runs_between(start, end) + ([after] if after else [])
    times = [parse_utc(stamp) for stamp in stamps]
    return tuple(
        f"No polls from {local_stamp(utc_iso(a), tz)} to {local_stamp(utc_iso(b), tz)}: the job was not running;"
        " items first seen after it came back are listed in the week they were found."
        for a, b in zip(times, times[1:])
        if b - a > GAP
    )


def source_line(name: str, count: int, polls: Sequence[PollRecord], store: Store, end: datetime, tz: ZoneInfo) -> SourceLine:
    mine = [p for p in polls if p.source == name]
    failed = [p for p in mine if not p.ok]
    return SourceLine(
        name=escape(name),
        items=count,
        polls=len(mine),
        failed=len(failed),
        last_error=escape(shorten(failed[-1].error, 300)) if failed else None,
        last_error_at=local_stamp(failed[-1].at, tz) if failed else None,
        last_success=local_stamp(store.last_success_before(name, end), tz),
    )


# ---- rendering and writing ----

ENV = Environment(
    loader=PackageLoader("watcher", "templates"),
    autoescape=False,  # Markdown, not HTML: every outside text is escaped by `escape` before it gets here
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(view: DigestView) -> str:
    return ENV.get_template("digest.md.j2").render(view=view)


def render_week(store: Store, config: Config, week: str) -> str:
    return render(build_view(store, config, week))


def write_atomic(path: Path, content: str) -> None:
    """Write via a temporary file in the same folder and rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # A writer killed mid-write (SIGKILL) leaves its temporary file; we hold the writer lock, so
    # any other one is such a leftover.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def write_digest(store: Store, config: Config, week: str, *, now: datetime) -> DigestRecord:
    view = build_view(store, config, week)
    content = render(view)
    path = config.digests / f"{week}.md"
    try:
        write_atomic(path, content)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write the digest: {os_reason(exc)}") from None
    record = DigestRecord(
        week=week,
        path=path.name,
        written_at=utc_iso(now),
        items=view.total,
        sha256=hashlib.sha256(content.encode()).hexdigest(),
    )
    store.record_digest(record)
    write_index(store, config)
    return record


def write_index(store: Store, config: Config) -> Path:
    records = sorted(store.digests(), key=lambda r: r.week, reverse=True)
    content = ENV.get_template("index.md.j2").render(digests=records)
    path = config.digests / "index.md"
    try:
        write_atomic(path, content)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write the index: {os_reason(exc)}") from None
    return path
