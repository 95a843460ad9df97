"""The article's claims as the store holds them at a moment: the page as last seen before it, every
work bearing on each claim listed before it, the editors' records, and so each claim's verdict
(article/verdicts.py). Shared by the editors' section of a week, the dossiers, the annotated article
and the workspace; a function of the store, the config and the moment (None: all of it).

A work bears on a claim when one of its matched records matches the claim's rules; it is shown by
its lead record (the one the digest lists), with the flags of all its records, those a notice
reported after it was listed included (a retraction found in Crossref's data, say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..article.claims import ARTICLE, ArticleSettings, matching
from ..article.verdicts import STRUCK, EvidenceItem, PageState, Verdict, verdicts
from ..decide import CARRIED_IN
from ..model import CORE, Item
from ..regulatory.settings import Fact
from ..sections import flags_of, section_of
from ..store import ClaimResolution, Snapshot, Store, StoredItem
from ..text import http_link, plain, shorten
from ..weeks import Week, parse_utc
from ..works import Works

TITLE_CHARS = 300
LATEST = "\uffff"  # a cutoff after every stored stamp


@dataclass(frozen=True, slots=True)
class ClaimWork:
    """A work bearing on a claim: its evidence line, the notice of a flag that strikes it, and its
    records (lead first) for a citation."""

    evidence: EvidenceItem
    notice: str | None  # the page of the retraction (or withdrawal) notice, for a struck work
    records: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class ClaimsState:
    page: PageState
    works: dict[str, tuple[ClaimWork, ...]]  # claim id → every work bearing on it, all tiers
    verdicts: tuple[Verdict, ...]  # what needs a look first
    records: tuple[ClaimResolution, ...]  # the editors' records, oldest first

    def verdict(self, claim_id: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.claim_id == claim_id), None)


def local_day(stamp: str, tz: ZoneInfo) -> str:
    return f"{parse_utc(stamp).astimezone(tz):%Y-%m-%d}"


def page_state(store: Store, article: ArticleSettings, end: datetime | None, tz: ZoneInfo) -> PageState:
    if not article.page_key:
        return PageState(watched=False)
    copies = store.snapshots(ARTICLE, article.page_key, before=end)
    if not copies:
        return PageState(watched=True)
    latest = copies[-1]
    return PageState(watched=True, text=snapshot_text(latest), first_seen=local_day(copies[0].at, tz),
                     changed=local_day(latest.at, tz), changed_at=latest.at, earlier=tuple(snapshot_text(c) for c in copies[:-1]))


def snapshot_text(snapshot: Snapshot) -> str:
    data = snapshot.data if isinstance(snapshot.data, dict) else {}
    return str(data.get("text") or "")


def notice_of(records: Sequence[StoredItem], flag: str, links: dict[tuple[str, str], str]) -> str | None:
    for stored in records:
        found = links.get((stored.item.id, flag))
        if found:
            return http_link(found)
        kind = CARRIED_IN.get(flag)
        carried = [r.url for r in stored.item.related if r.kind == kind and r.url]
        if carried:
            return http_link(carried[-1])
    return None


class ClaimIndex:
    """Which claims each record bears on, matched once per record however many moments are asked
    about: a publish builds one for every week it writes and the feed's weeks, over one unchanging
    store (the writer lock is held)."""

    def __init__(self, article: ArticleSettings) -> None:
        self.article = article
        self.seen: dict[str, tuple[str, ...]] = {}

    def bears(self, stored: StoredItem) -> tuple[str, ...]:
        found = self.seen.get(stored.item.id)
        if found is None:
            found = self.seen[stored.item.id] = tuple(m.claim.id for m in matching(stored.item, self.article.claims))
        return found


def claim_works(store: Store, article: ArticleSettings, works: Works, *, end: datetime | None, tz: ZoneInfo,
                bears: Callable[[StoredItem], Iterable[str]] | None = None) -> dict[str, tuple[ClaimWork, ...]]:
    """Claim id → the works bearing on it, listed before `end`, in no particular order. `bears`: the
    ids of the claims a record matches, when the caller keeps them already (the workspace does: matching
    every record again is most of the time this takes); by default, matched here."""
    if bears is None:
        bears = lambda stored: (m.claim.id for m in matching(stored.item, article.claims))  # noqa: E731
    by_work: dict[str, list[StoredItem]] = {}
    for stored in store.matched_before(end):
        by_work.setdefault(works.of(stored).id, []).append(stored)
    labels = {s.label.item_id: s.label.label for s in store.labels()}
    history = store.flag_history(before=end)
    links = store.flag_links(before=end)
    found: dict[str, list[ClaimWork]] = {c.id: [] for c in article.claims}
    for matched in by_work.values():
        work = works.of(matched[0])
        lead_record = work.lead(LATEST)
        order = {r.id: i for i, r in enumerate(work.records)}
        records = sorted(matched, key=lambda s: (s.item.id != (lead_record.id if lead_record else ""), order.get(s.item.id, 0)))
        claim_ids = {claim_id for s in records for claim_id in bears(s)}
        if not claim_ids:
            continue
        lead = records[0]
        flags = tuple(dict.fromkeys(f for s in records for f in [*flags_of(s.item), *history.get(s.item.id, {})]))
        struck = next((f for f in flags if f in STRUCK), None)
        first = work.first_matched or lead.first_matched or ""
        evidence = EvidenceItem(
            id=lead.item.id,
            title=shorten(lead.item.title, TITLE_CHARS) or "(untitled)",
            url=http_link(lead.item.url),
            section=section_of(lead.item),
            listed_at=first,
            week=Week.containing(parse_utc(first), tz).label,
            date=plain(lead.item.date) or None,
            tier=lead.match.tier or CORE,
            flags=flags,
            label=next((labels[s.item.id] for s in records if s.item.id in labels), None),
        )
        entry = ClaimWork(evidence, notice_of(records, struck, links) if struck else None, tuple(s.item for s in records))
        for claim in article.claims:
            if claim.id in claim_ids:
                found[claim.id].append(entry)
    return {k: tuple(v) for k, v in found.items()}


def claims_state(store: Store, article: ArticleSettings, facts: Sequence[Fact], works: Works, *, end: datetime | None,
                 tz: ZoneInfo, index: ClaimIndex | None = None) -> ClaimsState:
    """The claims as of `end` (None: everything stored). The verdicts weigh the core tier only: an
    item whose subject is something else is listed in the dossier, not counted as news. `index`:
    the records' claims matched already, when the caller asks about many moments."""
    bearing = claim_works(store, article, works, end=end, tz=tz, bears=index.bears if index else None)
    return judge_claims(store, article, facts, bearing, end=end, tz=tz)


def judge_claims(store: Store, article: ArticleSettings, facts: Sequence[Fact], bearing: dict[str, tuple[ClaimWork, ...]], *,
                 end: datetime | None, tz: ZoneInfo) -> ClaimsState:
    """The claims as of `end`, given the works bearing on each (`claim_works`): the page and the
    editors' records are read here, so a caller that keeps `bearing` (it changes only when items do)
    still sees a new copy of the page or a new record at once."""
    page = page_state(store, article, end, tz)
    records = tuple(store.claim_resolutions(before=end))
    core = {claim_id: [w.evidence for w in found if w.evidence.tier == CORE] for claim_id, found in bearing.items()}
    judged = verdicts(article.claims, facts, page, core, records, day=lambda stamp: local_day(stamp, tz))
    return ClaimsState(page, bearing, judged, records)
