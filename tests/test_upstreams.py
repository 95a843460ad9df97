"""The stand-ins themselves, asked directly over HTTP: a stand-in that answers wrongly would make
every test built on it pass for the wrong reason."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests
from lxml import etree

from tests.upstreams import eutils, faults, feeds
from tests.upstreams import openfda as fda
from tests.upstreams.server import Answer, Reply, Server

DAY = date(2026, 11, 24)


def get(url: str, **params: str) -> requests.Response:
    return requests.get(url, params=params, timeout=5, allow_redirects=False)


# ---- the server ----


def test_faults_are_armed_by_label_prefix_in_order_then_the_healthy_answer(upstream):
    url = upstream.static("/x", Reply(200, b"healthy", "text/plain"), label="x:1")
    upstream.arm("x", faults.answer(503, "first", "text/plain"), times=1)
    upstream.arm("x:1", faults.answer(502, "second", "text/plain"), times=2)
    upstream.arm("y", faults.answer(500, "never", "text/plain"))
    answers = [(r.status_code, r.text) for r in (get(url) for _ in range(5))]
    assert answers == [(503, "first"), (502, "second"), (502, "second"), (200, "healthy"), (200, "healthy")]
    assert upstream.count("x") == 5 and upstream.count("x:1") == 5 and upstream.count("x:2") == 0
    assert get(upstream.url("/nowhere")).status_code == 404 and upstream.labels()[-1] == "unrouted"


def test_a_failing_route_is_reported_when_the_server_closes():
    def broken(request):
        raise KeyError("no such record")

    with pytest.raises(AssertionError, match="KeyError"), Server() as server:
        server.route("/broken", broken)
        with pytest.raises(requests.ConnectionError):
            get(server.url("/broken"))


def test_a_held_request_waits_until_released(upstream):
    url = upstream.static("/held", Reply(200, b"at last", "text/plain"), label="held")
    hold = faults.Hold("head")
    upstream.arm("held", hold, times=1)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(get, url)
        assert hold.reached.wait(5)
        assert not pending.done()  # nothing is sent while held
        hold.release.set()
        assert pending.result(5).text == "at last"


# ---- E-utilities ----


@pytest.fixture
def papers(upstream) -> eutils.Eutils:
    stand_in = eutils.Eutils(upstream)
    stand_in.add(date(2026, 11, 20), eutils.articles(2, first_pmid=1), mdat=DAY)
    stand_in.add(DAY, eutils.articles(3, first_pmid=10))
    return stand_in


def esearch(papers: eutils.Eutils, **window: str) -> etree._Element:
    return etree.fromstring(get(papers.url + "esearch.fcgi", db="pubmed", term="k", usehistory="y", **window).content)


def efetch(papers: eutils.Eutils, webenv: str, start: int, size: int) -> list[str]:
    body = get(papers.url + "efetch.fcgi", db="pubmed", query_key="1", WebEnv=webenv, retstart=str(start),
               retmax=str(size)).content
    return [el.text for el in etree.fromstring(body).iter("PMID")] or [etree.fromstring(body).findtext("ERROR")]


def test_esearch_honours_the_window_of_the_date_type_asked(papers):
    edat = esearch(papers, datetype="edat", mindate="2026/11/21", maxdate="2026/11/24")
    mdat = esearch(papers, datetype="mdat", mindate="2026/11/24", maxdate="2026/11/24")
    assert (edat.findtext("Count"), mdat.findtext("Count")) == ("3", "5")
    assert esearch(papers).findtext("Count") == "5"  # no window: everything
    assert "pdat" in esearch(papers, mindate="2026/11/21", maxdate="2026/11/24").findtext("ERROR")  # NCBI's default type


def test_efetch_slices_the_search_kept_on_the_history_server(papers):
    found = esearch(papers, datetype="edat", mindate="2026/11/01", maxdate="2026/11/30")
    webenv = found.findtext("WebEnv")
    assert efetch(papers, webenv, 0, 2) + efetch(papers, webenv, 2, 2) + efetch(papers, webenv, 4, 2) == ["1", "2", "10", "11", "12"]
    assert papers.server.labels()[-3:] == ["efetch:0", "efetch:2", "efetch:4"]
    assert efetch(papers, "MCID_unknown", 0, 2) == ["Unable to obtain query #1"]
    papers.cap = 3  # as NCBI: no record past the cap, and an <ERROR> for a start beyond it
    assert efetch(papers, webenv, 2, 2) == ["10"] and "beyond" in efetch(papers, webenv, 3, 2)[0]


def test_corpus_records_keep_their_xml_under_a_new_pmid(corpus_dir):
    real = eutils.corpus_articles(corpus_dir / "pubmed" / "efetch_metapub_37729413_meta_analysis_depression_italic.xml")
    copy = eutils.with_pmid(real[0], 123)
    assert eutils.pmid_of(copy) == "123" and eutils.pmid_of(real[0]) != "123"
    assert etree.fromstring(copy).findtext(".//ArticleTitle") == etree.fromstring(real[0]).findtext(".//ArticleTitle")


# ---- openFDA ----


def test_generated_records_are_paged_by_link_headers(upstream):
    recalls = fda.OpenFDA(upstream)
    recalls.records("drug/enforcement", fda.recalls(5))
    url, pages = recalls.url + "drug/enforcement.json", []
    params = {"search": "x", "limit": "2"}
    while True:
        response = get(url, **params)
        pages.append([r["recall_number"] for r in response.json()["results"]])
        if "next" not in response.links:
            break
        params = dict(p.split("=", 1) for p in response.links["next"]["url"].split("?", 1)[1].split("&"))
    assert pages == [["D-1000-2026", "D-1001-2026"], ["D-1002-2026", "D-1003-2026"], ["D-1004-2026"]]
    assert upstream.labels() == ["enforcement:1", "enforcement:2", "enforcement:3"]
    assert get(url, search="x", limit="2", skip="2").status_code == 400  # never a growing skip
    assert get(recalls.url + "drug/label.json", search="x").json()["error"]["code"] == "NOT_FOUND"


def test_fixed_pages_are_found_by_search_after(upstream):
    labels = fda.OpenFDA(upstream)
    labels.page("drug/label", fda.json_reply({"results": [1]}))
    labels.page("drug/label", fda.json_reply({"results": [2]}), search_after="0=abc")
    url = labels.url + "drug/label.json"
    assert [get(url).json(), get(url, search_after="0=abc").json()] == [{"results": [1]}, {"results": [2]}]
    assert get(url, search_after="0=zzz").status_code == 400
    assert upstream.labels() == ["label:1", "label:2", "label:?"]



def test_one_application_is_answered_from_the_products(upstream):
    openfda = fda.OpenFDA(upstream)
    openfda.product("NDA211243", {"application_number": "NDA211243"}, [{"set_id": "a"}, {"set_id": "b"}])
    openfda.product("NDA016812", None, [])
    base = openfda.url
    assert get(base + "drug/drugsfda.json", search='application_number:"NDA211243"', limit="1").json()["results"] == [
        {"application_number": "NDA211243"}]
    assert get(base + "drug/label.json", search='openfda.application_number:"NDA211243"', limit="1").json()["results"] == [
        {"set_id": "a"}]  # `limit` is honoured
    for path, search in (("drug/drugsfda.json", 'application_number:"NDA016812"'), ("drug/label.json", 'openfda.application_number:"NDA016812"'),
                         ("drug/drugsfda.json", 'application_number:"NDA099999"')):
        answer = get(base + path, search=search)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert upstream.labels() == ["drugsfda:NDA211243", "label:NDA211243", "drugsfda:NDA016812", "label:NDA016812", "drugsfda:NDA099999"]


# ---- feeds ----


def test_conditional_get_answers_304_while_the_validators_hold(upstream):
    feed = feeds.Feed(upstream, items=feeds.entries(1), etag='"v1"', last_modified="Tue, 24 Nov 2026 17:00:00 GMT")
    first = get(feed.url)
    assert first.status_code == 200 and first.headers["ETag"] == '"v1"' and b"Ketamine safety notice 0" in first.content

    def asked(**headers: str) -> int:
        return requests.get(feed.url, headers=headers, timeout=5).status_code

    assert asked(**{"If-None-Match": '"v1"'}) == 304
    assert asked(**{"If-Modified-Since": "Tue, 24 Nov 2026 18:00:00 GMT"}) == 304
    assert asked(**{"If-Modified-Since": "Tue, 24 Nov 2026 16:00:00 GMT"}) == 200
    # If-None-Match decides when sent, whatever If-Modified-Since says (RFC 9110).
    assert asked(**{"If-None-Match": '"v0"', "If-Modified-Since": "Tue, 24 Nov 2026 18:00:00 GMT"}) == 200
    feed.etag = '"v2"'
    assert asked(**{"If-None-Match": '"v1"'}) == 200


def test_a_redirect_to_a_page_that_is_not_a_feed(upstream):
    feeds.redirect(upstream, "/feed", "/sorry.html")
    feeds.page(upstream, "/sorry.html", b"<html>sorry</html>")
    response = requests.get(upstream.url("/feed"), timeout=5)
    assert response.status_code == 200 and response.text == "<html>sorry</html>"
    assert [r.status_code for r in response.history] == [302]
    assert upstream.labels() == ["redirect:/feed", "page:/sorry.html"]


# ---- faults over each kind of healthy answer ----


@pytest.mark.parametrize("kind", ["pubmed", "rss", "openfda"])
def test_hostile_documents_are_built_for_the_route_kind(upstream, kind):
    healthy = {"pubmed": eutils.EFETCH_HEAD + eutils.article_xml(eutils.articles(1)[0]) + eutils.EFETCH_TAIL,
               "rss": feeds.rss_body(feeds.entries(1)),
               "openfda": json.dumps({"meta": {}, "results": fda.recalls(1)}).encode()}[kind]
    upstream.route("/doc", lambda request: Answer("doc", kind, Reply(200, healthy, "text/xml")))
    upstream.arm("doc", faults.billion_laughs(), times=1)
    upstream.arm("doc", faults.deep_nesting(depth=50), times=1)
    bomb, deep = get(upstream.url("/doc")).content, get(upstream.url("/doc")).content
    assert b"<!ENTITY lol9" in bomb and b"&lol9;" in bomb
    assert (b"<i>" * 50 if kind != "openfda" else b"[" * 50) in deep
    assert get(upstream.url("/doc")).content == healthy  # both faults used up
