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

    ``message`` must tell an operator what to do and must not quote PHI
    (names, member IDs, birth dates): name the field, not its value.
    """

    severity: Severity
    code: str
    message: str
    claim_id: str | None = None
    field: str | None = None
    validator: str = ""

    def __str__(self) -> str:
        where = " ".join(x for x in (self.claim_id and f"claim {self.claim_id}", self.field) if x)
        return f"{self.severity.value} {self.code}: {where + ': ' if where else ''}{self.message}"


def has_errors(findings: Iterable[Finding], *, strict: bool = False) -> bool:
    blocking = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(f.severity in blocking for f in findings)
