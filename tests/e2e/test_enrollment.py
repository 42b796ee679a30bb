"""Office Ally's real payer list and the account's enrollment records, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claimferry_harness import PayerList, ProcessingRules
from claimferry_harness.users import HarnessLogin
from e2e.support import ACCOUNT, E2E, final_names

UNKNOWN_PAYER = "ZZQ77"
"""Not on Office Ally's payer list, for any transaction."""
PAYER_LIST = "officeally_payer_list.csv"
BILLING = ("--npi", "1234567893", "--tax-id", "123456789")
"""The sample claims' billing provider."""


@pytest.fixture
def payer_list(e2e: E2E, samples_dir: Path) -> Path:
    """Office Ally's payer list imported into the account's state, and used by the harness."""
    path = samples_dir / PAYER_LIST
    result = e2e.ok("payers", "import", str(path))
    assert "imported 9604 listings" in result.stdout
    e2e.harness.rules = ProcessingRules(payers=PayerList.from_office_ally_csv(path))
    return path


def _unknown_payer(data: dict[str, Any]) -> None:
    """SUN-1001 goes to a payer ID Office Ally does not list; SUN-1004 (UHC) stays."""
    first, *_, last = data["claims"]
    first["payer"] = {"name": "NOWHERE HEALTH PLAN", "id": UNKNOWN_PAYER}
    data["claims"] = [first, last]


def test_unknown_payer_is_stopped_before_upload_and_rejected_a3_if_forced(
    e2e: E2E, payer_list: Path
) -> None:
    claims = e2e.claims_file(change=_unknown_payer)
    inbound = e2e.harness.inbound_dir(e2e.users[ACCOUNT].username)

    result = e2e.run("validate", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 2, result.output
    assert (
        f"error PAYER-UNKNOWN {claims}: claim SUN-1001: payer.id: payer ID {UNKNOWN_PAYER} "
        "is not on"
    ) in result.stdout
    assert "nothing was written or sent" in result.stderr
    report = json.loads(e2e.run("validate", str(claims), "--account", ACCOUNT, "--json").stdout)
    assert report["ok"] is False and report["error"]["code"] == "invalid-claims"
    assert [(f["code"], f["claim"]) for f in report["findings"] if f["severity"] == "error"] == [
        ("PAYER-UNKNOWN", "SUN-1001")
    ]

    result = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 2, result.output
    assert "PAYER-UNKNOWN" in result.stdout and "nothing was written or sent" in result.stderr
    assert list(inbound.iterdir()) == []
    assert e2e.status() == {"ok": True, "claims": [], "batches": []}

    # in test mode the check can be skipped: Office Ally's own 277CA then returns it
    # unprocessable (A3): a clearinghouse rejection, never seen by the payer
    e2e.ok("submit", str(claims), "--account", ACCOUNT, "--no-enrollment-check")
    assert len(final_names(inbound)) == 1
    e2e.wait_answered(4)
    e2e.ok("fetch", "--account", ACCOUNT)
    claims_now = e2e.claims_by_id()
    assert claims_now["SUN-1001"]["state"] == "rejected"
    detail = claims_now["SUN-1001"]["detail"]
    assert "A3:116" in detail and "(clearinghouse)" in detail
    assert "PAYER ID NOT ON THE PAYER LIST FOR 837P" in detail  # STC12, kept
    assert claims_now["SUN-1004"]["state"] == "paid"


def test_no_enrollment_check_is_refused_in_production(
    e2e: E2E, payer_list: Path, oa_user: HarnessLogin
) -> None:
    e2e.add_account("clinicprod", oa_user, mode="production", submitter_id="CLINICPROD")
    claims = e2e.claims_file(change=_unknown_payer)
    result = e2e.run("submit", str(claims), "--account", "clinicprod", "--no-enrollment-check")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert (
        "--no-enrollment-check is refused for account clinicprod: it is in production mode"
        in result.stderr
    )
    assert list(e2e.harness.inbound_dir(oa_user.username).iterdir()) == []
    assert e2e.status() == {"ok": True, "claims": [], "batches": []}


MIXED = {
    # claim: (payer ID, payer name) -- each from Office Ally's real list
    "SUN-1001": ("95327", "Alameda Alliance for Health"),  # EDI + ERA required, both approved
    "SUN-1002": ("CCA01", "Central California Alliance for Health (CCAH)"),  # EDI submitted
    "SUN-1003": ("13162", "1199 National Benefit Fund"),  # no EDI enrollment; ERA required
    "SUN-1004": ("DHRPM", "DHR Provider Management"),  # EDI required, rejected
}


def _mixed_payers(data: dict[str, Any]) -> None:
    for claim in data["claims"]:
        payer_id, name = MIXED[claim["id"]]
        claim["payer"] = {"name": name, "id": payer_id}


def _enroll(e2e: E2E, payer_id: str, transaction: str, status: str) -> None:
    result = e2e.ok(
        "enrollment",
        "set",
        "--account",
        ACCOUNT,
        *BILLING,
        "--payer-id",
        payer_id,
        "--transaction",
        transaction,
        "--status",
        status,
    )
    assert payer_id in result.stdout and status in result.stdout


def test_mixed_enrollment_states_give_one_grouped_report(e2e: E2E, payer_list: Path) -> None:
    _enroll(e2e, "95327", "837P", "approved")
    _enroll(e2e, "95327", "835", "approved")
    _enroll(e2e, "CCA01", "837P", "submitted")
    _enroll(e2e, "DHRPM", "837P", "rejected")
    claims = e2e.claims_file(change=_mixed_payers)

    result = e2e.run("validate", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stdout.splitlines() if "ENROLLMENT" in line]
    # errors first, each naming its claim and field; then the warnings; none for SUN-1001
    assert [(line.split()[:2], line.split(": ")[1]) for line in lines] == [
        (["error", "EDI-ENROLLMENT"], "claim SUN-1002"),
        (["error", "EDI-ENROLLMENT"], "claim SUN-1004"),
        (["warning", "ERA-ENROLLMENT"], "claim SUN-1002"),
        (["warning", "ERA-ENROLLMENT"], "claim SUN-1003"),
    ]
    assert "billing_provider.npi: " in lines[0] and "was submitted" in lines[0]
    assert "not approved yet" in lines[0] and "was rejected" in lines[1]
    assert result.stdout.splitlines()[-1].startswith("2 errors, ")
    assert "2 errors: nothing was written or sent" in result.stderr

    report = json.loads(e2e.run("validate", str(claims), "--account", ACCOUNT, "--json").stdout)
    assert report["ok"] is False and report["summary"]["claims"] == 4
    found = {(f["claim"], f["code"], f["severity"]) for f in report["findings"]}
    assert {
        ("SUN-1002", "EDI-ENROLLMENT", "error"),
        ("SUN-1002", "ERA-ENROLLMENT", "warning"),
        ("SUN-1003", "ERA-ENROLLMENT", "warning"),
        ("SUN-1004", "EDI-ENROLLMENT", "error"),
    } <= found
    assert not [f for f in report["findings"] if f["claim"] == "SUN-1001"]
    assert not [f for f in report["findings"] if f["code"] == "PAYER-LIST-MISSING"]

    # once both pending enrollments are approved, only warnings remain and the file is valid
    _enroll(e2e, "CCA01", "837P", "approved")
    _enroll(e2e, "DHRPM", "837P", "approved")
    result = e2e.ok("validate", str(claims), "--account", ACCOUNT)
    assert "4 claims" in result.stdout and "ok" in result.stdout
    assert "0 errors, " in result.stdout and "warning ERA-ENROLLMENT" in result.stdout
    assert not any(line.startswith("error") for line in result.output.splitlines())
