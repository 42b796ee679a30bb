"""The 837P fields beyond the basic claim, each where the TR3 puts it and pyx12-clean."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from claimferry.claims import Claim
from claimferry.claims_input import load_claims
from claimferry.errors import InputError
from claimferry.types import ValidationContext
from claimferry.x12.segments import segments_from_bytes
from claimferry.x12.writer837 import write_837p
from claimferry_checks.rules import check_claims
from support.claim_files import DATA, ENVELOPE
from support.x12judge import judge

FIELDS = DATA / "provider_fields.yaml"


def _lines(claims: list[Claim]) -> list[str]:
    data = write_837p(claims, ENVELOPE)
    verdict = judge(data)
    assert verdict, verdict.errors
    return [
        "*".join([s.id, *(s.element(i) for i in range(1, len(s.elements) + 1))]).rstrip("*")
        for s in segments_from_bytes(data, "fields.837")
    ]


@pytest.fixture(scope="module")
def claims() -> list[Claim]:
    return load_claims(FIELDS).claims


@pytest.fixture(scope="module")
def written(claims: list[Claim]) -> list[str]:
    return _lines(claims)


def _after(segments: list[str], first: str, count: int) -> list[str]:
    start = segments.index(first)
    return segments[start : start + count]


def test_a_provider_billing_under_an_ssn_sends_ref_sy(written: list[str]) -> None:
    assert "REF*SY*123456789" in written
    assert not [s for s in written if s.startswith("REF*EI")]


def test_an_ein_is_still_ref_ei(claims: list[Claim]) -> None:
    provider = replace(claims[0].provider(), tax_id_type="ein")
    segments = _lines([replace(claims[0], billing_provider=provider)])
    assert "REF*EI*123456789" in segments and "REF*SY*123456789" not in segments


def test_pay_to_address_is_loop_2010ab_after_2010aa(written: list[str]) -> None:
    assert _after(written, "REF*SY*123456789", 4) == [
        "REF*SY*123456789",
        "NM1*87*2",
        "N3*700 BANK ST*SUITE 9",
        "N4*URBANA*IL*618025566",
    ]
    assert written.index("NM1*87*2") < written.index("HL*2*1*22*0")


def test_supervising_provider_is_2310d_after_rendering(written: list[str]) -> None:
    assert _after(written, "NM1*82*1*ORTIZ*SAM****XX*1003000126", 3) == [
        "NM1*82*1*ORTIZ*SAM****XX*1003000126",
        "PRV*PE*PXC*101YM0800X",
        "NM1*DQ*1*WHITFIELD*DANA****XX*1245319599",
    ]


def test_line_rendering_and_referring_providers_are_2420a_and_2420f(written: list[str]) -> None:
    assert _after(written, "LX*2", 8) == [
        "LX*2",
        "SV1*HC:90834*140*UN*1***1",
        "DTP*472*D8*20261110",
        "REF*6R*DW-5001-2",
        "NM1*82*1*BRANDT*LEE****XX*1987654328",
        "PRV*PE*PXC*103T00000X",
        "NM1*DN*1*ADAMS*RUTH****XX*1552384061",
        "HL*3*1*22*0",
    ]
    first_line = _after(written, "LX*1", 5)
    assert first_line[-1] == "LX*2"  # the first line has none of its own


def test_claim_note_is_nte_add_before_hi(written: list[str]) -> None:
    assert _after(written, "CLM*DW-5001*320***11:B:1*Y*A*Y*Y", 3) == [
        "CLM*DW-5001*320***11:B:1*Y*A*Y*Y",
        "NTE*ADD*ASSOCIATE CLINICIAN UNDER SUPERVISION SESSION NOTES ON FILE.",
        "HI*ABK:F411",
    ]


def test_clm07_to_clm09_and_the_delay_reason_in_clm20(written: list[str]) -> None:
    (clm,) = [s for s in written if s.startswith("CLM*DW-5002")]
    elements = clm.split("*")
    assert elements[6:10] == ["Y", "C", "N", "I"]
    assert elements[20] == "7" and len(elements) == 21


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "*Y*A*Y*Y"),
        ({"assignment": "lab_services_only"}, "*Y*B*Y*Y"),
        ({"benefits_assignment": "not_applicable"}, "*Y*A*W*Y"),
        ({"release_of_information": "informed_consent"}, "*Y*A*Y*I"),
        ({"delay_reason": "11"}, "*Y*A*Y*Y***********11"),
    ],
)
def test_each_claim_indicator_alone(
    claims: list[Claim], changes: dict[str, Any], expected: str
) -> None:
    base = replace(
        claims[1],
        assignment="assigned",
        benefits_assignment="assigned",
        release_of_information="signed",
        delay_reason=None,
    )
    (clm,) = [s for s in _lines([replace(base, **changes)]) if s.startswith("CLM*")]
    assert clm == f"CLM*DW-5002*180***02:B:1{expected}"


def test_the_oi_segment_of_a_secondary_claim_follows_clm08_and_clm09() -> None:
    claim = load_claims(DATA / "secondary.yaml").claims[0]
    claim = replace(
        claim, benefits_assignment="not_assigned", release_of_information="informed_consent"
    )
    segments = _lines([claim])
    assert "OI***N***I" in segments
    assert [s for s in segments if s.startswith("CLM*")] == ["CLM*SUN-2001S*680***12:B:1*Y*A*N*I"]


def test_a_note_with_nothing_x12_can_carry_is_refused_naming_the_field(
    claims: list[Claim],
) -> None:
    with pytest.raises(InputError) as caught:
        write_837p([replace(claims[0], note="王")], ENVELOPE)
    assert [p.location for p in caught.value.problems] == ["claim DW-5001: note"]


def test_the_new_providers_are_content_checked_like_the_claims_own(claims: list[Claim]) -> None:
    claim = claims[0]
    line = claim.lines[1]
    assert line.rendering_provider is not None and claim.supervising_provider is not None
    bad_line = replace(
        line, rendering_provider=replace(line.rendering_provider, first_name="王", npi="1987654320")
    )
    claim = replace(
        claim,
        lines=(claim.lines[0], bad_line),
        supervising_provider=replace(claim.supervising_provider, npi="1245319590"),
    )
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    found = {(f.code, f.field) for f in check_claims([claim], context)}
    assert found == {
        ("X12-TEXT", "lines[1].rendering_provider.first_name"),
        ("NPI-CHECK-DIGIT", "lines[1].rendering_provider.npi"),
        ("NPI-CHECK-DIGIT", "supervising_provider.npi"),
    }


def test_an_organization_cannot_bill_under_an_ssn(claims: list[Claim]) -> None:
    person = claims[0].provider()
    with pytest.raises(ValidationError, match="an organization bills under its EIN"):
        replace(person, first_name=None, last_name=None, organization="RIVER CLINIC")
    organization = replace(
        person, first_name=None, last_name=None, organization="RIVER CLINIC", tax_id_type="ein"
    )
    assert organization.tax_id_type == "ein"


def test_a_line_provider_that_is_the_claims_is_not_written_again(claims: list[Claim]) -> None:
    claim = claims[0]
    line = claim.lines[1]
    assert line.rendering_provider is not None and line.referring_provider is not None
    same = replace(
        claim,
        rendering_provider=line.rendering_provider,
        referring_provider=line.referring_provider,
    )
    segments = _lines([same])
    after_line = _after(segments, "REF*6R*DW-5001-2", 2)[1]
    assert after_line.startswith("SE*")  # no 2420A/2420F repeating 2310B/2310A
    assert segments.count("NM1*82*1*BRANDT*LEE****XX*1987654328") == 1  # 2310B only
    assert segments.count("NM1*DN*1*ADAMS*RUTH****XX*1552384061") == 1  # 2310A only
