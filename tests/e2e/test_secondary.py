"""Secondary billing end to end: the primary pays with coinsurance, `secondary build`
turns its 835 into a claim for the secondary payer, which pays the coinsurance."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import yaml

from e2e.support import ACCOUNT, E2E

PRIMARY = "SUN-COINS-21"
SECONDARY = PRIMARY + "S"


def _with_secondary_coverage(data: dict[str, Any]) -> None:
    """One claim to UnitedHealthcare (coinsurance in the mock) naming Aetna next."""
    claim = copy.deepcopy(next(c for c in data["claims"] if c["id"] == "SUN-1004"))
    claim["id"] = PRIMARY
    claim["other_payers"] = [
        {
            "responsibility": "secondary",
            "payer": {"name": "AETNA", "id": "60054"},
            "subscriber": {"member_id": "W99887766", "first_name": "Zoe", "last_name": "Okafor"},
            "relationship": "self",
            "filing_code": "CI",
        }
    ]
    data["claims"] = [claim]


def test_primary_coinsurance_is_paid_by_the_secondary(e2e: E2E) -> None:
    claims = e2e.claims_file(change=_with_secondary_coverage)
    e2e.ok("submit", str(claims), "--account", ACCOUNT)
    assert e2e.harness.wait_idle(30)
    e2e.ok("fetch", "--account", ACCOUNT)
    primary = e2e.claims_by_id()[PRIMARY]
    assert primary["state"] == "paid"
    coinsurance = Decimal(primary["patient_responsibility"])
    assert coinsurance > 0
    assert Decimal(primary["patient_balance"]) == coinsurance  # no secondary yet
    assert _patient_total(e2e) == coinsurance

    (payment,) = e2e.json("remits", "list")
    secondary_file = e2e.tmp / "secondary.yaml"
    built = e2e.ok(
        "secondary", "build", "--claims", str(claims), "--trace", payment["trace_number"],
        "--account", ACCOUNT, "-o", str(secondary_file),
    ).stdout  # fmt: skip
    assert f"claim {SECONDARY}: secondary claim to AETNA (60054) from claim {PRIMARY}" in built
    (claim,) = yaml.safe_load(secondary_file.read_text())["claims"]
    (other,) = claim["other_payers"]
    assert (other["payer"]["id"], Decimal(other["paid"])) == ("87726", Decimal(primary["paid"]))
    left = sum((Decimal(a["remaining_patient_liability"]) for a in other["lines"]), Decimal(0))
    assert left == coinsurance  # per line (2430 AMT*EAF)

    e2e.ok("submit", str(secondary_file), "--account", ACCOUNT)
    assert e2e.harness.wait_idle(30)
    e2e.ok("fetch", "--account", ACCOUNT)
    found = e2e.claims_by_id()
    secondary = found[SECONDARY]
    assert secondary["state"] == "paid"
    assert Decimal(secondary["paid"]) == coinsurance  # the secondary paid what was left
    assert Decimal(secondary["patient_responsibility"]) == 0  # the patient owes nothing
    assert found[PRIMARY]["state"] == "paid"
    assert found[PRIMARY]["paid"] == primary["paid"]  # the primary's record is unchanged
    # the primary's 835 still says coinsurance; the patient owes nothing on the visit
    assert Decimal(found[PRIMARY]["patient_responsibility"]) == coinsurance
    assert Decimal(found[PRIMARY]["patient_balance"]) == 0
    assert found[PRIMARY]["patient_balance_passed_to"] == SECONDARY
    assert Decimal(secondary["patient_balance"]) == 0
    assert _patient_total(e2e) == 0  # --summary counts the visit once

    history = e2e.ok("status", "--claim", PRIMARY).stdout
    assert f"next payer: secondary {SECONDARY} claim" in history
    assert f"patient balance 0.00 (the rest went to the next payer's claim {SECONDARY})" in history
    history = e2e.ok("status", "--claim", SECONDARY).stdout
    assert f"bills the next payer for claim {PRIMARY}" in history


def _patient_total(e2e: E2E) -> Decimal:
    """What `status --summary` says the patients owe, over every state."""
    summary = e2e.json("status", "--summary")
    return sum((Decimal(entry["patient_balance"]) for entry in summary["states"]), Decimal(0))
