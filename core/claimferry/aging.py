"""When a claim counts as overdue: the one definition behind ``status --overdue`` and
the overdue alerts, so an operator and an alert never disagree."""

from __future__ import annotations

from datetime import datetime, timedelta

from claimferry.ledger import Batch, BatchState, ClaimRecord, ClaimState

AWAITING = {ClaimState.UPLOADED, ClaimState.ACCEPTED}
"""States in which a claim waits for the clearinghouse or payer to acknowledge it."""
FINAL = frozenset(
    {
        ClaimState.PAID,
        ClaimState.PATIENT_RESPONSIBILITY,
        ClaimState.DENIED,
        ClaimState.FORWARDED,
        ClaimState.NOT_OUR_CLAIM,
        ClaimState.PREDETERMINATION,
        ClaimState.REJECTED,
        ClaimState.PAYER_REJECTED,
        ClaimState.FAILED,
        ClaimState.UNKNOWN,
    }
)
"""States with a final answer: nothing more is expected (a reversal awaits its correction)."""


def overdue_reason(
    record: ClaimRecord, sent_at: datetime | None, limits: tuple[float, int], now: datetime
) -> str | None:
    """Why a claim is overdue, or ``None``: no acknowledgment after hours, or no final
    answer (an ERA or a rejection) after the account's days."""
    hours, days = limits
    if record.state in AWAITING and (
        datetime.fromisoformat(record.updated_at) + timedelta(hours=hours) < now
    ):
        return f"no acknowledgment after {hours:g} hours"
    if record.state not in FINAL and sent_at is not None and sent_at + timedelta(days=days) < now:
        return f"no final answer after {days} days"
    return None


def replaced_submissions(records: list[ClaimRecord], batches: dict[int, Batch]) -> dict[int, int]:
    """Each submission a later replacement or void (frequency 7/8) of the same claim
    superseded, with the batch that did."""
    latest: dict[tuple[str, str], ClaimRecord] = {}
    found: dict[int, int] = {}
    for record in sorted(records, key=lambda r: r.row):
        key = (record.account, record.claim_id)
        earlier = latest.get(key)
        taken = record.batch_id is not None and (
            batches.get(record.batch_id) is None
            or batches[record.batch_id].state is not BatchState.FAILED
        )
        if not taken:
            continue
        if earlier is not None and record.frequency in ("replacement", "void"):
            assert record.batch_id is not None
            found[earlier.row] = record.batch_id
        latest[key] = record
    return found
