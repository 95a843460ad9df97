"""The reliability table: what each source does when its upstream misbehaves, from the fault suite.

    .venv/bin/python benchmarks/reliability_table.py            # runs tests/test_faults.py (about a minute)
    .venv/bin/python benchmarks/reliability_table.py --from F   # formats outcomes saved before

It runs `pytest tests/test_faults.py` with $WATCHER_RELIABILITY_OUT set, so that every (fault,
source) test appends its outcome (the poll's own report: ok or the recorded one-line reason,
requests the faulty endpoint saw, Retry-After honoured, items kept from before the fault, the next
poll's result, wall time and memory), and prints them as Markdown: one row per fault, one column
per source, then the bounds measured. Nothing in a cell is written by hand. Only tests that
passed are in the table; a failing test is named below it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pubmed", "rss", "openfda", "clinicaltrials", "europepmc")


def run_suite(out: Path) -> int:
    env = {**os.environ, "WATCHER_RELIABILITY_OUT": str(out)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_faults.py"]
    return subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL).returncode


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def cell(row: dict) -> str:
    n = row["target_requests"]
    if row["ok"]:
        text = "ok" if n <= 1 else f"ok after {n - 1} retr{'y' if n == 2 else 'ies'}"
        if row.get("retry_after") is not None:
            text += f", each after the {row['retry_after']:g} s Retry-After"
        for warning in row.get("warnings") or ():
            text += f"; warned: {md(warning)}"
        return text
    text = f"failed: {md(row['reason'])}"
    if row["kept_before_fault"]:
        text += f"; {row['kept_before_fault']} of {row['items']} kept (earlier batch)"
    return text + ("; ok next poll" if row["next_poll_ok"] else "; NOT ok next poll")


def table(rows: list[dict]) -> str:
    by_fault: dict[str, dict] = {}
    for row in rows:
        entry = by_fault.setdefault(row["fault"], {"what": row["what"]})
        entry[row["source"]] = row
    lines = ["| fault | PubMed (E-utilities) | FDA RSS feed | openFDA | ClinicalTrials.gov | Europe PMC |", "|---|---|---|---|---|---|"]
    for fault, entry in by_fault.items():
        cells = [cell(entry[s]) if s in entry else "(no result)" for s in SOURCES]
        lines.append(f"| **{fault}**: {md(entry['what'])} | " + " | ".join(cells) + " |")
    wall = max(r["wall_s"] for r in rows)
    traced = max(r["traced_peak_mb"] for r in rows)
    resident = max(r["rss_growth_mb"] for r in rows)
    healthy = all(r["next_poll_ok"] for r in rows)
    lines += [
        "",
        f"{len(rows)} cases, each a poll of the faulty source and a healthy feed with `http: {{timeout: 1, deadline: 2,"
        f" max_mb: 1}}`. Slowest poll: {wall:g} s (bound: 10 s); largest tracemalloc peak: {traced:g} MB; largest"
        f" growth of resident memory: {resident:g} MB (bound: 100 MB each). The healthy feed was stored in every case;"
        f" {'every' if healthy else 'NOT every'} next poll stored each item exactly once; no key and no local file's"
        " content and no entity's text reached the store, the logs or a digest, and no external entity or DTD was fetched.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a JSON Lines file of outcomes saved before")
    args = parser.parse_args()
    status = 0
    if args.source:
        path = args.source
    else:
        path = Path(tempfile.mkstemp(suffix=".jsonl")[1])
        path.write_text("")
        status = run_suite(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not args.source:
        path.unlink()
    if not rows:
        print("no outcomes recorded", file=sys.stderr)
        return 1
    print(table(rows))
    if status:
        print(f"\nThe fault suite did not pass (pytest exit {status}): rows of failing tests are missing.")
    return status


if __name__ == "__main__":
    sys.exit(main())
