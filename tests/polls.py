"""A poll in the test process through the real `watcher.poll.poll`, and what the store then holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from watcher.config import Config
from watcher.model import SourceState
from watcher.poll import PollReport, SourceReport, poll
from watcher.store import Store, StoredItem

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # Tuesday of ISO week 2026-W48 in Chicago
WEEK = "2026-W48"
TODAY = date(2026, 11, 24)  # NOW's date in Chicago: the day a poll at NOW ends its window on


@dataclass
class Polled:
    report: PollReport
    ids: list[str]  # every stored item's id, as the store lists them (a repeat would show here)
    items: dict[str, StoredItem]
    states: dict[str, SourceState]

    def source(self, name: str) -> SourceReport:
        return next(s for s in self.report.sources if s.name == name)

    def state(self, name: str) -> SourceState:
        """The source's stored state; a fresh one when nothing was ever recorded for it."""
        return self.states.get(name, SourceState(name=name))


def run_poll(config: Config, *, now: datetime = NOW, env: dict[str, str] | None = None, sleeps: list[float] | None = None,
             should_stop: Callable[[], bool] | None = None) -> Polled:
    """Poll with a fixed clock, no API keys (unless `env` has them) and a sleep that only records."""
    with Store.open(config.database) as store:
        report = poll(config, store, clock=lambda: now, env=env or {},
                      sleep=sleeps.append if sleeps is not None else (lambda s: None), should_stop=should_stop)
        stored = list(store.iter_items())
        states = store.source_states()
    return Polled(report, [s.item.id for s in stored], {s.item.id: s for s in stored}, states)
