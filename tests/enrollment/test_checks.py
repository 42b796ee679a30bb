"""The enrollment validator: one test per rule, each failing without it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from claimferry.claims import Claim
from claimferry.config import Account
from claimferry.enrollment import EnrollmentEntry, set_enrollment
from claimferry.findings import Finding, Severity
from claimferry.ledger import Ledger
from claimferry.manager import PluginManager
from claimferry.submission import validate_claims
from claimferry.types import ValidationContext
from claimferry_officeally import enrollment_checks as checks
from claimferry_officeally.payers import PayerList, parse_payer_list
from enrollment.support import NPI, TAX_ID, claim_data, make_claims

ACCOUNT = Account(name="sunrise", clearinghouse="officeally", submitter_id="SUNRISE01")


@pytest.fixture
def state(tmp_path: Path, payers_csv: Path) -> Path:
    with PayerList.open(tmp_path) as store:
        store.replace(parse_payer_list(payers_csv), str(payers_csv))
    return tmp_path


def _enroll(
    state: Path, payer_id: str, transaction: str, status: str, tax_id: str = TAX_ID
) -> None:
    entry = EnrollmentEntry(
        npi=NPI, tax_id=tax_id, payer_id=payer_id, transaction=transaction, status=status
    )  # type: ignore[arg-type]
    with Ledger.open(state) as ledger:
        set_enrollment(ledger, "sunrise", entry, "test")


def _check(state: Path | None, *claims: Claim, account: Account | None = ACCOUNT) -> list[Finding]:
    context = ValidationContext(account=account, today=date.today(), state_dir=state)
    return list(checks.check_enrollment(claims, context))


def _codes(findings: list[Finding]) -> list[tuple[str, Severity, str | None]]:
    return [(f.code, f.severity, f.claim_id) for f in findings]


def _claim(payer_id: str, name: str = "SOME PAYER", claim_id: str = "C1") -> Claim:
    return make_claims(claim_data(claim_id, payer_id, name))[0]


def test_clean_claim_to_an_open_payer_has_no_findings(state: Path) -> None:
    assert _check(state, _claim("OPEN1")) == []


def test_unknown_payer_is_an_error(state: Path) -> None:
    [finding] = _check(state, _claim("NOPE1"))
    assert (finding.code, finding.severity, finding.field) == (
        checks.PAYER_UNKNOWN,
        Severity.ERROR,
        "payer.id",
    )
    assert "claimferry payers search" in finding.message


def test_unknown_payer_id_with_a_listed_name_suggests_its_837p_id(state: Path) -> None:
    [finding] = _check(state, _claim("OLD99", "open plan"))
    assert finding.code == checks.PAYER_UNKNOWN and "OPEN1" in finding.message


@pytest.mark.parametrize("other_id", ["ACRA1", "acel1"])
def test_an_id_for_another_transaction_suggests_the_837p_id(state: Path, other_id: str) -> None:
    [finding] = _check(state, _claim(other_id))
    assert (finding.code, finding.severity) == (checks.PAYER_ID_TRANSACTION, Severity.ERROR)
    assert "use its 837P payer ID ACME1" in finding.message


def test_an_id_with_no_claims_listing_says_to_bill_directly(state: Path) -> None:
    [finding] = _check(state, _claim("ELIG9"))
    assert finding.code == checks.PAYER_ID_TRANSACTION
    assert "takes no claims through Office Ally" in finding.message


@pytest.mark.parametrize("status", [None, "not-started", "submitted", "rejected"])
def test_claim_enrollment_not_approved_is_an_error(state: Path, status: str | None) -> None:
    _enroll(state, "ACRA1", "835", "approved")
    if status is not None:
        _enroll(state, "ACME1", "837P", status)
    [finding] = _check(state, _claim("ACME1"))
    assert (finding.code, finding.severity, finding.field) == (
        checks.EDI_ENROLLMENT,
        Severity.ERROR,
        "billing_provider.npi",
    )
    assert NPI in finding.message
    assert re.search(rf"\b{TAX_ID}\b", finding.message) is None  # may be an SSN


def test_approved_claim_enrollment_passes_but_only_for_the_same_tax_id(state: Path) -> None:
    _enroll(state, "ACRA1", "835", "approved")
    _enroll(state, "ACME1", "837P", "approved", tax_id="987654321")
    assert _codes(_check(state, _claim("ACME1"))) == [(checks.EDI_ENROLLMENT, Severity.ERROR, "C1")]
    _enroll(state, "acme1", "837P", "approved")
    assert _check(state, _claim("ACME1")) == []


def test_enrollment_required_by_one_plan_under_a_shared_id(state: Path) -> None:
    """TPA01 serves two plans; only one needs enrollment. The claim's payer name decides."""
    assert _check(state, _claim("TPA01", "Shared Admin")) == []
    assert _codes(_check(state, _claim("TPA01", "Plan Under Admin")))[0][0] == checks.EDI_ENROLLMENT
    assert _codes(_check(state, _claim("TPA01", "Unlisted Name")))[0][0] == checks.EDI_ENROLLMENT


def test_era_enrollment_missing_is_a_warning_naming_the_835_id(state: Path) -> None:
    _enroll(state, "ACME1", "837P", "approved")
    [finding] = _check(state, _claim("ACME1"))
    assert (finding.code, finding.severity) == (checks.ERA_ENROLLMENT, Severity.WARNING)
    assert "ACRA1" in finding.message and "30 days" in finding.message
    _enroll(state, "ACRA1", "835", "submitted")
    assert _codes(_check(state, _claim("ACME1")))[0][0] == checks.ERA_ENROLLMENT
    _enroll(state, "ACRA1", "835", "approved")
    assert _check(state, _claim("ACME1")) == []


def test_no_era_warning_when_the_payer_needs_no_era_enrollment(state: Path) -> None:
    assert _check(state, _claim("OPEN1")) == []


def test_non_par_payer_is_a_warning(state: Path) -> None:
    [finding] = _check(state, _claim("COST1"))
    assert (finding.code, finding.severity, finding.field) == (
        checks.NON_PAR,
        Severity.WARNING,
        "payer.id",
    )
    assert "fee" in finding.message


def _secondary(payer_id: str, responsibility: str = "secondary", claim_id: str = "C2") -> Claim:
    """A claim to ``payer_id`` after a primary payer that paid it in full."""
    primary = _claim(payer_id, claim_id=claim_id)
    other = {
        "responsibility": "primary",
        "payer": {"name": "FIRST PLAN", "id": "FIRST1"},
        "subscriber": {"member_id": "F1234567", "first_name": "Ava", "last_name": "Smith"},
        "relationship": "self",
        "filing_code": "CI",
        "paid": str(primary.total_charge),
        "adjudication_date": "2026-11-20",  # a later payer is billed once it adjudicated
    }
    return TypeAdapter(Claim).validate_python(
        {
            **claim_data(claim_id, payer_id),
            "payer_responsibility": responsibility,
            "other_payers": [other] if responsibility == "secondary" else [
                other, {**other, "responsibility": "secondary",
                        "payer": {"name": "SECOND PLAN", "id": "SECOND2"}}],
            "billing_provider": primary.billing_provider,
        }
    )  # fmt: skip


def test_secondary_claim_to_a_payer_without_electronic_secondary_is_an_error(state: Path) -> None:
    secondary = _secondary("OPEN1")
    assert checks.is_secondary(secondary) and not checks.is_secondary(_claim("OPEN1"))
    [finding] = _check(state, secondary)
    assert _codes([finding]) == [(checks.SECONDARY_NOT_ELECTRONIC, Severity.ERROR, "C2")]
    assert finding.message.startswith("this is a secondary claim and SOME PAYER (OPEN1) takes")
    tertiary = _secondary("OPEN1", "tertiary")
    assert [f.message[:24] for f in _check(state, tertiary)] == ["this is a tertiary claim"]
    to_costly = replace(secondary, payer=_claim("COST1").payer)
    assert [f.code for f in _check(state, to_costly)] == [checks.NON_PAR]


def test_payer_and_enrollment_rules_apply_to_the_secondary_payer(state: Path) -> None:
    """The claim's payer is the one billed now: the secondary, whose listing and
    enrollment count; the primary in other_payers (not on the list) is not checked."""
    assert [f.code for f in _check(state, _secondary("NOPE1"))] == [checks.PAYER_UNKNOWN]
    assert [f.code for f in _check(state, _secondary("ACME1"))] == [
        checks.EDI_ENROLLMENT,
        checks.ERA_ENROLLMENT,
    ]
    _enroll(state, "ACME1", "837P", "approved")
    _enroll(state, "ACRA1", "835", "approved")
    assert _check(state, _secondary("ACME1")) == []


def test_no_payer_list_is_one_warning_per_run(tmp_path: Path) -> None:
    claims = [_claim("ACME1", claim_id=f"C{i}") for i in range(3)]
    [finding] = _check(tmp_path, *claims)
    assert (finding.code, finding.severity, finding.claim_id) == (
        checks.PAYER_LIST_MISSING,
        Severity.WARNING,
        None,
    )
    assert "claimferry payers import" in finding.message
    assert not (tmp_path / "officeally_payers.sqlite3").exists()
    assert not (tmp_path / "ledger.sqlite3").exists()


def test_no_payer_list_in_production_is_an_error(tmp_path: Path) -> None:
    """Production claims must not go out with enrollment unchecked."""
    production = ACCOUNT.model_copy(update={"mode": "production"})
    [finding] = _check(tmp_path, _claim("ACME1"), account=production)
    assert (finding.code, finding.severity) == (checks.PAYER_LIST_MISSING, Severity.ERROR)


def test_nothing_without_an_account_a_state_dir_or_for_another_clearinghouse(
    state: Path,
) -> None:
    claim = _claim("NOPE1")
    assert _check(state, claim, account=None) == []
    assert _check(None, claim) == []
    other = ACCOUNT.model_copy(update={"clearinghouse": "otherhouse"})
    assert _check(state, claim, account=other) == []


def test_registered_as_an_enrollment_validator(plugin_manager: PluginManager, state: Path) -> None:
    [validator] = [v for v in plugin_manager.enrollment_validators() if v.name == checks.VALIDATOR]
    assert validator.kind == "enrollment"
    context = ValidationContext(account=ACCOUNT, today=date.today(), state_dir=state)
    findings = validate_claims(plugin_manager, [_claim("NOPE1")], context)
    assert [f.validator for f in findings if f.code == checks.PAYER_UNKNOWN] == [checks.VALIDATOR]
