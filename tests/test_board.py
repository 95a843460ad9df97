"""The regulatory board over real HTTP: the openFDA stand-in answers the board's searches for one
application with the project's own fixtures (tests/fixtures/openfda: Drugs@FDA records and labels
written in the shapes of the real answers in ../shared/corpus/fda, their values invented), through
the real poll into the store, and out through the real digest in Markdown and HTML: each week shows
one standing line per product and what changed that week, the board's own page (board.md,
board.html) every product's whole record and the curated facts."""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests import configs
from tests.configs import DRUG_TOPIC
from tests.polls import NOW, WEEK, Polled, run_poll
from tests.test_hostile import ALLOWED_TAGS, C0, HOSTILE, INVISIBLE, LONG, SECTION_TITLES, Page
from tests.test_hostile import render as render_markdown
from tests.upstreams import faults, fixture
from tests.upstreams.openfda import OpenFDA, json_reply, results_of
from watcher.config import Config
from watcher.digest import plaintext
from watcher.digest.publish import publish_week, render, render_board
from watcher.digest.view import build_view
from watcher.export.items import write_jsonl
from watcher.regulatory.product import KIND
from watcher.status import status
from watcher.store import Store
from watcher.text import plain
from watcher.weeks import Week, utc_iso

SPRAVATO, KETALAR, UNKNOWN = "NDA211243", "NDA016812", "NDA099999"
NEXT_WEEK = "2026-W49"


def records() -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Fresh copies of our fixtures: application → (Drugs@FDA record, labels)."""
    return {
        SPRAVATO: (results_of(fixture("openfda", "drugsfda_spravato.json"))[0], results_of(fixture("openfda", "label_spravato.json"))),
        KETALAR: (results_of(fixture("openfda", "drugsfda_ketalar.json"))[0], results_of(fixture("openfda", "label_ketalar.json"))),
    }


@pytest.fixture
def fake(upstream) -> OpenFDA:
    fake = OpenFDA(upstream)
    for application, (record, labels) in records().items():
        fake.product(application, record, labels)
    return fake


def board_config(tmp_path: Path, fake: OpenFDA, **block: Any) -> Config:
    # The openfda source itself asks only for recalls here (none: NOT_FOUND): the board is what is tested.
    return configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/enforcement"])],
                                topics=DRUG_TOPIC, regulatory=configs.regulatory(**block))


def digest(config: Config, week: str = WEEK, fmt: str = "markdown") -> str:
    with Store.open(config.database) as store:
        return render(store, config, Week.parse(week), fmt)


def board_page(config: Config, fmt: str = "markdown") -> str:
    """The board's own page, as of the latest snapshots."""
    with Store.open(config.database) as store:
        return render_board(store, config, fmt)


def board_of(markdown: str) -> str:
    """The board of a week's digest."""
    board = markdown.split("## Regulatory board\n", 1)[1]
    return re.split(r"\n## |\nNo new matching items", board, maxsplit=1)[0]


def line_of(markdown: str, application: str) -> str:
    """A product's standing line in a week's board, with the lines of its changes that week."""
    return board_of(markdown).split(f"** ({application}): ", 1)[1].split("\n- **", 1)[0].split("\n\n", 1)[0].rstrip("\n")


def block_of(page: str, application: str) -> str:
    """A product's block on the board's page."""
    return page.split(f" · {application}\n", 1)[1].split("\n## ", 1)[0]


def regulatory_section(markdown: str) -> str:
    found = re.search(r"\n## Regulatory \(\d+\)\n(.*?)(?=\n## |\Z)", markdown, re.S)
    return found.group(1) if found else ""


def board_items(polled: Polled) -> list[str]:
    return [i for i in polled.ids if i.startswith("regulatory:")]


# ---- the first poll: the board, and no change listed ----


def test_the_first_poll_fetches_each_product_whole_and_lists_no_change(tmp_path, fake):
    config = board_config(tmp_path, fake)
    polled = run_poll(config)
    assert polled.report.ok and polled.source("regulatory").fetched == 2 and polled.source("regulatory").new == 0
    assert board_items(polled) == []  # the first snapshot has nothing to compare with
    # Two requests per product, each for the whole record: no date window.
    board = [r for r in fake.server.requests() if "application_number" in r.query.get("search", "")]
    assert [(r.path, r.query["search"], r.query["limit"], r.query.get("sort")) for r in board] == [
        ("/drug/drugsfda.json", f'application_number:"{SPRAVATO}"', "1", None),
        ("/drug/label.json", f'openfda.application_number:"{SPRAVATO}"', "20", "effective_time:desc"),
        ("/drug/drugsfda.json", f'application_number:"{KETALAR}"', "1", None),
        ("/drug/label.json", f'openfda.application_number:"{KETALAR}"', "20", "effective_time:desc"),
    ]
    with Store.open(config.database) as store:
        assert [len(store.snapshots(KIND, a)) for a in (SPRAVATO, KETALAR)] == [1, 1]
        assert store.snapshots(KIND, SPRAVATO)[0].at == utc_iso(NOW)


def test_a_week_shows_one_standing_line_per_product_and_links_the_whole_board(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    page = digest(config)
    # After the news (none this week), before the sources: the news comes first.
    assert re.findall(r"^## .*$", page, re.M) == ["## Regulatory board", "## Sources"]
    assert page.index("No new matching items") < page.index("## Regulatory board") < page.index("| regulatory | 0 | 1 | 0 |")
    board = board_of(page)
    assert board.startswith("\nAs of 2026-11-24 12:00 CST, from openFDA: one line per product and what changed this week."
                            " Every approval, the label's boxed warning and indications, and the curated facts are on"
                            " [the whole board](board.md).\n")
    assert line_of(page, SPRAVATO) == "approved 2019-03-05; label version 11 of 2025-01-21; boxed warning; REMS"
    assert line_of(page, KETALAR) == "approved 1970-01-01; label version 21 of 2022-03-09"
    assert "- **Spravato (esketamine) nasal spray** (NDA211243): " in board
    # The details are the page's, not the week's: nothing of them repeats from week to week.
    assert "Original approval" not in page and "Marketing status" not in page and "Curated facts" not in page
    assert "[Regulatory board](#regulatory-board)" in page  # in the contents
    html = digest(config, fmt="html")
    assert ('<li id="board-nda211243"><strong>Spravato (esketamine) nasal spray</strong> (NDA211243): approved 2019-03-05;'
            " label version 11 of 2025-01-21; boxed warning; REMS") in html
    assert '<a href="board.html">the whole board</a>' in html and '<a href="board.html">Regulatory board</a>' in html


def test_the_boards_page_holds_each_products_whole_record(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    page = board_page(config)
    assert page.startswith("# Regulatory board\n\nAs of 2026-11-24 12:00 CST: each product's Drugs@FDA record and current"
                           " label, from openFDA; then the facts no API states. [All weeks](index.md)\n")
    spravato = block_of(page, SPRAVATO)
    assert spravato.startswith("\nAs of 2026-11-24 12:00 CST: the Drugs@FDA record and the current label, from openFDA.\n")
    for line in [
        "- **Product:** SPRAVATO (esketamine hydrochloride) · JANSSEN PHARMS",
        "- **Original approval:** ORIG-1, approved 2019-03-05 (Type 5 - New Formulation or New Manufacturer)"
        " ([label](https://www.accessdata.fda.gov/drugsatfda_docs/label/2019/211243lbl.pdf))",
        "- **Efficacy supplement:** SUPPL-12, approved 2026-11-10 (Efficacy)"
        " ([letter](https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s012ltr.pdf))",
        "- **Latest labeling supplement:** SUPPL-13, approved 2026-11-18 (Labeling)",
        "- **Current label:** version 11, effective 2025-01-21 (Janssen Pharmaceuticals, Inc.)"
        " ([DailyMed](https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=6d9d5b4c-2a7e-4c49-8a2e-2b1f6f0e1c11))",
        "- **Boxed warning:** yes: “WARNING: SEDATION; DISSOCIATION; RESPIRATORY DEPRESSION; ABUSE AND MISUSE; and SUICIDAL"
        " THOUGHTS AND BEHAVIORS See full prescribing information for complete boxed warning. Patients are at risk for …”",
        "- **Indications:** SPRAVATO is a non-competitive N-methyl D-aspartate (NMDA) receptor antagonist indicated for the"
        " treatment of treatment-resistant depression (TRD) in adults, and of depressive symptoms in adults with major"
        " depressive disorder (MDD) with acute suicidal ideation or behavior.",
        "- **REMS:** named in the label (boxed warning)",
        "- **Marketing status:** Prescription: 001 (SPRAY, NASAL, EQ 28MG BASE)",
        "- **Links:** [Drugs\\@FDA](https://www.accessdata.fda.gov/scripts/cder/daf/index.cfm?event=overview.process&ApplNo=211243)"
        " · [DailyMed](https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=6d9d5b4c-2a7e-4c49-8a2e-2b1f6f0e1c11)",
    ]:
        assert line in spravato.splitlines(), line
    ketalar = block_of(page, KETALAR)
    assert "- **Efficacy supplements:** none approved in the record" in ketalar
    assert "- **Boxed warning:** none" in ketalar and "- **REMS:** not named in the label or the submissions" in ketalar
    # The holder's label, not the repackager's newer one that names the same application.
    assert ("- **Current label:** version 21, effective 2022-03-09 (Par Pharmaceutical, Inc.);"
            " the holder's latest of 2 labels naming NDA016812") in ketalar
    assert "- **Marketing status:** Prescription: 001 (INJECTABLE, INJECTION, EQ 10MG BASE/ML), 002" in ketalar
    assert "- **Indications:** KETALAR is indicated in adults and pediatric patients 16 years of age and older: as the sole" in ketalar
    facts = page.split("## Curated facts\n", 1)[1]
    assert facts.strip() == ("- **2022-02:** Compounded ketamine nasal spray is not FDA-approved."
                             " ([source](https://fda.example/compounded-ketamine-nasal-spray)) · checked 2026-11-30")


def test_the_boards_page_in_html_too(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    week = digest(config, fmt="html")
    assert week.index("No new matching items") < week.index('<section id="board">') < week.index('<details id="sources">')
    board = board_page(config, fmt="html")
    assert board.startswith("<!DOCTYPE html>") and '<a href="index.html">All weeks</a>' in board
    assert '<h2>Spravato (esketamine) nasal spray · NDA211243</h2>' in board
    assert '<p class="meta">As of 2026-11-24 12:00 CST: the Drugs@FDA record and the current label, from openFDA.</p>' in board
    assert ('<li><strong>Efficacy supplement:</strong> SUPPL-12, approved 2026-11-10 (Efficacy)'
            ' (<a href="https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s012ltr.pdf">letter</a>)</li>') in board
    assert "<li><strong>REMS:</strong> named in the label (boxed warning)</li>" in board
    assert ('<li><strong>Links:</strong> <a href="https://www.accessdata.fda.gov/scripts/cder/daf/index.cfm?event=overview.process'
            '&amp;ApplNo=016812">Drugs@FDA</a>') in board
    assert ('<li><strong>2022-02:</strong> Compounded ketamine nasal spray is not FDA-approved.'
            ' (<a href="https://fda.example/compounded-ketamine-nasal-spray">source</a>) · checked 2026-11-30</li>') in board
    assert "the holder&#39;s latest of 2 labels" in board


def test_the_boards_page_is_written_with_the_site_and_rewritten_only_when_a_poll_changes_it(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse(WEEK), now=NOW)
    pages = {name: config.digests / name for name in ("board.md", "board.html")}
    first = {name: (path.read_text(encoding="utf-8"), path.stat().st_mtime_ns) for name, path in pages.items()}
    assert first["board.md"][0] == board_page(config) and first["board.html"][0] == board_page(config, fmt="html")
    # Another digest without a poll in between: the same board, the files left as they are.
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse(WEEK), now=NOW + timedelta(hours=1))
    assert {name: (path.read_text(encoding="utf-8"), path.stat().st_mtime_ns) for name, path in pages.items()} == first
    # A poll that brings a new supplement changes the board: both pages are written anew, whole.
    record, labels = records()[SPRAVATO]
    add_supplement(fake, SPRAVATO, record, labels, "14", "20261120")
    run_poll(config, now=NOW + timedelta(days=1))
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse(WEEK), now=NOW + timedelta(days=1))
    again = {name: path.read_text(encoding="utf-8") for name, path in pages.items()}
    assert "SUPPL-14, approved 2026-11-20" in again["board.md"] and "SUPPL-14, approved 2026-11-20" in again["board.html"]
    assert again["board.md"] == board_page(config)
    assert not list(config.digests.glob(".board.*.tmp"))  # written through a temporary file, renamed
    # The index and every week link it.
    assert "[The regulatory board](board.md)" in (config.digests / "index.md").read_text(encoding="utf-8")
    assert '<a href="board.html">The regulatory board</a>' in (config.digests / "index.html").read_text(encoding="utf-8")


def test_a_fact_checked_over_a_year_ago_is_marked_for_re_checking(tmp_path, fake):
    facts = [{**configs.FACTS[0], "checked": "2025-11-28"}, {**configs.FACTS[0], "statement": "Fresh.", "checked": "2025-11-29"}]
    config = board_config(tmp_path, fake, facts=facts)
    run_poll(config)
    # The page judges the facts as of the latest poll's day; a week as of its Sunday, 2026-11-29.
    run_poll(config, now=NOW + timedelta(days=5))  # on Sunday 2026-11-29
    # A year and a day before is over a year; a year is not.
    lines = board_page(config).split("## Curated facts\n", 1)[1].strip().splitlines()
    assert lines[0].endswith("checked 2025-11-28 · **re-check**") and lines[1].endswith("checked 2025-11-29")
    assert "re-check</strong>" in board_page(config, fmt="html")
    assert "\n1 of 2 curated facts is not checked against its source, or due for a re-check: see the whole board.\n" in digest(config)


def test_a_fact_nobody_has_checked_says_so_and_vouches_for_nothing(tmp_path, fake):
    unchecked = {k: v for k, v in configs.FACTS[0].items() if k != "checked"}
    config = board_config(tmp_path, fake, facts=[unchecked, {**configs.FACTS[0], "statement": "Read."}])
    for when in (NOW, NOW + timedelta(days=800)):  # however long ago: never "checked", never "re-check"
        run_poll(config, now=when)
        lines = board_page(config).split("## Curated facts\n", 1)[1].strip().splitlines()
        assert lines[0] == ("- **2022-02:** Compounded ketamine nasal spray is not FDA-approved."
                            " ([source](https://fda.example/compounded-ketamine-nasal-spray)) · **not yet checked against its source**")
        assert lines[1].endswith("· checked 2026-11-30" if when == NOW else "· checked 2026-11-30 · **re-check**")
        if when == NOW:
            facts = board_page(config, fmt="html").split('<ul class="facts">', 1)[1].split("</ul>", 1)[0]
    assert "\n1 of 2 curated facts is not checked against its source" in digest(config)
    assert ('(<a href="https://fda.example/compounded-ketamine-nasal-spray">source</a>)'
            ' · <strong class="flag">not yet checked against its source</strong></li>') in facts
    assert facts.count("checked 2026-11-30") == 1 and "re-check" not in facts


def test_the_board_is_a_function_of_the_store_and_the_week(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    assert digest(config) == digest(config) and board_page(config) == board_page(config)
    # A week before any fetch shows the products as not fetched yet, not today's record.
    earlier = digest(config, "2026-W47")
    assert line_of(earlier, SPRAVATO) == "not fetched yet" and "approved 2019" not in earlier
    assert board_of(earlier).startswith("\nNot fetched yet: one line per product")


def test_a_product_openfda_does_not_know_is_said_so(tmp_path, fake):
    products = [*configs.PRODUCTS, {"name": "A product under a wrong number", "application": UNKNOWN}]
    config = board_config(tmp_path, fake, products=products)
    polled = run_poll(config)
    assert polled.report.ok and polled.source("regulatory").fetched == 3  # NOT_FOUND is an answer, not a failure
    assert line_of(digest(config), UNKNOWN) == "no Drugs\\@FDA record of NDA099999; no label in openFDA"
    block = block_of(board_page(config), UNKNOWN)
    assert ("- **Drugs\\@FDA:** openFDA has no Drugs\\@FDA record of NDA099999 (404 NOT\\_FOUND):"
            " check the application number in feeds\\.yaml") in block
    assert "- **Current label:** openFDA has no label naming NDA099999" in block
    assert "Original approval" not in block and "Marketing status" not in block
    assert "openFDA has no Drugs@FDA record of NDA099999 (404 NOT_FOUND)" in board_page(config, fmt="html")


# ---- changes become news, once ----


def add_supplement(fake: OpenFDA, application: str, record: dict[str, Any], labels: list[dict[str, Any]],
                   number: str, day: str, klass: str = "EFFICACY", name: str = "Efficacy") -> None:
    record = copy.deepcopy(record)
    record["submissions"].append({
        "submission_type": "SUPPL", "submission_number": number, "submission_status": "AP", "submission_status_date": day,
        "review_priority": "STANDARD", "submission_class_code": klass, "submission_class_code_description": name,
        "application_docs": [{"id": "9", "type": "Letter", "date": day,
                              "url": f"http://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s0{number}ltr.pdf"}],
    })
    fake.product(application, record, labels)


def test_a_new_supplement_is_listed_once_under_regulatory(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    record, labels = records()[SPRAVATO]
    add_supplement(fake, SPRAVATO, record, labels, "14", "20261120")
    second = run_poll(config, now=NOW + timedelta(days=1))
    third = run_poll(config, now=NOW + timedelta(days=7))  # the week after: seen again, news no more
    assert second.source("regulatory").new == 1 and third.source("regulatory").new == 0
    assert board_items(third) == ["regulatory:NDA211243:submission:SUPPL-14:AP"]
    item = third.items["regulatory:NDA211243:submission:SUPPL-14:AP"].item
    assert item.title == "Spravato (esketamine) nasal spray (NDA211243): new supplement SUPPL-14 approved 2026-11-20 (Efficacy)"
    assert item.url == "https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s014ltr.pdf"  # upgraded
    assert item.date == "2026-11-20" and item.section == "regulatory" and item.kind == "approval"
    this_week = digest(config)
    section = regulatory_section(this_week)
    assert section.count("new supplement SUPPL-14") == 1
    assert ("- **[Spravato (esketamine) nasal spray (NDA211243): new supplement SUPPL-14 approved 2026-11-20 (Efficacy)]"
            "(https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s014ltr.pdf)**") in section
    assert "> class: Efficacy; review priority: STANDARD; documents: Letter" in section
    assert "approval · matched NDA211243 in the watched products" in section
    # The headline names it; the board of that week is as of the second poll and shows it as this week's.
    assert "\n- **Regulatory:** Spravato: new supplement SUPPL-14 approved 2026-11-20 (Efficacy).\n" in this_week
    assert board_of(this_week).startswith("\nAs of 2026-11-25 12:00 CST")
    assert line_of(this_week, SPRAVATO) == (
        "approved 2019-03-05; label version 11 of 2025-01-21; boxed warning; REMS\n"
        "  - this week: new supplement SUPPL-14 approved 2026-11-20 (Efficacy)"
        " ([source](https://www.accessdata.fda.gov/drugsatfda_docs/appletter/2026/211243Orig1s014ltr.pdf))")
    assert "this week:" not in line_of(this_week, KETALAR)
    assert "- **Efficacy supplement:** SUPPL-14, approved 2026-11-20 (Efficacy)" in block_of(board_page(config), SPRAVATO)
    later = digest(config, NEXT_WEEK)
    assert "SUPPL-14" not in later  # news once: the week after, only the board's page holds it
    html_section = digest(config, fmt="html").split('<section id="section-regulatory">', 1)[1].split("</section>", 1)[0]
    assert html_section.count("new supplement SUPPL-14 approved 2026-11-20 (Efficacy)</a>") == 1


def test_a_label_revision_with_a_new_boxed_warning_is_two_changes(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    record, labels = records()[SPRAVATO]
    labels[0].update(version="12", effective_time="20261120", id="0a1b2c3d-0000-4000-8000-000000000012",
                     boxed_warning=["WARNING: a new first sentence. The rest follows."])
    fake.product(SPRAVATO, record, labels)
    polled = run_poll(config, now=NOW + timedelta(days=1))
    set_id = labels[0]["set_id"]
    assert sorted(board_items(polled)) == sorted([
        f"regulatory:NDA211243:label:{set_id}:12",
        "regulatory:NDA211243:boxed-warning:" + polled.items[next(i for i in board_items(polled) if "boxed" in i)].item.id[-16:],
    ])
    titles = sorted(polled.items[i].item.title for i in board_items(polled))
    assert titles == [
        "Spravato (esketamine) nasal spray (NDA211243): boxed warning changed; it now opens “WARNING: a new first sentence."
        " The rest follows.”",
        "Spravato (esketamine) nasal spray (NDA211243): label revised: version 12, effective 2026-11-20"
        " (was version 11, effective 2025-01-21)",
    ]
    section = regulatory_section(digest(config))
    assert "label revised: version 12" in section and "boxed warning changed" in section
    assert f"(https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={set_id})" in section
    assert "- **Boxed warning:** yes: “WARNING: a new first sentence. The rest follows.”" in block_of(board_page(config), SPRAVATO)


def test_a_supplement_the_openfda_source_lists_is_not_listed_twice(tmp_path, fake):
    # The openfda source also asks drug/drugsfda (by name, in its date window): both paths see SUPPL-14.
    record, labels = records()[SPRAVATO]
    fake.page("drug/drugsfda", json_reply({"results": [record]}))
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/drugsfda"])], topics=DRUG_TOPIC,
                                  regulatory=configs.regulatory())
    run_poll(config)
    add_supplement(fake, SPRAVATO, record, labels, "14", "20261120")
    fake.endpoints["drug/drugsfda"].pages.clear()
    fake.page("drug/drugsfda", json_reply({"results": [fake.products[SPRAVATO].drugsfda]}))
    polled = run_poll(config, now=NOW + timedelta(days=1))
    assert "openfda:drugsfda:NDA211243:SUPPL:14" in polled.items and board_items(polled) == []
    section = regulatory_section(digest(config))
    listed = [line for line in section.splitlines() if line.startswith("- **") and "SUPPL-14" in line]
    assert len(listed) == 1 and listed[0].startswith("- **[FDA approval: SPRAVATO")  # the source's; the board left it


CLAIM = {"id": "approved", "text": "Esketamine is approved as a nasal spray.", "terms": ["esketamine"]}


@pytest.mark.parametrize("order", ["source-first", "board-first", "board-first-next-week"])
def test_one_submission_is_one_work_whichever_path_stores_it_first(tmp_path, fake, order):
    # Both the openfda source (drug/drugsfda by name, in its date window) and the board see SUPPL-14.
    # In the board-first orders the source fails on the day it appears, so the board stores it
    # first and the source's record comes with the next poll: the same week, or the next one.
    record, labels = records()[SPRAVATO]
    fake.page("drug/drugsfda", json_reply({"results": [record]}))
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/drugsfda"])], topics=DRUG_TOPIC,
                                  regulatory=configs.regulatory(), article={"claims": [CLAIM]})
    run_poll(config)  # the board's first snapshot: SUPPL-12 and SUPPL-13, no SUPPL-14 yet
    add_supplement(fake, SPRAVATO, record, labels, "14", "20261120")
    fake.endpoints["drug/drugsfda"].pages.clear()
    fake.page("drug/drugsfda", json_reply({"results": [fake.products[SPRAVATO].drugsfda]}))
    if order != "source-first":
        fake.server.arm("drugsfda:1", faults.status(503))  # the source's page; the board's own search still answers
    first = run_poll(config, now=NOW + timedelta(days=1))
    assert first.source("openfda").ok == (order == "source-first") and first.source("regulatory").ok
    fake.server.disarm()
    second = run_poll(config, now=NOW + timedelta(days=6 if order == "board-first-next-week" else 2))
    assert second.report.ok

    # Nothing lost: the source's record is stored, and the board's too when it came first.
    source_id, board_id = "openfda:drugsfda:NDA211243:SUPPL:14", "regulatory:NDA211243:submission:SUPPL-14:AP"
    assert source_id in second.items and (board_id in second.items) == (order != "source-first")
    assert second.ids.count(source_id) == 1 and second.ids.count(board_id) <= 1
    page = digest(config)
    listed = [line for line in regulatory_section(page).splitlines() if line.startswith("- **") and "SUPPL-14" in line]
    assert len(listed) == 1, listed  # one work, one entry
    lead = "Spravato (esketamine) nasal spray (NDA211243): new supplement SUPPL-14" if order != "source-first" else "FDA approval: SPRAVATO"
    assert listed[0].startswith(f"- **[{lead}")  # whichever saw it first
    if order == "board-first":  # the source's record came the same week: shown with the entry
        assert "also in [openfda drugsfda:NDA211243:SUPPL:14](" in regulatory_section(page)
    editors = page.split("## For the editors\n", 1)[1].split("\n## ", 1)[0]
    assert len([line for line in editors.splitlines() if "SUPPL-14" in line]) == 1  # one line under the claim
    html = digest(config, fmt="html").split('<section id="section-regulatory">', 1)[1].split("</section>", 1)[0]
    assert len([entry for entry in html.split('<li id="item-')[1:] if "SUPPL-14" in entry]) == 1
    # The week after (where the source's record came, in one order): no second listing, no notice.
    later = digest(config, NEXT_WEEK)
    assert "Updates to items already listed" not in later
    assert "SUPPL-14" not in later
    # The export: one object for the work, holding every record of it.
    out = io.StringIO()
    with Store.open(config.database) as store:
        write_jsonl(store, out, claims=config.article.claims, sources=[s.name for s in config.sources])
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    holding = [o for o in objects if source_id in o["ids"] or board_id in o["ids"]]
    assert len(holding) == 1 and set(holding[0]["ids"]) == {source_id} | ({board_id} if order != "source-first" else set())


# ---- a failing fetch ----


def test_a_failed_fetch_keeps_the_previous_snapshot_and_marks_the_board_stale(tmp_path, fake):
    config = board_config(tmp_path, fake)
    run_poll(config)
    fake.server.arm(f"drugsfda:{SPRAVATO}", faults.status(503))
    later = NOW + timedelta(hours=6)
    sleeps: list[float] = []
    failed = run_poll(config, now=later, sleeps=sleeps)
    error = failed.source("regulatory").error
    host = fake.server.base.split("/")[2]
    assert error.startswith(f"{SPRAVATO}: {host}: HTTP 503 after 4 tries (GET /drug/drugsfda.json?…)")
    assert not failed.report.ok and failed.source("regulatory").fetched == 1  # Ketalar was still fetched
    with Store.open(config.database) as store:
        assert len(store.snapshots(KIND, SPRAVATO)) == 1 and len(store.snapshots(KIND, KETALAR)) == 2
        report = status(store, config, later)
    line = next(s for s in report.sources if s.name == "regulatory")
    assert line.type == "regulatory board" and line.failing and line.last_error == error
    whole = board_page(config)
    spravato = block_of(whole, SPRAVATO)
    assert spravato.startswith("\nAs of 2026-11-24 12:00 CST")  # the previous record, still shown whole
    assert ("> **Stale since 2026-11-24 18:00 CST: every fetch of this product since then failed;"
            " this is the record as of 2026-11-24 12:00 CST.**") in spravato
    assert "> Last error: NDA211243: " in spravato and "Original approval" in spravato
    assert "Stale" not in block_of(whole, KETALAR) and block_of(whole, KETALAR).startswith("\nAs of 2026-11-24 18:00 CST")
    assert "<strong>Stale since 2026-11-24 18:00 CST" in board_page(config, fmt="html")
    # The week says it on the product's line, and in its one block of failures.
    page = digest(config)
    assert line_of(page, SPRAVATO).startswith(
        "approved 2019-03-05; label version 11 of 2025-01-21; boxed warning; REMS · **stale since 2026-11-24 18:00 CST:"
        " every fetch of it since then failed** (last error: NDA211243: ")
    assert "stale" not in line_of(page, KETALAR)
    assert ("\n- **regulatory** failed 1 of 2 polls this week: NDA211243: " in page
            and " · failing since 2026-11-24 18:00 CST · last success: 2026-11-24 12:00 CST\n" in page)
    assert "stale since 2026-11-24 18:00 CST" in digest(config, fmt="html")
    # The next good fetch ends it.
    fake.server.disarm()
    run_poll(config, now=later + timedelta(hours=6))
    assert "Stale" not in board_page(config) and "stale" not in board_of(digest(config))


def test_a_board_never_fetched_says_since_when_it_fails(tmp_path, fake):
    fake.server.arm("drugsfda", faults.reset)
    fake.server.arm("label", faults.reset)
    config = board_config(tmp_path, fake)
    polled = run_poll(config)
    error = polled.source("regulatory").error
    assert polled.source("regulatory").fetched == 0
    # One outage reads once, naming every product it hit.
    assert re.fullmatch(r"NDA211243, NDA016812: 127\.0\.0\.1:\d+: connection reset \(4 tries, GET /drug/drugsfda\.json\?…\)", error), error
    block = block_of(board_page(config), KETALAR)
    assert "Not fetched yet" in block and "> **Stale since 2026-11-24 12:00 CST: every fetch of this product since then failed.**" in block
    assert line_of(digest(config), KETALAR).startswith("not fetched yet · **stale since 2026-11-24 12:00 CST")


# ---- hostile text in every field ----

BOARD_TAGS = ALLOWED_TAGS | {"h3"}
HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "section", "div", "h1", "h2", "h3", "p", "a", "ul",
             "ol", "li", "strong", "em", "span", "blockquote", "br", "table", "thead", "tbody", "tr", "th", "td", "nav",
             "details", "summary"}


def hostile_record(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Our Spravato fixtures with `text` in every field the board or a change shows, links included."""
    record, labels = records()[SPRAVATO]
    record.update(sponsor_name=text, openfda={"brand_name": [text], "generic_name": [text]})
    record["products"] = [{"product_number": "001", "brand_name": text, "dosage_form": text, "route": text,
                           "marketing_status": text, "active_ingredients": [{"name": text, "strength": text}]},
                          {"product_number": text, "marketing_status": "Prescription"}]
    record["submissions"].append({
        "submission_type": "SUPPL", "submission_number": "14", "submission_status": "AP", "submission_status_date": "20261120",
        "submission_class_code": "EFFICACY", "submission_class_code_description": f"Efficacy {text}", "review_priority": text,
        "application_docs": [{"type": "Letter", "url": "javascript:alert(1)"}, {"type": text, "url": f"https://x.example/{text}"}],
    })
    labels[0].update(version=text, boxed_warning=[text], indications_and_usage=[text], warnings_and_cautions=[text],
                     openfda={**labels[0]["openfda"], "manufacturer_name": [text]})
    labels[0]["set_id"] = f"6d9d) [x](javascript:alert(1)) {text}"
    return record, labels


@pytest.mark.parametrize("key", [*HOSTILE, "c0-controls", "long"])
def test_hostile_text_in_every_field_is_inert_on_the_board(tmp_path, fake, key):
    text = {**HOSTILE, "c0-controls": C0, "long": LONG}[key]
    fact = {"statement": "Facts are ours, yet escaped: [x](javascript:alert(1)) <b>b</b> | a |", "date": "2022-02",
            "source": "https://fda.example/fact", "checked": "2026-11-30"}
    config = board_config(tmp_path, fake, facts=[fact])
    run_poll(config)
    fake.product(SPRAVATO, *hostile_record(text))
    polled = run_poll(config, now=NOW + timedelta(days=1))
    assert polled.report.ok and board_items(polled)  # the hostile record also made changes: items with its text
    supplement = polled.items["regulatory:NDA211243:submission:SUPPL-14:AP"].item
    # The javascript: letter is no link; the next document is, unless its URL is huge: then Drugs@FDA's page.
    assert supplement.url.startswith("https://x.example/" if key != "long" else "https://www.accessdata.fda.gov/scripts/")
    # The week (its headline, its news and its board's lines) and the board's own page, in Markdown and HTML.
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse(WEEK), now=NOW + timedelta(days=1))
    folder = config.digests
    for name in (f"{WEEK}.md", "board.md"):
        markdown = (folder / name).read_text(encoding="utf-8")
        page = Page()
        page.feed(render_markdown(markdown))
        page.close()
        assert {tag for tag, _ in page.tags} <= BOARD_TAGS, {tag for tag, _ in page.tags} - BOARD_TAGS
        title = f"Literature watch {WEEK}" if name != "board.md" else "Regulatory board"
        assert [h for h in page.headings if h[0] == "h1"] == [("h1", title)]
        if name != "board.md":
            assert {re.sub(r" \(\d+\)$", "", t) for tag, t in page.headings if tag == "h2"} <= SECTION_TITLES | {"Regulatory board", "Sources"}
        hrefs = [value for tag, attrs in page.tags if tag == "a" for name_, value in attrs if name_ == "href"]
        ours = [h for h in hrefs if re.fullmatch(r"#[a-z0-9-]+|board\.md|index\.md", h or "")]
        hrefs = [h for h in hrefs if h not in ours]
        assert hrefs and all(urlsplit(h).scheme == "https" and urlsplit(h).hostname for h in hrefs), hrefs
        # A hostile set id stays inside DailyMed's query; the document link the record gave stays under its own host.
        assert not any("javascript" in unquote(h).split("?")[0] for h in hrefs if urlsplit(h).hostname != "x.example")
        assert {urlsplit(h).hostname for h in hrefs} <= {"www.accessdata.fda.gov", "dailymed.nlm.nih.gov", "x.example", "fda.example"}
        shown = "".join(page.text)
        if key != "long":
            assert plain(text) in shown, (key, name)
        if name == "board.md":
            assert "[x](javascript:alert(1)) <b>b</b> | a |" in shown
        assert not INVISIBLE.search(shown) and not INVISIBLE.search(markdown)
        assert max(len(line) for line in markdown.splitlines()) < 4000

    for name in (f"{WEEK}.html", "board.html"):
        html_page = Page()
        html_page.feed((folder / name).read_text(encoding="utf-8"))
        html_page.close()
        assert {tag for tag, _ in html_page.tags} <= HTML_TAGS, {tag for tag, _ in html_page.tags} - HTML_TAGS
        for tag, attrs in html_page.tags:
            for attr, value in attrs:
                assert not attr.lower().startswith("on"), (tag, attr, value)
                if attr == "href":
                    assert urlsplit(value or "").scheme == "https" or re.fullmatch(
                        r"(index|board|2026-W\d\d)\.html(#[a-z0-9-]+)?|#[a-z0-9-]+", value or ""), value
        if key != "long":
            assert plain(text) in "".join(html_page.text), (key, name)

    # The mail's text part: the headline's and the board's lines carry the record's text as text.
    with Store.open(config.database) as store:
        mail_text = plaintext.render_week(build_view(store, config, Week.parse(WEEK)))
    assert not INVISIBLE.search(mail_text)
    if key != "long":
        assert " ".join(plain(text).split()) in " ".join(mail_text.split()), key
    links = [line.strip() for line in mail_text.splitlines() if re.fullmatch(r" *https?://\S+", line)]
    assert links and all(urlsplit(link).scheme == "https" and urlsplit(link).hostname for link in links), links


def test_a_failed_poll_in_the_same_second_as_the_last_snapshot_still_marks_it_stale(tmp_path, fake):
    # The store's stamps are whole seconds: the step waits for the next second before it begins.
    from watcher.poll import poll

    class Clock:
        now = NOW

        def __call__(self):
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += timedelta(seconds=seconds)

    clock = Clock()
    config = board_config(tmp_path, fake)
    with Store.open(config.database) as store:
        poll(config, store, clock=clock, env={}, sleep=clock.sleep)
        clock.now = NOW + timedelta(milliseconds=300)  # the next poll, in the same second
        fake.server.arm(f"drugsfda:{SPRAVATO}", faults.status(404, body="gone"))
        report = poll(config, store, clock=clock, env={}, sleep=clock.sleep)
        assert not report.ok
        assert [p.at for p in store.polls_between(NOW, NOW + timedelta(hours=1)) if p.source == "regulatory"] == [
            "2026-11-24T18:00:00Z", "2026-11-24T18:00:01Z"]
    assert "> **Stale since 2026-11-24 12:00 CST" in block_of(board_page(config), SPRAVATO)
    assert "Stale" not in block_of(board_page(config), KETALAR)
