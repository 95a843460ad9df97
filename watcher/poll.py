"""For each source: fetch → filter → store, one transaction per batch."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .article.claims import ARTICLE
from .article.page import watch_file, watch_page
from .config import Config
from .corrections.check import check_corrections
from .corrections.settings import CROSSREF
from .errors import SourceError, StoreError, WatcherError
from .http import UnreachableHosts, host_of
from .model import Item, SourceConfig
from .regulatory.poll import poll_products
from .regulatory.settings import REGULATORY
from .relevance.match import match
from .sources.base import Source, SourceContext
from .sources.registry import SOURCE_TYPES
from .store import PollRecord, Store, store_failure
from .weeks import utc_iso, utc_now

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
StopCheck = Callable[[], bool]


class Interrupted(Exception):
    """A stop was requested between two batches; caught in `poll_source`, never escapes `poll`."""


def stoppable(sleep: Callable[[float], None], should_stop: StopCheck, step: float = 0.25) -> Callable[[float], None]:
    """A retry wait (up to minutes, after a 429) that ends the source's poll once a stop is requested."""

    def wait(seconds: float) -> None:
        remaining = seconds
        while True:
            if should_stop():
                raise Interrupted
            if remaining <= 0:
                return
            sleep(min(step, remaining))
            remaining -= step

    return wait


@dataclass(slots=True)
class SourceReport:
    name: str
    ok: bool = False
    fetched: int = 0
    new: int = 0
    new_matched: int = 0
    error: str | None = None
    skipped: int = 0  # records that could not be read (each logged); the rest were stored
    interrupted: bool = False  # stopped on request: batches so far are stored, the cursor did not move


@dataclass(slots=True)
class PollReport:
    run_id: int
    sources: list[SourceReport] = field(default_factory=list)
    interrupted: bool = False
    unreachable: dict[str, str] = field(default_factory=dict)  # host → why it could not be reached

    @property
    def nothing_fetched(self) -> bool:
        """Every source polled failed: not one upstream answered usefully."""
        return bool(self.sources) and not any(s.ok or s.interrupted for s in self.sources)

    @property
    def ok(self) -> bool:
        # A source stopped on request has not failed: the next poll resumes from its cursor.
        return all(s.ok or s.interrupted for s in self.sources)


def make_source(source: SourceConfig[Any], context: SourceContext, known: frozenset[str] = frozenset()) -> Source:
    return SOURCE_TYPES[source.type].build(source, replace(context, known=known))


def poll(
    config: Config,
    store: Store,
    *,
    clock: Clock = utc_now,
    env: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str, int], None] | None = None,
    only: set[str] | None = None,
    should_stop: StopCheck | None = None,
) -> PollReport:
    """Poll every configured source. A failing source is recorded and the others go on.

    `should_stop` is asked between sources and between batches (never inside a transaction):
    once it says yes, the poll ends early, the run is recorded as interrupted, and no cursor
    moves past what is stored.
    """
    if should_stop is not None:
        sleep = stoppable(sleep, should_stop)
    report = PollReport(run_id=store.begin_run("poll", now=clock()))
    # One context for the whole poll: its record of unreachable hosts is shared by every source,
    # the regulatory board and the page, and the next poll starts with a fresh one.
    context = SourceContext(http=config.http, contact=config.contact, env=env, sleep=sleep, unreachable=UnreachableHosts())
    for source_config in config.sources:
        if only is not None and source_config.name not in only:
            continue
        if should_stop is not None and should_stop():
            log.info("poll: stop requested; %s and the sources after it not polled", source_config.name)
            report.interrupted = True
            break
        result = poll_source(config, store, source_config, report.run_id, clock, context, progress, should_stop)
        report.sources.append(result)
        if result.interrupted:
            report.interrupted = True
            break
    # Then the regulatory board: each watched product's whole record, a snapshot per poll (regulatory/poll.py).
    if config.regulatory is not None and not report.interrupted and (only is None or REGULATORY in only):
        try:
            step = poll_products(config, store, run_id=report.run_id, clock=clock, context=context)
            report.sources.append(SourceReport(REGULATORY, step.ok, step.fetched, step.new, step.new, step.error))
        except Interrupted:
            report.interrupted = True
    # The listed DOIs no PubMed re-check covers, against Crossref (corrections/check.py).
    if config.crossref is not None and not report.interrupted and (only is None or CROSSREF in only):
        checked_dois = check_corrections(config, store, run_id=report.run_id, clock=clock, context=context)
        if checked_dois.checked or not checked_dois.ok:  # nothing to ask (no listed DOI) fetched nothing: no line of the poll's report
            report.sources.append(SourceReport(CROSSREF, checked_dois.ok, checked_dois.checked, checked_dois.new, checked_dois.new,
                                               checked_dois.error))
    # The clinic's page, after the sources: its failure is reported like a failing source's.
    article = config.article
    if article and article.page_key and not report.interrupted and (only is None or ARTICLE in only):
        if article.url:
            checked = watch_page(article.url, store, context, clock, run_id=report.run_id)
        elif article.file:
            checked = watch_file(article.file, store, clock, run_id=report.run_id)
        report.sources.append(SourceReport(ARTICLE, checked.ok, int(checked.ok), int(checked.changed), error=checked.error))
    report.unreachable = context.unreachable.hosts()
    store.finish_run(
        report.run_id,
        now=clock(),
        status="interrupted" if report.interrupted else "ok" if report.ok else "failed",
        new_items=sum(s.new for s in report.sources),
        matched=sum(s.new_matched for s in report.sources),
        failures=sum(not (s.ok or s.interrupted) for s in report.sources),
    )
    return report


def poll_source(
    config: Config,
    store: Store,
    source_config: SourceConfig[Any],
    run_id: int,
    clock: Clock,
    context: SourceContext,
    progress: Callable[[str, int], None] | None,
    should_stop: StopCheck | None = None,
) -> SourceReport:
    name = source_config.name
    result = SourceReport(name)
    failed_url = None  # the whole request URL (secrets redacted): the log has it, the digest the short form
    log.info("poll %s: start", name)
    try:
        source = make_source(source_config, context, store.matched_ids(name))
        for batch in source.fetch(store.source_state(name), clock().astimezone(config.timezone)):
            items = unique(batch.items)
            entries = [(item, match(item, config.topics)) for item in items]
            saved = store.save_batch(
                name, entries, now=clock(), cursor=batch.cursor, validators=batch.validators, final=batch.final
            )
            result.fetched += len(items)
            result.skipped += batch.skipped
            result.new += saved.new
            result.new_matched += saved.new_matched
            if progress:
                progress(name, result.fetched)
            if should_stop is not None and should_stop() and not batch.final:
                raise Interrupted
        result.ok = True
    except Interrupted:
        result.interrupted = True
    except SourceError as exc:
        error = exc.at(host_of(source_config.url))  # the person reads which upstream failed, first
        result.error, failed_url = str(error), error.url
    except WatcherError as exc:
        result.error = str(exc)
    except sqlite3.Error as exc:  # the store failed, not the source (disk full, damaged file): stop the poll
        raise StoreError(store_failure(store.path, exc)) from None
    except Exception as exc:  # a bug or an unforeseen upstream shape must not stop the other sources
        log.debug("poll %s: unexpected error", name, exc_info=True)
        result.error = f"internal error: {type(exc).__name__}: {exc}"
    if result.interrupted:
        # No poll record: this was not an attempt that succeeded or failed, and the cursor stayed.
        log.warning("poll %s: stopped on request after %d fetched (%d new, stored); the rest comes next poll",
                    name, result.fetched, result.new)
        return result
    if result.ok:
        log.info("poll %s: ok, %d fetched, %d new, %d newly matched%s", name, result.fetched, result.new, result.new_matched,
                 f", {result.skipped} unreadable record(s) skipped" if result.skipped else "")
    else:
        log.error("poll %s: failed: %s", name, result.error)
        if failed_url:  # the whole URL can be a kilobyte long: for those who ask for it
            log.debug("poll %s: the failed request: %s", name, failed_url)
    record = PollRecord(name, utc_iso(clock()), result.ok, result.fetched, result.new, result.new_matched, result.error)
    store.record_poll(record, run_id=run_id)
    return result


def unique(items: tuple[Item, ...]) -> list[Item]:
    """Drop repeats of an id within one batch (the last copy wins: it is the newest)."""
    return list({item.id: item for item in items}.values())
