"""feeds.yaml `crossref`: where Crossref's REST API is, and how many DOIs to ask for at once.

    crossref:
      url: https://api.crossref.org/     # the default
      batch_size: 50                     # DOIs per request (1-100)

Without the block, Crossref is never asked: a third-party host is contacted only when feeds.yaml
names it (the shipped feeds.yaml does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..checks import between, check_keys, http_url, mapping, optional
from ..errors import ConfigError
from ..model import SourceConfig

CROSSREF = "crossref"  # the step's name in polls, `status` and the digest header
DEFAULT_URL = "https://api.crossref.org/"
KEYS = {"url", "batch_size"}


@dataclass(frozen=True, slots=True)
class CrossrefSettings:
    url: str = DEFAULT_URL
    batch_size: int = 50  # DOIs a request names (filter=doi:…,doi:…); the answer holds at most that many works


def parse_crossref(raw: Any, sources: Sequence[SourceConfig[Any]], path: str = CROSSREF) -> CrossrefSettings:
    raw = mapping(raw if raw is not None else {}, path, "a mapping with url (and optionally batch_size)")
    check_keys(raw, path, KEYS)
    if any(s.name == CROSSREF for s in sources):
        raise ConfigError(path, f"a source is named {CROSSREF!r}, the name the corrections check is recorded under; rename that source")
    return CrossrefSettings(url=optional(raw, "url", path, http_url, DEFAULT_URL),
                            batch_size=optional(raw, "batch_size", path, between(1, 100), 50))
