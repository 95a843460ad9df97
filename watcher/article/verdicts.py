"""A verdict on each of the article's claims, from what the store holds. Pure: the claims, the
curated facts, the page as last seen, the evidence matched to each claim and the editors' records
in; one `Verdict` per claim out.

The rules, in order (the first that holds is the verdict):

1. **no longer on the page**: the page (or its local copy) is watched, a copy is stored, and its
   latest copy does not carry the claim's text (`removed` tells whether an earlier copy did).
2. **contradicted**: a curated fact names the claim under `contradicts`, and no editor has recorded
   the claim, as it is worded now, as resolved since (a later "reopened" undoes that).
3. **new evidence**: items bearing on the claim were listed since the baseline: the later of the
   page's last change (its latest stored copy) and the latest "resolved" record of the claim.
4. **unchanged**: nothing since.

Each verdict also carries the facts that support the claim, the evidence since the baseline grouped
by the strength of its kind (the digest's sections, strongest first) and, whatever the verdict,
the claim's relative wording ("last March", "recently", "new") with the day the page was first
seen, so that the date can be given.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..regulatory.settings import Fact
from ..sections import SECTIONS
from ..store import REOPENED, RESOLVED, ClaimResolution
from ..text import plain
from .claims import Claim, short_claim
from .page_text import comparable, contains, locate, sentence_around

CONTRADICTED, GONE, NEW_EVIDENCE, UNCHANGED = "contradicted", "gone", "new-evidence", "unchanged"
ORDER = (CONTRADICTED, GONE, NEW_EVIDENCE, UNCHANGED)  # how verdicts are listed: what needs a look first
WORDS = {CONTRADICTED: "contradicted", GONE: "no longer on the page", NEW_EVIDENCE: "new evidence", UNCHANGED: "unchanged"}
SECTION_TITLES = {s.key: s.title for s in SECTIONS}
STRENGTH = {s.key: i for i, s in enumerate(SECTIONS)}  # the digest's sections run strongest first
STRUCK = ("RETRACTED", "withdrawn")  # flags that make an item unfit to cite: struck through

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
SEASONS = "spring|summer|autumn|fall|winter"
# Words whose meaning moves with the day they are read.
RELATIVE = re.compile(
    rf"\b(?:(?:last|this|next|past) (?:{MONTHS}|{SEASONS}|week|month|year|decade)"
    r"|(?:a few|several|some|\d+|one|two|three) (?:days|weeks|months|years) ago"
    r"|recently|recent|newly|new|nowadays|now|currently|today|yesterday|upcoming|soon|latest|to date|so far)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PageState:
    """The page as the store holds it (digest/claims.py reads it)."""

    watched: bool  # article.url or article.file is set
    text: str = ""  # the latest copy's text; "" when none is stored
    first_seen: str | None = None  # local date of the first copy
    changed: str | None = None  # local date of the latest copy: the page's last change (or its first copy)
    changed_at: str | None = None  # UTC stamp of the latest copy
    earlier: tuple[str, ...] = ()  # the texts of the copies before the latest

    @property
    def fetched(self) -> bool:
        return bool(self.text)


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One work bearing on a claim, as its lead record says it."""

    id: str  # the lead record's id
    title: str
    url: str | None
    section: str  # a key of sections.SECTIONS: the kind of evidence
    listed_at: str  # UTC: when the work first matched (the week it was listed in)
    week: str  # "2026-W48"
    date: str | None = None
    tier: str = "core"
    flags: tuple[str, ...] = ()
    label: str | None = None  # the editors' latest label

    @property
    def struck(self) -> bool:
        return any(f in STRUCK for f in self.flags)


@dataclass(frozen=True, slots=True)
class EvidenceGroup:
    section: str
    title: str  # "Randomised controlled trials"
    items: tuple[EvidenceItem, ...]  # newest first


@dataclass(frozen=True, slots=True)
class FactCited:
    statement: str
    date: str
    source: str
    checked: dt.date | None

    @classmethod
    def of(cls, fact: Fact) -> FactCited:
        return cls(fact.statement, fact.date, fact.source, fact.checked)


@dataclass(frozen=True, slots=True)
class StaleWording:
    phrase: str  # as the claim writes it: "Last March"
    first_seen: str | None  # the local day the page was first seen; None: never fetched
    record_date: str | None  # the date of a fact that contradicts the claim, when one does


@dataclass(frozen=True, slots=True)
class Verdict:
    claim_id: str
    text: str  # the claim as feeds.yaml quotes it
    kind: str  # CONTRADICTED | GONE | NEW_EVIDENCE | UNCHANGED
    page_says: str | None  # the page's sentence holding the claim; None when the page is not read
    contradicting: tuple[FactCited, ...] = ()
    supporting: tuple[FactCited, ...] = ()
    evidence: tuple[EvidenceGroup, ...] = ()  # since the baseline, strongest kind first
    since: str | None = None  # the baseline as a local day; None: every item since the watch began
    since_what: str = ""  # "the page last changed" | "the page was first seen" | "an editor's record" | ""
    removed: bool = False  # GONE: an earlier copy carried the claim (else no copy ever did)
    stale: tuple[StaleWording, ...] = ()
    resolution: ClaimResolution | None = None  # the record that holds for this wording, if any

    @property
    def words(self) -> str:
        return WORDS[self.kind]

    @property
    def short(self) -> str:
        """The claim's name for people (its id is the anchor)."""
        return short_claim(self.text)

    @property
    def new(self) -> int:
        """Items since the baseline."""
        return sum(len(g.items) for g in self.evidence)

    @property
    def counts(self) -> tuple[tuple[str, int], ...]:
        """(kind of evidence, how many), strongest first: ("Randomised controlled trials", 2)."""
        return tuple((g.title, len(g.items)) for g in self.evidence)

    @property
    def strongest(self) -> EvidenceItem | None:
        return self.evidence[0].items[0] if self.evidence else None

    @property
    def resolved(self) -> bool:
        return self.resolution is not None and self.resolution.action == RESOLVED


def relative_wording(text: str) -> tuple[str, ...]:
    """The phrases of `text` whose meaning depends on the day it is read, as written, once each."""
    return tuple(dict.fromkeys(m.group(0) for m in RELATIVE.finditer(text)))


def holding_record(claim: Claim, records: Iterable[ClaimResolution]) -> ClaimResolution | None:
    """The latest record of the claim made for its present wording (a record of an earlier wording
    says nothing of this one)."""
    mine = [r for r in records if r.claim_id == claim.id and comparable(r.text) == comparable(claim.text)]
    return mine[-1] if mine else None


def grouped(items: Iterable[EvidenceItem]) -> tuple[EvidenceGroup, ...]:
    """Strongest kind first; in a kind, the latest listed first, then the newest publication."""
    by_section: dict[str, list[EvidenceItem]] = {}
    for item in items:
        by_section.setdefault(item.section, []).append(item)
    groups = []
    for section in sorted(by_section, key=lambda s: STRENGTH.get(s, len(STRENGTH))):
        ordered = sorted(by_section[section], key=lambda i: (i.listed_at, i.date or "", i.id), reverse=True)
        groups.append(EvidenceGroup(section, SECTION_TITLES.get(section, section), tuple(ordered)))
    return tuple(groups)


def verdict(claim: Claim, facts: Sequence[Fact], page: PageState, evidence: Iterable[EvidenceItem],
            records: Sequence[ClaimResolution], *, day: Callable[[str], str] | None = None) -> Verdict:
    """One claim's verdict. `day`: a UTC stamp as a local day, for the baseline (else its date part)."""
    quote = comparable(claim.text)
    span = locate(page.text, claim.text) if page.fetched else None
    page_says = plain(sentence_around(page.text, span)) if span else None  # the page is from the network
    contradicting = tuple(FactCited.of(f) for f in facts if claim.id in f.contradicts)
    supporting = tuple(FactCited.of(f) for f in facts if claim.id in f.supports)
    record = holding_record(claim, records)
    resolved_at = record.at if record and record.action == RESOLVED else None
    # The page's first copy is when the watch began reading it, not a change of it.
    page_since = "the page last changed" if page.earlier else "the page was first seen"
    baseline, since_what = max(((page.changed_at, page_since), (resolved_at, "an editor's record")),
                               key=lambda pair: pair[0] or "")
    if baseline is None:
        since_what = ""
    since = (day(baseline) if day else baseline[:10]) if baseline else None
    fresh = grouped(i for i in evidence if baseline is None or i.listed_at >= baseline)
    record_date = contradicting[0].date if contradicting else None
    stale = tuple(StaleWording(p, page.first_seen, record_date) for p in relative_wording(claim.text))
    found = Verdict(claim.id, claim.text, NEW_EVIDENCE if fresh else UNCHANGED, page_says, contradicting, supporting, fresh,
                    since, since_what, stale=stale, resolution=record)
    if page.watched and page.fetched and not contains(comparable(page.text), quote):
        return replace(found, kind=GONE, removed=any(contains(comparable(t), quote) for t in page.earlier))
    if contradicting and not (record and record.action == RESOLVED):
        return replace(found, kind=CONTRADICTED)
    return found


def verdicts(claims: Sequence[Claim], facts: Sequence[Fact], page: PageState,
             evidence: Mapping[str, Sequence[EvidenceItem]], records: Sequence[ClaimResolution], *,
             day: Callable[[str], str] | None = None) -> tuple[Verdict, ...]:
    """A verdict per claim, what needs a look first (contradicted, gone, new evidence, unchanged), in
    feeds.yaml's order within each."""
    found = [verdict(c, facts, page, evidence.get(c.id, ()), records, day=day) for c in claims]
    return tuple(sorted(found, key=lambda v: ORDER.index(v.kind)))


__all__ = ["CONTRADICTED", "GONE", "NEW_EVIDENCE", "REOPENED", "RESOLVED", "UNCHANGED", "EvidenceGroup", "EvidenceItem",
           "FactCited", "PageState", "StaleWording", "Verdict", "relative_wording", "verdict", "verdicts"]
