"""The clinic's article for tests: the shared text (../shared/article, read in place, never copied)
and the default claims of feeds.yaml, plus an HTML page around the text, written here (the
project's own wrapper: a head, a script, a style, a navigation bar and a footer around the
shared paragraphs), as a CMS would serve it."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, corpus_root

FEEDS = PROJECT_ROOT / "feeds.yaml"


def article_dir() -> Path:
    return corpus_root().parent / "article"


def article_text() -> str:
    path = article_dir() / "ketamine-depression.txt"
    if not path.is_file():
        pytest.skip(f"the clinic's article is not at {path}: set WATCHER_CORPUS to the shared corpus")
    return path.read_text(encoding="utf-8")


def default_feeds() -> dict[str, Any]:
    return yaml.safe_load(FEEDS.read_text(encoding="utf-8"))


def default_article(url: str | None = None) -> dict[str, Any]:
    """feeds.yaml's own `article` block, with `url` set when given."""
    article = dict(default_feeds()["article"])
    if url:
        article["url"] = url
    return article


def default_topic() -> dict[str, Any]:
    """feeds.yaml's clinic topic (with its false friends), for configs that have only a PubMed source."""
    return {"ketamine_depression": default_feeds()["topics"]["ketamine_depression"]}


def html_page(text: str, *, extra_body: str = "", charset: str = "utf-8") -> str:
    """The article as an HTML page: each line of `text` a paragraph (a "- " line a list item)."""
    parts = []
    for line in text.splitlines():
        if line.startswith("- "):
            parts.append(f"<ul><li>{escape(line[2:])}</li></ul>")
        elif line.strip():
            parts.append(f"<p>{escape(line)}</p>")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="{charset}"><title>Ketamine for depression</title>'
        "<style>p { color: #333 }</style><script>var tracker = 'the FDA approved everything';</script></head>"
        '<body><nav><a href="/">Home</a> · <a href="/pain">Pain management</a> · Contact the FDA approved clinic</nav>'
        f'<main><article><h1>Ketamine for depression</h1>{"".join(parts)}{extra_body}</article></main>'
        "<footer>© the clinic</footer></body></html>\n"
    )
