"""Applies :class:`ProcessingRules`: the 999's review, both 277CAs, then the payer's 835.

Payers answer as the 5010 TR3 says they do: CLP02 1/2/3 means "processed as
primary/secondary/tertiary" (SBR01), and a denial is CLP02 1 with nothing
paid and CO adjustments. CLP02 4 is kept for a patient the payer cannot
identify (X12 RFIs 1423 and 1885).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from claimferry_harness.reader import (
    Claim,
    ElementError,
    Interchange,
    PriorPayment,
    SegmentError,
    ServiceLine,
)
from claimferry_harness.rules import Adjustment, OtherPayer, ProcessingRules

CENT = Decimal("0.01")
ZERO = Decimal(0)

RECEIVED = ("A1", "19", "40")  # the receiver of the 837 (the clearinghouse) has it
ACCEPTED = ("A2", "20", "")
UNKNOWN_PAYER = ("A3", "116", "PR")
REJECTED_BY_RULE = ("A7", "21", "")
OUT_OF_BALANCE = ("A7", "400", "")
INVALID_NPI = ("A7", "562", "85")
COB_OUT_OF_BALANCE = ("A7", "400", "")

PROCESSED_AS = {"P": "1", "S": "2", "T": "3"}
"""SBR01 payer responsibility -> CLP02 (other sequence codes count as primary)."""
UNKNOWN_PATIENT = "4"
FORWARDED = "19"  # processed as primary, forwarded to additional payer(s)
REVERSAL = "22"
NOT_OUR_CLAIM = "23"
PREDETERMINATION = "25"

NOTED_CLAIM_ID = ElementError(1, "1028", "I12")
"""The IK4 the mock notes on CLM01 for ``accepted_with_errors_claim_ids``."""


@dataclass(frozen=True)
class Adjusted:
    """One CAS adjustment: group, reason and amount."""

    adjustment: Adjustment
    amount: Decimal


@dataclass(frozen=True)
class LineRemit:
    """One SVC: ``allowed`` (AMT*B6) is ``None`` when the payer allowed nothing."""

    line: ServiceLine
    charge: Decimal
    paid: Decimal
    allowed: Decimal | None
    adjustments: tuple[Adjusted, ...]


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment: reason code, reference and amount (negative pays the provider)."""

    reason: str
    reference: str
    amount: Decimal


@dataclass(frozen=True)
class Remit:
    """One CLP: ``status`` is CLP02, ``charge`` CLP03 (negative in a reversal).

    ``claim_adjustments`` are claim-level CAS (a claim answered without lines);
    ``forwarded_to`` is the crossover payer (NM1*TT); ``remarks`` go in MOA.
    """

    status: str
    charge: Decimal
    lines: tuple[LineRemit, ...]
    claim_adjustments: tuple[Adjusted, ...] = ()
    forwarded_to: OtherPayer | None = None
    remarks: tuple[str, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()

    @property
    def paid(self) -> Decimal:
        """CLP04."""
        return sum((line.paid for line in self.lines), ZERO)

    @property
    def patient_responsibility(self) -> Decimal:
        """CLP05: every PR adjustment, at claim and line level."""
        adjusted = [*self.claim_adjustments, *(a for line in self.lines for a in line.adjustments)]
        return sum((a.amount for a in adjusted if a.adjustment.group == "PR"), ZERO)


@dataclass(frozen=True)
class Acknowledgment:
    """One 277CA answer: STC01 (category, code, entity) and the reason (STC12, EDI_STATUS)."""

    status: tuple[str, str, str]
    message: str

    @property
    def accepted(self) -> bool:
        return self.status[0] in ("A1", "A2")


@dataclass(frozen=True)
class Outcome:
    """A claim's fate: the clearinghouse's 277CA, the payer's 277CA and the ERAs.

    ``payer`` is ``None`` when the clearinghouse rejected the claim (the payer
    never saw it). ``remit`` is in the first ERA; ``later`` in a later ERA.
    """

    claim: Claim
    clearinghouse: Acknowledgment
    payer: Acknowledgment | None
    clearinghouse_trace: str
    payer_claim_number: str
    remit: Remit | None
    later: tuple[Remit, ...] = ()

    @property
    def accepted(self) -> bool:
        """The last word on the claim, the payer's when it got the claim, is acceptance."""
        return (self.payer or self.clearinghouse).accepted


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
    """The payer's REF*1K / CLP07: the FileID and the claim's ordinal in the file (4 digits)."""
    return f"{file_id}{claim.ordinal:04d}"


def clearinghouse_trace(file_id: str, claim: Claim) -> str:
    """Office Ally's claim ID (its 277CA REF*1K), never the payer's number: 10 digits,
    the FileID's last six and the claim's ordinal."""
    return f"{int(file_id) % 10**6:06d}{claim.ordinal:04d}"


# --- the 999: what the front end notes or refuses -------------------------------


def review(interchange: Interchange, rules: ProcessingRules) -> None:
    """Apply the 999 rules of CLM01 to a read interchange (in place).

    A group holding a claim that matches ``group_reject_claim_ids`` is refused
    whole; a transaction set holding one that matches
    ``accepted_with_errors_claim_ids`` is accepted with that CLM01 noted.
    """
    for group in interchange.groups:
        claims = [c for t in group.accepted_transactions for c in t.claims]
        if any(rules.matches("group_reject_claim_ids", c.claim_id) for c in claims):
            group.refused = True
            continue
        for txn in group.accepted_transactions:
            for claim in txn.claims:
                if rules.matches("accepted_with_errors_claim_ids", claim.claim_id):
                    noted = SegmentError("CLM", claim.position, "2300", "8", NOTED_CLAIM_ID)
                    txn.noted.append(noted)


# --- the 277CAs -------------------------------------------------------------------


def clearinghouse_check(claim: Claim, rules: ProcessingRules) -> Acknowledgment:
    """Office Ally's own edits; the first that fails rejects the claim before any payer."""
    if not rules.payers.takes_claims(claim.payer_id):
        return Acknowledgment(UNKNOWN_PAYER, "PAYER ID NOT ON THE PAYER LIST FOR 837P")
    if claim.charge.quantize(CENT) != claim.line_total.quantize(CENT):
        return Acknowledgment(
            OUT_OF_BALANCE, "CLAIM TOTAL DOES NOT EQUAL THE SUM OF THE LINE CHARGES"
        )
    return Acknowledgment(RECEIVED, "RECEIVED AND FORWARDED TO PAYER")


def payer_check(claim: Claim, rules: ProcessingRules) -> Acknowledgment:
    """The payer's front-end edits: accepted into adjudication, or rejected."""
    if rules.matches("reject_claim_ids", claim.claim_id):
        return Acknowledgment(REJECTED_BY_RULE, "REJECTED BY HARNESS RULE reject_claim_ids")
    if rules.check_billing_npi and not valid_npi(claim.billing_npi):
        return Acknowledgment(INVALID_NPI, "BILLING PROVIDER NPI IS INVALID")
    if not cob_balanced(claim):
        return Acknowledgment(
            COB_OUT_OF_BALANCE,
            "OTHER PAYER PAID AND ADJUSTED AMOUNTS DO NOT ADD UP TO THE CHARGES (COB)",
        )
    return Acknowledgment(ACCEPTED, "ACCEPTED BY PAYER")


def _balances(prior: PriorPayment, charge: Decimal) -> bool:
    return prior.paid is None or (prior.paid + prior.adjusted).quantize(CENT) == charge.quantize(
        CENT
    )


def cob_balanced(claim: Claim) -> bool:
    """Each earlier payer's line paid plus adjustments is the line's charge (2430); a
    claim without line adjudication balances the same at claim level (2320)."""
    if any(line.prior for line in claim.lines):
        return all(_balances(p, line.charge) for line in claim.lines for p in line.prior)
    return all(_balances(p, claim.charge) for p in claim.prior)


# --- the 835 ----------------------------------------------------------------------


def _share(value: Decimal, percent: Decimal) -> Decimal:
    return (value * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _adjusted(*pairs: tuple[Adjustment, Decimal]) -> tuple[Adjusted, ...]:
    """CAS adjustments, leaving out those of zero."""
    return tuple(Adjusted(adj, amount) for adj, amount in pairs if amount)


AllowedAmount = Literal["paid", "deductible", "coinsurance", "predetermination"]
"""What becomes of a line's allowed amount."""


def _priced(
    line: ServiceLine, rules: ProcessingRules, allowed_percent: Decimal, allowed_as: AllowedAmount
) -> LineRemit:
    """A line the payer allowed, with the contractual adjustment for the rest."""
    charge = line.charge.quantize(CENT)
    allowed = _share(charge, allowed_percent)
    contractual = (rules.contractual, charge - allowed)
    if allowed_as == "deductible":
        return LineRemit(
            line, charge, ZERO, allowed, _adjusted(contractual, (rules.deductible, allowed))
        )
    if allowed_as == "coinsurance":
        share = _share(allowed, rules.coinsurance_percent)
        return LineRemit(
            line,
            charge,
            allowed - share,
            allowed,
            _adjusted(contractual, (rules.coinsurance, share)),
        )
    if allowed_as == "predetermination":
        return LineRemit(
            line, charge, ZERO, allowed, _adjusted(contractual, (rules.predetermination, allowed))
        )
    return LineRemit(line, charge, allowed, allowed, _adjusted(contractual))


def _denied(line: ServiceLine, adjustment: Adjustment) -> LineRemit:
    charge = line.charge.quantize(CENT)
    return LineRemit(line, charge, ZERO, None, _adjusted((adjustment, charge)))


def _after_prior_payers(claim: Claim, rules: ProcessingRules) -> tuple[LineRemit, ...]:
    """A secondary payer pays what the last payer before it left on the patient, line
    by line when that payer adjudicated the lines, else spread over the lines in order."""
    by_line = any(line.prior for line in claim.lines)
    left = claim.prior[-1].patient
    out = []
    for line in claim.lines:
        charge = line.charge.quantize(CENT)
        if by_line:
            paid = min(line.prior[-1].patient, charge) if line.prior else ZERO
        else:
            paid = min(left, charge)
            left -= paid
        rest = (rules.prior_payer, charge - paid)
        out.append(LineRemit(line, charge, paid, None, _adjusted(rest)))
    return tuple(out)


def remit(claim: Claim, rules: ProcessingRules) -> Remit:
    """The payer's decision for a claim it accepted; the first matching rule wins."""
    claim_id = claim.claim_id
    charge = claim.charge.quantize(CENT)
    processed = PROCESSED_AS.get(claim.responsibility, "1")
    if rules.matches("unknown_patient_claim_ids", claim_id):
        return Remit(UNKNOWN_PATIENT, charge, (), _adjusted((rules.unknown_patient, charge)))
    if rules.matches("not_our_claim_ids", claim_id):
        lines = tuple(_denied(line, rules.not_our_claim) for line in claim.lines)
        return Remit(NOT_OUR_CLAIM, charge, lines, forwarded_to=rules.crossover_payer)
    if rules.matches("predetermination_claim_ids", claim_id):
        lines = tuple(
            _priced(line, rules, rules.allowed_percent, "predetermination") for line in claim.lines
        )
        return Remit(PREDETERMINATION, charge, lines)
    if rules.matches("deny_claim_ids", claim_id):
        return Remit(processed, charge, tuple(_denied(line, rules.denial) for line in claim.lines))
    if claim.responsibility in ("S", "T") and claim.prior:
        return Remit(processed, charge, _after_prior_payers(claim, rules))
    allowed_as: AllowedAmount = "paid"
    if rules.matches("deductible_claim_ids", claim_id):
        allowed_as = "deductible"
    elif rules.matches("coinsurance_claim_ids", claim_id) or rules.matches(
        "crossover_claim_ids", claim_id
    ):
        allowed_as = "coinsurance"
    lines = tuple(
        _denied(line, rules.prior_auth_denial)
        if line.procedure in rules.prior_auth_procedures
        and not (claim.prior_auth or line.prior_auth)
        else _priced(line, rules, rules.allowed_percent, allowed_as)
        for line in claim.lines
    )
    result = Remit(processed, charge, lines)
    if rules.matches("crossover_claim_ids", claim_id):
        # MA18: the claim information is also being forwarded to the supplemental insurer
        result = replace(
            result, status=FORWARDED, forwarded_to=rules.crossover_payer, remarks=("MA18",)
        )
    if rules.matches("interest_claim_ids", claim_id) and rules.interest:
        interest = ProviderAdjustment("L6", claim_id, -rules.interest.quantize(CENT))
        result = replace(result, provider_adjustments=(interest,))
    return result


def reversed_remit(original: Remit) -> Remit:
    """The reversal of a payment (CLP02 22, TR3 1.10.2.8): every amount with its sign turned.

    5010 has no CR group: the original adjustments come back with the same
    group and reason and negated amounts.
    """

    def negated(adjusted: tuple[Adjusted, ...]) -> tuple[Adjusted, ...]:
        return tuple(Adjusted(a.adjustment, -a.amount) for a in adjusted)

    lines = tuple(
        LineRemit(
            line.line,
            -line.charge,
            -line.paid,
            -line.allowed if line.allowed is not None else None,
            negated(line.adjustments),
        )
        for line in original.lines
    )
    return Remit(
        REVERSAL,
        -original.charge,
        lines,
        negated(original.claim_adjustments),
        original.forwarded_to,
        original.remarks,
    )


def corrected_remit(original: Remit, rules: ProcessingRules, payer_claim: str) -> Remit:
    """The correction after a reversal: the payer reprices and pays ``corrected_percent``.

    When the correction pays less than the reversal took back, the ERA's
    total would be negative: the payer carries the balance forward (PLB FB
    with the payer claim number, as in the TR3 example), so BPR02 stays >= 0.
    """
    percent = _share(rules.allowed_percent, rules.corrected_percent)
    lines = tuple(
        _priced(line.line, rules, percent, "paid") if line.allowed is not None else line
        for line in original.lines
    )
    correction = Remit(original.status, original.charge, lines)
    net = correction.paid - original.paid
    if net < 0:
        balance = ProviderAdjustment("FB", payer_claim, net)
        correction = replace(correction, provider_adjustments=(balance,))
    return correction


def adjudicate(claim: Claim, rules: ProcessingRules, file_id: str, *, forwarded: bool) -> Outcome:
    """The whole fate of one claim that reached claim-level checks.

    A claim in a file that is not ``forwarded`` to payers (a test file) gets
    the clearinghouse's answer only.
    """
    clearinghouse = clearinghouse_check(claim, rules)
    payer = payer_check(claim, rules) if clearinghouse.accepted and forwarded else None
    number = payer_claim_number(file_id, claim)
    decided = remit(claim, rules) if payer is not None and payer.accepted else None
    later: tuple[Remit, ...] = ()
    if decided is not None and rules.matches("reversal_claim_ids", claim.claim_id):
        later = (reversed_remit(decided), corrected_remit(decided, rules, number))
    return Outcome(
        claim,
        clearinghouse,
        payer,
        clearinghouse_trace(file_id, claim),
        number,
        decided,
        later,
    )
