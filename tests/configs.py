"""A Config built in code, for tests that need one without a feeds.yaml or a server."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from watcher.config import Config, ScheduleSettings
from watcher.model import Contact, HttpSettings, SourceConfig

CHICAGO = ZoneInfo("America/Chicago")


def make_config(
    tmp_path: Path, names=("pubmed",), poll_times=("06:00",), digest_day="mon", digest_time="07:00"
) -> Config:
    return Config(
        path=tmp_path / "feeds.yaml",
        timezone=CHICAGO,
        database=tmp_path / "w.db",
        digests=tmp_path / "digests",
        contact=Contact("watcher", ""),
        http=HttpSettings("ua", 30, 200),
        schedule=ScheduleSettings(tuple(poll_times), digest_day, digest_time),
        sources=tuple(SourceConfig(n, "pubmed", "https://example.org/", None) for n in names),
        topics=(),
    )
