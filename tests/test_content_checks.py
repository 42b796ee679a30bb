"""The content-checks validator: each rule fails on a bad claim and passes a good one."""

from __future__ import annotations

import copy
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from claimferry.claims import Claim, parse_claims
from claimferry.claims_input import load_claims
from claimferry.findings import Finding, Severity
from claimferry.manager import PluginManager
from claimferry.npi import npi_check_digit_ok
from claimferry.types import ValidationContext
from claimferry_checks.rules import check_claims
from claimferry_checks.tables import CLAIM_FILING_CODES, PLACES_OF_SERVICE, US_STATES

DATA = Path(__file__).parent / "data" / "claims"
SAMPLE = Path(__file__).parents[1] / "core" / "claimferry" / "data" / "sample_claims.yaml"
TODAY = date(2026, 11, 20)
CONTEXT = ValidationContext(account=None, today=TODAY)

BASE: dict[str, Any] = {
    "id": "T-1",
    "billing_provider": {
        "organization": "Sunrise ABA Therapy LLC", "npi": "1234567893", "tax_id": "123456789",
        "taxonomy": "103K00000X",
        "address": {"line1": "100 Main St", "city": "Springfield", "state": "IL",
                    "zip": "627011234"},
    },
    "payer": {"name": "AETNA", "id": "60054"},
    "subscriber": {
        "member_id": "W123456789", "first_name": "Ava", "last_name": "Smith",
        "birth_date": "1984-02-11", "gender": "F", "group_number": "GRP100", "filing_code": "CI",
        "address": {"line1": "22 Oak Ave", "city": "Springfield", "state": "IL", "zip": "62704"},
    },
    "patient": {
        "relationship": "child", "first_name": "Liam", "last_name": "Smith",
        "birth_date": "2019-06-30", "gender": "M",
        "address": {"line1": "22 Oak Ave", "city": "Springfield", "state": "IL", "zip": "62704"},
    },
    "place_of_service": "12",
    "prior_authorization": "PA778899",
    "diagnoses": ["F84.0", "F90.2"],
    "referring_provider": {"first_name": "Ruth", "last_name": "Adams", "npi": "1003000126"},
    "rendering_provider": {"first_name": "Maya", "last_name": "Chen", "npi": "1245319599",
                           "taxonomy": "103K00000X"},
    "service_facility": {
        "name": "Sunrise Peoria Center", "npi": "1987654328",
        "address": {"line1": "9 Lake Rd", "city": "Peoria", "state": "IL", "zip": "616021234"},
    },
    "lines": [
        {"service_date": "2026-11-02", "procedure": "97153", "modifiers": ["HN"], "units": 16,
         "charge": "480.00", "diagnosis_pointers": [1]},
        {"service_date": "2026-11-02", "service_end_date": "2026-11-06", "procedure": "97155",
         "modifiers": ["HO"], "units": 4, "charge": "200.00", "diagnosis_pointers": [1, 2]},
    ],
}  # fmt: skip

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``lines[0].procedure``-style paths in a nested dict; ``None`` deletes."""
    steps: list[str | int] = [name if name else int(index) for name, index in _STEP.findall(path)]
    node: Any = data
    for step in steps[:-1]:
        node = node[step]
    if value is None:
        del node[steps[-1]]
    else:
        node[steps[-1]] = value


def claim_with(edits: dict[str, Any]) -> Claim:
    raw = copy.deepcopy(BASE)
    for path, value in edits.items():
        _set(raw, path, value)
    return parse_claims({"claims": [raw]}, "test").claims[0]


def findings(edits: dict[str, Any]) -> list[Finding]:
    return list(check_claims([claim_with(edits)], CONTEXT))


def test_the_base_claim_is_clean() -> None:
    assert findings({}) == []


# (code, field reported, edits that break the rule, edits that satisfy it)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("NPI-CHECK-DIGIT", "billing_provider.npi",
     {"billing_provider.npi": "1234567890"}, {"billing_provider.npi": "1663419020"}),
    ("NPI-CHECK-DIGIT", "rendering_provider.npi",
     {"rendering_provider.npi": "1245319590"}, {"rendering_provider.npi": "1552384061"}),
    ("NPI-CHECK-DIGIT", "referring_provider.npi",
     {"referring_provider.npi": "1003000127"}, {"referring_provider.npi": "1928374655"}),
    ("NPI-CHECK-DIGIT", "service_facility.npi",
     {"service_facility.npi": "1987654320"}, {"service_facility.npi": "1700345675"}),
    ("NPI-SHAPE", "billing_provider.npi",
     {"billing_provider.npi": "123456789"}, {"billing_provider.npi": "1234567893"}),
    ("NPI-SHAPE", "rendering_provider.npi",
     {"rendering_provider.npi": "3245319599"}, {"rendering_provider.npi": "2000000006"}),
    ("ICD10-SHAPE", "diagnoses[0]", {"diagnoses[0]": "F8.40"}, {"diagnoses[0]": "F840"}),
    ("ICD10-SHAPE", "diagnoses[1]", {"diagnoses[1]": "296.30"}, {"diagnoses[1]": "S72.001A"}),
    ("DIAGNOSIS-DUPLICATE", "diagnoses[1]",
     {"diagnoses": ["F84.0", "F840"]}, {"diagnoses": ["F84.0", "F90.2"]}),
    ("PROCEDURE-SHAPE", "lines[0].procedure",
     {"lines[0].procedure": "9715"}, {"lines[0].procedure": "0001F"}),
    ("PROCEDURE-SHAPE", "lines[0].procedure",
     {"lines[0].procedure": "971533"}, {"lines[0].procedure": "0362T"}),
    ("PROCEDURE-SHAPE", "lines[1].procedure",
     {"lines[1].procedure": "H201"}, {"lines[1].procedure": "H2019"}),
    ("MODIFIER-SHAPE", "lines[0].modifiers[1]",
     {"lines[0].modifiers": ["HN", "G"]}, {"lines[0].modifiers": ["HN", "95", "GT", "59"]}),
    ("POS-CODE", "place_of_service", {"place_of_service": "30"}, {"place_of_service": "10"}),
    ("POS-CODE", "place_of_service", {"place_of_service": "2"}, {"place_of_service": "02"}),
    ("STATE-CODE", "subscriber.address.state",
     {"subscriber.address.state": "XX"}, {"subscriber.address.state": "DC"}),
    ("STATE-CODE", "patient.address.state",
     {"patient.address.state": "ON"}, {"patient.address.state": "PR"}),
    ("ZIP-SHAPE", "patient.address.zip",
     {"patient.address.zip": "6270"}, {"patient.address.zip": "627041234"}),
    ("ZIP-SHAPE", "subscriber.address.zip",
     {"subscriber.address.zip": "62704-1234"}, {"subscriber.address.zip": "62704"}),
    ("ZIP-PLUS4", "billing_provider.address.zip",
     {"billing_provider.address.zip": "62701"}, {"billing_provider.address.zip": "627011234"}),
    ("BILLING-ADDRESS-PO-BOX", "billing_provider.address",
     {"billing_provider.address.line1": "P.O. Box 12"},
     {"billing_provider.address.line1": "12 Box Elder Rd"}),
    ("TAX-ID-SHAPE", "billing_provider.tax_id",
     {"billing_provider.tax_id": "12-3456789"}, {"billing_provider.tax_id": "987654321"}),
    ("TAXONOMY-SHAPE", "rendering_provider.taxonomy",
     {"rendering_provider.taxonomy": "103K00000"}, {"rendering_provider.taxonomy": "103KA0000X"}),
    ("TAXONOMY-SHAPE", "billing_provider.taxonomy",
     {"billing_provider.taxonomy": "103K00000Y"}, {"billing_provider.taxonomy": None}),
    ("SERVICE-DATE-FUTURE", "lines[0].service_date",
     {"lines[0].service_date": "2026-11-21"}, {"lines[0].service_date": "2026-11-20"}),
    ("SERVICE-DATE-FUTURE", "lines[1].service_end_date",
     {"lines[1].service_end_date": "2026-11-25"}, {"lines[1].service_end_date": "2026-11-20"}),
    ("SERVICE-DATE-RANGE", "lines[1].service_end_date",
     {"lines[1].service_end_date": "2026-11-01"}, {"lines[1].service_end_date": "2026-11-02"}),
    ("TIMELY-FILING", "lines[0].service_date",
     {"lines[0].service_date": "2025-10-01"}, {"lines[0].service_date": "2025-11-25"}),
    ("BIRTH-DATE-FUTURE", "subscriber.birth_date",
     {"subscriber.birth_date": "2027-01-01"}, {"subscriber.birth_date": "1990-01-01"}),
    ("BIRTH-DATE-FUTURE", "patient.birth_date",
     {"patient.birth_date": "2026-12-01"}, {"patient.birth_date": "2026-11-01"}),
    ("BIRTH-DATE-AFTER-SERVICE", "patient.birth_date",
     {"patient.birth_date": "2026-11-05"}, {"patient.birth_date": "2026-11-02"}),
    ("BIRTH-DATE-AFTER-SERVICE", "subscriber.birth_date",
     {"patient": None, "subscriber.birth_date": "2026-11-03"},
     {"patient": None, "subscriber.birth_date": "2026-10-03"}),
    ("UNITS-NOT-POSITIVE", "lines[0].units", {"lines[0].units": 0}, {"lines[0].units": "0.5"}),
    ("CHARGE-NOT-POSITIVE", "lines[1].charge",
     {"lines[1].charge": "-5"}, {"lines[1].charge": "0.01"}),
    ("CHARGE-PRECISION", "lines[0].charge",
     {"lines[0].charge": "10.005"}, {"lines[0].charge": "10.500"}),
    ("DIAGNOSIS-POINTER-RANGE", "lines[1].diagnosis_pointers[1]",
     {"lines[1].diagnosis_pointers": [1, 3]}, {"lines[1].diagnosis_pointers": [2, 1]}),
    ("DIAGNOSIS-POINTER-RANGE", "lines[0].diagnosis_pointers[0]",
     {"lines[0].diagnosis_pointers": [0]}, {"lines[0].diagnosis_pointers": [2]}),
    ("DIAGNOSIS-POINTER-DUPLICATE", "lines[1].diagnosis_pointers[1]",
     {"lines[1].diagnosis_pointers": [2, 2]}, {"lines[1].diagnosis_pointers": [2]}),
    ("FILING-CODE", "subscriber.filing_code",
     {"subscriber.filing_code": "XX"}, {"subscriber.filing_code": "MB"}),
    ("SUBSCRIBER-ADDRESS", "subscriber.address",
     {"patient": None, "subscriber.address": None}, {"subscriber.address": None}),
    ("PAYER-CLAIM-NUMBER-UNUSED", "payer_claim_number",
     {"payer_claim_number": "2026310000123"},
     {"payer_claim_number": "2026310000123", "frequency": "void"}),
    ("PATIENT-IS-SUBSCRIBER", "patient",
     {"patient.first_name": "AVA", "patient.birth_date": "1984-02-11"},
     {"patient.first_name": "Ava"}),
    ("RENDERING-IS-BILLING", "rendering_provider",
     {"rendering_provider.npi": "1234567893"}, {"rendering_provider.npi": "1245319599"}),
    ("FACILITY-IS-BILLING", "service_facility",
     {"service_facility.address.line1": "100 MAIN ST", "service_facility.address.zip": "62701"},
     {"service_facility.address.line1": "100 Main St Annex"}),
    ("ZIP-PLUS4", "service_facility.address.zip",
     {"service_facility.address.zip": "61602"}, {"service_facility.address.zip": "616021234"}),
    ("X12-DELIMITER", "subscriber.member_id",
     {"subscriber.member_id": "W12*34"}, {"subscriber.member_id": "W12-34"}),
    ("X12-DELIMITER", "prior_authorization",
     {"prior_authorization": "PA~1"}, {"prior_authorization": "PA 1/B"}),
    ("X12-DELIMITER", "lines[0].id", {"lines[0].id": "L:1"}, {"lines[0].id": "L-1"}),
    ("X12-DELIMITER", "payer.id", {"payer.id": "6005^4"}, {"payer.id": "SX065"}),
    ("LINE-ID-DUPLICATE", "lines[1].id",
     {"lines[0].id": "A", "lines[1].id": "A"}, {"lines[0].id": "A", "lines[1].id": "B"}),
    ("LINE-ID-DUPLICATE", "lines[1].id",
     {"lines[1].id": "T-1-1"}, {"lines[1].id": "T-1-2"}),
    ("X12-TEXT", "patient.first_name",
     {"patient.first_name": "王"}, {"patient.first_name": "Zoë"}),
    ("X12-TEXT", "service_facility.address.city",
     {"service_facility.address.city": "—"}, {"service_facility.address.city": "Peoria"}),
]  # fmt: skip

WARNINGS = {
    ("PAYER-CLAIM-NUMBER-UNUSED", "payer_claim_number"),
    ("PATIENT-IS-SUBSCRIBER", "patient"),
    ("RENDERING-IS-BILLING", "rendering_provider"),
    ("FACILITY-IS-BILLING", "service_facility"),
    ("ZIP-PLUS4", "service_facility.address.zip"),
    ("TIMELY-FILING", "lines[0].service_date"),
}
"""Advice rather than a sure rejection; everything else in CASES is an error."""


def _case_id(case: tuple[str, str, dict[str, Any], dict[str, Any]]) -> str:
    return f"{case[0]}@{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rule_fails_on_a_bad_claim(case: tuple[str, str, dict[str, Any], dict[str, Any]]) -> None:
    code, field, bad, _ = case
    found = [(f.code, f.field) for f in findings(bad)]
    assert (code, field) in found
    finding = next(f for f in findings(bad) if (f.code, f.field) == (code, field))
    warning = (code, field) in WARNINGS
    assert finding.severity is (Severity.WARNING if warning else Severity.ERROR)
    assert finding.claim_id == "T-1" and finding.validator == "content-checks"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rule_passes_a_good_claim(case: tuple[str, str, dict[str, Any], dict[str, Any]]) -> None:
    code, _, _, good = case
    assert [f for f in findings(good) if f.code == code] == []


def test_many_errors_are_all_reported() -> None:
    claims = load_claims(DATA / "flawed" / "many_errors.yaml").claims
    found = {(f.claim_id, f.code, f.field) for f in check_claims(claims, CONTEXT)}
    provider = {
        ("NPI-CHECK-DIGIT", "billing_provider.npi"),
        ("TAX-ID-SHAPE", "billing_provider.tax_id"),
        ("TAXONOMY-SHAPE", "billing_provider.taxonomy"),
        ("ZIP-PLUS4", "billing_provider.address.zip"),
        ("BILLING-ADDRESS-PO-BOX", "billing_provider.address"),
    }
    expected = {(claim, code, field) for claim in ("BAD-1", "BAD-2") for code, field in provider}
    expected |= {
        ("BAD-1", "NPI-SHAPE", "rendering_provider.npi"),
        ("BAD-1", "X12-DELIMITER", "subscriber.member_id"),
        ("BAD-1", "FILING-CODE", "subscriber.filing_code"),
        ("BAD-1", "POS-CODE", "place_of_service"),
        ("BAD-1", "ICD10-SHAPE", "diagnoses[0]"),
        ("BAD-1", "DIAGNOSIS-DUPLICATE", "diagnoses[2]"),
        ("BAD-1", "PROCEDURE-SHAPE", "lines[0].procedure"),
        ("BAD-1", "MODIFIER-SHAPE", "lines[0].modifiers[0]"),
        ("BAD-1", "DIAGNOSIS-POINTER-RANGE", "lines[0].diagnosis_pointers[0]"),
        ("BAD-1", "DIAGNOSIS-POINTER-RANGE", "lines[0].diagnosis_pointers[1]"),
        ("BAD-1", "SERVICE-DATE-FUTURE", "lines[0].service_date"),
        ("BAD-1", "SERVICE-DATE-RANGE", "lines[1].service_end_date"),
        ("BAD-1", "BIRTH-DATE-FUTURE", "subscriber.birth_date"),
        ("BAD-1", "UNITS-NOT-POSITIVE", "lines[0].units"),
        ("BAD-1", "CHARGE-PRECISION", "lines[0].charge"),
        ("BAD-1", "CHARGE-NOT-POSITIVE", "lines[1].charge"),
        ("BAD-1", "SUBSCRIBER-ADDRESS", "subscriber.address"),
        ("BAD-2", "NPI-CHECK-DIGIT", "referring_provider.npi"),
        ("BAD-2", "STATE-CODE", "subscriber.address.state"),
        ("BAD-2", "ZIP-SHAPE", "subscriber.address.zip"),
        ("BAD-2", "X12-TEXT", "patient.first_name"),
        ("BAD-2", "BIRTH-DATE-AFTER-SERVICE", "patient.birth_date"),
        ("BAD-2", "LINE-ID-DUPLICATE", "lines[1].id"),
    }
    assert found == expected


def test_messages_never_quote_phi_or_values() -> None:
    claims = load_claims(DATA / "flawed" / "many_errors.yaml").claims
    secrets = {"Zed", "Quill", "W12*345", "2030-01-01", "20300101", "王", "2026-11-15",
               "1234567890", "12-3456789", "9715", "10.005", "1003000127"}  # fmt: skip
    for finding in check_claims(claims, CONTEXT):
        assert not [s for s in secrets if s in finding.message], finding


@pytest.mark.parametrize("path", [*sorted(DATA.glob("*.yaml")), SAMPLE], ids=lambda p: p.name)
def test_good_claim_files_have_no_errors(path: Path) -> None:
    found = list(check_claims(load_claims(path).claims, CONTEXT))
    assert [f for f in found if f.severity is Severity.ERROR] == []


def test_the_demo_claims_keep_the_canonical_two_and_stay_in_november() -> None:
    claims = load_claims(SAMPLE).claims
    assert [c.id for c in claims[:2]] == ["SUN-1001", "SUN-1002"]
    assert 2 <= len(claims) - 2 <= 3
    assert len({c.payer.id for c in claims}) >= 4
    dates = [line.service_date for c in claims for line in c.lines]
    dates += [line.service_end_date for c in claims for line in c.lines if line.service_end_date]
    assert all(date(2026, 11, 1) <= d <= date(2026, 11, 20) for d in dates)
    for claim in claims[2:]:
        assert claim.diagnoses[0] == "F84.0"
        assert claim.place_of_service in {"11", "12", "02", "10"}
        for line in claim.lines:
            assert "97151" <= line.procedure <= "97158"
            assert {"HN", "HO", "HP", "HM"} & set(line.modifiers)


@pytest.mark.parametrize(
    ("npi", "ok"),
    [("1234567893", True), ("1245319599", True), ("1003000126", True),
     ("1234567890", False), ("1245319598", False)],
)  # fmt: skip
def test_npi_check_digit(npi: str, ok: bool) -> None:
    assert npi_check_digit_ok(npi) is ok


def test_tables_hold_the_real_lists() -> None:
    assert {"02", "10", "11", "12", "27", "66", "99"} <= PLACES_OF_SERVICE.keys()
    assert not {"00", "28", "30", "59", "98"} & PLACES_OF_SERVICE.keys()
    assert len(US_STATES) == 50 + 1 + 8 + 3
    assert {"CI", "BL", "MB", "MC", "HM", "ZZ", "11", "17"} <= CLAIM_FILING_CODES.keys()
    assert len(CLAIM_FILING_CODES) == 23


def test_the_validator_is_registered_and_runs(plugin_manager: PluginManager) -> None:
    validators = {v.name: v for v in plugin_manager.enrollment_validators()}
    assert "content-checks" in validators
    validator = validators["content-checks"]
    assert validator.description
    bad = claim_with({"billing_provider.npi": "1234567890"})
    codes = [f.code for f in validator.check([bad], CONTEXT)]
    assert codes == ["NPI-CHECK-DIGIT"]
    assert list(validator.check([claim_with({})], CONTEXT)) == []
