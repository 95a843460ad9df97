"""feeds.yaml `type` → source class."""

from __future__ import annotations

from typing import Any


def source_types() -> dict[str, Any]:
    from .openfda import OpenfdaSource
    from .pubmed import PubmedSource
    from .rss import RssSource

    return {"pubmed": PubmedSource, "rss": RssSource, "openfda": OpenfdaSource}
