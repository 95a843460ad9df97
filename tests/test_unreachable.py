"""A host that cannot be reached fails fast and quietly: a name that does not resolve (a `.invalid`
name never does, RFC 2606) or a port on 127.0.0.1 where nothing listens gets one quick retry, not
four tries with backoff; every later request to it in the same poll, from any source, the
regulatory board or the page, fails at once with the same reason and no network try; the next
poll tries again. Connection attempts are counted where urllib3 opens its sockets (a spy that
lets every call through), so "no network try" is a count, not a timing."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import urllib3.util.connection
import yaml
from pytest_httpserver import HTTPServer

from tests.article_page import default_article, default_topic
from tests.configs import openfda, regulatory, rss, write_config
from tests.fakes import FakeTime
from tests.polls import run_poll
from tests.upstreams import faults, feeds
from tests.upstreams.server import Reply
from watcher.article.claims import ARTICLE
from watcher.errors import FetchError
from watcher.http import HttpClient, HttpPolicy, UnreachableHosts
from watcher.regulatory.settings import REGULATORY

ROOT = Path(__file__).resolve().parent.parent
UNRESOLVED = "api.watcher-tests.invalid"
LOG_LINE = 300  # characters: the longest line the log may write at its default level



@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def connects(monkeypatch) -> Counter[str]:
    """Every connection urllib3 tries to open (name look-up, then connect), by "host:port"."""
    seen: Counter[str] = Counter()
    real = urllib3.util.connection.create_connection

    def counted(address, *args, **kwargs):
        seen[f"{address[0]}:{address[1]}"] += 1
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    return seen


@pytest.fixture
def closed() -> int:
    return faults.closed_port()


def client(fake: FakeTime, unreachable: UnreachableHosts | None = None, **policy) -> HttpClient:
    """The default policy (4 tries, 2 s backoff doubling), pacing out of the way."""
    return HttpClient(HttpPolicy(user_agent="watcher-tests/1", rate=1e9, **policy),
                      sleep=fake.sleep, clock=fake.clock, unreachable=unreachable)


# ---- the HTTP layer ----


@pytest.mark.parametrize("kind", ["refused", "not resolved"])
def test_an_unreachable_host_gets_one_quick_retry_not_four_tries_with_backoff(kind, fake, connects, closed):
    host, reason = (f"127.0.0.1:{closed}", "connection refused") if kind == "refused" else (UNRESOLVED, "host name not resolved")
    unreachable = UnreachableHosts()
    with pytest.raises(FetchError) as caught:
        client(fake, unreachable).get(f"http://{host}/feed.xml")
    assert str(caught.value) == f"{host}: {reason} (2 tries, GET /feed.xml)"
    assert sum(connects.values()) == 2 and fake.waits == [1.0]
    assert unreachable.hosts() == {host: reason}


def test_a_host_that_answers_badly_keeps_every_try_with_backoff(upstream, fake):
    url = upstream.static("/reset", Reply(200, b"x"), label="reset")
    upstream.arm("reset", faults.reset)
    unreachable = UnreachableHosts()
    with pytest.raises(FetchError, match=r": connection reset \(4 tries, GET /reset\)$"):
        client(fake, unreachable).get(url)
    assert upstream.count("reset") == 4 and [w >= 2 ** i * 2 for i, w in enumerate(fake.waits)] == [True] * 3
    assert unreachable.hosts() == {}  # it answered: the next request to it is tried


def test_a_blip_is_mended_by_the_quick_retry_and_marks_nothing(fake, closed):
    """The port refuses the first try; a server listens there by the time of the retry."""
    started: list[HTTPServer] = []

    def wait(seconds: float) -> None:
        fake.sleep(seconds)
        server = HTTPServer(host="127.0.0.1", port=closed)
        server.expect_request("/feed.xml").respond_with_data(b"back")
        server.start()
        started.append(server)

    unreachable = UnreachableHosts()
    http = HttpClient(HttpPolicy(user_agent="watcher-tests/1", rate=1e9), sleep=wait, clock=fake.clock,
                      unreachable=unreachable)
    try:
        assert http.get(f"http://127.0.0.1:{closed}/feed.xml").body == b"back"
    finally:
        for server in started:
            server.stop()
    assert fake.waits == [1.0] and unreachable.hosts() == {}


def test_every_client_sharing_the_record_fails_at_once_with_the_same_reason(upstream, fake, connects, closed):
    unreachable = UnreachableHosts()
    first, second = client(fake, unreachable), client(fake, unreachable, accept="application/json")
    with pytest.raises(FetchError):
        first.get(f"http://127.0.0.1:{closed}/a")
    waited = list(fake.waits)
    with pytest.raises(FetchError) as caught:
        second.get(f"http://127.0.0.1:{closed}/b.json", params={"search": "x", "api_key": "k3y"})
    assert str(caught.value) == f"127.0.0.1:{closed}: connection refused (not tried again this poll, GET /b.json?…)"
    assert connects[f"127.0.0.1:{closed}"] == 2 and fake.waits == waited  # no try, no wait
    # Another host is asked as before.
    assert second.get(upstream.static("/ok", Reply(200, b"fine"))).body == b"fine"
    # A record of its own, as the next poll has, tries the host again.
    with pytest.raises(FetchError, match=r"connection refused \(2 tries, GET /a\)$"):
        client(fake).get(f"http://127.0.0.1:{closed}/a")
    assert connects[f"127.0.0.1:{closed}"] == 4


def test_a_redirect_to_an_unreachable_host_marks_that_host_not_the_one_asked(upstream, fake, connects, closed):
    moved = upstream.static("/moved", Reply(302, b"", None, {"Location": f"http://127.0.0.1:{closed}/gone"}))
    unreachable = UnreachableHosts()
    http = client(fake, unreachable)
    with pytest.raises(FetchError) as caught:
        http.get(moved)
    asked = urlsplit(moved).netloc
    assert str(caught.value) == f"{asked}: connection refused at 127.0.0.1:{closed} after a redirect (2 tries, GET /moved)"
    assert unreachable.hosts() == {f"127.0.0.1:{closed}": "connection refused"}
    assert http.get(upstream.static("/ok", Reply(200, b"fine"))).body == b"fine"
    with pytest.raises(FetchError, match=r"after a redirect \(not tried again this poll, GET /moved\)$"):
        http.get(moved)  # asked again, then stopped at the redirect: no connection to the dead host
    assert connects[f"127.0.0.1:{closed}"] == 2


# ---- a poll ----


def outage_config(tmp_path, upstream, closed):
    """Two feeds and the page on a closed port, openFDA (and so the board) on a name that does not
    resolve, and a healthy feed."""
    healthy = feeds.Feed(upstream, "/healthy.xml", items=feeds.entries(2, "ok"), label="healthy")
    dead = f"http://127.0.0.1:{closed}"
    return write_config(tmp_path, [
        rss(f"{dead}/rss-feeds/press-releases/rss.xml", name="fda-press"),
        rss(f"{dead}/rss-feeds/drugs/rss.xml", name="fda-drugs"),
        openfda(f"http://{UNRESOLVED}/"),
        rss(healthy.url, name="healthy"),
    ], topics=default_topic(), regulatory=regulatory(), article=default_article(f"{dead}/ketamine-for-depression"))


def test_a_poll_tries_each_unreachable_host_once_and_the_next_poll_again(tmp_path, upstream, connects, closed, caplog):
    config = outage_config(tmp_path, upstream, closed)
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    polled = run_poll(config, sleeps=sleeps)
    errors = {s.name: s.error for s in polled.report.sources}
    dead = f"127.0.0.1:{closed}"
    assert errors == {
        "fda-press": f"{dead}: connection refused (2 tries, GET /rss-feeds/press-releases/rss.xml)",
        "fda-drugs": f"{dead}: connection refused (not tried again this poll, GET /rss-feeds/drugs/rss.xml)",
        "openfda": f"{UNRESOLVED}: host name not resolved (2 tries, GET /drug/drugsfda.json?…)",
        "healthy": None,
        REGULATORY: f"NDA211243, NDA016812: {UNRESOLVED}: host name not resolved (not tried again this poll, GET /drug/drugsfda.json?…)",
        ARTICLE: f"{dead}: connection refused (not tried again this poll, GET /ketamine-for-depression)",
    }
    assert connects == Counter({dead: 2, f"{UNRESOLVED}:80": 2, f"127.0.0.1:{upstream.port}": 1})
    # One quick retry per unreachable host. (This sleep only records, so time does not pass: the
    # host's pacing then asks again for the second the retry's wait would have covered.)
    assert [s for s in sleeps if s >= 1.0] == [1.0, 1.0] and sum(sleeps) < 4.0, sleeps
    assert polled.report.unreachable == {dead: "connection refused", UNRESOLVED: "host name not resolved"}
    assert not polled.report.nothing_fetched  # the healthy feed was stored
    assert polled.state("fda-drugs").last_error == errors["fda-drugs"]  # `status` and the digest say it

    # The log at its default level: short lines, no request URL; the whole URL only at DEBUG.
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud and all(len(m) < LOG_LINE - 60 and "://" not in m for m in loud), loud  # 60: time, level, logger
    assert any(r.levelno == logging.DEBUG and f"http://{UNRESOLVED}/drug/drugsfda.json?search=" in r.getMessage()
               for r in caplog.records)

    run_poll(config)
    assert connects[dead] == 4 and connects[f"{UNRESOLVED}:80"] == 4  # a new poll, a new record


def test_nothing_fetched_says_so_only_when_every_source_failed(tmp_path, upstream, closed, capsys):
    from watcher.cli import report_poll

    config = outage_config(tmp_path, upstream, closed)
    report_poll(run_poll(config).report)
    assert "nothing could be fetched" not in capsys.readouterr().out  # the healthy feed was fetched

    down = write_config(tmp_path / "down", [rss(f"http://127.0.0.1:{closed}/feed.xml")])
    assert report_poll(run_poll(down).report) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"fda-press: FAILED: 127.0.0.1:{closed}: connection refused (2 tries, GET /feed.xml)",
                     "nothing could be fetched: the only source failed; 1 host could not be reached (connection refused):"
                     " is this machine offline? The next poll tries again"]

    gone = upstream.static("/gone.xml", Reply(404, b"Not Found", "text/plain"))
    answered = write_config(tmp_path / "answered", [rss(gone, name="fda-press"), rss(gone, name="fda-drugs")])
    assert report_poll(run_poll(answered).report) == 1
    assert capsys.readouterr().out.splitlines()[-1] == ("nothing could be fetched: all 2 sources failed; `watcher status`"
                                                        " keeps the reasons, and the next poll tries again")


# ---- the quick start, offline: the shipped feeds.yaml in a real process ----

FAILED = re.compile(r"^(?P<name>[\w-]+): FAILED: (?:[A-Z]{3}\d{6}(?:, [A-Z]{3}\d{6})*: )?(?P<host>\S+): "
                    r"(?P<reason>host name not resolved|connection refused) \((?P<tries>2 tries|not tried again this poll), GET /")


@pytest.mark.slow
def test_the_quick_start_offline_is_quick_and_quiet(tmp_path, closed):
    """`watcher run --once` with the shipped feeds.yaml, every host's name made unresolvable
    (`<host>.invalid`), Europe PMC and the article on a closed port."""
    raw = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    hosts = set()
    for source in raw["sources"]:
        parts = urlsplit(source["url"])
        netloc = f"127.0.0.1:{closed}" if source["type"] == "europepmc" else f"{parts.hostname}.invalid"
        source["url"] = urlunsplit(("http", netloc, parts.path, parts.query, ""))
        hosts.add(netloc)
    raw["article"]["url"] = f"http://127.0.0.1:{closed}/ketamine-for-depression"
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    run = subprocess.run([sys.executable, "-m", "watcher", "run", "--once"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    names = [s["name"] for s in raw["sources"]] + [REGULATORY, ARTICLE]
    lines = run.stdout.splitlines()
    failed = [FAILED.match(line) for line in lines[: len(names)]]
    assert all(failed), lines
    assert [m["name"] for m in failed if m] == names  # one line per source, in order
    tried = Counter(m["host"] for m in failed if m and m["tries"] == "2 tries")
    assert tried == Counter(dict.fromkeys(hosts, 1))  # each host tried once (2 quick tries), every other request not at all
    assert lines[len(names)] == (f"nothing could be fetched: all {len(names)} sources failed; {len(hosts)} hosts could not be"
                                 " reached (host name not resolved or connection refused): is this machine offline?"
                                 " The next poll tries again")
    log = run.stderr.splitlines()
    assert log and all(len(line) < LOG_LINE and "://" not in line for line in log), log
    assert sum("contact.email webmaster@example.org is a placeholder" in line for line in log) == 1
