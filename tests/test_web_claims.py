"""The workspace's Claims, dossier and Article pages in process (Flask's test client over the real
store): the digest's verdicts and dossiers shown, and "resolved on the page": an editor's record
through the same function as `watcher claim resolve`, which the CLI and the next digest then read."""

from __future__ import annotations

import html as markup
import io
import re
import time
from contextlib import redirect_stdout
from datetime import timedelta

import pytest
from markupsafe import escape

from tests.workspace import (
    CLAIMS_ARTICLE,
    CONTRADICTS,
    PAGE_TEXT,
    PAPERS,
    SUPPORTS,
    T0,
    app_for,
    claims_config,
    fill,
    paper,
    store_page,
    token,
    workspace_client,
)
from watcher.cli import main
from watcher.digest.dossier import build_dossier
from watcher.digest.editors import needs_a_look
from watcher.digest.view import build_view
from watcher.model import Related
from watcher.store import Store
from watcher.web.accounts import hash_password
from watcher.weeks import Week, parse_utc, utc_now

MIGRAINE = CLAIMS_ARTICLE["claims"][0]["text"]
# Bears on prevents-migraine ("prophyla*") in another kind of evidence than pubmed:1's trial, and is retracted.
RETRACTED = paper(5, "Aspirin prophylaxis of migraine in a cohort of adults", "A cohort; prophylaxis with aspirin.",
                  ("Haddad N", "Roe J"), journal="Headache Journal", doi="10.5555/hj.2026.5", date="2026-10-02",
                  publication_types=("Journal Article", "Observational Study", "Retracted Publication"),
                  related=(Related("RetractionIn", "Headache Journal 2026", "99", "https://pubmed.ncbi.nlm.nih.gov/99/"),))


@pytest.fixture
def config(tmp_path):
    config = claims_config(tmp_path)
    fill(config, [*PAPERS, RETRACTED])
    store_page(config)
    return config




@pytest.fixture
def client(config):
    with workspace_client(config) as client:
        yield client


BLOCK = re.compile(r"</?(?:p|li|ul|ol|h\d|div|section|article|blockquote|form|label|main|header|nav)\b[^>]*>")


def text_of(html: str) -> str:
    """The page's words as a reader sees them: tags dropped (a block's a space), entities read, spaces collapsed."""
    return " ".join(markup.unescape(re.sub(r"<[^>]+>", "", BLOCK.sub(" ", html))).split())


def verdict_block(html: str, claim_id: str) -> str:
    """One claim's item of the verdicts' list, up to the next claim's."""
    part = next(part for part in html.split('<li class="verdict ')[1:] if f'id="verdict-{claim_id}"' in part)
    return part.split(">", 1)[1]


def resolve(client, claim_id, note="", page=None, action="resolve", **headers):
    html = client.get(page or f"/claims/{claim_id}").get_data(as_text=True)
    return client.post(f"/claims/{claim_id}/{action}", data={"csrf_token": token(html), "note": note}, headers=headers)


def test_the_claims_page_names_each_claim_by_its_words_with_its_verdict_contradicted_first(tmp_path):
    # feeds.yaml lists the contradicted claim last: the page lists it first
    config = claims_config(tmp_path, article={**CLAIMS_ARTICLE, "claims": CLAIMS_ARTICLE["claims"][::-1]})
    fill(config)
    store_page(config)
    app = app_for(config)
    with app.test_client() as client:
        html = client.get("/claims").get_data(as_text=True)
    app.extensions["watcher_stores"].close()
    assert html.index('id="verdict-prevents-migraine"') < html.index('id="verdict-stomach"')
    migraine, stomach = text_of(verdict_block(html, "prevents-migraine")), text_of(verdict_block(html, "stomach"))
    assert migraine.startswith(f"“{MIGRAINE}”: contradicted · dossier The page says: {MIGRAINE} in adults.")
    assert f"The record says: {CONTRADICTS['date']}: {CONTRADICTS['statement']} (source)" in migraine
    assert f'href="{CONTRADICTS["source"]}"' in verdict_block(html, "prevents-migraine")
    assert "Wording that goes stale: Recently reads differently every year; the page was first seen on 2026-11-24" in migraine
    assert stomach.startswith("“aspirin can upset the stomach”: new evidence since the page was first seen on 2026-11-24")
    assert f"The record bears it out: {SUPPORTS['date']}: {SUPPORTS['statement']}" in stomach
    assert 'href="/claims/prevents-migraine">dossier</a>' in html
    assert html.count('action="/claims/prevents-migraine/resolve"') == 1 and "/claims/stomach/resolve" not in html


def test_the_dossier_is_the_digests_with_the_evidence_by_strength_and_a_reference_each(client, config):
    html = client.get("/claims/prevents-migraine").get_data(as_text=True)
    words = text_of(html)
    assert f"The page says: {MIGRAINE} in adults." in words and CONTRADICTS["statement"] in words
    assert "What to change: correct or remove this sentence" in words and "Wording that goes stale: Recently" in words
    assert "Editors' records None: no editor has recorded this claim as resolved." in words
    # strongest kind first: the trial, then the cohort, which is retracted: struck through, its notice linked
    assert html.index("<h2>Randomised controlled trials (1)</h2>") < html.index("<h2>Observational studies (1)</h2>")
    struck = html[html.index('id="item-pubmed-5"'):html.index("</article>", html.index('id="item-pubmed-5"'))]
    assert '<article class="card struck" id="item-pubmed-5"' in html and '<del><a href="/item?id=pubmed:5" class="open">' in struck
    assert '<span class="flag">RETRACTED</span>' in struck and '<a href="https://pubmed.ncbi.nlm.nih.gov/99/">the notice</a>' in struck
    assert "listed in <a href=\"/week?week=2026-W48\">2026-W48</a>" in struck
    # each reference is the static dossier's, rendered by the same function in the same style
    with Store.open(config.database) as store:
        static = build_dossier(store, config, "prevents-migraine")
    assert static is not None and static.total == 2
    for entry in (e for g in static.groups for e in g.entries):
        assert f'<p class="citation">{escape(entry.citation)}</p>' in html  # escaped as the templates escape
    assert "Haddad N, Roe J. Aspirin prophylaxis of migraine in a cohort of adults. Headache Journal." in words
    # and each work keeps its decision and the keys to decide it
    assert 'data-item="pubmed:1"' in html and html.count('action="/decide"') >= 2


def test_an_editor_resolves_the_claim_and_the_cli_and_the_next_digest_see_the_same_record(client, config):
    before = utc_now().replace(microsecond=0)
    response = resolve(client, "prevents-migraine", note="  Sentence corrected to give the trial's result. ")
    assert response.status_code == 303 and response.headers["Location"] == "/claims/prevents-migraine"
    with Store.open(config.database) as store:
        [record] = store.claim_resolutions("prevents-migraine")
        view = build_view(store, config, Week.containing(utc_now(), config.timezone))
    assert (record.action, record.by, record.note, record.text) == ("resolved", "local", "Sentence corrected to give the trial's result.",
                                                                   MIGRAINE)
    assert before <= parse_utc(record.at) <= utc_now() + timedelta(seconds=1)
    assert [look.id for look in needs_a_look(view.editors)] == []  # the next digest's headline names it no longer
    assert next(v for v in view.editors.verdicts if v.claim_id == "prevents-migraine").kind != "contradicted"
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--config", str(config.path), "claim", "show", "prevents-migraine"]) == 0
    assert re.search(r"resolved by local: Sentence corrected to give the trial's result\.", out.getvalue())
    # the pages: the verdict has left, the record is shown with who, when and why, and it can be reopened
    html = client.get("/claims").get_data(as_text=True)
    block = text_of(verdict_block(html, "prevents-migraine"))
    assert "contradicted" not in block and "Resolved by local on " in block and "last record: resolved by local" in block
    assert 'action="/claims/prevents-migraine/reopen"' in html and "/claims/prevents-migraine/resolve" not in html
    dossier = text_of(client.get("/claims/prevents-migraine").get_data(as_text=True))
    assert re.search(r"Editors' records Resolved on the page by local, 2026-\d\d-\d\d \d\d:\d\d C[SD]T: Sentence corrected", dossier)
    assert resolve(client, "prevents-migraine", action="reopen").status_code == 303
    html = client.get("/claims").get_data(as_text=True)
    assert text_of(verdict_block(html, "prevents-migraine")).startswith(f"“{MIGRAINE}”: contradicted")
    with Store.open(config.database) as store:
        assert [r.action for r in store.claim_resolutions("prevents-migraine")] == ["resolved", "reopened"]


def test_a_reader_a_get_a_forged_or_cross_site_post_and_a_bad_claim_record_nothing(client, config):
    with Store.open(config.database) as store:
        store.add_user("rob", "reader", hash_password("correct horse battery"), now=T0)
    html = client.get("/signin").get_data(as_text=True)
    client.post("/signin", data={"csrf_token": token(html), "name": "rob", "password": "correct horse battery"})
    html = client.get("/claims/prevents-migraine").get_data(as_text=True)
    assert "rob (reader)" in html and "/resolve" not in html  # no button for a reader
    response = client.post("/claims/prevents-migraine/resolve", data={"csrf_token": token(html)})
    assert response.status_code == 403 and "only an editor" in response.get_data(as_text=True)
    assert client.get("/claims/prevents-migraine/resolve").status_code == 405  # no state change on GET
    with Store.open(config.database) as store:
        assert store.claim_resolutions() == []


def test_the_resolve_form_is_checked_as_every_other_form(client, config):
    assert client.post("/claims/prevents-migraine/resolve", data={"note": "x"}).status_code == 400  # no token
    assert client.post("/claims/prevents-migraine/resolve", data={"csrf_token": "forged"}).status_code == 400
    assert resolve(client, "prevents-migraine", Origin="http://evil.example").status_code == 403
    assert resolve(client, "prevents-migraine", **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get("/claims/prevents-migraine/resolve").status_code == 405
    assert client.get("/claims/prevents-migraine/reopen").status_code == 405
    assert resolve(client, "no-such-claim", page="/claims").status_code == 404
    assert resolve(client, "prevents-migraine", note="x" * 1001).status_code == 400  # the record's note is at most 1000
    with Store.open(config.database) as store:
        assert store.claim_resolutions() == []
    response = resolve(client, "stomach", page="/claims")  # any claim of feeds.yaml, as `watcher claim resolve` allows
    assert response.status_code == 303


def test_the_article_page_marks_each_claim_by_its_verdict_and_links_its_dossier(client, config):
    html = client.get("/article").get_data(as_text=True)
    assert ('<mark class="verdict-contradicted"><a href="/claims/prevents-migraine">'
            f"{MIGRAINE}</a></mark> in adults. Ask us.") in html
    assert '<mark class="verdict-new-evidence"><a href="/claims/stomach">aspirin can upset the stomach</a></mark>' in html
    assert "Aspirin at the clinic" in html
    resolve(client, "prevents-migraine")
    store_page(config, PAGE_TEXT.replace(MIGRAINE, "In 2024, the largest trial found no effect on migraine"), now=T0 + timedelta(days=1))
    html = client.get("/article").get_data(as_text=True)
    assert "verdict-contradicted" not in html.split('<div class="page-text">', 1)[1]
    unplaced = html.split("<h2>Claims not on this copy</h2>", 1)[1]
    assert '<a href="/claims/prevents-migraine">' in unplaced and "no longer on the page" in unplaced


def test_new_evidence_reaches_the_dossier_after_the_store_changes(client, config):
    assert 'data-item="pubmed:6"' not in client.get("/claims/prevents-migraine").get_data(as_text=True)
    fill(config, [paper(6, "Aspirin prophylaxis for migraine: a randomised trial", "Prophylaxis.",
                        publication_types=("Randomized Controlled Trial",))], now=T0 + timedelta(days=2))
    deadline = time.monotonic() + 20  # recomputed in the background; the page meanwhile shows the previous one
    while 'data-item="pubmed:6"' not in (html := client.get("/claims/prevents-migraine").get_data(as_text=True)):
        assert time.monotonic() < deadline, "the dossier never showed the new item"
        time.sleep(0.05)
    assert "<h2>Randomised controlled trials (2)</h2>" in html
