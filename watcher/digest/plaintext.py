"""The plain-text renderer: a week as text written for reading in a mail client (the text part of
the mail; the feed's entry summary). No markup to escape, so nothing is escaped: every value is
folded to one visible line (controls and bidirectional marks removed, `text.fold`), so untrusted
text cannot add lines, fake a heading or a link, or read differently from what it says. Prose is
wrapped to WIDTH columns; links are bare http(s) URLs on lines of their own, percent-encoded where
a space or a bracket would end them in a mail client.
"""

from __future__ import annotations

import textwrap
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from ..text import fold
from .headline import listing
from .view import DigestView

WIDTH = 76


class Lines(str):
    """Text this renderer laid out itself (wrapped, underlined): passed through as it is."""


def one_line(value: object) -> str:
    """Any value as one visible line of text; our own laid-out Lines as they are."""
    if isinstance(value, Lines):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return fold(value if isinstance(value, str) else "" if value is None else str(value))


@pass_context
def wrap(context: Context, text: str, indent: str = "", first: str | None = None) -> Lines:
    """Text folded to lines of at most the context's `width` columns (a longer word or URL stays
    whole), the first line starting with `first` (default: `indent`), the others with `indent`."""
    lead = indent if first is None else first
    return Lines(textwrap.fill(fold(text).strip(), context.get("width", WIDTH), initial_indent=lead, subsequent_indent=indent,
                               break_long_words=False, break_on_hyphens=False) or lead.rstrip())


def url(value: str | None) -> str:
    """A checked http(s) URL, with what would end it in a mail client's link detection percent-encoded."""
    return quote(one_line(value), safe="/:?#[]@!$&'*+,;=%~-._") if value else ""


def underline(text: str, char: str = "-") -> Lines:
    line = one_line(text).strip()
    return Lines(f"{line}\n{char * len(line)}")


ENV = Environment(
    loader=PackageLoader("watcher.digest", "templates"),
    autoescape=False,  # plain text: nothing to escape, every value folded to one line instead
    finalize=one_line,
    extensions=["jinja2.ext.do"],
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["wrap"] = wrap
ENV.filters["url"] = url
ENV.filters["underline"] = underline
ENV.filters["laid_out"] = Lines  # a macro's own lines: its values were folded already
ENV.filters["listing"] = listing


def render_week(view: DigestView, *, base: str | None = None) -> str:
    """`base`: where the pages are published (site_url), for the links to them; None: no such links."""
    return ENV.get_template("text.txt.j2").render(view=view, base=base)


def render_headline(view: DigestView, *, width: int = WIDTH) -> str:
    """The headline alone, as text (the feed's entry summary: a reader wraps it, so a wide `width`)."""
    return ENV.get_template("headline.txt.j2").render(view=view, width=width)
