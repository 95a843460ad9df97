"""openFDA records → Items: Drugs@FDA submissions, label revisions and recalls. Pure: the decoded
JSON of one result in, Items out; no I/O. Every field is checked for its type, as any may be
missing or odd in a record (harmonised `openfda.*` fields cover only a subset of records)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from ..model import Item
from ..text import plain as plain_text
from ..text import shorten
from .window import DateWindow

SUMMARY_CHARS = 300
SECTION = "regulatory"  # every openFDA record is regulatory news
LABELS = {  # shown as the item's journal
    "drug/drugsfda": "Drugs@FDA (openFDA)",
    "drug/label": "Drug labels (openFDA)",
    "drug/enforcement": "Enforcement reports (openFDA)",
}


def fda_date(value: Any) -> date | None:
    """openFDA dates are YYYYMMDD strings; some fields and records write YYYY-MM-DD."""
    found = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", value.strip()) if isinstance(value, str) else None
    if not found:
        return None
    try:
        return datetime.strptime("".join(found.groups()), "%Y%m%d").date()
    except ValueError:
        return None


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def plain(value: Any) -> str:
    """Text of a field that may be a string or a list of strings (openFDA wraps most in lists)."""
    if isinstance(value, list):
        value = " ".join(v for v in value if isinstance(v, str))
    return plain_text(value)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [plain(v) for v in value if isinstance(v, str) and plain(v)] if isinstance(value, list) else []


def first(value: Any) -> str:
    found = strings(value)
    return found[0] if found else ""


def harmonised(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record's `openfda` block: empty (or absent) on many records."""
    block = record.get("openfda")
    return block if isinstance(block, dict) else {}


def names_of(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Brand, generic and substance names: the item's keywords, so the topic filter can match them."""
    openfda = harmonised(record)
    found: list[str] = []
    for key in ("brand_name", "generic_name", "substance_name"):
        found += strings(openfda.get(key))
    for product in record.get("products") or []:
        if isinstance(product, dict):
            found += strings(product.get("brand_name"))
            found += [plain(i.get("name")) for i in product.get("active_ingredients") or [] if isinstance(i, dict) and plain(i.get("name"))]
    return tuple(dict.fromkeys(n.upper() for n in found))


def drug_name(record: Mapping[str, Any]) -> str:
    """"BAYER (aspirin)", or whichever half is known."""
    openfda = harmonised(record)
    products = [p for p in record.get("products") or [] if isinstance(p, dict)]
    brand = first(openfda.get("brand_name")) or next((first(p.get("brand_name")) for p in products if first(p.get("brand_name"))), "")
    ingredients = (plain(i.get("name")) for p in products for i in p.get("active_ingredients") or [] if isinstance(i, dict))
    generic = first(openfda.get("generic_name")) or next((n for n in ingredients if n), "")
    if brand and generic and brand.lower() != generic.lower():
        return f"{brand.upper()} ({generic.lower()})"
    return (brand or generic).upper() or "unnamed product"


def https(url: str) -> str:
    """Drugs@FDA still lists many documents as http:// links to a host that serves https."""
    return "https://" + url[len("http://"):] if url[:7].lower() == "http://" else url


def document_url(url: str) -> str:
    """A Drugs@FDA document link, upgraded to https and percent-encoded where it holds spaces."""
    return https(quote(plain(url), safe=":/?#[]@!$&'()*+,;=%~-._"))


def submission_id(application: str, kind_code: str, number: str) -> str:
    """The stable id of one Drugs@FDA submission: the same from every path that lists it."""
    return f"openfda:drugsfda:{application}:{kind_code}:{number}"


def label_id(set_id: str, revision: str) -> str:
    return f"openfda:label:{set_id}:{revision}"


# The identifiers (works.py) that name one FDA record whichever path stored it: this source's
# listing and the regulatory board's change carry the same one, so they are one work.
def submission_key(application: str, kind_code: str, number: str) -> str:
    """"fda:NDA211243:SUPPL-24"."""
    return f"fda:{application}:{kind_code}-{number}"


def label_key(set_id: str, revision: str) -> str:
    """"spl:<set id>:<version>": one version of one label."""
    return f"spl:{set_id}:{revision}"


def search_url(base: str, path: str, field: str, value: str) -> str:
    """A public openFDA query for one record: a link that works without an api_key."""
    term = field + ':"' + value + '"'
    return f"{base}{path}?search={quote(term, safe=':')}"


SUBMISSION_TYPES = {"ORIG": "original application", "SUPPL": "supplement"}
STATUS_KINDS = {"AP": "approval", "TA": "tentative approval"}


def drugsfda_items(record: Mapping[str, Any], *, source: str, base: str, window: DateWindow) -> Iterator[Item]:
    """One item per submission whose status date falls in the window: a supplement appears once."""
    application = plain(record.get("application_number"))
    if not application:
        raise ValueError("no application_number")
    name, keywords = drug_name(record), names_of(record)
    sponsor = plain(record.get("sponsor_name"))
    for submission in record.get("submissions") or []:
        if not isinstance(submission, dict):
            continue
        day = fda_date(submission.get("submission_status_date"))
        if day not in window:
            continue
        kind_code, number = plain(submission.get("submission_type")), plain(submission.get("submission_number"))
        status = plain(submission.get("submission_status"))
        kind = STATUS_KINDS.get(status, f"action ({status or 'no status'})")
        klass = plain(submission.get("submission_class_code_description")) or plain(submission.get("submission_class_code"))
        docs = [d for d in submission.get("application_docs") or [] if isinstance(d, dict) and plain(d.get("url"))]
        doc = next((d for t in ("Letter", "Label") for d in docs if plain(d.get("type")) == t), docs[0] if docs else None)
        url = document_url(doc["url"]) if doc else search_url(
            base, "drug/drugsfda.json", "application_number", application)
        title = f"FDA {kind}: {name} {application} {SUBMISSION_TYPES.get(kind_code, kind_code.lower() or 'submission')}"
        title += f" {kind_code}-{number}" if kind_code and number else ""
        title += f" ({klass})" if klass else ""
        summary = [f"Drugs@FDA: {kind_code or 'submission'}-{number or '?'} to {application}"]
        summary[0] += f" ({sponsor})" if sponsor else ""
        summary[0] += f", status {status} on {iso(day)}"
        if klass:
            summary.append(f"class: {klass}")
        if plain(submission.get("review_priority")):
            summary.append(f"review priority: {plain(submission.get('review_priority'))}")
        if docs:
            summary.append("documents: " + ", ".join(dict.fromkeys(plain(d.get("type")) or "document" for d in docs)))
        yield Item(
            id=submission_id(application, kind_code, number),
            source=source,
            url=url,
            title=title,
            abstract="; ".join(summary) + ".",
            date=iso(day),
            journal=LABELS["drug/drugsfda"],
            publication_types=(kind,),
            keywords=keywords,
            section=SECTION,
            kind=kind,
            identifiers=(submission_key(application, kind_code, number),) if kind_code and number else (),
            extra={
                "application_number": application,
                "submission_type": kind_code, "submission_number": number, "submission_status": status,
                **({"sponsor": sponsor} if sponsor else {}),
            },
        )


_INDICATIONS_HEADING = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*)?INDICATIONS?\s*(?:AND|&)\s*USAGE\s*:?\s*", re.I)


def label_items(record: Mapping[str, Any], *, source: str, base: str, window: DateWindow) -> Iterator[Item]:
    openfda = harmonised(record)
    set_id = plain(record.get("set_id")) or first(openfda.get("spl_set_id"))
    version = plain(record.get("version"))
    spl_id = plain(record.get("id")) or first(openfda.get("spl_id"))
    if not set_id or not (version or spl_id):
        raise ValueError("no set_id and version (or SPL id)")
    revision = version or f"spl-{spl_id}"  # abridged records lack `version`: the SPL id is per version too
    day = fda_date(record.get("effective_time"))
    maker = first(openfda.get("manufacturer_name"))
    title = f"FDA label revision: {drug_name(record)}" + (f", {maker}" if maker else "")
    title += f" (version {version})" if version else ""
    indications = _INDICATIONS_HEADING.sub("", plain(record.get("indications_and_usage")))
    abstract = shorten(indications, SUMMARY_CHARS) if indications else None
    yield Item(
        id=label_id(set_id, revision),
        source=source,
        url=f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={quote(set_id, safe='')}",
        title=title,
        abstract=abstract,
        date=iso(day),
        journal=LABELS["drug/label"],
        publication_types=("label change",),
        keywords=names_of(record),
        section=SECTION,
        kind="label change",
        identifiers=(label_key(set_id, revision),),
        extra={
            "set_id": set_id, "version": version,
            **({"spl_id": spl_id} if spl_id else {}),
        },
    )


def enforcement_report_url(event_id: str) -> str:
    """The recall event's page in FDA's Enforcement Report (the site the enforcement data come from)."""
    return f"https://www.accessdata.fda.gov/scripts/ires/index.cfm?Event={quote(event_id, safe='')}"


def enforcement_items(record: Mapping[str, Any], *, source: str, base: str, window: DateWindow) -> Iterator[Item]:
    """A recall, keyed by its recall number; without one (openFDA's own documented example has
    none), by its recall event, which is as stable."""
    number, event = plain(record.get("recall_number")), plain(record.get("event_id"))
    if not number and not event:
        raise ValueError("no recall_number and no event_id")
    day = fda_date(record.get("report_date"))
    klass = plain(record.get("classification"))
    product = plain(record.get("product_description"))
    firm = plain(record.get("recalling_firm"))
    title = f"FDA recall{f' ({klass})' if klass else ''}: {shorten(product, 160) or 'product not described'}"
    title += f" — {firm}" if firm else ""
    parts = [f"Reason: {plain(record.get('reason_for_recall')) or 'not given'}"]
    for label, key in (("status", "status"), ("initiated", "recall_initiation_date"), ("distribution", "distribution_pattern")):
        value = plain(record.get(key))
        if key == "recall_initiation_date":
            value = iso(fda_date(value)) or value
        if value:
            parts.append(f"{label}: {value}")
    yield Item(
        id=f"openfda:enforcement:{number}" if number else f"openfda:enforcement:event:{event}",
        source=source,
        # The whole number, not its words; an event's page on FDA's Enforcement Report site.
        url=search_url(base, "drug/enforcement.json", "recall_number.exact", number) if number else enforcement_report_url(event),
        title=title,
        abstract=shorten("; ".join(parts) + ".", 600),
        date=iso(day),
        journal=LABELS["drug/enforcement"],
        publication_types=("recall",),
        keywords=names_of(record),
        section=SECTION,
        kind="recall",
        extra={
            **({"recall_number": number} if number else {}),
            **({"classification": klass} if klass else {}),
            **({"event_id": event} if event else {}),
        },
    )


Mapper = Callable[..., Iterator[Item]]
MAPPERS: dict[str, Mapper] = {
    "drug/drugsfda": drugsfda_items,
    "drug/label": label_items,
    "drug/enforcement": enforcement_items,
}
