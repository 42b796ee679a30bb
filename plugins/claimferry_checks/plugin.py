"""Registers the built-in content checks as the ``content-checks`` validator.

The rules and their code tables are imported when the validators are asked
for, not when the plugin registers: ``claimferry --help`` needs neither.
"""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import EnrollmentValidator, hookimpl


@hookimpl
def claimferry_enrollment_validators() -> Iterator[EnrollmentValidator]:
    from claimferry_checks.rules import VALIDATOR, check_claims

    yield EnrollmentValidator(
        name=VALIDATOR,
        check=check_claims,
        description="NPI check digits, code shapes, dates, amounts and TR3 situational rules",
        kind="content",
        partial_claims=True,
    )
