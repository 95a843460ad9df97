"""Benchmark: E-utilities requests per poll, and the wall time of a whole poll, for N new records;
then, in the same run, the poll's records/s beside the parser's, a bare lxml walk's and the filter's.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/pubmed_requests.py                 # N = 1, 500, 5000, 12000
    .venv/bin/python benchmarks/pubmed_requests.py --counts 1,20000

Each N runs the real `watcher.poll.poll` (esearch → efetch batches → parse → filter → SQLite) against
the tests' E-utilities stand-in (tests/upstreams/eutils.py on the stand-in server bound to
127.0.0.1), with a fresh database and a config written to a temporary directory (tests/configs.py). The N records are
real corpus records (as in pubmed_parse.py) under distinct PMIDs, spread evenly over the 31 days of
the first poll's window (lookback_days 30). The topics are those of the project's feeds.yaml, so the
filter does its real work. `sleep` is a no-op, so NCBI's 3 requests/s pacing does not slow the
measurement; the table shows how long the pacing would have waited.

Expected requests: 1 esearch + ceil(N / batch) efetch. esearch cannot page past 9,999 ids, so a
larger window is split in halves, each with its own esearch and its own efetch batches.

Stages (for the largest N, after the polls, in the same process, so that the machine's load is the
same for all): the parser alone (`iter_efetch` over the same N records in memory), the bare lxml
walk (`iterparse`, count, clear: the floor of any lxml parser), and the filter alone (`match` with
the same topics over the N parsed items); and the filter on the labelled records of the corpus and
tests/relevance_cases.jsonl, most of which match, so that the tier rules run too.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import math
import pstats
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
for folder in (PROJECT_ROOT, PROJECT_ROOT / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from pubmed_parse import FOOTER, HEADER, corpus_root, renumbered, table, templates  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LOOKBACK_DAYS = 30
ESEARCH_CAP = 9999
NCBI_RATE = 3.0  # requests/s without an api_key, as PubmedSource.build sets it

# Used only when the project's feeds.yaml cannot be read: a small topic of the same kind.
FALLBACK_TOPICS: dict[str, Any] = {
    "ketamine_depression": {
        "groups": {
            "drug": {"terms": ["ketamine", "esketamine", "Spravato"], "min_hits": 2, "enough_in": ["title", "keywords", "mesh_headings"]},
            "condition": ["depress*", "antidepress*", "suicid*", "MDD", "TRD"],
        },
        "false_friends": ["respiratory depress*", "CNS depress*"],
    }
}


def project_topics(path: Path, source: str = "pubmed") -> tuple[dict[str, Any], str]:
    """The `topics` of feeds.yaml that judge items of `source`, as production applies them.

    The benchmark's config has that one source, and config validation rejects a topic naming a
    source that does not exist: a topic limited to other sources (it would skip these items anyway)
    is left out, and a `sources` list that includes this source is cut down to it.
    """
    try:
        topics, skipped = {}, []
        for name, body in yaml.safe_load(path.read_text(encoding="utf-8"))["topics"].items():
            limited = body.get("sources")
            if limited is None:
                topics[name] = body
            elif source in limited:
                topics[name] = {**body, "sources": [source]}
            else:
                skipped.append(name)
        note = f"topics of {path.name} applied to {source}: {', '.join(topics)}"
        return topics, note + (f" (not: {', '.join(skipped)}, limited to other sources)" if skipped else "")
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        return FALLBACK_TOPICS, f"built-in fallback topic ({type(exc).__name__} reading {path})"


def write_config(folder: Path, url: str, topics: dict[str, Any], batch_size: int):
    from tests.configs import pubmed
    from tests.configs import write_config as write_test_config

    source = pubmed(url, query="ketamine AND depression", lookback_days=LOOKBACK_DAYS, overlap_days=3, batch_size=batch_size)
    return write_test_config(folder, [source], topics=topics, timezone="UTC",
                             contact={"tool": "watcher-bench", "email": "bench@example.org"}, http=None)


def expected_searches(days: list[date], counts: dict[date, int]) -> tuple[int, list[int]]:
    """(esearch calls, record counts of the windows to fetch), halving as PubmedSource.searches does."""
    total = sum(counts.get(d, 0) for d in days)
    if total <= ESEARCH_CAP:
        return 1, [total] if total else []
    middle = (len(days) - 1) // 2
    calls_a, windows_a = expected_searches(days[: middle + 1], counts)
    calls_b, windows_b = expected_searches(days[middle + 1 :], counts)
    return 1 + calls_a + calls_b, windows_a + windows_b


def no_sleep(seconds: float) -> None:
    """The poll's sleep: the rate limiter and retry back-off ask, nothing waits."""


def pacing_delay(arrivals: list[float], interval: float) -> float:
    """What the limiter would have added: with the same work between requests, each request that
    came sooner than `interval` after the one before waits for the rest of it."""
    return sum(max(0.0, interval - (b - a)) for a, b in itertools.pairwise(arrivals))


def one_poll(n: int, articles: list, topics: dict[str, Any], batch_size: int, profile: bool = False) -> dict[str, Any]:
    from tests.upstreams.eutils import Eutils
    from tests.upstreams.server import Server
    from watcher.poll import poll
    from watcher.store import Store

    today = NOW.date()
    days = [today - timedelta(days=LOOKBACK_DAYS - k) for k in range(LOOKBACK_DAYS + 1)]
    per_day: dict[date, list[bytes]] = {}
    for i, xml in enumerate(renumbered(articles, n)):
        per_day.setdefault(days[i % len(days)], []).append(xml)

    with Server() as server:
        fake = Eutils(server)
        for day, records in per_day.items():
            fake.add(day, records)
        with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmp:
            config = write_config(Path(tmp), fake.url, topics, batch_size)
            with Store.open(config.database) as store:
                profiler = cProfile.Profile() if profile else None
                started = time.perf_counter()
                if profiler:
                    report = profiler.runcall(poll, config, store, clock=lambda: NOW, env={}, sleep=no_sleep)
                else:
                    report = poll(config, store, clock=lambda: NOW, env={}, sleep=no_sleep)
                seconds = time.perf_counter() - started
        # When each request arrived, to work out what NCBI's pacing would have added.
        arrivals = [seen.at for seen in server.seen()]
        searches_seen, fetches_seen = server.count("esearch"), server.count("efetch")
    source = report.sources[0]
    if not source.ok:
        raise SystemExit(f"poll of {n} records failed: {source.error}")
    if source.new != n:
        raise SystemExit(f"poll of {n} records stored {source.new}")
    searches, windows = expected_searches(days, {day: len(records) for day, records in per_day.items()})
    return {
        "n": n,
        "esearch": searches_seen,
        "efetch": fetches_seen,
        "windows": windows,
        "expected_esearch": searches,
        "expected_efetch": sum(math.ceil(c / batch_size) for c in windows),
        "seconds": seconds,
        "matched": source.new_matched,
        "pacing": pacing_delay(arrivals, 1 / NCBI_RATE),
        "profiler": profiler,
    }


def best_of(repeat: int, run) -> tuple[float, Any]:
    """The shortest wall time of `repeat` runs, and the last run's result."""
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def labelled_items() -> list:
    """The labelled records of the corpus (dev, dev2, dev3) and of tests/relevance_cases.jsonl, as items."""
    from watcher.relevance.evaluate import parse_labelled

    paths = [*sorted((corpus_root() / "relevance").glob("dev*.jsonl")), PROJECT_ROOT / "tests" / "relevance_cases.jsonl"]
    return [record.item for path in paths if path.is_file() for record in parse_labelled(path.read_text(encoding="utf-8"), str(path))]


def stages(n: int, articles: list, topics_raw: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Seconds for the parser alone, the bare lxml walk and the filter alone on the same n records."""
    from lxml import etree
    from watcher.filter import match
    from watcher.topics import compile_topics

    from watcher.sources.pubmed_xml import iter_efetch, to_item

    body = HEADER + b"\n".join(renumbered(articles, n)) + FOOTER

    def parse() -> list:
        return list(iter_efetch(io.BytesIO(body)))

    def walk() -> int:
        count = 0
        for _event, element in etree.iterparse(io.BytesIO(body), events=("end",), tag="PubmedArticle",
                                               resolve_entities=False, load_dtd=False, no_network=True):
            count += 1
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del element.getparent()[0]
        return count

    topics = compile_topics(topics_raw)
    parse_s, records = best_of(repeat, parse)
    walk_s, walked = best_of(repeat, walk)
    items = [to_item(r, "pubmed") for r in records]
    filter_s, verdicts = best_of(repeat, lambda: [match(item, topics) for item in items])
    labelled = labelled_items()
    labelled_s, labelled_verdicts = best_of(repeat, lambda: [match(item, topics) for item in labelled * 10])
    if len(records) != n or walked != n:
        raise SystemExit(f"stages: parsed {len(records)} and walked {walked} of {n} records")
    return {"parse": parse_s, "walk": walk_s, "filter": filter_s, "matched": sum(v.matched for v in verdicts),
            "labelled": len(labelled), "labelled_s": labelled_s / 10,
            "labelled_matched": sum(v.matched for v in labelled_verdicts) // 10}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--counts", default="1,500,5000,12000", help="numbers of new records, comma-separated")
    ap.add_argument("--batch-size", type=int, default=500, help="efetch retmax (default 500, as feeds.yaml)")
    ap.add_argument("--feeds", type=Path, default=PROJECT_ROOT / "feeds.yaml", help="where the topics come from")
    ap.add_argument("--repeat", type=int, default=3, help="polls per N, each on a fresh database; best time kept (default 3)")
    ap.add_argument("--profile", action="store_true", help="then profile one more poll of the largest N (main thread)")
    args = ap.parse_args()
    corpus = corpus_root()
    if not (corpus / "pubmed").is_dir():
        raise SystemExit(f"shared corpus not found at {corpus}: set WATCHER_CORPUS")
    articles = templates(corpus)
    topics, topics_note = project_topics(args.feeds)
    counts = [int(c) for c in args.counts.split(",")]
    print(f"one poll per N against 127.0.0.1; batch_size {args.batch_size}; {topics_note}")

    rows = []
    for n in counts:
        print(f"  N = {n} ...", end="", flush=True, file=sys.stderr)
        runs = [one_poll(n, articles, topics, args.batch_size) for _ in range(args.repeat)]
        if len({(x["esearch"], x["efetch"]) for x in runs}) != 1:
            raise SystemExit(f"N = {n}: request counts differ between runs: {[(x['esearch'], x['efetch']) for x in runs]}")
        r = min(runs, key=lambda x: x["seconds"])
        print(" " + ", ".join(f"{x['seconds']:.1f}" for x in runs) + " s", file=sys.stderr)
        formula = 1 + math.ceil(n / args.batch_size)
        total = r["esearch"] + r["efetch"]
        rows.append([
            f"{n:,}",
            str(r["esearch"]),
            str(r["efetch"]),
            str(total),
            str(formula),
            f"{total - formula:+d}",
            " + ".join(f"{c:,}" for c in r["windows"]),
            "yes" if (r["esearch"], r["efetch"]) == (r["expected_esearch"], r["expected_efetch"]) else "NO",
            f"{r['seconds']:.2f}",
            f"{n / r['seconds']:,.0f}",
            f"{r['matched']:,}",
            f"{r['pacing']:.1f}",
            f"{r['seconds'] + r['pacing']:.1f}",
            f"{(total - 1) / NCBI_RATE:.1f}",
        ])
    print(f"best of {args.repeat} polls per N, each on a fresh database")
    print(table(
        ["N new", "esearch", "efetch", "requests", "1+ceil(N/500)", "diff", "records per window",
         "as expected", "poll s", "records/s", "matched", "pacing adds s", "paced poll s", "(requests-1)/3 s"],
        rows,
    ))
    print("\nrequests = esearch + efetch. Over 9,999 records the window is split in halves: one esearch for the\n"
          "whole window, one per half (recursively), and each half's last efetch batch may be partial.\n"
          "'as expected' compares with that halving computed here from the records' dates.\n"
          "'pacing adds': the sleep was a no-op; this is what NCBI's 3 requests/s (no api_key) would have\n"
          "added, from the measured gaps between requests; 'paced poll' = poll + that, never below the\n"
          "(requests-1)/3 s floor of the last column.")
    largest = max(counts)
    poll_s = min((r for r in rows if r[0] == f"{largest:,}"), key=lambda r: float(r[8]))[8]
    print(f"  stages of N = {largest} ...", file=sys.stderr)
    found = stages(largest, articles, topics, args.repeat)
    whole = float(poll_s)

    def stage(name: str, seconds: float, share: bool = True) -> list[str]:
        return [name, f"{seconds:.2f}", f"{largest / seconds:,.0f}", f"{seconds / whole:.0%}" if share else ""]

    print(f"\nThe poll of {largest:,} records and its stages, measured in this run (wall time, best of {args.repeat})")
    print(table(["stage", "seconds", "records/s", "of the poll"], [
        stage("whole poll (fetch, parse, filter, store)", whole),
        stage("parser alone (iter_efetch, from memory)", found["parse"]),
        stage("bare lxml walk (iterparse, no fields)", found["walk"], share=False),
        stage(f"filter alone (match; {found['matched']} matched)", found["filter"]),
    ]))
    per_record = found["parse"] / largest * 1e6
    print(f"filter on {found['labelled']} labelled records ({found['labelled_matched']} matched, so the tier rules run too):"
          f" {found['labelled_s'] / found['labelled'] * 1e6:.0f} us a record; the parser takes {per_record:.0f} us a record")
    print(f"  {'PASS' if largest / whole >= 4000 else 'MISS'}  whole poll >= 4,000 records/s: {largest / whole:,.0f}")
    print(f"  {'PASS' if found['filter'] <= found['parse'] else 'MISS'}  filter time <= parser time:"
          f" {found['filter']:.2f} s against {found['parse']:.2f} s")
    if args.profile:
        print(f"  profiling N = {max(counts)} ...", file=sys.stderr)
        profiled = one_poll(max(counts), articles, topics, args.batch_size, profile=True)
        print(f"\ncProfile of the poll of {profiled['n']:,} records (main thread; the server thread is not in it; "
              "profiling slows it down)")
        out = io.StringIO()
        stats = pstats.Stats(profiled["profiler"], stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
        print(out.getvalue().rstrip())


if __name__ == "__main__":
    main()
