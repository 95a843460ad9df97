"""Precision and recall of the feeds.yaml topics on labelled relevance sets.

    .venv/bin/python benchmarks/relevance.py [--config feeds.yaml] [--why] [--ablate] [FILE.jsonl ...]

Without files it evaluates:
  - dev:      ../shared/corpus/relevance/dev.jsonl (real ClinicalTrials.gov records; or $WATCHER_CORPUS)
  - cases:    tests/relevance_cases.jsonl (hand-written), overall and per `split` (tune / holdout)
  - pubmed:   the real PubMed records in ../shared/corpus/pubmed/*.expected.json, all labelled
              irrelevant (none is about ketamine): a check on false positives only.
Each record needs `title` and `label` (relevant|irrelevant); `abstract`, `mesh_headings`, `keywords`
and `source` (a feeds.yaml source name, for topics limited to some sources) are optional. Prints the confusion counts and the lists of false positives and false negatives
(with `--why`, the filter's explanation for every error). `--ablate` also shows what each rule kind
buys: the same sets scored with one rule kind switched off at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.filter import Topic, compile_topics, explain, match  # noqa: E402
from watcher.model import Item  # noqa: E402


def corpus_root() -> Path:
    configured = os.environ.get("WATCHER_CORPUS")
    return Path(configured) if configured else ROOT.parent / "shared" / "corpus"


def load_topics(path: Path) -> tuple[Topic, ...]:
    return compile_topics(yaml.safe_load(path.read_text(encoding="utf-8"))["topics"])


def to_item(record: dict) -> Item:
    return Item(
        id=str(record.get("id") or record.get("pmid")),
        source=record.get("source") or "bench",
        url="",
        title=record.get("title") or "",
        abstract=record.get("abstract") or None,
        mesh_headings=tuple(record.get("mesh_headings") or ()),
        keywords=tuple(record.get("keywords") or ()),
    )


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pubmed_records(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.expected.json")):
        for article in json.loads(path.read_text(encoding="utf-8")).get("articles", []):
            records.append({**article, "id": f"pubmed:{article.get('pmid')}", "label": "irrelevant"})
    return records


@dataclass
class Score:
    name: str
    tp: list[dict] = field(default_factory=list)
    fp: list[dict] = field(default_factory=list)
    fn: list[dict] = field(default_factory=list)
    tn: list[dict] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        kept = len(self.tp) + len(self.fp)
        return len(self.tp) / kept if kept else None

    @property
    def recall(self) -> float | None:
        relevant = len(self.tp) + len(self.fn)
        return len(self.tp) / relevant if relevant else None


def evaluate(name: str, records: list[dict], topics: tuple[Topic, ...]) -> Score:
    score = Score(name)
    for record in records:
        kept = match(to_item(record), topics).matched
        relevant = record["label"] == "relevant"
        {(True, True): score.tp, (True, False): score.fp, (False, True): score.fn, (False, False): score.tn}[
            (kept, relevant)
        ].append(record)
    return score


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(score: Score, topics: tuple[Topic, ...], why: bool) -> None:
    n = len(score.tp) + len(score.fp) + len(score.fn) + len(score.tn)
    print(
        f"{score.name}: n={n}  TP={len(score.tp)} FP={len(score.fp)} FN={len(score.fn)} TN={len(score.tn)}"
        f"  precision={fmt(score.precision)} recall={fmt(score.recall)}"
    )
    for kind, records in (("false positive", score.fp), ("false negative", score.fn)):
        for r in records:
            print(f"  {kind}: {r['id']}: {r['title'][:100]}")
            if r.get("reason"):
                print(f"      label reason: {r['reason']}")
            if why:
                for topic in topics:
                    print(f"      {explain(to_item(r), topic).why()}")


def ablations(topics: tuple[Topic, ...]) -> list[tuple[str, tuple[Topic, ...]]]:
    """The configured topics with one rule kind switched off at a time, and with all of them off."""

    def plain_groups(t: Topic, names: set[str] | None = None) -> Topic:
        groups = tuple(
            dataclasses.replace(g, min_hits=1, enough_in=frozenset()) if names is None or g.name in names else g
            for g in t.groups
        )
        return dataclasses.replace(t, groups=groups)

    variants = [("as configured", topics)]
    for name in dict.fromkeys(g.name for t in topics for g in t.groups if g.min_hits > 1):
        variants.append((f"without min_hits on group {name!r}", tuple(plain_groups(t, {name}) for t in topics)))
    variants.append(("without false_friends", tuple(dataclasses.replace(t, false_friend_regex=None) for t in topics)))
    variants.append(("without exclude", tuple(dataclasses.replace(t, excludes=()) for t in topics)))
    variants.append((
        "groups only (naive)",
        tuple(dataclasses.replace(plain_groups(t), false_friend_regex=None, excludes=()) for t in topics),
    ))
    return variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="JSON Lines files of labelled records")
    parser.add_argument("--config", type=Path, default=ROOT / "feeds.yaml")
    parser.add_argument("--why", action="store_true", help="explain each false positive and false negative")
    parser.add_argument("--ablate", action="store_true", help="score with one rule kind switched off at a time")
    args = parser.parse_args(argv)
    topics = load_topics(args.config)

    sets: list[tuple[str, list[dict]]] = []
    if args.files:
        sets = [(str(p), read_jsonl(p)) for p in args.files]
    else:
        dev = corpus_root() / "relevance" / "dev.jsonl"
        if dev.is_file():
            sets.append(("dev (real ClinicalTrials.gov, shared corpus)", read_jsonl(dev)))
        else:
            print(f"(dev set not found at {dev}: set WATCHER_CORPUS)")
        cases = read_jsonl(ROOT / "tests" / "relevance_cases.jsonl")
        sets.append(("cases (hand-written, all)", cases))
        for split in sorted({c.get("split", "") for c in cases} - {""}):
            sets.append((f"cases, split={split}", [c for c in cases if c.get("split") == split]))
        pubmed = corpus_root() / "pubmed"
        if pubmed.is_dir():
            sets.append(("pubmed corpus (real, none about ketamine: FP check only)", pubmed_records(pubmed)))

    for name, records in sets:
        report(evaluate(name, records, topics), topics, args.why)
        print()

    if args.ablate:
        print("ablation (precision / recall [FP, FN] per set):")
        for label, variant in ablations(topics):
            cells = []
            for name, records in sets:
                sc = evaluate(name, records, variant)
                cells.append(f"{name.split(' (')[0]}: {fmt(sc.precision)}/{fmt(sc.recall)} [{len(sc.fp)}, {len(sc.fn)}]")
            print(f"  {label:36} " + "  ".join(cells))
        print()

    # Speed: the poll runs the filter on thousands of items.
    records = [r for _, rs in sets for r in rs]
    items = [to_item(r) for r in records] * max(1, 5000 // max(1, len(records)))
    start = time.perf_counter()
    for item in items:
        match(item, topics)
    elapsed = time.perf_counter() - start
    print(f"speed: {len(items)} items in {elapsed:.2f} s ({len(items) / elapsed:,.0f} items/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
