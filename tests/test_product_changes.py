"""The snapshot diff, pure: each kind of change between two snapshots of a product, with its
sentence and its stable id; and the mapping of openFDA answers into a snapshot. The snapshots are
made from the project's own fixtures (tests/fixtures/openfda), then changed field by field."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from tests.upstreams import fixture
from tests.upstreams.openfda import results_of
from watcher.regulatory.changes import changes
from watcher.regulatory.product import Document, Marketed, ProductSnapshot, Submission
from watcher.regulatory.record import snapshot_of
from watcher.sources import openfda_json
from watcher.sources.window import DateWindow

APP = "NDA211243"


@pytest.fixture
def base() -> ProductSnapshot:
    return snapshot_of(APP, results_of(fixture("openfda", "drugsfda_spravato.json")), results_of(fixture("openfda", "label_spravato.json")))


def said(old: ProductSnapshot | None, new: ProductSnapshot) -> list[tuple[str, str]]:
    return [(c.id(APP), c.sentence) for c in changes(old, new)]


def test_the_first_snapshot_lists_nothing(base):
    assert changes(None, base) == ()


def test_the_same_record_twice_lists_nothing(base):
    again = ProductSnapshot.from_json(json.loads(json.dumps(base.to_json())))  # as read back from the store
    assert again == base and changes(base, again) == ()


def test_a_new_supplement(base):
    new = replace(base, submissions=(*base.submissions, Submission(
        "SUPPL", "14", "AP", "2026-11-20", "EFFICACY", "Efficacy", "PRIORITY",
        (Document("Label", "https://x.example/l.pdf"), Document("Letter", "https://x.example/ltr.pdf")))))
    (change,) = changes(base, new)
    assert (change.id(APP), change.sentence) == (
        "regulatory:NDA211243:submission:SUPPL-14:AP", "new supplement SUPPL-14 approved 2026-11-20 (Efficacy)")
    assert change.url == "https://x.example/ltr.pdf"  # the letter first, then the label
    assert change.same_as == "openfda:drugsfda:NDA211243:SUPPL:14"  # the openfda source's id for the same record
    assert change.detail == "class: Efficacy; review priority: PRIORITY; documents: Label, Letter" and change.kind == "approval"


def test_a_submission_newly_approved(base):
    tentative = replace(base, submissions=(*base.submissions, Submission("SUPPL", "15", "TA", "2026-10-01", "LABELING", "Labeling")))
    approved = replace(base, submissions=(*base.submissions, Submission("SUPPL", "15", "AP", "2026-11-21", "LABELING", "Labeling")))
    assert said(tentative, approved) == [
        ("regulatory:NDA211243:submission:SUPPL-15:AP", "SUPPL-15 now approved 2026-11-21 (Labeling); was tentatively approved")]
    assert changes(tentative, approved)[0].same_as is None  # news of its own: the listing of SUPPL-15 was its first status


def test_a_label_revision(base):
    label = replace(base.label, version="12", effective="2026-11-20")
    assert said(base, replace(base, label=label)) == [
        ("regulatory:NDA211243:label:6d9d5b4c-2a7e-4c49-8a2e-2b1f6f0e1c11:12",
         "label revised: version 12, effective 2026-11-20 (was version 11, effective 2025-01-21)")]


def test_a_new_submission_or_label_version_names_the_record_the_openfda_source_stores(base):
    # Both paths give the same record the same identifier, so whichever stores it first, the other's
    # record joins its work (works.py). The source's records are mapped from the same fixtures.
    record = results_of(fixture("openfda", "drugsfda_spravato.json"))[0]
    record["submissions"].append({"submission_type": "SUPPL", "submission_number": "14", "submission_status": "AP",
                                  "submission_status_date": "20261120", "submission_class_code": "EFFICACY"})
    [label] = [r for r in results_of(fixture("openfda", "label_spravato.json")) if r["set_id"] == base.label.set_id]
    label.update(version="12", effective_time="20261120")
    window = DateWindow(date(2026, 11, 1), date(2026, 11, 30))
    [listed] = [i for i in openfda_json.drugsfda_items(record, source="openfda", base="https://api.example/", window=window)
                if i.id.endswith(":14")]
    [labelled] = openfda_json.label_items(label, source="openfda", base="https://api.example/", window=window)
    new = snapshot_of(APP, [record], [label])
    submission, revision = changes(base, new)
    assert (submission.same_as, revision.same_as) == (listed.id, labelled.id)
    assert (submission.key, revision.key) == ("fda:NDA211243:SUPPL-14", "spl:6d9d5b4c-2a7e-4c49-8a2e-2b1f6f0e1c11:12")
    assert listed.identifiers == (submission.key,) and labelled.identifiers == (revision.key,)
    # A status change is news of its own: no shared identifier.
    tentative = replace(new, submissions=tuple(replace(s, status="TA") if s.key == "SUPPL-14" else s for s in new.submissions))
    assert [c.key for c in changes(tentative, new)] == [None]


@pytest.mark.parametrize(("before", "after", "sentence", "value"), [
    ("", "WARNING: NEW RISK. More.", "boxed warning added: “WARNING: NEW RISK. More.”", "new"),
    ("WARNING: OLD RISK.", "WARNING: NEW RISK. More.", "boxed warning changed; it now opens “WARNING: NEW RISK. More.”", "new"),
    ("WARNING: OLD RISK.", "", "boxed warning removed", "removed"),
])
def test_a_boxed_warning_added_changed_or_removed(base, before, after, sentence, value):
    import hashlib

    def with_warning(text: str, version: str) -> ProductSnapshot:
        digest = hashlib.sha256(text.encode()).hexdigest() if text else ""
        return replace(base, label=replace(base.label, version=version, boxed_warning=text, boxed_warning_sha256=digest))

    old, new = with_warning(before, "11"), with_warning(after, "12")
    found = {c.what: c for c in changes(old, new)}
    assert set(found) == {"label", "boxed-warning"}  # a new warning is always a new label version too
    assert found["boxed-warning"].sentence == sentence
    expected = (hashlib.sha256(after.encode()).hexdigest()[:16] if value == "new"
                else "removed:" + hashlib.sha256(before.encode()).hexdigest()[:16])
    assert found["boxed-warning"].value == expected


def test_marketing_status_changes(base):
    old = replace(base, products=(Marketed("001", "Prescription", "B", "SPRAY", "NASAL", "28MG"),
                                  Marketed("002", "Prescription", "B", "SPRAY", "NASAL", "56MG")))
    new = replace(base, products=(Marketed("001", "Discontinued", "B", "SPRAY", "NASAL", "28MG"),
                                  Marketed("003", "Prescription", "B", "SPRAY", "NASAL", "84MG")))
    assert said(old, new) == [
        ("regulatory:NDA211243:marketing-status:001:Discontinued",
         "product 001 (SPRAY, NASAL, 28MG): marketing status Prescription → Discontinued"),
        ("regulatory:NDA211243:marketing-status:003:Prescription", "new product 003 (SPRAY, NASAL, 84MG): Prescription"),
        ("regulatory:NDA211243:marketing-status:002:gone", "product 002 (SPRAY, NASAL, 56MG) is no longer listed"),
    ]


def test_a_record_that_appears_lists_itself_not_its_history(base):
    missing = snapshot_of(APP, None, None)
    assert said(missing, base) == [
        ("regulatory:NDA211243:record:found", "Drugs@FDA now lists NDA211243"),
        ("regulatory:NDA211243:label:6d9d5b4c-2a7e-4c49-8a2e-2b1f6f0e1c11:11",
         "a current label is in openFDA again: version 11, effective 2025-01-21"),
    ]
    assert said(base, missing) == [
        ("regulatory:NDA211243:record:not-found", "Drugs@FDA no longer finds NDA211243 (openFDA: NOT_FOUND)"),
        ("regulatory:NDA211243:label:none:6d9d5b4c-2a7e-4c49-8a2e-2b1f6f0e1c11:11",
         "no current label found in openFDA (was version 11, effective 2025-01-21)"),
    ]


def test_a_rems_no_longer_named(base):
    assert base.label.rems == "boxed warning"
    assert said(base, replace(base, label=replace(base.label, rems=""))) == [
        ("regulatory:NDA211243:rems:not-named", "a REMS is no longer named in the label or the submissions")]
    # Named in another section of the label: where it is said moved, which is not news.
    assert changes(base, replace(base, label=replace(base.label, rems="warnings and precautions"))) == ()


# ---- the mapping ----


def test_the_snapshot_of_our_fixtures(base):
    assert base.found and base.drug == "SPRAVATO (esketamine hydrochloride)" and base.sponsor == "JANSSEN PHARMS"
    assert [s.key for s in base.submissions] == ["ORIG-1", "SUPPL-12", "SUPPL-13"]  # oldest first
    assert base.original.date == "2019-03-05" and [s.key for s in base.efficacy_supplements] == ["SUPPL-12"]
    assert base.latest_labeling.key == "SUPPL-13"
    assert base.label.version == "11" and base.label.effective == "2025-01-21" and base.label.rems == "boxed warning"
    assert base.label.indications.startswith("SPRAVATO is a non-competitive")  # the heading is gone
    assert base.drugsfda_url.endswith("ApplNo=211243")


def test_the_holders_label_is_chosen_over_a_newer_repackagers():
    snapshot = snapshot_of("NDA016812", results_of(fixture("openfda", "drugsfda_ketalar.json")),
                           results_of(fixture("openfda", "label_ketalar.json")))
    assert snapshot.labels == 2 and snapshot.label.version == "21" and snapshot.label.manufacturer == "Par Pharmaceutical, Inc."
    # Drugs@FDA's http:// document links are upgraded.
    assert snapshot.latest_labeling.documents[1].url.startswith("https://www.accessdata.fda.gov/")


@pytest.mark.parametrize("odd", [
    {"application_number": APP, "submissions": "x", "products": 5, "sponsor_name": ["a", 3], "openfda": []},
    {"application_number": APP, "submissions": [None, 1, {"submission_number": {"a": 1}, "application_docs": [{"url": 7}]}]},
    {"application_number": APP, "products": [{"active_ingredients": "x", "marketing_status": None}]},
])
def test_odd_shapes_make_a_snapshot_not_an_error(odd):
    snapshot = snapshot_of(APP, [odd], [{"set_id": [7]}, "label", {"set_id": "s", "effective_time": "2026-13-45"}])
    assert snapshot.found and snapshot.application == APP
    assert snapshot.label is not None and snapshot.label.set_id == "s" and snapshot.label.effective is None
    assert ProductSnapshot.from_json(snapshot.to_json()) == snapshot


def test_a_record_of_another_application_is_not_taken_for_this_one():
    other = results_of(fixture("openfda", "drugsfda_ketalar.json"))
    assert not snapshot_of(APP, other, None).found
