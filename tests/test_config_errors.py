"""Broken feeds.yaml files, table-driven: each is refused with one line that names the key path
(or the file and line) and says what to write instead; never a traceback.

Every case runs in-process through the real loader, `watcher.config.load` (a ConfigError, one
line, the key path first, the fix), and through `watcher.cli.main` for `check` and `poll` (exit
code 2, exactly `watcher: configuration error: <that line>` on stderr, nothing on stdout, no file
written). A handful also run as real subprocesses, `python -m watcher --config F check` and
`poll`, which pin the process's side of the contract: exit status 2, exactly one line on stderr,
no traceback, and no database, lock or digest left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from watcher import cli
from watcher.config import load
from watcher.errors import ConfigError

PROJECT = Path(__file__).resolve().parent.parent
EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
SRC = f"  - {{name: pubmed, type: pubmed, url: '{EUTILS}', query: ketamine}}\n"
TOPICS = "topics:\n  t:\n    groups:\n      drug: [ketamine]\n"


def doc(head: str = "", sources: str = SRC, topics: str = TOPICS) -> str:
    return head + "sources:\n" + sources + topics


def source(extra: str, kind: str = "pubmed", url: str = EUTILS, name: str = "x") -> str:
    base = {"pubmed": "query: ketamine, ", "rss": "", "openfda": "" if "search:" in extra else "search: [ketamine], "}[kind]
    return doc(sources=f"  - {{name: {name}, type: {kind}, url: '{url}', {base}{extra}}}\n")


def topic(body: str) -> str:
    return doc(topics="topics:\n" + body)


FILE = "<the file>"  # the line starts with the file's path: the file as a whole is wrong

# (id, feeds.yaml text or bytes, the key path the line starts with, fragments it must contain: what is wrong, the fix)
CASES: list[tuple[str, str | bytes, str, tuple[str, ...]]] = [
    # -- the file itself --
    ("yaml-unclosed-bracket", "sources: [", FILE, ("YAML syntax error at line 1", "a '[' or '{' is not closed")),
    ("yaml-unclosed-list", "sources: [a, b\ntopics: x\n", FILE, ("YAML syntax error at line 2, column 7", "a list opened with '[' at line 1 is not closed")),
    ("yaml-unclosed-quote", "sources:\n  - name: \"x\n", FILE, ("YAML syntax error at line 3", "a quoted text opened at line 2 is not closed")),
    ("yaml-colon-in-value", "sources: a: b\n", FILE, ("YAML syntax error at line 1, column 11", "put the value in quotes if it contains ': '")),
    ("yaml-tab-indent", "sources:\n\t- name: x\n", FILE, ("YAML syntax error at line 2", "indent with spaces, not tabs")),
    ("yaml-bad-indent", "sources:\n  - name: x\n   type: pubmed\n", FILE, ("YAML syntax error at line 3, column 4", "indented differently from the lines above")),
    ("yaml-duplicate-key", doc() + "sources: []\n", FILE, ("line 7: key 'sources' appears twice", "first on line 1", "keep one")),
    ("not-utf8", b"sources:\n  - name: caf\xe9\n", FILE, ("cannot read", "utf-8")),
    ("empty-file", "", FILE, ("the file is empty", "needs at least `sources` and `topics`")),
    ("top-level-list", "- just a list\n", FILE, ("must be a mapping of keys to values, not a list",)),
    ("top-level-text", "hello\n", FILE, ("must be a mapping of keys to values, not text",)),
    # -- top-level keys --
    ("missing-sources", TOPICS, "sources", ("sources: is required but missing",)),
    ("missing-sources-empty-topics", "topics: {}\n", "sources", ("sources: is required but missing",)),
    ("missing-topics", "sources:\n" + SRC, "topics", ("topics: is required but missing",)),
    ("unknown-top-key", "colour: blue\n" + doc(), "colour", ("colour: unknown key", "contact, crossref, database, digests")),
    ("misspelt-sources", "source:\n" + SRC + TOPICS, "source", ("source: unknown key", "sources")),
    ("database-empty", doc("database: ''\n"), "database", ("database: must not be empty",)),
    ("digests-not-text", doc("digests: [a, b]\n"), "digests", ("digests: must be text, not a list",)),
    ("timezone-unknown", doc("timezone: Mars/Olympus\n"), "timezone", ("timezone: unknown time zone 'Mars/Olympus'", "IANA name such as America/Chicago")),
    ("timezone-number", doc("timezone: 5\n"), "timezone", ("timezone: must be text, not int",)),
    ("contact-email", doc("contact: {email: nobody}\n"), "contact.email", ("contact.email: must be an e-mail address",)),
    ("contact-unknown-key", doc("contact: {phone: '555'}\n"), "contact.phone", ("contact.phone: unknown key", "expected one of: email, tool")),
    ("http-timeout-text", doc("http: {timeout: fast}\n"), "http.timeout", ("http.timeout: must be a number from 1 to 600, not text",)),
    ("http-timeout-zero", doc("http: {timeout: 0}\n"), "http.timeout", ("http.timeout: must be from 1 to 600, not 0",)),
    ("http-max-mb-zero", doc("http: {max_mb: 0}\n"), "http.max_mb", ("http.max_mb: must be from 1 to 2000, not 0",)),
    ("http-deadline-below-timeout", doc("http: {timeout: 60, deadline: 10}\n"), "http.deadline", ("http.deadline: must be at least http.timeout (60 s)",)),
    ("http-unknown-key", doc("http: {retries: 9}\n"), "http.retries", ("http.retries: unknown key", "expected one of: deadline, max_mb, timeout, user_agent")),
    ("schedule-poll-words", doc("schedule: {poll: '6am'}\n"), "schedule.poll[0]", ("schedule.poll[0]: must be a 24-hour time \"HH:MM\" in quotes",)),
    ("schedule-poll-unquoted", doc("schedule: {poll: 18:00}\n"), "schedule.poll", ("schedule.poll: must be a 24-hour time \"HH:MM\" in quotes", "not 1080")),  # YAML 1.1: 18:00 is 1080
    ("schedule-poll-empty-list", doc("schedule: {poll: []}\n"), "schedule.poll", ("schedule.poll: must be a time \"HH:MM\" or a list of them",)),
    ("schedule-poll-weekday", doc("schedule: {poll: ['mon 06:00', 'mo,thu 06:00']}\n"), "schedule.poll[1]",
     ("schedule.poll[1]: 'mo' is not a weekday: write mon, tue, wed, thu, fri, sat or sun", '"mon,thu 06:00"')),
    ("schedule-poll-weekday-time", doc("schedule: {poll: ['thu 6am']}\n"), "schedule.poll[0]",
     ('schedule.poll[0]: must be a 24-hour time "HH:MM" in quotes, after the weekdays if not every day', "not 'thu 6am'")),
    ("schedule-poll-time-first", doc("schedule: {poll: ['06:00 mon']}\n"), "schedule.poll[0]",
     ('schedule.poll[0]: must be a 24-hour time "HH:MM" in quotes', '"mon 06:00"', "not '06:00 mon'")),
    ("schedule-day", doc("schedule: {digest: {day: someday}}\n"), "schedule.digest.day", ("schedule.digest.day: must be a weekday name such as mon",)),
    ("schedule-time-25h", doc("schedule: {digest: {time: '25:00'}}\n"), "schedule.digest.time", ("schedule.digest.time: must be a 24-hour time",)),
    ("schedule-unknown-key", doc("schedule: {when: daily}\n"), "schedule.when", ("schedule.when: unknown key", "expected one of: digest, poll")),
    # -- sources --
    ("sources-empty", doc(sources=" []\n"), "sources", ("sources: must be a non-empty list of sources",)),
    ("sources-mapping", doc(sources="  pubmed: {type: pubmed}\n"), "sources", ("sources: must be a non-empty list",)),
    ("source-is-text", doc(sources="  - pubmed\n"), "sources[0]", ("sources[0]: must be a mapping",)),
    ("source-missing-url", doc(sources="  - {name: x, type: pubmed, query: k}\n"), "sources[0].url", ("sources[0].url: is required but missing",)),
    ("source-missing-url-and-query", doc(sources="  - name: x\n    type: pubmed\n"), "sources[0].url", ("sources[0].url: is required but missing",)),
    ("source-missing-name", doc(sources=f"  - {{type: pubmed, url: '{EUTILS}', query: k}}\n"), "sources[0].name", ("sources[0].name: is required but missing",)),
    ("source-bad-name", source("", name="'PubMed!'"), "sources[0].name", ("sources[0].name: source name 'PubMed!' must be 1-40 lower-case letters",)),
    ("source-duplicate-name", doc(sources=SRC + SRC), "sources[1].name", ("sources[1].name: 'pubmed' is already the name of sources[0]", "must be unique")),
    ("source-unknown-type", doc(sources=f"  - {{name: x, type: atom, url: '{EUTILS}'}}\n"), "sources[0] (x).type", ("sources[0] (x).type: unknown source type 'atom'", "known types: clinicaltrials, europepmc, openfda, pubmed, rss")),
    ("source-named-in-its-errors", doc(sources=SRC * 0 + "".join(f"  - {{name: p{i}, type: pubmed, url: '{EUTILS}', query: k}}\n" for i in range(5))
                                       + "  - {name: europepmc, type: europepmc, url: 'https://example.org/rest/', query: ''}\n"),
     "sources[5] (europepmc).query", ("sources[5] (europepmc).query: must not be empty",)),
    ("source-url-no-scheme", source("", url="eutils.ncbi.nlm.nih.gov/entrez/eutils/"), "sources[0] (x).url", ("sources[0] (x).url: must be a full http(s) URL with a host, e.g. https://",)),
    ("source-url-ftp", source("", url="ftp://ftp.ncbi.nlm.nih.gov/"), "sources[0] (x).url", ("sources[0] (x).url: must be a full http(s) URL",)),
    ("source-url-no-host", source("", url="https:///path"), "sources[0] (x).url", ("sources[0] (x).url: must be a full http(s) URL with a host",)),
    ("pubmed-missing-query", doc(sources=f"  - {{name: x, type: pubmed, url: '{EUTILS}'}}\n"), "sources[0] (x).query", ("sources[0] (x).query: is required but missing",)),
    ("pubmed-batch-size-text", source("batch_size: lots"), "sources[0] (x).batch_size", ("sources[0] (x).batch_size: must be a whole number from 1 to 10000, not text",)),
    ("pubmed-lookback-zero", source("lookback_days: 0"), "sources[0] (x).lookback_days", ("sources[0] (x).lookback_days: must be from 1 to 3650, not 0",)),
    ("pubmed-unknown-key", source("retmax: 100"), "sources[0] (x).retmax", ("sources[0] (x).retmax: unknown key", "expected one of: batch_size, lookback_days")),
    ("rss-unknown-section", source("section: news", kind="rss"), "sources[0] (x).section", ("sources[0] (x).section: unknown section 'news'", "use one of: regulatory")),
    ("rss-two-line-user-agent", source("user_agent: \"a\\nb\"", kind="rss"), "sources[0] (x).user_agent", ("sources[0] (x).user_agent: must be a single line",)),
    ("rss-unknown-key", source("query: k", kind="rss"), "sources[0] (x).query", ("sources[0] (x).query: unknown key", "expected one of: accept, kind, section, user_agent")),
    ("openfda-unknown-endpoint", source("endpoints: [drug/event]", kind="openfda"), "sources[0] (x).endpoints[0]", ("sources[0] (x).endpoints[0]: unknown endpoint 'drug/event'", "use one of: drug/drugsfda")),
    ("openfda-no-endpoints", source("endpoints: []", kind="openfda"), "sources[0] (x).endpoints", ("sources[0] (x).endpoints: must be a non-empty list",)),
    ("openfda-quoted-search", source("search: ['\"spravato\"']", kind="openfda"), "sources[0] (x).search[0]", ("sources[0] (x).search[0]", "(no quotes)")),
    ("openfda-search-twice", source("search: [ketamine, ketamine]", kind="openfda"), "sources[0] (x).search[1]", ("sources[0] (x).search[1]: 'ketamine' is listed twice",)),
    ("openfda-no-search", doc(sources="  - {name: x, type: openfda, url: 'https://api.fda.gov/'}\n"), "sources[0] (x).search", ("sources[0] (x).search: is required but missing",)),
    ("openfda-limit-too-big", source("limit: 5000", kind="openfda"), "sources[0] (x).limit", ("sources[0] (x).limit: must be from 1 to 1000, not 5000",)),
    # -- topics --
    ("topics-empty", topic(" {}\n"), "topics", ("topics: at least one topic is required",)),
    ("topics-list", topic("  - ketamine\n"), "topics", ("topics: must be a mapping of topic names to topics",)),
    ("topic-bad-name", topic("  Ketamine Topic:\n    groups:\n      d: [ketamine]\n"), "topics.Ketamine Topic", ("topics.Ketamine Topic", "must be 1-40 lower-case letters")),
    ("topic-no-groups", topic("  t:\n    description: x\n"), "topics.t.groups", ("topics.t.groups: is required",)),
    ("group-empty-list", topic("  t:\n    groups:\n      drug: []\n"), "topics.t.groups.drug", ("topics.t.groups.drug",)),
    ("wildcard-inside", topic("  t:\n    groups:\n      drug: ['ket*mine']\n"), "topics.t.groups.drug[0]", ("topics.t.groups.drug[0]: wildcard * may only end a word",)),
    ("wildcard-leading", topic("  t:\n    groups:\n      drug: ['*ketamine']\n"), "topics.t.groups.drug[0]", ("topics.t.groups.drug[0]: wildcard * may only end a word",)),
    ("term-unbalanced-quote", topic("  t:\n    groups:\n      drug: ['\"ketamine']\n"), "topics.t.groups.drug[0]", ("topics.t.groups.drug[0]: unbalanced double quote",)),
    ("term-duplicate", topic("  t:\n    groups:\n      drug: [ketamine, Ketamine]\n"), "topics.t.groups.drug[1]", ("topics.t.groups.drug[1]: duplicates topics.t.groups.drug[0]", "remove one")),
    ("term-number", topic("  t:\n    groups:\n      drug: [5]\n"), "topics.t.groups.drug[0]", ("topics.t.groups.drug[0]: must be text, not int", "put it in quotes")),
    ("min-hits-zero", topic("  t:\n    groups:\n      drug: {terms: [ketamine], min_hits: 0}\n"), "topics.t.groups.drug.min_hits", ("topics.t.groups.drug.min_hits: must be a whole number from 1",)),
    ("topic-unknown-source", topic("  t:\n    sources: [pubmd]\n    groups:\n      drug: [ketamine]\n"), "topics.t.sources[0]", ("topics.t.sources[0]: no source is named 'pubmd'", "names in `sources`: pubmed")),
    ("topic-unknown-field", topic("  t:\n    fields: [body]\n    groups:\n      drug: [ketamine]\n"), "topics.t.fields[0]", ("topics.t.fields[0]: unknown field 'body'", "use one of: title")),
    ("false-friend-without-term", topic("  t:\n    groups:\n      drug: [ketamine]\n    false_friends: [respiratory failure]\n"), "topics.t.false_friends[0]", ("topics.t.false_friends[0]", "contains no term of any group")),
    ("topic-unknown-key", topic("  t:\n    group:\n      drug: [ketamine]\n"), "topics.t.group", ("topics.t.group: unknown key",)),
]
# The cases that also run as subprocesses: one of each kind of mistake (the file, a top-level
# key, a source, a source type's own key, a topic).
SUBPROCESS_CASES = ("yaml-duplicate-key", "timezone-unknown", "source-url-no-scheme", "openfda-unknown-endpoint",
                    "wildcard-inside")
PREFIX = "watcher: configuration error: "
TEXT = {case_id: text for case_id, text, _, _ in CASES}


def write(folder: Path, text: str | bytes) -> Path:
    path = folder / "feeds.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_the_table_is_complete():
    assert len(CASES) >= 25 and len(TEXT) == len(CASES)
    assert set(SUBPROCESS_CASES) <= set(TEXT)


# ---- in-process: the loader and the command line ----


@pytest.mark.parametrize(("case_id", "text", "where", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_broken_config_is_one_line_naming_the_key_and_the_fix(tmp_path, capsys, case_id, text, where, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    line = str(caught.value)
    assert "\n" not in line and "\r" not in line, line
    if where == FILE:
        assert caught.value.path == "" and line.startswith(f"{path}: "), line
    else:
        assert caught.value.path == where and line.startswith(f"{where}: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)

    # What a user sees: exactly that line after the prefix, exit code 2; and poll refuses before
    # it opens (or creates) a database.
    for command in ("check", "poll"):
        assert cli.main(["--config", str(path), command]) == cli.EXIT_USAGE
        out, err = capsys.readouterr()
        assert (out, err) == ("", f"{PREFIX}{line}\n"), command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_a_config_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "feeds.yaml").mkdir()
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "feeds.yaml")
    line = str(caught.value)
    assert line.startswith(f"{tmp_path / 'feeds.yaml'}: cannot read") and "Is a directory" in line and "\n" not in line
    assert cli.main(["--config", str(tmp_path / "feeds.yaml"), "check"]) == cli.EXIT_USAGE
    assert capsys.readouterr() == ("", f"{PREFIX}{line}\n")


# ---- real processes: the exit status and the one line, as cron and systemd see them ----


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = str(PROJECT)
    return subprocess.run([sys.executable, "-m", "watcher", "--config", "feeds.yaml", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every (case, command) run at once, four at a time: ten interpreter start-ups in parallel."""
    jobs = {}
    for case_id in SUBPROCESS_CASES:
        site = tmp_path_factory.mktemp(case_id)
        write(site, TEXT[case_id])
        for command in ("check", "poll"):
            jobs[case_id, command] = site
    with ThreadPoolExecutor(4) as pool:
        futures = {key: pool.submit(run, [key[1]], site) for key, site in jobs.items()}
        return {key: (jobs[key], f.result()) for key, f in futures.items()}


FRAGMENTS = {case_id: fragments for case_id, _, _, fragments in CASES}
RUNS = [(case_id, command) for case_id in SUBPROCESS_CASES for command in ("check", "poll")]


@pytest.mark.slow
@pytest.mark.parametrize(("case_id", "command"), RUNS, ids=[f"{c}-{cmd}" for c, cmd in RUNS])
def test_broken_config_process_exits_2_with_one_line(results, case_id, command):
    site, result = results[case_id, command]
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), result.stderr
    assert lines[0].startswith(PREFIX), lines[0]
    for fragment in FRAGMENTS[case_id]:
        assert fragment in lines[0], (fragment, lines[0])
    assert sorted(p.name for p in site.iterdir()) == ["feeds.yaml"]  # no database, no lock, no digests
