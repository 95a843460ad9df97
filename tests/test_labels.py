"""Editors' labels: stored with their time, the latest counts, kept when an item is re-fetched,
never a change to matching; `watcher label` one at a time or from a CSV (an export filled in)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.configs import write_config
from watcher.cli import main
from watcher.errors import UsageError
from watcher.export.items import write_csv
from watcher.model import Item
from watcher.relevance.labels import IRRELEVANT, RELEVANT, Label, parse_csv
from watcher.relevance.match import match
from watcher.store import Store
from watcher.store.schema import MIGRATIONS, statements

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
TOPIC = {"headache": {"groups": {"drug": ["aspirin"], "condition": ["headache*"]}}}


def item(n: int, title: str = "Aspirin for headache") -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title)


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, topics=TOPIC)


@pytest.fixture
def filled(config, store):
    store.save_batch("pubmed", [(i, match(i, config.topics)) for i in (item(1), item(2), item(3, "Aspirin for fever"))], now=T0)
    return store


# ------------------------------------------------------------------ the store


def test_labels_are_stored_with_their_time_and_the_latest_counts(filled):
    filled.add_labels([Label("pubmed:1", RELEVANT), Label("pubmed:2", IRRELEVANT, "a pain trial")], now=T0)
    later = filled.add_labels([Label("pubmed:1", IRRELEVANT, "on second thought")], now=T0 + timedelta(days=1))
    assert (later.stored, later.unchanged) == (1, 0)
    current = {s.label.item_id: (s.label.label, s.label.note, s.at) for s in filled.labels()}
    assert current == {"pubmed:1": (IRRELEVANT, "on second thought", "2026-11-25T15:00:00Z"),
                       "pubmed:2": (IRRELEVANT, "a pain trial", "2026-11-24T15:00:00Z")}
    assert filled.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 3  # the history is kept


def test_an_unchanged_label_is_not_stored_again(filled):
    filled.add_labels([Label("pubmed:1", RELEVANT, "ok")], now=T0)
    again = filled.add_labels([Label("pubmed:1", RELEVANT, "ok"), Label("pubmed:2", RELEVANT)], now=T0 + timedelta(hours=1))
    assert (again.stored, again.unchanged, again.unknown) == (1, 1, [])
    assert filled.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 2


def test_an_unknown_id_stores_nothing(filled):
    result = filled.add_labels([Label("pubmed:1", RELEVANT), Label("pubmed:404", RELEVANT)], now=T0)
    assert (result.stored, result.unknown) == (0, ["pubmed:404"])
    assert filled.labels() == []


def test_labels_survive_a_refetch_and_never_change_matching(filled, config):
    filled.add_labels([Label("pubmed:1", IRRELEVANT, "not about headache")], now=T0)
    revised = item(1, "Aspirin for headache: revised title")
    filled.save_batch("pubmed", [(revised, match(revised, config.topics))], now=T0 + timedelta(days=2))
    [labelled] = filled.labels()
    assert labelled.stored.item.title == "Aspirin for headache: revised title"
    assert labelled.label == Label("pubmed:1", IRRELEVANT, "not about headache")
    assert labelled.stored.match.matched  # labelled irrelevant, still matched: a label is not a rule


def test_the_labels_migration_leaves_a_version_5_database_whole(tmp_path):
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:5]:
        for statement in statements(script):
            conn.execute(statement)
    conn.execute("INSERT INTO items VALUES ('pubmed:1', 'pubmed', ?, 1, '{\"topics\": [\"t\"], \"hits\": []}',"
                 " '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z')",
                 (json.dumps({"id": "pubmed:1", "source": "pubmed", "url": "", "title": "Old"}),))
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        [stored] = store.iter_items()
        assert stored.match.tier == "core"  # stored before tiers: read as it was shown, a core item
        store.add_labels([Label("pubmed:1", RELEVANT)], now=T0)
        assert [s.label.label for s in store.labels()] == [RELEVANT]
        with pytest.raises(sqlite3.IntegrityError):  # the table itself refuses any other verdict
            store.conn.execute("INSERT INTO labels (item_id, label, at) VALUES ('pubmed:1', 'maybe', 'x')")


# ------------------------------------------------------------------ CSV files


def write(tmp_path: Path, text: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_of_id_label_and_note(tmp_path):
    path = write(tmp_path, "\ufeffpubmed:1,relevant\npubmed:2, Irrelevant ,\"pain trial, not headache\"\n\n")
    assert parse_csv(path.read_text(encoding="utf-8"), str(path)) == [Label("pubmed:1", RELEVANT), Label("pubmed:2", IRRELEVANT, "pain trial, not headache")]


def test_csv_with_a_header_reads_its_columns_and_skips_unlabelled_rows(tmp_path):
    path = write(tmp_path, "title,label,id,note\nA,relevant,pubmed:1,\nB,,pubmed:2,\nC,irrelevant,pubmed:3,fever\n")
    assert parse_csv(path.read_text(encoding="utf-8"), str(path)) == [Label("pubmed:1", RELEVANT), Label("pubmed:3", IRRELEVANT, "fever")]


@pytest.mark.parametrize(("text", "words"), [
    ("pubmed:1,relevent\n", "line 1: 'relevent' is not a label; write relevant or irrelevant"),
    ("pubmed:1,relevant\npubmed:2\n", "line 2: has 1 column(s); write id,label or id,label,note"),
    ("pubmed:1,relevant\npubmed:1,irrelevant\n", "line 2: pubmed:1 is labelled twice (also on line 1); keep one row"),
    (",relevant\n", "line 1: the item id is empty"),
    ("id,label\npubmed:1,\n", "no labelled row"),
    ("", "no labelled row"),
])
def test_csv_errors_name_the_file_and_line(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        parse_csv(path.read_text(encoding="utf-8"), str(path))
    assert str(caught.value).startswith(str(path)) and words in str(caught.value)




# ------------------------------------------------------------------ the command (in process)


def run(config, *args) -> int:
    return main(["--config", str(config.path), *args])


def test_label_command_one_item_and_errors(filled, config, capsys):
    assert run(config, "label", "pubmed:1", "relevant", "--note", "the drug for the condition") == 0
    assert capsys.readouterr().out == "labelled pubmed:1 relevant\n"
    assert run(config, "label", "pubmed:1", "relevant", "--note", "the drug for the condition") == 0
    assert capsys.readouterr().out == "labelled pubmed:1 relevant (unchanged)\n"
    assert run(config, "label", "pubmed:404", "irrelevant") == 2
    assert "no stored item has the id pubmed:404; nothing was labelled" in capsys.readouterr().err
    assert run(config, "label", "pubmed:1", "maybe") == 2
    assert "'maybe' is not a label; write relevant or irrelevant" in capsys.readouterr().err
    assert run(config, "label", "pubmed:1") == 2
    assert "give an item id and a verdict" in capsys.readouterr().err
    assert run(config, "label", "pubmed:1", "relevant", "--import", "x.csv") == 2
    assert "not both" in capsys.readouterr().err
    assert [(s.label.item_id, s.label.note) for s in filled.labels()] == [("pubmed:1", "the drug for the condition")]


def test_a_csv_that_is_not_utf8_is_refused_in_one_line(filled, config, tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes("pubmed:1,relevant,caf\xe9\n".encode("latin-1"))
    assert run(config, "label", "--import", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"watcher: error: {path}: cannot read:") and "utf-8" in err and err.count("\n") == 1
    assert filled.labels() == []


def test_a_spreadsheets_byte_order_mark_is_not_part_of_the_header(tmp_path):
    assert parse_csv("\ufeffid,label\npubmed:1,relevant\n", "bom.csv") == [Label("pubmed:1", RELEVANT)]


def test_label_import_reads_an_export_with_the_label_column_filled_in(filled, config, tmp_path, capsys):
    out = io.StringIO()
    write_csv(filled, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["label"] for r in rows] == ["", "", ""]
    rows[0]["label"], rows[2]["label"] = "relevant", "irrelevant"
    path = tmp_path / "labelled.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert run(config, "label", "--import", str(path)) == 0
    assert capsys.readouterr().out == f"labelled 2 item(s) from {path}: 1 relevant, 1 irrelevant\n"
    assert {s.label.item_id: s.label.label for s in filled.labels()} == {rows[0]["id"]: RELEVANT, rows[2]["id"]: IRRELEVANT}


@pytest.mark.slow
def test_label_then_evaluate_as_processes(filled, config, tmp_path):
    def watcher(*args):
        return subprocess.run([sys.executable, "-m", "watcher", "--config", str(config.path), *args],
                              capture_output=True, text=True, timeout=60)

    assert watcher("evaluate").returncode == 2  # nothing labelled yet: said, not a silent pass
    path = write(tmp_path, "pubmed:1,relevant\npubmed:2,irrelevant,a pain trial\npubmed:3,irrelevant\n")
    result = watcher("label", "--import", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    result = watcher("evaluate", "--fail-under", "0.9,0.9")
    assert result.returncode == 1  # pubmed:2 is core but labelled irrelevant: precision 0.5
    assert "core tier:    precision 0.500  recall 1.000" in result.stdout
    assert "  core but labelled irrelevant (1):\n    pubmed:2: Aspirin for headache\n" in result.stdout
    assert "[note: a pain trial]" in result.stdout
    assert result.stderr == "watcher: evaluate: core precision 0.500 is below 0.9\n"
    assert watcher("evaluate", "--fail-under", "0.5,1").returncode == 0


def test_evaluate_since_measures_only_the_labels_given_from_that_day_in_the_watch_zone(tmp_path, store, capsys):
    config = write_config(tmp_path, topics=TOPIC, timezone="America/Chicago")
    store.save_batch("pubmed", [(i, match(i, config.topics)) for i in (item(1), item(2), item(3, "Aspirin for fever"))], now=T0)
    store.add_labels([Label("pubmed:1", RELEVANT)], now=datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    # 05:00 UTC on the 24th is still the 23rd in Chicago (UTC-6): not "since the 24th" there.
    store.add_labels([Label("pubmed:3", RELEVANT, "fever and headache")], now=datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    store.add_labels([Label("pubmed:2", IRRELEVANT)], now=datetime(2026, 11, 24, 7, 0, tzinfo=UTC))

    assert run(config, "evaluate") == 0
    assert capsys.readouterr().out.startswith("3 labelled items (2 relevant, 1 irrelevant) from the labels in ")
    assert run(config, "evaluate", "--since", "2026-11-23") == 0
    out = capsys.readouterr().out
    assert out.startswith("2 labelled items (1 relevant, 1 irrelevant) from the labels in ")
    assert " given since 2026-11-23\n" in out.splitlines()[0] + "\n"
    assert run(config, "evaluate", "--since", "2026-11-24") == 0
    out = capsys.readouterr().out
    assert out.startswith("1 labelled items (0 relevant, 1 irrelevant)")
    assert "pubmed:3" not in out and "  core but labelled irrelevant (1):\n    pubmed:2: Aspirin for headache\n" in out

    assert run(config, "evaluate", "--since", "2026-11-25") == 2
    assert "nothing to evaluate: no labelled record given since 2026-11-25" in capsys.readouterr().err
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "Aspirin for headache", "label": "relevant"}) + "\n", encoding="utf-8")
    assert run(config, "evaluate", "--file", str(path), "--since", "2026-11-24") == 2
    assert "records of --file have no such day" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        run(config, "evaluate", "--since", "24/11/2026")
    assert caught.value.code == 2
    assert "'24/11/2026': write a day as YYYY-MM-DD" in capsys.readouterr().err
