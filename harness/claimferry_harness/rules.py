"""The deterministic rules that decide each claim's fate in the mock.

They are documented in docs/harness.md ("Processing rules"); keep the two in
step. Everything here is a plain value so tests can build variants with
``dataclasses.replace``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from decimal import Decimal

from claimferry_harness.payers import PayerList

ANSWER_FILES = "837P"
"""Office Ally's rule: every claim file's name holds ``837P``."""


@dataclass(frozen=True)
class Adjustment:
    """A CAS group and reason code, e.g. ``Adjustment("CO", "45")``."""

    group: str
    reason: str

    def __post_init__(self) -> None:
        if self.group not in {"CO", "OA", "PI", "PR"}:
            raise ValueError(f"CAS group must be CO, OA, PI or PR, not {self.group!r}")
        if not re.fullmatch(r"[A-Z0-9]{1,5}", self.reason):
            raise ValueError(f"CAS reason code must be 1-5 letters or digits, not {self.reason!r}")


@dataclass(frozen=True)
class OtherPayer:
    """The payer a claim is forwarded to (835 ``NM1*TT``): a crossover carrier."""

    name: str
    payer_id: str

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("payer_id", self.payer_id)):
            if not value or re.search(r"[*:^~\r\n]", value):
                raise ValueError(f"other payer {label} must be non-empty X12 text, not {value!r}")


TRIGGERS = (
    "reject_claim_ids",
    "deny_claim_ids",
    "unknown_patient_claim_ids",
    "deductible_claim_ids",
    "coinsurance_claim_ids",
    "crossover_claim_ids",
    "predetermination_claim_ids",
    "not_our_claim_ids",
    "reversal_claim_ids",
    "interest_claim_ids",
    "accepted_with_errors_claim_ids",
    "group_reject_claim_ids",
)
"""The rules triggered by a regular expression searched in CLM01."""


@dataclass(frozen=True)
class ProcessingRules:
    """What the mock rejects, denies, pays and forwards.

    Every ``*_claim_ids`` field is a regular expression searched in CLM01
    (``None`` turns that rule off); docs/harness.md lists what each one
    answers. The payer allows ``allowed_percent`` of each line's charge
    (rounded half up to the cent) and adjusts the rest with ``contractual``;
    it pays the allowed amount unless a rule gives part of it to the patient.
    """

    payers: PayerList = field(default_factory=PayerList.default)
    reject_claim_ids: str | None = "REJECT"
    check_billing_npi: bool = True
    deny_claim_ids: str | None = "DENY"
    denial: Adjustment = Adjustment("CO", "50")
    prior_auth_procedures: frozenset[str] = frozenset({"97151"})
    prior_auth_denial: Adjustment = Adjustment("CO", "197")
    allowed_percent: Decimal = Decimal(80)
    contractual: Adjustment = Adjustment("CO", "45")
    unknown_patient_claim_ids: str | None = "NOPATIENT"
    unknown_patient: Adjustment = Adjustment("CO", "31")
    deductible_claim_ids: str | None = "DEDUCT"
    deductible: Adjustment = Adjustment("PR", "1")
    coinsurance_claim_ids: str | None = "COINS"
    coinsurance: Adjustment = Adjustment("PR", "2")
    coinsurance_percent: Decimal = Decimal(20)
    """The patient's share of the allowed amount under ``COINS`` and ``CROSSOVER``."""
    crossover_claim_ids: str | None = "CROSSOVER"
    crossover_payer: OtherPayer = OtherPayer("ILLINOIS MEDICAID", "IL621")
    predetermination_claim_ids: str | None = "PREDET"
    predetermination: Adjustment = Adjustment("OA", "101")
    not_our_claim_ids: str | None = "NOTOURS"
    not_our_claim: Adjustment = Adjustment("CO", "109")
    prior_payer: Adjustment = Adjustment("OA", "23")
    """A secondary or tertiary payer pays what the payers before it left on the
    patient and adjusts the rest of each line with this (CARC 23: the impact of
    prior payers' adjudication)."""
    reversal_claim_ids: str | None = "REVERSE"
    corrected_percent: Decimal = Decimal(50)
    """The share of the first payment that the correction after a reversal pays."""
    interest_claim_ids: str | None = "PLB"
    interest: Decimal = Decimal("1.25")
    """Late-payment interest paid with the claim as a provider-level adjustment (PLB L6)."""
    accepted_with_errors_claim_ids: str | None = "IK5E"
    group_reject_claim_ids: str | None = "GROUPREJECT"
    delay: float = 0.0
    """Seconds between a file's arrival and its responses."""
    forward_test_files: bool = True
    """Forward test files (ISA15=T, OATEST) to the payer too; Office Ally would not."""
    first_file_id: int = 100000001
    """The FileID of the first file a fresh root answers (9 or 10 digits)."""
    answer_files: str = ANSWER_FILES
    r"""A regular expression searched in each upload's name: only the uploads it
    finds are answered (Office Ally's rule by default); another clearinghouse's
    plugin sets its own, e.g. ``r"\.x12$"``. Others are logged as ignored."""

    def __post_init__(self) -> None:
        for name in (*TRIGGERS, "answer_files"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{name}: not a regular expression ({exc})") from None
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("_percent") and not Decimal(0) <= value <= Decimal(100):
                raise ValueError(f"{item.name} must be between 0 and 100")
        if self.interest < 0:
            raise ValueError("interest must not be negative")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        if not 10**8 <= self.first_file_id < 10**10:
            raise ValueError("first_file_id must have 9 or 10 digits")

    def matches(self, trigger: str, claim_id: str) -> bool:
        """Whether the rule ``trigger`` (a name in :data:`TRIGGERS`) applies to CLM01."""
        pattern: str | None = getattr(self, trigger)
        return pattern is not None and re.search(pattern, claim_id) is not None
