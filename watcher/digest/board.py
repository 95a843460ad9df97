"""The regulatory board, from the store alone: per watched product, the latest snapshot fetched
before the week's end ("as of" its time; stale since the first failed fetch after it), then the
curated facts of feeds.yaml. A week shows what changed that week and one standing line per
product; the whole board is a page of its own (`board_page`), as of the latest snapshot. Raw text,
as the rest of the view: each renderer escapes it. No clock is read: the same store and week give
the same board."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..regulatory.product import KIND, ProductSnapshot, Submission
from ..regulatory.settings import RECHECK_DAYS, REGULATORY, Fact, Product, RegulatorySettings
from ..store import Store, StoredItem
from ..text import plain, shorten
from ..weeks import local_stamp, parse_utc

ERROR_CHARS = 300
STATUS_NAMES = {"AP": "approved", "TA": "tentatively approved"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)  # the whole board's end: every snapshot stored


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str  # a checked http(s) URL


@dataclass(frozen=True, slots=True)
class BoardLine:
    label: str  # "Original approval"
    text: str
    link: Link | None = None


@dataclass(frozen=True, slots=True)
class BoardChange:
    """A change of a product seen this week (a Regulatory item of the week): "new supplement SUPPL-13 approved …"."""

    text: str
    link: Link | None


@dataclass(frozen=True, slots=True)
class ProductBlock:
    name: str  # as feeds.yaml names it
    application: str
    as_of: str | None  # local time of the snapshot shown; None: never fetched before the week's end
    stale_since: str | None  # local time of the first failed fetch after it; None: not stale
    last_error: str | None  # of the latest failed fetch, when stale
    lines: tuple[BoardLine, ...]
    links: tuple[Link, ...]
    standing: str = ""  # one line: "approved 2019-03-05; label version 11 of 2025-01-21; boxed warning; REMS"
    changes: tuple[BoardChange, ...] = ()  # seen this week

    @property
    def short(self) -> str:
        """The name before any parenthesis: "Brand" of "Brand (generic name) nasal spray"."""
        return self.name.split(" (", 1)[0].strip() or self.name


@dataclass(frozen=True, slots=True)
class FactLine:
    statement: str
    date: str  # YYYY-MM-DD or YYYY-MM
    source: str | None  # http(s)
    checked: str | None  # YYYY-MM-DD; None: no person has read the source yet
    recheck: bool  # checked more than RECHECK_DAYS before the week's end


@dataclass(frozen=True, slots=True)
class BoardView:
    products: tuple[ProductBlock, ...]
    facts: tuple[FactLine, ...]

    @property
    def as_of(self) -> str | None:
        """The latest snapshot's time: what a reader takes the board to be as of."""
        return max((p.as_of for p in self.products if p.as_of), default=None)

    @property
    def changes(self) -> tuple[str, ...]:
        """This week's changes, each as a line naming its product: "Brand: new supplement …"."""
        return tuple(f"{p.short}: {c.text}" for p in self.products for c in p.changes)

    @property
    def unchecked(self) -> int:
        """Curated facts no person has read against their source, or due for a re-check."""
        return sum(1 for f in self.facts if f.checked is None or f.recheck)


def build_board(store: Store, settings: RegulatorySettings, *, end: datetime, last_day: date, tz: ZoneInfo,
                week_items: Sequence[StoredItem] = ()) -> BoardView:
    """`week_items`: the week's matched items; the changes of each product among them are its changes this week."""
    return BoardView(
        products=tuple(product_block(store, p, end=end, tz=tz, week_items=week_items) for p in settings.products),
        facts=tuple(fact_line(f, last_day) for f in settings.facts),
    )


def board_page(store: Store, settings: RegulatorySettings, *, tz: ZoneInfo) -> BoardView:
    """The whole board as of the latest snapshots; facts judged as of the latest poll's day."""
    latest = store.last_poll_at()
    last_day = parse_utc(latest).astimezone(tz).date() if latest else EPOCH.date()
    return build_board(store, settings, end=FOREVER, last_day=last_day, tz=tz)


def product_block(store: Store, product: Product, *, end: datetime, tz: ZoneInfo,
                  week_items: Sequence[StoredItem] = ()) -> ProductBlock:
    latest = store.latest_snapshot(KIND, product.application, before=end)
    since = parse_utc(latest.at) if latest else EPOCH
    # A failed poll stamped after the snapshot is a fetch of this product that did not succeed.
    failed = [p for p in store.polls_between(since, end) if p.source == REGULATORY and not p.ok and (latest is None or p.at > latest.at)]
    snapshot = ProductSnapshot.from_json(latest.data) if latest else None
    return ProductBlock(
        name=product.name,
        application=product.application,
        as_of=local_stamp(latest.at, tz) if latest else None,
        stale_since=local_stamp(failed[0].at, tz) if failed else None,
        last_error=shorten(failed[-1].error, ERROR_CHARS) if failed else None,
        lines=lines_of(snapshot) if snapshot else (),
        links=links_of(snapshot) if snapshot else (),
        standing=standing(snapshot) if snapshot else "not fetched yet",
        changes=tuple(change_of(product, s) for s in week_items
                      if s.item.source == REGULATORY and s.item.extra.get("application_number") == product.application),
    )


def change_of(product: Product, stored: StoredItem) -> BoardChange:
    """The change a Regulatory item of the board states, without the product's name its title starts with."""
    title = plain(stored.item.title)
    prefix = f"{product.name} ({product.application}): "
    return BoardChange(shorten(title.removeprefix(prefix), ERROR_CHARS), http_link("source", stored.item.url))


def standing(s: ProductSnapshot) -> str:
    """What stays true from week to week, on one line."""
    parts = []
    if not s.found:
        parts.append(f"no Drugs@FDA record of {s.application}")
    else:
        original = s.original
        if original is None:
            parts.append("no original application in the record")
        else:
            status = STATUS_NAMES.get(original.status, "status " + (original.status or "not given"))
            parts.append(f"{status} {original.date}" if original.date else status)
    label = s.label
    if label is None:
        parts.append("no label in openFDA")
    else:
        text = f"label version {label.version or '?'}"
        parts.append(text + (f" of {label.effective}" if label.effective else ""))
        if label.boxed_warning:
            parts.append("boxed warning")
    if (label is not None and label.rems) or s.rems_submissions:
        parts.append("REMS")
    return "; ".join(parts)


def lines_of(s: ProductSnapshot) -> tuple[BoardLine, ...]:
    out: list[BoardLine] = []
    if not s.found:
        out.append(BoardLine("Drugs@FDA", f"openFDA has no Drugs@FDA record of {s.application} (404 NOT_FOUND):"
                                          " check the application number in feeds.yaml"))
    else:
        if s.drug or s.sponsor:
            out.append(BoardLine("Product", " · ".join(x for x in (s.drug, s.sponsor) if x)))
        original = s.original
        out.append(BoardLine("Original approval", described(original) if original else "no original application in the record",
                             document(original)))
        for supplement in s.efficacy_supplements:
            out.append(BoardLine("Efficacy supplement", described(supplement), document(supplement)))
        if not s.efficacy_supplements:
            out.append(BoardLine("Efficacy supplements", "none approved in the record"))
        labeling = s.latest_labeling
        out.append(BoardLine("Latest labeling supplement", described(labeling) if labeling else "none in the record",
                             document(labeling)))
    label = s.label
    if label is None:
        out.append(BoardLine("Current label", f"openFDA has no label naming {s.application}"))
    else:
        text = f"version {label.version or '?'}, effective {label.effective or 'date not given'}"
        text += f" ({label.manufacturer})" if label.manufacturer else ""
        if s.labels > 1:
            text += f"; the holder's latest of {s.labels} labels naming {s.application}"
        out.append(BoardLine("Current label", text, http_link("DailyMed", label.url)))
        out.append(BoardLine("Boxed warning", f"yes: “{shorten(label.boxed_warning, 200)}”" if label.boxed_warning else "none"))
        if label.indications:
            out.append(BoardLine("Indications", shorten(label.indications, 300)))
    if s.found or label is not None:
        where = [f"the label ({label.rems})"] if label is not None and label.rems else []
        where += [f"Drugs@FDA {x.key} ({x.class_name or x.class_code or 'documents'})" for x in s.rems_submissions[-3:]]
        out.append(BoardLine("REMS", "named in " + "; ".join(where) if where else "not named in the label or the submissions"))
    if s.found:
        statuses: dict[str, list[str]] = {}
        for p in s.products:
            statuses.setdefault(p.status or "not given", []).append(p.described)
        out.append(BoardLine("Marketing status", "; ".join(f"{k}: {', '.join(v)}" for k, v in statuses.items()) or "no products listed"))
    return tuple(out)


def described(s: Submission) -> str:
    """"SUPPL-12, approved 2026-11-10 (Efficacy)"."""
    text = f"{s.key}, {STATUS_NAMES.get(s.status, 'status ' + (s.status or 'not given'))}"
    text += f" {s.date}" if s.date else ""
    return text + (f" ({s.class_name or s.class_code})" if s.class_name or s.class_code else "")


def document(s: Submission | None) -> Link | None:
    """The submission's letter (or label) on fda.gov, when Drugs@FDA lists one."""
    if s is None:
        return None
    doc = next((d for t in ("Letter", "Label") for d in s.documents if d.type == t), None)
    return http_link(doc.type.lower(), doc.url) if doc else None


def links_of(s: ProductSnapshot) -> tuple[Link, ...]:
    found = [http_link("Drugs@FDA", s.drugsfda_url), http_link("DailyMed", s.label.url) if s.label else None]
    return tuple(link for link in found if link)


def fact_line(fact: Fact, last_day: date) -> FactLine:
    link = http_link("source", fact.source)
    checked = fact.checked
    return FactLine(statement=fact.statement, date=fact.date, source=link.url if link else None,
                    checked=checked.isoformat() if checked else None,
                    recheck=checked is not None and checked < last_day - timedelta(days=RECHECK_DAYS))


def http_link(text: str, value: str | None) -> Link | None:
    url = plain(value)
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    return Link(text, url) if ok else None
