"""Applies :class:`ProcessingRules` to each claim: 277CA status, then 835 payment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from claimferry_harness.reader import Claim, ServiceLine
from claimferry_harness.rules import Adjustment, ProcessingRules

CENT = Decimal("0.01")

ACCEPTED = ("A2", "20", "")
UNKNOWN_PAYER = ("A3", "116", "PR")
REJECTED_BY_RULE = ("A7", "21", "")
OUT_OF_BALANCE = ("A7", "400", "")
INVALID_NPI = ("A7", "562", "85")


@dataclass(frozen=True)
class LineRemit:
    line: ServiceLine
    paid: Decimal
    adjustment: Adjustment | None
    adjusted: Decimal
    denied: bool = False


@dataclass(frozen=True)
class Remit:
    """One CLP: ``status`` is CLP02 (1 processed as primary, 4 denied)."""

    status: str
    lines: tuple[LineRemit, ...]

    @property
    def paid(self) -> Decimal:
        return sum((line.paid for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class Outcome:
    """A claim's fate: the 277CA status (category, code, entity) and, if accepted, its remit."""

    claim: Claim
    status: tuple[str, str, str]
    message: str
    payer_claim_number: str
    remit: Remit | None

    @property
    def accepted(self) -> bool:
        return self.status[0] in ("A1", "A2")


def valid_npi(npi: str) -> bool:
    """10 digits with a Luhn check digit over the prefix 80840 (CMS NPI standard)."""
    if not re.fullmatch(r"\d{10}", npi):
        return False
    total = 24  # the Luhn contribution of the implied prefix 80840
    for index, char in enumerate(reversed(npi)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def payer_claim_number(file_id: str, claim: Claim) -> str:
    """REF*1K / CLP07: the FileID and the claim's ordinal in the file (4 digits)."""
    return f"{file_id}{claim.ordinal:04d}"


def acknowledge(claim: Claim, rules: ProcessingRules) -> tuple[tuple[str, str, str], str]:
    """The 277CA status and the EDI_STATUS message; the first matching rule wins."""
    if not rules.payers.takes_claims(claim.payer_id):
        return UNKNOWN_PAYER, "PAYER ID NOT ON THE PAYER LIST FOR 837P"
    if rules.reject_claim_ids is not None and re.search(rules.reject_claim_ids, claim.claim_id):
        return REJECTED_BY_RULE, "REJECTED BY HARNESS RULE reject_claim_ids"
    if claim.charge.quantize(CENT) != claim.line_total.quantize(CENT):
        return OUT_OF_BALANCE, "CLAIM TOTAL DOES NOT EQUAL THE SUM OF THE LINE CHARGES"
    if rules.check_billing_npi and not valid_npi(claim.billing_npi):
        return INVALID_NPI, "BILLING PROVIDER NPI IS INVALID"
    return ACCEPTED, "ACCEPTED AND FORWARDED TO PAYER"


def remit(claim: Claim, rules: ProcessingRules) -> Remit:
    """The payer's decision for an accepted claim, line by line."""
    denied_claim = rules.deny_claim_ids is not None and re.search(
        rules.deny_claim_ids, claim.claim_id
    )
    lines = []
    for line in claim.lines:
        charge = line.charge.quantize(CENT)
        if denied_claim:
            lines.append(LineRemit(line, Decimal(0), rules.denial, charge, denied=True))
        elif line.procedure in rules.prior_auth_procedures and not (
            claim.prior_auth or line.prior_auth
        ):
            lines.append(LineRemit(line, Decimal(0), rules.prior_auth_denial, charge, denied=True))
        else:
            paid = (charge * rules.paid_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            rest = charge - paid
            lines.append(LineRemit(line, paid, rules.contractual if rest else None, rest))
    all_denied = bool(lines) and all(lr.denied for lr in lines)
    return Remit("4" if all_denied else "1", tuple(lines))


def adjudicate(claim: Claim, rules: ProcessingRules, file_id: str) -> Outcome:
    status, message = acknowledge(claim, rules)
    accepted = status[0] in ("A1", "A2")
    return Outcome(
        claim,
        status,
        message,
        payer_claim_number(file_id, claim),
        remit(claim, rules) if accepted else None,
    )
