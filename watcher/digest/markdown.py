"""The Markdown renderer: every text the view holds is escaped here, at the last moment, so that
untrusted text stays inert (no links, HTML, emphasis or layout of its own) and reads as text.

The Jinja environment escapes every `{{ … }}` by default (its `finalize`), the way HTML autoescape
does. What is already Markdown passes as it is: a `Markup` value, which the `link` filters make of a
checked destination and the template's `safe` filter of a macro's output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..store import OutputRecord
from ..text import fold
from .board import BoardView
from .dossier import Dossier
from .headline import listing
from .site import Site, week_lines
from .view import DigestView

# The inline syntax text could trigger: code, emphasis, links and images, tables, strikethrough,
# math, raw HTML and autolinks (< >). A backslash before ASCII punctuation makes it literal.
MARKDOWN_PUNCT = re.compile(r"([\\`*_\[\]|~$<>])")
# "&" only where it would start a character reference ("&amp;", "&#64;"): elsewhere it is text.
ENTITY = re.compile(r"&(?=#\d{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# A backslash splits the text where a renderer would otherwise make a link of its own: a bare URL
# (GFM), and, for renderers that link fuzzily (markdown-it's linkify, as in VS Code's preview),
# any name.name (a top-level domain has two letters or more) and any e-mail address. "vs. placebo",
# "U.S." and "0.05" are left alone.
AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=[^\W_])\.(?=[^\W\d_]{2})|@")
# Some text starts a line of the digest (a byline, a type list, a quoted abstract); there a
# heading, list, blockquote, setext underline or thematic break marker would be live.
BLOCK_START = re.compile(r"^(?:[#+=-]|\d{1,9}(?=[.)](?:\s|$)))")


def escape(value: object) -> str:
    """Any text as inert Markdown inline text, on one line; Markup is already Markdown."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    # Folded, not stripped: the template's own literals (" · ") keep their spaces.
    text = fold(value if isinstance(value, str) else "" if value is None else str(value))
    text = MARKDOWN_PUNCT.sub(r"\\\1", text)
    text = ENTITY.sub(r"\\&", text)
    text = AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0), text)


def link(url: str | None) -> Markup | None:
    """A checked http(s) URL as a link destination: characters that could end it or open markup
    are percent-encoded, and "&" is escaped where it would start a character reference."""
    if not url:
        return None
    quoted = quote(url, safe="/:?#[]@!$&'*+,;=%~-._")
    return Markup(ENTITY.sub(r"\\&", quoted))


def link_path(path: str) -> Markup:
    """A file name of ours as a relative link destination."""
    return Markup(quote(path))


def slug(heading: str) -> Markup:
    """The anchor GitHub and GitLab give a heading of this text: lower case, punctuation other than
    "-" and "_" dropped, each space a "-"; percent-encoded as a link destination."""
    return Markup(quote(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")))


ENV = Environment(
    loader=PackageLoader("watcher.digest", "templates"),
    autoescape=False,  # Markdown, not HTML: `finalize` escapes for Markdown instead
    finalize=escape,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["link"] = link
ENV.filters["link_path"] = link_path
ENV.filters["slug"] = slug
ENV.filters["listing"] = listing


def render_week(view: DigestView) -> str:
    return ENV.get_template("digest.md.j2").render(view=view)


def render_index(records: Sequence[OutputRecord], site: Site) -> str:
    return ENV.get_template("index.md.j2").render(digests=week_lines(records), site=site)


def render_board(board: BoardView) -> str:
    """The whole regulatory board, a page of its own."""
    return ENV.get_template("board_page.md.j2").render(board=board)


def render_dossier(dossier: Dossier) -> str:
    return ENV.get_template("claim.md.j2").render(dossier=dossier)
