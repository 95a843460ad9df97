"""The workspace at size: a store of 100,000 items (a third of them matched) and 5,000 labels, then
the queue, an item, the claims' verdicts, a claim dossier, the annotated article and a search
answer, each timed through the whole request
(Flask's test client: routing, the view, the template) and as its view function alone, with the
ratio to a bare SQLite query of the same rows. Then a decision made while a poll's batches commit:
how long a 500-record batch holds the write lock, and how long a decision waits for it.

    .venv/bin/python benchmarks/workspace.py [--items 100000] [--labels 5000] [--repeat 15]

The claims and curated facts are the project's feeds.yaml's; records are synthetic, shaped like PubMed's (a title,
a 1 kB abstract, six authors from a pool of 20,000 names), stored through `Store.save_batch` (so the
search index is filled by its triggers, as a poll fills it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.configs import OFFLINE, openfda, pubmed, write_config  # noqa: E402
from watcher.config import Config  # noqa: E402
from watcher.model import CORE, RELATED, Hit, Item, Match  # noqa: E402
from watcher.relevance.labels import Label  # noqa: E402
from watcher.store import Store  # noqa: E402
from watcher.web import claims as claim_pages  # noqa: E402
from watcher.web import views  # noqa: E402
from watcher.web.app import create_app  # noqa: E402
from watcher.web.facets import Facets  # noqa: E402

START = datetime(2025, 1, 6, 12, tzinfo=UTC)
PAGE = "https://clinic.example/page"
WORDS = ["trial", "cohort", "patients", "adults", "dose", "response", "remission", "outcome", "placebo", "week", "month", "safety", "efficacy", "randomised", "controlled", "open", "label", "follow-up", "primary", "secondary", "analysis", "scale", "score", "baseline", "change"]
CLAIM_WORDS = ["sustained response", "relapse", "NMDA receptor", "glutamate", "weight gain", "appetite", "cortisol",
               "anxiety", "FDA approval", "label change", "synaptogenesis", "maintenance"]
SYLLABLES = ["ka", "lo", "mi", "ra", "to", "ve", "sun", "dar", "qui", "len", "bo", "zet", "ny", "ha", "pri", "gol"]


def surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).title()


def build(folder: Path, items: int, labels: int) -> tuple[Config, list[str]]:
    raw = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    # feeds.yaml's claims and facts (one claim is contradicted), the page a copy of the claims' sentences
    config = write_config(folder, [pubmed(), openfda(OFFLINE)], topics={"t": {"groups": {"any": ["*"]}}},
                          article={"url": PAGE, "claims": raw["article"]["claims"]}, regulatory=raw["regulatory"])
    page = "\n".join(f"Paragraph {n}. {c['text']}. " + " ".join(WORDS) for n, c in enumerate(raw["article"]["claims"]))
    rng = random.Random(20)
    names = sorted({f"{surname(rng)} {rng.choice('ABCDEFGHJKLMNPRSTW')}" for _ in range(20_000)})
    matched_ids = []
    with Store.open(config.database) as store:
        batch: list[tuple[Item, Match]] = []
        for i in range(items):
            matched = i % 3 == 0
            words = " ".join(rng.choice(WORDS) for _ in range(140))
            claim_text = rng.choice(CLAIM_WORDS) if matched and i % 2 == 0 else ""
            item = Item(f"pubmed:{30_000_000 + i}", "pubmed", f"https://pubmed.ncbi.nlm.nih.gov/{30_000_000 + i}/",
                        f"Study {i} of {rng.choice(WORDS)} and {rng.choice(WORDS)} {claim_text}".strip(),
                        f"{words} {claim_text}.", authors=tuple(rng.sample(names, 6)), date=f"2025-{1 + i % 12:02d}-01",
                        identifiers=(f"pmid:{30_000_000 + i}",), publication_types=("Journal Article",))
            match = Match(matched, ("t",) if matched else (), (Hit("any", "*", "title", "study"),) if matched else (),
                          (CORE if i % 9 else RELATED) if matched else None, 0.5, "")
            batch.append((item, match))
            if matched:
                matched_ids.append(item.id)
            if len(batch) == 500:
                store.save_batch("pubmed", batch, now=START + timedelta(minutes=i // 500))
                batch = []
        if batch:
            store.save_batch("pubmed", batch, now=START + timedelta(minutes=items // 500 + 1))
        store.save_snapshot("article", PAGE, {"url": PAGE, "text": page}, now=START)
        chosen = rng.sample(matched_ids, min(labels, len(matched_ids)))
        for start in range(0, len(chosen), 500):
            store.add_labels([Label(i, "relevant" if n % 3 else "irrelevant") for n, i in enumerate(chosen[start:start + 500])],
                             now=START + timedelta(days=30), user="bench")
    return config, names


def timed(run: Callable[[], object], repeat: int) -> float:
    run()  # warm: caches, SQLite's page cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bare(store: Store, ids: list[str]) -> Callable[[], object]:
    marks = ", ".join("?" * len(ids))
    return lambda: store.conn.execute(f"SELECT * FROM items WHERE id IN ({marks})", ids).fetchall()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config, names = build(Path(tmp), args.items, args.labels)
        print(f"store: {args.items:,} items ({args.items // 3:,} matched), {args.labels:,} labels, built in"
              f" {time.perf_counter() - started:.0f} s; {config.database.stat().st_size / 1e6:.0f} MB")
        store = Store.open(config.database)
        facets = Facets(claim_pages.claims_of(config))
        works = views.WorksCache(config)
        started = time.perf_counter()
        facets.refresh(store)
        print(f"once, in the background at start: claims and sections of every matched item {time.perf_counter() - started:.2f} s", end="")
        started = time.perf_counter()
        works.get(store)
        print(f", works grouped {time.perf_counter() - started:.2f} s", end="")
        evidence = claim_pages.EvidenceCache(config, facets, works)
        started = time.perf_counter()
        evidence.compute(store)
        print(f", the works bearing on each claim {time.perf_counter() - started:.2f} s (again after each write, in the background)")
        app = create_app(config, b"k" * 64, loopback=True)
        client = app.test_client()
        app.extensions["watcher_warm_up"].join()  # the app fills its own caches at start: not while timing
        queue = views.queue(store, config, facets, views.Filters())
        item_id = queue.cards[0].entry.id
        claim = max(facets.counts().items(), key=lambda kv: kv[1])[0]
        dossier = claim_pages.dossier(store, config, facets, evidence, claim)
        dossier_ids = [line.entry.item.id for g in dossier.groups for line in g.lines] if dossier else []
        bearing = {c: len(w) for c, w in evidence.get(store).bearing.items()}
        author = names[len(names) // 2].split()[0]
        found = views.search(store, config, facets, author)
        filtered = views.queue(store, config, facets, views.Filters(claim=claim))
        rows = [
            ("queue (50 newest undecided)", "/queue", lambda: views.queue(store, config, facets, views.Filters()),
             [c.entry.id for c in queue.cards]),
            (f"queue filtered by claim {claim}", f"/queue?claim={claim}",
             lambda: views.queue(store, config, facets, views.Filters(claim=claim)), [c.entry.id for c in filtered.cards]),
            ("an item", f"/item?id={item_id}", lambda: views.item(store, config, facets, works, item_id), [item_id]),
            (f"claims: every verdict ({sum(bearing.values()):,} works)", "/claims",
             lambda: claim_pages.overview(store, config, evidence), dossier_ids),
            (f"claim dossier {claim} ({bearing[claim]:,} works, page of 50)", f"/claims/{claim}",
             lambda: claim_pages.dossier(store, config, facets, evidence, claim), dossier_ids),
            ("the annotated article", "/article", lambda: claim_pages.article(store, config, evidence), dossier_ids),
            (f"search by an author ({len(found.cards)} found)", f"/search?q={author}",
             lambda: views.search(store, config, facets, author), [c.entry.id for c in found.cards]),
        ]
        print(f"\n{'':48} {'request':>9} {'view':>9} {'bare SQL':>9} {'request/bare':>13}")
        for name, path, view, ids in rows:
            whole = timed(lambda path=path: client.get(path), args.repeat)
            alone = timed(view, args.repeat)
            reference = timed(bare(store, ids), args.repeat)
            print(f"{name:48} {whole * 1000:7.1f}ms {alone * 1000:7.1f}ms {reference * 1000:7.2f}ms {whole / reference:12.0f}x")
        started = time.perf_counter()
        client.get(f"/claims/{claim}?page=2")
        print(f"a dossier page seen for the first time (its 50 references rendered, then kept):"
              f" {(time.perf_counter() - started) * 1000:.0f} ms")
        app.extensions["watcher_stores"].close()
        contention(store, config)
        store.close()
    return 0


def contention(store: Store, config: Config) -> None:
    """A poll's batches (500 new records each) committing in another connection, and a decision
    every 20 ms in this one: how long each batch holds the write lock, how long each decision takes.
    Once with the batches back to back (the worst case), once with 100 ms between them (a real
    poll fetches the next batch between two commits: an efetch of 500 records takes longer)."""
    ids = [r[0] for r in store.conn.execute("SELECT id FROM items WHERE matched = 1 LIMIT 2000")]
    print()
    for gap in (0.0, 0.1):
        holds: list[float] = []
        done = threading.Event()

        def poll(gap: float = gap, holds: list[float] = holds, done: threading.Event = done) -> None:
            writer = Store.open(config.database)
            for b in range(12):
                batch = [(Item(f"bench:{gap}:{b}:{n}", "bench", "https://example.org/", f"Batch {b} record {n}", "text " * 200,
                               authors=("Roe J",)), Match(True, ("t",), (), CORE, 0.5, "")) for n in range(500)]
                started = time.perf_counter()
                writer.save_batch("bench", batch, now=datetime.now(UTC))
                holds.append(time.perf_counter() - started)
                time.sleep(gap)
            writer.close()
            done.set()

        waits: list[float] = []
        thread = threading.Thread(target=poll)
        thread.start()
        n = 0
        while not done.is_set():
            started = time.perf_counter()
            store.decide(ids[n % len(ids)], "relevant", user="bench", now=datetime.now(UTC))
            waits.append(time.perf_counter() - started)
            n += 1
            time.sleep(0.02)
        thread.join()
        print(f"during a poll ({'batches back to back' if not gap else f'{gap * 1000:.0f} ms between batches'}):"
              f" a 500-record batch holds the write lock {statistics.median(holds) * 1000:.0f} ms (median),"
              f" {max(holds) * 1000:.0f} ms (longest); {len(waits)} decisions took {statistics.median(waits) * 1000:.1f} ms"
              f" (median), {max(waits) * 1000:.0f} ms (longest)")


if __name__ == "__main__":
    sys.exit(main())
