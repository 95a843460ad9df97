"""Weekly digests: the right items in the right week, ordered by evidence, escaped, deterministic."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.configs import pubmed, write_config
from watcher.digest.publish import publish_week, render, write_atomic
from watcher.errors import OutputError
from watcher.model import Hit, Item, Match, Related
from watcher.sections import section_of
from watcher.store import PollRecord, Store
from watcher.weeks import Week, utc_iso

CHICAGO = ZoneInfo("America/Chicago")
WEEK = "2026-W48"  # Mon 23 Nov – Sun 29 Nov 2026
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=CHICAGO)
HIT = (Hit("drug", "ketamine", "title", "Ketamine"), Hit("condition", "depress*", "abstract", "depression"))


def article(n: int, title: str, types=("Journal Article",), date="2026-11", **kw) -> Item:
    return Item(
        id=f"pubmed:{n}", source=kw.pop("source", "pubmed"), url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
        abstract=kw.pop("abstract", "BACKGROUND: Ketamine helps.\nRESULTS: It did."), date=date,
        authors=kw.pop("authors", ("Doe J", "Roe R", "Poe P", "Loe L")), journal="J Affect Disord",
        doi=f"10.1000/{n}", publication_types=types, **kw,
    )


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path)


def save(store, items, when, matched=True):
    store.save_batch("pubmed", [(i, Match(matched, ("t",) if matched else (), HIT if matched else ())) for i in items], now=when)


def test_the_week_of_a_moment_uses_the_configured_time_zone():
    late_sunday = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # still Sunday 29 Nov in Chicago
    assert Week.containing(late_sunday, CHICAGO) == Week(2026, 48) and str(Week(2026, 48)) == "2026-W48"
    assert Week.containing(late_sunday, ZoneInfo("UTC")).label == "2026-W49"


def test_weeks_order_and_step_across_years():
    assert Week.parse("2026-W53").previous == Week(2026, 52) and Week(2026, 53).next == Week(2027, 1)
    assert Week(2026, 1) < Week(2026, 2) < Week(2027, 1)
    assert (Week(2026, 48).monday.isoformat(), Week(2026, 48).sunday.isoformat()) == ("2026-11-23", "2026-11-29")


def test_week_bounds_are_local_midnights_across_dst():
    start, end = Week.parse("2026-W45").bounds(CHICAGO)  # Sunday 8 Nov 2026 is... after the 1 Nov DST end
    assert start.utcoffset() == end.utcoffset() == timedelta(hours=-6)
    start, end = Week.parse("2026-W44").bounds(CHICAGO)  # Mon 26 Oct – Sun 1 Nov: DST ends inside
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=7, hours=1)


@pytest.mark.parametrize(("bad", "said"), [("2026-48", "is not an ISO week; write it as YYYY-Www"),
                                          ("2026-W5", "is not an ISO week"), ("26-W05", "is not an ISO week"),
                                          ("2025-W53", "year 2025 has no week 53")])
def test_a_malformed_week_is_refused_in_words(bad, said):
    with pytest.raises(ValueError, match=said):
        Week.parse(bad)


def test_each_item_lands_in_exactly_one_week(store, config):
    start, end = Week.parse(WEEK).bounds(CHICAGO)
    save(store, [article(1, "Before")], start - timedelta(seconds=1))
    save(store, [article(2, "First second")], start)
    save(store, [article(3, "Last second")], end - timedelta(seconds=1))
    save(store, [article(4, "After")], end)
    save(store, [article(5, "Unmatched")], start + timedelta(days=1), matched=False)
    text = render(store, config, Week.parse(WEEK))
    assert "First second" in text and "Last second" in text
    assert "Before" not in text and "After" not in text and "Unmatched" not in text
    assert "Before" in render(store, config, Week.parse("2026-W47"))
    assert "After" in render(store, config, Week.parse("2026-W49"))


def test_sections_follow_strength_of_evidence(store, config):
    save(store, [
        article(1, "A case", ("Case Reports",)),
        article(2, "An RCT", ("Journal Article", "Randomized Controlled Trial")),
        article(3, "A meta", ("Meta-Analysis", "Review")),
        article(4, "A cohort", ("Observational Study",)),
        article(5, "A review", ("Review",)),
        article(6, "An open-label trial", ("Clinical Trial, Phase II",)),
        article(7, "A letter", ("Letter",)),
        article(8, "An FDA approval", (), section="regulatory"),
    ], MONDAY)
    text = render(store, config, Week.parse(WEEK))
    headings = re.findall(r"^## (.+) \(\d+\)$", text, re.M)
    assert headings == [
        "Regulatory", "Meta-analyses and systematic reviews", "Randomised controlled trials", "Other clinical trials",
        "Observational studies", "Reviews", "Case reports", "Other",
    ]


def test_an_item_shows_what_an_editor_needs(store, config):
    save(store, [article(42, "Esketamine for TRD", ("Randomized Controlled Trial",))], MONDAY)
    text = render(store, config, Week.parse(WEEK))
    assert "[Esketamine for TRD](https://pubmed.ncbi.nlm.nih.gov/42/)" in text
    assert "Doe J, Roe R, Poe P et al." in text and "Loe L" not in text
    assert "*J Affect Disord*" in text and "2026-11" in text
    assert "[doi:10.1000/42](https://doi.org/10.1000/42)" in text
    # Why it was kept, in words: the terms as the text wrote them, the fields named; no wildcard.
    assert "  Randomized Controlled Trial · matched ketamine in the title; depression in the abstract\n" in text
    assert "> BACKGROUND: Ketamine helps. RESULTS: It did." in text


def test_retractions_and_errata_are_flagged(store, config):
    save(store, [
        article(1, "Retracted one", related=(Related("RetractionIn", "Retraction in: X", "99"),)),
        article(2, "Corrected one", related=(Related("ErratumIn", "Erratum in: Y", "98"),)),
        article(3, "Corrigendum", ("Published Erratum",)),
    ], MONDAY)
    text = render(store, config, Week.parse(WEEK))
    assert re.search(r"Retracted one\].*RETRACTED", text)
    assert re.search(r"Corrected one\].*HAS ERRATUM", text)
    assert re.search(r"Corrigendum\].*ERRATUM NOTICE", text)


def test_hostile_titles_cannot_inject_markup(store, config):
    save(store, [article(
        1, "Nice](javascript:alert(1)) <script>x</script> | `code`\n# Heading",
        authors=("<img src=x onerror=alert(1)>",), abstract="[link](data:text/html,x)\n> quoted",
    )], MONDAY)
    text = render(store, config, Week.parse(WEEK))
    live = re.sub(r"\\.", "", text)  # backslash-escaped characters are literal text
    assert "](javascript:" not in live and "<script>" not in live and "<img" not in live
    assert "](data:" not in live and "\n# Heading" not in live
    links = re.findall(r"\]\(([^)]*)\)", live)
    ours = [link for link in links if re.fullmatch(r"#[a-z0-9-]+", link)]  # the contents' links to the week's own headings
    assert ours == ["#other-1", "#sources"]
    assert all(link.startswith("https://") for link in links if link not in ours) and len(links) > len(ours)


def test_same_store_gives_the_same_bytes(store, config):
    save(store, [article(n, f"Title {n}", date=f"2026-0{n}") for n in range(1, 6)], MONDAY)
    first = publish_week(store, config, Week.parse(WEEK), now=MONDAY)[0]
    again = publish_week(store, config, Week.parse(WEEK), now=MONDAY + timedelta(days=3))[0]
    assert first.sha256 == again.sha256
    assert render(store, config, Week.parse(WEEK)) == (config.digests / f"{WEEK}.md").read_text()


def test_newest_publication_first_within_a_section(store, config):
    save(store, [article(1, "Older", date="2025-01"), article(2, "Newer", date="2026-10-02"), article(3, "Undated", date=None)], MONDAY)
    text = render(store, config, Week.parse(WEEK))
    assert text.index("Newer") < text.index("Older") < text.index("Undated")


def test_a_failing_source_is_in_the_one_block_of_failures_under_the_headline(store, config):
    at = MONDAY + timedelta(days=1)
    store.record_poll(PollRecord("pubmed", utc_iso(MONDAY), True))
    store.record_poll(PollRecord("pubmed", utc_iso(at), False, error="x.example: HTTP 503 after 4 tries"))
    text = render(store, config, Week.parse(WEEK))
    block = ("**1 source failed this week; items from it may be missing:**\n\n"
             "- **pubmed** failed 1 of 2 polls this week: x\\.example: HTTP 503 after 4 tries"
             " · failing since 2026-11-24 09:00 CST · last success: 2026-11-23 09:00 CST\n")
    assert block in text
    # Right under the headline, before the contents: where it cannot be missed.
    assert text.index("**No new items** from Mon 23 Nov 2026 to Sun 29 Nov 2026 from the sources that answered.") < text.index(block)
    assert text.index(block) < text.index("Contents: ")
    assert "Nothing could be fetched" not in text  # pubmed answered once: not an all-failed week


def test_a_source_failing_for_weeks_says_since_when(store, config):
    before = MONDAY - timedelta(days=10)
    store.record_poll(PollRecord("pubmed", utc_iso(before - timedelta(days=1)), True))
    for when in (before, MONDAY, MONDAY + timedelta(days=1)):
        store.record_poll(PollRecord("pubmed", utc_iso(when), False, error="x.example: connection refused"))
    text = render(store, config, Week.parse(WEEK))
    assert ("- **pubmed** failed 2 of 2 polls this week: x\\.example: connection refused"
            " · failing since 2026-11-13 09:00 CST · last success: 2026-11-12 09:00 CST\n") in text
    assert "**Nothing could be fetched this week: this is not a quiet week.**" in text


def test_a_source_never_polled_in_the_week_is_flagged(tmp_path):
    config = write_config(tmp_path, [pubmed(), pubmed(name="fda")])
    with Store.open(config.database) as store:
        store.record_poll(PollRecord("pubmed", utc_iso(MONDAY), True))
        text = render(store, config, Week.parse(WEEK))
    assert "\n- **fda** was not polled this week · last success: never\n" in text
    assert "**1 source was not polled this week; items from it may be missing:**" in text
    assert "**pubmed**" not in text


def test_a_quiet_week_says_so(store, config):
    store.record_poll(PollRecord("pubmed", utc_iso(MONDAY), True))
    text = render(store, config, Week.parse(WEEK))
    assert "**No new items** from Mon 23 Nov 2026 to Sun 29 Nov 2026.\n" in text
    assert "No new matching items this week." in text and "may be missing" not in text and "Nothing could be fetched" not in text


def test_index_lists_digests_newest_first(store, config):
    for week in ("2026-W46", "2026-W48", "2026-W47"):
        publish_week(store, config, Week.parse(week), now=MONDAY)[0]
    index = (config.digests / "index.md").read_text()
    assert re.findall(r"\[(\d{4}-W\d\d)\]\(\1\.md\)", index) == ["2026-W48", "2026-W47", "2026-W46"]


def test_atomic_write_leaves_old_file_whole_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "d.md"
    target.write_text("old and whole")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match=r"d\.md: cannot write the file: No space left on device"):
        write_atomic(target, "new content")
    assert target.read_text() == "old and whole"
    assert list(tmp_path.iterdir()) == [target]


def test_section_of_unknown_types_is_other():
    assert section_of(article(1, "x", ("Letter", "Comment"))) == "other"


def test_a_leftover_temporary_file_from_a_killed_writer_is_removed(tmp_path):
    leftover = tmp_path / ".2026-W48.md.abc123.tmp"
    leftover.write_text("half")
    write_atomic(tmp_path / "2026-W48.md", "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-W48.md"]
