"""What every source shares (sources/base.py, sources/window.py): walking pages with a cap and a
guard against repeated tokens, skipping and counting records that cannot be read, and the window
and paging settings with their key paths."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from watcher.errors import ConfigError, UpstreamError
from watcher.model import Item
from watcher.sources.base import Paging, kept, paging, walk_pages
from watcher.sources.window import WindowSettings, window_settings


def pages(tokens: dict[str | None, str | None]):
    """A fake upstream: page `t` names the next token (None: the last page)."""
    asked: list[str | None] = []

    def fetch(token: str | None) -> tuple[str, str | None]:
        asked.append(token)
        return f"page {token}", tokens[token]

    return fetch, asked


def test_pages_are_walked_until_one_names_no_next():
    fetch, asked = pages({None: "b", "b": "c", "c": None})
    assert list(walk_pages(None, fetch, what="X", repeated="token repeats")) == ["page None", "page b", "page c"]
    assert asked == [None, "b", "c"]


def test_a_repeated_token_fails_naming_the_page_or_ends_the_walk_where_repeating_means_the_end():
    fetch, _ = pages({None: "b", "b": "c", "c": "b"})
    with pytest.raises(UpstreamError, match=r"^X: token repeats \(page 3\)$"):
        list(walk_pages(None, fetch, what="X", repeated="token repeats"))
    fetch, asked = pages({"*": "m1", "m1": "m1"})  # a cursor service repeating its last mark
    assert list(walk_pages("*", fetch, what="X", repeated=None)) == ["page *", "page m1"] and asked == ["*", "m1"]


def test_a_server_whose_pages_never_end_cannot_hold_a_poll():
    def endless(token: int) -> tuple[int, int]:
        return token, token + 1

    walked = walk_pages(0, endless, what="X", repeated="repeats", max_pages=5)
    with pytest.raises(UpstreamError, match="more than 5 pages"):
        assert list(walked) == [0, 1, 2, 3, 4]


def item(record: dict) -> list[Item]:
    return [Item(id=f"x:{record['id']}", source="x", url="", title=str(record["title"]))]


def test_records_that_cannot_be_read_are_skipped_counted_and_named_in_the_log(caplog):
    caplog.set_level(logging.WARNING)
    records = [{"id": 1, "title": "a"}, ["not", "an", "object"], {"id": 3}, {"id": 4, "title": "d"}]
    items, skipped = kept(records, item, source="src", what="result")
    assert [i.id for i in items] == ["x:1", "x:4"] and skipped == 2
    assert [r.getMessage() for r in caplog.records] == ["src: result 2 is not an object; skipped",
                                                        "src: result 3 skipped: KeyError: 'title'"]


def test_window_and_paging_settings_default_per_source_and_name_their_keys():
    assert window_settings({}, "s", lookback=90, overlap=30) == WindowSettings(90, 30)
    assert window_settings({"lookback_days": 7, "overlap_days": 0}, "s", lookback=90, overlap=30) == WindowSettings(7, 0)
    assert WindowSettings(10, 2).window("s", "2026-11-20", date(2026, 11, 25)).start == date(2026, 11, 18)
    with pytest.raises(ConfigError) as caught:
        window_settings({"overlap_days": 61}, "sources[0]", lookback=30, overlap=3, max_overlap=60)
    assert caught.value.path == "sources[0].overlap_days"
    assert paging({}, "s", largest=1000) == Paging(100, 1.0)
    with pytest.raises(ConfigError) as caught:
        paging({"rate": 0}, "sources[1]", largest=1000)
    assert caught.value.path == "sources[1].rate"
