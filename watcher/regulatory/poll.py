"""The poll's regulatory step, after the sources: for each watched product, fetch its whole FDA
record, store it as a snapshot, and store what changed since the previous snapshot as items of the
Regulatory section.

Changes are items, not notices: a notice is news about an item listed in an earlier digest, and a
product is no item. Each change has a stable id (`regulatory:<application>:<what>:<value>`) and is
stored through the normal save path, so it is new in exactly one week, however often it is seen
again. A change that is itself a record the openfda source lists too (a new submission, a label
version) is left to that listing when the store already holds it; when the board sees it first (the
openfda source failed that day), both records carry the same identifier (`fda:NDA211243:SUPPL-24`,
`spl:<set id>:<version>`), so the source's record, stored later, joins the same work (works.py):
listed once, never a notice.

The items are stored before the snapshot: a crash between the two re-finds the same changes on the
next poll, and their ids store nothing twice. A failed fetch saves nothing for that product (its
previous snapshot stands) and is recorded as a failed poll of `regulatory`, stamped when the step
began, so the board knows which products are stale: those whose latest snapshot is older than a
failed poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from ..errors import SourceError, WatcherError
from ..http import host_of
from ..model import Hit, Item, Match
from ..sources.base import SourceContext
from ..sources.openfda_json import LABELS
from ..store import PollRecord, Store
from ..weeks import utc_iso
from .changes import Change, changes
from .fetch import ProductFetcher
from .product import KIND, ProductSnapshot
from .settings import REGULATORY, Product

log = logging.getLogger(__name__)
WAIT_STEP, WAIT_STEPS = 0.05, 25


@dataclass(frozen=True, slots=True)
class StepResult:
    ok: bool
    fetched: int  # products whose record was fetched whole
    new: int  # changes stored as new items
    error: str | None = None


def poll_products(config: Config, store: Store, *, run_id: int, clock: Callable[[], datetime],
                  context: SourceContext) -> StepResult:
    settings = config.regulatory
    assert settings is not None
    source = next(s for s in config.sources if s.name == settings.source)
    host = host_of(source.url)
    started = after_last_snapshot(store, settings.products, clock, context.sleep)
    errors: dict[str, list[str]] = {}  # error → the products that met it: one outage reads once
    fetched = new = 0
    fetcher = ProductFetcher.build(source, context)
    try:
        for product in settings.products:
            try:
                snapshot = fetcher.fetch(product.application)
            except SourceError as exc:
                errors.setdefault(str(exc.at(host)), []).append(product.application)
                log.error("regulatory %s: fetch failed: %s", product.application, exc.at(host))
                if exc.url:  # the whole URL, for those who ask for it
                    log.debug("regulatory %s: the failed request: %s", product.application, exc.url)
                continue
            except WatcherError as exc:
                errors.setdefault(str(exc), []).append(product.application)
                continue
            except Exception as exc:  # a bug or an unforeseen shape must not stop the other products
                log.debug("regulatory %s: unexpected error", product.application, exc_info=True)
                errors.setdefault(f"internal error: {type(exc).__name__}: {exc}", []).append(product.application)
                continue
            new += save(store, product, snapshot, now=clock())
            fetched += 1
    finally:
        fetcher.close()
    error = "; ".join(f"{', '.join(products)}: {message}" for message, products in errors.items()) or None
    if error is None:
        store.save_batch(REGULATORY, [], now=clock(), final=True)  # the step's health: its last success
    store.record_poll(PollRecord(REGULATORY, started, error is None, fetched, new, new, error), run_id=run_id)
    return StepResult(error is None, fetched, new, error)


def after_last_snapshot(store: Store, products: Sequence[Product], clock: Callable[[], datetime],
                        sleep: Callable[[float], None]) -> str:
    """The step's stamp: a product whose snapshot is older than a failed poll is stale. The store's
    stamps are whole seconds, so a poll begun in the second of the previous one's last snapshot
    waits for the next second (at most about a second; never, polls being hours apart)."""
    stamps = [s.at for p in products if (s := store.latest_snapshot(KIND, p.application))]
    last = max(stamps, default="")
    for _ in range(WAIT_STEPS):
        if utc_iso(clock()) > last:
            break
        sleep(WAIT_STEP)
    return utc_iso(clock())


def save(store: Store, product: Product, snapshot: ProductSnapshot, *, now: datetime) -> int:
    """Store the changes since the previous snapshot as items, then the snapshot; the number of new items."""
    latest = store.latest_snapshot(KIND, product.application)
    previous = ProductSnapshot.from_json(latest.data) if latest else None
    found = changes(previous, snapshot)
    listed = store.matched_among([c.same_as for c in found if c.same_as])
    entries = [(item_for(product, snapshot, c), watched(product)) for c in found if c.same_as not in listed]
    saved = store.save_batch(REGULATORY, entries, now=now) if entries else None
    store.save_snapshot(KIND, product.application, snapshot.to_json(), now=now)
    for change in found:
        log.info("regulatory %s: %s", product.application, change.sentence)
    return saved.new if saved else 0


def item_for(product: Product, snapshot: ProductSnapshot, change: Change) -> Item:
    label = change.what in ("label", "boxed-warning")
    return Item(
        id=change.id(product.application),
        source=REGULATORY,
        url=change.url or snapshot.drugsfda_url,
        title=f"{product.name} ({product.application}): {change.sentence}",
        abstract=change.detail or None,
        date=change.date,
        journal=LABELS["drug/label" if label else "drug/drugsfda"],
        publication_types=(change.kind,),
        keywords=tuple(n for n in (snapshot.drug,) if n),
        section="regulatory",
        kind=change.kind,
        identifiers=(change.key,) if change.key else (),
        extra={"application_number": product.application, "change": change.what},
    )


def watched(product: Product) -> Match:
    """A change to a watched product is news whatever the topics say: feeds.yaml chose the product."""
    return Match(matched=True, topics=(REGULATORY,),
                 hits=(Hit("product", product.application, "regulatory.products", product.application),))
