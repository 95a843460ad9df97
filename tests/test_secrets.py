"""API keys come from the environment only, and never leave the process except in the request.

The keys are set to unique markers (with characters that URL encoders change, so that every
encoded form is looked for too). Every command the clinic runs is run as a real subprocess with
`--log-level DEBUG` and stderr going to a log file: a poll whose upstreams fail and echo the key
back (NCBI's 429 body names the api-key, openFDA's API_KEY_INVALID message quotes it, an HTML 5xx
page prints the request line), a healthy poll, digest, status, export (JSON Lines and CSV). Then
every output channel is searched: stdout, the log file, every file under the site (the database,
its WAL and shared-memory files read while a poll is held mid-way, the lock file, the digests),
and the export.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.configs import openfda, pubmed, rss, write_feeds
from tests.upstreams import eutils, faults, feeds
from tests.upstreams import openfda as fda
from tests.upstreams.server import Context, Reply, send
from watcher import cli

PROJECT = Path(__file__).resolve().parent.parent
NCBI_KEY = "ncbiSECRETa7+f3/9c=e1"
FDA_KEY = "fdaSECRETb8+e2/0d=f4"
CORES = ("ncbiSECRET", "fdaSECRET")  # a half-redacted key still shows these


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), *CORES}


def leaks(data: bytes) -> set[str]:
    return {f for s in (NCBI_KEY, FDA_KEY) for f in forms(s) if f.encode() in data}


def api_key_invalid(ctx: Context) -> None:
    """openFDA's 403, quoting the key it was sent."""
    key = ctx.request.query.get("api_key", "")
    body = ('{"error": {"code": "API_KEY_INVALID", "message": "Your API key ' + key + ' is invalid. '
            'Sign up for one at https://open.fda.gov/apis/authentication/"}}')
    send(ctx.conn, Reply(403, body.encode(), "application/json"))


@pytest.mark.slow  # seven real `watcher` processes, one held mid-poll
def test_api_keys_reach_only_the_upstream(tmp_path, upstream):
    site = tmp_path / "site"
    site.mkdir()
    log_file = tmp_path / "watcher.log"  # outside the site: searched on its own
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(PYTHONPATH=str(PROJECT), NCBI_API_KEY=NCBI_KEY, OPENFDA_API_KEY=FDA_KEY)
    outputs: list[tuple[str, bytes]] = []

    def watcher(*args: str, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
        with open(log_file, "ab") as log:
            command = [sys.executable, "-m", "watcher", "--log-level", "DEBUG", *args]
            if not wait:
                return subprocess.Popen(command, cwd=site, env=env, stdout=subprocess.PIPE, stderr=log)
            result = subprocess.run(command, cwd=site, env=env, stdout=subprocess.PIPE, stderr=log, timeout=120)
        outputs.append((" ".join(args), result.stdout))
        return result

    papers, recalls = eutils.Eutils(upstream), fda.OpenFDA(upstream)
    papers.add(eutils.local_today(), eutils.articles(5))
    recalls.records("drug/enforcement", fda.recalls(5))
    feed = feeds.Feed(upstream, items=feeds.entries(3, "s"))
    write_feeds(site, [
        pubmed(papers.url, batch_size=2),
        openfda(recalls.url, endpoints=["drug/enforcement"], search=["ketamine"], limit=2),
        rss(feed.url),
    ], http={"timeout": 5})

    # 1. A poll whose upstreams throw the key back at us: pubmed's first search meets an HTML
    #    500 that prints the request line, then its second batch an NCBI 429 on every try;
    #    openFDA's second page says API_KEY_INVALID. The feed is held while the files are read.
    upstream.arm("esearch", faults.status(500, retry_after="0"), times=1)
    upstream.arm("efetch:2", faults.status(429, retry_after="0"))
    upstream.arm("enforcement:2", api_key_invalid)
    hold = faults.Hold("head")
    upstream.arm("rss", hold, times=1)
    child = watcher("poll", wait=False)
    try:
        assert hold.reached.wait(60), "the poll never reached the feed"
        during = {p.name: p.read_bytes() for p in site.iterdir() if p.is_file()}
    finally:
        hold.release.set()
    stdout, _ = child.communicate(timeout=60)
    outputs.append(("poll (failing)", stdout))
    assert child.returncode == 1
    assert {"watcher.db-wal", "watcher.db.lock"} <= set(during)  # the WAL was there to be read
    for name, data in during.items():
        assert not leaks(data), (name, leaks(data))

    # The keys were sent, every time, where they belong.
    sent = [r.query for r in upstream.requests(kind="pubmed")]
    assert sent and all(q.get("api_key") == NCBI_KEY for q in sent)
    sent = [r.query for r in upstream.requests(kind="openfda")]
    assert sent and all(q.get("api_key") == FDA_KEY for q in sent)
    assert not any("api_key" in r.query for r in upstream.requests(kind="rss"))  # the feed is sent neither

    # 2. Everything else the clinic runs.
    upstream.disarm()
    assert watcher("poll").returncode == 0
    assert watcher("digest").returncode == 0
    assert watcher("status").returncode == 0
    assert watcher("export", "--format", "jsonl").returncode == 0
    assert watcher("export", "--format", "csv").returncode == 0

    logged = log_file.read_bytes()
    assert b"DEBUG" in logged and b"API_KEY_INVALID" in logged and b"API rate limit exceeded" in logged  # the failures were logged
    assert b"***" in logged  # ...with the key replaced
    assert not leaks(logged), leaks(logged)
    for what, out in outputs:
        assert not leaks(out), (what, leaks(out))
    assert any(b"openfda: FAILED" in out and b"API_KEY_INVALID" in out for _, out in outputs)
    files = [p for p in site.rglob("*") if p.is_file() and p.name != "feeds.yaml"]
    assert {"watcher.db", "watcher.db.lock", "index.md"} <= {p.name for p in files}
    for path in files:
        assert not leaks(path.read_bytes()), (path.name, leaks(path.read_bytes()))


@pytest.mark.parametrize("key", ["api_key", "apikey", "token"])
def test_a_key_cannot_be_written_into_feeds_yaml(tmp_path, capsys, key):
    """The keys have no place in the config: a source refuses any such key, without echoing it."""
    path = write_feeds(tmp_path, [pubmed("https://eutils.ncbi.nlm.nih.gov/entrez/eutils/", query="k", **{key: NCBI_KEY})])
    assert cli.main(["--config", str(path), "check"]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"watcher: configuration error: sources[0] (pubmed).{key}: unknown key")
    assert not leaks(err.encode())
