"""`status` for a biller: filters by state, a summary with money, A/R aging, replacements."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimferry.cli import create_cli
from claimferry.database import inserted_id
from claimferry.ledger import BatchState, ClaimState, Ledger, NewClaim
from claimferry.manager import PluginManager

ACCOUNT = "sunrise"


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    led = Ledger.open(tmp_path / "state")
    led.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    return led


def sent(ledger: Ledger, control_number: int, days_ago: int, *claims: tuple[str, str, str]) -> int:
    """A delivered batch of (claim id, charge, frequency), sent ``days_ago`` days ago."""
    batch = ledger.record_batch(
        account=ACCOUNT,
        file_name=f"F{control_number}.txt",
        archive_path=Path("unused"),
        sha256="0" * 64,
        size=1,
        control_number=control_number,
        test=True,
        claims=[
            NewClaim(c, "00621", Decimal(charge), f"h-{c}-{control_number}", freq, None)
            for c, charge, freq in claims
        ],
    )
    ledger.set_batch_state(batch.id, BatchState.UPLOADED, remote_name=batch.file_name)
    when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    ledger.db.execute("UPDATE batches SET created_at = ? WHERE id = ?", (when, batch.id))
    return batch.id


def paid(ledger: Ledger, claim_id: str, amount: str, owed: str, state: ClaimState) -> None:
    """An 835's claim, as the remittance reader records it."""
    row = ledger.find_claim(ACCOUNT, claim_id)
    assert row is not None
    db = ledger.db
    payment = inserted_id(
        db,
        "INSERT INTO remit_payments (account, source_file, transaction_control_number, "
        "trace_number, trace_originator, payer_name, payer_id, payee_id, method, credit_debit, "
        "amount, recorded_at) VALUES (?, 'era.835', '1', ?, '1', 'PLAN', '00621', 'X', 'ACH', "
        "'C', ?, 'now')",
        (ACCOUNT, f"T-{claim_id}", amount),
    )
    db.execute(
        "INSERT INTO remit_claims (payment_id, claim_row, patient_control_number, status, state, "
        "charge, paid, patient_responsibility, filing_code, payer_claim_number, adjustments, "
        "remark_codes, segment_position) VALUES (?, ?, ?, '1', ?, '0', ?, ?, '12', '', '', '', 1)",
        (payment, row, claim_id, state, amount, owed),
    )
    ledger.answer_claim(row, state, detail="835", amount=Decimal(amount))


def status(pm: PluginManager, *args: str) -> Result:
    return CliRunner().invoke(create_cli(pm), ["status", *args])


@pytest.fixture
def book(ledger: Ledger) -> Ledger:
    sent(ledger, 1, 100, ("OLD-PAID", "100.00", "original"), ("OLD-OPEN", "200.00", "original"))
    sent(ledger, 2, 45, ("ACKED", "300.00", "original"), ("DENIED", "50.00", "original"))
    sent(ledger, 3, 2, ("NEW", "75.00", "original"), ("OLD-PAID", "100.00", "replacement"))
    paid(ledger, "OLD-PAID", "0", "0", ClaimState.PAID)  # lands on the replacement (latest)
    first = ledger.claims(claim_id="OLD-PAID")[0]
    ledger.answer_claim(first.row, ClaimState.PAID, detail="835 paid 80.00 of 100.00")
    ledger.update_claim(ACCOUNT, "ACKED", ClaimState.ACKNOWLEDGED, detail="277CA A2:20")
    paid(ledger, "DENIED", "0", "0", ClaimState.DENIED)
    ledger.update_claim(ACCOUNT, "NEW", ClaimState.ACCEPTED, detail="999 A")
    return ledger


def test_state_filter(book: Ledger, plugin_manager: PluginManager) -> None:
    result = status(plugin_manager, "--state", "denied,acknowledged", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(c["claim"] for c in json.loads(result.stdout)["claims"]) == ["ACKED", "DENIED"]

    result = status(plugin_manager, "--state", "paied")
    assert result.exit_code == 2
    assert "'paied' is not a claim state" in result.output and "patient_responsibility" in (
        result.output
    )


def test_overdue_lists_claims_without_a_final_answer_with_their_aging_bucket(
    book: Ledger, plugin_manager: PluginManager
) -> None:
    result = status(plugin_manager, "--overdue", "--json")
    assert result.exit_code == 0, result.output
    overdue = {c["claim"]: c for c in json.loads(result.stdout)["claims"]}
    # OLD-OPEN: uploaded 100 days ago; ACKED: acknowledged but no ERA after 45 days
    assert set(overdue) == {"OLD-OPEN", "ACKED"}
    assert overdue["OLD-OPEN"]["aging_bucket"] == "90+"
    assert overdue["ACKED"]["aging_bucket"] == "31-60"
    assert overdue["ACKED"]["overdue_reason"] == "no final answer after 30 days"

    text = status(plugin_manager, "--overdue").stdout
    assert "AGE" in text and "BUCKET" in text and "90+" in text


def test_summary_counts_money_and_aging(book: Ledger, plugin_manager: PluginManager) -> None:
    result = status(plugin_manager, "--summary", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_state = {e["state"]: e for e in report["states"]}
    assert by_state["paid"]["claims"] == 2
    assert by_state["uploaded"]["outstanding"] == "200.00"
    assert by_state["acknowledged"]["outstanding"] == "300.00"
    assert by_state["denied"]["outstanding"] == "0"
    assert report["aging"][ACCOUNT] == {"0-30": 1, "31-60": 1, "61-90": 0, "90+": 1}

    text = status(plugin_manager, "--summary").stdout
    assert "OUTSTANDING" in text and "open claims by age" in text


def test_a_replaced_claim_says_which_batch_replaced_it(
    book: Ledger, plugin_manager: PluginManager
) -> None:
    claims = json.loads(status(plugin_manager, "--claim", "OLD-PAID", "--json").stdout)["claims"]
    assert [c["replaced_by_batch"] for c in claims] == [3, None]
    assert "replaced by batch 3" in status(plugin_manager).stdout


def test_a_replaced_submission_is_neither_overdue_nor_outstanding(
    ledger: Ledger, plugin_manager: PluginManager
) -> None:
    sent(ledger, 1, 50, ("C9", "100.00", "original"))
    ledger.update_claim(ACCOUNT, "C9", ClaimState.ACKNOWLEDGED, detail="277CA A2:20")
    sent(ledger, 2, 40, ("C9", "100.00", "replacement"))
    overdue = json.loads(status(plugin_manager, "--overdue", "--json").stdout)["claims"]
    assert [(c["claim"], c["batch"]) for c in overdue] == [("C9", 2)]
    summary = json.loads(status(plugin_manager, "--summary", "--json").stdout)
    assert sum(Decimal(e["outstanding"]) for e in summary["states"]) == Decimal("100.00")
