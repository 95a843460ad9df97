"""The HTML digest in a real headless browser (the system's Chromium, driven by Playwright):
hostile text from every source shows as text, nothing runs, every link is one we allow, and the
page fits a 375 px phone, a desktop and the printed page. Skips where no Chromium is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.polls import WEEK
from tests.test_hostile import HOSTILE, poll_and_digest, source_for
from watcher.text import plain

pytestmark = pytest.mark.slow  # a browser is a process of its own

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
# As the machine's notes say: without these, Chromium keeps trying to reach Google's hosts.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


ALLOWED = """() => {
  const bad = [];
  if (document.scripts.length) bad.push('script');
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
    if (['IFRAME', 'OBJECT', 'EMBED', 'IMG', 'SVG', 'LINK', 'FORM', 'INPUT'].includes(el.tagName)) bad.push(el.tagName);
  }
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    if (!(/^https?:\\/\\//.test(href) || /^(index|\\d{4}-W\\d\\d)\\.html(#[a-z0-9-]+)?$/.test(href))) bad.push('href ' + href);
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
    link = page.locator(f"a[href='{WEEK}.html']")
    assert link.count() == 1
    link.click()
    assert page.title().startswith(f"Literature watch {WEEK}:") and Path(page.url).name == f"{WEEK}.html"
    page.close()
