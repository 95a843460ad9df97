"""Would a learned ranker beat the tier rules? Cross-validated, on the same records.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/ranker_cv.py [--config feeds.yaml] [--folds 5] [--repeats 20]

A learned ranker is worth having only if it helps. This script measures it: logistic
regression over TF-IDF of title + abstract + MeSH + keywords (scikit-learn), trained and tested by
repeated stratified k-fold cross-validation on the labelled records the rules were tuned on
(../shared/corpus/relevance/dev.jsonl, dev2.jsonl's `tune` split, tests/relevance_cases.jsonl), and
only on the items the topic matched (the ranker would order and flag matched items, never drop or
add any). On each test fold it compares the ranker's verdict (relevant when p ≥ 0.5) with the
rules' core tier, and prints precision and recall of both, and the ranking quality (average
precision) of the ranker's probability against the rules' score. The frozen holdout is scored once
by a ranker trained on all the tuning records, for information only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_score, recall_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.config import load  # noqa: E402
from watcher.relevance.evaluate import Labelled, parse_labelled  # noqa: E402
from watcher.relevance.match import match  # noqa: E402


def corpus() -> Path:
    return Path(os.environ.get("WATCHER_CORPUS") or ROOT.parent / "shared" / "corpus") / "relevance"


def text(record: Labelled) -> str:
    item = record.item
    return " ".join([item.title, item.abstract or "", *item.mesh_headings, *item.keywords])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "feeds.yaml")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    config = load(args.config)
    sources = [s.name for s in config.sources]

    def read_file(path: Path, split: str | None = None, sources: list[str] | tuple[str, ...] = ()) -> list[Labelled]:
        return parse_labelled(path.read_text(encoding="utf-8"), str(path), split, sources)

    tune = (read_file(corpus() / "dev.jsonl") + read_file(corpus() / "dev2.jsonl", "tune")
            + read_file(ROOT / "tests" / "relevance_cases.jsonl", sources=sources))
    holdout = read_file(corpus() / "dev2.jsonl", "holdout")

    def matched(records: list[Labelled]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        kept = [(r, match(r.item, config.topics)) for r in records]
        kept = [(r, m) for r, m in kept if m.matched]
        return ([text(r) for r, _ in kept], np.array([r.relevant for r, _ in kept]),
                np.array([m.tier == "core" for _, m in kept]), np.array([m.score for _, m in kept]))

    texts, labels, core, score = matched(tune)
    print(f"tuning records: {len(tune)}, of which matched: {len(texts)} ({labels.sum()} relevant)")

    def model():
        return make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
                             LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000))

    folds = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=13)
    figures: dict[str, list[float]] = {k: [] for k in ("rules P", "rules R", "lr P", "lr R", "rules AP", "lr AP")}
    docs = np.array(texts, dtype=object)
    for train, test in folds.split(docs, labels):
        fitted = model().fit(list(docs[train]), labels[train])
        probability = fitted.predict_proba(list(docs[test]))[:, 1]
        guess = probability >= 0.5
        figures["rules P"].append(precision_score(labels[test], core[test], zero_division=0))
        figures["rules R"].append(recall_score(labels[test], core[test], zero_division=0))
        figures["lr P"].append(precision_score(labels[test], guess, zero_division=0))
        figures["lr R"].append(recall_score(labels[test], guess, zero_division=0))
        # Ranking: the rules order by tier, then score; the ranker by its probability.
        figures["rules AP"].append(average_precision_score(labels[test], core[test] + score[test]))
        figures["lr AP"].append(average_precision_score(labels[test], probability))
    print(f"{args.repeats}×{args.folds}-fold cross-validation on the matched tuning records (mean ± sd over folds):")
    for who in ("rules", "lr"):
        name = "tier rules (core)" if who == "rules" else "logistic regression, TF-IDF"
        line = "  ".join(f"{k.split()[1]} {np.mean(figures[k]):.3f} ± {np.std(figures[k]):.3f}" for k in figures if k.startswith(who))
        print(f"  {name:30} {line}")

    h_texts, h_labels, h_core, _ = matched(holdout)
    fitted = model().fit(texts, labels)
    guess = fitted.predict_proba(h_texts)[:, 1] >= 0.5
    print(f"frozen holdout, matched items ({len(h_texts)}, {h_labels.sum()} relevant), ranker trained on all tuning records:")
    print(f"  tier rules (core)              P {precision_score(h_labels, h_core):.3f}  R {recall_score(h_labels, h_core):.3f}")
    print(f"  logistic regression, TF-IDF    P {precision_score(h_labels, guess):.3f}  R {recall_score(h_labels, guess):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
