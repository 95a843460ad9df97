"""What the pages over all weeks say of the site: its title (the first topic's description), the
other files it links (the feed, the board's page), and each week written, with its dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import Config
from ..store import OutputRecord
from ..weeks import Week

TITLE = "Literature watch"
FEED = "atom"  # the feed's name in feeds.yaml `outputs`


@dataclass(frozen=True, slots=True)
class Site:
    title: str  # the first topic's description; TITLE when no topic has one
    feed: bool  # an Atom feed (feed.xml) is written next to the pages
    board: bool  # the regulatory board has a page of its own


@dataclass(frozen=True, slots=True)
class WeekLine:
    """One week in the index: "2026-W49 · 30 Nov – 6 Dec 2026 · 4 new items · 1 source failing"."""

    week: str
    path: str
    dates: str
    items: int
    warnings: int


def site_of(config: Config) -> Site:
    title = next((t.description for t in config.topics if t.description), "") or TITLE
    return Site(title=title, feed=FEED in config.outputs, board=config.regulatory is not None)


def week_lines(records: Sequence[OutputRecord]) -> tuple[WeekLine, ...]:
    return tuple(WeekLine(r.week, r.path, dates(r.week), r.items, r.warnings) for r in records)


def dates(label: str) -> str:
    """"30 Nov – 6 Dec 2026"; "28 Dec 2026 – 3 Jan 2027" across a year's end."""
    try:
        week = Week.parse(label)
    except ValueError:  # a row of another making: no dates rather than a failed index
        return ""
    first, last = week.monday, week.sunday
    start = f"{first.day} {first:%b}" + (f" {first.year}" if first.year != last.year else "")
    return f"{start} – {last.day} {last:%b %Y}"
