"""`watcher serve` as a real process: accounts from `watcher user`, decisions by keyboard and by
mouse in Chromium (Playwright) that `watcher export` and `watcher evaluate` then read, search by an
author, cross-site and token-less posts refused, a reader who cannot decide, every page at 375 px,
the default feeds.yaml's contradicted FDA claim marked resolved (which `watcher claim show` then
prints), 50 concurrent requests while a real poll writes, SIGTERM, and no secret in any log."""

from __future__ import annotations

import http.server
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.article_page import default_feeds
from tests.configs import CONTACT, load
from tests.serving import env, serving, session_with_token, watcher
from tests.upstreams import eutils
from tests.workspace import fill, paper, workspace_config
from tests.workspace import token as token_of
from watcher.store.lock import writer_busy
from watcher.web.accounts import key_path

pytestmark = pytest.mark.slow  # processes: the server, the CLI, a browser

PASSWORD = "a long enough password"
PAPERS = [paper(100 + n, f"Aspirin for migraine, study {n}", f"Headache study {n}; prevention of attacks.",
                (f"Author{n} A", "Roe J")) for n in range(24)]
PAPERS.append(paper(200, "Aspirin and headache in a cohort", "Observational.", ("Zyskowska M", "Roe J")))



@pytest.fixture
def site(tmp_path):
    config = workspace_config(tmp_path)
    fill(config, PAPERS)
    for name, role in (("ana", "editor"), ("rob", "reader")):
        added = watcher(config.path, "user", "add", name, "--role", role, stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    return config


def sign_in(page, url, name):
    page.goto(url + "queue")
    assert "/signin" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.signin button")
    assert page.url.endswith("/queue"), page.url


def queue_count(page) -> int:
    return int(page.inner_text("h1").split(":")[1].split()[0])


def test_an_editor_clears_the_queue_by_keyboard_and_by_mouse_and_export_and_evaluate_see_it(site, browser):
    with serving(site.path) as served:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        sign_in(page, served.url, "ana")
        before = queue_count(page)
        decided = []
        for n in range(10):  # the first item is selected: r / i submit its form, the page comes back
            decided.append((page.get_attribute(".card.selected", "data-item"), "relevant" if n % 2 else "irrelevant"))
            with page.expect_navigation():
                page.keyboard.press("r" if n % 2 else "i")
        for n in range(10):
            card = page.locator(".card").nth(1)  # the second card: by mouse, anywhere in the list
            decided.append((card.get_attribute("data-item"), "relevant" if n % 2 else "irrelevant"))
            with page.expect_navigation():
                card.locator(f"form[data-key={'r' if n % 2 else 'i'}] button").click()
        assert queue_count(page) == before - 20
        assert len({i for i, _ in decided}) == 20
        # j moves the selection, u undoes the last decision (the item is back in the queue)
        page.keyboard.press("j")
        assert page.locator(".card").nth(1).get_attribute("class").endswith("selected")
        with page.expect_navigation():
            page.keyboard.press("u")
        assert queue_count(page) == before - 19
        with page.expect_navigation():  # and decided again, by mouse
            page.locator(f'.card[data-item="{decided[-1][0]}"] form[data-key=r] button').click()
        while queue_count(page):  # then the rest of the queue, by keyboard, until it is empty
            decided.append((page.get_attribute(".card.selected", "data-item"), "irrelevant"))
            with page.expect_navigation():
                page.keyboard.press("i")
        assert page.locator(".empty").inner_text() == "Nothing left to decide."
        exported = watcher(site.path, "export", "--format", "jsonl")  # while the server runs
        evaluated = watcher(site.path, "evaluate")
        page.close()
    labels = {}
    for line in exported.stdout.splitlines():
        row = json.loads(line)
        for record in (row, *row["also"]):
            if record["label"]:
                labels[record["id"]] = (record["label"], record["label_by"])
    assert labels == {item_id: (verdict, "ana") for item_id, verdict in decided}
    assert len(decided) == before == len(PAPERS)
    assert evaluated.returncode == 0 and evaluated.stdout.startswith(f"{before} labelled items (10 relevant, {before - 10} irrelevant)")


def test_search_finds_an_item_by_an_author(site, browser):
    with serving(site.path) as served:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        sign_in(page, served.url, "rob")
        page.keyboard.press("/")  # to the search page, then into its box
        page.wait_for_url("**/search")
        page.keyboard.press("/")
        page.keyboard.type("zyskow")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert [c.get_attribute("data-item") for c in page.locator(".card").all()] == ["pubmed:200"]
        page.close()


class Attacker(http.server.BaseHTTPRequestHandler):
    """Another site (localhost, another port) whose page posts a decision to the workspace."""

    target = ""

    def do_GET(self):
        body = (f'<form id="f" method="post" action="{self.target}decide"><input name="id" value="pubmed:100">'
                '<input name="verdict" value="irrelevant"><input name="csrf_token" value="guessed"></form>'
                '<script>document.getElementById("f").submit()</script>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_cross_site_and_token_less_posts_are_refused_and_a_reader_cannot_decide(site, browser):
    with serving(site.path) as served:
        Attacker.target = served.url
        evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            page = browser.new_page()
            sign_in(page, served.url, "ana")
            response = page.request.post(served.url + "decide", form={"id": "pubmed:100", "verdict": "relevant"})
            assert response.status == 400  # the session's cookie, no token
            with page.expect_navigation(url="**/decide"):
                page.goto(f"http://localhost:{evil.server_address[1]}/")
            assert page.locator("h1").inner_text() in ("Not allowed", "Not done")
            page.close()
            reader = browser.new_page(viewport={"width": 375, "height": 800})
            sign_in(reader, served.url, "rob")
            assert reader.locator("form[action='/decide']").count() == 0
            reader.keyboard.press("r")  # nothing to submit
            html = reader.content()
            token = reader.locator("input[name=csrf_token]").first.get_attribute("value")
            response = reader.request.post(served.url + "decide", form={"id": "pubmed:100", "verdict": "relevant",
                                                                        "csrf_token": token})
            assert response.status == 403 and "only an editor can decide" in response.text()
            assert "rob (reader)" in html
            reader.close()
        finally:
            evil.shutdown()
    with sqlite3.connect(site.database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 0


PAGES = ("week", "queue", "item?id=pubmed:100", "claims", "claims/prevents-migraine", "article", "search?q=roe", "quality")


def test_every_page_is_usable_at_375_px(site, browser):
    with serving(site.path) as served:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(served.url) else None)
        sign_in(page, served.url, "ana")
        for path in PAGES:
            page.goto(served.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
            assert page.locator("nav a").count() == 6, path
            for button in page.locator("button").all()[:6]:  # every button is on the screen, big enough to press
                box = button.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["height"] >= 24, (path, box)
        assert errors == [] and outside == []
        page.close()


FDA = "Last March, the FDA approved ketamine as a treatment for depression"


@pytest.fixture
def fda_site(tmp_path):
    """The default feeds.yaml (its topic, claims and facts; every source offline, the page not watched),
    a paper bearing on the FDA claim, and an editor."""
    raw = default_feeds()
    raw = {k: raw[k] for k in ("timezone", "sources", "topics", "article", "regulatory")}
    for source in raw["sources"]:
        source["url"] = "http://127.0.0.1:9/"  # the discard port: nothing is fetched
    raw["contact"] = CONTACT
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    config = load(path)
    fill(config, [paper(300, "FDA approval of esketamine nasal spray for treatment-resistant depression",
                        "The FDA approved esketamine (Spravato) for depression.", ("Lindqvist E",))])
    added = watcher(path, "user", "add", "ana", "--role", "editor", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    return config


def test_an_editor_marks_the_contradicted_fda_claim_resolved_and_the_cli_prints_the_record(fda_site, browser):
    with serving(fda_site.path) as served:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        sign_in(page, served.url, "ana")
        for path in ("article", "claims/fda-approval", "claims"):  # with the resolve form, at 375 px
            page.goto(served.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        assert page.locator("li.verdict").first.get_attribute("id") == "verdict-fda-approval"  # contradicted first
        assert page.locator("#verdict-fda-approval strong").first.inner_text() == f"“{FDA}”: contradicted"
        with page.expect_navigation():
            page.locator("#verdict-fda-approval a", has_text="dossier").click()
        assert page.url.endswith("/claims/fda-approval")
        verdict = page.locator("#verdict-fda-approval").inner_text()
        assert "The record says: 2019-03-05: FDA approved Spravato (esketamine) nasal spray" in verdict
        assert "Wording that goes stale: Last March reads differently every year" in verdict
        assert "pubmed:300" in page.locator(".card").first.inner_text()
        button = page.locator("form.claim-action button")
        box = button.bounding_box()
        assert button.inner_text() == "Resolved on the page" and box and box["x"] + box["width"] <= 375
        page.fill("form.claim-action input[name=note]", "The page now names esketamine and March 2019")
        with page.expect_navigation():
            button.click()
        assert page.url.endswith("/claims/fda-approval")
        assert page.locator("ul.history li").first.inner_text().startswith("Resolved on the page by ana, ")
        page.goto(served.url + "claims")
        shown = page.locator("#verdict-fda-approval").inner_text()
        assert "contradicted" not in shown.splitlines()[0]
        assert "Resolved by ana on " in shown and "The page now names esketamine and March 2019" in shown
        assert page.locator("form[action='/claims/fda-approval/reopen']").count() == 1
        printed = watcher(fda_site.path, "claim", "show", "fda-approval")  # while the server runs: the same store
        page.close()
    assert printed.returncode == 0, printed.stderr
    first, *rest = printed.stdout.splitlines()
    assert first.startswith("fda-approval: unchanged since an editor's record on ")
    assert any(line.endswith("resolved by ana: The page now names esketamine and March 2019") for line in rest), printed.stdout


def test_fifty_concurrent_requests_during_a_poll_lose_no_decision(site, upstream):
    papers = eutils.Eutils(upstream)
    papers.add(eutils.local_today(), [eutils.Article(str(43_000_000 + i), f"Aspirin for headache, batch study {i}",
                                                     abstract="Headache. " * 80) for i in range(3000)])
    site.path.write_text(site.path.read_text(encoding="utf-8").replace("http://127.0.0.1:9/entrez/eutils/", papers.url),
                         encoding="utf-8")  # a poll of 3,000 records, stored 500 a transaction
    wanted = [f"pubmed:{100 + n}" for n in range(24)] + ["pubmed:200"]
    with serving(site.path) as served:
        # accounts exist, so there is no local user: sign in by the form, as a browser would
        client, token = session_with_token(served.url, "signin")
        client.post(served.url + "signin", data={"csrf_token": token, "name": "ana", "password": PASSWORD}, timeout=30)
        token = token_of(client.get(served.url + "queue", timeout=30).text)
        poll = subprocess.Popen([sys.executable, "-m", "watcher", "--config", str(site.path), "poll"], env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not writer_busy(site.database) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert writer_busy(site.database), "the poll never took the writer lock"

            def decide(n: int):
                started = time.monotonic()
                if n % 2:
                    return client.get(served.url + ("queue", "search?q=headache", "item?id=pubmed:101")[n % 3], timeout=60), 0.0
                response = client.post(served.url + "decide", data={"csrf_token": token, "id": wanted[n // 2],
                                                                     "verdict": "relevant", "next": "/queue"},
                                       allow_redirects=False, timeout=60)
                return response, time.monotonic() - started

            with ThreadPoolExecutor(max_workers=50) as pool:
                results = list(pool.map(decide, range(50)))
            still_polling = poll.poll() is None
        finally:
            poll.wait(120)
    assert poll.returncode == 0
    assert [r.status_code for r, _ in results if r.status_code >= 500] == []
    assert all(r.status_code == 303 for n, (r, _) in enumerate(results) if n % 2 == 0)
    with sqlite3.connect(site.database) as conn:
        stored = {row[0] for row in conn.execute("SELECT item_id FROM labels WHERE label = 'relevant'")}
        polled = conn.execute("SELECT COUNT(*) FROM items WHERE id LIKE 'pubmed:43%'").fetchone()[0]
    assert stored == set(wanted) and polled == 3000
    print(f"\ndecisions during the poll: slowest {max(t for _, t in results) * 1000:.0f} ms; poll still running"
          f" after the 50 requests: {still_polling}")


def test_sigterm_stops_it_cleanly_and_no_secret_reaches_a_log(site, browser):
    with serving(site.path, "--log-level", "DEBUG") as served:
        page = browser.new_page()
        sign_in(page, served.url, "ana")
        shown = page.content()
        page.close()
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(15) == 0
    output = "".join(served.output)
    assert "watcher serve: stopped" in output
    key = key_path(site.database).read_text().strip()
    assert oct(key_path(site.database).stat().st_mode)[-3:] == "600"
    database = b"".join(p.read_bytes() for p in site.database.parent.glob("watcher.db*") if not p.name.endswith("session-key"))
    for secret in (PASSWORD, key):
        assert secret not in output and secret not in shown and secret.encode() not in database
