"""837P files as claims input: read into the claim model, written again, refused precisely."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from claimferry.claims import Claim, Payer
from claimferry.claims_input import load_claims
from claimferry.cli import create_cli
from claimferry.errors import InputError
from claimferry.manager import PluginManager
from claimferry.x12.read837 import load_837p
from claimferry.x12.writer837 import write_837p
from enrollment.support import ACCOUNTS
from support.claim_files import CLAIM_FILES, DATA, ENVELOPE
from support.x12judge import judge

SECONDARY = DATA / "secondary.yaml"
DROPPED = {
    "837P_01": ["22 (REF) in loop 2010BB", "30 (REF) in loop 2300", "31 (HI)", "31 (HI)"],
    "837P_02": [
        "13 (PER) in loop 2010AA",
        "22 (N3) in loop 2010BB",
        "23 (N4) in loop 2010BB",
        "24 (REF) in loop 2010BB",
        "32 (HI)",
        "32 (HI)",
        "32 (HI)",
        "32 (HI)",
        "35 (REF) in loop 2310B",
        "43 (OI) in loop 2320",
        "43 (OI)",
    ],
    "837P_03": [
        "14 (SBR)",
        "15 (NM1)",
        "20 (N3) in loop 2010BB",
        "21 (N4) in loop 2010BB",
        "22 (CLM)",
        "23 (HI)",
        "23 (HI)",
        "24 (NM1)",
        "24 (NM1)",
        "25 (REF) in loop 2310A",
        "28 (REF) in loop 2310B",
        "29 (SBR)",
        "31 (AMT) in loop 2320",
        "32 (OI)",
    ],
    "837P_04": ["22 (REF) in loop 2300"],
    "837P_05": ["21 (CLM)"],
    "837P_06": ["21 (N3)", "22 (N4)", "29 (CLM)", "30 (HI)", *(f"{n} (" for n in range(35, 41))],
}
"""What each public sample holds that the claim model cannot carry (docs/claims.md lists
why): the segments, by position."""


def write(path: Path, claims: list[Claim], *, pyx12_refuses: str = "") -> Path:
    """Our 837P of ``claims``, judged by pyx12 (``pyx12_refuses``: the one element it may
    refuse, a value the sample itself carries)."""
    data = write_837p(claims, ENVELOPE)
    verdict = judge(data)
    if pyx12_refuses:
        assert verdict.errors and all(pyx12_refuses in error for error in verdict.errors)
    else:
        assert verdict, verdict.errors
    path.write_bytes(data)
    return path


def test_our_files_read_back_to_the_claims_and_write_the_same_bytes(tmp_path: Path) -> None:
    for claims_file in CLAIM_FILES:
        original = list(load_claims(claims_file).claims)
        first = list(load_claims(write(tmp_path / "a.837", original)).claims)
        assert len(first) == len(original)
        sent_by_id = {claim.id: claim for claim in original}
        for read in first:  # the writer groups claims by provider and subscriber
            sent = sent_by_id[read.id]
            assert read.total_charge == sent.total_charge
            assert [line.charge for line in read.lines] == [line.charge for line in sent.lines]
            assert read.payer.id == sent.payer.id
            assert read.payer_responsibility == sent.payer_responsibility
            assert len(read.other_payers) == len(sent.other_payers)
            for ours, theirs in zip(read.other_payers, sent.other_payers, strict=True):
                assert (ours.paid, ours.adjustments) == (theirs.paid, theirs.adjustments)
                assert [(a.line, a.paid, a.adjustments) for a in ours.lines] == [
                    (a.line, a.paid, a.adjustments) for a in theirs.lines
                ]
        second = list(load_claims(write(tmp_path / "b.837", first)).claims)
        assert second == first, claims_file.name
        assert (tmp_path / "a.837").read_bytes() == (tmp_path / "b.837").read_bytes()


@pytest.mark.parametrize("sample", sorted(DROPPED))
def test_every_sample_reads_rewrites_and_reads_again_to_the_same_claims(
    samples_dir: Path, tmp_path: Path, sample: str
) -> None:
    (path,) = samples_dir.glob(f"{sample}_*")
    with pytest.raises(InputError) as refused:
        load_claims(path)
    read = load_837p(path, strict=False)
    locations = [p.location for p in read.dropped]
    assert len(locations) == len(DROPPED[sample])
    for location, expected in zip(locations, DROPPED[sample], strict=True):
        assert location.startswith(f"segment {expected}"), (location, expected)
    assert [str(p) for p in refused.value.problems] == [str(p) for p in read.dropped]
    claims = list(read.claims)
    # 837P_04's subscriber was born 1111-11-11: a date, which pyx12 calls invalid
    refuses = "(DMG02) contains an invalid date" if sample == "837P_04" else ""
    # read strictly: nothing is left out of our own file
    again = load_837p(write(tmp_path / "again.837", claims, pyx12_refuses=refuses))
    assert again.dropped == [] and list(again.claims) == claims


def test_cob_samples_carry_other_payers_with_line_adjudication(samples_dir: Path) -> None:
    (two,) = samples_dir.glob("837P_02_*")
    (claim,) = load_837p(two, strict=False).claims
    assert claim.payer_responsibility == "secondary"
    (primary,) = claim.other_payers
    assert (primary.payer.id, primary.relationship) == ("999996666", "spouse")
    assert primary.paid == D("39.15")
    assert [(a.group, a.reason, a.amount) for a in primary.adjustments] == [
        ("PR", "1", D("21.89")),
        ("PR", "2", D(15)),
    ]
    assert [(a.line, a.paid) for a in primary.lines] == [(1, D(40)), (2, D(15)), (3, D("21.04"))]
    assert primary.lines[0].adjustments[0].reason == "42"
    (three,) = samples_dir.glob("837P_03_*")
    (claim,) = load_837p(three, strict=False).claims
    # SBR*S*18**MEDICARE*12****MB: Medicare secondary, working aged (the group name is left out)
    assert (claim.insurance_type, claim.other_payers[0].insurance_type) == ("12", None)
    (line,) = claim.other_payers[0].lines
    assert line.paid == 80 and [a.group for a in line.adjustments] == ["CO", "PR"]
    assert claim.lines[0].modifiers == ("25",) and line.modifiers is None


def _medicare_secondary_owing_by_line() -> list[Claim]:
    """secondary.yaml with its first claim billed to Medicare Part B after a plan that is
    itself of a Medicare secondary payer type, the coinsurance left given per line."""
    first, *others = load_claims(SECONDARY).claims
    primary = first.other_payers[0]
    lines = tuple(
        replace(line, remaining_patient_liability=owed)
        for line, owed in zip(primary.lines, (D(48), D("20.5")), strict=True)
    )
    primary = replace(primary, remaining_patient_liability=None, lines=lines, insurance_type="47")
    medicare = replace(
        first,
        payer=Payer(name="MEDICARE PART B", id="00952"),
        subscriber=replace(first.subscriber, filing_code="MB"),
        insurance_type="12",
        other_payers=(primary,),
    )
    return [medicare, *others]


def test_insurance_types_and_line_remaining_liability_read_back(tmp_path: Path) -> None:
    claims = _medicare_secondary_owing_by_line()
    path = write(tmp_path / "msp.837", claims)
    data = path.read_bytes()
    assert b"SBR*S*18***12****MB~" in data and b"**47****" in data
    assert b"DTP*573*D8*20261120~\nAMT*EAF*48~" in data
    read = load_837p(path)  # strictly: SBR05 and 2430 AMT*EAF are no longer left out
    assert read.dropped == []
    by_id = {claim.id: claim for claim in read.claims}
    first = by_id.pop(claims[0].id)
    assert (first.insurance_type, first.other_payers[0].insurance_type) == ("12", "47")
    assert first.other_payers[0].remaining_patient_liability is None
    owed = [line.remaining_patient_liability for line in first.other_payers[0].lines]
    assert owed == [D(48), D("20.5")]
    assert {claim.insurance_type for claim in by_id.values()} == {None}  # no 2000B's SBR05
    # the writer sends names in capitals: what it wrote once it writes byte for byte again
    again = load_837p(write(tmp_path / "again.837", list(read.claims)))
    assert list(again.claims) == list(read.claims)
    assert (tmp_path / "again.837").read_bytes() == data


def test_the_other_payers_remark_codes_go_in_2320_moa_and_read_back(tmp_path: Path) -> None:
    claim = load_claims(DATA / "secondary.yaml").claims[0]
    other = replace(claim.other_payers[0], remark_codes=("n130", "MA18"))
    assert other.remark_codes == ("N130", "MA18")
    path = write(tmp_path / "moa.837", [replace(claim, other_payers=(other,))])
    text = path.read_text()
    assert "~\nOI***Y***Y~\nMOA***N130*MA18~\nNM1*IL*1*" in text  # 2320's last, before 2330A
    verdict = judge(path)
    assert verdict, verdict.errors
    read = load_837p(path)
    assert read.dropped == []
    (again,) = read.claims.claims
    assert again.other_payers[0].remark_codes == ("N130", "MA18")


def test_an_837p_owing_by_claim_and_by_line_or_of_an_unknown_insurance_type_is_refused(
    tmp_path: Path,
) -> None:
    data = write(tmp_path / "msp.837", _medicare_secondary_owing_by_line()).read_bytes()
    path = tmp_path / "broken.837"
    path.write_bytes(data.replace(b"AMT*D*", b"AMT*EAF*5~\nAMT*D*", 1))
    where = r"claim SUN-2001S \(segment \d+ \(CLM\)\): "
    with pytest.raises(InputError, match=where + r"other_payers\[0\]: .*not both"):
        load_837p(path)
    path.write_bytes(data.replace(b"SBR*S*18***12****MB", b"SBR*S*18***C1****MB", 1))
    with pytest.raises(InputError, match=where + "insurance_type: Input should be '12'"):
        load_837p(path)


def _envelope_parts(data: bytes) -> tuple[list[bytes], list[bytes], list[bytes]]:
    segments = [s for s in data.split(b"~\n") if s]
    return segments[:2], segments[2:-2], segments[-2:]


def test_several_transactions_and_groups_in_one_interchange(tmp_path: Path) -> None:
    claims = list(load_claims(SECONDARY).claims)
    first = write_837p(claims[:1], ENVELOPE)
    second = write_837p(claims[1:], replace(ENVELOPE, transaction_set_control_number=4))
    (isa, gs), st1, _ = _envelope_parts(first)
    _, st2, _ = _envelope_parts(second)
    one_group = [isa, gs, *st1, *st2, b"GE*2*7", b"IEA*1*000000042"]
    path = tmp_path / "two_st.837"
    path.write_bytes(b"~\n".join(one_group) + b"~\n")
    assert judge(path.read_bytes())
    (tmp_path / "1.837").write_bytes(first)
    (tmp_path / "2.837").write_bytes(second)
    apart = [*load_claims(tmp_path / "1.837").claims, *load_claims(tmp_path / "2.837").claims]
    assert list(load_claims(path).claims) == apart
    two_groups = [isa, gs, *st1, b"GE*1*7", gs.replace(b"*7*X*", b"*8*X*"), *st2, b"GE*1*8"]
    path.write_bytes(b"~\n".join([*two_groups, b"IEA*2*000000042"]) + b"~\n")
    assert list(load_claims(path).claims) == apart


def _broken(tmp_path: Path, old: bytes, new: bytes) -> Path:
    data = write_837p(list(load_claims(SECONDARY).claims), ENVELOPE)
    assert old in data
    path = tmp_path / "broken.837"
    path.write_bytes(data.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (b"ST*837*0003*005010X222A1", b"ST*837*0003*005010X223A2", "(ST) element ST03"),
        (b"IEA*1*000000042~\n", b"", "file ends before IEA"),
        (b"SV1*", b"SVX*", "expected SV1 and DTP*472"),
        (b"DMG*D8*", b"DMG*D8*2020", "(DMG) element DMG02"),
        (b"NM1*PR*2*", b"NM1*TT*2*", "expected CLM under a subscriber and payer"),
        (b"CLM*", b"CLM*X1*1*", "element CLM05"),
        (b"*M~\nNM1*PR*", b"*Q~\nNM1*PR*", "(CLM)): subscriber.gender"),
    ],
)
def test_a_broken_837p_exits_2_naming_file_and_segment(
    plugin_manager: PluginManager, tmp_path: Path, old: bytes, new: bytes, where: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        load_claims(path)
    assert str(path) in str(caught.value) and where in str(caught.value)
    cli = create_cli(plugin_manager)
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert where in result.stderr


def test_a_total_that_is_not_the_sum_of_the_lines_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, b"*CO*", b"*CO*")  # the file as written, then its first CLM02
    data = path.read_bytes()
    start = data.index(b"CLM*")
    clm = data[start : data.index(b"~", start)]
    fields = clm.split(b"*")
    fields[2] = b"1" + fields[2]
    path.write_bytes(data.replace(clm, b"*".join(fields), 1))
    with pytest.raises(InputError, match="CLM02 differs"):
        load_claims(path)


@pytest.fixture
def cli(plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "accounts.yaml"
    config.write_text(yaml.safe_dump(ACCOUNTS))
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    app = create_cli(plugin_manager)
    return lambda *args: CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_convert_writes_yaml_that_loads_back_to_the_same_claims(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.837", list(load_claims(SECONDARY).claims))
    out = tmp_path / "claims.yaml"
    result = cli("convert", str(source), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "ok": True,
        "source": str(source),
        "output": str(out),
        "claims": 3,
        "dropped": [],
    }
    text = out.read_text()
    assert "!!" not in text and "billing_provider" in text.split("claims:")[0]
    assert list(load_claims(out).claims) == list(load_claims(source).claims)


def test_convert_refuses_or_lists_what_it_cannot_carry(cli, samples_dir: Path, tmp_path: Path):
    (sample,) = samples_dir.glob("837P_04_*")
    out = tmp_path / "claims.yaml"
    result = cli("convert", str(sample), "-o", str(out))
    assert result.exit_code == 2 and not out.exists()
    assert "segment 22 (REF) in loop 2300: REF*D9" in result.stderr
    result = cli("convert", str(sample), "-o", str(out), "--drop-unsupported")
    assert result.exit_code == 0 and "left out: segment 22 (REF)" in result.stderr
    assert [c.id for c in load_claims(out).claims] == ["1111111111"]


def test_validate_and_build_take_an_837p_and_envelope_it_anew(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.837", list(load_claims(SECONDARY).claims))
    result = cli("validate", str(source))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out.837"
    result = cli("build", str(source), "--account", "sunrise", "-o", str(out))
    assert result.exit_code == 0, result.output
    built = out.read_bytes()
    assert b"*000000001*0*T*:~" in built and b"*000000042*" in source.read_bytes()
    assert judge(built)
    assert list(load_claims(out).claims) == list(load_claims(source).claims)


def test_a_file_with_a_segment_too_many_in_every_line_lists_the_first_hundred(
    tmp_path: Path,
) -> None:
    data = write_837p(list(load_claims(SECONDARY).claims), ENVELOPE)
    path = tmp_path / "k3.837"
    path.write_bytes(data.replace(b"REF*6R", b"K3*FIXED FORMAT~\n" * 40 + b"REF*6R"))
    with pytest.raises(InputError) as caught:
        load_claims(path)
    problems = caught.value.problems
    assert len(problems) == 101
    assert all(
        "(K3) in loop 2400: K3: the claim model has no place" in str(p) for p in problems[:-1]
    )
    assert problems[-1].message == (
        "only the first 100 segments the claim model cannot carry are listed"
    )
