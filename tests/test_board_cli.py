"""The board as a user meets it: `watcher run --once` and `watcher status` as real processes, against
the openFDA stand-in serving the project's own fixtures (tests/fixtures/openfda). The issue's
"done when": every week shows the board for both products, and the board's own page their whole
records and the facts; a second poll with a new supplement lists it once under Regulatory; a
failing openFDA leaves the board marked stale."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import configs
from tests.configs import DRUG_TOPIC
from tests.test_board import KETALAR, SPRAVATO, add_supplement, board_of, line_of, records, regulatory_section
from tests.upstreams import faults
from tests.upstreams.openfda import OpenFDA

pytestmark = pytest.mark.slow  # every test runs `watcher` in a subprocess


def watcher(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def this_weeks_digest(folder: Path) -> str:
    (path,) = sorted((folder / "digests").glob("20*-W*.md"))[-1:]
    return path.read_text(encoding="utf-8")


def test_run_once_writes_the_board_then_lists_a_new_supplement_once_then_goes_stale(tmp_path, upstream):
    fake = OpenFDA(upstream)
    for application, (record, labels) in records().items():
        fake.product(application, record, labels)
    configs.write_feeds(tmp_path, [configs.openfda(fake.url)], topics=DRUG_TOPIC, regulatory=configs.regulatory())

    first = watcher("run", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "regulatory: ok, 2 fetched, 0 new" in first.stdout
    page = this_weeks_digest(tmp_path)
    assert re.findall(r"^## .*$", page, re.M) == ["## Regulatory board", "## Sources"]
    assert line_of(page, SPRAVATO).startswith("approved 2019-03-05;") and line_of(page, KETALAR).startswith("approved 1970-01-01;")
    assert "[the whole board](board.md)" in board_of(page)
    board = (tmp_path / "digests" / "board.md").read_text(encoding="utf-8")
    assert "## Spravato (esketamine) nasal spray · NDA211243" in board and "## Ketalar (ketamine hydrochloride) injection · NDA016812" in board
    assert "- **Original approval:** ORIG-1, approved 2019-03-05" in board
    assert "## Curated facts" in board and "Compounded ketamine nasal spray is not FDA-approved." in board
    assert (tmp_path / "digests" / "board.html").is_file()
    assert regulatory_section(page) == ""  # the first snapshot lists no change

    record, labels = records()[SPRAVATO]
    add_supplement(fake, SPRAVATO, record, labels, "14", "20261120")
    second = watcher("run", "--once", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "regulatory: ok, 2 fetched, 1 new" in second.stdout
    third = watcher("run", "--once", cwd=tmp_path)  # seen again: news no more
    assert "regulatory: ok, 2 fetched, 0 new" in third.stdout
    page = this_weeks_digest(tmp_path)
    listed = [line for line in regulatory_section(page).splitlines() if "new supplement SUPPL-14" in line]
    assert listed == ["- **[Spravato (esketamine) nasal spray (NDA211243): new supplement SUPPL-14 approved 2026-11-20 (Efficacy)]"
                      "(https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s014ltr.pdf)** \\"]

    # openFDA now answers every query with its 500 SERVER_ERROR: reported at once, not retried.
    error = json.dumps({"error": {"code": "SERVER_ERROR", "message": "Check your request and try again"}})
    fake.server.arm("drugsfda", faults.answer(500, error, "application/json"))
    fake.server.arm("label", faults.answer(500, error, "application/json"))
    failing = watcher("run", "--once", cwd=tmp_path)
    assert failing.returncode == 1
    assert re.search(r"^regulatory: FAILED: NDA211243, NDA016812: 127\.0\.0\.1:\d+: HTTP 500 \(GET /drug/drugsfda\.json\?…\):"
                     r" SERVER_ERROR: Check your request and try again$", failing.stdout, re.M), failing.stdout
    board = (tmp_path / "digests" / "board.md").read_text(encoding="utf-8")
    for application in (SPRAVATO, KETALAR):
        block = board.split(f" · {application}\n", 1)[1].split("\n## ", 1)[0]
        assert re.search(r"> \*\*Stale since \d{4}-\d\d-\d\d \d\d:\d\d C[SD]T: every fetch of this product since then failed;"
                         r" this is the record as of \d{4}-\d\d-\d\d \d\d:\d\d C[SD]T\.\*\*", block), block
    assert "SUPPL-14, approved 2026-11-20 (Efficacy)" in board  # the previous snapshot, still shown
    week = this_weeks_digest(tmp_path)
    assert all(" · **stale since " in line_of(week, application) for application in (SPRAVATO, KETALAR))

    state = watcher("status", cwd=tmp_path)
    assert state.returncode == 1
    assert re.search(r"^regulatory \(regulatory board\)\n  items: +1 stored, 1 matched\n  last success: .*\n  FAILING: +1 poll\(s\) in a row",
                     state.stdout, re.M), state.stdout


def test_check_refuses_a_bad_regulatory_block_in_one_line(tmp_path):
    block = configs.regulatory(products=[{"name": "Spravato", "application": "211243"}])
    configs.write_feeds(tmp_path, [configs.openfda("https://api.fda.gov/")], regulatory=block)
    checked = watcher("check", cwd=tmp_path)
    assert checked.returncode == 2 and checked.stdout == ""
    assert checked.stderr.startswith("watcher: configuration error: regulatory.products[0].application: must be an application number")
    assert checked.stderr.count("\n") == 1
    configs.write_feeds(tmp_path, [configs.openfda("https://api.fda.gov/")], regulatory=configs.regulatory())
    good = watcher("check", cwd=tmp_path)
    assert good.returncode == 0 and "2 product(s) and 1 fact(s) on the regulatory board" in good.stdout
