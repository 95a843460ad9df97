"""`watcher [--config PATH] COMMAND`: a thin layer over poll, publish, export and status.

Exit codes: 0 all well; 1 a source failed (the others were still stored) or a write failed;
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

from . import __version__
from .article.resolve import record_claim
from .article.verdicts import Verdict
from .config import Config, load
from .digest.atom import site_url_warning
from .digest.dossier import state_of
from .digest.mail import MailResult, send_due, send_week
from .digest.publish import PRIMARY, publish_due, publish_week
from .errors import ConfigError, UsageError, WatcherError
from .export.items import write_csv, write_jsonl
from .export.references import FORMATS as REFERENCE_FORMATS
from .export.references import export_references
from .poll import PollReport, poll
from .relevance.evaluate import Labelled, below, evaluate, labelled_since, parse_labelled, render
from .relevance.labels import LABELS, make_label, parse_csv
from .schedule.service import StopFlag, run_forever, stop_on_signals
from .status import StatusReport, status
from .store import REOPENED, RESOLVED, OutputRecord, Store, store_failure
from .store.lock import DEFAULT_WAIT, WriterLock, writer_busy
from .text import plain
from .web.accounts import ROLES, check_name, hash_password
from .web.serve import DEFAULT_HOST, DEFAULT_PORT, serve
from .weeks import Week, parse_utc, utc_iso, utc_now

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Output cut short by a reader that closed the pipe (`watcher export | head -1`): the status a shell
# gives a command killed by SIGPIPE (128 + 13), as `cat` or `grep` would end, quietly.
EXIT_CLOSED_PIPE = 141
WRITERS = ("poll", "digest", "run", "send", "label", "claim")  # the commands that take the writer lock
log = logging.getLogger("watcher")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own exit code is already 2; keep its one-line form
        self.exit(EXIT_USAGE, f"watcher: error: {message} (see watcher --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="watcher", description="Literature watch: poll sources, keep what matches, write weekly digests.")
    parser.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml (default: ./feeds.yaml)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    parser.add_argument("--version", action="version", version=f"watcher {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    commands.add_parser("poll", help="fetch new items from every source and store them")
    digest = commands.add_parser("digest", help="write the digest of a week (default: the current week)")
    digest.add_argument("--week", help="ISO week, e.g. 2026-W05")
    run = commands.add_parser("run", help="poll, then write the current week's digest")
    run.add_argument("--once", action="store_true", help="do it once and exit")
    export = commands.add_parser("export", help="write every stored item to stdout, or the listed works as references")
    export.add_argument("--format", choices=["jsonl", "csv", *REFERENCE_FORMATS], default="jsonl",
                        help="jsonl, csv: every stored item; ris, bibtex, csljson: the listed works, for a reference manager")
    export.add_argument("--claim", metavar="ID", help="with ris|bibtex|csljson: only the works bearing on this claim")
    export.add_argument("--week", help="with ris|bibtex|csljson: only the works listed in this ISO week, e.g. 2026-W05")
    commands.add_parser("status", help="per source: last success, last error, items")
    send = commands.add_parser("send", help="mail one week's digest now (feeds.yaml `email`)")
    send.add_argument("--week", required=True, help="ISO week, e.g. 2026-W05")
    commands.add_parser("check", help="validate feeds.yaml")
    claim = commands.add_parser("claim", help="the article's claims: show their verdicts, or record one as resolved or reopened")
    claim.add_argument("action", choices=["show", "resolve", "reopen"],
                       help="show: every claim's verdict (or one's, with its records); resolve: the page is corrected (or"
                            " the claim found right); reopen: undo a resolve")
    claim.add_argument("id", nargs="?", help="the claim's id in feeds.yaml, e.g. fda-approval")
    claim.add_argument("--by", metavar="NAME", help="who records it (kept with the record)")
    claim.add_argument("--note", default="", help="why, in a few words (kept with the record)")
    label = commands.add_parser("label", help="record an editor's verdict on an item: relevant or irrelevant")
    label.add_argument("id", nargs="?", help="the item's id, as `export` shows it, e.g. pubmed:12345678")
    label.add_argument("verdict", nargs="?", metavar="relevant|irrelevant")
    label.add_argument("--note", help="why, in a few words (kept with the label)")
    label.add_argument("--import", dest="import_file", metavar="FILE.csv",
                       help="read id,label[,note] rows (or a CSV with a header naming id and label, e.g. an export)")
    evaluation = commands.add_parser("evaluate", help="precision and recall of the topics against the labels")
    evaluation.add_argument("--fail-under", type=fail_under, metavar="PRECISION,RECALL",
                            help="exit 1 when the core tier's precision or recall is below these, e.g. 0.95,0.95")
    evaluation.add_argument("--file", action="append", type=Path, metavar="FILE.jsonl",
                            help="labelled records instead of the store's labels (id, title, abstract, label, ...); repeatable")
    evaluation.add_argument("--split", help="only the records of --file whose `split` is this, e.g. holdout")
    evaluation.add_argument("--since", type=day, metavar="YYYY-MM-DD",
                            help="only the labels given on or after this day (in feeds.yaml's timezone), e.g. to measure recent weeks")
    serve = commands.add_parser("serve", help="the editors' workspace in a browser (queue, decisions, claims, search)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    serve.add_argument("--behind-proxy", action="store_true",
                       help="a reverse proxy on this machine terminates TLS and forwards: believe its X-Forwarded-* headers,"
                            " send cookies as Secure")
    user = commands.add_parser("user", help="the workspace's accounts: add, remove, passwd, list")
    user.add_argument("action", choices=["add", "remove", "passwd", "list"])
    user.add_argument("name", nargs="?", help="the account's name: 1 to 40 of a-z 0-9 . _ -")
    user.add_argument("--role", choices=list(ROLES), help="editor (decides; the default for add) or reader (reads only)")
    for writer in WRITERS:
        commands.choices[writer].add_argument(
            "--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
            help=f"if another watcher is writing, wait this long for it, then give up (default {DEFAULT_WAIT:g})",
        )
    return parser


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: write a day as YYYY-MM-DD, e.g. 2026-11-30") from None


def fail_under(value: str) -> tuple[float, float]:
    try:
        precision, recall = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: write PRECISION,RECALL, e.g. 0.95,0.95") from None
    if not (0 <= precision <= 1 and 0 <= recall <= 1):
        raise argparse.ArgumentTypeError(f"{value!r}: both figures are from 0 to 1")
    return precision, recall


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run_command(argv)
    except BrokenPipeError:
        # Whatever is still buffered would fail again when Python flushes stdout at exit: point
        # stdout at /dev/null so the process ends without a second error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_CLOSED_PIPE


def run_command(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = None
    try:
        config = load(args.config)
        if args.command == "check":
            return cmd_check(config)
        if getattr(args, "week", None):
            args.week = week_begun(args.week, config)  # a bad --week is refused before any lock or database
        if args.command == "run" and not args.once:
            return run_forever(config, wait=args.wait)  # takes the writer lock per job
        if args.command == "serve":
            return serve(config, host=args.host, port=args.port, behind_proxy=args.behind_proxy)
        if args.command == "evaluate" and args.file:
            return cmd_evaluate(config, None, args, StopFlag())  # records from files: no database needed
        if args.command in WRITERS and not (args.command == "claim" and args.action == "show"):
            # One writer at a time; then SIGTERM/SIGINT finish the write in progress and exit 0.
            holder = f"watcher {args.command}{' --once' if getattr(args, 'once', False) else ''}"
            with (
                WriterLock.for_database(config.database, holder, wait=args.wait),
                stop_on_signals() as stop,
                Store.open(config.database, writer=True) as store,
            ):
                return COMMANDS[args.command](config, store, args, stop)
        with Store.open(config.database) as store:
            return COMMANDS[args.command](config, store, args, StopFlag())
    except (ConfigError, UsageError) as exc:
        kind = "configuration error" if isinstance(exc, ConfigError) else "error"
        print(f"watcher: {kind}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WatcherError as exc:
        print(f"watcher: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.Error as exc:  # after Store.open: a full disk, a page damaged since
        where = config.database if config else args.config
        print(f"watcher: error: {store_failure(where, exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("watcher: interrupted; work not committed was rolled back", file=sys.stderr)
        return 130


def week_begun(label: str, config: Config) -> Week:
    """--week as a Week that has begun (a digest of a week to come would be all warnings)."""
    try:
        week = Week.parse(label)
    except ValueError as exc:
        raise UsageError(f"--week {exc}") from None
    current = Week.containing(utc_now(), config.timezone)
    if week > current:
        raise UsageError(f"--week {week} has not begun yet (it starts on {week.monday:%a %d %b %Y}); the current week is {current}")
    return week


def read_text(path: Path) -> str:
    """A file named on the command line, as text (UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None


def cmd_check(config: Config) -> int:
    claims = f", {len(config.article.claims)} claim(s)" if config.article else ""
    board = config.regulatory
    products = f", {len(board.products)} product(s) and {len(board.facts)} fact(s) on the regulatory board" if board else ""
    print(f"{config.path}: ok: {len(config.sources)} source(s), {len(config.topics)} topic(s){claims}{products};"
          f" database {config.database}")
    if config.contact.warning and any(s.type == "pubmed" for s in config.sources):
        print(f"watcher: warning: {config.contact.warning}", file=sys.stderr)  # valid, so still exit 0
    if feed_warning := site_url_warning(config):
        print(f"watcher: warning: {feed_warning}", file=sys.stderr)
    return EXIT_OK


def progress_printer() -> Callable[[str, int], None] | None:
    """Show a running count on an interactive terminal; stay silent in cron and CI."""
    if not sys.stderr.isatty():
        return None

    def show(source: str, fetched: int) -> None:
        print(f"\r{source}: {fetched} records fetched", end="", file=sys.stderr, flush=True)

    return show


def report_poll(report: PollReport) -> int:
    if sys.stderr.isatty():
        print("\r", end="", file=sys.stderr)
    for s in report.sources:
        if s.interrupted:
            print(f"{s.name}: stopped on request after {s.fetched} fetched, {s.new} new (stored); the rest next poll")
        elif s.ok:
            skipped = f", {s.skipped} unreadable record(s) skipped (see the log)" if s.skipped else ""
            print(f"{s.name}: ok, {s.fetched} fetched, {s.new} new, {s.new_matched} newly matched{skipped}")
        else:
            print(f"{s.name}: FAILED: {plain(s.error)}")  # upstream text: no terminal control codes
    if report.nothing_fetched:
        print(nothing_fetched_line(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def nothing_fetched_line(report: PollReport) -> str:
    """The closing line of a poll in which every source failed: why, when the hosts could not be reached."""
    n = len(report.sources)
    line = f"nothing could be fetched: {f'all {n} sources' if n > 1 else 'the only source'} failed"
    if not report.unreachable:
        return line + "; `watcher status` keeps the reasons, and the next poll tries again"
    reasons = " or ".join(dict.fromkeys(report.unreachable.values()))
    hosts = len(report.unreachable)
    return (line + f"; {hosts} host{'s' if hosts != 1 else ''} could not be reached ({reasons}):"
            " is this machine offline? The next poll tries again")


def report_outputs(config: Config, records: Sequence[OutputRecord]) -> None:
    for record in records:
        print(f"{config.digests / record.path}: {record.items} item(s)")


Command = Callable[[Config, Store, argparse.Namespace, StopFlag], int]


def cmd_poll(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    return report_poll(poll(config, store, progress=progress_printer(), should_stop=stop))


def cmd_digest(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    now = utc_now()
    report_outputs(config, publish_week(store, config, args.week or Week.containing(now, config.timezone), now=now))
    return EXIT_OK


def cmd_run(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    report = poll(config, store, progress=progress_printer(), should_stop=stop)
    code = report_poll(report)
    if report.interrupted:
        return code
    # Every missing weekly digest (after downtime), then the current week's; then the mail of
    # the weeks that ended (and any send that failed before).
    report_outputs(config, publish_due(store, config, now=utc_now(), should_stop=stop))
    if stop():
        return code
    mailed = report_mails(send_due(store, config, now=utc_now(), env=os.environ))
    return code if mailed == EXIT_OK else mailed


def cmd_send(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    if config.email is None:
        raise UsageError("send: feeds.yaml has no `email` block (host, from, to); see docs/operating.md")
    if not any(r.week == args.week.label for r in store.outputs(PRIMARY)):
        raise UsageError(f"send: no digest of {args.week} has been written; run `watcher digest --week {args.week}` first")
    return report_mails([send_week(store, config, args.week, now=utc_now(), env=os.environ)])


def report_mails(results: Sequence[MailResult]) -> int:
    for r in results:
        if r.ok:
            print(f"mail {r.week}: sent" + (f" ({plain(r.error)})" if r.error else ""))
        else:
            print(f"mail {r.week}: FAILED: {plain(r.error)}; it is tried again at the next run")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def cmd_export(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    claims = config.article.claims if config.article else ()
    sources = [s.name for s in config.sources]
    if args.format in REFERENCE_FORMATS:
        if args.claim and not any(c.id == args.claim for c in claims):
            known = ", ".join(c.id for c in claims) or "feeds.yaml has no article claims"
            raise UsageError(f"export: --claim {plain(args.claim)!r} is not a claim of feeds.yaml's article; known: {known}")
        export_references(store, sys.stdout, args.format, claims=claims, claim=args.claim, week=args.week, tz=config.timezone,
                          separate=config.separate, sources=sources)
        return EXIT_OK
    if args.claim or args.week:
        raise UsageError("export: --claim and --week pick references: use them with --format ris, bibtex or csljson")
    write = write_csv if args.format == "csv" else write_jsonl
    write(store, sys.stdout, claims=claims, separate=config.separate, sources=sources)
    return EXIT_OK


def cmd_status(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    report = status(store, config, utc_now(), writer_busy=writer_busy(config.database))
    print_status(report, config.timezone)
    return EXIT_OK if report.ok else EXIT_FAILED


def print_status(report: StatusReport, tz: ZoneInfo) -> None:
    def local(moment: datetime | None) -> str:
        return f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}" if moment else "never"

    for s in report.sources:
        print(f"{s.name} ({s.type})")
        print(f"  items:        {s.stored} stored, {s.matched} matched")
        print(f"  last success: {local(s.last_success)}")
        if s.failing:
            print(f"  FAILING:      {s.failures_in_a_row} poll(s) in a row")
            print(f"  last error:   {local(s.last_error_at)}: {plain(s.last_error)}")
        elif s.last_error:
            print(f"  last error:   {local(s.last_error_at)} (recovered since): {plain(s.last_error)}")
    for started in report.interrupted:
        print(f"INTERRUPTED:    a poll started {local(started)} did not finish (the process was stopped or the machine"
              " lost power); items it fetched before stopping are kept, the rest come with the next poll")
    if report.running_since:
        print(f"poll running:   since {local(report.running_since)} (another watcher holds the writer lock)")
    if report.last_digest_week:
        print(f"last digest:    {report.last_digest_week} ({local(report.last_digest_at)})")
    else:
        print("last digest:    none yet")
    overdue = ""
    if report.overdue_since:
        overdue = f" (a poll is overdue since {local(report.overdue_since)}; is `watcher run` running?)"
    print(f"next poll:      {local(report.next_poll)}{overdue}")
    print(f"next digest:    {local(report.next_digest)} (week {report.next_digest_week})")
    if report.mail_to is not None:
        last = report.last_mail
        sent = f"{last.week} ({local(parse_utc(last.at))})" if last else "none yet"
        print(f"mail:           to {report.mail_to}; last sent {sent}")
        for m in report.mail_failures:
            print(f"  MAIL FAILING: {m.week} not sent ({local(parse_utc(m.at))}): {plain(m.error)}")


def cmd_label(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    if args.import_file:
        if args.id or args.verdict or args.note:
            raise UsageError("label: give either ID and a verdict, or --import FILE.csv, not both")
        labels = parse_csv(read_text(Path(args.import_file)), args.import_file)
    else:
        if not args.id or not args.verdict:
            raise UsageError(f"label: give an item id and a verdict ({' or '.join(LABELS)}), or --import FILE.csv")
        labels = [make_label(args.id, args.verdict, args.note)]
    result = store.add_labels(labels, now=utc_now(), user=login())
    if result.unknown:
        unknown = result.unknown
        shown = ", ".join(plain(u) for u in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise UsageError(f"label: no stored item has the id {shown}; nothing was labelled (ids are shown by `watcher export`)")
    counts = ", ".join(f"{sum(lb.label == v for lb in labels)} {v}" for v in LABELS)
    unchanged = f"; {result.unchanged} unchanged" if result.unchanged else ""
    if args.import_file:
        print(f"labelled {len(labels)} item(s) from {args.import_file}: {counts}{unchanged}")
    else:
        print(f"labelled {plain(labels[0].item_id)} {labels[0].label}{' (unchanged)' if result.unchanged else ''}")
    return EXIT_OK


def cmd_evaluate(config: Config, store: Store | None, args: argparse.Namespace, stop: StopFlag) -> int:
    if args.file:
        sources = [s.name for s in config.sources]
        records = [r for path in args.file for r in parse_labelled(read_text(path), str(path), args.split, sources)]
        source = ", ".join(str(p) for p in args.file) + (f" (split {args.split})" if args.split else "")
    else:
        if args.split:
            raise UsageError("evaluate: --split picks records of --file; the store's labels have no split")
        assert store is not None
        records = [Labelled(s.stored.item, s.label.label == "relevant", s.label.note, s.at) for s in store.labels()]
        source = f"the labels in {config.database}"
    if args.since:
        if args.file:
            raise UsageError("evaluate: --since picks the store's labels by the day they were given; records of --file have no such day")
        records = labelled_since(records, utc_iso(datetime.combine(args.since, time(0), config.timezone)))
        source += f" given since {args.since.isoformat()}"
    if not records:
        raise UsageError("evaluate: nothing to evaluate: no labelled record"
                         + (" in the file(s)" if args.file else
                            f" given since {args.since.isoformat()}" if args.since else
                            "; label items with `watcher label ID relevant|irrelevant`, or pass --file"))
    evaluation = evaluate(records, config.topics, source)
    print(render(evaluation), end="")
    if args.fail_under:
        problems = below(evaluation, *args.fail_under)
        for problem in problems:
            print(f"watcher: evaluate: {problem}", file=sys.stderr)
        if problems:
            return EXIT_FAILED
    return EXIT_OK


def cmd_claim(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    if config.article is None:
        raise UsageError("claim: feeds.yaml has no `article` block with claims")
    if args.action == "show":
        state = state_of(store, config)
        shown = [v for v in state.verdicts if args.id in (None, v.claim_id)]
        if args.id and not shown:
            raise UsageError(f"claim: no claim has the id {plain(args.id)!r}; known: {', '.join(c.id for c in config.article.claims)}")
        for verdict in shown:
            print(verdict_line(verdict))
        for r in state.records if args.id else ():
            if r.claim_id == args.id:
                print(f"  {r.at} {r.action} by {plain(r.by)}{': ' + plain(r.note) if r.note else ''}")
        return EXIT_OK
    if not args.id or not args.by:
        raise UsageError(f"claim {args.action}: give the claim's id and --by NAME (who records it)")
    action = RESOLVED if args.action == "resolve" else REOPENED
    record = record_claim(store, config.article, args.id, args.by, args.note, utc_now(), action=action)
    print(f"claim {record.claim_id}: {record.action} by {plain(record.by)} at {record.at}")
    return EXIT_OK


def verdict_line(v: Verdict) -> str:
    since = f" since {v.since_what} on {v.since}" if v.since else " since the watch began"
    line = f"{v.claim_id}: {v.words}" + (since if v.kind in ("new-evidence", "unchanged") else "")
    if v.new and v.kind == "new-evidence":
        line += ": " + ", ".join(f"{title.lower()} {n}" for title, n in v.counts)
    for f in v.contradicting:
        line += f"\n  the record says ({f.date}): {plain(f.statement)} {f.source}"
    for s in v.stale:
        line += f"\n  wording that goes stale: {plain(s.phrase)!r}: give the date"
    if v.resolution:
        line += f"\n  {v.resolution.action} by {plain(v.resolution.by)} on {v.resolution.at[:10]}"
    return line


def login() -> str:
    """Who gives a label on the command line: the login name (kept with the label)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "command line"


def read_password(prompt: str) -> str:
    """A password from the terminal (asked twice, not echoed) or the first line of stdin; never argv."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"{prompt}: ")
        if getpass.getpass("again: ") != first:
            raise UsageError("user: the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def cmd_user(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    if args.action == "list":
        for u in store.users():
            print(f"{u.name}\t{u.role}\tsince {u.created}")
        return EXIT_OK
    if not args.name:
        raise UsageError(f"user {args.action}: give the account's name")
    name = check_name(args.name)
    now = utc_now()
    if args.action == "remove":
        if not store.remove_user(name):
            raise UsageError(f"user remove: no account is named {name}")
        print(f"removed {name}: its sessions end now; its decisions stay, under its name")
        return EXIT_OK
    if args.action == "add" and store.user(name) is not None:
        raise UsageError(f"user add: {name} exists; change its password with `watcher user passwd {name}`")
    if args.action == "passwd" and store.user(name) is None:
        raise UsageError(f"user passwd: no account is named {name}; add it with `watcher user add {name}`")
    hashed = hash_password(read_password(f"password for {name}"))
    if args.action == "add":
        role = args.role or ROLES[0]
        store.add_user(name, role, hashed, now=now)
        print(f"added {name} ({role})")
    else:
        store.change_user(name, now=now, password_hash=hashed, role=args.role)
        print(f"changed the password of {name}{f' and made it {args.role}' if args.role else ''}: its other sessions end now")
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "poll": cmd_poll, "digest": cmd_digest, "run": cmd_run, "export": cmd_export, "status": cmd_status,
    "send": cmd_send, "label": cmd_label, "evaluate": cmd_evaluate, "claim": cmd_claim, "user": cmd_user,
}

if __name__ == "__main__":
    sys.exit(main())
