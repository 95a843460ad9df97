"""ClinicalTrials.gov API v2 study records → Items. Pure: the decoded JSON of one study in, an Item
out; no I/O. Every field is checked for its type: any may be missing (`fields=` asks for a subset)
or odd. Partial dates ("2012-05") are kept as the registry gives them.

What is news about a study seen before (its status, phase, dates, posted results, a site recruiting
near the clinic) goes into `Item.tracked`, so the store turns a change into one update notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import Item
from ..sections import RECRUITING_NEAR, REGISTRY_SECTION
from ..text import plain

STUDY_PAGE = "https://clinicaltrials.gov/study/"  # the registry's public page of a study
REGISTRY = "ClinicalTrials.gov"  # shown as the item's venue
KIND = "trial registration"
NCT_RE = re.compile(r"NCT\d{8}")
# Registry text is Markdown-flavoured: "\[rHGG\]" means "[rHGG]".
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
RECRUITING = "RECRUITING"
PHASE_WORDS = {"EARLY_PHASE1": "Early Phase 1", "PHASE1": "Phase 1", "PHASE2": "Phase 2", "PHASE3": "Phase 3",
               "PHASE4": "Phase 4", "NA": "no phase (not a drug trial)"}


@dataclass(frozen=True, slots=True)
class Place:
    """A place of feeds.yaml's `near`: a study with a recruiting site there is marked."""

    city: str
    state: str | None = None
    country: str | None = None

    @property
    def label(self) -> str:
        return ", ".join(part for part in (self.city, self.state) if part)

    def holds(self, site: Mapping[str, Any]) -> bool:
        def same(mine: str | None, key: str) -> bool:
            return mine is None or plain(site.get(key)).casefold() == mine.casefold()

        return same(self.city, "city") and same(self.state, "state") and same(self.country, "country")


@dataclass(frozen=True, slots=True)
class Site:
    facility: str | None
    city: str | None
    state: str | None
    country: str | None
    status: str | None  # per-site recruitment status, e.g. RECRUITING; absent once a study ends

    def as_json(self) -> dict[str, str]:
        return {k: v for k in ("facility", "city", "state", "country", "status") if (v := getattr(self, k))}


def block(parent: Any, *path: str) -> Mapping[str, Any]:
    """The mapping at `path`, or an empty one when any step is missing or not a mapping."""
    for key in path:
        parent = parent.get(key) if isinstance(parent, Mapping) else None
    return parent if isinstance(parent, Mapping) else {}


def text(value: Any) -> str | None:
    return plain(MARKDOWN_ESCAPE.sub(r"\1", value)) or None if isinstance(value, str) else None


def paragraphs(value: Any) -> str | None:
    """Registry prose with its paragraphs kept (one per line), Markdown escapes undone."""
    if not isinstance(value, str):
        return None
    lines = (plain(MARKDOWN_ESCAPE.sub(r"\1", line)) for line in value.splitlines())
    return "\n".join(line for line in lines if line) or None


def texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(found for v in value if (found := text(v))))


def day(module: Mapping[str, Any], key: str) -> str | None:
    """A date struct's date as given: "2026-05-14" or "2026-05"."""
    found = text(block(module, key).get("date"))
    return found if found and re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", found) else None


def sites(locations: Any) -> tuple[Site, ...]:
    if not isinstance(locations, list):
        return ()
    return tuple(
        Site(text(s.get("facility")), text(s.get("city")), text(s.get("state")), text(s.get("country")), text(s.get("status")))
        for s in locations if isinstance(s, Mapping)
    )


def recruiting_near(found: Sequence[Site], overall: str | None, near: Sequence[Place]) -> tuple[str, ...]:
    """The places of `near` with a recruiting site. A site without a status of its own has the study's."""
    recruiting = [s.as_json() for s in found if (s.status or overall) == RECRUITING]
    return tuple(place.label for place in near if any(place.holds(site) for site in recruiting))


def study_item(study: Mapping[str, Any], *, source: str, near: Sequence[Place] = ()) -> Item:
    """One study as an Item; ValueError when it has no NCT number."""
    protocol = block(study, "protocolSection")
    ident = block(protocol, "identificationModule")
    nct = (text(ident.get("nctId")) or "").upper()
    if not NCT_RE.fullmatch(nct):
        raise ValueError(f"no NCT number ({nct[:20]!r})")
    status = block(protocol, "statusModule")
    design = block(protocol, "designModule")
    overall = text(status.get("overallStatus"))
    phases = texts(design.get("phases"))
    study_type = text(design.get("studyType"))
    enrolment = block(design, "enrollmentInfo")
    interventions = [i for i in block(protocol, "armsInterventionsModule").get("interventions") or [] if isinstance(i, Mapping)]
    intervention_names = tuple(dict.fromkeys(n for i in interventions if (n := text(i.get("name")))))
    conditions = texts(block(protocol, "conditionsModule").get("conditions"))
    found_sites = sites(block(protocol, "contactsLocationsModule").get("locations"))
    near_labels = recruiting_near(found_sites, overall, near)
    has_results = study.get("hasResults") is True
    dates = {label: day(status, key) for label, key in (
        ("start", "startDateStruct"), ("primary completion", "primaryCompletionDateStruct"),
        ("completion", "completionDateStruct"))}
    summary = [p for p in (paragraphs(block(protocol, "descriptionModule").get(k)) for k in ("briefSummary", "detailedDescription")) if p]
    derived = block(study, "derivedSection")
    mesh = texts([m.get("term") for key in ("conditionBrowseModule", "interventionBrowseModule")
                  for m in block(derived, key).get("meshes") or [] if isinstance(m, Mapping)])
    sponsor = text(block(protocol, "sponsorCollaboratorsModule", "leadSponsor").get("name"))
    tracked: list[tuple[str, str]] = []
    if overall:
        tracked.append(("status", overall))
    if phases:
        tracked.append(("phase", "/".join(phases)))
    tracked += [(label, value) for label, value in dates.items() if value]
    if has_results:
        tracked.append(("results", "posted"))
    if near_labels:
        tracked.append((RECRUITING_NEAR, "; ".join(near_labels)))
    count = enrolment.get("count")
    return Item(
        id=f"ctgov:{nct}",
        source=source,
        url=STUDY_PAGE + nct,
        title=text(ident.get("briefTitle")) or text(ident.get("officialTitle")) or nct,
        abstract="\n".join(summary) or None,
        date=day(status, "studyFirstPostDateStruct") or dates["start"],
        authors=(sponsor,) if sponsor else (),
        journal=REGISTRY,
        publication_types=(KIND.capitalize(), *([study_type.replace("_", " ").capitalize()] if study_type else []),
                           *(PHASE_WORDS.get(p, p) for p in phases)),
        mesh_headings=mesh,
        keywords=tuple(dict.fromkeys((*conditions, *intervention_names, *texts(block(protocol, "conditionsModule").get("keywords"))))),
        section=REGISTRY_SECTION,
        kind=KIND,
        tracked=tuple(tracked),
        identifiers=(f"nct:{nct}",),
        extra={
            "nct_id": nct,
            "official_title": text(ident.get("officialTitle")),
            "acronym": text(ident.get("acronym")),
            "overall_status": overall,
            "why_stopped": text(status.get("whyStopped")),
            "study_type": study_type,
            "phases": list(phases),
            "enrollment": count if isinstance(count, int) and not isinstance(count, bool) else None,
            "enrollment_type": text(enrolment.get("type")),
            "sponsor": sponsor,
            "conditions": list(conditions),
            "interventions": [{"name": n, **({"type": t} if (t := text(i.get("type"))) else {})}
                              for i in interventions if (n := text(i.get("name")))],
            "start_date": dates["start"],
            "primary_completion_date": dates["primary completion"],
            "completion_date": dates["completion"],
            "first_posted": day(status, "studyFirstPostDateStruct"),
            "last_update_posted": day(status, "lastUpdatePostDateStruct"),
            "has_results": has_results,
            "locations": [s.as_json() for s in found_sites],
            "recruiting_near": list(near_labels),
        },
    )


def studies_of(page: Mapping[str, Any]) -> Iterator[Any]:
    """The studies of a search page (`{"studies": [...]}`), or the one study of `/studies/NCT…`."""
    if "protocolSection" in page:
        yield page
        return
    found = page.get("studies")
    if isinstance(found, list):
        yield from found
