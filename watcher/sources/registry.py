"""feeds.yaml `type` → source type. Adding a source is one line here (and its two modules)."""

from __future__ import annotations

from .base import SourceType
from .clinicaltrials import ClinicaltrialsSource
from .europepmc import EuropepmcSource
from .openfda import OpenfdaSource
from .pubmed import PubmedSource
from .rss import RssSource

# Each value is a class: its static `parse_settings` and class method `build` meet `SourceType`.
SOURCE_TYPES: dict[str, SourceType] = {
    "pubmed": PubmedSource,
    "rss": RssSource,
    "openfda": OpenfdaSource,
    "clinicaltrials": ClinicaltrialsSource,
    "europepmc": EuropepmcSource,
}
