"""`watcher [--config PATH] COMMAND`: a thin layer over poll, publish, export and status.

Exit codes: 0 all well; 1 a source failed (the others were still stored) or a write failed;
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

from . import __version__
from .config import Config, load
from .digest.publish import publish_due, publish_week
from .errors import ConfigError, UsageError, WatcherError
from .export import write_csv, write_jsonl
from .lock import DEFAULT_WAIT, WriterLock
from .poll import PollReport, poll
from .service import StopFlag, run_forever, stop_on_signals
from .status import StatusReport, status
from .store import OutputRecord, Store, store_failure
from .text import plain
from .weeks import iso_week, utc_now, week_days

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WRITERS = ("poll", "digest", "run")  # the commands that take the writer lock
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
    export = commands.add_parser("export", help="write every stored item to stdout")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    commands.add_parser("status", help="per source: last success, last error, items")
    commands.add_parser("check", help="validate feeds.yaml")
    for writer in WRITERS:
        commands.choices[writer].add_argument(
            "--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
            help=f"if another watcher is writing, wait this long for it, then give up (default {DEFAULT_WAIT:g})",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = None
    try:
        config = load(args.config)
        if args.command == "check":
            return cmd_check(config)
        if getattr(args, "week", None):
            week_days(args.week)  # a bad --week is refused before any lock or database
        if args.command == "run" and not args.once:
            return run_forever(config, wait=args.wait)  # takes the writer lock per job
        if args.command in WRITERS:
            # One writer at a time; then SIGTERM/SIGINT finish the write in progress and exit 0.
            holder = f"watcher {args.command}{' --once' if getattr(args, 'once', False) else ''}"
            with (
                WriterLock.for_database(config.database, holder, wait=args.wait),
                stop_on_signals() as stop,
                Store.open(config.database) as store,
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


def cmd_check(config: Config) -> int:
    print(f"{config.path}: ok: {len(config.sources)} source(s), {len(config.topics)} topic(s); database {config.database}")
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
            print(f"{s.name}: ok, {s.fetched} fetched, {s.new} new, {s.new_matched} newly matched")
        else:
            print(f"{s.name}: FAILED: {plain(s.error)}")  # upstream text: no terminal control codes
    return EXIT_OK if report.ok else EXIT_FAILED


def report_outputs(config: Config, records: Sequence[OutputRecord]) -> None:
    for record in records:
        print(f"{config.digests / record.path}: {record.items} item(s)")


Command = Callable[[Config, Store, argparse.Namespace, StopFlag], int]


def cmd_poll(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    return report_poll(poll(config, store, progress=progress_printer(), should_stop=stop))


def cmd_digest(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    now = utc_now()
    report_outputs(config, publish_week(store, config, args.week or iso_week(now, config.timezone), now=now))
    return EXIT_OK


def cmd_run(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    report = poll(config, store, progress=progress_printer(), should_stop=stop)
    code = report_poll(report)
    if not report.interrupted:
        # Every missing weekly digest (after downtime), then the current week's.
        report_outputs(config, publish_due(store, config, now=utc_now(), should_stop=stop))
    return code


def cmd_export(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    (write_csv if args.format == "csv" else write_jsonl)(store, sys.stdout, config.separate, [s.name for s in config.sources])
    return EXIT_OK


def cmd_status(config: Config, store: Store, args: argparse.Namespace, stop: StopFlag) -> int:
    report = status(store, config, utc_now())
    print_status(report, config.timezone)
    return EXIT_FAILED if report.failing else EXIT_OK


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
    if report.last_digest_week:
        print(f"last digest:    {report.last_digest_week} ({local(report.last_digest_at)})")
    else:
        print("last digest:    none yet")
    overdue = ""
    if report.overdue_since:
        overdue = f" (a poll is overdue since {local(report.overdue_since)}; is `watcher run` running?)"
    print(f"next poll:      {local(report.next_poll)}{overdue}")
    print(f"next digest:    {local(report.next_digest)} (week {report.next_digest_week})")


COMMANDS: dict[str, Command] = {
    "poll": cmd_poll, "digest": cmd_digest, "run": cmd_run, "export": cmd_export, "status": cmd_status,
}

if __name__ == "__main__":
    sys.exit(main())
