"""The digest's evidence sections and the flags an editor must see: read by sources (to validate a
configured section) and by every renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .checks import text
from .errors import ConfigError
from .model import Item


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    types: frozenset[str]  # PubMed publication types that put an item here


# In the order staff read them: strongest evidence first. An item goes to its configured section,
# else to the first section any of its publication types names, else to "other".
SECTIONS: tuple[Section, ...] = (
    Section("regulatory", "Regulatory", frozenset()),
    Section("synthesis", "Meta-analyses and systematic reviews", frozenset({"Meta-Analysis", "Systematic Review"})),
    Section("rct", "Randomised controlled trials", frozenset({"Randomized Controlled Trial", "Equivalence Trial"})),
    Section(
        "trial",
        "Other clinical trials",
        frozenset({
            "Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II", "Clinical Trial, Phase III",
            "Clinical Trial, Phase IV", "Controlled Clinical Trial", "Pragmatic Clinical Trial",
            "Adaptive Clinical Trial", "Clinical Trial Protocol",
        }),
    ),
    # Registered studies (ClinicalTrials.gov): planned or running, results not yet published.
    Section("registry", "Trial registrations", frozenset()),
    Section(
        "observational",
        "Observational studies",
        frozenset({"Observational Study", "Comparative Study", "Multicenter Study", "Twin Study", "Validation Study",
                   "Evaluation Study"}),
    ),
    Section("review", "Reviews", frozenset({"Review", "Scoping Review", "Systematic Review"})),
    Section("case", "Case reports", frozenset({"Case Reports"})),
    Section("other", "Other", frozenset()),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)
REGISTRY_SECTION = "registry"
# The `Item.tracked` label of the places near the clinic where a study recruits: shown as a flag.
RECRUITING_NEAR = "recruiting near"


def section_of(item: Item) -> str:
    if item.section in SECTION_KEYS:
        return item.section
    types = set(item.publication_types)
    return next((s.key for s in SECTIONS if types & s.types), "other")


def section_name(value: Any, path: str) -> str:
    """A feeds.yaml `section:` value."""
    key = text(value, path).lower()
    if key not in SECTION_KEYS:
        raise ConfigError(path, f"unknown section {key!r}; use one of: {', '.join(SECTION_KEYS)}")
    return key


def flags_of(item: Item) -> list[str]:
    """Warnings an editor must not miss before citing the item."""
    types = set(item.publication_types)
    kinds = {r.kind for r in item.related}
    flags = []
    if "Retracted Publication" in types or "RetractionIn" in kinds:
        flags.append("RETRACTED")
    if "Retraction of Publication" in types:
        flags.append("retraction notice")
    if "ExpressionOfConcernIn" in kinds or "Expression of Concern" in types:
        flags.append("expression of concern")
    if "Published Erratum" in types:
        flags.append("erratum notice")
    if "ErratumIn" in kinds:
        flags.append("has erratum")
    if "Preprint" in types:
        flags.append("preprint, not peer reviewed")
    return flags


def recruiting_flags(item: Item) -> list[str]:
    """"recruiting in Chicago, Illinois": what staff asking "anything near us?" look for. Not an
    editor flag (a change of it is an update notice, through `tracked`, not a correction)."""
    return [f"recruiting in {value}" for label, value in item.tracked if label == RECRUITING_NEAR]
