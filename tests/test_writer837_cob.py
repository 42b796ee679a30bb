"""Secondary and tertiary claims: the model's other payers and the 2320/2330/2430 loops.

pyx12 judges every file; the TR3 order and the amounts are checked here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from claimferry.claims import Claim, Payer, parse_claims
from claimferry.claims_input import load_claims
from claimferry.errors import InputError
from claimferry.submission import claim_content_hash
from claimferry.types import ValidationContext
from claimferry.x12.claims837 import iter_837p
from claimferry.x12.segments import Segment, segments_from_bytes
from claimferry.x12.writer837 import write_837p
from claimferry_checks.rules import check_claims
from support.claim_files import DATA, ENVELOPE, SAMPLE
from support.x12judge import judge

SECONDARY = DATA / "secondary.yaml"
HASHES = Path(__file__).parent / "data" / "content_hashes.json"
HASHED_FILES = {
    path.name: path
    for path in [
        *DATA.glob("*.yaml"),
        SAMPLE,
        Path(__file__).parent / "core" / "issue_example_claims.yaml",
    ]
}


def test_claims_written_before_other_payers_existed_hash_the_same() -> None:
    """The hashes were taken by the model without the COB and point-4 fields: a claim
    sent before must still be recognised as the same claim (exactly-once)."""
    expected: dict[str, str] = json.loads(HASHES.read_text())
    files = {key.split(":")[0] for key in expected}
    got = {
        f"{name}:{claim.id}": claim_content_hash(claim)
        for name in files
        for claim in load_claims(HASHED_FILES[name])
    }
    assert len(got) == 201
    assert got == expected


def _claim_loops(data: bytes) -> dict[str, list[Segment]]:
    loops: dict[str, list[Segment]] = {}
    current: list[Segment] | None = None
    for segment in segments_from_bytes(data, "cob.837"):
        if segment.id == "CLM":
            current = loops.setdefault(segment.element(1), [])
        elif segment.id in ("HL", "SE"):
            current = None
        if current is not None:
            current.append(segment)
    return loops


def _text(segments: list[Segment]) -> list[str]:
    return [
        "*".join([s.id, *(s.element(i) for i in range(1, len(s.elements) + 1))]).rstrip("*")
        for s in segments
    ]


@pytest.fixture(scope="module")
def written() -> tuple[list[Claim], bytes]:
    claims = load_claims(SECONDARY).claims
    return claims, write_837p(claims, ENVELOPE)


def test_pyx12_accepts_secondary_and_tertiary_claims(written: tuple[list[Claim], bytes]) -> None:
    verdict = judge(written[1])
    assert verdict, verdict.errors


def test_2000b_sbr01_is_the_destination_payers_responsibility(
    written: tuple[list[Claim], bytes],
) -> None:
    segments = segments_from_bytes(written[1], "cob.837")
    sbrs = []
    for before, segment in pairwise(segments):
        if before.id == "HL" and before.element(3) == "22":
            assert segment.id == "SBR"
            sbrs.append(segment.element(1))
    # the secondary claims share one subscriber loop, the tertiary claim has its own
    assert sorted(sbrs) == ["S", "T"]


def test_secondary_claim_loops_in_tr3_order(written: tuple[list[Claim], bytes]) -> None:
    loop = _claim_loops(written[1])["SUN-2001S"]
    assert _text(loop) == [
        "CLM*SUN-2001S*680***12:B:1*Y*A*Y*Y",
        "HI*ABK:F840",
        # 2320: the primary, with the patient its subscriber's child
        "SBR*P*19*GRP100******BL",
        "AMT*D*476",
        "AMT*EAF*68",
        "OI***Y***Y",
        # 2330A other subscriber, 2330B other payer
        "NM1*IL*1*PARK*AVA****MI*XOF123456789",
        "N3*9 ELM ST",
        "N4*SPRINGFIELD*IL*62704",
        "NM1*PR*2*BLUE CROSS BLUE SHIELD OF ILLINOIS*****PI*00621",
        "DTP*573*D8*20261120",
        "REF*F8*BC2611200001",
        "LX*1",
        "SV1*HC:97153:HN*480*UN*16***1",
        "DTP*472*D8*20261102",
        "REF*6R*SUN-2001S-1",
        # 2430: what the primary did with the line
        "SVD*00621*336*HC:97153:HN**16",
        "CAS*CO*45*96",
        "CAS*PR*2*48",
        "DTP*573*D8*20261120",
        "LX*2",
        "SV1*HC:97155:HO*200*UN*4***1",
        "DTP*472*D8*20261102",
        "REF*6R*SUN-2001S-2",
        "SVD*00621*140*HC:97155:HO**4",
        "CAS*CO*45*40",
        "CAS*PR*2*20",
        "DTP*573*D8*20261120",
    ]


def test_tertiary_claim_carries_both_payers_and_both_line_adjudications(
    written: tuple[list[Claim], bytes],
) -> None:
    loop = _text(_claim_loops(written[1])["SUN-2002T"])
    assert [s for s in loop if s.startswith("SBR")] == [
        "SBR*P*19*GRP100******BL",
        "SBR*S*18*******MC",
    ]
    assert [s for s in loop if s.startswith("SVD")] == [
        "SVD*00621*168*HC:97153:HN**8",
        "SVD*IL621*12*HC:97153:HN**8",
    ]
    assert loop.index("SBR*S*18*******MC") < loop.index("LX*1")


def test_claim_level_adjustments_share_a_cas_per_group(written: tuple[list[Claim], bytes]) -> None:
    loop = _text(_claim_loops(written[1])["SUN-2003S"])
    assert "CAS*CO*45*60" in loop and "CAS*PR*1*40**2*10" in loop
    assert not any(s.startswith("SVD") for s in loop)


def test_more_than_six_adjustments_of_a_group_start_a_new_cas() -> None:
    claim = load_claims(SECONDARY).claims[2]
    other = claim.other_payers[0]
    many = tuple(
        replace(other.adjustments[1], reason=str(n), amount=Decimal(1)) for n in range(1, 9)
    )
    claim = replace(claim, other_payers=(replace(other, adjustments=many),))
    data = write_837p([claim], ENVELOPE)
    cas = [s for s in _text(_claim_loops(data)[claim.id]) if s.startswith("CAS")]
    assert cas == ["CAS*PR*1*1**2*1**3*1**4*1**5*1**6*1", "CAS*PR*7*1**8*1"]
    assert judge(data)


def test_adjudicated_procedure_and_units_override_the_lines() -> None:
    claim = load_claims(SECONDARY).claims[0]
    other = claim.other_payers[0]
    bundled = replace(other.lines[0], procedure="97154", modifiers=(), units=Decimal(12))
    claim = replace(claim, other_payers=(replace(other, lines=(bundled, other.lines[1])),))
    data = write_837p([claim], ENVELOPE)
    assert "SVD*00621*336*HC:97154**12" in _text(_claim_loops(data)[claim.id])
    assert judge(data)


def test_the_837p_listing_reads_a_secondary_file(written: tuple[list[Claim], bytes]) -> None:
    """``show`` reads past the COB loops: lines and charges are the claim's own."""
    claims, data = written
    read = {
        c.claim_id: c
        for c in iter_837p(segments_from_bytes(data, "cob.837"), "cob.837")
        if hasattr(c, "claim_id")
    }
    for claim in claims:
        got = read[claim.id]
        assert (
            got.payer_responsibility
            == {"secondary": "S", "tertiary": "T"}[claim.payer_responsibility]
        )
        assert [line.charge for line in got.lines] == [line.charge for line in claim.lines]


# -- what the model refuses --------------------------------------------------------


def _document(change: Any) -> dict[str, Any]:
    data = yaml.safe_load(SECONDARY.read_text())
    change(data["claims"][0])
    return data


def _problems(change: Any) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_claims(_document(change), "secondary.yaml")
    return [f"{p.location}: {p.message}" for p in caught.value.problems]


def test_a_secondary_claim_without_other_payers_is_refused() -> None:
    assert _problems(lambda claim: claim.pop("other_payers")) == [
        "claim SUN-2001S: (claim): a secondary claim needs 'other_payers' with the "
        "adjudication of the payers before it (loop 2320)"
    ]


def test_a_line_adjudication_for_a_line_the_claim_lacks_is_refused() -> None:
    def beyond(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["lines"][1]["line"] = 3

    assert _problems(beyond) == [
        "claim SUN-2001S: (claim): other_payers[0].lines: line 3 is not one of the claim's 2 lines"
    ]


def test_two_other_payers_with_one_responsibility_are_refused() -> None:
    def twice(claim: dict[str, Any]) -> None:
        second = dict(claim["other_payers"][0], payer={"name": "AETNA", "id": "60054"})
        claim["other_payers"] = [claim["other_payers"][0], second]

    (problem,) = _problems(twice)
    assert "SBR01 may not repeat" in problem


def test_one_other_payer_twice_is_refused() -> None:
    def twice(claim: dict[str, Any]) -> None:
        second = dict(claim["other_payers"][0], responsibility="tertiary")
        claim["other_payers"] = [claim["other_payers"][0], second]
        claim["payer_responsibility"] = "secondary"

    (problem,) = _problems(twice)
    assert "its own payer id" in problem


def test_adjustments_that_need_more_than_five_cas_segments_are_refused() -> None:
    def many(claim: dict[str, Any]) -> None:
        claim["other_payers"][0]["adjustments"] = [
            {"group": group, "reason": "45", "amount": 1}
            for group in ("CO", "CR", "OA", "PI", "PR")
        ] + [{"group": "CO", "reason": str(n), "amount": 1} for n in range(1, 7)]

    assert _problems(many) == [
        "claim SUN-2001S: other_payers[0].adjustments: these adjustments need more than 5 CAS "
        "segments (one per group, 6 adjustments each)"
    ]


def test_line_adjudication_without_the_claim_level_paid_amount_is_refused() -> None:
    (problem,) = _problems(lambda claim: claim["other_payers"][0].pop("paid"))
    assert "'paid' (AMT*D) is required" in problem


def test_remark_codes_come_only_with_an_adjudication() -> None:
    claim = load_claims(SECONDARY).claims[0]
    other = claim.other_payers[0]
    with pytest.raises(ValidationError, match=r"'remark_codes' \(2320 MOA\) need 'paid'"):
        replace(
            claim,
            other_payers=(replace(other, paid=None, lines=(), remark_codes=("N130",)),),
        )
    primary = replace(claim, payer_responsibility="primary", other_payers=())
    later = replace(
        other,
        responsibility="secondary",
        paid=None,
        lines=(),
        adjustments=(),
        adjudication_date=None,
        remaining_patient_liability=None,
    )
    replace(primary, other_payers=(later,))  # a payer to come, named: fine
    with pytest.raises(ValidationError, match="cannot have adjudicated it yet"):
        replace(primary, other_payers=(replace(later, remark_codes=("N130",)),))


def test_the_documented_secondary_example_loads_and_writes_pyx12_clean() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "claims.md").read_text()
    blocks = [b.split("```")[0] for b in docs.split("```yaml\n")[1:]]
    (example,) = [b for b in blocks if "payer_responsibility: secondary" in b]
    claims = parse_claims(yaml.safe_load(example), "docs/claims.md").claims
    assert [c.payer_responsibility for c in claims] == ["secondary"]
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    assert [(f.code, f.field) for f in check_claims(claims, context)] == []
    assert judge(write_837p(claims, ENVELOPE))


def test_remaining_liability_per_line_goes_in_2430_and_not_in_2320() -> None:
    claim = load_claims(SECONDARY).claims[0]
    other = claim.other_payers[0]
    lines = tuple(
        replace(line, remaining_patient_liability=owed)
        for line, owed in zip(other.lines, (Decimal(48), Decimal(20)), strict=True)
    )
    with pytest.raises(ValidationError, match="not both"):
        replace(other, lines=lines)
    by_line = replace(other, remaining_patient_liability=None, lines=lines)
    data = write_837p([replace(claim, other_payers=(by_line,))], ENVELOPE)
    loop = _text(_claim_loops(data)[claim.id])
    assert [s for s in loop if s.startswith("AMT")] == ["AMT*D*476", "AMT*EAF*48", "AMT*EAF*20"]
    assert loop[loop.index("AMT*EAF*48") - 1] == "DTP*573*D8*20261120"  # after 2430 DTP*573
    verdict = judge(data)
    assert verdict, verdict.errors


def _medicare_secondary(**changes: Any) -> Claim:
    """SUN-2003S billed to Medicare Part B after the commercial plan."""
    claim = load_claims(SECONDARY).claims[2]
    subscriber = replace(claim.subscriber, filing_code="MB")
    medicare = Payer(name="MEDICARE PART B", id="00952")
    return replace(claim, payer=medicare, subscriber=subscriber, **changes)


def test_medicare_after_another_payer_needs_its_insurance_type() -> None:
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    found = [(f.code, f.field) for f in check_claims([_medicare_secondary()], context)]
    assert ("INSURANCE-TYPE-MISSING", "insurance_type") in found
    with pytest.raises(ValidationError, match="insurance_type"):
        _medicare_secondary(insurance_type="C1")  # not an SBR05 code of 005010X222A1
    claim = _medicare_secondary(insurance_type="12")
    assert not [f for f in check_claims([claim], context) if f.code.startswith("INSURANCE")]


def test_sbr05_is_written_in_2000b_and_2320() -> None:
    claim = _medicare_secondary(insurance_type="12")
    other = replace(claim.other_payers[0], insurance_type="43")
    data = write_837p([replace(claim, other_payers=(other,))], ENVELOPE)
    sbrs = [s for s in _text(segments_from_bytes(data, "msp.837")) if s.startswith("SBR")]
    assert sbrs == ["SBR*S*18***12****MB", "SBR*P*19*GRP100**43****BL"]
    verdict = judge(data)
    assert verdict, verdict.errors


def test_an_other_payer_that_is_medicare_after_another_needs_its_insurance_type() -> None:
    claim = load_claims(SECONDARY).claims[1]  # tertiary, after BCBS and Medicaid
    medicaid = replace(claim.other_payers[1], filing_code="MB")
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    found = check_claims([replace(claim, other_payers=(claim.other_payers[0], medicaid))], context)
    assert [(f.code, f.field) for f in found if f.code.startswith("INSURANCE")] == [
        ("INSURANCE-TYPE-MISSING", "other_payers[1].insurance_type")
    ]
