"""How well the topics agree with editors' labels: precision and recall of the core tier and of all
matched items, per topic and for the watch as a whole, with every disagreement grouped by kind.

Labelled records come from the store (`watcher label`, optionally only those given since a day) or
from JSON Lines files (`--file`). Each is matched afresh with the topics of the current feeds.yaml,
so a change to a topic is measured before staff see it. Shared by `watcher evaluate` and CI (`.ci/run`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..model import CORE, RELATED, Item, Match
from ..text import plain, shorten
from .labels import IRRELEVANT, RELEVANT
from .match import explain, match
from .topics import Topic

ALL = "all topics"  # the watch's own verdict: an item is core when any topic finds it core
NOT_MATCHED = "not matched"
ROWS = (CORE, RELATED, NOT_MATCHED)
# The kinds of disagreement of the core tier with the labels, in the order they are printed.
RELATED_BUT_RELEVANT = "related but labelled relevant"
CORE_BUT_IRRELEVANT = "core but labelled irrelevant"
NOT_MATCHED_BUT_RELEVANT = "not matched but labelled relevant"
KINDS = (RELATED_BUT_RELEVANT, CORE_BUT_IRRELEVANT, NOT_MATCHED_BUT_RELEVANT)
FILE_SOURCE = "evaluate"  # the source name of records read from a file (topics limited to sources skip them)
TITLE_CHARS = 90


@dataclass(frozen=True, slots=True)
class Labelled:
    item: Item
    relevant: bool
    note: str = ""
    at: str | None = None  # when the label was given (UTC stamp of the store); None: not known (a file)


@dataclass(frozen=True, slots=True)
class Judged:
    labelled: Labelled
    tier: str  # CORE | RELATED | NOT_MATCHED
    why: str

    @property
    def kind(self) -> str:
        """Which of KINDS this disagreement is."""
        if not self.labelled.relevant:
            return CORE_BUT_IRRELEVANT
        return RELATED_BUT_RELEVANT if self.tier == RELATED else NOT_MATCHED_BUT_RELEVANT


@dataclass(slots=True)
class Figures:
    """One topic's (or the watch's) verdicts against the labels."""

    topic: str
    table: dict[tuple[str, bool], int] = field(default_factory=dict)  # (tier row, relevant) → count

    def add(self, tier: str, relevant: bool) -> None:
        self.table[(tier, relevant)] = self.table.get((tier, relevant), 0) + 1

    def count(self, tiers: Iterable[str], relevant: bool) -> int:
        return sum(self.table.get((t, relevant), 0) for t in tiers)

    def precision(self, tiers: Sequence[str]) -> float | None:
        kept = self.count(tiers, True) + self.count(tiers, False)
        return self.count(tiers, True) / kept if kept else None

    def recall(self, tiers: Sequence[str]) -> float | None:
        relevant = self.count(ROWS, True)
        return self.count(tiers, True) / relevant if relevant else None

    @property
    def core(self) -> tuple[float | None, float | None]:
        return self.precision((CORE,)), self.recall((CORE,))

    @property
    def matched(self) -> tuple[float | None, float | None]:
        return self.precision((CORE, RELATED)), self.recall((CORE, RELATED))


@dataclass(frozen=True, slots=True)
class Evaluation:
    source: str  # where the labels came from, for the printout
    total: int
    relevant: int
    figures: tuple[Figures, ...]  # per topic, then ALL
    disagreements: tuple[Judged, ...]  # the watch's core tier against the labels

    @property
    def overall(self) -> Figures:
        return self.figures[-1]

    def by_kind(self) -> dict[str, list[Judged]]:
        """The disagreements grouped by kind, in the order of KINDS (every kind present, maybe empty)."""
        groups: dict[str, list[Judged]] = {kind: [] for kind in KINDS}
        for judged in self.disagreements:
            groups[judged.kind].append(judged)
        return groups


def labelled_since(records: Iterable[Labelled], since: str) -> list[Labelled]:
    """The records labelled at or after `since` (a UTC stamp as the store writes them, which sorts as
    time does); a record with no label time is left out."""
    return [r for r in records if r.at is not None and r.at >= since]


def evaluate(records: Sequence[Labelled], topics: Sequence[Topic], source: str = "") -> Evaluation:
    per_topic = [Figures(t.name) for t in topics]
    overall = Figures(ALL)
    disagreements = []
    for record in records:
        for topic, figures in zip(topics, per_topic, strict=True):
            result = explain(record.item, topic)
            figures.add(result.tier if result.matched and result.tier else NOT_MATCHED, record.relevant)
        verdict = match(record.item, topics)
        tier = verdict.tier if verdict.matched and verdict.tier else NOT_MATCHED
        overall.add(tier, record.relevant)
        if (tier == CORE) != record.relevant:
            disagreements.append(Judged(record, tier, why(record.item, topics, verdict)))
    relevant = sum(r.relevant for r in records)
    return Evaluation(source, len(records), relevant, (*per_topic, overall), tuple(disagreements))


def why(item: Item, topics: Sequence[Topic], verdict: Match) -> str:
    """A short account of the verdict: the tier's reason, or what each applicable topic lacked."""
    if verdict.matched:
        terms = ", ".join(verdict.terms[:6])
        return f"{verdict.reason or 'no related rule holds'} (score {verdict.score:.2f}; terms: {terms})"
    lacks = []
    for topic in topics:
        result = explain(item, topic)
        if result.skipped_source is not None:
            continue
        missing = [g.name for g in result.groups if not g.satisfied]
        excluded = ", ".join(dict.fromkeys(h.text for h in result.excluded_by))
        lacks.append(f"{topic.name}: " + (f"excluded by {excluded}" if excluded else f"no {'/'.join(missing)}"))
    return "; ".join(lacks) or "no topic applies to its source"


def below(evaluation: Evaluation, precision: float, recall: float) -> list[str]:
    """Why the watch's core tier is under the bar, one line per figure; empty when it is not."""
    found_p, found_r = evaluation.overall.core
    out = []
    if found_p is None or found_p < precision:
        out.append(f"core precision {fmt(found_p)} is below {precision:g}")
    if found_r is None or found_r < recall:
        out.append(f"core recall {fmt(found_r)} is below {recall:g}")
    return out


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render(evaluation: Evaluation) -> str:
    """The report `watcher evaluate` prints."""
    lines = [
        f"{evaluation.total} labelled items ({evaluation.relevant} relevant, {evaluation.total - evaluation.relevant}"
        f" irrelevant){' from ' + evaluation.source if evaluation.source else ''}",
    ]
    for figures in evaluation.figures:
        title = f"topic {figures.topic}" if figures.topic != ALL else f"{ALL} (core when any topic finds it core)"
        lines += ["", title, f"  {'':12} {'relevant':>9} {'irrelevant':>11}"]
        for row in ROWS:
            lines.append(f"  {row:12} {figures.table.get((row, True), 0):>9} {figures.table.get((row, False), 0):>11}")
        (cp, cr), (mp, mr) = figures.core, figures.matched
        lines.append(f"  core tier:    precision {fmt(cp)}  recall {fmt(cr)}")
        lines.append(f"  all matched:  precision {fmt(mp)}  recall {fmt(mr)}")
    lines += ["", f"disagreements with the labels (core tier, {ALL}): {len(evaluation.disagreements)}"]
    for kind, group in evaluation.by_kind().items():
        if not group:
            continue
        lines.append(f"  {kind} ({len(group)}):")
        for judged in group:
            note = f" [note: {shorten(judged.labelled.note, 120)}]" if judged.labelled.note else ""
            # Ids, titles and reasons come from upstream text: one visible line each on the terminal.
            lines.append(f"    {plain(judged.labelled.item.id)}: {shorten(judged.labelled.item.title, TITLE_CHARS)}")
            lines.append(f"        why: {plain(judged.why)}{note}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- labelled records from a file


def parse_labelled(text: str, name: str, split: str | None = None, sources: Collection[str] = ()) -> list[Labelled]:
    """Labelled records from the JSON Lines text of the file `name`: `id`, `title`, `label`; optional
    `abstract`, `mesh_headings`, `keywords`, `split` (to pick one part) and `source`: when it names one
    of `sources` (feeds.yaml's), topics limited to that source judge the record. Raises UsageError
    naming the file and line."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise UsageError(f"{where}: must be a JSON object with id, title and label")
        if split is not None and raw.get("split") != split:
            continue
        records.append(record_from(raw, where, sources))
    return records


def record_from(raw: dict[str, Any], where: str, sources: Collection[str] = ()) -> Labelled:
    for key in ("id", "title"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise UsageError(f"{where}: `{key}` must be non-empty text")
    label = raw.get("label")
    if label not in (RELEVANT, IRRELEVANT):
        raise UsageError(f"{where}: `label` must be {RELEVANT} or {IRRELEVANT}, not {label!r}")
    abstract = raw.get("abstract")
    if abstract is not None and not isinstance(abstract, str):
        raise UsageError(f"{where}: `abstract` must be text")
    lists = {}
    for key in ("mesh_headings", "keywords"):
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where}: `{key}` must be a list of text")
        lists[key] = tuple(value)
    source = raw["source"] if raw.get("source") in sources else FILE_SOURCE  # else, e.g., a corpus's provenance
    item = Item(id=raw["id"], source=source, url="", title=raw["title"], abstract=abstract or None,
                mesh_headings=lists["mesh_headings"], keywords=lists["keywords"])
    return Labelled(item, label == RELEVANT, str(raw.get("note") or ""))
