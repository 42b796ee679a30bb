"""The deterministic rules that decide each claim's fate in the mock.

They are documented in docs/harness.md ("Processing rules"); keep the two in
step. Everything here is a plain value so tests can build variants with
``dataclasses.replace``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from claimferry_harness.payers import PayerList


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
class ProcessingRules:
    """What the mock rejects, denies and pays.

    ``reject_claim_ids`` and ``deny_claim_ids`` are regular expressions
    searched in CLM01 (``None`` turns the rule off). Procedure codes in
    ``prior_auth_procedures`` are denied (``prior_auth_denial``) on claims
    without a prior authorization (REF*G1 at claim or line level). Every other
    line is paid ``paid_percent`` of its charge, rounded half up to the cent,
    and the rest is adjusted with ``contractual``.
    """

    payers: PayerList = field(default_factory=PayerList.default)
    reject_claim_ids: str | None = "REJECT"
    check_billing_npi: bool = True
    deny_claim_ids: str | None = "DENY"
    denial: Adjustment = Adjustment("CO", "50")
    prior_auth_procedures: frozenset[str] = frozenset({"97151"})
    prior_auth_denial: Adjustment = Adjustment("CO", "197")
    paid_percent: Decimal = Decimal(80)
    contractual: Adjustment = Adjustment("CO", "45")
    delay: float = 0.0
    """Seconds between a file's arrival and its responses."""
    remit_test_files: bool = True
    """Answer test files (ISA15=T, OATEST) with 835s too; Office Ally would not."""
    first_file_id: int = 100000001
    """The FileID of the first file a fresh root answers (9 or 10 digits)."""

    def __post_init__(self) -> None:
        for name in ("reject_claim_ids", "deny_claim_ids"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{name}: not a regular expression ({exc})") from None
        if not Decimal(0) <= self.paid_percent <= Decimal(100):
            raise ValueError("paid_percent must be between 0 and 100")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        if not 10**8 <= self.first_file_id < 10**10:
            raise ValueError("first_file_id must have 9 or 10 digits")
