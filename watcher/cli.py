"""`watcher [--config PATH] COMMAND`: a thin layer over poll, digest, export and status.

Exit codes: 0 all well; 1 a source failed (the others were still stored) or a write failed;
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence

from . import __version__
from .config import Config, load
from .digest import iso_week, write_digest
from .errors import ConfigError, WatcherError
from .export import write_csv, write_jsonl
from .markdown import plain
from .lock import DEFAULT_WAIT, WriterLock
from .poll import PollReport, poll, utc_now
from .schedule import next_fire_times, poll_due, previous_week, run_forever, stop_on_signals, write_digests
from .store import Store, parse_utc, store_failure

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("watcher")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is already 2; keep its one-line form
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
    for writer in ("poll", "digest", "run"):  # the commands that take the writer lock
        commands.choices[writer].add_argument(
            "--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
            help=f"if another watcher is writing, wait this long for it, then give up (default {DEFAULT_WAIT:g})",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load(args.config)
        if args.command == "check":
            return cmd_check(config)
        if args.command == "run" and not args.once:
            return run_forever(config, wait=args.wait)  # takes the writer lock per job
        if args.command in ("poll", "digest", "run"):
            # One writer at a time; then SIGTERM/SIGINT finish the write in progress and exit 0.
            name = f"watcher {args.command}{' --once' if getattr(args, 'once', False) else ''}"
            with WriterLock.for_database(config.database, name, wait=args.wait), stop_on_signals() as stop:
                args.should_stop = stop
                with Store.open(config.database) as store:
                    return COMMANDS[args.command](config, store, args)
        with Store.open(config.database) as store:
            return COMMANDS[args.command](config, store, args)
    except ConfigError as exc:
        print(f"watcher: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WatcherError as exc:
        print(f"watcher: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.Error as exc:  # after Store.open: a full disk, a page damaged since
        print(f"watcher: error: {store_failure(config.database, exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("watcher: interrupted; work not committed was rolled back", file=sys.stderr)
        return 130


def cmd_check(config: Config) -> int:
    print(f"{config.path}: ok: {len(config.sources)} source(s), {len(config.topics)} topic(s); database {config.database}")
    return EXIT_OK


def progress_printer():
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


def cmd_poll(config: Config, store: Store, args: argparse.Namespace) -> int:
    return report_poll(poll(config, store, progress=progress_printer(), should_stop=getattr(args, "should_stop", None)))


def cmd_digest(config: Config, store: Store, args: argparse.Namespace) -> int:
    week = args.week or iso_week(utc_now(), config.timezone)
    record = write_digest(store, config, week, now=utc_now())
    print(f"{config.digests / record.path}: {record.items} item(s)")
    return EXIT_OK


def cmd_run(config: Config, store: Store, args: argparse.Namespace) -> int:
    stop = getattr(args, "should_stop", None)
    report = poll(config, store, progress=progress_printer(), should_stop=stop)
    code = report_poll(report)
    if report.interrupted:
        return code
    # Every missing weekly digest (after downtime), then the current week's.
    for record in write_digests(store, config, now=utc_now(), should_stop=stop):
        print(f"{config.digests / record.path}: {record.items} item(s)")
    return code


def cmd_export(config: Config, store: Store, args: argparse.Namespace) -> int:
    (write_csv if args.format == "csv" else write_jsonl)(store, sys.stdout)
    return EXIT_OK


def cmd_status(config: Config, store: Store, args: argparse.Namespace) -> int:
    states = store.source_states()
    counts = store.item_counts()
    tz = config.timezone

    def local(stamp: str | None) -> str:
        return parse_utc(stamp).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if stamp else "never"

    failing = 0
    for source in config.sources:
        state = states.get(source.name)
        stored, matched = counts.get(source.name, (0, 0))
        print(f"{source.name} ({source.type})")
        print(f"  items:        {stored} stored, {matched} matched")
        print(f"  last success: {local(state.last_success if state else None)}")
        if state and state.consecutive_failures:
            failing += 1
            print(f"  FAILING:      {state.consecutive_failures} poll(s) in a row")
            print(f"  last error:   {local(state.last_error_at)}: {plain(state.last_error)}")
        elif state and state.last_error:
            print(f"  last error:   {local(state.last_error_at)} (recovered since): {plain(state.last_error)}")
    digests = store.digests()
    print(f"last digest:    {digests[0].week} ({local(digests[0].written_at)})" if digests else "last digest:    none yet")
    # From the config's schedule, not from a running process: the times `watcher run` would use.
    now = utc_now()
    next_poll, next_digest = next_fire_times(config, now)
    due = poll_due(store, config, now)
    overdue = f" (a poll is overdue since {due.astimezone(tz):%Y-%m-%d %H:%M %Z}; is `watcher run` running?)" if due else ""
    print(f"next poll:      {next_poll.astimezone(tz):%Y-%m-%d %H:%M %Z}{overdue}")
    print(f"next digest:    {next_digest.astimezone(tz):%Y-%m-%d %H:%M %Z} (week {previous_week(next_digest, config)})")
    return EXIT_FAILED if failing else EXIT_OK


COMMANDS = {"poll": cmd_poll, "digest": cmd_digest, "run": cmd_run, "export": cmd_export, "status": cmd_status}

if __name__ == "__main__":
    sys.exit(main())
