"""`watcher evaluate`: precision and recall of the core tier and of all matched items, per topic
and for the watch, a confusion table, every disagreement; --fail-under for CI; --file for labelled
records outside the store. Also the default topic measured on the shared labelled sets, beside the
naive baseline whose figures ../shared/corpus/relevance/SOURCES.md gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from watcher.cli import main
from watcher.config import load
from watcher.errors import UsageError
from watcher.model import Item
from watcher.relevance.evaluate import (
    ALL,
    CORE_BUT_IRRELEVANT,
    KINDS,
    NOT_MATCHED_BUT_RELEVANT,
    RELATED_BUT_RELEVANT,
    Labelled,
    below,
    evaluate,
    labelled_since,
    parse_labelled,
    render,
)
from watcher.relevance.topics import compile_topics

TOPICS = compile_topics({
    "headache": {
        "groups": {"drug": ["aspirin"], "condition": ["headache*"]},
        "tiers": {"rules": [{"related": "the title names another indication", "title": ["fever"]}]},
    },
    "brand": {"groups": {"brand": ["Aspro"]}},
})


def read_file(path: Path, split: str | None = None, sources=()) -> list[Labelled]:
    """A labelled JSON Lines file, read here: the relevance package parses text and reads no file."""
    return parse_labelled(path.read_text(encoding="utf-8"), str(path), split, sources)


def labelled(n: int, title: str, relevant: bool, abstract: str | None = None, note: str = "") -> Labelled:
    return Labelled(Item(id=f"x:{n}", source="test", url="", title=title, abstract=abstract), relevant, note)


RECORDS = [
    labelled(1, "Aspirin for headache", True),  # core, relevant
    labelled(2, "Aspirin for headache in children", False, note="about dosing"),  # core, irrelevant
    labelled(3, "Aspirin for fever", True, "Headache fell."),  # related, relevant
    labelled(4, "Aspirin for fever", False, "Headache too."),  # related, irrelevant
    labelled(5, "Headache diaries", True),  # not matched, relevant
    labelled(6, "Cardiology", False),  # not matched, irrelevant
    labelled(7, "Aspro for fever", True),  # the brand topic makes it core
]


def test_figures_per_topic_and_for_the_watch():
    result = evaluate(RECORDS, TOPICS)
    headache, brand, overall = result.figures
    assert (headache.topic, brand.topic, overall.topic) == ("headache", "brand", ALL)
    assert headache.table == {("core", True): 1, ("core", False): 1, ("related", True): 1, ("related", False): 1,
                              ("not matched", True): 2, ("not matched", False): 1}
    assert headache.core == (0.5, 0.25) and headache.matched == (0.5, 0.5)
    assert brand.core == (1.0, 0.25)
    assert overall.core == (2 / 3, 0.5)  # x:1 and x:7 of 4 relevant; x:2 wrongly core
    assert overall.matched == (3 / 5, 0.75)
    assert (result.total, result.relevant) == (7, 4)


def test_every_disagreement_of_the_core_tier_is_listed_with_why():
    result = evaluate(RECORDS, TOPICS)
    assert [(j.labelled.item.id, j.tier) for j in result.disagreements] == [
        ("x:2", "core"), ("x:3", "related"), ("x:5", "not matched")]
    why = {j.labelled.item.id: j.why for j in result.disagreements}
    assert why["x:3"].startswith("the title names another indication: fever (score ")
    assert why["x:5"] == "headache: no drug; brand: no brand"
    assert why["x:2"].startswith("no related rule holds (score ")


def test_disagreements_are_grouped_by_kind():
    extra = [labelled(8, "Aspirin for fever", True, "Headache."), labelled(9, "Aspirin and headache", False)]
    groups = evaluate(RECORDS + extra, TOPICS).by_kind()
    assert list(groups) == list(KINDS)
    assert {kind: [j.labelled.item.id for j in group] for kind, group in groups.items()} == {
        RELATED_BUT_RELEVANT: ["x:3", "x:8"], CORE_BUT_IRRELEVANT: ["x:2", "x:9"], NOT_MATCHED_BUT_RELEVANT: ["x:5"]}
    assert evaluate(RECORDS[:1], TOPICS).by_kind() == {kind: [] for kind in KINDS}  # no disagreement, no group


def test_labelled_since_keeps_labels_given_from_that_moment():
    records = [Labelled(Item(id=f"x:{n}", source="test", url="", title="T"), True, at=at)
               for n, at in enumerate(["2026-11-01T00:00:00Z", "2026-11-24T06:00:00Z", "2026-11-30T23:59:59Z", None])]
    assert [r.item.id for r in labelled_since(records, "2026-11-24T06:00:00Z")] == ["x:1", "x:2"]
    assert labelled_since(records, "2026-12-01T00:00:00Z") == []


def test_render_prints_the_confusion_table_figures_and_disagreements():
    text = render(evaluate(RECORDS, TOPICS, "a test"))
    assert text.startswith("7 labelled items (4 relevant, 3 irrelevant) from a test\n")
    assert "topic headache\n                relevant  irrelevant\n  core                 1           1\n" in text
    assert "  related              1           1\n  not matched          2           1\n" in text
    assert "  core tier:    precision 0.500  recall 0.250\n  all matched:  precision 0.500  recall 0.500\n" in text
    assert "disagreements with the labels (core tier, all topics): 3\n" in text
    # Grouped by kind, each with its count, then each record with its reason (and the editor's note).
    assert text.endswith(
        "  related but labelled relevant (1):\n    x:3: Aspirin for fever\n"
        "        why: the title names another indication: fever (score 0.31; terms: aspirin, headache*)\n"
        "  core but labelled irrelevant (1):\n    x:2: Aspirin for headache in children\n"
        "        why: no related rule holds (score 0.47; terms: aspirin, headache*) [note: about dosing]\n"
        "  not matched but labelled relevant (1):\n    x:5: Headache diaries\n"
        "        why: headache: no drug; brand: no brand\n")


def test_below_names_each_figure_under_the_bar():
    result = evaluate(RECORDS, TOPICS)
    assert below(result, 0.6, 0.5) == []
    assert below(result, 0.7, 0.6) == ["core precision 0.667 is below 0.7", "core recall 0.500 is below 0.6"]
    assert below(evaluate([labelled(1, "Cardiology", False)], TOPICS), 0, 0) == [
        "core precision n/a is below 0", "core recall n/a is below 0"]  # nothing to measure is no pass


# ------------------------------------------------------------------ files


def jsonl(tmp_path: Path, *records: dict, name: str = "set.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_read_file_picks_a_split_and_uses_known_source_names(tmp_path):
    path = jsonl(tmp_path,
                 {"id": "a", "title": "T", "label": "relevant", "split": "tune", "source": "fda-press", "keywords": ["k"]},
                 {"id": "b", "title": "T", "label": "irrelevant", "split": "holdout", "source": "repo@abc:file",
                  "abstract": "A", "mesh_headings": ["M"]})
    everything = read_file(path, sources=["fda-press"])
    assert [(r.item.id, r.item.source, r.relevant) for r in everything] == [("a", "fda-press", True), ("b", "evaluate", False)]
    assert (everything[0].item.keywords, everything[1].item.mesh_headings) == (("k",), ("M",))
    assert [r.item.id for r in read_file(path, "holdout")] == ["b"]


@pytest.mark.parametrize(("line", "words"), [
    ("not json", "line 2: not JSON"),
    ("[1]", "line 2: must be a JSON object"),
    ('{"id": "b", "label": "relevant"}', "line 2: `title` must be non-empty text"),
    ('{"id": "b", "title": "T", "label": "yes"}', "line 2: `label` must be relevant or irrelevant, not 'yes'"),
    ('{"id": "b", "title": "T", "label": "relevant", "keywords": "k"}', "line 2: `keywords` must be a list of text"),
    ('{"id": "b", "title": "T", "label": "relevant", "abstract": 5}', "line 2: `abstract` must be text"),
])
def test_file_errors_name_the_line(tmp_path, line, words):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "title": "T", "label": "relevant"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        read_file(path)
    assert str(caught.value).startswith(f"{path} {words}")


# ------------------------------------------------------------------ the command (in process)


def test_evaluate_file_needs_no_database_and_fail_under_sets_the_exit_code(tmp_path, capsys):
    config = PROJECT_ROOT / "feeds.yaml"
    database = load(config).database
    existed = database.exists()
    path = jsonl(tmp_path,
                 {"id": "a", "title": "Esketamine nasal spray for treatment-resistant depression", "label": "relevant"},
                 {"id": "b", "title": "Ketamine for depression in adults", "label": "irrelevant"})
    assert main(["--config", str(config), "evaluate", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "core tier:    precision 0.500  recall 1.000" in out
    assert "  core but labelled irrelevant (1):\n    b: Ketamine for depression in adults\n" in out
    assert main(["--config", str(config), "evaluate", "--file", str(path), "--fail-under", "0.5,1"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "evaluate", "--file", str(path), "--fail-under", "0.95,0.95"]) == 1
    assert capsys.readouterr().err == "watcher: evaluate: core precision 0.500 is below 0.95\n"
    assert database.exists() == existed  # no database opened, none made
    assert main(["--config", str(config), "evaluate", "--file", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0.95", "high,low", "1.5,0.9"])
def test_a_bad_fail_under_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(PROJECT_ROOT / "feeds.yaml"), "evaluate", "--fail-under", bad])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("watcher: error: argument --fail-under: ") and ("PRECISION,RECALL" in err or "from 0 to 1" in err)


# ------------------------------------------------------------------ the project's own cases: what CI checks


def test_the_default_topic_passes_the_bar_ci_sets_on_the_projects_own_cases(capsys):
    # .ci/run runs the same command; the bar is the aim for the core tier.
    args = ["--config", str(PROJECT_ROOT / "feeds.yaml"), "evaluate", "--fail-under", "0.95,0.95",
            "--file", str(PROJECT_ROOT / "tests" / "relevance_cases.jsonl")]
    assert main(args) == 0, capsys.readouterr().out
    assert (PROJECT_ROOT / ".ci" / "run").read_text().count("evaluate --fail-under 0.95,0.95") == 1


# ------------------------------------------------------------------ the shared labelled sets (real records)


def shared(corpus_dir: Path, name: str) -> Path:
    path = corpus_dir / "relevance" / name
    if not path.is_file():
        pytest.skip(f"labelled set not found at {path}")
    return path


def figures(config: Path, records: list[Labelled]) -> tuple[int, int, int, int]:
    """TP, FP, FN, TN of the core tier, for the watch as a whole."""
    overall = evaluate(records, load(config).topics).overall
    tp, fp = overall.count(["core"], True), overall.count(["core"], False)
    return tp, fp, overall.count(["related", "not matched"], True), overall.count(["related", "not matched"], False)


NAIVE = PROJECT_ROOT / "benchmarks" / "naive-baseline.yaml"


def test_the_naive_baseline_reproduces_the_figures_of_the_shared_sources_md(corpus_dir):
    dev, dev2, dev3 = shared(corpus_dir, "dev.jsonl"), shared(corpus_dir, "dev2.jsonl"), shared(corpus_dir, "dev3.jsonl")
    assert figures(NAIVE, read_file(dev)) == (7, 1, 0, 11)
    assert figures(NAIVE, read_file(dev2)) == (39, 16, 1, 41)  # after the dev3 relabel of PMID:41873584
    assert figures(NAIVE, read_file(dev2, "tune")) == (23, 10, 0, 25)
    assert figures(NAIVE, read_file(dev2, "holdout")) == (16, 6, 1, 16)
    assert figures(NAIVE, read_file(dev) + read_file(dev2, "tune")) == (30, 11, 0, 36)
    assert figures(NAIVE, read_file(dev3)) == (28, 14, 2, 10)
    assert figures(NAIVE, read_file(dev3, "tune")) == (16, 8, 2, 6)
    assert figures(NAIVE, read_file(dev3, "holdout")) == (12, 6, 0, 4)
    assert figures(NAIVE, read_file(dev) + read_file(dev2, "tune") + read_file(dev3, "tune")) == (46, 19, 2, 42)


def test_the_default_topic_on_the_records_it_was_tuned_on(corpus_dir):
    records = (read_file(shared(corpus_dir, "dev.jsonl")) + read_file(shared(corpus_dir, "dev2.jsonl"), "tune")
               + read_file(shared(corpus_dir, "dev3.jsonl"), "tune"))
    result = evaluate(records, load(PROJECT_ROOT / "feeds.yaml").topics)
    # 45 of 48 relevant in the core tier, no false positive. The three missed: two records that never
    # name the condition (not matched) and a PTSD trial whose stated aim includes depression (related);
    # docs/relevance.md says why no rule was written for them.
    assert figures(PROJECT_ROOT / "feeds.yaml", records) == (45, 0, 3, 61)
    assert result.overall.core == (1.0, 45 / 48)
    assert result.overall.matched[1] == 46 / 48


@pytest.mark.parametrize(("name", "tp", "fp", "fn", "tn"), [("dev2.jsonl", 16, 2, 1, 20), ("dev3.jsonl", 12, 2, 0, 8)])
def test_the_default_topic_on_the_frozen_holdouts(corpus_dir, name, tp, fp, fn, tn):
    # Measured, never tuned on: the figures docs/relevance.md reports (short of the 0.95 aim there).
    # A change that lowers them fails here; one that raises them asks for this pin and the docs to follow.
    records = read_file(shared(corpus_dir, name), "holdout")
    assert figures(PROJECT_ROOT / "feeds.yaml", records) == (tp, fp, fn, tn)
    result = evaluate(records, load(PROJECT_ROOT / "feeds.yaml").topics)
    assert result.overall.matched[1] == 1.0  # nothing relevant is dropped
