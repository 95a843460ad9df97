"""How long the checks and limits take, each as a ratio to a reference measured in the same run:
the speed claims that tests do not make (a wall-time assert flakes on a busy machine; the tests
keep what cannot flake: the right result, the memory, the message).

    .venv/bin/python benchmarks/time_bounds.py [--repeat N]     # about 30 s

- XML depth check (`xml_guard.nesting`) on pathological input against a real-shaped feed (time per
  byte), and on 4x the input (ratio ~4: linear).
- Entity bombs refused by the PubMed parser, and read by the feed parser with the DOCTYPE removed,
  against a healthy document of the same size.
- The topic filter (`filter.match`) on the labelled cases against one compiled regex over the same
  texts (the floor of any keyword scan).
- Grouping records into works: 50,000 records against 5,000 (ratio ~10: linear).
- HTTP limits on 127.0.0.1: a stalled server against the configured timeout, a trickling body
  against the deadline, a gzip bomb against a plain body of the limit's size.

Best of --repeat runs (default 3) for the in-memory cases, one run for the network ones.
"""

from __future__ import annotations

import argparse
import gzip
import io
import logging
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import test_pubmed_xml as pubmed_cases  # noqa: E402
from tests import test_rss as rss_cases  # noqa: E402
from tests.test_filter import CASES, load_default_topics, record_item  # noqa: E402
from tests.test_works import rec  # noqa: E402
from tests.upstreams import faults  # noqa: E402
from tests.upstreams.feeds import entries, rss_body  # noqa: E402
from tests.upstreams.server import Reply, Server  # noqa: E402
from watcher.errors import FetchError, ParseError  # noqa: E402
from watcher.http import HttpClient, HttpPolicy  # noqa: E402
from watcher.relevance.match import match  # noqa: E402
from watcher.sources.pubmed_xml import iter_efetch  # noqa: E402
from watcher.sources.rss_feed import parse_feed  # noqa: E402
from watcher.sources.xml_guard import nesting  # noqa: E402
from watcher.works import group  # noqa: E402


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def healthy_feed(size: int) -> bytes:
    """An RSS document shaped like a real one, about `size` bytes."""
    per_entry = len(rss_body(entries(2))) - len(rss_body(entries(1)))
    return rss_body(entries(max(1, size // per_entry)))


def read_feed(body: bytes) -> object:
    return parse_feed(body, source="f", feed_url="https://example.org/feed", content_type="application/rss+xml")


def raises(kind: type[Exception], run: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        try:
            run()
        except kind:
            return
        raise AssertionError(f"expected {kind.__name__}")

    return call


def row(rows: list[tuple[str, ...]], what: str, seconds: float, reference: str, ref_seconds: float, expect: str,
        per: tuple[int, int] = (1, 1)) -> None:
    """One line of the table; `per` (sizes of the measured input and of the reference's) makes the
    ratio one per byte."""
    ratio = (seconds / per[0]) / (ref_seconds / per[1])
    rows.append((what, f"{seconds * 1000:,.1f}", reference, f"{ref_seconds * 1000:,.1f}", f"{ratio:.2f}", expect))


def xml_checks(rows: list[tuple[str, ...]], repeat: int) -> None:
    for name, body in (("<a × 1M (unclosed tags)", b"<a" * 1_000_000), ("'<' × 2M", b"<" * 2_000_000),
                       ("<![CDATA[ × 200k", b"<![CDATA[" * 200_000), ("<x> × 1M (deep)", b"<x>" * 1_000_000),
                       ("<a></a> × 300k (wide)", b"<r>" + b"<a></a>" * 300_000 + b"</r>")):
        feed = healthy_feed(len(body))
        row(rows, f"nesting: {name}, {len(body) / 1e6:.1f} MB", best(lambda b=body: nesting(b), repeat),
            f"nesting: a feed of {len(feed) / 1e6:.1f} MB", best(lambda f=feed: nesting(f), repeat),
            "per byte, against a feed's", per=(len(body), len(feed)))
        big = body * 4
        row(rows, f"nesting: {name} × 4", best(lambda b=big: nesting(b), repeat),
            "the same, × 1", best(lambda b=body: nesting(b), repeat), "≤ ~4: linear")


def entity_bombs(rows: list[tuple[str, ...]], repeat: int) -> None:
    article = pubmed_cases.article(title="x").encode()
    for name, prolog, reference in (("billion laughs", pubmed_cases.BILLION_LAUGHS, b"&lol9;"),
                                    ("quadratic blowup", pubmed_cases.QUADRATIC, b"&a;" * 50_000)):
        bomb = prolog + b"<PubmedArticleSet>" + article.replace(b"x</ArticleTitle>", reference + b"</ArticleTitle>") + b"</PubmedArticleSet>"
        healthy = pubmed_cases.efetch_doc(*[pubmed_cases.article(str(i)) for i in range(1, max(2, len(bomb) // len(article)))])
        row(rows, f"PubMed parser refuses the {name} ({len(bomb) / 1e3:,.0f} kB)",
            best(raises(ParseError, lambda b=bomb: list(iter_efetch(io.BytesIO(b)))), repeat),
            f"parsing a healthy efetch of {len(healthy) / 1e3:,.0f} kB", best(lambda h=healthy: list(iter_efetch(io.BytesIO(h))), repeat),
            "per byte; ≤ ~1: refused, nothing expanded", per=(len(bomb), len(healthy)))
    for name, body in (("billion laughs", rss_cases.BILLION_LAUGHS), ("quadratic blowup", rss_cases.quadratic_blowup(50_000, 10_000))):
        feed = healthy_feed(len(body))
        row(rows, f"feed parser reads the {name} ({len(body) / 1e3:,.0f} kB)", best(lambda b=body: read_feed(b), repeat),
            f"a healthy feed of {len(feed) / 1e3:,.0f} kB", best(lambda f=feed: read_feed(f), repeat),
            "per byte; ~1: nothing expanded", per=(len(body), len(feed)))


def filter_and_works(rows: list[tuple[str, ...]], repeat: int) -> None:
    import json

    topics = load_default_topics()
    cases = [record_item(json.loads(line)) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = cases * (3000 // len(cases) + 1)
    floor = re.compile(r"\bketamine\b", re.I)
    texts = [" ".join(filter(None, (i.title, i.abstract, *i.mesh_headings, *i.keywords))) for i in items]
    row(rows, f"filter.match: {len(items):,} items, default topics", best(lambda: [match(i, topics) for i in items], repeat),
        "one regex over the same texts", best(lambda: [floor.search(t) for t in texts], repeat), "the filter's cost over a bare scan")

    def records(n: int) -> list:
        out = [rec(f"pubmed:{i}", f"pmid:{i}", f"doi:10.1/{i}") for i in range(n * 4 // 5)]
        return out + [rec(f"europepmc:MED:{i}", f"pmid:{i}", f"epmc:MED:{i}") for i in range(0, n * 3 // 5, 3)]

    large, small = records(50_000), records(5_000)
    row(rows, f"works.group: {len(large):,} records", best(lambda: group(large), repeat),
        f"works.group: {len(small):,} records", best(lambda: group(small), repeat), "10 if linear")


def http_limits(rows: list[tuple[str, ...]]) -> None:
    def client(**overrides: float) -> HttpClient:
        return HttpClient(HttpPolicy(**{"user_agent": "watcher-bench/1", "rate": 1e9, "backoff": 0.0, **overrides}))

    def timed(run: Callable[[], object]) -> float:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started

    with Server() as server:
        stalled = server.static("/stall", Reply(200, b"ok", "text/plain"), label="stall")
        server.arm("stall", faults.stall)
        row(rows, "stalled server, timeout 0.3 s × 2 tries", timed(raises(FetchError, lambda: client(timeout=0.3, retries=2).get(stalled))),
            "2 × the timeout", 0.6, "~1: the timeout ends each try")
        drip = server.static("/drip", Reply(200, b"x" * 1000, "text/plain"), label="drip")
        server.arm("drip", faults.trickle(0.1))
        row(rows, "trickling body, deadline 1 s", timed(raises(FetchError, lambda: client(timeout=0.5, deadline=1.0).get(drip))),
            "the deadline", 1.0, "~1: cut off at the deadline")
        bomb = server.static("/bomb", Reply(200, gzip.compress(bytes(50 * 1024 * 1024), compresslevel=9), None, {"Content-Encoding": "gzip"}))
        plain = server.static("/plain", Reply(200, bytes(1024 * 1024 - 1), "application/octet-stream"))
        limited = client(max_bytes=1024 * 1024)
        row(rows, "gzip bomb (50 MB inflated), limit 1 MB", timed(raises(FetchError, lambda: limited.get(bomb))),
            "a plain body of 1 MB", timed(lambda: limited.get(plain)), "a few (inflating costs), not ~50: stops at the limit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the parsers' warnings about the hostile input are expected
    rows: list[tuple[str, ...]] = []
    xml_checks(rows, args.repeat)
    entity_bombs(rows, args.repeat)
    filter_and_works(rows, args.repeat)
    http_limits(rows)
    header = ("measured", "ms", "reference", "ref ms", "ratio", "expected")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(":--" if i in (0, 2, 5) else "--:" for i in range(len(header))) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
