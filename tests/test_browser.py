"""The HTML digest in a real headless browser (the system's Chromium, driven by Playwright):
hostile text from every source shows as text, nothing runs, every link is one we allow, and the
page fits a 375 px phone, a desktop and the printed page. On the demo week (docs/demo.py) the
headline is the first text after the title and the first news item starts within the first
screen of a desktop and the first two of a phone. Skips where no Chromium is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.polls import WEEK
from tests.test_hostile import HOSTILE, poll_and_digest, source_for
from tests.upstreams.server import Server
from watcher.text import plain

pytestmark = pytest.mark.slow  # a browser is a process of its own




ALLOWED = """() => {
  const bad = [];
  if (document.scripts.length) bad.push('script');
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
    if (['IFRAME', 'OBJECT', 'EMBED', 'IMG', 'SVG', 'LINK', 'FORM', 'INPUT'].includes(el.tagName)) bad.push(el.tagName);
  }
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    if (!(/^https?:\\/\\//.test(href) || /^(index|board|article|claims\\/[a-z0-9_-]+|\\d{4}-W\\d\\d)\\.html(#[a-z0-9-]+)?$/.test(href) || href === "feed.xml" || /^#[a-z0-9-]+$/.test(href))) bad.push('href ' + href);
  }
  return bad;
}"""


@pytest.mark.parametrize("kind", ["pubmed", "rss", "openfda"])
def test_the_page_is_inert_and_fits_every_screen(browser, tmp_path, upstream, kind):
    poll_and_digest(tmp_path, source_for(kind, upstream))
    page_file = tmp_path / "digests" / f"{WEEK}.html"
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    assert page.evaluate(ALLOWED) == []
    assert requests == [page_file.as_uri()]  # the page fetched nothing else: fonts, styles, images
    shown = page.inner_text("body")
    for key, payload in HOSTILE.items():
        if kind == "rss" and key == "c1-controls":
            continue  # feedparser reads C1 controls as windows-1252: text, but not this text
        assert plain(payload) in " ".join(shown.split()), key
    for width, media in ((375, "screen"), (1280, "screen"), (700, "print")):
        page.set_viewport_size({"width": width, "height": 800})
        page.emulate_media(media=media)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, media)
    page.close()


def test_the_index_page_in_the_browser(browser, tmp_path, upstream):
    poll_and_digest(tmp_path, source_for("pubmed", upstream))
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto((tmp_path / "digests" / "index.html").as_uri())
    assert page.title() == "Literature watch: all weeks" and page.evaluate(ALLOWED) == []
    # At 375 px: nothing wider than the screen, each week's label on one line, its dates beside it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.evaluate("[...document.querySelectorAll('.week')].map(e => e.getClientRects().length)") == [1]
    assert page.inner_text(f"#week-{WEEK.lower()}").startswith(f"{WEEK} · 23 Nov – 29 Nov 2026\n")
    assert page.locator("a[href='feed.xml']").count() == 1  # the feed, linked
    link = page.locator(f"a[href='{WEEK}.html']")
    assert link.count() == 1
    link.click()
    assert page.title().startswith(f"Literature watch {WEEK}:") and Path(page.url).name == f"{WEEK}.html"
    page.close()


def load_demo():
    """docs/demo.py, the script that makes the screenshots, as a module."""
    spec = importlib.util.spec_from_file_location("demo", PROJECT_ROOT / "docs" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory):
    """The demo week's page, made as docs/demo.py makes it: the project's feeds.yaml against the stand-ins."""
    folder = tmp_path_factory.mktemp("demo")
    with Server() as server:
        _code, week = load_demo().demo_week(folder, server)
    return week.with_suffix(".html")


FIRST_ITEM = "document.querySelector('ol.items > li').getBoundingClientRect().top + window.scrollY"


@pytest.mark.parametrize(("width", "height", "screens"), [(1280, 800, 1), (375, 667, 2)], ids=["desktop", "phone"])
def test_the_first_news_item_of_the_demo_week_is_within_reach(browser, demo_page, width, height, screens):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(demo_page.as_uri())
    top = page.evaluate(FIRST_ITEM)
    # Where it was before the headline came first: 2,348 px on a desktop, 3,877 px on a phone.
    assert 0 < top < screens * height, top
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.close()


def test_the_headline_is_the_first_text_after_the_title(browser, demo_page):
    page = browser.new_page(viewport={"width": 375, "height": 667})
    page.goto(demo_page.as_uri())
    following = page.evaluate("""() => {
      let el = document.querySelector('h1').nextElementSibling;
      while (el && !el.innerText.trim()) el = el.nextElementSibling;
      return [el.id, el.innerText];
    }""")
    assert following[0] == "headline"
    lead = following[1].splitlines()[0]
    assert lead.startswith("5 new items from ") and lead.endswith(
        ": 1 regulatory change, 1 meta-analysis or systematic review, 1 randomised trial, 1 preprint and 1 under “Also matched”.")
    assert "Regulatory: Spravato: new supplement SUPPL-13 approved 2026-11-18 (Labeling)." in following[1]
    assert "1 source failed this week; items from it may be missing:" in following[1]
    # Above the title only the way back to the index and the board: nothing that says what the week holds.
    assert page.evaluate("document.querySelector('h1').previousElementSibling.innerText") == "All weeks · Regulatory board"
    # The source table is folded away at the end, a click from being read.
    assert page.evaluate("document.querySelector('details#sources').open") is False
    assert page.evaluate(ALLOWED) == []
    page.close()
