"""The date window every dated source asks for: one behaviour for a first poll, a stored cursor,
an old-style cursor and an unreadable one."""

from __future__ import annotations

import logging
from datetime import date

from watcher.sources.window import DateWindow, window

TODAY = date(2026, 11, 24)


def test_first_poll_looks_back():
    assert window("s", None, TODAY, lookback_days=30, overlap_days=3) == DateWindow(date(2026, 10, 25), TODAY)


def test_later_polls_start_at_the_cursor_less_the_overlap():
    assert window("s", "2026-11-20", TODAY, lookback_days=30, overlap_days=3) == DateWindow(date(2026, 11, 17), TODAY)


def test_a_cursor_stored_by_an_older_watcher_is_still_read():
    assert window("s", "2026/11/20", TODAY, lookback_days=30, overlap_days=3).start == date(2026, 11, 17)


def test_an_unreadable_cursor_starts_from_the_look_back_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        span = window("pubmed", "next Tuesday", TODAY, lookback_days=30, overlap_days=3)
    assert span == DateWindow(date(2026, 10, 25), TODAY)
    assert "pubmed: unreadable cursor 'next Tuesday'" in caplog.text


def test_a_cursor_in_the_future_never_gives_an_empty_window():
    assert window("s", "2027-01-10", TODAY, lookback_days=30, overlap_days=3) == DateWindow(TODAY, TODAY)


def test_the_cursor_is_the_windows_last_day_and_halves_cover_it():
    span = DateWindow(date(2026, 11, 1), date(2026, 11, 10))
    first, second = span.halves()
    assert span.cursor == "2026-11-10"
    assert (first.start, first.end, second.start, second.end) == (span.start, date(2026, 11, 5), date(2026, 11, 6), span.end)
    assert date(2026, 11, 5) in span and date(2026, 11, 11) not in span and None not in span
