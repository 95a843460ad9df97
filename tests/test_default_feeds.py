"""The shipped feeds.yaml, as a user runs it: one `watcher poll` (a real process) of every source it
names (PubMed, three FDA feeds, openFDA, ClinicalTrials.gov and Europe PMC: five kinds of source),
each URL pointed at its stand-in on 127.0.0.1 and nothing else changed (the topics, the queries,
`near`), then `watcher digest` and `watcher export`: a work PubMed and Europe PMC both report is
listed once and exported once, with both links."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.upstreams import ctgov, europepmc, eutils, feeds
from tests.upstreams import openfda as fda
from tests.upstreams.crossref import Crossref
from watcher.weeks import Week, utc_now

pytestmark = pytest.mark.slow  # real `watcher` processes

ROOT = Path(__file__).resolve().parent.parent
PMID = "41000100"


def watcher(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", "--config", "feeds.yaml", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def site(tmp_path, upstream):
    """The shipped feeds.yaml with each source's url on its stand-in, in tmp_path."""
    today = eutils.local_today()
    papers = eutils.Eutils(upstream)
    papers.add(today, [eutils.Article(PMID, "Esketamine nasal spray versus quetiapine in treatment-resistant depression",
                                      doi="10.1000/TRD.100")])
    trials = ctgov.ClinicalTrials(upstream)
    trials.add(ctgov.study("NCT07000100", "Ketamine infusions for treatment-resistant depression", last_update=today.isoformat(),
                           locations=[{"city": "Chicago", "state": "Illinois", "country": "United States", "status": "RECRUITING"}]))
    search = europepmc.EuropePMC(upstream)
    search.add(europepmc.result(PMID, "Esketamine nasal spray versus quetiapine in treatment-resistant depression.",
                                pmid=PMID, doi="10.1000/trd.100", first_index=today.isoformat()),
               europepmc.result("PPR700100", "Arketamine for anhedonia in depression: a pilot trial", source="PPR",
                                pub_types=("preprint",), journal="medRxiv", first_index=today.isoformat()))
    recalls = fda.OpenFDA(upstream)
    recalls.records("drug/enforcement", fda.recalls(1))
    raw = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    kinds = set()
    for source in raw["sources"]:
        kinds.add(source["type"])
        if source["type"] == "rss":
            feed = feeds.Feed(upstream, f"/rss/{source['name']}.xml", items=feeds.entries(1, source["name"]), label=source["name"])
            source["url"] = feed.url
        else:
            source["url"] = {"pubmed": papers.url, "openfda": recalls.url, "clinicaltrials": trials.url,
                             "europepmc": search.url}[source["type"]]
    assert kinds == {"pubmed", "rss", "openfda", "clinicaltrials", "europepmc"}
    raw["crossref"]["url"] = Crossref(upstream).url  # the listed DOIs' corrections: the preprint's
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return tmp_path, raw


def test_one_poll_of_the_shipped_feeds_polls_five_kinds_of_source(site):
    folder, raw = site
    polled = watcher("poll", cwd=folder)
    assert polled.returncode == 0, polled.stderr
    with sqlite3.connect(folder / "watcher.db") as conn:
        polls = dict(conn.execute("SELECT source, ok FROM polls"))
        stored = dict(conn.execute("SELECT source, COUNT(*) FROM items GROUP BY source"))
        near = conn.execute("SELECT json_extract(data, '$.extra.recruiting_near') FROM items WHERE id = 'ctgov:NCT07000100'").fetchone()
        board_items = [r[0] for r in conn.execute("SELECT id FROM items WHERE source = 'regulatory'")]
    assert polls == {**{s["name"]: 1 for s in raw["sources"]}, "regulatory": 1, "crossref": 1}  # and the board, and Crossref
    assert board_items == [], board_items
    assert stored == {"pubmed": 1, "fda-press": 1, "fda-medwatch": 1, "fda-drugs": 1, "openfda": 1, "clinicaltrials": 1, "europepmc": 2}
    assert json.loads(near[0]) == ["Chicago, Illinois"]  # the shipped `near`

    week = Week.containing(utc_now(), ZoneInfo(raw["timezone"])).label
    assert watcher("digest", "--week", week, cwd=folder).returncode == 0
    digest = (folder / "digests" / f"{week}.md").read_text(encoding="utf-8")
    assert digest.count("Esketamine nasal spray versus quetiapine") == 1
    assert f"also in [europepmc MED:{PMID}](https://europepmc.org/article/MED/{PMID})" in digest
    assert "**recruiting in Chicago, Illinois**" in digest and "**PREPRINT, NOT PEER REVIEWED**" in digest
    assert "**8 new items**" not in digest and "**7 new items**" in digest  # 8 records, 7 works

    exported = watcher("export", "--format", "jsonl", cwd=folder)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) == 7
    (work,) = [r for r in rows if f"pubmed:{PMID}" in r["ids"]]
    assert work["id"] == f"pubmed:{PMID}" and work["ids"] == [f"pubmed:{PMID}", f"europepmc:MED:{PMID}"]
    assert work["urls"] == [f"https://pubmed.ncbi.nlm.nih.gov/{PMID}/", f"https://europepmc.org/article/MED/{PMID}"]
