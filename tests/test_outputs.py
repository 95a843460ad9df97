"""The HTML page per week, its index and the Atom feed: the same content as the Markdown, made
from the same view; self-contained, deterministic, valid."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from lxml import etree

from tests.configs import write_config
from watcher import cli
from watcher.config import load
from watcher.digest.publish import publish_due, publish_week
from watcher.errors import ConfigError
from watcher.model import Hit, Item, Match
from watcher.store import PollRecord
from watcher.weeks import Week, utc_iso

CHICAGO = ZoneInfo("America/Chicago")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=CHICAGO)  # 2026-W48
ATOM = "{http://www.w3.org/2005/Atom}"
HIT = (Hit("drug", "ketamine", "title", "Ketamine"),)


def item(n: int, title: str, types=("Randomized Controlled Trial",)) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
                abstract="Ketamine helped.", date="2026-11-20", authors=("Doe J",), journal="J Affect Disord",
                doi=f"10.1000/{n}", publication_types=types)


def save(store, items, when, polled=True):
    """Items found by a poll at `when` (a healthy poll, unless `polled` is False)."""
    store.save_batch("pubmed", [(i, Match(True, ("t",), HIT)) for i in items], now=when)
    if polled:
        store.record_poll(PollRecord("pubmed", utc_iso(when), True, len(items), len(items), len(items)))


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, site_url="https://clinic.example/watch")


def test_a_week_is_written_in_every_configured_format(store, config):
    save(store, [item(1, "Esketamine RCT"), item(2, "A case", ("Case Reports",))], MONDAY)
    records = publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    assert [(r.format, r.path, r.items) for r in records] == [("markdown", "2026-W48.md", 2), ("html", "2026-W48.html", 2)]
    names = sorted(p.name for p in config.digests.iterdir())
    assert names == ["2026-W48.html", "2026-W48.md", "feed.xml", "index.html", "index.md"]


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_files_are_written_with_the_process_umask_so_a_web_server_can_serve_them(store, config):
    save(store, [item(1, "Esketamine RCT")], MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    mask = current_umask()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in config.digests.iterdir()}
    assert modes == dict.fromkeys(["2026-W48.html", "2026-W48.md", "feed.xml", "index.html", "index.md"], 0o666 & ~mask)
    assert stat.S_IMODE(config.digests.stat().st_mode) == 0o777 & ~mask
    if mask == 0o022:  # the usual mask: readable by everyone, as any static host expects
        assert set(modes.values()) == {0o644}


@pytest.mark.slow
def test_another_umask_gives_other_modes(tmp_path):
    write_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "watcher", "digest", "--week", "2026-W48"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.umask(0o027),
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert result.returncode == 0, result.stderr
    digests = tmp_path / "digests"
    assert stat.S_IMODE(digests.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in digests.iterdir()} == {0o640}


def test_the_page_is_self_contained_and_anchored(store, config):
    save(store, [item(1, "Esketamine RCT"), item(2, "A case", ("Case Reports",))], MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    page = (config.digests / "2026-W48.html").read_text()
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert "<title>Literature watch 2026-W48: 2 new items</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style>" in page and "@media print" in page
    # Nothing is fetched by the page: no script, no external style, font, image or frame.
    assert not re.search(r"<(script|link|img|iframe|object|embed|svg)\b|@import|url\(|src=", page, re.I)
    assert 'id="section-rct"' in page and 'id="section-case"' in page
    assert 'id="item-pubmed-1"' in page and 'id="item-pubmed-2"' in page
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/1/">Esketamine RCT</a>' in page
    assert '<a href="https://doi.org/10.1000/1">doi:10.1000/1</a>' in page


def test_the_page_shows_what_the_markdown_shows(store, config):
    save(store, [item(1, "Esketamine RCT")], MONDAY, polled=False)
    store.record_poll(PollRecord("pubmed", utc_iso(MONDAY), False, error="eutils.example: HTTP 503 after 4 tries"))
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    markdown = (config.digests / "2026-W48.md").read_text()
    page = (config.digests / "2026-W48.html").read_text()
    for words in ("1 new item", "from Mon 23 Nov 2026 to Sun 29 Nov 2026: 1 randomised trial.",
                  "1 source failed this week; items from it may be missing:", "pubmed</strong> failed 1 of 1 poll this week: ",
                  "eutils.example: HTTP 503 after 4 tries", "Randomised controlled trials (1)", "Ketamine helped.",
                  "matched ketamine in the title"):
        shown = words.replace("</strong>", "**")
        assert words in page and (shown in markdown or shown.replace(".", "\\.", 1) in markdown), words


def test_same_store_same_bytes_in_every_format(store, config, tmp_path):
    save(store, [item(1, "Esketamine RCT"), item(2, "Ketamine & <depression>")], MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    first = {p.name: p.read_bytes() for p in config.digests.iterdir()}
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY + timedelta(days=1))
    assert {p.name: p.read_bytes() for p in config.digests.iterdir()} == first
    assert b"Ketamine &amp; &lt;depression&gt;" in first["2026-W48.html"]


def test_the_index_lists_weeks_newest_first_with_dates_counts_and_warnings(store, tmp_path):
    topics = {"k": {"description": "Ketamine for depression", "groups": {"any": ["*"]}}, "other": {"groups": {"any": ["*"]}}}
    config = write_config(tmp_path, site_url="https://clinic.example/watch", topics=topics)
    save(store, [item(1, "A")], MONDAY - timedelta(days=7))
    save(store, [item(2, "B"), item(3, "C")], MONDAY, polled=False)
    store.record_poll(PollRecord("pubmed", utc_iso(MONDAY), False, error="down"))
    publish_week(store, config, Week.parse("2026-W47"), now=MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    index = (config.digests / "index.html").read_text()
    rows = re.findall(r'<li id="week-(\d{4}-w\d\d)"><strong class="week"><a href="(.+?)">.*?</a></strong>'
                      r' · <span class="dates">(.+?)</span><br>\n(\d+) new items? · (.*?)</li>', index)
    assert [(w, href, dates, n) for w, href, dates, n, _ in rows] == [
        ("2026-w48", "2026-W48.html", "23 Nov – 29 Nov 2026", "2"), ("2026-w47", "2026-W47.html", "16 Nov – 22 Nov 2026", "1")]
    assert "1 source failing or not polled" in rows[0][4] and rows[1][4] == "no warnings"
    # The topic's description is its title; it links the feed.
    assert "<title>Ketamine for depression: all weeks</title>" in index and '<h1 class="site">Ketamine for depression</h1>' in index
    assert '<a href="feed.xml">The Atom feed</a>' in index
    markdown = (config.digests / "index.md").read_text()
    assert markdown.startswith("# Ketamine for depression\n") and "[The Atom feed](feed.xml)" in markdown
    assert "- [2026-W48](2026-W48.md) · 23 Nov – 29 Nov 2026 · 2 new items · **1 source failing or not polled**\n" in markdown
    assert "- [2026-W47](2026-W47.md) · 16 Nov – 22 Nov 2026 · 1 new item\n" in markdown
    titles = [e.title for e in feedparser.parse((config.digests / "feed.xml").read_bytes()).entries]
    assert titles == ["Literature watch 2026-W48: 2 new items, 1 source failing", "Literature watch 2026-W47: 1 new item"]


def test_a_weeks_dates_in_the_index_across_a_month_and_a_year():
    from watcher.digest.site import dates

    assert dates("2026-W49") == "30 Nov – 6 Dec 2026" and dates("2026-W53") == "28 Dec 2026 – 3 Jan 2027"
    assert dates("not a week") == ""


def test_the_feed_is_valid_atom_with_stable_ids_and_honest_updated(store, config):
    save(store, [item(1, "A")], MONDAY - timedelta(days=7))
    publish_week(store, config, Week.parse("2026-W47"), now=MONDAY - timedelta(days=1))
    save(store, [item(2, "B")], MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    first = (config.digests / "feed.xml").read_bytes()
    parsed = feedparser.parse(first)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Literature watch 2026-W48: 1 new item", "Literature watch 2026-W47: 1 new item"]
    assert parsed.entries[0].link == "https://clinic.example/watch/2026-W48.html"
    assert parsed.entries[0].id == "tag:clinic.example,2026:/watch/2026-W48"
    # RFC 4287: the feed and each entry have id, title, updated; content is the week's HTML body.
    root = etree.fromstring(first)
    for element in [root, *root.findall(f"{ATOM}entry")]:
        for child in ("id", "title", "updated"):
            assert element.find(f"{ATOM}{child}") is not None and element.find(f"{ATOM}{child}").text, child
    assert root.find(f"{ATOM}author/{ATOM}name").text == "watcher"
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "https://clinic.example/watch/feed.xml"
    content = root.find(f"{ATOM}entry/{ATOM}content")
    assert content.get("type") == "html" and '<h1 id="top">Literature watch 2026-W48</h1>' in content.text
    updated = {e.id: e.updated for e in parsed.entries}
    # Rewriting W48 unchanged keeps its `updated`; a new item in it moves it, and only it.
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY + timedelta(days=1))
    assert (config.digests / "feed.xml").read_bytes() == first
    save(store, [item(3, "C")], MONDAY + timedelta(days=2))
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY + timedelta(days=2))
    again = {e.id: e.updated for e in feedparser.parse((config.digests / "feed.xml").read_bytes()).entries}
    w48, w47 = (f"tag:clinic.example,2026:/watch/2026-W{n}" for n in (48, 47))
    assert again[w47] == updated[w47] and again[w48] > updated[w48]


def test_without_site_url_the_feed_ids_are_fixed_urns_and_entries_link_relative_to_the_feed(store, tmp_path, capsys):
    config = write_config(tmp_path)
    save(store, [item(1, "A")], MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    text = (config.digests / "feed.xml").read_text()
    # A reader resolves the links against the feed's own address, next to which the pages are published.
    parsed = feedparser.parse(text, response_headers={"content-location": "https://host.example/watch/feed.xml", "content-type": "application/atom+xml"})
    assert not parsed.bozo and parsed.entries[0].id.startswith("urn:uuid:")
    assert parsed.entries[0].link == "https://host.example/watch/2026-W48.html"
    assert parsed.feed.link == "https://host.example/watch/index.html"
    assert 'rel="self"' not in text  # the feed's own address is not known
    # The content makes no link to other pages: its links would be read against the reader's page, not ours.
    content = etree.fromstring(text.encode()).find(f"{ATOM}entry/{ATOM}content").text
    assert "index.html" not in content and "board.html" not in content
    # `watcher check` says that feed readers need site_url; with it, nothing.
    assert cli.main(["--config", str(config.path), "check"]) == cli.EXIT_OK
    assert capsys.readouterr().err.startswith("watcher: warning: outputs include atom but site_url is not set: the feed's entries")
    with_site = write_config(tmp_path / "site", site_url="https://clinic.example/watch/")
    without_feed = write_config(tmp_path / "md", outputs=["markdown", "html"])
    for path in (with_site.path, without_feed.path):
        assert cli.main(["--config", str(path), "check"]) == cli.EXIT_OK
        assert "site_url" not in capsys.readouterr().err


def test_the_feed_holds_the_last_52_weeks(store, config):
    now = datetime(2026, 11, 23, 9, tzinfo=CHICAGO)
    store.begin_run("poll", now=now - timedelta(weeks=60))  # the store's history starts 60 weeks back
    publish_due(store, config, now=now)
    entries = feedparser.parse((config.digests / "feed.xml").read_bytes()).entries
    assert len(entries) == 52 and entries[0].title.startswith("Literature watch 2026-W48")


@pytest.mark.parametrize(("outputs", "message"), [
    (["html"], "outputs: must include markdown"),
    (["markdown", "pdf"], "outputs[1]: unknown output 'pdf'; use some of: markdown, html, atom"),
])
def test_outputs_are_validated(tmp_path, outputs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        write_config(tmp_path, outputs=outputs)


def test_only_markdown_when_asked(store, tmp_path):
    config = write_config(tmp_path, outputs=["markdown"])
    assert load(config.path).outputs == ("markdown",)
    save(store, [item(1, "A")], MONDAY)
    publish_week(store, config, Week.parse("2026-W48"), now=MONDAY)
    assert sorted(p.name for p in config.digests.iterdir()) == ["2026-W48.md", "index.md"]
