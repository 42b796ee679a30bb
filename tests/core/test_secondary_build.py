"""`claimferry secondary build`: the primary's 835 in the ledger becomes a claims file
for the secondary payer, linked to the original; a crossover is refused."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from claimferry import lifecycle
from claimferry.claims import parse_claims
from claimferry.claims_input import load_claims
from claimferry.cli import create_cli
from claimferry.ledger import BatchState, ClaimState, Ledger, NewClaim, SentLine
from claimferry.lifecycle import apply_response
from claimferry.manager import PluginManager
from claimferry.remits import ClaimMoney, claim_money
from claimferry.secondary import Adjudication, NotBillable, next_payer_claim
from claimferry.submission import claim_content_hash
from claimferry.types import ValidationContext
from claimferry.x12 import remit835
from claimferry.x12.writer837 import line_control_number, write_837p
from claimferry_checks.rules import check_claims
from support.claim_files import ENVELOPE
from support.x12judge import judge

ACCOUNT = "sunrise"
MEDICAID = {
    "responsibility": "secondary",
    "payer": {"name": "ILLINOIS MEDICAID", "id": "IL621"},
    "subscriber": {"member_id": "987654321", "first_name": "Noah", "last_name": "Park"},
    "relationship": "self",
    "filing_code": "MC",
}


def _claim(claim_id: str, *, next_payer: dict[str, Any] | None = MEDICAID) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "id": claim_id,
        "payer": {"name": "BLUE CROSS BLUE SHIELD OF ILLINOIS", "id": "00621"},
        "subscriber": {
            "member_id": "XOF123456789", "first_name": "Ava", "last_name": "Park",
            "birth_date": "1986-05-01", "gender": "F", "group_number": "GRP100",
            "filing_code": "BL",
            "address": {"line1": "9 Elm St", "city": "Springfield", "state": "IL", "zip": "62704"},
        },
        "patient": {
            "relationship": "child", "first_name": "Noah", "last_name": "Park",
            "birth_date": "2018-04-09", "gender": "M",
            "address": {"line1": "9 Elm St", "city": "Springfield", "state": "IL", "zip": "62704"},
        },
        "place_of_service": "12",
        "diagnoses": ["F84.0"],
        "lines": [
            {"service_date": "2026-11-02", "procedure": "97153", "modifiers": ["HN"],
             "units": 16, "charge": "480.00", "diagnosis_pointers": [1]},
            {"service_date": "2026-11-02", "procedure": "97155", "modifiers": ["HO"],
             "units": 4, "charge": "200.00", "diagnosis_pointers": [1]},
        ],
    }  # fmt: skip
    if next_payer is not None:
        claim["other_payers"] = [next_payer]
    return claim


ORIGINALS = {
    "billing_provider": {
        "organization": "Sunrise ABA Therapy LLC", "npi": "1234567893", "tax_id": "123456789",
        "address": {"line1": "100 Main St", "city": "Springfield", "state": "IL",
                    "zip": "627011234"},
    },
    "claims": [_claim("P-1"), _claim("P-2"), _claim("P-3", next_payer=None), _claim("P-4"),
               dict(_claim("P-5"), prior_authorization="PA55")],
}  # fmt: skip


def _era(trace: str) -> str:
    """The primary's 835: P-1 paid with coinsurance, P-2 crossed over to Medicaid,
    P-3 paid (no secondary named), P-4 paid in full (nothing left), P-5 denied (paid
    nothing, CO adjustments only)."""
    patient = "NM1*QC*1*PARK*NOAH****MI*XOF123456789"

    def lines(claim: str) -> list[str]:
        out = []
        for number, (charge, paid, co, pr) in enumerate(
            [("480", "336", "96", "48"), ("200", "140", "40", "20")], 1
        ):
            out += [f"SVC*HC:97153:HN*{charge}*{paid}**16" if number == 1 else
                    f"SVC*HC:97155:HO*{charge}*{paid}**4", "DTM*472*20261102"]  # fmt: skip
            out += [f"CAS*CO*45*{co}", f"CAS*PR*2*{pr}"]
            out.append(f"REF*6R*{claim}-{number}")
        return out

    full_lines = [
        "SVC*HC:97153:HN*480*480**16", "DTM*472*20261102", "REF*6R*P-4-1",
        "SVC*HC:97155:HO*200*200**4", "DTM*472*20261102", "REF*6R*P-4-2",
    ]  # fmt: skip
    denied_lines = [
        "SVC*HC:97153:HN*480*0**16", "DTM*472*20261102", "CAS*CO*50*480", "REF*6R*P-5-1",
        "SVC*HC:97155:HO*200*0**4", "DTM*472*20261102", "CAS*CO*50*200", "REF*6R*P-5-2",
    ]  # fmt: skip
    claims = [
        ["CLP*P-1*1*680*476*68*12*BC0001", patient, "MOA***N130", *lines("P-1")],
        ["CLP*P-2*19*680*476*68*12*BC0002", patient, "NM1*TT*2*ILLINOIS MEDICAID*****PI*IL621",
         *lines("P-2")],
        ["CLP*P-3*1*680*476*68*12*BC0003", patient, *lines("P-3")],
        ["CLP*P-4*1*680*680*0*12*BC0004", patient, *full_lines],
        ["CLP*P-5*1*680*0*0*12*BC0005", patient, *denied_lines],
    ]  # fmt: skip
    bpr = "BPR*I*2108*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20261120"
    return _835(trace, bpr, [segment for claim in claims for segment in claim])


def _835(trace: str, bpr: str, claims: list[str], plb: tuple[str, ...] = ()) -> str:
    body = [
        "ST*835*0001",
        bpr,
        f"TRN*1*{trace}*1512345678",
        "N1*PR*BLUE CROSS BLUE SHIELD OF ILLINOIS",
        "N3*1 PAYER WAY",
        "N4*CHICAGO*IL*60601",
        "PER*BL*CLAIMS*TE*3125550100",
        "N1*PE*SUNRISE ABA THERAPY LLC*XX*1234567893",
        "LX*1",
        *claims,
        *plb,
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    return "~\n".join([
        "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUNRISE01      *261120*1200*^*00501"
        "*000000101*0*T*:",
        "GS*HP*PAYER01*SUNRISE01*20261120*1200*101*X*005010X221A1",
        *body, "GE*1*101", "IEA*1*000000101",
    ]) + "~\n"  # fmt: skip


@pytest.fixture
def paid(
    tmp_path: Path, plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """The original claims sent (recorded as the pipeline does) and the 835 applied."""
    state = tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(state))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    originals = tmp_path / "claims.yaml"
    originals.write_text(yaml.safe_dump(ORIGINALS), encoding="utf-8")
    claims = load_claims(originals).claims
    assert judge(write_837p(claims, ENVELOPE))  # a primary claim naming its secondary: 2320
    with Ledger.open(state) as ledger:
        ledger.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
        batch = ledger.record_batch(
            account=ACCOUNT, file_name="F7.txt", archive_path=Path("unused"), sha256="0" * 64,
            size=1, control_number=7, test=True,
            claims=[
                NewClaim(c.id, c.payer.id, c.total_charge, claim_content_hash(c), c.frequency,
                         None, tuple(SentLine(line_control_number(c.id, n, line), line.procedure,
                                              line.charge) for n, line in enumerate(c.lines, 1)))
                for c in claims
            ],
        )  # fmt: skip
        ledger.set_batch_state(batch.id, BatchState.UPLOADED, remote_name=batch.file_name)
        era = tmp_path / "1_ERA.835"
        era.write_text(_era("EFT7788"), encoding="latin-1")
        assert judge(era)
        apply_response(ledger, ACCOUNT, era, plugin_manager.response_readers(), era.name)
    return originals, era


def _run(pm: PluginManager, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(create_cli(pm), list(args))
    assert result.exit_code == code, result.output
    return result


def test_secondary_claim_carries_the_primarys_adjudication_and_passes_pyx12(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    originals, _ = paid
    out = tmp_path / "secondary.yaml"
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "--trace", "EFT7788", "-o", str(out), "--json")  # fmt: skip
    report = json.loads(result.stdout)
    assert report["claims"] == [
        {"claim": "P-1S", "from": "P-1", "payer": "IL621"},
        {"claim": "P-5S", "from": "P-5", "payer": "IL621"},
    ]
    refused = {r["claim"]: r["reason"] for r in report["refused"]}
    assert set(refused) == {"P-2", "P-3", "P-4"}
    assert "forwarded it to ILLINOIS MEDICAID (IL621) itself (CLP02 19" in refused["P-2"]
    assert "names no secondary payer" in refused["P-3"]
    assert "paid it and left nothing on the patient" in refused["P-4"]
    assert report["notes"] == [
        "claim P-5S: claim P-5 had a prior authorisation from BLUE CROSS BLUE SHIELD OF "
        "ILLINOIS; add ILLINOIS MEDICAID's own as prior_authorization if it requires one"
    ]

    claim, denied = load_claims(out).claims
    assert f"# {report['notes'][0]}" in out.read_text()
    assert (claim.id, claim.payer.id, claim.payer_responsibility) == ("P-1S", "IL621", "secondary")
    assert claim.patient is None  # Noah is Medicaid's subscriber himself
    assert (claim.subscriber.member_id, claim.subscriber.filing_code) == ("987654321", "MC")
    (primary,) = claim.other_payers
    assert (primary.payer.id, primary.responsibility, primary.relationship) == (
        "00621", "primary", "child",
    )  # fmt: skip
    assert (primary.paid, primary.remaining_patient_liability) == (Decimal(476), None)
    # the coinsurance left on each line goes in its 2430 AMT*EAF, not also in 2320
    assert [a.remaining_patient_liability for a in primary.lines] == [Decimal(48), Decimal(20)]
    assert primary.payer_claim_number == "BC0001"
    assert primary.remark_codes == ("N130",)  # the 835's MOA, for 2320 MOA
    assert [(a.line, a.paid, [(x.group, x.reason, x.amount) for x in a.adjustments])
            for a in primary.lines] == [
        (1, Decimal(336), [("CO", "45", Decimal(96)), ("PR", "2", Decimal(48))]),
        (2, Decimal(140), [("CO", "45", Decimal(40)), ("PR", "2", Decimal(20))]),
    ]  # fmt: skip
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    assert [f for f in check_claims([claim, denied], context) if f.severity == "error"] == []
    written = write_837p([claim, denied], ENVELOPE)
    assert written.count(b"MOA***N130~") == 1
    verdict = judge(written)
    assert verdict, verdict.errors


def test_a_primary_denial_is_billed_to_the_secondary_without_its_authorisation(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    originals, _ = paid
    out = tmp_path / "secondary.yaml"
    _run(plugin_manager, "secondary", "build", "--claims", str(originals),
         "--trace", "EFT7788", "-o", str(out))  # fmt: skip
    denied = next(c for c in load_claims(out).claims if c.id == "P-5S")
    assert denied.prior_authorization is None  # PA55 was the primary's, not Medicaid's
    (primary,) = denied.other_payers
    assert (primary.paid, primary.remaining_patient_liability) == (Decimal(0), None)
    assert [a.remaining_patient_liability for a in primary.lines] == [Decimal(0), Decimal(0)]
    assert [(a.line, a.paid, [(x.group, x.reason, x.amount) for x in a.adjustments])
            for a in primary.lines] == [
        (1, Decimal(0), [("CO", "50", Decimal(480))]),
        (2, Decimal(0), [("CO", "50", Decimal(200))]),
    ]  # fmt: skip
    written = write_837p([denied], ENVELOPE).decode()
    assert "REF*G1" not in written
    assert (
        "SVD*00621*0*HC:97153:HN**16~\nCAS*CO*50*480~\nDTP*573*D8*20261120~\nAMT*EAF*0~" in written
    )
    assert "AMT*EAF*0~\nOI" not in written  # not in 2320 as well


def test_the_output_is_not_overwritten_without_force(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    originals, _ = paid
    out = tmp_path / "secondary.yaml"
    out.write_text("kept\n", encoding="utf-8")
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "--trace", "EFT7788", "-o", str(out), code=2)  # fmt: skip
    assert "exists already: give --force to overwrite it" in result.output
    assert out.read_text() == "kept\n"
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "--trace", "EFT7788", "-o", str(originals), "--force", code=2)  # fmt: skip
    assert "is the --claims file" in result.output
    assert yaml.safe_load(originals.read_text()) == ORIGINALS
    _run(plugin_manager, "secondary", "build", "--claims", str(originals),
         "--trace", "EFT7788", "-o", str(out), "--force")  # fmt: skip
    assert [c.id for c in load_claims(out).claims] == ["P-1S", "P-5S"]


def test_status_links_the_original_and_its_secondary(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    originals, era = paid
    out = tmp_path / "secondary.yaml"
    _run(plugin_manager, "secondary", "build", "--claims", str(originals), "--from-835",
         str(era), "--account", ACCOUNT, "-o", str(out))  # fmt: skip
    shown = _run(plugin_manager, "status", "--claim", "P-1").stdout
    assert "next payer: secondary P-1S claim" in shown
    report = json.loads(_run(plugin_manager, "status", "--claim", "P-1", "--json").stdout)
    assert report["claims"][0]["next_payer_claims"] == ["secondary P-1S"]


def test_nothing_to_build_writes_nothing_and_exits_1(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    originals, _ = paid
    out = tmp_path / "none.yaml"
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "--trace", "NOSUCH", "-o", str(out), code=1)  # fmt: skip
    assert "no claim of ours is recorded in payment NOSUCH" in result.output
    assert not out.exists()


def test_a_changed_original_is_refused(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    changed = dict(ORIGINALS, claims=[dict(_claim("P-1"), place_of_service="11")])
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(changed), encoding="utf-8")
    out = tmp_path / "secondary.yaml"
    result = _run(plugin_manager, "secondary", "build", "--claims", str(edited),
                  "--trace", "EFT7788", "-o", str(out), code=1)  # fmt: skip
    assert "holds other content than the claim sent" in result.output
    assert not out.exists()


PATIENT = "NM1*QC*1*PARK*NOAH****MI*XOF123456789"
P1_REVERSAL = [
    "CLP*P-1*22*-680*-476*-68*12*BC0001", PATIENT,
    "SVC*HC:97153:HN*-480*-336**16", "DTM*472*20261102", "CAS*CO*45*-96", "CAS*PR*2*-48",
    "REF*6R*P-1-1",
    "SVC*HC:97155:HO*-200*-140**4", "DTM*472*20261102", "CAS*CO*45*-40", "CAS*PR*2*-20",
    "REF*6R*P-1-2",
]  # fmt: skip
P1_CORRECTION = [  # paid less: a coinsurance of 20% rather than 10%
    "CLP*P-1*1*680*408*136*12*BC0001", PATIENT,
    "SVC*HC:97153:HN*480*288**16", "DTM*472*20261102", "CAS*CO*45*96", "CAS*PR*2*96",
    "REF*6R*P-1-1",
    "SVC*HC:97155:HO*200*120**4", "DTM*472*20261102", "CAS*CO*45*40", "CAS*PR*2*40",
    "REF*6R*P-1-2",
]  # fmt: skip
DEBIT = "BPR*I*{}*D*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{}"


def _apply(tmp_path: Path, name: str, text: str) -> int:
    """Apply a later 835, judged by pyx12 first; the claims it updated."""
    era = tmp_path / name
    era.write_text(text, encoding="latin-1")
    verdict = judge(era)
    assert verdict, verdict.errors
    with Ledger.open(tmp_path / "state") as ledger:
        return apply_response(ledger, ACCOUNT, era, (), era.name).claims


def _refusals(pm: PluginManager, originals: Path, out: Path, trace: str) -> dict[str, str]:
    result = CliRunner().invoke(
        create_cli(pm),
        ["secondary", "build", "--claims", str(originals), "--trace", trace, "-o", str(out),
         "--force", "--json"],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    return {r["claim"]: r["reason"] for r in json.loads(result.stdout)["refused"]}


def test_a_decision_the_payer_took_back_later_is_not_billed_onward(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """P-1's payment is reversed in a later 835 and the claim decided again (denied):
    the next payer must get the decision that stands, not the one taken back."""
    originals, _ = paid
    denied = [
        "CLP*P-1*1*680*0*0*12*BC0001", PATIENT,
        "SVC*HC:97153:HN*480*0**16", "DTM*472*20261102", "CAS*CO*50*480", "REF*6R*P-1-1",
        "SVC*HC:97155:HO*200*0**4", "DTM*472*20261102", "CAS*CO*50*200", "REF*6R*P-1-2",
    ]  # fmt: skip
    later = _835(
        "EFT9900",
        "BPR*H*0*C*NON************20261201",
        [*P1_REVERSAL, *denied],
        ("PLB*1234567893*20261231*FB:BC0001*-476",),
    )
    assert _apply(tmp_path, "2_ERA.835", later) == 2
    out = tmp_path / "secondary.yaml"
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "--trace", "EFT7788", "-o", str(out), "--json")  # fmt: skip
    report = json.loads(result.stdout)
    assert [c["claim"] for c in report["claims"]] == ["P-5S"]
    refused = {r["claim"]: r["reason"] for r in report["refused"]}
    assert refused["P-1"] == (
        "claim P-1: a later 835 changed this decision: payment EFT9900 of 2026-12-01 decided "
        "it again (CLP02 1): build from that payment (--trace EFT9900)"
    )

    _run(plugin_manager, "secondary", "build", "--claims", str(originals),
         "--trace", "EFT9900", "-o", str(out), "--force")  # fmt: skip
    (built,) = load_claims(out).claims
    (primary,) = built.other_payers
    assert (built.id, primary.paid) == ("P-1S", Decimal(0))
    assert [[(x.group, x.reason, x.amount) for x in a.adjustments] for a in primary.lines] == [
        [("CO", "50", Decimal(480))],
        [("CO", "50", Decimal(200))],
    ]


def test_a_reversal_with_no_correction_yet_leaves_nothing_to_bill_onward(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    originals, _ = paid
    _apply(tmp_path, "2_ERA.835", _835("EFT9900", DEBIT.format(476, "20261201"), P1_REVERSAL))
    refused = _refusals(plugin_manager, originals, tmp_path / "s.yaml", "EFT7788")
    assert refused["P-1"] == (
        "claim P-1: a later 835 changed this decision: payment EFT9900 of 2026-12-01 reversed "
        "it: nothing stands to bill onward until the payer decides the claim again"
    )
    with Ledger.open(tmp_path / "state") as ledger:
        (claim,) = ledger.claims(claim_id="P-1")
        assert claim_money(ledger, [claim.row])[claim.row] == ClaimMoney(Decimal(0), Decimal(0))


def test_a_correction_listed_before_its_reversal_stands_for_the_next_payer(
    paid: tuple[Path, Path],
    plugin_manager: PluginManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One payment with the correction first and its reversal in the next chunk of
    claims: the ledger keeps the correction, and so does the build."""
    originals, _ = paid
    monkeypatch.setattr(lifecycle, "REMIT_CHUNK", 1)
    text = _835("EFT9900", DEBIT.format(68, "20261201"), [*P1_CORRECTION, *P1_REVERSAL])
    _apply(tmp_path, "2_ERA.835", text)
    assert "P-1" not in _refusals(plugin_manager, originals, tmp_path / "s.yaml", "EFT9900")
    (built,) = load_claims(tmp_path / "s.yaml").claims
    (primary,) = built.other_payers
    assert (built.id, primary.paid, primary.adjudication_date) == (
        "P-1S", Decimal(408), date(2026, 12, 1),
    )  # fmt: skip
    with Ledger.open(tmp_path / "state") as ledger:
        (claim,) = ledger.claims(claim_id="P-1")
        assert claim.state is ClaimState.PAID
        assert claim_money(ledger, [claim.row])[claim.row].patient_responsibility == 136


def test_an_older_remittance_read_late_or_another_plan_does_not_supersede(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """Two 835s read after the primary's: one dated before it (fetched late), and the
    same payer's decision as the secondary plan (CLP02 2): the primary's decision stands."""
    originals, _ = paid
    credit = "BPR*I*{}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{}"
    _apply(tmp_path, "0_ERA.835", _835("EFT5500", credit.format(408, "20261101"), P1_CORRECTION))
    clp = P1_CORRECTION[0].replace("*1*680*408*136*", "*2*680*68*0*")
    as_secondary = [clp, "CAS*OA*23*612", PATIENT]
    _apply(tmp_path, "3_ERA.835", _835("EFT6600", credit.format(68, "20261205"), as_secondary))
    assert "P-1" not in _refusals(plugin_manager, originals, tmp_path / "s.yaml", "EFT7788")


def test_one_of_835_and_trace_is_required(plugin_manager: PluginManager, tmp_path: Path) -> None:
    originals = tmp_path / "claims.yaml"
    originals.write_text(yaml.safe_dump(ORIGINALS), encoding="utf-8")
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "-o", str(tmp_path / "x.yaml"), code=2)  # fmt: skip
    assert "give one of them" in result.output


def _adjudication(claim_id: str) -> Adjudication:
    return Adjudication(
        account=ACCOUNT, claim_row=1, claim_id=claim_id, content_sha256=None, status="1",
        paid=Decimal(612), patient_responsibility=Decimal(68), payer_claim_number="BC1",
        crossover_payer=None, payment_date=date(2026, 11, 20),
        adjustments=(remit835.Adjustment("PR", "2", Decimal(68), None),), lines=(),
    )  # fmt: skip


def test_a_secondary_plan_of_another_subscriber_keeps_the_patient_as_its_dependant() -> None:
    father = {
        **MEDICAID,
        "subscriber": {"member_id": "F55", "first_name": "Leo", "last_name": "Park",
                       "birth_date": "1984-01-02", "gender": "M"},
        "relationship": "child",
    }  # fmt: skip
    data = dict(ORIGINALS, claims=[_claim("P-1", next_payer=father)])
    (original,) = parse_claims(data, "claims.yaml").claims
    built = next_payer_claim(original, _adjudication("P-1"))
    assert (built.subscriber.member_id, built.subscriber.gender) == ("F55", "M")
    assert built.patient is not None and built.patient.first_name == "Noah"
    (primary,) = built.other_payers
    assert [(a.group, a.reason, a.amount) for a in primary.adjustments] == [
        ("PR", "2", Decimal(68))
    ]  # claim-level only: the 835 had no lines
    assert judge(write_837p([built], ENVELOPE))

    father["subscriber"] = {k: v for k, v in father["subscriber"].items() if k != "gender"}
    (original,) = parse_claims(dict(ORIGINALS, claims=[_claim("P-1", next_payer=father)]),
                               "claims.yaml").claims  # fmt: skip
    with pytest.raises(NotBillable, match=r"add them to other_payers\[0\]\.subscriber"):
        next_payer_claim(original, _adjudication("P-1"))


def test_a_trace_number_two_payers_used_needs_the_payer(
    paid: tuple[Path, Path], plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """Another payer's payment with the same EFT number (its own TRN03) is not taken for
    the primary's: --trace alone is refused naming both, --payer or --from-835 settle it."""
    originals, era = paid
    other = tmp_path / "2_ERA.835"
    other.write_text(
        era.read_text(encoding="latin-1")
        .replace("TRN*1*EFT7788*1512345678", "TRN*1*EFT7788*1999999999")
        .replace("N1*PR*BLUE CROSS BLUE SHIELD OF ILLINOIS", "N1*PR*AETNA")
        .replace("000000101", "000000102"),
        encoding="latin-1",
    )
    with Ledger.open(tmp_path / "state") as ledger:
        apply_response(ledger, ACCOUNT, other, plugin_manager.response_readers(), other.name)
    out = tmp_path / "secondary.yaml"
    result = _run(plugin_manager, "secondary", "build", "--claims", str(originals),
                  "--trace", "EFT7788", "-o", str(out), code=2)  # fmt: skip
    assert (
        "payment EFT7788 is recorded from more than one payer: BLUE CROSS BLUE SHIELD OF "
        "ILLINOIS (payer id 1512345678, TRN03 1512345678); AETNA (payer id 1999999999, TRN03 "
        "1999999999); give --payer with the one meant"
    ) in result.output
    assert not out.exists()
    built = json.loads(
        _run(plugin_manager, "secondary", "build", "--claims", str(originals), "--trace",
             "EFT7788", "--payer", "1512345678", "-o", str(out), "--json").stdout
    )  # fmt: skip
    assert [c["claim"] for c in built["claims"]] == ["P-1S", "P-5S"]
    from_file = json.loads(
        _run(plugin_manager, "secondary", "build", "--claims", str(originals), "--from-835",
             str(era), "-o", str(out), "--force", "--json").stdout
    )  # fmt: skip
    assert from_file["claims"] == built["claims"]


def test_medicare_as_the_next_payer_takes_its_insurance_type_from_other_payers() -> None:
    medicare = {
        **MEDICAID,
        "payer": {"name": "MEDICARE PART B", "id": "00952"},
        "filing_code": "MB",
        "insurance_type": "12",  # working aged: the employer plan paid first
    }
    data = dict(ORIGINALS, claims=[_claim("P-1", next_payer=medicare)])
    (original,) = parse_claims(data, "claims.yaml").claims
    built = next_payer_claim(original, _adjudication("P-1"))
    assert (built.subscriber.filing_code, built.insurance_type) == ("MB", "12")
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    assert not [f for f in check_claims([built], context) if f.code.startswith("INSURANCE")]
    assert "SBR*S*18***12****MB~" in write_837p([built], ENVELOPE).decode()
