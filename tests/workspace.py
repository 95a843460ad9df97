"""A small store for the workspace's tests: a config with a topic and two claims, items stored
through the real save path, and the Flask app over them (the framework's test client). With
`claims_config`, the article is a watched page and curated facts bear on the claims: one
contradicts prevents-migraine (whose words go stale: "recently"), one supports stomach."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.configs import OFFLINE, openfda, pubmed, regulatory, write_config
from watcher.config import Config
from watcher.model import Item
from watcher.relevance.match import match
from watcher.store import Store

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
TOPIC = {"headache": {"groups": {"drug": ["aspirin"], "condition": ["headache*", "migraine*"]}}}
ARTICLE = {"claims": [
    {"id": "prevents-migraine", "text": "aspirin prevents migraine attacks", "terms": ["prevent*", "prophyla*"]},
    {"id": "stomach", "text": "aspirin can upset the stomach", "terms": ["gastr*", "stomach", "bleeding"]},
]}
PAGE_URL = "https://clinic.example/aspirin"
CLAIMS_ARTICLE = {"url": PAGE_URL, "claims": [
    {**ARTICLE["claims"][0], "text": "Recently, aspirin was shown to prevent migraine attacks"},
    ARTICLE["claims"][1],
]}
PAGE_TEXT = ("Aspirin at the clinic\nRecently, aspirin was shown to prevent migraine attacks in adults."
             " Ask us.\nBeware: aspirin can upset the stomach.")
CONTRADICTS = {"statement": "In the largest trial, aspirin did not prevent migraine attacks.", "date": "2024-05-02",
               "source": "https://regulator.example/aspirin-migraine-trial", "contradicts": ["prevents-migraine"]}
SUPPORTS = {"statement": "Aspirin's label warns of stomach bleeding.", "date": "2021-03",
            "source": "https://regulator.example/aspirin-label", "checked": "2026-11-20", "supports": ["stomach"]}
KEY = b"k" * 64
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def paper(n: int, title: str, abstract: str = "", authors: tuple[str, ...] = ("Roe J",), **kw: Any) -> Item:
    return Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=title,
                abstract=abstract or None, authors=authors, identifiers=(f"pmid:{n}",), **kw)


PAPERS = [
    paper(1, "Aspirin to prevent migraine: a randomised trial", "Aspirin prevented migraine attacks.",
          ("Lindqvist E", "Okafor C"), publication_types=("Randomized Controlled Trial",)),
    paper(2, "Aspirin and gastric bleeding in headache patients", "Gastric bleeding was rare.", ("Rivera A",)),
    paper(3, "Aspirin for tension headache", "A cohort of adults with tension headache.", ("Tan W",)),
    paper(4, "Aspirin in fever", "Not about the head at all.", ("Müller K",)),  # not matched
]


def workspace_config(folder: Path, **top: Any) -> Config:
    return write_config(folder, topics=TOPIC, article=ARTICLE, **top)


def claims_config(folder: Path, *, facts: list[dict[str, Any]] | None = None, article: dict[str, Any] | None = None,
                  **top: Any) -> Config:
    """The workspace's topic, its claims on a watched page, and facts bearing on them."""
    return write_config(folder, [pubmed(), openfda(OFFLINE)], topics=TOPIC, article=article or CLAIMS_ARTICLE,
                        regulatory=regulatory(facts=[CONTRADICTS, SUPPORTS] if facts is None else facts), **top)


def store_page(config: Config, text: str = PAGE_TEXT, *, now: datetime = T0) -> None:
    """A copy of the watched page, as the page watch stores it."""
    with Store.open(config.database) as store:
        store.save_snapshot("article", PAGE_URL, {"url": PAGE_URL, "text": text}, now=now)


def fill(config: Config, items: list[Item] = PAPERS, *, now: datetime = T0) -> None:
    with Store.open(config.database) as store:
        for i, item in enumerate(items):  # one a minute: "newest first" has an order to show
            store.save_batch(item.source, [(item, match(item, config.topics))], now=now + timedelta(minutes=i))


def app_for(config: Config, **kw: Any) -> Any:
    """The workspace's Flask app over `config`, in testing mode (bound to loopback unless told)."""
    from watcher.web.app import create_app

    app = create_app(config, KEY, loopback=kw.pop("loopback", True), **kw)
    app.config["TESTING"] = True
    return app


@contextmanager
def workspace_client(config: Config) -> Iterator[Any]:
    """A client of the app in process; the app's store connections closed after."""
    app = app_for(config)
    with app.test_client() as client:
        yield client
    app.extensions["watcher_stores"].close()


def token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)
