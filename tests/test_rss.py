"""RSS/Atom sources over real HTTP (the feed stand-in of tests/upstreams on 127.0.0.1) through the
real poll path: FDA-shaped feeds, conditional GET, fda.gov's failure modes, hostile XML, and every
file of the shared feedparser corpus."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
import time
import tracemalloc
from pathlib import Path

import feedparser
import pytest

from tests import configs
from tests.configs import ANY_TOPIC, DRUG_TOPIC, USER_AGENT
from tests.polls import NOW, WEEK, run_poll
from tests.upstreams import faults, feeds, fixture
from tests.upstreams.feeds import Feed
from watcher.config import Config
from watcher.digest.publish import render
from watcher.errors import ConfigError, ParseError, UpstreamError
from watcher.sources import rss, rss_feed
from watcher.sources.rss import DEFAULT_ACCEPT
from watcher.sources.rss_feed import parse_feed
from watcher.store import Store
from watcher.weeks import Week

PRESS = fixture("rss", "fda_press_releases.xml")
ATOM = fixture("rss", "journal_atom.xml")
APOLOGY = fixture("rss", "apology.html")
APOLOGY_PATH = "/apology_objects/abuse-detection-apology.html"  # where fda.gov sends a client it refuses


def rss_source(name: str, url: str, **keys) -> dict:
    return configs.rss(url, name=name, **keys)


def write_config(tmp_path: Path, sources: list[dict], topics: dict = DRUG_TOPIC) -> Config:
    """The clinic's kind of topic by default: only items naming one of the drugs match."""
    return configs.write_config(tmp_path, sources, topics=topics)


def simple_feed(*items: tuple[str, str], extra: str = "") -> bytes:
    """An RSS 2.0 feed of (guid, title) items."""
    body = "".join(
        f"<item><title>{title}</title><link>https://example.org/{i}</link><guid>{guid}</guid>"
        f"<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>"
        for i, (guid, title) in enumerate(items)
    )
    return f'<?xml version="1.0"?>{extra}<rss version="2.0"><channel><title>T</title>{body}</channel></rss>'.encode()


# ---- a realistic FDA press-release feed ----


def test_fda_press_feed_is_read_into_regulatory_items(upstream, tmp_path):
    feed = Feed(upstream, "/press-releases/rss.xml", body=PRESS)
    config = write_config(tmp_path, [rss_source("fda-press", feed.url, section="regulatory", kind="press release")])
    polled = run_poll(config)

    assert polled.report.ok, polled.report
    assert polled.source("fda-press").fetched == 4
    items = {i: s.item for i, s in polled.items.items()}
    spravato = items["rss:fda-press:fda-press-2026-11-23-spravato"]
    # Relative links resolve against xml:base; HTML reduced to plain text, entities decoded.
    assert spravato.url == ("https://www.fda.gov/news-events/press-announcements/"
                            "fda-approves-new-indication-spravato-esketamine-nasal-spray")
    assert spravato.abstract.startswith("The U.S. Food and Drug Administration today approved a supplemental")
    assert "<" not in spravato.abstract and "Safety information remains in the REMS." in spravato.abstract
    # 22:30 EST on the 23rd is the 24th in UTC: the date is the feed's own day.
    assert spravato.date == "2026-11-23"
    assert (spravato.section, spravato.kind) == ("regulatory", "press release")
    assert spravato.extra == {"feed": "FDA Press Releases", "guid": "fda-press-2026-11-23-spravato"}
    assert spravato.publication_types == ("press release",)
    eye = items["rss:fda-press:fda-press-2026-10-30-eye-drops"]
    assert eye.title == "FDA Warns Consumers Not to Use Certain Eye Drops & Ointments"
    assert eye.date == "2026-10-30"  # EDT
    assert eye.abstract == "Products may be contaminated. Consumers should stop using them & talk to a health care provider."
    # No guid: the link is the id.
    assert ("rss:fda-press:https://www.fda.gov/news-events/press-announcements/"
            "fda-issues-draft-guidance-psychedelic-drug-trials") in items
    # The topic filter (applied by poll) keeps only the entry naming the drug.
    matched = sorted(i for i, s in polled.items.items() if s.match.matched)
    assert matched == ["rss:fda-press:fda-press-2026-11-23-spravato"]
    # Who we said we are: the config's user agent, the feed Accept header.
    (request,) = upstream.requests("rss")
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["accept"] == DEFAULT_ACCEPT


def test_regulatory_digest_section_from_a_real_poll(upstream, tmp_path):
    feed = Feed(upstream, "/press-releases/rss.xml", body=PRESS)
    config = write_config(tmp_path, [rss_source("fda-press", feed.url, section="regulatory", kind="press release")])
    run_poll(config)
    with Store.open(config.database) as store:
        page = render(store, config, Week.parse(WEEK))
    section = page.split("## Regulatory (1)", 1)[1]
    assert section.lstrip().startswith(
        "- **[FDA Approves New Indication for Spravato (esketamine) Nasal Spray]"
        "(https://www.fda.gov/news-events/press-announcements/fda-approves-new-indication-spravato-esketamine-nasal-spray)**")
    assert "2026-11-23" in section  # the date
    assert "press release" in section  # the kind, shown as the item's type
    assert "> The U.S. Food and Drug Administration today approved a supplemental" in section  # one-line opening
    assert "FDA Roundup" not in page  # not on topic


def test_a_feeds_section_comes_from_feeds_yaml_alone(tmp_path):
    # No host is special: an fda.gov feed without `section` is sorted by its entries' types like any other.
    config = write_config(tmp_path, [rss_source("fda-drugs", "https://www.fda.gov/x/drugs/rss.xml"),
                                     rss_source("jad", "https://journal.example.org/rss", section="Regulatory")])
    assert [s.settings.section for s in config.sources] == [None, "regulatory"]
    items = parse_feed(PRESS, source="fda-drugs", feed_url="https://www.fda.gov/x/drugs/rss.xml")
    assert items and all(i.section is None for i in items)


def test_atom_feed_relative_links_dates_and_text(upstream, tmp_path):
    feed = Feed(upstream, "/journal/latest.atom", body=ATOM, content_type="application/atom+xml")
    config = write_config(tmp_path, [rss_source("jas", feed.url, section="other")])
    polled = run_poll(config)
    assert polled.report.ok
    first = polled.items["rss:jas:urn:doi:10.9999/jas.2026.0142"].item
    second = polled.items["rss:jas:urn:doi:10.9999/jas.2026.0143"].item
    assert first.url == upstream.url("/journal/articles/2026/0142")  # against the feed's URL
    assert first.date == "2026-11-19"  # published, as written (-06:00), not updated
    assert first.authors == ("Roe, Ann", "Doe, Jon")
    assert first.keywords == ("esketamine", "depression")
    assert first.journal == "Journal of Affective Studies: latest articles"
    assert first.abstract == "Adults with TRD were randomised 1:1."  # script removed by feedparser's sanitizer
    assert first.section == "other" and first.kind is None
    assert second.title == "Sleep <and> mood in shift workers"  # plain text stays as written
    assert second.abstract == "Cross-sectional survey ."
    assert second.date == "2026-11-18"


def test_user_agent_and_accept_can_be_set_per_source(upstream, tmp_path):
    feed = Feed(upstream, "/feed", body=PRESS)
    config = write_config(tmp_path, [rss_source("f", feed.url, user_agent="clinic-bot/2 (ops@example.org)",
                                                accept="application/rss+xml")])
    assert run_poll(config).report.ok
    (request,) = upstream.requests("rss")
    assert request.headers["user-agent"] == "clinic-bot/2 (ops@example.org)"
    assert request.headers["accept"] == "application/rss+xml"


# ---- conditional GET ----


def test_not_modified_costs_no_parsing_and_no_writes(upstream, tmp_path, monkeypatch):
    etag, modified = '"v1-abc"', "Tue, 24 Nov 2026 17:00:00 GMT"
    feed = Feed(upstream, "/feed", body=PRESS, etag=etag, last_modified=modified)
    config = write_config(tmp_path, [rss_source("fda-press", feed.url, section="regulatory")])
    first = run_poll(config)
    assert first.source("fda-press").new == 4
    assert (first.states["fda-press"].etag, first.states["fda-press"].last_modified) == (etag, modified)

    def no_parsing(*args, **kwargs):
        raise AssertionError("a 304 must not be parsed")

    monkeypatch.setattr(rss, "parse_feed", no_parsing)
    second = run_poll(config, now=NOW.replace(hour=19))
    monkeypatch.undo()
    report = second.source("fda-press")
    assert report.ok and report.fetched == report.new == 0
    validators = upstream.requests("rss")[1].headers
    assert (validators.get("if-none-match"), validators.get("if-modified-since")) == (etag, modified)
    assert (second.states["fda-press"].etag, second.states["fda-press"].last_modified) == (etag, modified)
    assert second.states["fda-press"].last_success == "2026-11-24T19:00:00Z"
    assert {k: v.item for k, v in second.items.items()} == {k: v.item for k, v in first.items.items()}

    # The feed changes: a 200 with a new ETag brings the new entry and the new validators.
    feed.body, feed.etag = simple_feed(("new-1", "Ketamine recall notice")), '"v2"'
    third = run_poll(config, now=NOW.replace(hour=20))
    assert third.source("fda-press").new == 1
    assert third.states["fda-press"].etag == '"v2"'


# ---- fda.gov's ways of not sending a feed ----


def test_redirect_to_apology_page_is_a_failure_not_an_empty_week(upstream, tmp_path):
    refused = feeds.redirect(upstream, "/feed", APOLOGY_PATH)
    apology = feeds.page(upstream, APOLOGY_PATH, APOLOGY)
    other = Feed(upstream, "/other", body=PRESS)
    config = write_config(tmp_path, [rss_source("fda-press", refused), rss_source("fda-drugs", other.url)])
    polled = run_poll(config)
    failed = polled.source("fda-press")
    assert not failed.ok
    assert upstream.labels().count(f"page:{APOLOGY_PATH}") == 1  # the redirect was followed, once
    assert failed.error == (f"{apology.split('/')[2]}: answered with an HTML page instead of a feed"
                            f" (after a redirect to {APOLOGY_PATH})")
    assert polled.states["fda-press"].last_error == failed.error
    assert polled.states["fda-press"].consecutive_failures == 1
    assert polled.source("fda-drugs").ok  # the other feed is unharmed
    with Store.open(config.database) as store:
        page = render(store, config, Week.parse(WEEK))
    assert "\n- **fda-press** failed 1 of 1 poll this week: " in page and "may be missing:**" in page


def test_html_page_with_status_200_is_a_failure(upstream, tmp_path):
    # Even when the server calls it a feed: the body decides.
    feed = Feed(upstream, "/feed", body=APOLOGY, content_type="application/rss+xml")
    config = write_config(tmp_path, [rss_source("fda-press", feed.url)])
    error = run_poll(config).source("fda-press").error
    assert error == f"{feed.url.split('/')[2]}: answered with an HTML page instead of a feed (GET /feed)"


@pytest.mark.parametrize("status", [403, 404, 410, 204])
def test_non_200_statuses_are_failures(upstream, tmp_path, status):
    feed = Feed(upstream, "/feed", body=PRESS)
    upstream.arm("rss", faults.answer(status, "<html><body><h1>Access Denied</h1></body></html>" if status != 204 else "",
                                      "text/html"))
    config = write_config(tmp_path, [rss_source("fda-press", feed.url)])
    polled = run_poll(config)
    error = polled.source("fda-press").error
    assert error.startswith(f"{feed.url.split('/')[2]}: HTTP {status} (GET /feed)")
    assert "\n" not in error
    assert polled.states["fda-press"].last_success is None


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/rss+xml", "answered with an empty body instead of a feed (GET /feed)"),
        (b'{"error": "not here"}', "application/json", "not an RSS or Atom feed: SAXParseException"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", "application/xml", "not an RSS or Atom feed"),
    ],
)
def test_bodies_that_are_not_feeds_are_failures(upstream, tmp_path, body, content_type, reason):
    feed = Feed(upstream, "/feed", body=body, content_type=content_type)
    config = write_config(tmp_path, [rss_source("f", feed.url)])
    polled = run_poll(config)
    assert reason in polled.source("f").error
    assert not polled.items


# ---- untrusted XML ----


def test_duplicate_ids_within_a_feed_are_stored_once(upstream, tmp_path):
    feed = Feed(upstream, "/feed", body=simple_feed(("g-1", "Ketamine one"), ("g-2", "Ketamine two"),
                                                    ("g-1", "Ketamine one, again")))
    config = write_config(tmp_path, [rss_source("f", feed.url)])
    polled = run_poll(config)
    assert sorted(polled.items) == ["rss:f:g-1", "rss:f:g-2"]
    assert polled.items["rss:f:g-1"].item.title == "Ketamine one"  # the first copy


def test_parser_crash_is_a_recorded_failure_of_that_feed_only(upstream, tmp_path):
    # feedparser 6.0.14 raises ValueError from chr() on a character reference beyond U+10FFFF.
    crash = Feed(upstream, "/crash", body=simple_feed(("g-1", "bad &#1114112; reference")))
    fine = Feed(upstream, "/fine", body=PRESS)
    config = write_config(tmp_path, [rss_source("crash", crash.url), rss_source("fine", fine.url)])
    polled = run_poll(config)
    assert polled.source("crash").error.endswith(": feed could not be parsed: ValueError: chr() arg not in range(0x110000)")
    assert polled.source("fine").ok and polled.source("fine").fetched == 4


def test_bozo_feed_keeps_its_entries_with_a_warning(upstream, tmp_path, caplog):
    # &nbsp; is not an XML entity: the strict parser gives up, the loose one reads the entries.
    feed = Feed(upstream, "/feed", body=simple_feed(("g-1", "Ketamine&nbsp;news"), ("g-2", "Other")))
    config = write_config(tmp_path, [rss_source("f", feed.url)])
    with caplog.at_level(logging.WARNING, logger="watcher.sources.rss"):
        polled = run_poll(config)
    assert polled.source("f").ok
    assert polled.items["rss:f:g-1"].item.title == "Ketamine news"  # no-break space, folded
    assert any("not well-formed" in r.getMessage() and "keeping its 2 entries" in r.getMessage() for r in caplog.records)


def quadratic_blowup(value_bytes: int, references: int) -> bytes:
    """One long entity used many times: feedparser 6.0.14 keeps such "safe" entities and its loose
    parser expands them (expat refuses the amplification, so the loose parser gets the job)."""
    return (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"A" * value_bytes + b'">\n]>\n'
            b'<rss version="2.0"><channel><title>t</title><item><title>ketamine</title><guid>g</guid><description>'
            + b"&a;" * references + b"</description></item></channel></rss>")


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>g</guid>'
      b"<description>&lol9;&lol9;</description></item></channel></rss>"
)


@pytest.mark.parametrize("name", ["quadratic", "billion_laughs"])
def test_entity_bombs_do_not_expand(name):
    # Without the DOCTYPE removal, the quadratic case would grow to 10_000 x 50_000 = 500 MB of text.
    body = quadratic_blowup(50_000, 10_000) if name == "quadratic" else BILLION_LAUGHS
    tracemalloc.start()
    try:
        items = parse_feed(body, source="f", feed_url="https://example.org/feed", content_type="application/rss+xml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"  # its time: benchmarks/time_bounds.py
    assert len(items) == 1
    assert len(items[0].abstract or "") <= rss_feed.MAX_TEXT  # the references stay unexpanded text
    if name == "billion_laughs":
        assert items[0].title == "&lol9;"


def test_entity_declarations_never_reach_the_parser(upstream, tmp_path):
    # feedparser 6.0.14 puts the value of a declared entity into a regex replacement, so a
    # backslash in it raised re.error before; external entities must not be read either.
    feed = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY path "C:\\data">\n'
            b'<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
            b'<rss version="2.0"><channel><title>&path;</title><item><title>ketamine &xxe; &path;</title>'
            b"<guid>g</guid></item></channel></rss>")
    config = write_config(tmp_path, [rss_source("f", Feed(upstream, "/feed", body=feed).url)])
    polled = run_poll(config)
    assert polled.source("f").ok
    assert polled.items["rss:f:g"].item.title == "ketamine &xxe; &path;"
    assert "root:" not in Path(config.database).read_bytes().decode("latin-1")


def test_feed_bytes_are_never_taken_for_a_file_name(tmp_path):
    # feedparser.parse(bytes) first tries open(bytes): a body naming a local file would be read.
    secret = tmp_path / "secret.xml"
    secret.write_bytes(simple_feed(("secret-guid", "local file")))
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):  # the bytes are a path, not XML
        parse_feed(str(secret).encode(), source="f", feed_url="https://example.org/feed")


def test_dates_in_the_forms_feeds_use():
    assert rss_feed.date_text("Tue, 05 Dec 2023 16:59:37 EST") == "2023-12-05"
    assert rss_feed.date_text("Tue, 05 Dec 2023 23:59:37 -0500") == "2023-12-05"
    assert rss_feed.date_text("05 Dec 2023 16:59 EDT") == "2023-12-05"
    assert rss_feed.date_text("2003-12-31T10:14:55Z") == "2003-12-31"  # W3C, dc:date
    assert rss_feed.date_text("2004-04-06T23:05:43-05:00") == "2004-04-06"
    assert rss_feed.date_text("2026-11") == "2026-11"
    assert rss_feed.date_text("2026") == "2026"
    assert rss_feed.date_text("2026-02-30") is None
    assert rss_feed.date_text("yesterday") is None
    # Any other form feedparser understood comes from its parsed (UTC) value; published first.
    parsed = time.strptime("2004-01-02", "%Y-%m-%d")
    assert rss_feed.entry_date({"published": "2 janvier 2004", "published_parsed": parsed}) == "2004-01-02"
    assert rss_feed.entry_date({"updated": "2003-12-31T10:14:55Z", "published": "Fri, 02 Jan 2004 10:00:00 EST"}) == "2004-01-02"
    assert rss_feed.entry_date({"title": "undated"}) is None


# ---- configuration ----


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"section": "regulatroy"}, "sources[0] (f).section: unknown section 'regulatroy'; use one of: regulatory,"),
        ({"kind": ["a"]}, "sources[0] (f).kind: must be text, not a list"),
        ({"user_agent": "x\ny"}, "sources[0] (f).user_agent: must be a single line"),
        ({"accept": ""}, "sources[0] (f).accept: must not be empty"),
        ({"etag": "x"}, "sources[0] (f).etag: unknown key; expected one of: accept, kind, section, user_agent"),
    ],
)
def test_config_errors_name_the_key(tmp_path, keys, message):
    with pytest.raises(ConfigError) as caught:
        write_config(tmp_path, [rss_source("f", "https://www.fda.gov/feed.xml", **keys)])
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# ---- the shared feedparser corpus, every file, over HTTP ----

HEADER_RE = re.compile(r"^Header:\s+([^:]+):(.*)$", re.M)


def corpus_headers(data: bytes, rel: str) -> dict[str, str]:
    """The file's `Header:` lines; Content-Type as feedparser's own HTTP tests default it."""
    text = data.decode("utf-8", "ignore")
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            text = data.decode(codec, "ignore")
            break
    headers = {k.strip().lower(): v.strip() for k, v in HEADER_RE.findall(text)}
    headers.setdefault("content-type", "text/xml" if "http" in rel else "application/xml")
    return headers


def test_every_corpus_feed_polls_cleanly(upstream, tmp_path, corpus_dir, caplog):
    root = corpus_dir / "feeds"
    if not root.is_dir():
        pytest.skip(f"no feeds folder in the shared corpus at {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix == ".xml")
    assert len(files) > 50, "the corpus should hold feedparser's test feeds"
    sources, expected = [], {}
    for i, path in enumerate(files):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        headers = corpus_headers(data, rel)
        content_type = headers.pop("content-type")
        feed = Feed(upstream, f"/corpus/{rel}", body=data, content_type=content_type, headers=headers)
        name = f"c{i:02d}"
        sources.append(rss_source(name, feed.url))
        if rel.startswith("wellformed/"):
            # Counted with feedparser directly: entries sharing an id are one item by design.
            entries = feedparser.parse(io.BytesIO(data), response_headers={"content-type": content_type}).entries
            keys = {e.get("id") or e.get("link") or f"#{n}" for n, e in enumerate(entries)}
            expected[name] = (rel, len(keys), len(entries))
    config = write_config(tmp_path, sources, topics=ANY_TOPIC)
    with caplog.at_level(logging.DEBUG):
        polled = run_poll(config)

    assert len(polled.report.sources) == len(files)
    for source in polled.report.sources:
        if not source.ok:
            assert source.error and "\n" not in source.error, source
            assert not source.error.startswith("internal error"), source
            assert "Traceback" not in source.error
    assert not [r for r in caplog.records if r.exc_info], "no traceback may be logged"
    stored: dict[str, int] = {}
    for stored_item in polled.items.values():
        stored[stored_item.item.source] = stored.get(stored_item.item.source, 0) + 1
    for name, (rel, distinct, entries) in expected.items():
        assert polled.source(name).ok, (rel, polled.source(name).error)
        assert stored.get(name, 0) == distinct, rel
        if rel == "wellformed/node_precedence/atom10_id.xml":
            assert (distinct, entries) == (1, 2)  # two entries, one id
    assert sum(e[1] for e in expected.values()) >= 40
    # What feedparser's own suite expects of the entity-declaration file holds here too.
    assert polled.source(next(n for n, e in expected.items() if e[0] == "wellformed/rdf/doctype_contains_entity_decl.xml")).ok
    with sqlite3.connect(config.database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM polls").fetchone()[0] == len(files)


def test_parse_feed_is_pure_and_raises_only_watcher_errors():
    for body in (b"\x00\xff\xfe garbage", b"<rss", b"<<<>>>", b"<?xml version='1.0'?>", "<rss>é</rss>".encode("utf-16")):
        try:
            parse_feed(body, source="f", feed_url="https://example.org/")
        except (ParseError, UpstreamError) as exc:
            assert "\n" not in str(exc)
