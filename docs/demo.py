"""Make the staff guide's digest excerpt and the screenshots in docs/ from a local replay: no network.

    .venv/bin/python docs/demo.py                     # prints the Markdown digest, writes docs/*.png
    .venv/bin/python docs/demo.py --site demo         # also keeps the site (feeds.yaml, database, digests) in demo/
    .venv/bin/watcher --config demo/feeds.yaml serve  # then: the editors' workspace on the demo data

The project's own feeds.yaml, unchanged but for every source's URL, which points at the test
stand-ins on 127.0.0.1 (tests/upstreams). What they serve is the project's own demo data, not real
records: a few made-up PubMed, Europe PMC and ClinicalTrials.gov records about ketamine (one work
reported by all three; a pain trial that only mentions depression; a preprint); openFDA's answers
for Spravato and Ketalar from the project's fixtures (tests/fixtures/openfda, invented values in
real shapes), the first without its latest labeling supplement until the second poll; the clinic's
real article page from ../shared/article; and an FDA press feed that is down (nothing listens at
its address). `watcher poll`, then `watcher run --once`, write the week; the system's Chromium
takes the screenshots of the digest and of the workspace (`watcher serve` on the same store, its
queue and one item, at 375 px and at a desktop's width); tests/test_browser.py measures the same
week. The stand-ins stop when the script ends: a kept site's feeds.yaml points at them, so
`watcher poll` there finds nothing to fetch, while `watcher serve` needs no network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.article_page import article_text, html_page  # noqa: E402
from tests.chromium import ARGS, CHROMIUM  # noqa: E402
from tests.smtp import free_port  # noqa: E402
from tests.test_board import records  # noqa: E402
from tests.upstreams import ctgov, europepmc  # noqa: E402
from tests.upstreams.eutils import Article, Eutils, local_today  # noqa: E402
from tests.upstreams.openfda import OpenFDA  # noqa: E402
from tests.upstreams.pages import WebPage  # noqa: E402
from tests.upstreams.server import Server  # noqa: E402
from watcher import cli  # noqa: E402

TRIAL = "NCT07000100"
SPRAVATO, LATEST = "NDA211243", "13"  # the supplement the second poll finds
# The first two screens of a phone, the first screen of a desktop: what a reader sees before scrolling.
SIZES = (("digest-phone.png", 375, 1334), ("digest-desktop.png", 1280, 800))
PAPERS = [
    Article("41000100", "Esketamine nasal spray versus quetiapine in treatment-resistant depression: a randomised trial",
            abstract="BACKGROUND: Treatment-resistant depression (TRD) often relapses. METHODS: Adults with TRD were randomised"
                     " to esketamine nasal spray or quetiapine. RESULTS: Remission at week 8 was higher with esketamine, and"
                     " the response was sustained to week 32 in most patients.",
            authors=(("Rivera", "Ana"), ("Okafor", "Chidi"), ("Lindqvist", "Eva"), ("Tan", "Wei")), doi="10.1000/TRD.100",
            publication_types=("Journal Article", "Randomized Controlled Trial"), trials=(TRIAL,)),
    Article("41000101", "Ketamine infusion for chronic low back pain: a randomised trial",
            abstract="Adults with chronic low back pain received ketamine or placebo infusions. Pain scores fell with ketamine;"
                     " depressive symptoms (PHQ-9) were a secondary outcome.",
            publication_types=("Journal Article", "Randomized Controlled Trial")),
    Article("41000102", "Ketamine and esketamine for suicidal ideation: a systematic review and meta-analysis",
            abstract="Across 24 trials, ketamine reduced suicidal ideation within 24 hours; glutamate and NMDA receptor"
                     " mechanisms are discussed. Depression scores fell in parallel.",
            publication_types=("Journal Article", "Systematic Review", "Meta-Analysis")),
]


def feeds_yaml(folder: Path, server: Server) -> tuple[Path, OpenFDA]:
    today = local_today()
    pubmed = Eutils(server)
    pubmed.add(today, PAPERS)
    search = europepmc.EuropePMC(server)
    search.add(europepmc.result("41000100", PAPERS[0].title + ".", pmid="41000100", doi="10.1000/trd.100",
                                first_index=today.isoformat()),
               europepmc.result("PPR700100", "Arketamine for anhedonia in depression: a pilot trial", source="PPR",
                                pub_types=("preprint",), journal="medRxiv", first_index=today.isoformat()))
    trials = ctgov.ClinicalTrials(server)
    trials.add(ctgov.study(TRIAL, "Esketamine Versus Quetiapine in Treatment-Resistant Depression", last_update=today.isoformat(),
                           locations=[{"facility": "Example Hospital", "city": "Chicago", "state": "Illinois",
                                       "country": "United States", "status": "RECRUITING"}]))
    fda = OpenFDA(server)
    for application, (record, labels) in records().items():
        if application == SPRAVATO:  # the record as it was before its latest supplement
            record = {**record, "submissions": [s for s in record["submissions"] if s["submission_number"] != LATEST]}
        fda.product(application, record, labels)
    press = f"http://127.0.0.1:{free_port()}/rss-feeds/press-releases/rss.xml"  # down: nothing listens there
    page = WebPage(server, html_page(article_text()))
    urls = {"pubmed": pubmed.url, "europepmc": search.url, "clinicaltrials": trials.url, "openfda": fda.url}
    raw = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    # One FDA feed stands for the three (the others are left out, with the topic's names of them).
    raw["sources"] = [{**s, "url": urls.get(s["type"], press)} for s in raw["sources"]
                      if s["type"] != "rss" or s["name"] == "fda-press"]
    names = {s["name"] for s in raw["sources"]}
    for topic in raw["topics"].values():
        if topic.get("sources"):
            topic["sources"] = [n for n in topic["sources"] if n in names]
    raw["article"]["url"] = page.url
    raw["http"] = {"timeout": 2, "deadline": 5}
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path, fda


def demo_week(folder: Path, server: Server) -> tuple[int, Path]:
    """Two polls of the demo sources (the second finds Spravato's latest supplement), then the
    week's digest: `watcher run --once`'s exit code and the week's Markdown file."""
    config, fda = feeds_yaml(folder, server)
    cli.main(["--config", str(config), "poll"])
    record, labels = records()[SPRAVATO]
    fda.product(SPRAVATO, record, labels)
    code = cli.main(["--config", str(config), "run", "--once"])
    return code, sorted((folder / "digests").glob("20*-W*.md"))[-1]


def screenshots(page: Path, workspace: str) -> None:
    """The digest's page, then the workspace's queue and its first item, each at a phone's and a desktop's width."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, width, height in SIZES:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.goto(page.as_uri())
            tab.screenshot(path=str(ROOT / "docs" / name))
            tab.close()
        for width, height, size in ((375, 900, "phone"), (1100, 800, "desktop")):
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.goto(workspace + "queue")
            tab.screenshot(path=str(ROOT / "docs" / f"workspace-queue-{size}.png"))
            tab.click(".card a.open")
            tab.wait_for_load_state()
            tab.screenshot(path=str(ROOT / "docs" / f"workspace-item-{size}.png"))
            tab.close()
        browser.close()


def serve_in_background(feeds: Path) -> str:
    """The workspace over the demo's store on a free loopback port (no account: the local user)."""
    from waitress import create_server

    from watcher.config import load
    from watcher.store import Store
    from watcher.web.accounts import session_key
    from watcher.web.app import create_app

    config = load(feeds)
    Store.open(config.database).close()
    app = create_app(config, session_key(config.database), loopback=True)
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--site", type=Path, help="keep the site (feeds.yaml, watcher.db, digests/) in this new folder")
    parser.add_argument("--no-screenshots", action="store_true", help="leave docs/*.png as they are")
    args = parser.parse_args(argv)
    if args.site is not None and args.site.exists() and any(args.site.iterdir()):
        parser.error(f"--site {args.site}: the folder is not empty")
    with Server() as server, tempfile.TemporaryDirectory() as tmp:
        folder = mkdir(args.site.resolve()) if args.site is not None else Path(tmp)
        code, week = demo_week(folder, server)
        feeds = folder / "feeds.yaml"
        print(week.read_text(encoding="utf-8"))
        if not args.no_screenshots:
            screenshots(week.with_suffix(".html"), serve_in_background(feeds))
        if args.site is not None:
            print(f"The site is in {folder}: `watcher --config {folder / 'feeds.yaml'} serve` opens its workspace.", file=sys.stderr)
        return code


def mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


if __name__ == "__main__":
    sys.exit(main())
