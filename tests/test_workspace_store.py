"""What the workspace keeps in the store: decisions as labels (who, a cited claim, a note, undo;
the latest not withdrawn counts, every row kept), the migration that rebuilt the labels table, the
accounts, the FTS5 index kept in step by triggers, and the session key file; `watcher user` and
`watcher serve`'s refusals, in process."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from datetime import timedelta

import pytest

from tests.workspace import T0, fill, paper, workspace_config
from watcher.cli import main
from watcher.errors import WatcherError
from watcher.relevance.labels import Label
from watcher.relevance.match import match
from watcher.store import Store
from watcher.store.schema import MIGRATIONS, statements
from watcher.web.accounts import key_path, session_key, verify_password


@pytest.fixture
def config(tmp_path):
    config = workspace_config(tmp_path)
    fill(config)
    return config


def test_a_decision_is_a_label_and_the_latest_not_withdrawn_counts(store, config):
    store.decide("pubmed:1", "irrelevant", user="ana", now=T0)
    store.decide("pubmed:1", "relevant", claim="stomach", note="see table 2", user="rob", now=T0 + timedelta(minutes=1))
    store.annotate("pubmed:1", "table 3, not 2", user="ana", now=T0 + timedelta(minutes=2))
    [current] = store.labels()
    assert (current.label.label, current.label.claim, current.label.note, current.user) == ("relevant", "stomach", "table 3, not 2", "ana")
    assert store.undo("pubmed:1", user="ana", now=T0 + timedelta(minutes=3)).note == "table 3, not 2"
    assert store.current_decision("pubmed:1").note == "see table 2"  # the one before counts again
    store.undo("pubmed:1", user="ana", now=T0 + timedelta(minutes=4))
    assert [s.label.label for s in store.labels()] == ["irrelevant"]
    store.undo("pubmed:1", user="ana", now=T0 + timedelta(minutes=5))
    assert store.labels() == [] and store.undo("pubmed:1", user="ana", now=T0) is None
    assert len(store.decision_history("pubmed:1")) == 6  # every row kept: three decisions, three undos
    assert store.decide("pubmed:404", "relevant", user="ana", now=T0) is None


def test_a_note_on_an_undecided_item_is_no_verdict(store, config):
    store.annotate("pubmed:2", "ask the pharmacist", user="ana", now=T0)
    assert store.labels() == [] and store.current_decision("pubmed:2").note == "ask the pharmacist"
    assert "pubmed:2" in [s.item.id for s in store.undecided()]
    store.decide("pubmed:2", "relevant", user="ana", now=T0)  # the note stays with the verdict
    assert store.labels()[0].label.note == "ask the pharmacist"


def test_the_table_refuses_a_claim_without_a_relevant_verdict_and_an_undo_with_one(store, config):
    for values in (("irrelevant", "stomach", None), ("relevant", None, 1), ("maybe", None, None)):
        with pytest.raises(sqlite3.IntegrityError):
            store.conn.execute("INSERT INTO labels (item_id, label, claim, at, undoes) VALUES ('pubmed:1', ?, ?, 'x', ?)", values)


def test_the_labels_migration_keeps_every_row_and_its_id(tmp_path):
    path = tmp_path / "v8.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:8]:
        for statement in statements(script):
            conn.execute(statement)
    item = {"id": "pubmed:1", "source": "pubmed", "url": "", "title": "Aspirin for headache", "authors": ["Lindqvist E"]}
    conn.execute("INSERT INTO items VALUES ('pubmed:1', 'pubmed', ?, 1, '{\"topics\": [\"t\"], \"hits\": []}',"
                 " '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z')", (json.dumps(item),))
    conn.execute("INSERT INTO labels (id, item_id, label, note, at) VALUES (7, 'pubmed:1', 'relevant', 'ok', '2026-11-03T10:00:00Z')")
    conn.execute("INSERT INTO labels (id, item_id, label, note, at) VALUES (9, 'pubmed:1', 'irrelevant', '', '2026-11-04T10:00:00Z')")
    conn.execute("PRAGMA user_version = 8")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert [(d.id, d.label, d.note, d.user) for d in store.decision_history("pubmed:1")] == [
            (7, "relevant", "ok", ""), (9, "irrelevant", "", "")]
        assert [s.label.label for s in store.labels()] == ["irrelevant"]
        assert [s.item.id for s in store.search("lindqvist")] == ["pubmed:1"]  # the index was filled from the items


def test_the_search_index_follows_every_write_of_an_item(config):
    with Store.open(config.database) as store:
        assert [s.item.id for s in store.search("gastric")] == ["pubmed:2"]
        revised = paper(2, "Aspirin and duodenal ulcers in headache patients", "Ulcers were rare.", ("Rivera A",))
        store.save_batch("pubmed", [(revised, match(revised, config.topics))], now=T0 + timedelta(days=1))
        assert store.search("gastric") == [] and [s.item.id for s in store.search("duodenal")] == ["pubmed:2"]
        store.conn.execute("DELETE FROM items WHERE id = 'pubmed:4'")
        assert store.search("muller") == [] and store.search("") == [] and store.search("*") == []


def test_the_session_key_is_made_once_readable_by_its_owner_alone(tmp_path):
    database = tmp_path / "watcher.db"
    key = session_key(database)
    assert len(key) == 64 and session_key(database) == key
    assert oct(key_path(database).stat().st_mode & 0o777) == "0o600"
    os.chmod(key_path(database), 0o644)
    with pytest.raises(WatcherError, match="readable by others"):
        session_key(database)


def run(config, monkeypatch, *args, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(config.path), *args])


def test_watcher_user_adds_changes_and_removes_accounts(config, monkeypatch, capsys):
    assert run(config, monkeypatch, "user", "add", "ana", stdin="a long enough password\n") == 0
    assert run(config, monkeypatch, "user", "add", "rob", "--role", "reader", stdin="another long one\n") == 0
    assert run(config, monkeypatch, "user", "add", "ana", stdin="a long enough password\n") == 2
    assert run(config, monkeypatch, "user", "add", "Bad Name", stdin="a long enough password\n") == 2
    assert run(config, monkeypatch, "user", "add", "eve", stdin="short\n") == 2
    assert run(config, monkeypatch, "user", "passwd", "ana", "--role", "reader", stdin="a new long password\n") == 0
    assert run(config, monkeypatch, "user", "remove", "rob") == 0
    assert run(config, monkeypatch, "user", "remove", "rob") == 2
    capsys.readouterr()
    assert run(config, monkeypatch, "user", "list") == 0
    assert capsys.readouterr().out.split("\t")[:2] == ["ana", "reader"]
    with Store.open(config.database) as store:
        ana = store.user("ana")
        assert ana.generation == 1 and ana.password.startswith("$argon2id$")
        assert verify_password(ana.password, "a new long password") and not verify_password(ana.password, "a long enough password")
    assert b"a new long password" not in config.database.read_bytes()


def test_watcher_label_records_who_gave_it(config, monkeypatch):
    assert run(config, monkeypatch, "label", "pubmed:1", "relevant") == 0
    with Store.open(config.database) as store:
        [label] = store.labels()
    assert label.user  # the login name of whoever ran it
    with Store.open(config.database) as store:
        assert store.add_labels([Label("pubmed:1", "relevant")], now=T0).unchanged == 1


def test_serve_refuses_to_listen_beyond_loopback_without_an_account(config, monkeypatch, capsys):
    assert run(config, monkeypatch, "serve", "--host", "0.0.0.0") == 2
    assert "no account exists" in capsys.readouterr().err
    assert run(config, monkeypatch, "serve", "--behind-proxy") == 2
