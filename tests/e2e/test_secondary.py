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
    assert Decimal(other["remaining_patient_liability"]) == coinsurance

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
    # what the patient still owes on the visit: the primary's coinsurance less what the
    # secondary paid of it
    assert coinsurance - Decimal(secondary["paid"]) == 0

    history = e2e.ok("status", "--claim", PRIMARY).stdout
    assert f"next payer: secondary {SECONDARY} claim" in history
    history = e2e.ok("status", "--claim", SECONDARY).stdout
    assert f"bills the next payer for claim {PRIMARY}" in history
