"""Benchmark: what the re-check of listed PubMed records costs per poll, measured, against the
other way (every listed PMID by id list), computed.

    .venv/bin/python benchmarks/recheck_requests.py                       # listed 100, 1000, 5000
    .venv/bin/python benchmarks/recheck_requests.py --listed 300 --changed 0,5,300

For each (listed, changed): a first real `watcher.poll.poll` lists `listed` records (a catch-all
topic), the stand-in E-utilities server (tests/upstreams/eutils.py on 127.0.0.1) then revises
`changed` of them (an erratum added, modified this week) and 25 records never listed, and a
second poll re-checks. The table shows the requests the stand-in saw for the re-check (esearch
by `datetype=mdat`, ids only; efetch by id list) and the records it downloaded, next to what
an efetch of every listed PMID by id list (POST, 200 a request, as NCBI advises) would cost on
every poll. Megabytes use the mean size of the corpus's real PubmedArticle records when the
corpus is there (else 6 kB).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from tests.configs import pubmed, write_config  # noqa: E402
from tests.conftest import corpus_root  # noqa: E402
from tests.upstreams.eutils import Article, Eutils, corpus_articles  # noqa: E402
from tests.upstreams.server import Server  # noqa: E402
from watcher.poll import poll  # noqa: E402
from watcher.sources.pubmed import RECHECK_BATCH  # noqa: E402
from watcher.store import Store  # noqa: E402

FIRST = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)
SECOND = FIRST + timedelta(days=14)


def mean_record_bytes() -> float:
    files = sorted((corpus_root() / "pubmed").glob("efetch_*.xml"))
    sizes = [len(r) for f in files for r in corpus_articles(f)]
    return sum(sizes) / len(sizes) if sizes else 6000.0


def measure(listed: int, changed: int) -> tuple[int, int, int]:
    """(esearch requests, efetch requests, records downloaded) of the re-checking poll."""
    with Server() as server, tempfile.TemporaryDirectory() as folder:
        eutils = Eutils(server)
        papers = [Article(str(40_000_000 + i), f"Ketamine for depression, cohort {i}") for i in range(listed)]
        eutils.add(date(2026, 11, 5), papers)
        config = write_config(Path(folder), [pubmed(eutils.url, lookback_days=30, overlap_days=3, batch_size=500)])
        with Store.open(config.database) as store:
            poll(config, store, clock=lambda: FIRST, env={}, sleep=lambda s: None)
            for paper in papers[:changed]:
                eutils.revise(paper.pmid, Article(paper.pmid, paper.title, corrections=(("ErratumIn", "45000000"),)),
                              mdat=date(2026, 11, 23))
            eutils.add(date(2026, 9, 1), [Article(str(46_000_000 + i), f"Unlisted {i}") for i in range(25)], mdat=date(2026, 11, 23))
            before = len(server.seen())
            report = poll(config, store, clock=lambda: SECOND, env={}, sleep=lambda s: None)
            assert report.ok, report
        labels = [s.label for s in server.seen()[before:]]
        return labels.count("esearch-ids"), labels.count("efetch-ids"), sum(s.fetched for s in report.sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listed", default="100,1000,5000")
    parser.add_argument("--changed", default="0,10,300")
    args = parser.parse_args()
    size = mean_record_bytes()
    print(f"mean real record: {size / 1024:.1f} kB\n")
    print("| listed | changed | re-check: esearch + efetch | records downloaded | ≈ MB | id list by POST: requests | records | ≈ MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for listed in (int(n) for n in args.listed.split(",")):
        for changed in (int(n) for n in args.changed.split(",")):
            if changed > listed:
                continue
            searches, fetches, records = measure(listed, changed)
            assert fetches == math.ceil(changed / RECHECK_BATCH) and records == changed, (fetches, records)
            posts = math.ceil(listed / RECHECK_BATCH)
            print(f"| {listed:,} | {changed:,} | {searches} + {fetches} = {searches + fetches} | {records:,} |"
                  f" {records * size / 1e6:.2f} | {posts} | {listed:,} | {listed * size / 1e6:.1f} |")


if __name__ == "__main__":
    main()
