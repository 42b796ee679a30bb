"""Findings: what validators say about claims before anything is written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    """Blocks build and submit."""
    WARNING = "warning"
    """Shown; blocks only with ``--strict``."""


@dataclass(frozen=True)
class Finding:
    """One thing a validator found. ``field`` is a path into the claim, e.g. ``lines[0].procedure``.

    ``message`` says what is wrong, ``fix`` what to do about it when the
    message alone does not say. Neither may quote PHI (names, member IDs,
    birth dates): name the field, not its value.
    """

    severity: Severity
    code: str
    message: str
    claim_id: str | None = None
    field: str | None = None
    validator: str = ""
    fix: str = ""

    def __str__(self) -> str:
        where = " ".join(x for x in (self.claim_id and claim_label(self.claim_id), self.field) if x)
        fix = f" ({self.fix})" if self.fix else ""
        return (
            f"{self.severity.value} {self.code}: {where + ': ' if where else ''}{self.message}{fix}"
        )


def has_errors(findings: Iterable[Finding], *, strict: bool = False) -> bool:
    blocking = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(f.severity in blocking for f in findings)


def claim_label(claim_id: str) -> str:
    """``claim SUN-1`` or, for a claim without a usable id, its place ``claims[3]``."""
    return claim_id if claim_id.startswith("claims[") else f"claim {claim_id}"
