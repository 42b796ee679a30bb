"""Registers the built-in content checks as the ``content-checks`` validator."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import EnrollmentValidator, hookimpl
from claimferry_checks.rules import VALIDATOR, check_claims


@hookimpl
def claimferry_enrollment_validators() -> Iterator[EnrollmentValidator]:
    yield EnrollmentValidator(
        name=VALIDATOR,
        check=check_claims,
        description="NPI check digits, code shapes, dates, amounts and TR3 situational rules",
        kind="content",
        partial_claims=True,
    )
