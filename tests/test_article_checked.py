"""The article checked, end to end (issue "Done when"): the shipped feeds.yaml, every URL on its
stand-in over real HTTP (PubMed, the FDA feeds, openFDA and its board, ClinicalTrials.gov, Europe
PMC, Crossref) and the clinic's article served as a web page, polled week after week in this process:

- the first digest names fda-approval as contradicted (the headline's function, `needs_a_look`) and
  opens its editors' section with it, quoting the page and the record (the Spravato approval date,
  both facts' sources), and names "Last March" as stale wording;
- after the page drops the sentence (the page watch), the contradicted verdict leaves;
- the dossier of durable-effect lists items of several weeks, a retracted one struck through with
  its notice linked, each with a reference in AMA style;
- the RIS, BibTeX and CSL-JSON exports of that claim parse back with readers other than their
  writers (pybtexris, pybtex, citeproc-py) to the same authors, title, journal, year, DOI and PMID;
- a preprint retracted in Crossref's data is listed once under "Corrections and retractions".
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from tests.article_page import FEEDS, article_text, html_page
from tests.configs import CONTACT, USER_AGENT
from tests.polls import NOW, run_poll
from tests.test_board import records
from tests.upstreams import ctgov, europepmc, eutils, feeds
from tests.upstreams import openfda as fda
from tests.upstreams.crossref import Crossref
from tests.upstreams.pages import WebPage
from watcher.cli import main
from watcher.config import load
from watcher.digest.claims import ClaimIndex
from watcher.digest.editors import Look, needs_a_look
from watcher.digest.publish import publish_week
from watcher.digest.view import build_view
from watcher.store import Store
from watcher.weeks import Week

FDA = "Last March, the FDA approved ketamine as a treatment for depression"
DURABLE = "the treatment for depression can have persistent effects for several weeks …"  # the claim as the digest names it
W48, W49, W50 = NOW, NOW + timedelta(days=7), NOW + timedelta(days=14)
PREPRINT_DOI = "10.1101/2026.11.20.26399001"
TRIAL = eutils.Article("41000301", "Maintenance esketamine and relapse prevention in treatment-resistant depression: a randomised trial",
                       abstract="Esketamine maintenance reduced relapse in depression; the effect was sustained for weeks.",
                       authors=(("Okafor", "Chidi"), ("Lindqvist", "Anna")), journal="JAMA Psychiatry", doi="10.1001/jamapsychiatry.2026.301",
                       publication_types=("Journal Article", "Randomized Controlled Trial"))
REVIEW = eutils.Article("41000302", "Durability of the antidepressant effect of ketamine: a systematic review and meta-analysis",
                        abstract="Ketamine's antidepressant effect in depression persisted for up to two weeks after infusion.",
                        authors=(("Moreau", "Lucie"),), journal="Journal of Affective Disorders", doi="10.1016/j.jad.2026.302",
                        publication_types=("Journal Article", "Meta-Analysis"))


@pytest.fixture
def site(tmp_path, upstream):
    papers = eutils.Eutils(upstream)
    papers.add(date(2026, 11, 23), [TRIAL])
    search = europepmc.EuropePMC(upstream)
    search.add(europepmc.result("PPR960001", "Sustained response to arketamine in depression: an open-label pilot", source="PPR",
                                pub_types=("preprint",), journal="medRxiv", doi=PREPRINT_DOI, first_index="2026-11-23",
                                abstract="Arketamine for depression: the response was sustained for four weeks.",
                                authors=("Ibarra M", "Chen L")))
    trials = ctgov.ClinicalTrials(upstream)
    openfda = fda.OpenFDA(upstream)
    for application, (record, labels) in records().items():
        openfda.product(application, record, labels)
    crossref = Crossref(upstream)
    crossref.work(PREPRINT_DOI, "Sustained response to arketamine in depression", kind="posted-content", container="medRxiv")
    page = WebPage(upstream, html_page(article_text()))
    raw = yaml.safe_load(FEEDS.read_text(encoding="utf-8"))
    for source in raw["sources"]:
        if source["type"] == "rss":
            source["url"] = feeds.Feed(upstream, f"/rss/{source['name']}.xml", items=[], label=source["name"]).url
        else:
            source["url"] = {"pubmed": papers.url, "openfda": openfda.url, "clinicaltrials": trials.url, "europepmc": search.url}[source["type"]]
    raw["crossref"]["url"] = crossref.url
    raw["article"]["url"] = page.url
    raw["contact"] = CONTACT
    raw["http"] = {"user_agent": USER_AGENT}
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load(path), papers, crossref, page


def publish(config, week: str, now) -> str:
    with Store.open(config.database) as store:
        publish_week(store, config, Week.parse(week), now=now + timedelta(hours=1))
    return (config.digests / f"{week}.md").read_text(encoding="utf-8")


def export(config, fmt: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--config", str(config.path), "export", "--format", fmt, "--claim", "durable-effect"]) == 0
    return out.getvalue()


def test_the_article_checked_week_after_week(site, upstream):
    config, papers, crossref, page = site

    # -- week 48: the first digest --
    assert run_poll(config, now=W48).report.ok
    first = publish(config, "2026-W48", W48)
    with Store.open(config.database) as store:
        look = needs_a_look(build_view(store, config, Week.parse("2026-W48")).editors)
    assert look == (Look("fda-approval", FDA, "contradicted by the record (2019-03-05; 2023-10)"),)  # what the headline names
    assert f"- **Claims that need a look:** “{FDA}”: contradicted by the record (2019-03-05; 2023-10).\n" in first.split("\nContents:", 1)[0]
    editors = first.split("## For the editors\n", 1)[1].split("\n## ", 1)[0]
    assert editors.startswith(f"\n**Needs a look:** “{FDA}”: contradicted by the record (2019-03-05; 2023-10).\n")
    verdicts = editors.split("### Verdicts\n\n", 1)[1]
    assert verdicts.startswith(f"- **“{FDA}”: contradicted** · [dossier](claims/fda-approval.md)\n"
                               f"  - The page says: “{FDA} – a change that could help thousands of sufferers.”\n"
                               "  - The record says: **2019-03-05**: FDA approved Spravato (esketamine) nasal spray")
    fda_verdict = verdicts.split(f"\n- **“{DURABLE}", 1)[0]
    for source in ("https://www.fda.gov/news-events/press-announcements/fda-approves-new-nasal-spray-medication-treatment-resistant-depression-available-only-certified",
                   "https://www.fda.gov/drugs/human-drug-compounding/fda-warns-patients-about-using-compounded-ketamine-products-including-oral-formulations-treatment"):
        assert f"([source]({source})), **not yet checked against its source**" in fda_verdict
    assert ("  - Wording that goes stale: “Last March” reads differently every year; the page was first seen on 2026-11-24:"
            " give the date instead (the record dates it 2019-03-05).") in fda_verdict
    assert f"- **“{DURABLE}”: new evidence** since the page was first seen on 2026-11-24: 2 items" in verdicts
    html = (config.digests / "2026-W48.html").read_text(encoding="utf-8")
    assert html.index('<section id="section-editors">') < html.index('id="verdict-fda-approval"') < html.index('id="verdict-durable-effect"')

    # -- week 49: a meta-analysis arrives, Crossref has the preprint retracted --
    papers.add(date(2026, 11, 30), [REVIEW])
    crossref.retract(PREPRINT_DOI, "10.1101/2026.11.20.26399001.retraction", on=date(2026, 11, 30))
    assert run_poll(config, now=W49).report.ok
    second = publish(config, "2026-W49", W49)
    corrections = second.split("## Corrections and retractions (1)\n", 1)[1].split("\n## ", 1)[0]
    assert corrections.count("**RETRACTED**") == 1 and "Sustained response to arketamine in depression" in corrections
    assert "(listed in 2026-W48) · [the notice](https://doi.org/10.1101/2026.11.20.26399001.retraction)" in corrections
    assert second.count("**RETRACTED**") == 1
    assert all("mailto:" + CONTACT["email"] in r.headers["user-agent"] for r in upstream.requests("works"))

    # -- week 50: the clinic corrects the page; the contradicted verdict leaves --
    page.set(html_page(article_text().replace(FDA, "In March 2019, the FDA approved esketamine (Spravato) nasal spray")))
    assert run_poll(config, now=W50).report.ok
    third = publish(config, "2026-W50", W50)
    with Store.open(config.database) as store:
        after = build_view(store, config, Week.parse("2026-W50")).editors
    assert [v.kind for v in after.verdicts if v.claim_id == "fda-approval"] == ["gone"]
    assert "contradicted" not in third.split("## For the editors\n", 1)[1].split("\n## ", 1)[0]

    # -- the dossier of durable-effect: several weeks, the retracted preprint struck through --
    dossier = (config.digests / "claims" / "durable-effect.md").read_text(encoding="utf-8")
    assert dossier.startswith(f"# “{DURABLE}”: unchanged\n")  # named by its words; the id names its file
    assert "listed in [2026-W48](../2026-W48.md)" in dossier and "listed in [2026-W49](../2026-W49.md)" in dossier
    assert dossier.index("## Meta-analyses and systematic reviews (1)") < dossier.index("## Randomised controlled trials (1)")
    struck = next(line for line in dossier.splitlines() if "arketamine" in line)
    assert struck.startswith("- ~~[Sustained response to arketamine in depression: an open-label pilot](")
    assert "~~ · **PREPRINT, NOT PEER REVIEWED** · **RETRACTED** · [the notice](https://doi.org/10.1101/2026.11.20.26399001.retraction)" in struck
    assert ("  - Okafor C, Lindqvist A. Maintenance esketamine and relapse prevention in treatment-resistant depression: a randomised trial."
            " JAMA Psychiatry. Published online November 20, 2026. doi:10.1001/jamapsychiatry.2026.301") in dossier
    page_html = (config.digests / "claims" / "durable-effect.html").read_text(encoding="utf-8")
    assert '<li id="item-europepmc-ppr-ppr960001" class="struck">' in page_html and "<del><a href=" in page_html
    annotated = (config.digests / "article.html").read_text(encoding="utf-8")
    assert '<mark class="verdict-unchanged" title="durable-effect: unchanged"><a href="claims/durable-effect.html">' in annotated
    assert '<li><a href="claims/fda-approval.html">fda-approval</a>: no longer on the page: <q>' in annotated

    # -- the claim's references, read back by readers other than their writers --
    expected = {
        "pubmed:41000301": (["Okafor", "Lindqvist"], TRIAL.title, "JAMA Psychiatry", "2026", TRIAL.doi, "41000301"),
        "pubmed:41000302": (["Moreau"], REVIEW.title, "Journal of Affective Disorders", "2026", REVIEW.doi, "41000302"),
        "europepmc:PPR:PPR960001": (["Ibarra", "Chen"], "Sustained response to arketamine in depression: an open-label pilot",
                                    "medRxiv", "2026", PREPRINT_DOI, None),
    }
    expected = {k.lower(): v for k, v in expected.items()}  # pybtex keeps entry keys case-insensitively (lower-cased)
    assert read_ris(export(config, "ris")) == expected
    assert read_bibtex(export(config, "bibtex")) == expected
    assert read_csljson(export(config, "csljson")) == expected


def read_ris(text: str) -> dict:
    from pybtex.database import parse_string  # pybtexris registers RIS with pybtex

    found = {}
    for key, entry in parse_string(text, "ris").entries.items():
        found[key.lower()] = ([p.last_names[0] for p in entry.persons["author"]], entry.fields["title"], entry.fields["journal"],
                      entry.fields["year"], entry.fields["doi"], entry.fields.get("AN"))
    return found


def read_bibtex(text: str) -> dict:
    from pybtex.database import parse_string

    found = {}
    for entry in parse_string(text, "bibtex").entries.values():
        url = entry.fields["url"]
        key = next(k for k in ("pubmed:41000301", "pubmed:41000302", "europepmc:ppr:ppr960001") if k.rsplit(":", 1)[1] in url.lower())
        journal = entry.fields.get("journal") or entry.fields.get("howpublished")
        found[key] = ([p.last_names[0] for p in entry.persons["author"]], entry.fields["title"], journal,
                      entry.fields["year"], entry.fields["doi"], entry.fields.get("pmid"))
    return found


def read_csljson(text: str) -> dict:
    from citeproc.source.json import CiteProcJSON

    source = CiteProcJSON(json.loads(text))
    found = {}
    for key, ref in source.items():
        found[key.lower()] = ([a.family for a in ref.author], str(ref.title), str(ref.container_title), str(ref.issued.year),
                      str(ref.DOI), str(ref.get("PMID")) if ref.get("PMID") else None)
    return found


def test_the_page_checks_the_claims_also_from_a_local_copy(tmp_path: Path):
    """article.file: no page is fetched; the copy is read on each poll the same way."""
    copy = tmp_path / "article.txt"
    copy.write_text(article_text(), encoding="utf-8")
    raw = yaml.safe_load(FEEDS.read_text(encoding="utf-8"))
    raw = {k: raw[k] for k in ("timezone", "sources", "topics", "article", "regulatory")}
    for source in raw["sources"]:
        source["url"] = "http://127.0.0.1:9/"  # the discard port: every source fails at once, offline
    raw["article"]["file"] = "article.txt"
    raw["contact"] = CONTACT
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load(path)
    polled = run_poll(config)
    assert polled.source("article").ok and polled.source("article").new == 1
    with Store.open(config.database) as store:
        editors = build_view(store, config, Week.parse("2026-W48")).editors
    assert editors.page is not None and editors.page.fetched and editors.file == str(copy.resolve())
    fda = next(v for v in editors.verdicts if v.claim_id == "fda-approval")
    assert fda.kind == "contradicted" and fda.page_says and fda.page_says.startswith(FDA)
    copy.write_text(article_text().replace(FDA, "FDA approved esketamine in March 2019"), encoding="utf-8")
    assert run_poll(config, now=NOW + timedelta(days=7)).source("article").new == 1
    with Store.open(config.database) as store:
        again = build_view(store, config, Week.parse("2026-W49")).editors
    assert [v.kind for v in again.verdicts if v.claim_id == "fda-approval"] == ["gone"]
    copy.unlink()
    failed = run_poll(config, now=NOW + timedelta(days=8))
    assert not failed.source("article").ok and "cannot read the article's local copy" in failed.source("article").error


def test_one_publish_matches_each_record_against_the_claims_once_and_writes_the_same_bytes(site):
    config, *_ = site
    assert run_poll(config, now=W48).report.ok and run_poll(config, now=W49).report.ok
    with Store.open(config.database) as store:
        index = ClaimIndex(config.article)
        weeks = [Week.parse("2026-W48"), Week.parse("2026-W49")]
        shared = [build_view(store, config, w, index=index) for w in weeks]
        assert shared == [build_view(store, config, w) for w in weeks]  # the index changes no verdict
        assert set(index.seen) == {s.item.id for s in store.iter_items() if s.match.matched}  # each asked once, kept
