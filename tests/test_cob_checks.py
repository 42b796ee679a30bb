"""COB balancing: a secondary claim whose other payers do not add up is an error."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from claimferry.claims import parse_claims
from claimferry.findings import Finding, Severity
from claimferry.types import ValidationContext
from claimferry_checks.rules import check_claims

SECONDARY = Path(__file__).parent / "data" / "claims" / "secondary.yaml"
CONTEXT = ValidationContext(account=None, today=date(2026, 12, 1))


def _findings(index: int, change: Any) -> list[Finding]:
    data = yaml.safe_load(SECONDARY.read_text())
    change(data["claims"][index])
    claims = parse_claims(data, "secondary.yaml").claims
    return [f for f in check_claims([claims[index]], CONTEXT) if f.severity is Severity.ERROR]


def _brief(found: list[Finding]) -> list[tuple[str, str | None, str]]:
    return [(f.code, f.field, f.message) for f in found]


def test_the_secondary_claims_balance() -> None:
    for index in range(3):
        assert _findings(index, lambda claim: None) == []


def test_a_line_whose_charge_is_not_paid_plus_adjustments() -> None:
    def short(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["lines"][0]["adjustments"][1]["amount"] = 40  # not 48
        claim["other_payers"][0]["paid"] = 476

    assert _brief(_findings(0, short)) == [
        (
            "COB-LINE-UNBALANCED",
            "other_payers[0].lines[0]",
            "claim SUN-2001S line 1: the charge 480.00 is not what BLUE CROSS BLUE SHIELD OF "
            "ILLINOIS (00621) paid (336.00) plus its adjustments (136.00) = 472.00",
        )
    ]


def test_the_claim_paid_amount_must_be_the_lines_paid_less_claim_adjustments() -> None:
    def off(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["paid"] = 470

    assert _brief(_findings(0, off)) == [
        (
            "COB-PAID-UNBALANCED",
            "other_payers[0].paid",
            "claim SUN-2001S: BLUE CROSS BLUE SHIELD OF ILLINOIS (00621) paid 470.00 on the "
            "claim, but its lines' paid amounts (476.00) less its claim-level adjustments "
            "(0.00) make 476.00",
        )
    ]


def test_claim_level_adjudication_must_balance_when_there_are_no_line_adjudications() -> None:
    def off(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["adjustments"][0]["amount"] = 50  # not 60

    assert _brief(_findings(2, off)) == [
        (
            "COB-CLAIM-UNBALANCED",
            "other_payers[0].paid",
            "claim SUN-2003S: the charge 360.00 is not what BLUE CROSS BLUE SHIELD OF "
            "ILLINOIS (00621) paid (250.00) plus its adjustments (100.00) = 350.00",
        )
    ]


def test_every_line_needs_its_adjudication_once_any_has_one() -> None:
    def one_line(claim: dict[str, Any]) -> None:
        other = claim["other_payers"][0]
        other["lines"] = other["lines"][:1]
        other["paid"] = 336

    found = _findings(0, one_line)
    assert [(f.code, f.field) for f in found] == [
        ("COB-LINE-NOT-ADJUDICATED", "other_payers[0].lines")
    ]
    assert found[0].message.startswith("claim SUN-2001S line 2: ")


def test_the_payer_billed_cannot_be_an_other_payer_and_filing_codes_are_checked() -> None:
    def same(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["payer"]["id"] = "IL621"
        claim["other_payers"][0]["filing_code"] = "Q9"

    assert [(f.code, f.field) for f in _findings(0, same)] == [
        ("COB-PAYER-IS-DESTINATION", "other_payers[0].payer.id"),
        ("FILING-CODE", "other_payers[0].filing_code"),
    ]


def test_other_payers_names_and_ids_are_checked_like_the_claims_own() -> None:
    def bad(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["subscriber"]["first_name"] = "王"
        claim["other_payers"][0]["subscriber"]["member_id"] = "XO*F1"

    found = {(f.code, f.field) for f in _findings(0, bad)}
    assert found == {
        ("X12-TEXT", "other_payers[0].subscriber.first_name"),
        ("X12-DELIMITER", "other_payers[0].subscriber.member_id"),
    }
    assert all("XO*F1" not in f.message for f in _findings(0, bad))
