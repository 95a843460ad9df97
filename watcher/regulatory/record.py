"""A watched product's openFDA answers → a `ProductSnapshot`. Pure: the decoded `results` of
drug/drugsfda (by application_number) and drug/label (by openfda.application_number) in, the
snapshot out. Every field may be missing or of the wrong type; text is flattened to plain text and
cut to a bounded length, links are https (Drugs@FDA documents) or built here (DailyMed, Drugs@FDA)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from ..sources.openfda_json import document_url, drug_name, fda_date, first, harmonised, iso, plain
from ..text import shorten
from .product import Document, Label, Marketed, ProductSnapshot, Submission

BOXED_CHARS = 600  # the board shows the opening; the hash covers the whole warning
INDICATIONS_CHARS = 400
FIELD_CHARS = 200  # codes, names, statuses: short in every real record
MAX_SUBMISSIONS = 1000  # far above any real application; a bound on hostile input
MAX_PRODUCTS = 200
MAX_DOCUMENTS = 20
MAX_URL = 2000  # real document links are short; a longer one is not shown as a link
# Where a label names its REMS, in the order the board reports the first one found.
REMS_SECTIONS = (("boxed_warning", "boxed warning"), ("warnings_and_cautions", "warnings and precautions"),
                 ("warnings", "warnings"), ("dosage_and_administration", "dosage and administration"),
                 ("indications_and_usage", "indications"), ("information_for_patients", "patient counselling"))
REMS_RE = re.compile(r"\bREMS\b|\bRisk Evaluation and Mitigation Strateg", re.I)
INDICATIONS_HEADING = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*)?INDICATIONS?\s*(?:AND|&)\s*USAGE\s*:?\s*", re.I)


def drugsfda_page(application: str) -> str:
    """The application's page on Drugs@FDA (it takes the digits: ApplNo=211243)."""
    digits = re.sub(r"\D", "", application)
    return f"https://www.accessdata.fda.gov/scripts/cder/daf/index.cfm?event=overview.process&ApplNo={digits}"


def dailymed_page(set_id: str) -> str:
    return f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={quote(set_id, safe='')}"


def web_link(value: Any) -> str:
    """A document link as an https URL, or "" when it is not an http(s) URL with a host (or is huge)."""
    url = document_url(plain(value)) if plain(value) else ""
    try:
        parts = urlsplit(url)
        return url if parts.scheme == "https" and parts.hostname and len(url) <= MAX_URL else ""
    except ValueError:
        return ""


def short(value: Any) -> str:
    return shorten(plain(value), FIELD_CHARS)


def snapshot_of(application: str, drugsfda: Sequence[Any] | None, labels: Sequence[Any] | None) -> ProductSnapshot:
    """None for either answer: openFDA had no match (404 NOT_FOUND)."""
    record = next((r for r in drugsfda or () if isinstance(r, dict) and plain(r.get("application_number")) == application),
                  None)
    label_records = [r for r in labels or () if isinstance(r, dict)]
    label = current_label(label_records)
    if record is None:
        return ProductSnapshot(application=application, found=False, label=label, labels=len(label_records),
                               drugsfda_url=drugsfda_page(application))
    return ProductSnapshot(
        application=application,
        found=True,
        drug=shorten(drug_name({**record, "products": _dicts(record.get("products"))}), FIELD_CHARS),
        sponsor=short(record.get("sponsor_name")),
        products=tuple(sorted(marketed(record), key=lambda p: p.number)),
        submissions=tuple(submissions(record)),
        label=label,
        labels=len(label_records),
        drugsfda_url=drugsfda_page(application),
    )


def marketed(record: Mapping[str, Any]) -> list[Marketed]:
    out = []
    for product in _dicts(record.get("products"))[:MAX_PRODUCTS]:
        ingredients = _dicts(product.get("active_ingredients"))
        strength = "; ".join(s for s in (short(i.get("strength")) for i in ingredients) if s)
        out.append(Marketed(number=short(product.get("product_number")), status=short(product.get("marketing_status")),
                            brand=short(product.get("brand_name")), form=short(product.get("dosage_form")),
                            route=short(product.get("route")), strength=shorten(strength, FIELD_CHARS)))
    return out


def submissions(record: Mapping[str, Any]) -> list[Submission]:
    out = []
    for s in _dicts(record.get("submissions"))[:MAX_SUBMISSIONS]:
        docs = [Document(type=short(d.get("type")) or "document", url=url, date=iso(fda_date(d.get("date"))))
                for d in _dicts(s.get("application_docs"))[:MAX_DOCUMENTS] if (url := web_link(d.get("url")))]
        out.append(Submission(
            type=short(s.get("submission_type")), number=short(s.get("submission_number")),
            status=short(s.get("submission_status")), date=iso(fda_date(s.get("submission_status_date"))),
            class_code=short(s.get("submission_class_code")), class_name=short(s.get("submission_class_code_description")),
            priority=short(s.get("review_priority")), documents=tuple(docs),
        ))
    # Oldest first, a stable order whatever order openFDA sends them in.
    return sorted(out, key=lambda s: (s.date or "", s.type != "ORIG", int(s.number) if s.number.isdigit() else 0, s.key))


def current_label(records: list[dict[str, Any]]) -> Label | None:
    """The application holder's latest label: repackagers' labels name the application too."""
    records = [r for r in records if short(r.get("set_id")) or short(first(harmonised(r).get("spl_set_id")))]
    if not records:
        return None

    def rank(record: dict[str, Any]) -> tuple[bool, str, int]:
        original = harmonised(record).get("is_original_packager") in (True, [True], "true", ["true"])
        day = iso(fda_date(record.get("effective_time"))) or ""
        version = plain(record.get("version"))
        return (original, day, int(version) if version.isdigit() else 0)

    record = max(records, key=rank)
    openfda = harmonised(record)
    set_id = short(record.get("set_id")) or short(first(openfda.get("spl_set_id")))
    boxed = plain(record.get("boxed_warning"))
    rems = next((name for key, name in REMS_SECTIONS if REMS_RE.search(plain(record.get(key)))), "")
    indications = INDICATIONS_HEADING.sub("", plain(record.get("indications_and_usage")))
    return Label(
        set_id=set_id,
        version=short(record.get("version")),
        effective=iso(fda_date(record.get("effective_time"))),
        spl_id=short(record.get("id")) or short(first(openfda.get("spl_id"))),
        manufacturer=short(first(openfda.get("manufacturer_name"))),
        boxed_warning=shorten(boxed, BOXED_CHARS),
        boxed_warning_sha256=hashlib.sha256(boxed.encode()).hexdigest() if boxed else "",
        indications=shorten(indications, INDICATIONS_CHARS),
        rems=rems,
        url=dailymed_page(set_id),
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
