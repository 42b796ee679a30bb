"""Behaviours that one planted bug each once slipped past, pinned end to end as well as
in the unit tests: modifiers reach the payer and come back, and control numbers are the
sender's, whatever the account is called."""

from __future__ import annotations

import csv
import io
from typing import Any

from e2e.support import ACCOUNT, E2E, claim_segments, component_separator, sample_data, segments


def test_every_modifier_reaches_the_payer_and_comes_back_for_posting(e2e: E2E) -> None:
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    (sent,) = e2e.inbound()
    separator = component_separator(sent)
    sent_claims = claim_segments(sent)
    expected: dict[str, list[list[str]]] = {}
    for claim in sample_data()["claims"]:
        expected[claim["id"]] = [
            [str(line["procedure"]), *(str(m) for m in line.get("modifiers", []))]
            for line in claim["lines"]
        ]
        sv1 = [s[1].split(separator)[1:] for s in sent_claims[claim["id"]] if s[0] == "SV1"]
        assert sv1 == expected[claim["id"]], claim["id"]  # the 837P carries every modifier

    assert e2e.harness.wait_idle(30)
    e2e.ok("fetch", "--account", ACCOUNT)
    rows = list(csv.DictReader(io.StringIO(e2e.ok("remits", "export").stdout)))
    came_back: dict[str, list[list[str]]] = {}
    for row in rows:
        if row["row_type"] == "line":
            modifiers = [m for m in row["modifiers"].split(":") if m]
            came_back.setdefault(row["claim_id"], []).append([row["procedure"], *modifiers])
    assert came_back, rows
    for claim_id, lines in came_back.items():
        assert sorted(lines) == sorted(expected[claim_id]), claim_id


def test_two_account_names_of_one_sender_never_share_a_control_number(e2e: E2E) -> None:
    """One login configured under two names (a renamed clinic, a second office) is one
    sender: its interchange control numbers continue, never restart."""
    same = e2e.accounts[ACCOUNT]
    e2e.add_account("sunrise-east", e2e.users[ACCOUNT], submitter_id=same["submitter_id"])
    claims = e2e.claims_file()
    e2e.ok("submit", str(claims), "--account", ACCOUNT)

    def renamed(data: dict[str, Any]) -> None:
        for claim in data["claims"]:
            claim["id"] = f"E-{claim['id']}"

    e2e.ok("submit", str(e2e.claims_file("east.yaml", change=renamed)), "--account", "sunrise-east")
    numbers = sorted(next(s for s in segments(path) if s[0] == "ISA")[13] for path in e2e.inbound())
    assert numbers == ["000000001", "000000002"]


def test_a_connection_dropped_after_the_rename_never_sends_the_file_again(e2e: E2E) -> None:
    """The rename happened but its answer was lost: the file is recognised as delivered
    (found under its final name), never uploaded a second time."""
    e2e.harness.faults.drop_after_rename = True
    claims = e2e.claims_file()
    first = e2e.run("submit", str(claims), "--account", ACCOUNT)
    e2e.harness.faults.clear()
    assert "Traceback" not in first.output
    e2e.ok("submit", str(claims), "--account", ACCOUNT)  # finishes the batch, sends nothing new
    assert len(e2e.inbound()) == 1
    assert e2e.harness.wait_idle(30)
    assert len(e2e.outbound()) == 5  # one FileID: the mock processed it once
    (batch,) = e2e.status()["batches"]
    assert batch["state"] == "uploaded"
    actions = [a["action"] for a in e2e.audit()]
    assert "upload-confirmed" in actions and "upload" not in actions, actions
