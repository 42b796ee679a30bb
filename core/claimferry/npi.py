"""The NPI rule: 10 digits starting 1 or 2, with a Luhn check digit.

One rule for every place that takes an NPI (the content checks on claims,
enrollment records), so a number refused in one is refused in all.
"""

from __future__ import annotations

import re
from functools import lru_cache

_NPI = re.compile(r"^[12]\d{9}$")


def npi_check_digit_ok(npi: str) -> bool:
    """Luhn over the NPI with the card-issuer prefix 80840, which adds 24 to the sum."""
    total = 24
    for position, char in enumerate(reversed(npi)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@lru_cache(maxsize=4096)
def npi_problem(npi: str) -> tuple[str, str] | None:
    """Code and message of what is wrong with an NPI, or ``None``: a practice bills a few."""
    if not _NPI.match(npi):
        return "NPI-SHAPE", "an NPI is 10 digits starting with 1 or 2"
    if not npi_check_digit_ok(npi):
        return (
            "NPI-CHECK-DIGIT",
            "the NPI's check digit is wrong (Luhn with prefix 80840); "
            "copy the NPI again from NPPES",
        )
    return None
