"""Every fault an upstream can throw, against every source, through the real `watcher.poll.poll`.

Each (fault, source) pair is one test. The poll has two sources, the faulty one (first) and a
healthy RSS feed (second), both stand-ins of tests/upstreams on one local server, with tight
limits from feeds.yaml (`http: {timeout: 1, deadline: 2, max_mb: 1}`) and a sleep that only
records, so retries cost no wall time. For each pair:

- the poll ends within WALL_LIMIT seconds, with tracemalloc's peak and the process's resident
  memory (sampled every 5 ms) growing by less than MEMORY_LIMIT;
- a failure is recorded with a readable one-line reason, in `sources.last_error` and in `polls`,
  and the batches before the fault stay stored; where the fault is not a failure by design
  (429 or a 5xx burst then the answer, an odd Content-Type on a good body), the poll succeeds;
- the healthy source's items are stored either way;
- a later healthy poll stores every item exactly once;
- no local file's content (the XXE marker), no API key and no entity's text (expanded or copied)
  reaches the store, the logs or a digest, and no external entity or DTD URL is ever fetched.

Outcomes are appended as JSON lines to $WATCHER_RELIABILITY_OUT when it is set:
`benchmarks/reliability_table.py` turns them into the reliability table of docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from tests.configs import clinicaltrials, europepmc, openfda, pubmed, rss, write_config
from tests.polls import NOW, TODAY, WEEK
from tests.upstreams import ctgov, eutils, faults, feeds
from tests.upstreams import europepmc as epmc
from tests.upstreams import openfda as fda
from tests.upstreams.server import Fault, Server
from watcher.digest.publish import publish_week
from watcher.poll import poll
from watcher.store import Store
from watcher.weeks import Week

pytestmark = pytest.mark.slow  # 125 polls against misbehaving servers: stalls, trickles, 50 MB bodies

WALL_LIMIT = 10.0  # seconds for one poll of both sources, fault included
MEMORY_LIMIT = 100 * 1024 * 1024  # bytes: tracemalloc peak, and growth of resident memory
SECRETS = {"NCBI_API_KEY": "ncbiKEY-5e1f0c9a77d2", "OPENFDA_API_KEY": "fdaKEY-a4b93e61c0f8"}
TRIES = 4  # HttpPolicy.retries
QUICK = 2  # UNREACHABLE_TRIES: a host that refuses or does not resolve gets one quick retry
N_ITEMS = 5  # per faulty source; batch and page sizes are 2: three batches / pages
SOURCES = ("pubmed", "rss", "openfda", "clinicaltrials", "europepmc")
NAMES = {"pubmed": "pubmed", "rss": "fda-press", "openfda": "openfda", "clinicaltrials": "clinicaltrials", "europepmc": "europepmc"}
# The request the fault hits: the second efetch batch or page, so the first one is stored before it.
TARGETS = {"pubmed": "efetch:2", "rss": "rss", "openfda": "enforcement:2", "clinicaltrials": "studies:2", "europepmc": "search:2"}
PAGE_SIZE = 2


# ---- the catalogue: what each fault is, and what each source should make of it ----


@dataclass(frozen=True)
class Ok:
    """Not a failure by design: the poll succeeds."""

    min_sleep: float | None = None  # a Retry-After that must have been honoured
    requests: int | None = None  # requests the target saw (tries)

    ok = True


@dataclass(frozen=True)
class Fails:
    reason: str  # a regex the one-line reason must match
    requests: int | None = None  # requests the target saw (tries)

    ok = False


@dataclass(frozen=True)
class FaultCase:
    id: str
    what: str  # for the reliability table
    make: Callable[[dict], Fault]  # env (canary URL, marker path) → fault
    expect: dict[str, Ok | Fails]
    times: int | None = None  # None: the fault answers every request to the target
    extra: tuple[tuple[Callable[[dict], Fault], int | None], ...] = ()  # further faults, armed after
    expanded: str | None = None  # text only an entity's value, expanded or copied, would put anywhere

    def fault_for(self, env: dict) -> list[tuple[Fault, int | None]]:
        return [(self.make(env), self.times), *((make(env), times) for make, times in self.extra)]


def every(expect: Ok | Fails, **per_source: Ok | Fails) -> dict[str, Ok | Fails]:
    return {s: per_source.get(s, expect) for s in SOURCES}


NOT_JSON = Fails(r"openFDA drug/enforcement: the answer is not JSON$")


def json_says(what: str) -> dict[str, Fails]:
    """What the two newer JSON sources make of an answer that is not their JSON."""
    return {"clinicaltrials": Fails(r"^127\.0\.0\.1:\d+: ClinicalTrials\.gov: " + what),
            "europepmc": Fails(r"^127\.0\.0\.1:\d+: Europe PMC: " + what)}


NO_JSON = json_says("the answer is not JSON$")
# An entity bomb is refused by whichever layer meets it first: the sources' own check ("XML declares
# its own entities; refused (untrusted input)") or libxml2's amplification limit, which lxml 6.2's
# libxml2 applies before the document's first element ("malformed XML: Maximum entity amplification
# factor exceeded, …"). Either way the reason says what was refused and why, in words that survive
# an update of either: it names XML and its entities, and says refused or malformed.
ENTITIES = Fails(r"(?i)^(?=.*\bXML\b)(?=.*\bentit(?:y|ies)\b)(?=.*\b(?:refused|malformed)\b)")
OVER_LIMIT = Fails(r"body larger than the 1 MB limit")

CASES: list[FaultCase] = [
    FaultCase("429-retry-after-then-ok", "HTTP 429 with `Retry-After: 3`, twice, then the answer",
              lambda env: faults.status(429, retry_after="3"), every(Ok(min_sleep=3.0, requests=3)), times=2),
    FaultCase("429-no-retry-after-then-ok", "HTTP 429 without Retry-After, once, then the answer",
              lambda env: faults.status(429), every(Ok(requests=2)), times=1),
    FaultCase("429-always", "HTTP 429 (NCBI's body, echoing the api-key) on every try",
              lambda env: faults.status(429, retry_after="1"), every(Fails(rf"^127\.0\.0\.1:\d+: HTTP 429 after {TRIES} tries \(GET /[^)]*\): API rate limit exceeded$"))),
    FaultCase("5xx-burst-then-ok", "HTTP 500, 502, 503 in a row, then the answer",
              lambda env: faults.status(500), every(Ok(requests=4)), times=1,
              extra=((lambda env: faults.status(502), 1), (lambda env: faults.status(503), 1))),
    FaultCase("5xx-always", "HTTP 500/502/503 on every try (HTML page echoing the request)",
              lambda env: faults.cycle_5xx(), every(Fails(rf"^127\.0\.0\.1:\d+: HTTP 50[023] after {TRIES} tries \(GET /"))),
    FaultCase("connection-reset", "TCP reset instead of an answer",
              lambda env: faults.reset, every(Fails(rf"^127\.0\.0\.1:\d+: connection reset \({TRIES} tries, GET /"))),
    FaultCase("redirect-to-refused", "a redirect to a port where nothing listens (connection refused)",
              lambda env: faults.redirect(f"http://127.0.0.1:{faults.closed_port()}/moved"),
              every(Fails(rf"^127\.0\.0\.1:\d+: connection refused at 127\.0\.0\.1:\d+ after a redirect \({QUICK} tries, GET /", requests=QUICK))),
    FaultCase("redirect-to-unresolved", "a redirect to a host name that does not resolve (`.invalid`)",
              lambda env: faults.redirect("http://mirror.watcher-tests.invalid/moved"),
              every(Fails(rf"^127\.0\.0\.1:\d+: host name not resolved at mirror\.watcher-tests\.invalid after a redirect"
                          rf" \({QUICK} tries, GET /", requests=QUICK))),
    FaultCase("reset-mid-body", "TCP reset half way through the body",
              lambda env: faults.reset_mid_body,
              every(Fails(rf"connection (reset|closed before the body was complete) \({TRIES} tries, GET /"),
                    pubmed=Fails(r"connection (reset|closed before the body was complete) while reading the body"))),
    FaultCase("short-body", "Content-Length promises more than is sent",
              lambda env: faults.short_body,
              every(Fails(rf"connection closed before the body was complete \({TRIES} tries, GET /"),
                    pubmed=Fails(r"connection closed before the body was complete while reading the body"))),
    FaultCase("stall", "accepts, then sends nothing (past the 1 s timeout)",
              lambda env: faults.stall, every(Fails(rf"timed out after 1 s \({TRIES} tries, GET /"))),
    FaultCase("trickle", "the answer one byte every 50 ms (each read within the timeout)",
              lambda env: faults.trickle(), every(Fails(r"not complete within the 2 s deadline"))),
    FaultCase("truncated-document", "a complete HTTP answer whose XML/JSON stops half way",
              lambda env: faults.truncated,
              every(NOT_JSON, pubmed=Fails(r"malformed XML"), rss=Fails(r"feed is truncated"), **NO_JSON)),
    FaultCase("html-200", "an HTML maintenance page with status 200",
              lambda env: faults.html_200,
              every(NOT_JSON, pubmed=Fails(r"not an E-utilities response \(root element <html>\)"),
                    rss=Fails(r"answered with an HTML page"), **NO_JSON)),
    FaultCase("content-type-html", "a good body labelled `Content-Type: text/html`",
              lambda env: faults.content_type("text/html; charset=utf-8"), every(Ok())),
    FaultCase("content-type-missing", "a good body without Content-Type",
              lambda env: faults.content_type(None), every(Ok())),
    FaultCase("invalid-utf8", "bytes 0xFF 0xFE (not UTF-8) inside a title",
              lambda env: faults.invalid_utf8,
              every(Fails(r"openFDA drug/enforcement: the answer is not valid UTF-8 JSON"),
                    pubmed=Fails(r"malformed XML.*(UTF-8|encoding)"), rss=Ok(), **json_says("the answer is not valid UTF-8 JSON$"))),
    FaultCase("50mb-body", "a 50 MB body without Content-Length (limit 1 MB)",
              lambda env: faults.big_body(declared=False), every(OVER_LIMIT)),
    FaultCase("50mb-declared", "a 50 MB body with Content-Length (limit 1 MB)",
              lambda env: faults.big_body(declared=True), every(Fails(r"body of 50 MB is over the 1 MB limit"))),
    FaultCase("gzip-bomb-1gb", "`Content-Encoding: gzip` that inflates to 1 GB (~1 MB sent)",
              lambda env: faults.gzip_bomb(), every(OVER_LIMIT)),
    FaultCase("billion-laughs", "XML entity bomb: 10 levels of 10 references",
              lambda env: faults.billion_laughs(), every(NOT_JSON, pubmed=ENTITIES, rss=Ok(), **NO_JSON), expanded="lol" * 10),
    FaultCase("quadratic-blowup", "a 50 kB entity referenced 10,000 times (500 MB if expanded)",
              lambda env: faults.quadratic_blowup(), every(NOT_JSON, pubmed=ENTITIES, rss=Ok(), **NO_JSON), expanded="A" * 1000),
    FaultCase("xxe-local-file", "an external entity naming a local file",
              lambda env: faults.xxe_file(env["marker_path"]), every(NOT_JSON, pubmed=ENTITIES, rss=Ok(), **NO_JSON)),
    FaultCase("xxe-url", "external DTD, parameter and general entities naming another local port",
              lambda env: faults.xxe_url(env["canary"]), every(NOT_JSON, pubmed=ENTITIES, rss=Ok(), **NO_JSON)),
    FaultCase("deep-nesting", "elements (JSON: arrays) nested 100,000 deep",
              lambda env: faults.deep_nesting(),
              every(Fails(r"openFDA drug/enforcement: the answer is nested too deeply"),
                    pubmed=Fails(r"malformed XML.*depth"), rss=Fails(r"feed nests elements more than 256 deep"),
                    **json_says("the answer is nested too deeply$"))),
]
CASE_BY_ID = {c.id: c for c in CASES}


# ---- measuring ----


class ResidentPeak:
    """The process's resident set size, sampled every 5 ms in a thread: C allocations (lxml,
    zlib) included, which tracemalloc does not see."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.stop = threading.Event()
        self.base = self.peak = self.sample()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self.sample())

    def __enter__(self) -> ResidentPeak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.sample())

    @property
    def growth(self) -> int:
        return self.peak - self.base


# ---- the stage: two sources on a fault server, a canary port, a marker file ----


@dataclass
class Stage:
    tmp: Path
    server: Server
    canary: Server
    marker: str
    marker_path: Path
    expected: dict[str, set[str]] = field(default_factory=dict)

    def config(self, source: str):
        s = self.server
        if source == "pubmed":
            upstream = eutils.Eutils(s)
            upstream.add(TODAY, eutils.articles(N_ITEMS))
            faulty = pubmed(upstream.url, batch_size=PAGE_SIZE)
            self.expected["pubmed"] = upstream.ids()
        elif source == "rss":
            feed = feeds.Feed(s, items=feeds.entries(N_ITEMS, "fda"))
            faulty = rss(feed.url)
            self.expected["fda-press"] = feed.ids("fda-press")
        elif source == "openfda":
            upstream = fda.OpenFDA(s)
            upstream.records("drug/enforcement", fda.recalls(N_ITEMS))
            faulty = openfda(upstream.url, endpoints=["drug/enforcement"], search=["ketamine"], limit=PAGE_SIZE)
            self.expected["openfda"] = upstream.ids()
        elif source == "clinicaltrials":
            trials = ctgov.ClinicalTrials(s)
            trials.add(*ctgov.studies(N_ITEMS))
            faulty = clinicaltrials(trials.url, page_size=PAGE_SIZE)
            self.expected["clinicaltrials"] = trials.ids()
        else:
            search = epmc.EuropePMC(s)
            search.add(*epmc.results(N_ITEMS))
            faulty = europepmc(search.url, page_size=PAGE_SIZE)
            self.expected["europepmc"] = search.ids()
        healthy = feeds.Feed(s, "/healthy/rss.xml", items=feeds.entries(3, "ok"), label="healthy")
        self.expected["healthy"] = healthy.ids("healthy")
        return write_config(self.tmp, [faulty, rss(healthy.url, name="healthy")],
                            http={"timeout": 1, "deadline": 2, "max_mb": 1})

    def env(self) -> dict:
        return {"canary": self.canary.url("/"), "marker_path": str(self.marker_path)}


@pytest.fixture
def stage(tmp_path):
    marker = f"MARKER-{uuid.uuid4().hex}"
    marker_path = tmp_path / "private" / "marker.txt"
    marker_path.parent.mkdir()
    marker_path.write_text(f"{marker}\n")
    with Server() as server, Server() as canary:
        yield Stage(tmp_path, server, canary, marker, marker_path)


def store_bytes(database: Path) -> bytes:
    return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*") if p.is_file())


def short_reason(error: str) -> str:
    """The reason without the request URL: what a reader of the table needs."""
    text = re.sub(r"^127\.0\.0\.1:\d+: ", "", error)  # the host every failure starts with: the column says it
    text = re.sub(r"GET \S+ → ", "", text)
    text = re.sub(r"http://127\.0\.0\.1:\d+", "…", text)  # the port changes from run to run
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:…", text)
    text = re.sub(r"^(openFDA drug/enforcement|ClinicalTrials\.gov|Europe PMC)(: | → )", "", text)
    return text if len(text) <= 110 else text[:109] + "…"


def record_outcome(row: dict) -> None:
    out = os.environ.get("WATCHER_RELIABILITY_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---- the matrix ----


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_fault(stage, caplog, case_id, source):
    case = CASE_BY_ID[case_id]
    expect = case.expect[source]
    config = stage.config(source)
    name = NAMES[source]
    for fault, times in case.fault_for(stage.env()):
        stage.server.arm(TARGETS[source], fault, times)
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []

    # -- the faulty poll, measured --
    with Store.open(config.database) as store:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with ResidentPeak() as rss:
                report = poll(config, store, clock=lambda: NOW, env=SECRETS, sleep=sleeps.append)
            wall = time.monotonic() - started
            traced_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        first = {s.name: s for s in report.sources}
        kept = {r[0] for r in store.conn.execute("SELECT id FROM items WHERE source = ?", (name,))}
        state = store.source_state(name)
        polls = list(store.conn.execute("SELECT source, ok, error FROM polls ORDER BY id"))
    stored_by_fault = store_bytes(config.database)  # before the next poll rewrites the items
    target_requests = stage.server.count(TARGETS[source])
    # What the source warned about while it went on (the retries' own warnings aside).
    warned = sorted({short_reason(r.getMessage().removeprefix(f"{name}: ")) for r in caplog.records
                     if r.levelno == logging.WARNING and r.name.startswith("watcher.sources")})

    assert wall < WALL_LIMIT, f"poll took {wall:.1f} s"
    assert traced_peak < MEMORY_LIMIT, f"tracemalloc peak {traced_peak / 2**20:.0f} MB"
    assert rss.growth < MEMORY_LIMIT, f"resident memory grew {rss.growth / 2**20:.0f} MB"

    # The healthy source is never the worse for it.
    assert first["healthy"].ok and first["healthy"].error is None
    assert [tuple(p) for p in polls if p[0] == "healthy"] == [("healthy", 1, None)]

    result = first[name]
    if expect.ok:
        assert result.ok, f"expected success, got: {result.error}"
        assert kept == stage.expected[name]
        if expect.min_sleep is not None:
            assert expect.min_sleep in sleeps, sleeps
        if expect.requests is not None:
            assert target_requests == expect.requests
    else:
        error = result.error or ""
        assert not result.ok and re.search(expect.reason, error), error
        assert "\n" not in error and "\r" not in error and len(error) < 600
        assert error.isprintable(), repr(error)
        assert "Traceback" not in error and "internal error" not in error
        assert state.last_error == error and state.consecutive_failures == 1 and state.cursor is None
        assert [tuple(p) for p in polls if p[0] == name] == [(name, 0, error)]
        if expect.requests is not None:
            assert target_requests == expect.requests
        if source != "rss":  # the batch or page before the faulty one is stored, and stays
            assert kept == set(sorted(stage.expected[name])[:PAGE_SIZE])

    # -- a later healthy poll: every item exactly once --
    stage.server.disarm()
    with Store.open(config.database) as store:
        again = poll(config, store, clock=lambda: NOW + timedelta(hours=1), env=SECRETS, sleep=sleeps.append)
        assert again.ok, [s.error for s in again.sources]
        for src, ids in stage.expected.items():
            rows = [r[0] for r in store.conn.execute("SELECT id FROM items WHERE source = ?", (src,))]
            assert sorted(rows) == sorted(ids), src
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        digest = publish_week(store, config, Week.parse(WEEK), now=NOW + timedelta(hours=2))[0]
        text = (config.digests / digest.path).read_text(encoding="utf-8")
        assert digest.items == sum(len(ids) for ids in stage.expected.values())
        stored = store_bytes(config.database)

    # -- nothing private anywhere --
    logs = caplog.text
    for secret in (stage.marker, *SECRETS.values()):
        assert secret not in text
        assert secret.encode() not in stored and secret.encode() not in stored_by_fault
        assert secret not in logs
    if case.expanded:  # the entity's value is nowhere: neither expanded nor copied from its declaration
        for where, content in (("digest", text), ("logs", logs), ("store", (stored_by_fault + stored).decode("utf-8", "replace"))):
            assert case.expanded not in content, f"an entity's text reached the {where}"
    assert stage.canary.accepted == 0, "an external entity or DTD was fetched"

    record_outcome({
        "fault": case.id, "what": case.what, "source": source, "expected_ok": expect.ok,
        "ok": result.ok, "reason": short_reason(result.error) if result.error else None,
        "retry_after": expect.min_sleep if expect.ok else None, "warnings": warned,
        "target_requests": target_requests, "sleeps": sleeps, "kept_before_fault": len(kept),
        "items": len(stage.expected[name]), "next_poll_ok": again.ok,
        "wall_s": round(wall, 2), "traced_peak_mb": round(traced_peak / 2**20, 1), "rss_growth_mb": round(rss.growth / 2**20, 1),
    })
