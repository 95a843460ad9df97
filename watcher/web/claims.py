"""The Claims and Article pages as data: what exists of the article's claims today (claims.py's
`matching`, the page's copies, each claim located on the latest, as digest/editors.py does).

Three functions, each one a page: `overview` (every claim: its text, whether the page carries it,
how many items bear on it), `dossier` (one claim and every matched item across all weeks bearing on
it, newest first) and `article` (the latest copy of the page, each line that carries a claim marked,
the claims it does not carry). The pages call nothing else of the claims, so verdicts, dossiers or
an annotated article computed elsewhere replace these three, and nothing in app.py changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..article.claims import ARTICLE, Claim
from ..article.page_text import comparable, contains
from ..config import Config
from ..store import Store
from ..text import http_link, plain
from ..weeks import local_stamp
from .facets import Facets
from .views import PAGE, Card, card


@dataclass(frozen=True, slots=True)
class ClaimLine:
    id: str
    text: str
    on_page: bool | None  # the latest copy of the page carries it; None: no copy to look in
    items: int  # matched items bearing on it, all weeks


@dataclass(frozen=True, slots=True)
class Overview:
    claims: tuple[ClaimLine, ...]
    page_url: str | None
    page_checked: str | None  # local time of the latest copy


@dataclass(frozen=True, slots=True)
class Dossier:
    claim: ClaimLine
    cards: tuple[Card, ...]  # newest first
    page: int
    more: bool


@dataclass(frozen=True, slots=True)
class ArticleLine:
    text: str
    claims: tuple[str, ...]  # ids of the claims this line carries


@dataclass(frozen=True, slots=True)
class ArticleView:
    url: str | None
    fetched: str | None  # local time of the latest copy; None: no copy
    lines: tuple[ArticleLine, ...]
    missing: tuple[ClaimLine, ...]  # claims the page does not carry


def claims_of(config: Config) -> tuple[Claim, ...]:
    return config.article.claims if config.article else ()


def latest_text(store: Store, config: Config) -> tuple[str | None, str | None]:
    """The latest copy of the page: its text and when it was fetched (UTC); (None, None) without one."""
    url = config.article.url if config.article else None
    copy = store.latest_snapshot(ARTICLE, url) if url else None
    if copy is None or not isinstance(copy.data, dict):
        return None, None
    return str(copy.data.get("text") or ""), copy.at


def overview(store: Store, config: Config, facets: Facets) -> Overview:
    text, at = latest_text(store, config)
    words = comparable(text) if text is not None else None
    counts = facets.counts()
    lines = tuple(ClaimLine(c.id, c.text, None if words is None else contains(words, comparable(c.text)), counts.get(c.id, 0))
                  for c in claims_of(config))
    url = config.article.url if config.article else None
    return Overview(lines, http_link(url), local_stamp(at, config.timezone))


def dossier(store: Store, config: Config, facets: Facets, claim_id: str, page: int = 0) -> Dossier | None:
    line = next((c for c in overview(store, config, facets).claims if c.id == claim_id), None)
    if line is None:
        return None
    ids = facets.bearing_on(claim_id)
    chosen = ids[page * PAGE : (page + 1) * PAGE]
    found = store.items_by_id(chosen)
    cards = tuple(card(found[i], facets, config, store.current_decision(i)) for i in chosen if i in found)
    return Dossier(line, cards, page, len(ids) > (page + 1) * PAGE)


def article(store: Store, config: Config, facets: Facets) -> ArticleView:
    text, at = latest_text(store, config)
    url = http_link(config.article.url) if config.article and config.article.url else None
    if text is None:
        return ArticleView(url, None, (), ())
    claims = claims_of(config)
    quotes = [(c.id, comparable(c.text)) for c in claims]
    lines = []
    for raw in text.splitlines():
        words = comparable(raw)
        lines.append(ArticleLine(plain(raw), tuple(cid for cid, quote in quotes if contains(words, quote))))
    missing = tuple(c for c in overview(store, config, facets).claims if c.on_page is False)
    return ArticleView(url, local_stamp(at, config.timezone), tuple(lines), missing)

