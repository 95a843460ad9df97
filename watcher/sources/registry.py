"""feeds.yaml `type` → source class."""

from __future__ import annotations

from typing import Any


def source_types() -> dict[str, Any]:
    from .pubmed import PubmedSource

    return {"pubmed": PubmedSource}
