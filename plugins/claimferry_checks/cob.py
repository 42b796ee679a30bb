"""Coordination-of-benefits checks: a secondary claim's other payers must balance.

Payers reject a COB claim whose amounts do not add up (TR3 2320/2430 balancing),
so each of these is an error, found before anything is sent. Amounts are named
in the messages: they are not PHI, and the operator needs them to find the slip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from claimferry.api import (
    ADJUSTMENT_REASONS,
    Adjustment,
    Claim,
    Finding,
    OtherPayer,
    Severity,
    ValidationContext,
)
from claimferry_checks.tables import CLAIM_FILING_CODES

VALIDATOR = "content-checks"
_REASON_CODE = re.compile(r"^(?:[1-9]\d{0,2}|[A-Z]\d{1,2})$")
"""A CARC: 1 to 3 digits (``45``, ``253``) or a letter and 1 or 2 digits (``B7``, ``P12``)."""


def _error(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(Severity.ERROR, code, message, claim.id, field, VALIDATOR)


MEDICARE_FILING_CODES = frozenset({"MA", "MB"})
MSP_TYPES = "e.g. 12 working aged, 43 disabled under 65 with a large group plan, 47 other liability"


def _warning(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(Severity.WARNING, code, message, claim.id, field, VALIDATOR)


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
        yield from _adjustment_codes(claim, field, other)
        yield from _adjudication_dates(claim, field, other, context.today)


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


def _adjustment_sets(
    field: str, other: OtherPayer
) -> Iterator[tuple[str, str, tuple[Adjustment, ...]]]:
    """Each CAS set of the other payer: its field, where it applies and its adjustments."""
    yield f"{field}.adjustments", "", other.adjustments
    for index, adjudicated in enumerate(other.lines):
        yield (
            f"{field}.lines[{index}].adjustments",
            f" line {adjudicated.line}",
            adjudicated.adjustments,
        )


def _adjustment_codes(claim: Claim, field: str, other: OtherPayer) -> Iterator[Finding]:
    """A CAS amount of zero and a malformed reason code are refused by payers; a code not
    in the CARC list may be newer than the list, or a typo: a warning."""
    for where, line, adjustments in _adjustment_sets(field, other):
        for index, adjustment in enumerate(adjustments):
            at = f"{where}[{index}]"
            label = f"claim {claim.id}{line}: {adjustment.group}-{adjustment.reason}"
            if adjustment.amount == 0:
                yield _error(
                    "COB-ADJUSTMENT-ZERO",
                    f"{label} adjusts 0.00: a CAS amount must not be zero; leave it out",
                    claim,
                    f"{at}.amount",
                )
            if not _REASON_CODE.match(adjustment.reason):
                yield _error(
                    "COB-ADJUSTMENT-REASON",
                    f"{label}: not a claim adjustment reason code (CARC: 1 to 3 digits, or a "
                    "letter and 1 or 2 digits, e.g. 45, B7)",
                    claim,
                    f"{at}.reason",
                )
            elif adjustment.reason not in ADJUSTMENT_REASONS:
                yield _warning(
                    "COB-ADJUSTMENT-REASON-UNKNOWN",
                    f"{label}: reason code {adjustment.reason} is not in claimferry's CARC list; "
                    "check it against the 835",
                    claim,
                    f"{at}.reason",
                )


def _adjudication_dates(
    claim: Claim, field: str, other: OtherPayer, today: date
) -> Iterator[Finding]:
    """A payer decides after the service and not after today: another date is a slip."""
    first_service = min(line.service_date for line in claim.lines)
    dated: list[tuple[str, str, date | None, date]] = [
        (f"{field}.adjudication_date", "", other.adjudication_date, first_service)
    ]
    for index, adjudicated in enumerate(other.lines):
        if 1 <= adjudicated.line <= len(claim.lines):
            served = claim.lines[adjudicated.line - 1].service_date
            at = f"{field}.lines[{index}].date"
            dated.append((at, f" line {adjudicated.line}", adjudicated.date, served))
    for at, line, decided, served in dated:
        if decided is None:
            continue
        if decided > today:
            yield _error(
                "COB-ADJUDICATION-DATE",
                f"claim {claim.id}{line}: adjudicated on {decided}, after today ({today})",
                claim,
                at,
            )
        elif decided < served:
            yield _error(
                "COB-ADJUDICATION-DATE",
                f"claim {claim.id}{line}: adjudicated on {decided}, before the service "
                f"date {served}",
                claim,
                at,
            )


def check_insurance_types(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Medicare billed after another payer needs its Medicare secondary payer type (SBR05),
    on the claim and on an other payer that is Medicare after another: Medicare rejects
    the claim without it (005010X222A1 2000B and 2320 SBR05)."""
    medicare = claim.subscriber.filing_code in MEDICARE_FILING_CODES
    if medicare and claim.payer_responsibility != "primary" and claim.insurance_type is None:
        yield _error(
            "INSURANCE-TYPE-MISSING",
            f"claim {claim.id}: Medicare ({claim.subscriber.filing_code}) billed as "
            f"{claim.payer_responsibility} needs its Medicare secondary payer type "
            f"(insurance_type, SBR05), {MSP_TYPES}",
            claim,
            "insurance_type",
        )
    for index, other in enumerate(claim.other_payers):
        if (
            other.filing_code in MEDICARE_FILING_CODES
            and other.responsibility != "primary"
            and other.insurance_type is None
        ):
            yield _error(
                "INSURANCE-TYPE-MISSING",
                f"claim {claim.id}: other_payers[{index}] is Medicare ({other.filing_code}) "
                f"as {other.responsibility} and needs its Medicare secondary payer type "
                f"(insurance_type, SBR05), {MSP_TYPES}",
                claim,
                f"other_payers[{index}].insurance_type",
            )
