"""Write a week's outputs: one view, rendered by each configured format, each file written
atomically and recorded in the store by (week, format); then the files over all weeks: each
format's index, the regulatory board's page (rewritten only when a poll changed it), and the Atom
feed over the latest weeks."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import Config
from ..errors import OutputError, os_reason
from ..store import OutputRecord, Store
from ..weeks import Week, utc_iso
from ..works import Works, works_of
from . import atom, html, markdown
from .board import BoardView, board_page
from .claims import ClaimIndex
from .dossier import build_annotated, build_dossiers, state_of
from .missing import missing_weeks
from .site import FEED, Site, site_of
from .view import DigestView, build_view

log = logging.getLogger(__name__)
PRIMARY = "markdown"  # the committed record; its rows say which weeks are written
# The process's umask, read once at import (reading it means setting it, which is not thread-safe):
# files are written as any other program would write them, 0644 for the usual 022, so that a web
# server running as another user can serve them. mkstemp alone would leave them 0600.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


@dataclass(frozen=True, slots=True)
class Format:
    """A format with a file per week: how a week and the index of all weeks are rendered, and named."""

    name: str  # as feeds.yaml `outputs` says it
    suffix: str  # of each week's file: "2026-W48.md"
    index: str  # the index file's name
    render_week: Callable[[DigestView], str]
    render_index: Callable[[Sequence[OutputRecord], Site], str]
    render_board: Callable[[BoardView], str]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("markdown", ".md", "index.md", markdown.render_week, markdown.render_index, markdown.render_board),
        Format("html", ".html", "index.html", html.render_week, html.render_index, html.render_board),
    )
}
BOARD = "board"  # the board's page: board.md, board.html


def weekly(config: Config) -> tuple[str, ...]:
    return tuple(name for name in config.outputs if name in FORMATS)


def render(store: Store, config: Config, week: Week, fmt: str = PRIMARY) -> str:
    """A week's output in one format, as text, without writing anything."""
    return FORMATS[fmt].render_week(build_view(store, config, week))


def render_board(store: Store, config: Config, fmt: str = PRIMARY) -> str:
    """The regulatory board's page in one format, as text, without writing anything."""
    assert config.regulatory is not None
    return FORMATS[fmt].render_board(board_page(store, config.regulatory, tz=config.timezone))


def publish_week(
    store: Store, config: Config, week: Week, *, now: datetime, formats: Sequence[str] | None = None
) -> list[OutputRecord]:
    """Render and write `week` in each of `formats` (default: every configured one), then the
    indexes and the feed."""
    reading = read(store, config)  # the view's and the feed's
    records = write_week(store, config, week, reading, now=now, formats=formats or weekly(config))
    write_site(store, config, reading)
    return records


def write_week(store: Store, config: Config, week: Week, reading: Reading, *, now: datetime,
               formats: Sequence[str]) -> list[OutputRecord]:
    """One week's files, each recorded; the files over all weeks are `write_site`'s."""
    view = build_view(store, config, week, reading.works, reading.claims)
    records = []
    for name in formats:
        fmt = FORMATS[name]
        content = fmt.render_week(view)
        path = config.digests / f"{week}{fmt.suffix}"
        write_atomic(path, content, what="digest")
        record = OutputRecord(
            week=week.label,
            format=name,
            path=path.name,
            written_at=utc_iso(now),
            items=view.total,
            sha256=hashlib.sha256(content.encode()).hexdigest(),
            warnings=len(view.failing) + len(view.silent),
        )
        store.record_output(record)
        records.append(record)
    return records


def write_site(store: Store, config: Config, reading: Reading) -> None:
    """The files over all weeks: each format's index, the board's page, the feed, and the article's
    dossiers."""
    site = site_of(config)
    for name in weekly(config):
        write_index(store, config, FORMATS[name], site)
    if config.regulatory:
        write_board(store, config)
    if FEED in config.outputs:
        write_feed(store, config, reading)
    if config.article is not None:
        write_claims(store, config, reading)


CLAIMS = "claims"  # the dossiers' folder in the digests folder
ARTICLE_PAGE = "article.html"


def write_claims(store: Store, config: Config, reading: Reading) -> list[Path]:
    """Each claim's dossier (claims/<id>.md, and .html with the HTML output) and the annotated
    article (article.html, with the HTML output), as of everything stored; a dossier of a claim no
    longer in feeds.yaml is removed."""
    works = reading.works
    state = state_of(store, config, works, index=reading.claims)
    folder = config.digests / CLAIMS
    written = []
    suffixes = [(".md", markdown.render_dossier)] + ([(".html", html.render_dossier)] if "html" in config.outputs else [])
    for dossier in build_dossiers(store, config, works, state=state):
        for suffix, render_one in suffixes:
            path = folder / f"{dossier.claim_id}{suffix}"
            write_atomic(path, render_one(dossier), what="dossier")
            written.append(path)
    for old in folder.glob("*"):
        if old.suffix in (".md", ".html") and old not in written:
            old.unlink(missing_ok=True)
    if "html" in config.outputs:
        path = config.digests / ARTICLE_PAGE
        write_atomic(path, html.render_article(build_annotated(store, config, works, state=state)), what="annotated article")
        written.append(path)
    return written


@dataclass(frozen=True, slots=True)
class Reading:
    """What one publish reads of the store once for every page it writes: the works, and which claims
    each record bears on (the same store throughout: the writer lock is held)."""

    works: Works
    claims: ClaimIndex | None


def read(store: Store, config: Config) -> Reading:
    return Reading(grouped(store, config), ClaimIndex(config.article) if config.article else None)


def grouped(store: Store, config: Config) -> Works:
    return works_of(store, separate=config.separate, sources=[s.name for s in config.sources])


def publish_due(store: Store, config: Config, *, now: datetime, should_stop: Callable[[], bool] | None = None) -> list[OutputRecord]:
    """Every missing weekly output (after downtime, or for a format newly configured), then the
    current week's in every format."""
    formats = weekly(config)
    due = {**missing_weeks(store, config, now, formats), Week.containing(now, config.timezone): formats}
    reading = read(store, config)  # once for every week: nothing here changes the items
    written: list[OutputRecord] = []
    for week, missing in due.items():
        if should_stop is not None and should_stop():
            log.info("digests: stop requested; the rest at the next catch-up")
            break
        records = write_week(store, config, week, reading, now=now, formats=missing)
        log.info("digest %s: written (%s), %d item(s)", week, ", ".join(missing), records[0].items)
        written.extend(records)
    # The indexes and the feed once, after the weeks: a catch-up of many weeks renders them once.
    write_site(store, config, reading)
    return written


def write_index(store: Store, config: Config, fmt: Format, site: Site | None = None) -> Path:
    records = sorted(store.outputs(fmt.name), key=lambda r: r.week, reverse=True)
    path = config.digests / fmt.index
    write_atomic(path, fmt.render_index(records, site or site_of(config)), what="index")
    return path


def write_board(store: Store, config: Config) -> list[Path]:
    """The whole regulatory board, a page in each weekly format, as of the latest snapshots:
    written when a poll changed it (or the file is missing), else left as it is."""
    paths = []
    for name in weekly(config):
        path = config.digests / f"{BOARD}{FORMATS[name].suffix}"
        write_changed(path, render_board(store, config, name), what="board")
        paths.append(path)
    return paths


def write_feed(store: Store, config: Config, reading: Reading | None = None) -> Path:
    """The Atom feed from the store: the same store gives the same bytes."""
    path = config.digests / atom.FILE
    if reading is None:  # read once for every week the feed carries
        reading = read(store, config)
    content = atom.render_feed(
        store.outputs(PRIMARY),
        lambda label: build_view(store, config, Week.parse(label), reading.works, reading.claims),
        site_url=config.site_url,
        namespace=",".join(t.name for t in config.topics),
        page_suffix=FORMATS["html"].suffix if "html" in config.outputs else FORMATS[PRIMARY].suffix,
        title=site_of(config).title,
    )
    write_atomic(path, content, what="feed")
    return path


def write_changed(path: Path, content: str, *, what: str = "file") -> bool:
    """`write_atomic`, unless the file holds `content` already (its time stays that of its last
    change, for a static host's caches); True when written."""
    try:
        if path.read_text(encoding="utf-8") == content:
            return False
    except (OSError, UnicodeDecodeError):
        pass  # missing or unreadable: written anew
    write_atomic(path, content, what=what)
    return True


def write_atomic(path: Path, content: str, *, what: str = "file") -> None:
    """Write via a temporary file in the same folder and rename: readers see old or new, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, FILE_MODE)
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
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the {what}: {os_reason(exc)}") from None
