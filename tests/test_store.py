"""The SQLite store: migrations, idempotent saves, cursor moving only with its items, refusals."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from watcher.errors import StoreError
from watcher.model import Hit, Item, Match, Related
from watcher.store import PollRecord, Store
from watcher.store.schema import MIGRATIONS, statements
from watcher.weeks import utc_iso

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
YES = Match(True, ("t",), (Hit("drug", "ketamine", "title", "Ketamine"),), "core", 0.5)
NO = Match(False)


def item(n: int, title: str = "A title") -> Item:
    return Item(
        id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
        authors=("Doe J",), related=(Related("ErratumIn", "x", "9"),), extra={"pmid": str(n), "pub_year": 2026},
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "w.db") as s:
        yield s


def test_new_database_is_migrated_to_the_latest_version(store):
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_data(tmp_path):
    with Store.open(tmp_path / "w.db") as s:
        s.save_batch("pubmed", [(item(1), YES)], now=T0, cursor="2026/11/23", final=True)
    with Store.open(tmp_path / "w.db") as s:
        assert [x.item for x in s.iter_items()] == [item(1)]
        assert s.source_state("pubmed").cursor == "2026/11/23"


def test_item_round_trips_through_json(store):
    store.save_batch("pubmed", [(item(1), YES)], now=T0)
    (stored,) = store.iter_items()
    assert stored.item == item(1) and stored.match == YES


def test_saving_twice_stores_once_and_keeps_first_seen(store):
    first = store.save_batch("pubmed", [(item(1), YES), (item(2), NO)], now=T0)
    again = store.save_batch("pubmed", [(item(1, "Revised title"), YES)], now=T0 + timedelta(days=3))
    assert (first.new, first.new_matched) == (2, 1)
    assert (again.new, again.new_matched) == (0, 0)
    rows = {s.item.id: s for s in store.iter_items()}
    assert len(rows) == 2
    assert rows["pubmed:1"].first_seen == utc_iso(T0)
    assert rows["pubmed:1"].item.title == "Revised title"  # the newest text wins


def test_item_matching_later_is_reported_in_the_week_it_first_matched(store):
    store.save_batch("pubmed", [(item(1), NO)], now=T0)
    later = T0 + timedelta(days=8)
    assert store.save_batch("pubmed", [(item(1), YES)], now=later).new_matched == 1
    assert store.matched_between(T0, T0 + timedelta(days=7)) == []
    assert [s.item.id for s in store.matched_between(later, later + timedelta(days=1))] == ["pubmed:1"]
    # and it never moves again
    store.save_batch("pubmed", [(item(1), YES)], now=later + timedelta(days=8))
    assert store.matched_between(later, later + timedelta(days=1))[0].first_matched == utc_iso(later)


def test_cursor_moves_only_with_the_final_batch(store):
    store.save_batch("pubmed", [(item(1), YES)], now=T0, cursor="ignored")
    assert store.source_state("pubmed").cursor is None
    store.save_batch("pubmed", [], now=T0, cursor="2026/11/23", validators=("etag", "lm"), final=True)
    state = store.source_state("pubmed")
    assert (state.cursor, state.etag, state.last_modified, state.last_success) == ("2026/11/23", "etag", "lm", utc_iso(T0))


def test_a_failing_batch_rolls_back_items_and_cursor(store):
    bad = Item(id="pubmed:3", source="pubmed", url="u", title="t", extra={"x": object()})  # not JSON-serialisable
    with pytest.raises(TypeError):
        store.save_batch("pubmed", [(item(1), YES), (bad, YES)], now=T0, cursor="2026/11/23", final=True)
    assert list(store.iter_items()) == []
    assert store.source_state("pubmed").cursor is None


def test_failures_count_up_and_a_success_resets_them(store):
    for n in range(2):
        store.record_poll(PollRecord("pubmed", utc_iso(T0 + timedelta(hours=n)), False, error=f"boom {n}"))
    state = store.source_state("pubmed")
    assert (state.consecutive_failures, state.last_error) == (2, "boom 1")
    store.save_batch("pubmed", [], now=T0 + timedelta(hours=3), final=True)
    store.record_poll(PollRecord("pubmed", utc_iso(T0 + timedelta(hours=3)), True))
    assert store.source_state("pubmed").consecutive_failures == 0
    polls = store.polls_between(T0, T0 + timedelta(days=1))
    assert [p.ok for p in polls] == [False, False, True]
    assert store.last_success_before("pubmed", T0 + timedelta(days=1)) == utc_iso(T0 + timedelta(hours=3))


def test_a_file_that_is_not_sqlite_is_refused_and_kept(tmp_path):
    path = tmp_path / "w.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=str(path)):
        Store.open(path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_someone_elses_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not watcher's"):
        Store.open(path)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "w.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_a_version_1_database_is_migrated_keeping_its_digests_and_item_sections(tmp_path):
    # A database as watcher 0.1 left it: digests keyed by week, an item's section inside `extra`.
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in statements(MIGRATIONS[0]):
        conn.execute(statement)
    old_item = {"id": "rss:fda:1", "source": "fda", "url": "https://example.org/1", "title": "An alert",
                "extra": {"section": "regulatory", "kind": "safety alert", "guid": "1"}}
    conn.execute("INSERT INTO items VALUES ('rss:fda:1', 'fda', ?, 1, '{\"topics\": [], \"hits\": []}',"
                 " '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z')", (json.dumps(old_item),))
    conn.execute("INSERT INTO digests VALUES ('2026-W45', '2026-W45.md', '2026-11-09T13:00:00Z', 1, 'abc')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        [record] = store.outputs()
        assert (record.week, record.format, record.path, record.items) == ("2026-W45", "markdown", "2026-W45.md", 1)
        [stored] = store.iter_items()
        assert (stored.item.section, stored.item.kind) == ("regulatory", "safety alert")
        assert stored.item.extra == {"guid": "1"}
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "digests" not in tables


def test_snapshots_keep_every_fetch_in_order_and_read_as_of_a_moment(store):
    t0 = datetime(2026, 11, 2, 12, tzinfo=UTC)
    first = store.save_snapshot("regulatory", "NDA000001", {"status": "approved", "supplements": [1]}, now=t0)
    store.save_snapshot("regulatory", "NDA000001", {"status": "approved", "supplements": [1, 2]}, now=t0 + timedelta(days=1))
    store.save_snapshot("regulatory", "NDA000002", {"status": "none"}, now=t0)
    history = store.snapshots("regulatory", "NDA000001")
    assert [s.data["supplements"] for s in history] == [[1], [1, 2]] and history[0] == first
    assert history[0].sha256 != history[1].sha256
    assert [s.at for s in store.snapshots("regulatory", "NDA000001", before=t0 + timedelta(hours=1))] == [first.at]
    assert store.snapshots("article", "NDA000001") == []


def test_migration_6_gives_stored_pubmed_records_their_pmid_identifier(tmp_path):
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:5]:
        for statement in statements(script):
            conn.execute(statement)
    paper = {"id": "pubmed:123", "source": "pubmed", "url": "u", "title": "t", "extra": {"pmid": "123"}}
    feed = {"id": "rss:f:1", "source": "f", "url": "u", "title": "t", "extra": {}}
    for item in (paper, feed):
        conn.execute("INSERT INTO items VALUES (?, ?, ?, 1, '{\"topics\": [], \"hits\": []}', '2026-11-02T10:00:00Z',"
                     " '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z')", (item["id"], item["source"], json.dumps(item)))
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        found = {s.item.id: s.item.identifiers for s in store.iter_items()}
        keys = {k.id: k.identifiers for k in store.work_keys()}
    assert found == keys == {"pubmed:123": ("pmid:123",), "rss:f:1": ()}
