"""Coordination-of-benefits checks: a secondary claim's other payers must balance.

Payers reject a COB claim whose amounts do not add up (TR3 2320/2430 balancing),
so each of these is an error, found before anything is sent. Amounts are named
in the messages: they are not PHI, and the operator needs them to find the slip.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from claimferry.api import Adjustment, Claim, Finding, OtherPayer, Severity, ValidationContext
from claimferry_checks.tables import CLAIM_FILING_CODES

VALIDATOR = "content-checks"


def _error(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(Severity.ERROR, code, message, claim.id, field, VALIDATOR)


def _sum(adjustments: tuple[Adjustment, ...]) -> Decimal:
    return sum((a.amount for a in adjustments), Decimal(0))


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def check_other_payers(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Every other payer balances at line and claim level; none is the payer billed."""
    for index, other in enumerate(claim.other_payers):
        field = f"other_payers[{index}]"
        if other.payer.id == claim.payer.id:
            yield _error(
                "COB-PAYER-IS-DESTINATION",
                f"{field} is the payer this claim is sent to ({other.payer.id}); a payer "
                "cannot be both",
                claim,
                f"{field}.payer.id",
            )
        if other.filing_code not in CLAIM_FILING_CODES:
            yield _error(
                "FILING-CODE",
                "not an X12 claim filing indicator (e.g. CI commercial, BL Blue Cross, "
                "MB Medicare Part B, MC Medicaid, HM HMO)",
                claim,
                f"{field}.filing_code",
            )
        yield from _balance(claim, field, other)


def _balance(claim: Claim, field: str, other: OtherPayer) -> Iterator[Finding]:
    who = f"{other.payer.name} ({other.payer.id})"
    if not other.lines:
        if other.paid is None:
            return
        accounted = other.paid + _sum(other.adjustments)
        if accounted != claim.total_charge:
            yield _error(
                "COB-CLAIM-UNBALANCED",
                f"claim {claim.id}: the charge {_money(claim.total_charge)} is not what "
                f"{who} paid ({_money(other.paid)}) plus its adjustments "
                f"({_money(_sum(other.adjustments))}) = {_money(accounted)}",
                claim,
                f"{field}.paid",
            )
        return
    for number, line in enumerate(claim.lines, start=1):
        on_line = [a for a in other.lines if a.line == number]
        if not on_line:
            yield _error(
                "COB-LINE-NOT-ADJUDICATED",
                f"claim {claim.id} line {number}: {who} adjudicated other lines but not this "
                "one; give its adjudication (paid 0 and the adjustments if it was denied)",
                claim,
                f"{field}.lines",
            )
            continue
        paid = sum((a.paid for a in on_line), Decimal(0))
        adjusted = sum((_sum(a.adjustments) for a in on_line), Decimal(0))
        if paid + adjusted != line.charge:
            yield _error(
                "COB-LINE-UNBALANCED",
                f"claim {claim.id} line {number}: the charge {_money(line.charge)} is not what "
                f"{who} paid ({_money(paid)}) plus its adjustments ({_money(adjusted)}) "
                f"= {_money(paid + adjusted)}",
                claim,
                f"{field}.lines[{other.lines.index(on_line[0])}]",
            )
    lines_paid = sum((a.paid for a in other.lines), Decimal(0))
    expected = lines_paid - _sum(other.adjustments)
    if other.paid is not None and other.paid != expected:
        yield _error(
            "COB-PAID-UNBALANCED",
            f"claim {claim.id}: {who} paid {_money(other.paid)} on the claim, but its lines' "
            f"paid amounts ({_money(lines_paid)}) less its claim-level adjustments "
            f"({_money(_sum(other.adjustments))}) make {_money(expected)}",
            claim,
            f"{field}.paid",
        )
