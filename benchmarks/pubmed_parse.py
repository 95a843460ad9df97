"""Benchmark: watcher's streaming efetch parser against Biopython, a bare lxml walk and BeautifulSoup.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/pubmed_parse.py            # the whole comparison, ~2 minutes
    .venv/bin/python benchmarks/pubmed_parse.py --profile  # add a cProfile of watcher's parser

It builds efetch files (a real 2025 DOCTYPE header, then real PubmedArticle records from the shared
corpus, `corpus/pubmed/efetch_*.xml`, cycled and given distinct PMIDs) in a temporary directory that
is deleted afterwards, and parses each one in a fresh subprocess, so that each parser's peak RSS
is its own (VmHWM of that child on Linux; peak_mb says why not ru_maxrss). Nothing here is a test:
it prints figures, and PASS/MISS against its targets (at least 3x Biopython's records/s;
peak memory flat in the number of records, and under 100 MB at 10,000 records).

Biopython: `Bio.Entrez.read` needs the DTD named in the DOCTYPE. The header names
https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd, which Biopython bundles since 1.87
(Bio/Entrez/DTDs/pubmed_250101.dtd) and loads from disk; the child also replaces
`Bio.Entrez.Parser.urlopen` with a function that raises, so any attempt to download would fail
loudly instead of touching the network. `validate=False` is needed because the corpus mixes record
vintages: the 2015-era records carry `<DateCreated>`, which the 2025 DTD no longer declares.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# What efetch sends today (retmode=xml), byte for byte up to the first record.
HEADER = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN"'
    b' "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
)
FOOTER = b"\n</PubmedArticleSet>\n"
FIRST_PMID = 40_000_000  # above every real PMID in the corpus, so no renumbered record collides

PARSERS = ("watcher", "biopython", "lxml", "bs4")
LABELS = {
    "watcher": "watcher iter_efetch",
    "biopython": "Biopython Entrez.read",
    "lxml": "bare lxml iterparse",
    "bs4": "BeautifulSoup lxml-xml",
}


# ---- the input ----


def corpus_root() -> Path:
    configured = os.environ.get("WATCHER_CORPUS")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "corpus"


def templates(corpus: Path) -> list:
    """Every PubmedArticle of the corpus's efetch files, parsed once (safe options: no DTD, no network)."""
    from lxml import etree

    files = sorted((corpus / "pubmed").glob("efetch_*.xml"))
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    found = [el for f in files for el in etree.parse(str(f), parser).getroot().iterchildren("PubmedArticle")]
    if not found:
        raise SystemExit(f"no PubmedArticle records under {corpus / 'pubmed'}: set WATCHER_CORPUS")
    return found


def renumbered(records: list, n: int, first_pmid: int = FIRST_PMID) -> Iterator[bytes]:
    """n serialised PubmedArticle elements: the corpus records in turn, each under its own PMID."""
    from lxml import etree

    for i in range(n):
        record = records[i % len(records)]
        pmid = str(first_pmid + i)
        record.find("MedlineCitation/PMID").text = pmid
        for article_id in record.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='pubmed']"):
            article_id.text = pmid
        yield etree.tostring(record, with_tail=False)


def build(path: Path, n: int, records: list) -> int:
    """Write an n-record efetch file; returns its size in bytes."""
    with open(path, "wb") as out:
        out.write(HEADER)
        for i, article in enumerate(renumbered(records, n)):
            if i:
                out.write(b"\n")
            out.write(article)
        out.write(FOOTER)
    return path.stat().st_size


# ---- one parser in one process ----


def _proc_status(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def peak_mb() -> float:
    """This process's peak RSS in MiB.

    Linux: VmHWM, the high-water mark of this process's own address space. Not ru_maxrss: on Linux,
    execve() carries the spawning process's high-water mark into the child's ru_maxrss (a child
    started from a 500 MB parent reports >= 500 MB however little it uses), which would put a
    floor of the benchmark driver's own size under every parser. Elsewhere: ru_maxrss.
    """
    hwm = _proc_status("VmHWM")
    if hwm is not None:
        return hwm
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS, KiB elsewhere


def rss_mb() -> float:
    """Current RSS in MiB (VmRSS); the peak so far where /proc is absent."""
    current = _proc_status("VmRSS")
    return current if current is not None else peak_mb()


def child(parser: str, path: str, profile: bool) -> None:
    """Parse `path` with one parser and print one JSON line: records, seconds, baseline and peak RSS."""
    if parser == "watcher":
        from watcher.sources.pubmed_xml import iter_efetch

        def run() -> int:
            n = 0
            with open(path, "rb") as stream:
                for _record in iter_efetch(stream):
                    n += 1
            return n

    elif parser == "biopython":
        import Bio.Entrez.Parser
        from Bio import Entrez

        def offline(url, *args, **kwargs):
            raise OSError(f"benchmark is offline; Biopython tried to download {url}")

        Bio.Entrez.Parser.urlopen = offline

        def run() -> int:
            with open(path, "rb") as stream:
                result = Entrez.read(stream, validate=False)
            return len(result["PubmedArticle"])

    elif parser == "lxml":
        from lxml import etree

        def run() -> int:
            n = 0
            with open(path, "rb") as stream:
                for _event, element in etree.iterparse(
                    stream, events=("end",), tag="PubmedArticle", resolve_entities=False, load_dtd=False, no_network=True
                ):
                    n += 1
                    element.clear(keep_tail=False)
                    while element.getprevious() is not None:
                        del element.getparent()[0]
            return n

    elif parser == "bs4":
        from bs4 import BeautifulSoup

        def run() -> int:
            with open(path, "rb") as stream:
                soup = BeautifulSoup(stream, "lxml-xml")
            return len(soup.find_all("PubmedArticle"))

    else:
        raise SystemExit(f"unknown parser {parser!r}")

    baseline = rss_mb()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        started = time.perf_counter()
        records = profiler.runcall(run)
        seconds = time.perf_counter() - started
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(22)
    else:
        started = time.perf_counter()
        records = run()
        seconds = time.perf_counter() - started
    print(json.dumps({"records": records, "seconds": seconds, "baseline_mb": baseline, "peak_mb": peak_mb()}))


def measure(parser: str, path: Path, *, repeat: int = 1, timeout: float | None = None) -> dict | None:
    """The best time of `repeat` runs, each in a fresh interpreter, and the highest peak; None past `timeout`."""
    runs = []
    for _ in range(repeat):
        run = measure_once(parser, path, timeout=timeout)
        if run is None:
            return None
        runs.append(run)
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_mb": max(r["peak_mb"] for r in runs), "runs": len(runs)}


def measure_once(parser: str, path: Path, *, timeout: float | None = None, profile: bool = False) -> dict | None:
    """Run one parser in a fresh interpreter; None if it ran past `timeout`."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", parser, str(path)]
    if profile:
        cmd.append("--profile")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"{parser} failed on {path.name}:\n{done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["profile"] = done.stderr
    return result


# ---- the report ----


def rate(r: dict) -> float:
    return r["records"] / r["seconds"]


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    right = [i > 0 for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else (":" + "-" * (w + 1)) for w, r in zip(widths, right, strict=True)) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=10_000, help="records in the comparison file (default 10000)")
    ap.add_argument("--scale", default="1000,10000,20000", help="record counts for watcher's memory curve")
    ap.add_argument("--repeat", type=int, default=3, help="runs per parser, best time kept (default 3; BeautifulSoup: 1)")
    ap.add_argument("--soup-timeout", type=float, default=180.0, help="skip BeautifulSoup past this many seconds")
    ap.add_argument("--no-soup", action="store_true", help="skip BeautifulSoup")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of watcher's parser")
    ap.add_argument("--child", choices=PARSERS, help=argparse.SUPPRESS)
    ap.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.path, args.profile)
        return

    corpus = corpus_root()
    if not (corpus / "pubmed").is_dir():
        raise SystemExit(f"shared corpus not found at {corpus}: set WATCHER_CORPUS")
    scale = sorted({int(n) for n in args.scale.split(",")} | {args.records})
    records = templates(corpus)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
          f"{len(records)} distinct corpus records cycled with new PMIDs")

    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmp:
        files: dict[int, Path] = {}
        for n in scale:
            files[n] = Path(tmp) / f"efetch_{n}.xml"
            size = build(files[n], n, records)
            print(f"built {files[n].name}: {n} records, {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB), "
                  f"{size / n / 1024:.1f} KiB/record")
        main_file = files[args.records]
        print()

        results: dict[str, dict | None] = {}
        for parser in PARSERS:
            if parser == "bs4" and args.no_soup:
                results[parser] = None
                continue
            print(f"  {LABELS[parser]} ...", end="", flush=True, file=sys.stderr)
            if parser == "bs4":
                results[parser] = measure(parser, main_file, timeout=args.soup_timeout)
            else:
                results[parser] = measure(parser, main_file, repeat=args.repeat)
            got = results[parser]
            print(f" {got['seconds']:.1f} s" if got else " skipped", file=sys.stderr)
            if got and got["records"] != args.records:
                raise SystemExit(f"{parser} found {got['records']} records, expected {args.records}")

        bio, bare = results["biopython"], results["lxml"]
        rows = []
        for parser in PARSERS:
            r = results[parser]
            if r is None:
                why = "not run (--no-soup)" if args.no_soup else f"skipped: over {args.soup_timeout:g} s"
                rows.append([LABELS[parser], why, "", "", "", "", ""])
                continue
            rows.append([
                LABELS[parser],
                f"{r['seconds']:.2f}",
                f"{rate(r):,.0f}",
                f"{r['peak_mb']:,.0f}",
                ratio(rate(r), rate(bio)),
                ratio(rate(r), rate(bare)),
                ratio(r["peak_mb"], bio["peak_mb"]),
            ])
        print(f"Parsers on one {args.records:,}-record efetch file ({main_file.stat().st_size / 1e6:.1f} MB), "
              f"each run in a fresh process; best of {args.repeat} runs (BeautifulSoup: 1)")
        print(table(["parser", "seconds", "records/s", "peak MB", "speed vs Biopython",
                     "speed vs lxml walk", "memory vs Biopython"], rows))
        print()

        curve = []
        for n in scale:
            r = results["watcher"] if n == args.records else measure("watcher", files[n], repeat=args.repeat)
            curve.append((n, r))
        print(f"watcher iter_efetch, peak RSS against file size (fresh process each, best of {args.repeat})")
        print(table(["records", "file MB", "seconds", "records/s", "RSS after imports MB", "peak MB", "growth MB"],
                    [[f"{n:,}", f"{files[n].stat().st_size / 1e6:.1f}", f"{r['seconds']:.2f}", f"{rate(r):,.0f}",
                      f"{r['baseline_mb']:.0f}", f"{r['peak_mb']:.1f}", f"{r['peak_mb'] - r['baseline_mb']:.1f}"]
                     for n, r in curve]))
        print()

        w = results["watcher"]
        lo, hi = curve[0][1]["peak_mb"], curve[-1][1]["peak_mb"]
        flat = hi - lo <= max(5.0, 0.1 * lo)
        checks = [
            (rate(w) >= 3 * rate(bio), f"throughput >= 3x Biopython: {ratio(rate(w), rate(bio))}"),
            (w["peak_mb"] < 100, f"peak < 100 MB at {args.records:,} records: {w['peak_mb']:.1f} MB"),
            (flat, f"memory flat from {curve[0][0]:,} to {curve[-1][0]:,} records: {lo:.1f} -> {hi:.1f} MB"),
        ]
        print("Targets")
        for ok, text in checks:
            print(f"  {'PASS' if ok else 'MISS'}  {text}")

        if args.profile:
            print("\ncProfile of watcher iter_efetch (sorted by own time; profiling slows it down)")
            print(measure_once("watcher", main_file, profile=True)["profile"].rstrip())


if __name__ == "__main__":
    main()
