"""How long merging works takes on a large store: `works_of` (read every item's identifiers and
group them), one week's digest view, publishing 20 weeks in every format (each also rewrites the
Atom feed over the weeks so far), and the JSON Lines export, for stores of N records.

    .venv/bin/python benchmarks/works.py [N ...]      # default: 1000 10000 50000

Each store is a real SQLite file in a temporary folder, filled through `Store.save_batch` with
synthetic records shaped like the real ones: PubMed records (a third naming a trial), Europe PMC
copies of half of them (same PMID, DOI in another case), preprints linked to a published
version, and trial registrations; spread over 20 weeks, 1 in 20 matching the topic.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.configs import write_config  # noqa: E402
from watcher.digest.publish import publish_due, publish_week  # noqa: E402
from watcher.digest.view import build_view  # noqa: E402
from watcher.export.items import write_jsonl  # noqa: E402
from watcher.model import Hit, Item, Match  # noqa: E402
from watcher.store import Store  # noqa: E402
from watcher.weeks import Week  # noqa: E402
from watcher.works import works_of  # noqa: E402

START = datetime(2026, 7, 6, 12, tzinfo=UTC)
ABSTRACT = "Background: ketamine for treatment-resistant depression. " * 20  # ~1 kB, as real abstracts


def records(n: int) -> list[tuple[int, Item]]:
    """(week offset, item) pairs, about n of them."""
    out: list[tuple[int, Item]] = []
    i = 0
    while len(out) < n:
        pmid, week = str(30_000_000 + i), i % 20
        trial = f"NCT{40_000_000 + i // 3:08d}" if i % 3 == 0 else None
        ids = (f"pmid:{pmid}", *([f"nct:{trial}"] if trial else []))
        out.append((week, Item(f"pubmed:{pmid}", "pubmed", f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/", f"Paper {i}",
                               ABSTRACT, doi=f"10.1000/P.{i}", identifiers=ids)))
        if i % 2 == 0:
            out.append((min(week + 1, 19), Item(f"europepmc:MED:{pmid}", "europepmc", "https://europepmc.org/", f"Paper {i}",
                                                 ABSTRACT, doi=f"10.1000/p.{i}", identifiers=(f"epmc:MED:{pmid}", f"pmid:{pmid}"))))
        if i % 7 == 0:
            out.append((max(week - 2, 0), Item(f"europepmc:PPR:PPR{i}", "europepmc", "https://europepmc.org/", f"Preprint {i}",
                                                ABSTRACT, publication_types=("Preprint",),
                                                identifiers=(f"epmc:PPR:PPR{i}", f"pmid:{pmid}"))))
        if trial and i % 9 == 0:
            out.append((week, Item(f"ctgov:{trial}", "clinicaltrials", "https://clinicaltrials.gov/", f"Trial {i}", ABSTRACT,
                                   identifiers=(f"nct:{trial}",))))
        i += 1
    return out[:n]


def fill(store: Store, n: int) -> None:
    hit = (Hit("any", "*", "title", "x"),)
    by_week: dict[int, list[Item]] = {}
    for week, item in records(n):
        by_week.setdefault(week, []).append(item)
    for week, items in sorted(by_week.items()):
        entries = [(item, Match(zlib.crc32(item.id.encode()) % 20 == 0, ("t",), hit)) for item in items]
        for start in range(0, len(entries), 500):
            store.save_batch(entries[start][0].source, entries[start : start + 500], now=START + timedelta(weeks=week))


def measure(n: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), topics={"t": {"groups": {"any": ["*"]}}})
        with Store.open(config.database) as store:
            fill(store, n)
            started = time.perf_counter()
            works = works_of(store)
            grouping = time.perf_counter() - started
            started = time.perf_counter()
            build_view(store, config, Week.containing(START + timedelta(weeks=10), config.timezone))
            view = time.perf_counter() - started
            started = time.perf_counter()
            caught = publish_due(store, config, now=START + timedelta(weeks=21))  # every week, as after downtime
            catch_up = time.perf_counter() - started
            weeks = len({r.week for r in caught})
            started = time.perf_counter()
            for w in range(20):
                publish_week(store, config, Week.containing(START + timedelta(weeks=w), config.timezone), now=START + timedelta(weeks=21))
            publish = time.perf_counter() - started
            started = time.perf_counter()
            write_jsonl(store, io.StringIO())
            export = time.perf_counter() - started
    return f"| {n:,} | {len(works):,} | {grouping:.2f} s | {view:.2f} s | {publish:.1f} s for 20 weeks | {catch_up:.1f} s for {weeks} weeks | {export:.2f} s |"


def main(sizes: list[int]) -> None:
    print("| records | works | works_of (read + group) | one week's view | publish each week alone (Markdown, HTML, Atom) | one catch-up of every week | export (JSON Lines) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        print(measure(n))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000, 50000])
