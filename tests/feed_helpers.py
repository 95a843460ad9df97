"""Helpers shared by the RSS and openFDA tests: a feeds.yaml written from Python values, a poll
that returns what the store then holds, and the project's own fixture files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from watcher.config import Config, load
from watcher.poll import PollReport, poll
from watcher.model import SourceState
from watcher.store import Store, StoredItem

FIXTURES = Path(__file__).resolve().parent / "fixtures"
USER_AGENT = "watcher-test/1.0 (literature watch; mailto:test@example.org)"
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc)  # Tuesday of ISO week 2026-W48 in Chicago
WEEK = "2026-W48"

# Keeps an item naming one of the drugs: what the clinic's own topic does for regulatory news.
DRUG_TOPIC = {"drugs": {"groups": {"drug": ["ketamine", "esketamine", "spravato", "ambien"]}}}
ANY_TOPIC = {"anything": {"groups": {"any": ["*"]}}}


def fixture(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()


def write_config(tmp_path: Path, sources: list[dict[str, Any]], topics: dict[str, Any] | None = None) -> Config:
    raw = {
        "timezone": "America/Chicago",
        "database": "watcher.db",
        "digests": "digests",
        "contact": {"tool": "watcher-test", "email": "test@example.org"},
        "http": {"user_agent": USER_AGENT, "timeout": 10},
        "sources": sources,
        "topics": topics or DRUG_TOPIC,
    }
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load(path)


@dataclass
class Polled:
    report: PollReport
    items: dict[str, StoredItem]
    states: dict[str, SourceState]

    def source(self, name: str):
        return next(s for s in self.report.sources if s.name == name)


def run_poll(config: Config, *, now: datetime = NOW, env: dict[str, str] | None = None, sleeps: list | None = None) -> Polled:
    with Store.open(config.database) as store:
        report = poll(config, store, clock=lambda: now, env=env or {},
                      sleep=sleeps.append if sleeps is not None else (lambda s: None))
        items = {s.item.id: s for s in store.iter_items()}
        states = store.source_states()
    return Polled(report, items, states)
