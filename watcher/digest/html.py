"""The HTML renderer: one self-contained page per week (inline CSS, no script, no external
resource) and an index of all weeks. Jinja2 with autoescape on: every value from the view is
escaped for HTML; the only links are the view's http(s) links and our own relative file names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..store import OutputRecord
from .board import BoardView
from .dossier import AnnotatedArticle, Dossier
from .headline import listing
from .site import Site, week_lines
from .view import DigestView

ENV = Environment(
    loader=PackageLoader("watcher.digest", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def anchor(value: str) -> str:
    """An id attribute value from an item id or section key: letters, digits and '-' only."""
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "x"


ENV.filters["anchor"] = anchor
ENV.filters["listing"] = listing


def render_body(view: DigestView, *, base: str | None = "") -> str:
    """The page's content without the document around it: what the Atom feed carries."""
    return ENV.get_template("body.html.j2").render(view=view, base=base)


def render_week(view: DigestView, *, base: str | None = "") -> str:
    """The whole page. `base` prefixes our own links (the index, other weeks): "" on the site,
    `site_url` in a mail, None in a mail when the site's address is not known (no such links)."""
    return ENV.get_template("digest.html.j2").render(view=view, body=render_body(view, base=base), base=base)


def render_index(records: Sequence[OutputRecord], site: Site) -> str:
    return ENV.get_template("index.html.j2").render(digests=week_lines(records), site=site)


def render_board(board: BoardView) -> str:
    """The whole regulatory board, a self-contained page of its own."""
    return ENV.get_template("board_page.html.j2").render(board=board)


def render_dossier(dossier: Dossier) -> str:
    return ENV.get_template("claim.html.j2").render(dossier=dossier)


def render_article(article: AnnotatedArticle) -> str:
    return ENV.get_template("article.html.j2").render(a=article)
