""""For the editors": a verdict on every claim of the article (contradicted, no longer on the page,
new evidence since the page last changed, unchanged; digest/claims.py), then the claims with this
week's items that bear on them, and what the watched page says now. Part of the DigestView, raw
text like the rest of it.

A function of the store, the week and the config: claims are matched here, from the stored items
and feeds.yaml's rules (an edited claim takes effect in the next digest), and located on the
latest copy of the page fetched before the week ended.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..article.claims import ARTICLE, ArticleSettings, Claim, matching, short_claim
from ..article.page_text import comparable, contains
from ..article.verdicts import CONTRADICTED, GONE, Verdict
from ..config import Config
from ..sections import SECTIONS, section_of
from ..store import Snapshot, Store, StoredItem
from ..text import http_link, plain, shorten
from ..weeks import local_stamp, parse_utc
from ..works import Works
from .claims import ClaimIndex, claims_state

TITLE_CHARS = 300
SECTION_TITLES = {s.key: s.title for s in SECTIONS}


@dataclass(frozen=True, slots=True)
class ClaimItem:
    """One of this week's items bearing on a claim."""

    id: str
    title: str
    url: str | None  # an http(s) link the source gave, or None
    evidence: str  # the kind of evidence: the digest section the item is listed in
    date: str | None
    terms: tuple[str, ...]  # the claim terms that matched, as feeds.yaml writes them


@dataclass(frozen=True, slots=True)
class ClaimView:
    id: str
    text: str
    items: tuple[ClaimItem, ...]

    @property
    def short(self) -> str:
        return short_claim(self.text)


@dataclass(frozen=True, slots=True)
class ClaimName:
    """A claim as the digest names it: by a short form of its sentence; the id is its anchor."""

    id: str
    short: str


@dataclass(frozen=True, slots=True)
class MissingClaim:
    """A claim whose text the page does not carry."""

    id: str
    text: str
    removed: bool  # True: an earlier copy of the page said it; False: no copy ever did

    @property
    def short(self) -> str:
        return short_claim(self.text)


@dataclass(frozen=True, slots=True)
class PageView:
    url: str | None  # the watched page's http(s) link; None for a local copy
    fetched: bool  # a copy of the page is stored (else nothing below is known)
    first_fetched: str | None  # local date of the first copy
    changed: str | None  # local date of the latest change; None while it is unchanged since the first copy
    checked: str | None  # the last successful fetch, local time
    missing: tuple[MissingClaim, ...]


@dataclass(frozen=True, slots=True)
class EditorsView:
    claims: tuple[ClaimView, ...]  # the claims with at least one item this week, in feeds.yaml order
    quiet: tuple[str, ...]  # ids of the claims with nothing new this week (from sources that answered; no verdict needing a look)
    page: PageView | None  # None: the page is not watched (no article.url or article.file)
    verdicts: tuple[Verdict, ...] = ()  # one per claim, what needs a look first (article/verdicts.py)
    file: str | None = None  # the local copy read instead of a page (article.file)
    quiet_claims: tuple[ClaimName, ...] = ()  # the `quiet` claims, named
    unsearched: tuple[ClaimName, ...] = ()  # claims whose every source failed all week: nothing was looked for

    @property
    def look(self) -> tuple[Look, ...]:
        return needs_a_look(self)


@dataclass(frozen=True, slots=True)
class Look:
    """A claim of the article that needs an editor's look, and why, in words."""

    id: str
    short: str
    why: str  # "contradicted by the record (2019-03-05)", "the page no longer says this"


def needs_a_look(editors: EditorsView) -> tuple[Look, ...]:
    """The claims the week's headline names for the editors: the contradicted ones first, then those
    the page no longer carries (or never did). Pure; the headline shows whatever this returns, in
    this order."""
    looks = []
    for v in editors.verdicts:
        if v.kind == CONTRADICTED:
            dates = "; ".join(dict.fromkeys(f.date for f in v.contradicting))
            looks.append(Look(v.claim_id, v.short, f"contradicted by the record{f' ({dates})' if dates else ''}"))
    looks += [Look(v.claim_id, v.short, "the page no longer says this" if v.removed else "the page never said this")
              for v in editors.verdicts if v.kind == GONE]
    return tuple(looks)


def searched(claim: Claim, sources: Collection[str], failed: Collection[str]) -> bool:
    """Evidence for the claim was looked for this week: not every source its items come from
    failed every poll of the week."""
    mine = claim.rules.sources if claim.rules.sources is not None else sources
    return not mine or not all(name in failed for name in mine)


def build_editors(store: Store, config: Config, items: Sequence[StoredItem], end: datetime, tz: ZoneInfo,
                  works: Works, *, sources: Collection[str] = (), failed: Collection[str] = (),
                  index: ClaimIndex | None = None) -> EditorsView:
    """`items` are the week's new items in the order the digest lists them; `sources` the names of
    every source items come from, `failed` those whose every poll of the week failed. A claim whose
    sources all failed is not "quiet": nothing was looked for."""
    article = config.article
    assert article is not None
    found: dict[str, list[ClaimItem]] = {c.id: [] for c in article.claims}
    for stored in items:
        for match in matching(stored.item, article.claims):
            found[match.claim.id].append(claim_item(stored, match.terms))
    facts = config.regulatory.facts if config.regulatory else ()
    judged = claims_state(store, article, facts, works, end=end, tz=tz, index=index).verdicts
    flagged = {v.claim_id for v in judged if v.kind in (CONTRADICTED, GONE)}
    quiet: list[Claim] = []
    blind: list[Claim] = []  # nothing was looked for: their sources all failed
    for claim in article.claims:
        if not found[claim.id] and claim.id not in flagged:
            (quiet if searched(claim, sources, failed) else blind).append(claim)
    return EditorsView(
        claims=tuple(ClaimView(c.id, c.text, tuple(found[c.id])) for c in article.claims if found[c.id]),
        quiet=tuple(c.id for c in quiet),
        page=page_view(store, article, end, tz) if article.page_key else None,
        verdicts=judged,
        file=str(article.file) if article.file and not article.url else None,
        quiet_claims=tuple(ClaimName(c.id, short_claim(c.text)) for c in quiet),
        unsearched=tuple(ClaimName(c.id, short_claim(c.text)) for c in blind),
    )


def claim_item(stored: StoredItem, terms: tuple[str, ...]) -> ClaimItem:
    item = stored.item
    return ClaimItem(
        id=item.id,
        title=shorten(item.title, TITLE_CHARS) or "(untitled)",
        url=http_link(item.url),
        evidence=SECTION_TITLES[section_of(item)],
        date=plain(item.date) or None,
        terms=tuple(plain(t) for t in terms),
    )


def page_view(store: Store, article: ArticleSettings, end: datetime, tz: ZoneInfo) -> PageView:
    assert article.page_key is not None
    copies = store.snapshots(ARTICLE, article.page_key, before=end)
    checked = local_stamp(store.last_success_before(ARTICLE, end), tz)
    if not copies:
        return PageView(http_link(article.url), False, None, None, checked, ())
    latest, earlier = page_words(copies[-1]), [page_words(s) for s in copies[:-1]]
    missing = []
    for claim in article.claims:
        quote = comparable(claim.text)
        if not contains(latest, quote):
            missing.append(MissingClaim(claim.id, claim.text, any(contains(words, quote) for words in earlier)))
    return PageView(
        url=http_link(article.url),
        fetched=True,
        first_fetched=local_day(copies[0].at, tz),
        changed=local_day(copies[-1].at, tz) if len(copies) > 1 else None,
        checked=checked,
        missing=tuple(missing),
    )


def page_words(snapshot: Snapshot) -> str:
    data = snapshot.data if isinstance(snapshot.data, dict) else {}
    return comparable(str(data.get("text") or ""))


def local_day(stamp: str, tz: ZoneInfo) -> str:
    return f"{parse_utc(stamp).astimezone(tz):%Y-%m-%d}"
