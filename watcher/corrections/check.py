"""The poll's corrections step, after the sources and the board: the listed works' DOIs that no
PubMed re-check covers (a Europe PMC-only record, a preprint, the preprint of a paper PubMed holds)
are asked of Crossref's REST API, and each retraction, withdrawal, expression of concern or
correction found in their `updated-by` is a notice on that record, through the store's notice path
(`add_notices`): listed once under "Corrections and retractions" in the next digest.

Politely, as Crossref asks: `mailto:` and the contact in the User-Agent (its "polite pool"), one
request at a time at most RATE a second, BATCH DOIs a request (`filter=doi:…,doi:…`), and
conditional: a DOI first seen since the last complete check is asked outright; one checked before
is asked with `from-index-date:` the day before that check, so Crossref answers only with the works
re-indexed since (a new notice re-indexes the work it updates); most polls, that is an empty list.

A flag is news once per work: a retraction PubMed already reported on the work's PubMed record (or
that a record carried when first listed) is not reported again from Crossref, and a work's PubMed
copy and its preprint retracting together make one notice. The step's health is recorded as a poll
of `crossref` (`status`, the digest header); its cursor (the start of the last complete check)
moves only when every batch was answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import Config
from ..decide import FLAG, Notice
from ..errors import SourceError
from ..http import host_of
from ..sections import flags_of
from ..sources.base import SourceContext, client_for, folder
from ..store import PollRecord, Store
from ..text import describe_exception
from ..weeks import parse_utc, utc_iso
from ..works import Work, Works, works_of
from .crossref_json import Update, parse_updates
from .settings import CROSSREF

log = logging.getLogger(__name__)
RATE = 1.0  # requests a second: far under what Crossref allows the polite pool, one at a time
MAX_URL_DOIS = 3000  # characters of DOIs in one request's filter: the URL stays under about 4 kB
ACCEPT = "application/json"
MAX_BYTES = 50 * 1024 * 1024  # 100 full work records with their reference lists are a few MB


@dataclass(frozen=True, slots=True)
class DoiCheck:
    doi: str  # lower-cased
    record_id: str  # the record a notice goes on
    work_id: str
    new: bool  # first seen since the last complete check: asked outright


@dataclass(frozen=True, slots=True)
class StepResult:
    ok: bool
    checked: int  # DOIs asked about
    new: int  # notices stored
    error: str | None = None


def dois_to_check(works: Iterable[Work], pubmed_sources: Iterable[str], *, since: str | None) -> list[DoiCheck]:
    """The DOIs of listed works that a PubMed re-check does not cover, each once, in a stable order.
    `since`: the start of the last complete check (UTC text); None: every DOI is new."""
    pubmed = set(pubmed_sources)
    found: dict[str, DoiCheck] = {}
    for work in works:
        if not work.first_matched:
            continue
        covered = {k for r in work.records if r.source in pubmed for k in r.keys if k.startswith("doi:")}
        for record in work.records:
            if record.source in pubmed:
                continue
            for key in sorted(record.keys):
                doi = key[4:]
                if key.startswith("doi:") and key not in covered and doi not in found and "," not in doi:
                    # Sources are polled before this step: a record stored in the second a check began was in it.
                    found[doi] = DoiCheck(doi, record.id, work.id, since is None or record.first_seen > since)
    return sorted(found.values(), key=lambda c: (not c.new, c.doi))


def notices_for(updates: Iterable[Update], checks: Sequence[DoiCheck], told: set[tuple[str, str]]) -> list[tuple[str, Notice]]:
    """The notices the updates bring, at most one per work and flag; `told`: (work id, flag) already
    known (reported, or carried by a record of the work). Pure."""
    by_doi = {c.doi: c for c in checks}
    known = set(told)
    found = []
    for update in sorted(updates, key=lambda u: (u.doi, u.date or "", u.kind, u.notice or "")):
        check = by_doi.get(update.doi)
        if check is None or update.flag is None or (check.work_id, update.flag) in known:
            continue
        known.add((check.work_id, update.flag))
        found.append((check.record_id, Notice(FLAG, update.flag, f"https://doi.org/{update.notice}" if update.notice else None)))
    return found


def batches(checks: Sequence[DoiCheck], size: int) -> list[list[DoiCheck]]:
    """Up to `size` DOIs a batch, and no more than MAX_URL_DOIS characters of them (in `checks`' order)."""
    out: list[list[DoiCheck]] = []
    for check in checks:
        if not out or len(out[-1]) >= size or sum(len(c.doi) + 5 for c in out[-1]) + len(check.doi) > MAX_URL_DOIS:
            out.append([])
        out[-1].append(check)
    return out


def user_agent(context: SourceContext) -> str:
    agent = context.http.user_agent
    email = context.contact.email
    return f"{agent} (mailto:{email})" if email and f"mailto:{email}" not in agent else agent


def told_of(store: Store, works: Works, checks: Sequence[DoiCheck], updates: Sequence[Update]) -> set[tuple[str, str]]:
    """(work id, flag) for the flags the works of these updates already carry or were told of."""
    wanted = {c.doi for c in checks} & {u.doi for u in updates}
    work_ids = {c.work_id for c in checks if c.doi in wanted}
    records = {r.id: w.id for w in works if w.id in work_ids for r in w.records}
    history = store.flag_history()
    told = {(records[i], flag) for i in records for flag in history.get(i, {})}
    told |= {(records[i], flag) for i, s in store.items_by_id(records).items() for flag in flags_of(s.item)}
    return told


def check_corrections(config: Config, store: Store, *, run_id: int, clock: Callable[[], datetime],
                      context: SourceContext) -> StepResult:
    settings = config.crossref
    assert settings is not None
    started = utc_iso(clock())
    state = store.source_state(CROSSREF)
    works = works_of(store, separate=config.separate, sources=[s.name for s in config.sources])
    checks = dois_to_check(works, [s.name for s in config.sources if s.type == "pubmed"], since=state.cursor)
    since_day = (parse_utc(state.cursor) - timedelta(days=1)).date().isoformat() if state.cursor else None
    base, host = folder(settings.url), host_of(settings.url)
    updates: list[Update] = []
    error = None
    asked = 0
    try:
        with client_for(context, rate=RATE, user_agent=user_agent(context), accept=ACCEPT, max_bytes=MAX_BYTES) as client:
            fresh = [c for c in checks if c.new]
            for batch in batches(fresh, settings.batch_size) + batches([c for c in checks if not c.new], settings.batch_size):
                dois = ",".join(f"doi:{c.doi}" for c in batch)
                conditional = not batch[0].new and since_day is not None
                params = {"filter": dois + (f",from-index-date:{since_day}" if conditional else ""), "rows": str(len(batch))}
                response = client.get(base + "works", params=params).expect(200)
                updates.extend(parse_updates(response.body))
                asked += len(batch)
    except SourceError as exc:
        error = str(exc.at(host))
        if exc.url:
            log.debug("poll %s: the failed request: %s", CROSSREF, exc.url)
    except Exception as exc:  # a bug or an unforeseen answer must not stop the poll
        log.debug("poll %s: unexpected error", CROSSREF, exc_info=True)
        error = f"internal error: {describe_exception(exc)}"
    found = notices_for(updates, checks, told_of(store, works, checks, updates)) if updates else []
    new = store.add_notices(found, now=clock()) if found else 0  # what was found is kept, even if a later batch failed
    if error is None:
        store.save_batch(CROSSREF, [], now=clock(), cursor=started, final=True)
        log.info("poll %s: ok, %d DOI(s) checked, %d notice(s)", CROSSREF, asked, new)
    else:
        log.error("poll %s: failed: %s", CROSSREF, error)
    store.record_poll(PollRecord(CROSSREF, utc_iso(clock()), error is None, asked, new, new, error), run_id=run_id)
    return StepResult(error is None, asked, new, error)
