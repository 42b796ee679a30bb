"""837P read back for `claimferry show`: our writer's files, the public samples, and bad input."""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from unittest.mock import ANY

import pytest
from click.testing import CliRunner

from claimferry.claims import RESPONSIBILITY_CODES, Claim
from claimferry.claims_input import load_claims
from claimferry.cli.app import create_cli
from claimferry.errors import InputError
from claimferry.manager import PluginManager
from claimferry.x12.claims837 import Claims837Document, read_837p_file
from claimferry.x12.codes import MASK
from claimferry.x12.responses import detect_kind, is_837p
from claimferry.x12.segments import X12SyntaxError
from claimferry.x12.writer837 import line_control_number, write_837p
from support.claim_files import CLAIM_FILES, DATA, ENVELOPE, SAMPLE
from support.x12judge import judge

D = Decimal


def written(tmp_path: Path, claims: list[Claim], name: str = "claims.837") -> Path:
    data = write_837p(claims, ENVELOPE)
    assert judge(data), "the writer's own file must pass pyx12 before it is read back"
    path = tmp_path / name
    path.write_bytes(data)
    return path


def phi_values(claims: list[Claim]) -> set[str]:
    """Names, member ids, birth dates and address lines as they stand in the file."""
    values: set[str] = set()
    for claim in claims:
        people = [claim.subscriber, *([claim.patient] if claim.patient else [])]
        for someone in people:
            values |= {someone.last_name.upper(), someone.birth_date.strftime("%Y%m%d")}
            values.add(someone.birth_date.isoformat())
            if someone.address is not None:
                values.add(someone.address.line1.upper())
        values.add(claim.subscriber.member_id)
    return values


# -- our own files -------------------------------------------------------------------


@pytest.mark.parametrize("claims_file", CLAIM_FILES, ids=lambda p: p.name)
def test_what_the_writer_sent_reads_back_claim_by_claim(tmp_path: Path, claims_file: Path) -> None:
    claims = list(load_claims(claims_file).claims)
    path = written(tmp_path, claims)
    assert detect_kind(path) is None, "an 837P is never taken for a response"
    assert is_837p(path)

    document = read_837p_file(path)
    assert document.kind == "837P"
    assert document.notices == ()
    assert document.interchange.control_number == "000000042"
    assert document.interchange.test
    (transaction,) = document.transactions
    assert (transaction.control_number, transaction.implementation) == ("0003", "005010X222A1")
    assert (transaction.submitter_name, transaction.submitter_id) == (
        "SUNRISE ABA THERAPY LLC",
        "SUB123",
    )
    assert (transaction.receiver_name, transaction.receiver_id) == ("SOME HOUSE", "RECV1000B")
    assert transaction.created == date(2026, 11, 20)

    read = {claim.claim_id: claim for claim in document.claims()}
    assert sorted(read) == sorted(claim.id for claim in claims)
    assert document.claim_count == len(claims)
    assert document.line_count == sum(len(claim.lines) for claim in claims)
    assert document.total_charge == sum((claim.total_charge for claim in claims), D(0))
    for claim in claims:
        got = read[claim.id]
        assert got.total_charge == claim.total_charge
        assert got.frequency_code == claim.frequency_code
        assert got.frequency_meaning == claim.frequency
        assert got.place_of_service == claim.place_of_service
        replaced = claim.payer_claim_number if claim.frequency != "original" else None
        assert got.payer_claim_number == (replaced or "")
        responsibility = RESPONSIBILITY_CODES[claim.payer_responsibility]
        assert (got.payer_id, got.payer_responsibility) == (claim.payer.id, responsibility)
        assert got.filing_code == claim.subscriber.filing_code
        assert got.billing_provider_npi == claim.provider().npi
        assert got.subscriber.person.id == claim.subscriber.member_id
        assert got.subscriber.birth_date == claim.subscriber.birth_date
        assert (got.patient is None) == (claim.patient is None)
        if claim.patient is not None and got.patient is not None:
            assert got.patient.birth_date == claim.patient.birth_date
        assert len(got.lines) == len(claim.lines)
        for number, (line, sent) in enumerate(zip(got.lines, claim.lines, strict=True), start=1):
            assert line.number == str(number)
            assert (line.qualifier, line.procedure, line.modifiers) == (
                "HC",
                sent.procedure,
                sent.modifiers,
            )
            assert (line.charge, line.units, line.unit_basis) == (sent.charge, sent.units, "UN")
            assert line.service_from == sent.service_date
            assert line.service_to == (sent.service_end_date or sent.service_date)
            assert line.control_number == line_control_number(claim.id, number, sent)


def test_phi_is_masked_everywhere_unless_asked(tmp_path: Path) -> None:
    claims = list(load_claims(DATA / "dependents.yaml").claims)
    document = read_837p_file(written(tmp_path, claims))
    secrets = phi_values(claims)

    masked = json.dumps(document.to_dict())
    text = document.render()
    reprs = repr(list(document.claims()))
    for value in secrets:
        assert value not in masked
        assert value not in text
        assert value not in reprs
    first = document.to_dict()["claims"][0]
    assert first["subscriber"]["name"] == first["subscriber"]["id"] == MASK
    assert first["subscriber"]["birth_date"] == MASK
    assert first["subscriber"]["address"] == [MASK]
    assert "subscriber ***, member id ***" in text

    shown = json.dumps(document.to_dict(phi=True)) + document.render(phi=True)
    for value in secrets - {v for v in secrets if v.isdigit() and len(v) == 8}:
        assert value in shown
    assert "XOF900100200" in document.render(phi=True)
    assert "RIVERA" in document.render(phi=True)


def test_streamed_json_is_the_same_document(tmp_path: Path) -> None:
    document = read_837p_file(written(tmp_path, list(load_claims(SAMPLE).claims)))
    for phi in (False, True):
        streamed = json.loads("".join(document.json_chunks(phi=phi)))
        assert streamed == document.to_dict(phi=phi)
    assert streamed["total_charge"] == str(document.total_charge)


def test_a_large_file_is_read_in_flat_memory(tmp_path: Path) -> None:
    """Four times the claims, the same peak: the document keeps totals, not claims."""
    claim = load_claims(SAMPLE).claims[0]
    written(tmp_path, [replace(claim, id=f"BIG-{n}") for n in range(2)])  # pyx12 judges the form

    def peak(count: int) -> int:
        path = tmp_path / f"{count}.837"
        path.write_bytes(
            write_837p([replace(claim, id=f"BIG-{n}") for n in range(count)], ENVELOPE)
        )
        tracemalloc.start()
        try:
            document = read_837p_file(path)
            lines = sum(1 for _ in document.render_lines())
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert document.claim_count == count
            assert document.total_charge == claim.total_charge * count
            assert lines > count

    peak(10)  # code lists and caches load once
    small, large = peak(800), peak(3200)
    assert large < small * 1.25, f"peak {large} bytes for 3200 claims, {small} for 800"


# -- the public samples --------------------------------------------------------------


def test_every_837p_sample_reads(samples_dir: Path) -> None:
    paths = sorted(samples_dir.glob("837P_*"))
    assert len(paths) == 6
    for path in paths:
        assert is_837p(path), path.name
        document = read_837p_file(path)
        assert document.claim_count == 1
        assert json.loads("".join(document.json_chunks())) == document.to_dict()
        assert document.render().startswith(f"837P claims ({path}): 1 claim, ")


def test_sample_values_checked_by_hand(samples_dir: Path) -> None:
    (dependent,) = read_837p_file(
        samples_dir / "837P_01_dependent_patient_HL23_four_lines.edi"
    ).claims()
    assert (dependent.claim_id, dependent.total_charge, dependent.frequency_meaning) == (
        "26463774",
        D("100"),
        "original",
    )
    assert (dependent.payer_name, dependent.payer_id) == ("KEY INSURANCE COMPANY", "999996666")
    assert dependent.patient is not None and dependent.patient.birth_date == date(1973, 5, 1)
    assert dependent.subscriber.person.id == "JS00111223333"
    assert [(line.procedure, line.charge) for line in dependent.lines] == [
        ("99213", D(40)),
        ("87070", D(15)),
        ("99214", D(35)),
        ("86663", D(10)),
    ]
    assert dependent.lines[2].service_from == date(2006, 10, 10)

    # 2320/2330 other-payer loops carry their own SBR and NM1*PR: the claim's payer is 2010BB's
    (secondary,) = read_837p_file(samples_dir / "837P_03_cob_modifier25_2320_svd_cas.837").claims()
    assert (secondary.payer_id, secondary.responsibility_meaning) == ("10234", "secondary")
    assert secondary.filing_code == "MB"
    assert secondary.patient is None
    assert (secondary.lines[0].procedure, secondary.lines[0].modifiers) == ("99203", ("25",))

    (ranged,) = read_837p_file(samples_dir / "837P_05_simple_single_claim_uhin.edi").claims()
    assert (ranged.lines[0].service_from, ranged.lines[0].service_to) == (
        date(2024, 8, 15),
        date(2024, 8, 20),
    )

    # 4010-style ISA, '>' components, newline as the segment terminator, indented
    indented = read_837p_file(samples_dir / "837P_06_indented_whitespace_ndc_HL23.edi")
    (drug,) = indented.claims()
    assert (drug.place_of_service, drug.lines[0].procedure, drug.lines[0].units) == (
        "12",
        "J2941",
        D(84),
    )
    assert drug.lines[0].control_number == "1099999731"


# -- malformed input -----------------------------------------------------------------

GOOD = (DATA / "full_claim.yaml",)


def edited(tmp_path: Path, old: str, new: str) -> Path:
    claims = list(load_claims(GOOD[0]).claims)
    text = write_837p(claims, ENVELOPE).decode()
    assert old in text
    path = tmp_path / "edited.837"
    path.write_text(text.replace(old, new, 1))
    return path


def segment_of(path: Path, prefix: str) -> int:
    """The 1-based position of the first segment starting with ``prefix``."""
    segments = [s.strip() for s in path.read_text().split("~") if s.strip()]
    return next(n for n, s in enumerate(segments, start=1) if s.startswith(prefix))


@pytest.mark.parametrize(
    ("old", "new", "at", "message"),
    [
        ("*UN*", "*UN*many", "SV1", "element SV104: expected a quantity"),
        ("CLM*", "CLM**", "CLM", "element CLM01: expected the claim id"),
        (
            "DTP*472*D8*",
            "DTP*472*D8*X",
            "DTP*472*D8*X",
            "element DTP03: expected a date as CCYYMMDD",
        ),
        ("NM1*PR*", "NM1*XX*", "CLM", "expected SBR and a payer (NM1*PR) in HL*22"),
        ("HL*1**20*1", "HL*1**21*1", "HL*1", "element HL03: expected an 837P level code"),
    ],
    ids=["units", "claim-id", "date", "no-payer", "level"],
)
def test_malformed_input_names_file_and_segment(
    tmp_path: Path, old: str, new: str, at: str, message: str
) -> None:
    assert read_837p_file(edited(tmp_path, old, old)).claim_count == 2  # the edit is the fault
    path = edited(tmp_path, old, new)
    with pytest.raises(X12SyntaxError) as caught:
        read_837p_file(path)
    position = segment_of(path, at)
    segment_id = at.split("*")[0]
    assert str(caught.value).startswith(f"{path}: segment {position} ({segment_id})")
    assert message in str(caught.value)


def test_a_line_without_sv1_and_a_cut_file_are_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "SV1*", "NTE*ADD*")
    with pytest.raises(X12SyntaxError, match=r"segment \d+ \(LX\): expected SV1 in this"):
        read_837p_file(path)
    cut = tmp_path / "cut.837"
    text = write_837p(list(load_claims(GOOD[0]).claims), ENVELOPE).decode()
    cut.write_text(text[: text.index("\nSE*") + 1])
    with pytest.raises(X12SyntaxError, match="file ends before IEA"):
        read_837p_file(cut)


def test_a_claim_total_unlike_its_lines_is_a_notice(tmp_path: Path) -> None:
    claims = list(load_claims(GOOD[0]).claims)
    text = write_837p(claims, ENVELOPE).decode()
    clm = next(s for s in text.split("~") if s.strip().startswith("CLM*"))
    parts = clm.split("*")
    parts[2] = str(D(parts[2]) + 1)
    path = tmp_path / "off.837"
    path.write_text(text.replace(clm, "*".join(parts), 1))
    document = read_837p_file(path)
    (notice,) = document.notices
    assert notice.location.endswith("element CLM02")
    assert "differs from the sum of the lines' charges" in notice.message


def test_not_an_837p_is_refused_by_the_reader(samples_dir: Path) -> None:
    with pytest.raises(InputError, match="element GS01: expected functional group HC"):
        Claims837Document(samples_dir / "835_02_two_claims_cas_managed_care.835")


# -- through the CLI -----------------------------------------------------------------


def test_show_lists_an_837p_as_text_and_json(tmp_path: Path, plugin_manager: PluginManager) -> None:
    claims = list(load_claims(DATA / "dependents.yaml").claims)
    path = written(tmp_path, claims)
    cli = create_cli(plugin_manager)
    runner = CliRunner()

    text = runner.invoke(cli, ["show", str(path)])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith(f"837P claims ({path}): {len(claims)} claims")
    assert "claim LBH-2001: charge 240.00, original (1), place of service 11" in text.stdout
    assert (
        "line 1 97153:HM: charge 240.00, 8 UN, 2026-11-02, line control LBH-2001-1" in text.stdout
    )
    assert "RIVERA" not in text.stdout

    as_json = runner.invoke(cli, ["show", str(path), "--json"])
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert data["kind"] == "837P"
    assert data["claim_count"] == len(claims)
    assert "RIVERA" not in as_json.stdout

    phi = runner.invoke(cli, ["show", str(path), "--json", "--show-phi"])
    assert "RIVERA" in phi.stdout


def test_show_of_a_malformed_837p_exits_2_with_no_claim_on_stdout(
    tmp_path: Path, plugin_manager: PluginManager
) -> None:
    path = edited(tmp_path, "*UN*", "*UN*many")
    result = CliRunner().invoke(create_cli(plugin_manager), ["show", str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"ok": False, "error": ANY}  # the error, no claims
    assert json.loads(result.stdout)["error"]["path"] == (
        f"segment {segment_of(path, 'SV1')} (SV1) element SV104"
    )
    assert f"{path}: segment {segment_of(path, 'SV1')} (SV1) element SV104" in result.stderr
    assert "Traceback" not in result.stderr
