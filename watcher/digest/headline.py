"""The headline that opens every format of a week: what the week holds, in words. Pure: the
view's parts in, raw text out (each renderer escapes it, as the rest of the view).

It counts the new works by kind ("1 meta-analysis or systematic review, 2 randomised trials, 1
preprint"), names the regulatory changes, the corrections to listed papers and the claims of the
article that need a look, and whether anything could be fetched at all: a week in which every
source failed is said to be no quiet week, never shown as an empty one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..sections import SECTIONS
from .editors import Look

# (one, many) per section key, in the sections' order; a preprint is counted as one whatever its section.
NOUNS: dict[str, tuple[str, str]] = {
    "regulatory": ("regulatory item", "regulatory items"),
    "synthesis": ("meta-analysis or systematic review", "meta-analyses or systematic reviews"),
    "rct": ("randomised trial", "randomised trials"),
    "trial": ("other clinical trial", "other clinical trials"),
    "registry": ("trial registration", "trial registrations"),
    "observational": ("observational study", "observational studies"),
    "review": ("review", "reviews"),
    "case": ("case report", "case reports"),
    "other": ("other item", "other items"),
}
CHANGE = ("regulatory change", "regulatory changes")  # a change of a watched product (the board's)
PREPRINT = ("preprint", "preprints")


@dataclass(frozen=True, slots=True)
class Counted:
    """One work listed this week, as the headline counts it."""

    section: str  # its section's key
    preprint: bool = False
    change: bool = False  # a change of a watched product, from the regulatory board


@dataclass(frozen=True, slots=True)
class Headline:
    nothing_fetched: bool  # no source answered a single poll this week: not a quiet week
    polled: bool  # some poll was made this week (else: none ran at all)
    total: int  # new works listed this week, "Also matched" included
    kinds: tuple[str, ...]  # "1 meta-analysis or systematic review", "2 randomised trials"
    also: int  # of them, listed under "Also matched"
    regulatory: tuple[str, ...]  # "Brand: new supplement SUPPL-13 approved 2026-11-18 (Labeling)"
    corrections: tuple[str, ...]  # "RETRACTED: <title> (listed in 2026-W40)"
    claims: tuple[Look, ...]  # the article's claims that need a look (editors.needs_a_look)
    missing: str = ""  # the failures block's lead: "1 source failed this week; items from it may be missing"


def counted(n: int, noun: tuple[str, str]) -> str:
    return f"{n} {noun[0] if n == 1 else noun[1]}"


def kinds(works: Iterable[Counted]) -> tuple[str, ...]:
    """The works by kind, strongest evidence first, then the preprints."""
    changes = preprints = 0
    by_section: dict[str, int] = {}
    for work in works:
        if work.change:
            changes += 1
        elif work.preprint:
            preprints += 1
        else:
            by_section[work.section] = by_section.get(work.section, 0) + 1
    out = [counted(changes, CHANGE)] if changes else []
    for section in SECTIONS:
        if by_section.get(section.key):
            noun = NOUNS.get(section.key, (section.title.lower(), section.title.lower()))
            out.append(counted(by_section[section.key], noun))
    if preprints:
        out.append(counted(preprints, PREPRINT))
    return tuple(out)


def listing(parts: Iterable[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(parts)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def missing(failed: int, silent: int, notes: int) -> str:
    """The lead of the failures block: which kind of trouble, and that items may be missing."""
    sources = failed + silent
    if not sources:
        return "Items may be missing this week" if notes else ""
    what = "failed" if not silent else "were not polled" if not failed else "failed or were not polled"
    if sources == 1:
        what = {"were not polled": "was not polled", "failed or were not polled": "failed"}.get(what, what)
    them = "it" if sources == 1 else "them"
    return f"{sources} source{'' if sources == 1 else 's'} {what} this week; items from {them} may be missing"
