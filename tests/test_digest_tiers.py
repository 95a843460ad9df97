"""The digest and the tiers: core items in their evidence sections by match strength then date;
related items in one "Also matched" list at the end, each with its reason, in Markdown and HTML."""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from tests.configs import write_config
from watcher.digest.publish import render
from watcher.digest.view import build_view
from watcher.export.items import write_csv, write_jsonl
from watcher.model import CORE, RELATED, Hit, Item, Match
from watcher.relevance.labels import Label
from watcher.weeks import Week

CHICAGO = ZoneInfo("America/Chicago")
WEEK = "2026-W48"
TUESDAY = datetime(2026, 11, 24, 9, 0, tzinfo=CHICAGO)
HIT = (Hit("drug", "aspirin", "title", "Aspirin"),)
RCT = ("Journal Article", "Randomized Controlled Trial")


def article(n: int, title: str, date: str = "2026-11-01", types=RCT) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
                abstract="Aspirin for headache.", date=date, publication_types=types)


def verdict(tier: str, score: float, reason: str = "") -> Match:
    return Match(True, ("t",), HIT, tier, score, reason)


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path)


@pytest.fixture
def week(store):
    store.save_batch("pubmed", [
        (article(1, "Weak but newest", "2026-11-20"), verdict(CORE, 0.30)),
        (article(2, "Strongest", "2026-01-01"), verdict(CORE, 0.90)),
        (article(3, "Strong, newer", "2026-11-10"), verdict(CORE, 0.60)),
        (article(4, "Strong, older", "2026-10-10"), verdict(CORE, 0.60)),
        (article(5, "Aspirin for fever [click](javascript:alert(1)) <b>x</b>"), verdict(RELATED, 0.50, "the title names another indication: fever")),
        (article(6, "Aspirin once, in passing", types=("Review",)), verdict(RELATED, 0.20, "the drug is named only once")),
    ], now=TUESDAY)
    return store


def test_core_items_are_ordered_by_score_then_newest_and_related_ones_are_kept_apart(week, config):
    view = build_view(week, config, Week.parse(WEEK))
    (rcts,) = view.sections
    assert [e.title for e in rcts.entries] == ["Strongest", "Strong, newer", "Strong, older", "Weak but newest"]
    assert [(e.id, e.reason) for e in view.also_matched] == [
        ("pubmed:5", "the title names another indication: fever"), ("pubmed:6", "the drug is named only once")]
    assert view.total == 6  # nothing that matched is lost


def test_markdown_lists_related_items_last_with_their_reason_escaped(week, config):
    text = render(week, config, Week.parse(WEEK), "markdown")
    also = text.index("## Also matched (2)")
    assert also > text.index("## Randomised controlled trials (4)") and also > text.index("Weak but newest")
    tail = text[also:]
    assert "- [Aspirin once, in passing](https://pubmed.ncbi.nlm.nih.gov/6/) · related: the drug is named only once" in tail
    assert "\\[click\\](javascript:alert(1)) \\<b\\>x\\</b\\>" in tail  # the title stays text
    assert "Aspirin for fever" not in text[:also]
    assert "Reviews" not in text  # a related item does not open a section of its own


def test_html_lists_related_items_last_with_anchors_and_reasons(week, config):
    soup = BeautifulSoup(render(week, config, Week.parse(WEEK), "html"), "html.parser")
    sections = soup.find_all("section")
    assert sections[-1]["id"] == "section-also-matched"
    items = sections[-1].find_all("li")
    assert [li["id"] for li in items] == ["item-pubmed-5", "item-pubmed-6"]
    assert items[0].find("a")["href"] == "https://pubmed.ncbi.nlm.nih.gov/5/"
    assert items[0].find(class_="why").get_text() == "related: the title names another indication: fever"
    assert items[0].find("b") is None  # escaped
    assert "Aspirin for fever" not in "".join(s.get_text() for s in sections[:-1])


def test_a_week_with_only_related_items_lists_them_and_does_not_say_nothing_matched(store, config):
    store.save_batch("pubmed", [(article(7, "Aspirin for fever"), verdict(RELATED, 0.4, "another indication: fever"))], now=TUESDAY)
    for fmt in ("markdown", "html"):
        text = render(store, config, Week.parse(WEEK), fmt)
        assert "No new matching items" not in text
        assert "Also matched (1)" in text and "another indication: fever" in text


def test_items_stored_before_tiers_read_as_core(store, config):
    store.save_batch("pubmed", [(article(8, "Old verdict"), Match(True, ("t",), HIT))], now=TUESDAY)
    store.conn.execute("UPDATE items SET match = ? WHERE id = 'pubmed:8'", (json.dumps({"topics": ["t"], "hits": []}),))
    view = build_view(store, config, Week.parse(WEEK))
    assert [e.title for s in view.sections for e in s.entries] == ["Old verdict"] and not view.also_matched


def test_export_gives_tier_score_reason_and_label(week):
    week.save_batch("pubmed", [(article(9, "Not matched"), Match(False))], now=TUESDAY)
    week.add_labels([Label("pubmed:5", "irrelevant", "fever trial")], now=TUESDAY)
    out = io.StringIO()
    write_jsonl(week, out)
    rows = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert (rows["pubmed:2"]["tier"], rows["pubmed:2"]["score"], rows["pubmed:2"]["label"]) == ("core", 0.9, None)
    assert rows["pubmed:5"]["tier"] == "related" and rows["pubmed:5"]["reason"] == "the title names another indication: fever"
    assert rows["pubmed:5"]["label"] == "irrelevant"
    assert (rows["pubmed:9"]["tier"], rows["pubmed:9"]["score"]) == (None, None)
    out = io.StringIO()
    write_csv(week, out)
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:10] == ["id", "work", "source", "url", "first_seen", "matched", "tier", "score", "reason", "label"]
