"""The one way tests build a config: a feeds.yaml written from Python values, then read by the
real loader (`watcher.config.load`), so every test config also exercises the loader.

    config = write_config(tmp_path, [rss(feed.url, section="regulatory")], topics=DRUG_TOPIC)
    path = write_feeds(tmp_path, [pubmed(eutils.url, batch_size=100)])   # for a subprocess

Defaults fit most tests: time zone America/Chicago, the database (watcher.db) and the digests
folder next to the file (so under tmp_path), a test contact and user agent, a poll at 06:00 and
the digest on Monday 07:00, a catch-all topic, and one PubMed source on a port where nothing
listens. Each keyword argument replaces that
top-level key of feeds.yaml; None leaves the key out, so the loader's own default applies.
Tests whose point is YAML text itself (the broken-config table) write their YAML by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from watcher.config import Config, load

USER_AGENT = "watcher-test/1.0 (literature watch; mailto:test@example.org)"
# A contact on a name nobody reserved for examples, as a configured watcher has (a placeholder makes
# every PubMed poll warn; tests/test_contact.py). Tests send it nowhere but 127.0.0.1.
CONTACT = {"tool": "watcher-test", "email": "editors@clinic-watch-tests.org"}
OFFLINE = "http://127.0.0.1:9/entrez/eutils/"  # the discard port: a poll of it fails at once, offline

ANY_TOPIC: dict[str, Any] = {"anything": {"groups": {"any": ["*"]}}}
# Keeps an item naming one of the drugs: what the clinic's own topic does for regulatory news.
DRUG_TOPIC: dict[str, Any] = {"drugs": {"groups": {"drug": ["ketamine", "esketamine", "spravato", "ambien"]}}}

DEFAULTS: dict[str, Any] = {
    "timezone": "America/Chicago",
    "database": "watcher.db",
    "digests": "digests",
    "contact": CONTACT,
    "http": {"user_agent": USER_AGENT, "timeout": 10},
    "schedule": {"poll": ["06:00"], "digest": {"day": "mon", "time": "07:00"}},
}


def pubmed(url: str = OFFLINE, *, name: str = "pubmed", query: str = "ketamine", **keys: Any) -> dict[str, Any]:
    return {"name": name, "type": "pubmed", "url": url, "query": query, **keys}


def rss(url: str, *, name: str = "fda-press", **keys: Any) -> dict[str, Any]:
    return {"name": name, "type": "rss", "url": url, **keys}


DRUGS = ["esketamine", "spravato", "ketamine", "ketalar"]  # feeds.yaml names the drugs; the code knows none


def openfda(url: str, *, name: str = "openfda", search: list[str] | None = None, **keys: Any) -> dict[str, Any]:
    return {"name": name, "type": "openfda", "url": url, "search": search or DRUGS, **keys}


PRODUCTS = [  # the products of the default feeds.yaml, by their Drugs@FDA application numbers
    {"name": "Spravato (esketamine) nasal spray", "application": "NDA211243"},
    {"name": "Ketalar (ketamine hydrochloride) injection", "application": "NDA016812"},
]
FACTS = [
    {"statement": "Compounded ketamine nasal spray is not FDA-approved.", "date": "2022-02",
     "source": "https://fda.example/compounded-ketamine-nasal-spray", "checked": "2026-11-30"},
]


def regulatory(*, source: str | None = "openfda", products: list[dict[str, Any]] | None = None,
               facts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `regulatory` block: the board's products and facts (pass it as `regulatory=`)."""
    block = {"source": source, "products": PRODUCTS if products is None else products, "facts": FACTS if facts is None else facts}
    return {k: v for k, v in block.items() if v is not None}


def clinicaltrials(url: str, *, name: str = "clinicaltrials", query: dict[str, str] | None = None, **keys: Any) -> dict[str, Any]:
    return {"name": name, "type": "clinicaltrials", "url": url, "query": query or {"intr": "ketamine"}, **keys}


def europepmc(url: str, *, name: str = "europepmc", query: str = "ketamine", **keys: Any) -> dict[str, Any]:
    return {"name": name, "type": "europepmc", "url": url, "query": query, **keys}


def feeds_document(sources: list[dict[str, Any]] | None = None, *, topics: dict[str, Any] | None = None,
                   **top: Any) -> dict[str, Any]:
    """feeds.yaml as Python values: the defaults, `top` over them, then sources and topics."""
    raw = {**DEFAULTS, **top}
    raw["sources"] = sources if sources is not None else [pubmed()]
    raw["topics"] = topics if topics is not None else ANY_TOPIC
    return {k: v for k, v in raw.items() if v is not None}


def write_feeds(folder: Path, sources: list[dict[str, Any]] | None = None, *, topics: dict[str, Any] | None = None,
                **top: Any) -> Path:
    """Write folder/feeds.yaml (making the folder) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(feeds_document(sources, topics=topics, **top), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def write_config(folder: Path, sources: list[dict[str, Any]] | None = None, *, topics: dict[str, Any] | None = None,
                 **top: Any) -> Config:
    """Write folder/feeds.yaml and load it."""
    return load(write_feeds(folder, sources, topics=topics, **top))
