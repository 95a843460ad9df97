"""`watcher status` as data: per source its items and health, the last digest, the next times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .article.claims import ARTICLE
from .config import Config
from .corrections.settings import CROSSREF
from .digest.mail import due_weeks, recipients
from .regulatory.settings import REGULATORY
from .schedule.due import next_fire_times, poll_due
from .store import MailRecord, Store
from .weeks import Week, parse_utc


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    type: str
    stored: int
    matched: int
    last_success: datetime | None
    failures_in_a_row: int
    last_error: str | None
    last_error_at: datetime | None

    @property
    def failing(self) -> bool:
        return self.failures_in_a_row > 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    sources: tuple[SourceStatus, ...]
    last_digest_week: str | None
    last_digest_at: datetime | None
    next_poll: datetime
    next_digest: datetime
    next_digest_week: str
    overdue_since: datetime | None  # a scheduled poll that has not happened
    mail_to: str | None = None  # the recipients, when mail is configured
    last_mail: MailRecord | None = None  # the latest send that the server accepted
    mail_failures: tuple[MailRecord, ...] = ()  # per week due and not sent, its latest failed attempt
    # Polls that did not finish (killed, power lost) since the last one that did: when each began.
    interrupted: tuple[datetime, ...] = ()
    running_since: datetime | None = None  # a poll in progress in another process (it holds the writer lock)

    @property
    def failing(self) -> tuple[SourceStatus, ...]:
        return tuple(s for s in self.sources if s.failing)

    @property
    def ok(self) -> bool:
        return not self.failing and not self.mail_failures and not self.interrupted


def when(stamp: str | None) -> datetime | None:
    return parse_utc(stamp) if stamp else None


def status(store: Store, config: Config, now: datetime, *, writer_busy: bool = False) -> StatusReport:
    """`writer_busy`: another process holds the writer lock now (lock.writer_busy), so the latest
    unfinished poll may still be running rather than dead."""
    states = store.source_states()
    counts = store.item_counts()
    sources = []
    watched = [(s.name, s.type) for s in config.sources]
    if config.regulatory is not None:  # the board's fetches are recorded like a source's polls
        watched.append((REGULATORY, "regulatory board"))
    if config.crossref is not None:
        watched.append((CROSSREF, "corrections"))  # the listed DOIs re-checked against Crossref
    if config.article and config.article.page_key:
        watched.append((ARTICLE, "page"))  # the clinic's page: its failures count like a source's
    for name, kind in watched:
        state = states.get(name)
        stored, matched = counts.get(name, (0, 0))
        sources.append(SourceStatus(
            name=name,
            type=kind,
            stored=stored,
            matched=matched,
            last_success=when(state.last_success) if state else None,
            failures_in_a_row=state.consecutive_failures if state else 0,
            last_error=state.last_error if state else None,
            last_error_at=when(state.last_error_at) if state else None,
        ))
    primary = store.outputs(config.outputs[0])
    mails = [m for m in store.mails() if config.email and m.recipients == recipients(config.email)]
    due = {week.label for week in due_weeks(store, config, now)}
    sent = {m.week: m for m in mails}  # oldest first: the last one per week wins
    # From the config's schedule, not from a running process: the times `watcher run` would use.
    next_poll, next_digest = next_fire_times(config, now)
    latest = store.latest_run_id()
    unfinished = store.unfinished_runs()
    dead = [r for r in unfinished if r.died(latest=r.id == latest, writer_busy=writer_busy)]
    running = [r for r in unfinished if r not in dead]
    return StatusReport(
        sources=tuple(sources),
        last_digest_week=primary[0].week if primary else None,
        last_digest_at=when(primary[0].written_at) if primary else None,
        next_poll=next_poll,
        next_digest=next_digest,
        next_digest_week=Week.containing(next_digest, config.timezone).previous.label,
        overdue_since=poll_due(store, config, now),
        mail_to=recipients(config.email) if config.email else None,
        last_mail=next((m for m in reversed(mails) if m.ok), None),
        mail_failures=tuple(m for week, m in sorted(sent.items()) if week in due and not m.ok),
        interrupted=tuple(parse_utc(r.started) for r in dead if store.completed_run_after(r.id) is None),
        running_since=parse_utc(running[-1].started) if running else None,
    )
