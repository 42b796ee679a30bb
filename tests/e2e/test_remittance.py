"""What payers did, end to end: submit to the mock, which adjudicates as payers do
(docs/harness.md), fetch, and read each claim's state, money and posting rows."""

from __future__ import annotations

import copy
import csv
import io
from decimal import Decimal
from typing import Any

from e2e.support import ACCOUNT, E2E

EXPECTED = {
    "SUN-PAID-1": "paid",
    "SUN-DENY-2": "denied",
    "SUN-NOPATIENT-3": "denied",
    "SUN-DEDUCT-4": "patient_responsibility",
    "SUN-COINS-5": "paid",
    "SUN-CROSSOVER-6": "forwarded",
    "SUN-PREDET-7": "predetermination",
    "SUN-NOTOURS-8": "not_our_claim",
    "SUN-REVERSE-9": "paid",
    "SUN-PLB-10": "paid",
}
"""Claim ids carrying the mock's triggers, and the state a biller expects of each."""


def _one_claim_per_case(data: dict[str, Any]) -> None:
    model = next(c for c in data["claims"] if c["id"] == "SUN-1004")
    data["claims"] = [copy.deepcopy(model) | {"id": claim_id} for claim_id in EXPECTED]


def test_each_payer_decision_reaches_its_state_money_and_posting_rows(e2e: E2E) -> None:
    claims = e2e.claims_file(change=_one_claim_per_case)
    e2e.ok("submit", str(claims), "--account", ACCOUNT)
    assert e2e.harness.wait_idle(30)
    e2e.ok("fetch", "--account", ACCOUNT)
    found = e2e.claims_by_id()
    assert {c: found[c]["state"] for c in EXPECTED} == EXPECTED

    for claim_id in EXPECTED:
        path = [h["state"] for h in found[claim_id]["history"]]
        # Office Ally's own 277CA, then the payer's, before the ERA
        assert "clearinghouse_accepted" in path and "acknowledged" in path, (claim_id, path)
    assert "CO-" in found["SUN-DENY-2"]["detail"]
    assert "PR-1" in found["SUN-DEDUCT-4"]["detail"]
    assert Decimal(found["SUN-DEDUCT-4"]["patient_responsibility"]) > 0
    assert (
        "patient owes" in found["SUN-COINS-5"]["detail"]
        and "PR-2" in (found["SUN-COINS-5"]["detail"])
    )
    assert "forwarded to" in found["SUN-CROSSOVER-6"]["detail"]
    reversed_claim = found["SUN-REVERSE-9"]
    assert "reversed" in [h["state"] for h in reversed_claim["history"]]
    assert "corrected, net paid" in reversed_claim["detail"]
    # the payer's claim number comes from the payer, never from Office Ally's trace
    for claim_id in EXPECTED:
        history = found[claim_id]["history"]
        clearinghouse = next(h for h in history if h["state"] == "clearinghouse_accepted")
        number = found[claim_id]["payer_claim_number"]
        assert number is None or number not in (clearinghouse["detail"] or "")

    summary = e2e.json("status", "--summary")
    states = {e["state"] for e in summary["states"]}
    assert set(EXPECTED.values()) <= states

    payments = e2e.json("remits", "list")
    assert len(payments) >= 2  # the reversal and its correction come in a later ERA
    rows = list(csv.DictReader(io.StringIO(e2e.ok("remits", "export").stdout)))
    for payment in payments:
        mine = [r for r in rows if r["trace_number"] == payment["trace_number"]]
        assert sum(Decimal(r["paid"]) for r in mine) == Decimal(payment["amount"]), payment
    assert any(r["row_type"] == "provider" and r["claim_id"] == "SUN-PLB-10" for r in rows)
    assert all("patient_name" not in r for r in rows)


def test_a_rejected_group_and_its_failed_file_reject_every_claim(e2e: E2E) -> None:
    """GROUPREJECT: the 999 rejects the functional group with no AK2, and Office Ally's
    File Summary reports the failed file; every claim in it is rejected, none lost."""

    def group_reject(data: dict[str, Any]) -> None:
        data["claims"][0]["id"] = "SUN-GROUPREJECT-1"

    e2e.ok("submit", str(e2e.claims_file(change=group_reject)), "--account", ACCOUNT)
    assert e2e.harness.wait_idle(30)
    fetched = e2e.json("fetch", "--account", ACCOUNT)
    kinds = {f["kind"] for f in fetched[0]["files"]}
    assert "999" in kinds and len(kinds) == 2, fetched  # the 999 and the File Summary
    claims = e2e.claims_by_id()
    assert {c["state"] for c in claims.values()} == {"rejected"}
    for claim in claims.values():
        details = " ".join(h["detail"] or "" for h in claim["history"])
        assert "999 rejected the functional group" in details
        files = [h["file"] or "" for h in claim["history"] if h["state"] == "rejected"]
        assert any(f.startswith("FS_HCFA_") for f in files), files  # the failed file's summary


def test_a_999_accepting_with_errors_lets_the_claim_go_on(e2e: E2E) -> None:
    def noted(data: dict[str, Any]) -> None:
        data["claims"] = [c for c in data["claims"] if c["id"] == "SUN-1004"]
        data["claims"][0]["id"] = "SUN-IK5E-1"

    e2e.ok("submit", str(e2e.claims_file(change=noted)), "--account", ACCOUNT)
    assert e2e.harness.wait_idle(30)
    e2e.ok("fetch", "--account", ACCOUNT)
    claim = e2e.claims_by_id()["SUN-IK5E-1"]
    assert claim["state"] == "paid"
    accepted = next(h for h in claim["history"] if h["state"] == "accepted")
    assert accepted["detail"].startswith("999 E:") and "errors noted" in accepted["detail"]
