"""The workspace's routes in process (Flask's test client over the real store): pages, decisions
stored as labels, the queue shrinking, undo, notes, readers, sign-in, CSRF and cross-site refusals."""

from __future__ import annotations

import pytest

from tests.workspace import T0, app_for, fill, token, workspace_client, workspace_config
from watcher.export.items import records
from watcher.store import Store
from watcher.web.accounts import hash_password


@pytest.fixture
def config(tmp_path):
    config = workspace_config(tmp_path)
    fill(config)
    return config




@pytest.fixture
def client(config):
    with workspace_client(config) as client:
        yield client


def decide(client, item_id, verdict, page="/queue", **extra):
    html = client.get(page).get_data(as_text=True)
    return client.post("/decide", data={"csrf_token": token(html), "id": item_id, "verdict": verdict, "next": page, **extra})


def queue_ids(client, query=""):
    html = client.get("/queue" + query).get_data(as_text=True)
    return [i for i in ("pubmed:1", "pubmed:2", "pubmed:3", "pubmed:4") if f'data-item="{i}"' in html]


def test_every_page_answers_for_the_local_user(client):
    for path in ("/queue", "/week", "/item?id=pubmed:1", "/claims", "/claims/stomach", "/article", "/search?q=aspirin",
                 "/quality"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "local user (this machine)" in response.get_data(as_text=True), path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/item?id=pubmed:404").status_code == 404
    assert client.get("/claims/nope").status_code == 404


def test_the_queue_is_matched_undecided_items_newest_first_and_shrinks(client, config):
    assert queue_ids(client) == ["pubmed:1", "pubmed:2", "pubmed:3"]  # pubmed:4 does not match
    html = client.get("/queue").get_data(as_text=True)
    assert html.index('data-item="pubmed:3"') < html.index('data-item="pubmed:1"')  # newest first
    response = decide(client, "pubmed:3", "irrelevant")
    assert response.status_code == 303 and response.headers["Location"] == "/queue"
    assert queue_ids(client) == ["pubmed:1", "pubmed:2"]
    with Store.open(config.database) as store:
        [label] = store.labels()
    assert (label.label.item_id, label.label.label, label.user) == ("pubmed:3", "irrelevant", "local")


def test_filters_by_claim_section_tier_and_source(client):
    assert queue_ids(client, "?claim=prevents-migraine") == ["pubmed:1"]
    assert queue_ids(client, "?claim=stomach") == ["pubmed:2"]
    assert queue_ids(client, "?section=rct") == ["pubmed:1"]
    assert queue_ids(client, "?tier=core&source=pubmed") == ["pubmed:1", "pubmed:2", "pubmed:3"]
    assert queue_ids(client, "?source=elsewhere") == ["pubmed:1", "pubmed:2", "pubmed:3"]  # unknown values: no filter


def test_cite_note_and_undo_are_labels_with_the_latest_counting(client, config):
    assert decide(client, "pubmed:1", "cite", claim="prevents-migraine").status_code == 303
    html = client.get("/item?id=pubmed:1").get_data(as_text=True)
    assert "cite for prevents-migraine" in html
    client.post("/note", data={"csrf_token": token(html), "id": "pubmed:1", "note": "strong trial", "next": "/queue"})
    with Store.open(config.database) as store:
        [label] = store.labels()
        assert (label.label.label, label.label.claim, label.label.note) == ("relevant", "prevents-migraine", "strong trial")
        exported = {r["id"]: r for r in records(store, claims=config.article.claims)}
    assert exported["pubmed:1"]["label"] == "relevant" and exported["pubmed:1"]["cite"] == "prevents-migraine"
    html = client.get("/queue").get_data(as_text=True)
    # undo withdraws the note, then the citation: the item is back in the queue, every row kept
    for _ in range(2):
        assert client.post("/undo", data={"csrf_token": token(html), "id": "pubmed:1", "next": "/queue"}).status_code == 303
    assert "pubmed:1" in queue_ids(client)
    with Store.open(config.database) as store:
        assert store.labels() == []
        assert [d.label for d in store.decision_history("pubmed:1")] == ["relevant", "relevant", None, None]
    assert client.post("/undo", data={"csrf_token": token(html), "id": "pubmed:1"}).status_code == 404  # nothing left


def test_a_cite_needs_a_claim_of_feeds_yaml(client, config):
    assert decide(client, "pubmed:1", "cite", claim="made-up").status_code == 400
    assert decide(client, "pubmed:1", "maybe").status_code == 400
    assert decide(client, "pubmed:404", "relevant").status_code == 404
    with Store.open(config.database) as store:
        assert store.decision_history("pubmed:1") == []


def test_a_post_without_the_token_or_from_another_site_is_refused(client, config):
    html = client.get("/queue").get_data(as_text=True)
    form = {"id": "pubmed:1", "verdict": "relevant"}
    assert client.post("/decide", data=form).status_code == 400  # no token
    assert client.post("/decide", data={**form, "csrf_token": "forged"}).status_code == 400
    good = {**form, "csrf_token": token(html)}
    assert client.post("/decide", data=good, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/decide", data=good, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/decide", data=good, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert client.get("/decide?id=pubmed:1&verdict=relevant").status_code == 405  # no state change on GET
    with Store.open(config.database) as store:
        assert store.decision_history("pubmed:1") == []
    assert client.post("/decide", data=good, headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}).status_code == 303


def test_only_loopback_names_are_answered_on_loopback(client):
    assert client.get("/queue", headers={"Host": "rebound.example:8765"}).status_code == 400  # DNS rebinding
    assert client.get("/queue", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_a_request_through_a_proxy_is_never_the_local_user(client):
    assert client.get("/queue", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/queue", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 403


def add_user(config, name, role="editor", password="correct horse battery"):
    with Store.open(config.database) as store:
        store.add_user(name, role, hash_password(password), now=T0)


def sign_in(client, name, password="correct horse battery"):
    html = client.get("/signin").get_data(as_text=True)
    return client.post("/signin", data={"csrf_token": token(html), "name": name, "password": password})


def test_with_accounts_sign_in_is_required_and_a_reader_cannot_decide(client, config):
    add_user(config, "ana")
    add_user(config, "rob", "reader")
    response = client.get("/queue")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    assert sign_in(client, "ana", "wrong password!").status_code == 401
    response = sign_in(client, "rob")
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    html = client.get("/queue").get_data(as_text=True)
    assert "rob (reader)" in html and 'name="verdict"' not in html  # no decision buttons for a reader
    assert client.post("/decide", data={"csrf_token": token(html), "id": "pubmed:1", "verdict": "relevant"}).status_code == 403
    client.post("/signout", data={"csrf_token": token(html)})
    assert sign_in(client, "ana").status_code == 303
    assert decide(client, "pubmed:1", "relevant").status_code == 303
    with Store.open(config.database) as store:
        assert [(s.label.item_id, s.user) for s in store.labels()] == [("pubmed:1", "ana")]


def test_a_password_change_or_removal_ends_the_sessions(client, config):
    add_user(config, "ana")
    sign_in(client, "ana")
    assert client.get("/queue").status_code == 200
    with Store.open(config.database) as store:
        store.change_user("ana", now=T0, password_hash=hash_password("another long one"))
    assert client.get("/queue").status_code == 302
    assert sign_in(client, "ana", "another long one").status_code == 303
    with Store.open(config.database) as store:
        store.remove_user("ana")
        store.add_user("other", "editor", hash_password("correct horse battery"), now=T0)
    assert client.get("/queue").status_code == 302


def test_sign_in_attempts_are_limited(client, config):
    add_user(config, "ana")
    codes = [sign_in(client, "ana", f"wrong guess {n}").status_code for n in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert sign_in(client, "ana").status_code == 429  # even the right password, until the minute is over


def test_no_open_redirect_after_sign_in_or_a_decision(client, config):
    add_user(config, "ana")
    html = client.get("/signin").get_data(as_text=True)
    response = client.post("/signin?next=//evil.example/x", data={"csrf_token": token(html), "name": "ana",
                                                                  "password": "correct horse battery"})
    assert response.headers["Location"] == "/queue"
    response = decide(client, "pubmed:1", "relevant", next="https://evil.example/")
    assert response.headers["Location"] == "/queue"


def test_search_finds_an_item_by_an_author_with_or_without_accents(client):
    html = client.get("/search?q=lindqv").get_data(as_text=True)
    assert 'data-item="pubmed:1"' in html and 'data-item="pubmed:2"' not in html
    assert 'data-item="pubmed:4"' in client.get("/search?q=muller").get_data(as_text=True)
    assert client.get('/search?q=" OR NEAR( *').status_code == 200  # FTS5 syntax is only words


def test_the_claims_pages_list_every_item_bearing_on_a_claim(client):
    html = client.get("/claims").get_data(as_text=True)  # no page watched, no fact: each claim's news since the watch began
    assert "<strong>“aspirin prevents migraine attacks”: new evidence</strong> since the watch began: 1 item" in html
    assert "feeds.yaml gives neither <code>article.url</code> nor <code>article.file</code>" in html
    html = client.get("/claims/stomach").get_data(as_text=True)
    assert 'data-item="pubmed:2"' in html and 'data-item="pubmed:1"' not in html


def test_quality_is_what_evaluate_computes(client, config):
    assert "No item has a verdict yet" in client.get("/quality").get_data(as_text=True)
    decide(client, "pubmed:3", "irrelevant")
    decide(client, "pubmed:1", "relevant")
    html = client.get("/quality").get_data(as_text=True)
    assert "2 labelled items (1 relevant, 1 irrelevant)" in html
    assert 'href="/item?id=pubmed:3"' in html  # the one disagreement, one click from its item


def test_a_page_says_when_a_poll_is_running_and_when_the_last_one_ended(client, config):
    from watcher.store.lock import WriterLock

    assert "Last poll ended: never" in client.get("/queue").get_data(as_text=True)
    with Store.open(config.database) as store:
        run = store.begin_run("poll", now=T0)
        store.finish_run(run, now=T0, status="ok", new_items=0, matched=0, failures=0)
    with WriterLock.for_database(config.database, "watcher poll"):
        html = client.get("/queue").get_data(as_text=True)
    assert "A poll is running" in html and "Last poll ended: 2026-11-24 09:00 CST" in html
    assert "A poll is running" not in client.get("/queue").get_data(as_text=True)


def test_behind_a_proxy_the_cookie_is_secure_and_there_is_no_local_user(config):
    add_user(config, "ana")
    app = app_for(config, behind_proxy=True)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "watch.clinic.example"}
    site = "https://watch.clinic.example"  # as the proxy forwards it (ProxyFix believes one hop)
    with app.test_client() as client:
        assert client.get("/queue", headers=https, base_url=site).status_code == 302
        html = client.get("/signin", headers=https, base_url=site).get_data(as_text=True)
        response = client.post("/signin", headers={**https, "Origin": site, "Referer": site + "/signin"}, base_url=site,
                               data={"csrf_token": token(html), "name": "ana", "password": "correct horse battery"})
        assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]
        assert client.get("/queue", headers=https, base_url=site).status_code == 200
    app.extensions["watcher_stores"].close()
