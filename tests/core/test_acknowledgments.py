"""999 and 277CA answers into claim states, on a real ledger, with files pyx12 accepts:
a rejected group with no AK2, IK5 E, the clearinghouse's 277CA apart from the payer's,
and STC12 kept."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claimferry.ledger import BatchState, ClaimState, Ledger, NewClaim
from claimferry.lifecycle import apply_response
from claimferry.manager import PluginManager
from support.x12judge import judge

ACCOUNT = "sunrise"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "state")
    led.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    return led


def sent(ledger: Ledger, control_number: int, *claim_ids: str) -> None:
    batch = ledger.record_batch(
        account=ACCOUNT,
        file_name=f"F{control_number}.txt",
        archive_path=Path("unused"),
        sha256="0" * 64,
        size=1,
        control_number=control_number,
        test=True,
        claims=[
            NewClaim(c, "00621", Decimal("100.00"), f"h-{c}", "original", None) for c in claim_ids
        ],
    )
    ledger.set_batch_state(batch.id, BatchState.UPLOADED, remote_name=batch.file_name)


def interchange(group: str, version: str, body: list[str]) -> str:
    st = body[0].split("*")[2]
    segments = [
        "ISA*00*          *00*          *ZZ*330897513      *ZZ*SUNRISE01      *261120*1200*^*00501"
        "*000000201*0*T*:",
        f"GS*{group}*330897513*SUNRISE01*20261120*1200*201*X*{version}",
        *body,
        f"SE*{len(body) + 1}*{st}",
        "GE*1*201",
        "IEA*1*000000201",
    ]
    return "~\n".join(segments) + "~\n"


def apply(ledger: Ledger, pm: PluginManager, tmp_path: Path, text: str, name: str) -> None:
    verdict = judge(text)
    assert verdict, verdict.errors
    path = tmp_path / name
    path.write_text(text, encoding="latin-1")
    apply_response(ledger, ACCOUNT, path, pm.response_readers(), name)


def states(ledger: Ledger) -> dict[str, tuple[ClaimState, str]]:
    return {c.claim_id: (c.state, c.detail or "") for c in ledger.claims(account=ACCOUNT)}


def test_a_999_rejecting_the_group_without_ak2_rejects_every_claim_of_the_batch(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, "C1", "C2")
    sent(ledger, 8, "C3")
    body = [
        "ST*999*0001*005010X231A1",
        "AK1*HC*7*005010X222A1",
        "AK9*R*1*1*0*5",
    ]
    apply(ledger, plugin_manager, tmp_path, interchange("FA", "005010X231A1", body), "7_999.999")
    found = states(ledger)
    assert {k: v[0] for k, v in found.items()} == {
        "C1": ClaimState.REJECTED,
        "C2": ClaimState.REJECTED,
        "C3": ClaimState.UPLOADED,
    }
    assert "999 rejected the functional group" in found["C1"][1]
    assert "AK9 5" in found["C1"][1]


def test_ik5_e_is_an_acceptance_that_carries_its_errors(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, "C1")
    body = [
        "ST*999*0001*005010X231A1",
        "AK1*HC*7*005010X222A1",
        "AK2*837*0007*005010X222A1",
        "IK3*REF*12**8",
        "IK4*2**6*XYZ",
        "IK5*E",
        "AK9*E*1*1*1",
    ]
    apply(ledger, plugin_manager, tmp_path, interchange("FA", "005010X231A1", body), "7_999.999")
    state, detail = states(ledger)["C1"]
    assert state is ClaimState.ACCEPTED
    assert detail.startswith("999 E:") and "errors noted" in detail and "REF" in detail


def _277(sender: list[str], claims: list[list[str]]) -> list[str]:
    body = [
        "ST*277*0001*005010X214",
        "BHT*0085*08*F7*20261120*1200*TH",
        "HL*1**20*1",
        *sender,
        "TRN*1*F7",
        "DTP*050*D8*20261120",
        "DTP*009*D8*20261120",
        "HL*2*1*21*1",
        "NM1*41*2*SUNRISE ABA*****46*SUNRISE01",
        "TRN*2*7",
        "STC*A1:19:PR*20261120*WQ*200",
        "QTY*90*1",
        "QTY*AA*1",
        "AMT*YU*100",
        "AMT*YY*100",
        "HL*3*2*19*1",
        "NM1*85*2*SUNRISE ABA*****XX*1234567893",
        "TRN*1*F7003",
        "STC*A1:19:PR**WQ*200",
    ]
    for number, claim in enumerate(claims, 4):
        body += [f"HL*{number}*3*PT", "NM1*QC*1*DOE*JANE****MI*M123456789", *claim]
    return body


CLEARINGHOUSE = ["NM1*AY*2*OFFICE ALLY*****46*330897513"]
PAYER = ["NM1*PR*2*SUNSHINE HEALTH PLAN*****PI*00621"]


def test_the_clearinghouse_277ca_is_its_own_step_and_its_ref_1k_no_payer_number(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, "C1", "C2")
    claims = [
        ["TRN*2*C1", "STC*A2:20:PR*20261120*WQ*100", "REF*1K*OA-TRACE-1", "DTP*472*D8*20261101"],
        [
            "TRN*2*C2",
            "STC*A7:562:85*20261120*U*100********BILLING NPI FAILS THE CHECK DIGIT",
            "DTP*472*D8*20261101",
        ],
    ]
    text = interchange("HN", "005010X214", _277(CLEARINGHOUSE, claims))
    apply(ledger, plugin_manager, tmp_path, text, "F7_277CA.277")
    found = states(ledger)
    assert found["C1"][0] is ClaimState.CLEARINGHOUSE_ACCEPTED
    assert "(clearinghouse)" in found["C1"][1] and "trace OA-TRACE-1" in found["C1"][1]
    assert found["C2"][0] is ClaimState.REJECTED
    assert "BILLING NPI FAILS THE CHECK DIGIT" in found["C2"][1]
    assert "entity 85" in found["C2"][1]
    # the clearinghouse's trace never becomes the number --resubmit puts in REF*F8
    assert {c.claim_id: c.payer_claim_number for c in ledger.claims(account=ACCOUNT)} == {
        "C1": None,
        "C2": None,
    }

    payer = [
        ["TRN*2*C1", "STC*A2:20:PR*20261121*WQ*100", "REF*1K*PAYER-123", "DTP*472*D8*20261101"]
    ]
    text = interchange("HN", "005010X214", _277(PAYER, payer))
    apply(ledger, plugin_manager, tmp_path, text, "F8_277CA.277")
    (c1,) = ledger.claims(claim_id="C1")
    assert c1.state is ClaimState.ACKNOWLEDGED
    assert c1.payer_claim_number == "PAYER-123"
    path = [e.state for e in ledger.claim_events(c1.row)]
    assert path[-2:] == [ClaimState.CLEARINGHOUSE_ACCEPTED, ClaimState.ACKNOWLEDGED]


def test_a_payer_277ca_rejection_keeps_its_free_text(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, "C1")
    claims = [
        [
            "TRN*2*C1",
            "STC*A7:21*20261121*U*100********SUBSCRIBER ID NOT FOUND, CHECK CARD",
            "DTP*472*D8*20261101",
        ]
    ]
    text = interchange("HN", "005010X214", _277(PAYER, claims))
    apply(ledger, plugin_manager, tmp_path, text, "F7_277CA.277")
    state, detail = states(ledger)["C1"]
    assert state is ClaimState.PAYER_REJECTED
    assert "SUBSCRIBER ID NOT FOUND, CHECK CARD" in detail


def test_a_clearinghouse_rejection_after_its_receipt_stands(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """Office Ally's A1 "received", then its A7: the claim is rejected, not left accepted."""
    sent(ledger, 7, "C1")
    received = [["TRN*2*C1", "STC*A1:19:40*20261120*WQ*100", "DTP*472*D8*20261101"]]
    text = interchange("HN", "005010X214", _277(CLEARINGHOUSE, received))
    apply(ledger, plugin_manager, tmp_path, text, "F7_277CA.277")
    assert states(ledger)["C1"][0] is ClaimState.CLEARINGHOUSE_ACCEPTED
    refused = [
        [
            "TRN*2*C1",
            "STC*A7:562:85*20261120*U*100********BILLING NPI FAILS THE CHECK DIGIT",
            "DTP*472*D8*20261101",
        ]
    ]
    text = interchange("HN", "005010X214", _277(CLEARINGHOUSE, refused))
    apply(ledger, plugin_manager, tmp_path, text, "F8_277CA.277")
    state, detail = states(ledger)["C1"]
    assert state is ClaimState.REJECTED and "BILLING NPI" in detail


def test_a_999_for_a_file_this_account_never_sent_moves_nothing(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """Files uploaded through Office Ally's portal are answered in the same mailbox."""
    sent(ledger, 7, "C1")
    body = ["ST*999*0001*005010X231A1", "AK1*HC*99*005010X222A1", "AK9*R*1*1*0*5"]
    apply(ledger, plugin_manager, tmp_path, interchange("FA", "005010X231A1", body), "99.999")
    assert {k: v[0] for k, v in states(ledger).items()} == {"C1": ClaimState.UPLOADED}


@pytest.mark.sqlite_only("counts the statements through SQLite's trace callback")
def test_a_277ca_looks_its_claims_up_together_not_one_by_one(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """On a database server each look-up is a round trip: 60 claims, a few statements."""
    ids = [f"B{n:02d}" for n in range(60)]
    sent(ledger, 7, *ids)
    claims = [[f"TRN*2*{c}", "STC*A2:20:PR*20261120*WQ*100", "DTP*472*D8*20261101"] for c in ids]
    text = interchange("HN", "005010X214", _277(PAYER, claims))
    statements: list[str] = []
    ledger.db.set_trace_callback(statements.append)  # type: ignore[union-attr]
    apply(ledger, plugin_manager, tmp_path, text, "F7_277CA.277")
    ledger.db.set_trace_callback(None)  # type: ignore[union-attr]
    assert {state for state, _ in states(ledger).values()} == {ClaimState.ACKNOWLEDGED}
    lookups = [s for s in statements if s.startswith("SELECT") and "FROM claims" in s]
    assert len(lookups) <= 2, lookups
