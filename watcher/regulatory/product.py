"""What one fetch saw of a watched product: its Drugs@FDA record and its current label, reduced to
what the board shows and the diff compares. Stored as JSON in the `snapshots` table (kind
"regulatory", key the application number); read back tolerantly, as a snapshot written by an
older watcher may lack a field. All text is plain text; every renderer escapes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

KIND = "regulatory"  # the snapshots' kind


@dataclass(frozen=True, slots=True)
class Document:
    type: str = ""  # "Letter", "Label", "Review", …
    url: str = ""  # https
    date: str | None = None  # ISO


@dataclass(frozen=True, slots=True)
class Submission:
    type: str = ""  # ORIG | SUPPL
    number: str = ""
    status: str = ""  # AP (approved), TA (tentatively approved), …
    date: str | None = None  # the status date, ISO
    class_code: str = ""  # EFFICACY, LABELING, TYPE 1, …
    class_name: str = ""  # "Efficacy", "Labeling", "Type 1 - New Molecular Entity"
    priority: str = ""  # STANDARD, PRIORITY, …
    documents: tuple[Document, ...] = ()

    @property
    def key(self) -> str:
        """"SUPPL-12", as Drugs@FDA names a submission."""
        return f"{self.type or 'submission'}-{self.number or '?'}"

    @property
    def approved(self) -> bool:
        return self.status == "AP"

    def is_class(self, name: str) -> bool:
        """Of the class `name` ("efficacy", "labeling"), by its code or its description."""
        return self.class_code.lower().startswith(name) or self.class_name.lower().startswith(name)


@dataclass(frozen=True, slots=True)
class Marketed:
    """One product (a strength, a form) of the application and its marketing status."""

    number: str = ""  # "001"
    status: str = ""  # Prescription, Discontinued, Over-the-counter, None (Tentative Approval)
    brand: str = ""
    form: str = ""  # "SPRAY"
    route: str = ""  # "NASAL"
    strength: str = ""  # "EQ 28MG BASE"

    @property
    def described(self) -> str:
        """"001 (SPRAY, NASAL, EQ 28MG BASE)"."""
        parts = ", ".join(p for p in (self.form, self.route, self.strength) if p)
        return f"{self.number} ({parts})" if parts else self.number


@dataclass(frozen=True, slots=True)
class Label:
    """The current label naming the application (openFDA holds only the latest version)."""

    set_id: str
    version: str = ""
    effective: str | None = None  # ISO
    spl_id: str = ""
    manufacturer: str = ""
    boxed_warning: str = ""  # its opening, plain text; "" when the label has none
    boxed_warning_sha256: str = ""  # of the whole boxed warning: a change anywhere in it is seen
    indications: str = ""  # the opening of "Indications and usage", without its heading
    rems: str = ""  # the label section that names a REMS, e.g. "boxed warning"; "" when none does
    url: str = ""  # DailyMed

    @property
    def revision(self) -> str:
        return self.version or (f"spl-{self.spl_id}" if self.spl_id else "")


@dataclass(frozen=True, slots=True)
class ProductSnapshot:
    application: str  # NDA211243
    found: bool  # Drugs@FDA has the application (False: openFDA answered 404 NOT_FOUND)
    drug: str = ""  # "BRAND (generic name)", as openfda_json.drug_name writes it
    sponsor: str = ""
    products: tuple[Marketed, ...] = ()
    submissions: tuple[Submission, ...] = ()
    label: Label | None = None
    labels: int = 0  # how many labels name the application (repackagers list it too)
    drugsfda_url: str = ""  # the application's Drugs@FDA page

    # ---- what the board reads ----

    @property
    def original(self) -> Submission | None:
        """The original application's action: its approval when there is one."""
        originals = [s for s in self.submissions if s.type == "ORIG"]
        return next((s for s in originals if s.approved), originals[0] if originals else None)

    @property
    def efficacy_supplements(self) -> tuple[Submission, ...]:
        """Approved efficacy supplements (a new indication, a new population), oldest first."""
        found = [s for s in self.submissions if s.type == "SUPPL" and s.approved and s.is_class("efficacy")]
        return tuple(sorted(found, key=lambda s: (s.date or "", _number(s.number))))

    @property
    def latest_labeling(self) -> Submission | None:
        found = [s for s in self.submissions if s.type == "SUPPL" and s.approved and s.is_class("labeling")]
        return max(found, key=lambda s: (s.date or "", _number(s.number)), default=None)

    @property
    def rems_submissions(self) -> tuple[Submission, ...]:
        """Submissions whose class or documents name a REMS."""
        return tuple(s for s in self.submissions
                     if "rems" in f"{s.class_code} {s.class_name}".lower() or any("rems" in d.type.lower() for d in s.documents))

    def submission(self, key: str) -> Submission | None:
        return next((s for s in self.submissions if s.key == key), None)

    # ---- JSON ----

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ProductSnapshot:
        d = data if isinstance(data, dict) else {}
        label = d.get("label")
        return cls(
            application=_str(d.get("application")),
            found=bool(d.get("found")),
            drug=_str(d.get("drug")),
            sponsor=_str(d.get("sponsor")),
            products=tuple(Marketed(**_fields(Marketed, p)) for p in _list(d.get("products"))),
            submissions=tuple(
                Submission(**{**_fields(Submission, s, skip=frozenset({"documents"})),
                              "documents": tuple(Document(**_fields(Document, x)) for x in _list(s.get("documents")))})
                for s in _list(d.get("submissions"))
            ),
            label=Label(**_fields(Label, label)) if isinstance(label, dict) and label.get("set_id") else None,
            labels=labels if isinstance(labels := d.get("labels"), int) else 0,
            drugsfda_url=_str(d.get("drugsfda_url")),
        )


def _number(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, (list, tuple)) else []


def _fields(cls: Any, data: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The keys of `data` that are text fields of the dataclass `cls` (dates may be None)."""
    names = {f.name for f in fields(cls)} - skip
    return {k: v for k, v in data.items() if k in names and (isinstance(v, str) or (v is None and k in ("date", "effective")))}
