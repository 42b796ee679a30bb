"""One claim rejected in the 277CA, one denied in the 835, the rest paid (docs/harness.md)."""

from __future__ import annotations

import zipfile
from typing import Any

from e2e.support import ACCOUNT, E2E, segments

REJECTED = "SUN-REJECT-1001"
"""CLM01 matching the harness's ``reject_claim_ids`` (``REJECT``): 277CA ``A7:21``."""
DENIED = "SUN-DENY-1002"
"""CLM01 matching ``deny_claim_ids`` (``DENY``): 835 CLP02 ``4``, ``CO*50`` on every line."""


def _rename_claims(data: dict[str, Any]) -> None:
    data["claims"][0]["id"] = REJECTED
    data["claims"][1]["id"] = DENIED


def test_rejected_and_denied_claims_reach_their_states_with_reasons(e2e: E2E) -> None:
    claims = e2e.claims_file(change=_rename_claims)
    e2e.ok("submit", str(claims), "--account", ACCOUNT)
    responses = e2e.wait_answered(4)
    remit = next(p for p in responses if "_ERA_835_" in p.name)
    clp = {s[1]: s for s in segments(remit) if s[0] == "CLP"}
    assert sorted(clp) == sorted([DENIED, "SUN-1003", "SUN-1004"])  # no 835 for the rejected
    e2e.ok("fetch", "--account", ACCOUNT)

    claims_now = e2e.claims_by_id()
    rejected, denied = claims_now[REJECTED], claims_now[DENIED]

    assert rejected["state"] == "payer_rejected"
    assert any(
        "277CA" in (h["detail"] or "") and "A7:21" in h["detail"] for h in rejected["history"]
    )
    assert "REJECTED BY HARNESS RULE" in rejected["detail"]  # the EDI Status Report, read last
    states = [h["state"] for h in rejected["history"]]
    assert states[:3] == ["built", "uploaded", "accepted"] and states[-1] == "payer_rejected"
    assert "paid" not in states and "acknowledged" not in states
    assert rejected["payer_claim_number"] is None

    assert denied["state"] == "denied"
    assert denied["detail"].startswith("835 denied") and "CO-50" in denied["detail"]
    assert denied["history"][-1]["amount"] == "0"
    assert "acknowledged" in [h["state"] for h in denied["history"]]
    assert denied["payer_claim_number"] == "1000000010002"

    for claim_id in ("SUN-1003", "SUN-1004"):
        assert claims_now[claim_id]["state"] == "paid", claims_now[claim_id]
    # 97151 without a prior authorization: that line is denied CO-197, the claim is paid
    assert "CO-197" in claims_now["SUN-1003"]["detail"]

    # the table shows the reasons, and one claim's history shows each step with its file
    table = e2e.ok("status").stdout
    row = next(line for line in table.splitlines() if REJECTED in line)
    assert "payer_rejected" in row and "REJECTED BY HARNESS R" in row
    row = next(line for line in table.splitlines() if DENIED in line)
    assert " denied " in row and "CO-50" in row
    history = e2e.ok("status", "--claim", REJECTED).stdout
    assert f"claim {REJECTED}" in history and "now payer_rejected" in history
    assert "REJECTED BY HARNESS RULE reject_claim_ids" in history  # EDI_STATUS message
    assert next(p.name for p in responses if "_277CA_" in p.name) in history
    history = e2e.ok("status", "--claim", DENIED).stdout
    assert "now denied" in history and remit.name in history


def test_an_era_zipped_by_office_ally_is_fetched_and_read(e2e: E2E) -> None:
    """``*_ERA_STATUS_5010_<date>.zip``: the 835 inside pays the claims."""
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    responses = e2e.wait_answered(4)
    remit = next(p for p in responses if "_ERA_835_" in p.name)
    zipped = remit.with_name(remit.name.split("_")[0] + "_ERA_STATUS_5010_20261128.zip")
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ERA_SUMMARY.txt", "PAYMENT SUMMARY FOR PEOPLE\n")
        archive.write(remit, remit.name)
    remit.unlink()
    fetched = e2e.json("fetch", "--account", ACCOUNT)
    files = {f["name"]: f for f in fetched[0]["files"]}
    assert (files[zipped.name]["kind"], files[zipped.name]["error"]) == ("835", None)
    claims = e2e.claims_by_id()
    assert {c["state"] for c in claims.values()} == {"paid"}
    assert all(c["history"][-1]["file"] == f"{zipped.name}!{remit.name}" for c in claims.values())
