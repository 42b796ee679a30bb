"""835s into claim states and posting rows, on a real ledger, with 835s pyx12 accepts.

One test per state of docs/lifecycle.md's "Adjudicated" table, the public
eMedNY samples a biller would read, reversals netted across ERAs, crossover
and PLBs recorded, line matching by REF*6R, and the export's balance.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry import lifecycle
from claimferry.cli import create_cli
from claimferry.ledger import BatchState, ClaimState, Ledger, NewClaim, SentLine
from claimferry.lifecycle import adjudication, apply_response
from claimferry.manager import PluginManager
from claimferry.remits import claim_money, payments, posting_rows
from claimferry.secondary import adjudications
from claimferry.x12.remit835 import iter_835_claims
from claimferry.x12.segments import read_segments
from support.x12judge import judge

ACCOUNT = "sunrise"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "state")
    led.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    return led


def sent(ledger: Ledger, control_number: int, claims: dict[str, list[tuple[str, str]]]) -> None:
    """Record and 'upload' a batch: claim id -> [(line control number, charge)]."""
    batch = ledger.record_batch(
        account=ACCOUNT,
        file_name=f"F{control_number}.txt",
        archive_path=Path("unused"),
        sha256="0" * 64,
        size=1,
        control_number=control_number,
        test=True,
        claims=[
            NewClaim(
                claim_id,
                "00621",
                sum((Decimal(c) for _, c in lines), Decimal(0)),
                f"h-{claim_id}",
                "original",
                None,
                tuple(SentLine(ref, "97153", Decimal(c)) for ref, c in lines),
            )
            for claim_id, lines in claims.items()
        ],
    )
    ledger.set_batch_state(batch.id, BatchState.UPLOADED, remote_name=batch.file_name)


def era(
    claims: list[list[str]],
    *,
    trace: str = "T1",
    plb: list[str] | None = None,
    paid_on: str = "20261120",
) -> str:
    """A whole 835 around the given claims (each a list of segments from CLP on);
    BPR02 is computed so the payment balances, as a debit (BPR03 D) when the claims
    take back more than they pay."""
    paid = sum(Decimal(c[0].split("*")[4]) for c in claims)
    plb_total = Decimal(0)
    for segment in plb or []:
        elements = segment.split("*")
        plb_total += sum(Decimal(elements[i]) for i in range(4, len(elements), 2))
    amount = paid - plb_total
    flag = "D" if amount < 0 else "C"
    bpr = (
        f"BPR*I*{abs(amount)}*{flag}*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880"
        f"*DA*98765*{paid_on}"
        if amount
        else f"BPR*H*0*C*NON************{paid_on}"
    )
    body = [
        "ST*835*0001",
        bpr,
        f"TRN*1*{trace}*1512345678",
        "DTM*405*20261120",
        "N1*PR*SUNSHINE HEALTH PLAN",
        "N3*1 PAYER WAY",
        "N4*SPRINGFIELD*IL*62701",
        "PER*BL*CLAIMS*TE*2175550100",
        "N1*PE*SUNRISE ABA*XX*1234567893",
        "LX*1",
        *[segment for claim in claims for segment in claim],
        *(plb or []),
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    segments = [
        "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUNRISE01      *261120*1200*^*00501"
        "*000000101*0*T*:",
        "GS*HP*PAYER01*SUNRISE01*20261120*1200*101*X*005010X221A1",
        *body,
        "GE*1*101",
        "IEA*1*000000101",
    ]
    return "~\n".join(segments) + "~\n"


def line(ref: str, charge: str, paid: str, *cas: str, allowed: str | None = None) -> list[str]:
    out = [f"SVC*HC:97153:HN*{charge}*{paid}**4", "DTM*472*20261101", *cas, f"REF*6R*{ref}"]
    if allowed is not None:
        out.append(f"AMT*B6*{allowed}")
    return out


def apply(ledger: Ledger, pm: PluginManager, tmp_path: Path, text: str, name: str) -> None:
    verdict = judge(text)
    assert verdict, verdict.errors
    path = tmp_path / name
    path.write_text(text, encoding="latin-1")
    apply_response(ledger, ACCOUNT, path, pm.response_readers(), name)


def state_of(ledger: Ledger, claim_id: str) -> tuple[ClaimState, str]:
    (claim,) = [c for c in ledger.claims(account=ACCOUNT, claim_id=claim_id) if c.batch_id]
    return claim.state, claim.detail or ""


PATIENT = "NM1*QC*1*DOE*JANE****MI*M123456789"


@pytest.mark.parametrize(
    ("segments", "state", "words"),
    [
        pytest.param(
            ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")],
            ClaimState.PAID,
            "835 paid 80.00 of 100.00 (processed as primary)",
            id="paid",
        ),
        pytest.param(
            ["CLP*C1*1*100*0*0*12*PCN1", "CAS*CO*97*100", PATIENT, *line("C1-1", "100", "0")],
            ClaimState.DENIED,
            "835 denied, nothing paid (processed as primary); CO-97 100",
            id="denied-co97-clp02-1",
        ),
        pytest.param(
            ["CLP*C1*1*100*0*0*12*PCN1", PATIENT, *line("C1-1", "100", "0", "CAS*CO*29*100")],
            ClaimState.DENIED,
            "CO-29 100",
            id="denied-timely-filing-line-level",
        ),
        pytest.param(
            ["CLP*C1*1*100*0*100*12*PCN1", PATIENT, *line("C1-1", "100", "0", "CAS*PR*1*100")],
            ClaimState.PATIENT_RESPONSIBILITY,
            "835 patient responsibility 100.00, nothing paid (processed as primary); PR-1 100",
            id="deductible",
        ),
        pytest.param(
            [
                "CLP*C1*1*100*64*16*12*PCN1",
                PATIENT,
                *line("C1-1", "100", "64", "CAS*CO*45*20", "CAS*PR*2*16", allowed="80"),
            ],
            ClaimState.PAID,
            "835 paid 64.00 of 100.00 (processed as primary); patient owes 16.00",
            id="coinsurance",
        ),
        pytest.param(
            ["CLP*C1*4*100*0*0*12*PCN1", "CAS*CO*31*100", PATIENT],
            ClaimState.DENIED,
            "835 denied, nothing paid (denied)",
            id="clp02-4-unknown-patient",
        ),
        pytest.param(
            [
                "CLP*C1*19*100*80*20*12*PCN1",
                PATIENT,
                "NM1*TT*2*STATE MEDICAID*****PI*SKIL0",
                "MOA***MA18",
                *line("C1-1", "100", "80", "CAS*PR*2*20"),
            ],
            ClaimState.FORWARDED,
            "forwarded to STATE MEDICAID (SKIL0) (processed as primary, forwarded",
            id="crossover",
        ),
        pytest.param(
            [
                "CLP*C1*23*100*0**12*PCN1",
                "CAS*OA*109*100",
                PATIENT,
                "NM1*TT*2*OTHER PLAN*****PI*OTHR1",
            ],
            ClaimState.NOT_OUR_CLAIM,
            "835 not the payer's claim, forwarded to OTHER PLAN (OTHR1)",
            id="not-our-claim",
        ),
        pytest.param(
            ["CLP*C1*25*100*0**12*PCN1", "CAS*CO*45*20", "CAS*OA*101*80", PATIENT],
            ClaimState.PREDETERMINATION,
            "835 predetermination pricing only, no payment",
            id="predetermination",
        ),
    ],
)
def test_each_adjudicated_state(
    ledger: Ledger,
    plugin_manager: PluginManager,
    tmp_path: Path,
    segments: list[str],
    state: ClaimState,
    words: str,
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    apply(ledger, plugin_manager, tmp_path, era([segments]), "1_ERA.835")
    found, detail = state_of(ledger, "C1")
    assert found is state
    assert words in detail


def test_remark_codes_and_descriptions_are_in_the_detail(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    claim = [
        "CLP*C1*1*100*0*0*12*PCN1",
        PATIENT,
        *line("C1-1", "100", "0", "CAS*CO*50*100"),
        "LQ*HE*N130",
    ]
    apply(ledger, plugin_manager, tmp_path, era([claim]), "1_ERA.835")
    _, detail = state_of(ledger, "C1")
    assert "n130: consult plan benefit documents" in detail.lower()


def test_a_reversal_then_its_correction_in_a_later_era_nets_the_payment(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    first = ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")]
    apply(ledger, plugin_manager, tmp_path, era([first], trace="T1"), "1_ERA.835")
    assert state_of(ledger, "C1")[0] is ClaimState.PAID

    reversal = [
        "CLP*C1*22*-100*-80*0*12*PCN1",
        PATIENT,
        *line("C1-1", "-100", "-80", "CAS*CO*45*-20"),
    ]
    apply(ledger, plugin_manager, tmp_path, era([reversal], trace="T2"), "2_ERA.835")
    state, detail = state_of(ledger, "C1")
    assert state is ClaimState.REVERSED
    assert "reversal of the earlier decision: 80.00 taken back" in detail

    correction = ["CLP*C1*1*100*60*0*12*PCN1", PATIENT, *line("C1-1", "100", "60", "CAS*CO*45*40")]
    apply(ledger, plugin_manager, tmp_path, era([correction], trace="T3"), "3_ERA.835")
    state, detail = state_of(ledger, "C1")
    assert state is ClaimState.PAID
    assert "corrected, net paid 60.00 over all remittances" in detail


def test_emedny_samples_read_as_a_biller_expects(
    ledger: Ledger, plugin_manager: PluginManager, samples_dir: Path, tmp_path: Path
) -> None:
    sent(
        ledger,
        7,
        {
            "PATIENT ACCOUNT NUMBER": [("L1", "12"), ("L2", "22")],
            "987654321": [("R1", "7151.17")],
            "9876543210ABC": [("R2", "37617.33")],
        },
    )
    readers = plugin_manager.response_readers()
    # 835_01: CLP02 2 (processed as secondary), nothing paid, CO-29 timely filing: a denial
    path = samples_dir / "835_01_simple_denied_no_payment_emedny.txt"
    apply_response(ledger, ACCOUNT, path, readers, path.name)
    state, detail = state_of(ledger, "PATIENT ACCOUNT NUMBER")
    assert state is ClaimState.DENIED
    assert "processed as secondary" in detail and "CO-29" in detail

    # the original payment the retro reverses, then 835_04: reversal + correction + PLB FB
    original = [
        "CLP*987654321*1*7151.17*7151.17**MC*1400000000000020*34*1",
        "NM1*QC*1*DOE*JOHN****MI*AB12345C",
    ]
    apply(
        ledger, plugin_manager, tmp_path, era([original], trace="ORIG", paid_on="20131201"), "0.835"
    )
    path = samples_dir / "835_04_reversal_correction_plb_outpatient_retro_emedny.txt"
    apply_response(ledger, ACCOUNT, path, readers, path.name)
    state, detail = state_of(ledger, "987654321")
    assert state is ClaimState.PAID
    assert "net paid 7131.01" in detail

    # 835_05: reversal and correction in one ERA, no earlier payment here: net of the two
    path = samples_dir / "835_05_reversal_correction_inpatient_drg_emedny.txt"
    apply_response(ledger, ACCOUNT, path, readers, path.name)
    state, detail = state_of(ledger, "9876543210ABC")
    assert state is ClaimState.PAID
    assert "net paid 1.57" in detail


def test_lines_are_stored_and_matched_to_the_lines_sent(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100"), ("C1-2", "50")]})
    claim = [
        "CLP*C1*1*150*104*16*12*PCN1",
        PATIENT,
        *line("C1-2", "50", "40", "CAS*CO*45*10", allowed="40"),
        *line("C1-1", "100", "64", "CAS*CO*45*20", "CAS*PR*2*16", allowed="80"),
        "LQ*HE*N130",
    ]
    apply(ledger, plugin_manager, tmp_path, era([claim]), "1_ERA.835")
    rows = list(posting_rows(ledger, payments(ledger)))
    assert [(r.kind, r.line_control_number, r.paid, r.allowed) for r in rows] == [
        ("line", "C1-2", Decimal("40"), Decimal("40")),
        ("line", "C1-1", Decimal("64"), Decimal("80")),
    ]
    assert rows[1].patient_responsibility == Decimal("16")
    assert rows[1].remark_codes == ("N130",)
    sent_positions = [
        r["sent_line"] for r in ledger.db.execute("SELECT sent_line FROM remit_lines ORDER BY id")
    ]
    assert sent_positions == [2, 1]


def test_a_truncated_or_renamed_claim_id_is_matched_by_its_lines_or_payer_number(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    long_id = "CLINIC-2026-11-000000042"  # 24 characters: sent before the 20-character rule
    sent(ledger, 7, {long_id: [("LN42", "100")], "C2": [("LN2", "100")]})
    ledger.update_claim(ACCOUNT, "C2", ClaimState.ACKNOWLEDGED, payer_claim_number="PAYER-CLAIM-2")
    claims = [
        # CLP01 cut to 20 characters, and the line control number returned
        [
            f"CLP*{long_id[:20]}*1*100*80*0*12*PCN42",
            PATIENT,
            *line("LN42", "100", "80", "CAS*CO*45*20"),
        ],
        # CLP01 altered by the payer: found by its payer claim number (CLP07)
        ["CLP*XX2*1*100*90*0*12*PAYER-CLAIM-2", "CAS*CO*45*10", PATIENT],
    ]
    apply(ledger, plugin_manager, tmp_path, era(claims), "1_ERA.835")
    assert state_of(ledger, long_id)[0] is ClaimState.PAID
    assert state_of(ledger, "C2")[0] is ClaimState.PAID
    assert not [c for c in ledger.claims(account=ACCOUNT) if c.state is ClaimState.UNKNOWN]


def test_provider_adjustments_are_recorded_against_payment_and_claim(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    claim = ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")]
    plb = ["PLB*1234567893*20261231*L6:C1*-1.50*WO:OLDCLAIM*10"]
    apply(ledger, plugin_manager, tmp_path, era([claim], plb=plb), "1_ERA.835")
    (payment,) = payments(ledger)
    assert payment.provider_adjustment_total == Decimal("8.50")
    assert payment.amount == Decimal("71.50")
    plbs = list(ledger.db.execute("SELECT * FROM remit_provider_adjustments ORDER BY id"))
    (c1,) = ledger.claims(claim_id="C1")
    assert [(p["reason"], p["reference"], p["claim_row"]) for p in plbs] == [
        ("L6", "C1", c1.row),
        ("WO", "OLDCLAIM", None),
    ]


def test_the_same_era_twice_is_applied_once(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    text = era([["CLP*C1*1*100*80*0*12*PCN1", "CAS*CO*45*20", PATIENT]])
    apply(ledger, plugin_manager, tmp_path, text, "1_ERA.835")
    apply(ledger, plugin_manager, tmp_path, text, "1_ERA_COPY.835")
    (claim,) = ledger.claims(claim_id="C1")
    assert [e.state for e in ledger.claim_events(claim.row)].count(ClaimState.PAID) == 1
    assert len(payments(ledger)) == 1


def run(pm: PluginManager, *args: str) -> str:
    result = CliRunner().invoke(create_cli(pm), list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_export_balances_per_trace_and_hides_phi_by_default(
    tmp_path: Path, plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(state))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    ledger = Ledger.open(state)
    ledger.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    sent(ledger, 7, {"C1": [("C1-1", "100"), ("C1-2", "50")], "C2": [("C2-1", "100")]})
    claims = [
        [
            "CLP*C1*1*150*104*16*12*PCN1",
            "CAS*OA*23*0",
            PATIENT,
            *line("C1-1", "100", "64", "CAS*CO*45*20", "CAS*PR*2*16", allowed="80"),
            *line("C1-2", "50", "40", "CAS*CO*45*10", allowed="40"),
        ],
        ["CLP*C2*1*100*0*0*12*PCN2", "CAS*CO*97*100", "NM1*QC*1*ROE*RICHARD****MI*M2"],
    ]
    text = era(claims, trace="EFT1", plb=["PLB*1234567893*20261231*L6:C1*-1.50"])
    responses = tmp_path / "responses"
    responses.mkdir()
    apply(ledger, plugin_manager, responses, text, "1_ERA.835")
    ledger.db.execute(
        "INSERT INTO response_files (account, remote_name, size, sha256, archive_path, parsed, "
        "fetched_at) VALUES (?, '1_ERA.835', 1, 'x', ?, 1, 'now')",
        (ACCOUNT, str(responses / "1_ERA.835")),
    )
    ledger.close()

    listed = json.loads(run(plugin_manager, "remits", "list", "--json"))
    assert [(p["trace_number"], p["amount"], p["claim_count"]) for p in listed] == [
        ("EFT1", "105.50", 2)
    ]
    rows = list(csv.DictReader(io.StringIO(run(plugin_manager, "remits", "export"))))
    by_trace: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_trace[row["trace_number"]] += Decimal(row["paid"])
    assert by_trace == {"EFT1": Decimal("105.50")}  # BPR02 = lines paid + PLB
    assert {r["row_type"] for r in rows} == {"line", "claim", "provider"}
    assert "patient_name" not in rows[0] and "DOE" not in json.dumps(rows)
    denied = next(r for r in rows if r["claim_id"] == "C2")
    assert denied["claim_state"] == "denied"
    assert "CO-97" in denied["adjustments"] and denied["adjustment_descriptions"]

    shown = json.loads(run(plugin_manager, "remits", "export", "--format", "json", "--show-phi"))
    names = {r["claim_id"]: r["patient_name"] for r in shown if r["row_type"] != "provider"}
    assert names == {"C1": "JANE DOE", "C2": "RICHARD ROE"}
    assert sum(Decimal(r["paid"]) for r in shown) == Decimal("105.50")


def test_a_debit_payment_balances_negative_and_its_rows_add_up_to_it(
    tmp_path: Path, plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An 835 that takes back more than it pays comes as BPR02 > 0 with BPR03 D: the
    clinic owes the payer. It balances as a negative payment, and the export says so."""
    state = tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(state))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    ledger = Ledger.open(state)
    ledger.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    sent(ledger, 7, {"C1": [("C1-1", "100")], "C2": [("C2-1", "100")]})
    paid = ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")]
    apply(ledger, plugin_manager, tmp_path, era([paid], trace="T1", paid_on="20261101"), "1.835")
    reversal = [
        "CLP*C1*22*-100*-80*0*12*PCN1",
        PATIENT,
        *line("C1-1", "-100", "-80", "CAS*CO*45*-20"),
    ]
    debit = era([reversal], trace="T2", paid_on="20261120")
    assert "BPR*I*80*D*ACH*" in debit
    apply(ledger, plugin_manager, tmp_path, debit, "2.835")
    # the payer's figures not adding up: BPR02 says 70.00, the claim 80.00
    other = ["CLP*C2*1*100*80*0*12*PCN2", PATIENT, *line("C2-1", "100", "80", "CAS*CO*45*20")]
    wrong = era([other], trace="T3").replace("BPR*I*80*C*", "BPR*I*70*C*")
    apply(ledger, plugin_manager, tmp_path, wrong, "3.835")
    ledger.close()

    listed = {
        p["trace_number"]: p for p in json.loads(run(plugin_manager, "remits", "list", "--json"))
    }
    assert (listed["T2"]["amount"], listed["T2"]["credit_debit"]) == ("-80", "D")
    assert listed["T2"]["imbalance"] is None
    assert listed["T3"]["imbalance"] == (
        "transaction 0001: payment 70.00 differs from claims paid 80.00 - provider "
        "adjustments 0.00 = 80.00"
    )
    rows = list(csv.DictReader(io.StringIO(run(plugin_manager, "remits", "export"))))
    for trace in ("T1", "T2", "T3"):
        mine = [r for r in rows if r["trace_number"] == trace]
        assert {r["payment_amount"] for r in mine} == {listed[trace]["amount"]}
        assert {r["payment_balanced"] for r in mine} == {"false" if trace == "T3" else "true"}
        assert {(r["payee_id"], r["payment_method"]) for r in mine} == {("1234567893", "ACH")}
    debit_rows = [r for r in rows if r["trace_number"] == "T2"]
    assert sum(Decimal(r["paid"]) for r in debit_rows) == Decimal(-80)


def test_a_line_remark_from_another_list_than_the_rarcs_keeps_its_list(
    tmp_path: Path, plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LQ*HE is a remark code (RARC); LQ*RX an NCPDP reject code, which must not be
    described as the RARC that happens to share its text."""
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    ledger = Ledger.open(tmp_path / "state")
    ledger.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    lines = line("C1-1", "100", "0", "CAS*CO*16*100")
    claim = ["CLP*C1*1*100*0*0*12*PCN1", PATIENT, *lines, "LQ*HE*N130", "LQ*RX*70"]
    apply(ledger, plugin_manager, tmp_path, era([claim]), "1_ERA.835")
    ledger.close()
    (row,) = json.loads(run(plugin_manager, "remits", "export", "--format", "json"))
    assert [r["code"] for r in row["remark_codes"]] == ["N130", "RX:70"]
    assert row["remark_codes"][1]["description"] == (
        "RX code 70 (LQ01 RX: not a remittance advice remark code)"
    )
    assert row["remark_codes"][0]["description"].startswith("Consult plan benefit documents")


def test_adjudication_reads_the_payer_not_the_code_name(tmp_path: Path) -> None:
    """CLP02 1 with nothing paid is not 'paid' (the bug this replaced)."""
    path = tmp_path / "1_ERA.835"
    path.write_text(era([["CLP*C1*1*150*0*0*12*PCN1", "CAS*CO*97*150"]]), encoding="latin-1")
    (claim,) = iter_835_claims(read_segments(path), str(path))
    assert claim.status == "1" and claim.paid == 0
    assert adjudication(claim) is ClaimState.DENIED


def test_a_correction_listed_before_its_reversal_still_ends_corrected(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    first = ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")]
    apply(ledger, plugin_manager, tmp_path, era([first], trace="T1"), "1_ERA.835")
    correction = ["CLP*C1*1*100*60*0*12*PCN1", PATIENT, *line("C1-1", "100", "60", "CAS*CO*45*40")]
    reversal = [
        "CLP*C1*22*-100*-80*0*12*PCN1",
        PATIENT,
        *line("C1-1", "-100", "-80", "CAS*CO*45*-20"),
    ]
    apply(ledger, plugin_manager, tmp_path, era([correction, reversal], trace="T2"), "2_ERA.835")
    state, detail = state_of(ledger, "C1")
    assert state is ClaimState.PAID
    assert "corrected, net paid 60.00" in detail
    reversal_event = next(
        e
        for e in ledger.claim_events(ledger.claims(claim_id="C1")[0].row)
        if e.state is ClaimState.REVERSED
    )
    assert "corrected" not in (reversal_event.detail or "")


def test_a_secondary_that_owes_nothing_after_the_primary_is_not_a_denial(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    claim = ["CLP*C1*2*100*0*0*12*PCN1", PATIENT, *line("C1-1", "100", "0", "CAS*OA*23*100")]
    apply(ledger, plugin_manager, tmp_path, era([claim]), "1_ERA.835")
    state, detail = state_of(ledger, "C1")
    assert state is ClaimState.PAID
    assert "nothing more due: the prior payer's payment covers it" in detail


def test_a_secondary_paying_nothing_beside_a_contractual_write_off_is_not_a_denial(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """The secondary's allowed amount is below what the primary paid: OA-23 for the
    primary's part and CO-45 for the rest, nothing paid, nothing more due."""
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    cas = ("CAS*CO*45*40", "CAS*OA*23*60")
    claim = ["CLP*C1*2*100*0*0*12*PCN1", PATIENT, *line("C1-1", "100", "0", *cas)]
    apply(ledger, plugin_manager, tmp_path, era([claim]), "1_ERA.835")
    state, detail = state_of(ledger, "C1")
    assert state is ClaimState.PAID
    assert "nothing more due: the prior payer's payment covers it" in detail
    # without CARC 23 the same write-off and nothing paid is a denial
    sent(ledger, 8, {"C2": [("C2-1", "100")]})
    denial = ["CLP*C2*2*100*0*0*12*PCN2", PATIENT, *line("C2-1", "100", "0", "CAS*CO*45*100")]
    apply(ledger, plugin_manager, tmp_path, era([denial], trace="T2"), "2_ERA.835")
    assert state_of(ledger, "C2")[0] is ClaimState.DENIED


def test_the_patient_owes_what_the_decision_that_stands_says(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """An older ERA fetched late does not decide the claim, nor what the patient owes."""
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    new = ["CLP*C1*1*100*50*30*12*P1", PATIENT, *line("C1-1", "100", "50", "CAS*CO*45*20",
                                                       "CAS*PR*2*30")]  # fmt: skip
    apply(ledger, plugin_manager, tmp_path, era([new], trace="NEW", paid_on="20261120"), "2.835")
    old = ["CLP*C1*1*100*0*80*12*P1", PATIENT, *line("C1-1", "100", "0", "CAS*CO*45*20",
                                                      "CAS*PR*1*80")]  # fmt: skip
    apply(ledger, plugin_manager, tmp_path, era([old], trace="OLD", paid_on="20261101"), "1.835")
    state, detail = state_of(ledger, "C1")
    assert state is ClaimState.PAID and "patient owes 30.00" in detail
    (claim,) = ledger.claims(claim_id="C1")
    assert claim_money(ledger, [claim.row])[claim.row].patient_responsibility == Decimal(30)


def test_a_reversal_listed_after_its_correction_in_a_later_chunk_does_not_undo_it(
    ledger: Ledger,
    plugin_manager: PluginManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large ERA is applied a chunk of claims at a time; the correction and its
    reversal may fall in two chunks, the correction first."""
    sent(ledger, 7, {"A": [("A-1", "50")], "C1": [("C1-1", "100")]})
    first = ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")]
    apply(ledger, plugin_manager, tmp_path, era([first], trace="T1"), "1_ERA.835")
    monkeypatch.setattr(lifecycle, "REMIT_CHUNK", 2)
    other = ["CLP*A*1*50*50*0*12*PA", PATIENT, *line("A-1", "50", "50")]
    correction = ["CLP*C1*1*100*60*0*12*PCN1", PATIENT, *line("C1-1", "100", "60", "CAS*CO*45*40")]
    reversal = ["CLP*C1*22*-100*-80*0*12*PCN1", PATIENT, *line("C1-1", "-100", "-80",
                                                                "CAS*CO*45*-20")]  # fmt: skip
    text = era([other, correction, reversal], trace="T2", paid_on="20261125")
    apply(ledger, plugin_manager, tmp_path, text, "2_ERA.835")
    assert state_of(ledger, "C1")[0] is ClaimState.PAID
    (claim,) = ledger.claims(claim_id="C1")
    assert claim_money(ledger, [claim.row])[claim.row].paid == Decimal(60)


def test_a_payment_without_bpr16_is_recognised_when_sent_again_and_dated_for_cob(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Some payers leave BPR16 empty. The payment is still one payment when the ERA comes
    again with a new production date (DTM*405), and the next payer's claim takes that
    production date as the remittance date it needs (DTP*573)."""
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    paid = ["CLP*C1*1*100*80*20*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*PR*2*20")]
    text = era([paid]).replace("*DA*98765*20261120~", "*DA*98765~")
    assert "*DA*98765~" in text
    for name, made in (("1_ERA.835", "20261120"), ("2_ERA.835", "20261125")):
        path = tmp_path / name
        path.write_text(text.replace("DTM*405*20261120", f"DTM*405*{made}"), encoding="latin-1")
        apply_response(ledger, ACCOUNT, path, (), name)
    (payment,) = payments(ledger)
    assert payment.payment_date is None
    (claim,) = ledger.claims(claim_id="C1")
    assert [e.state for e in ledger.claim_events(claim.row)].count(ClaimState.PAID) == 1
    (decided,) = adjudications(ledger, [payment.id])
    assert decided.payment_date == date(2026, 11, 20)  # the first ERA's DTM*405


def test_the_same_payment_in_a_new_envelope_is_applied_once(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    text = era([["CLP*C1*1*100*80*0*12*PCN1", "CAS*CO*45*20", PATIENT]])
    apply(ledger, plugin_manager, tmp_path, text, "1_ERA.835")
    # a new interchange and transaction set control number around the same payment
    again = text.replace("*0001~", "*0002~").replace("000000101", "000000102")
    assert again != text
    apply(ledger, plugin_manager, tmp_path, again, "2_ERA.835")
    assert len(payments(ledger)) == 1
    (claim,) = ledger.claims(claim_id="C1")
    assert [e.state for e in ledger.claim_events(claim.row)].count(ClaimState.PAID) == 1


def test_a_plb_naming_a_claim_by_its_first_20_characters_is_recorded_against_it(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    long_id = "CLINIC-2026-11-000000042"
    sent(ledger, 7, {long_id: [("LN42", "100")]})
    claim = [
        f"CLP*{long_id[:20]}*1*100*80*0*12*PCN42",
        PATIENT,
        *line("LN42", "100", "80", "CAS*CO*45*20"),
    ]
    plb = [f"PLB*1234567893*20261231*L6:{long_id[:20]}*-1.50"]
    apply(ledger, plugin_manager, tmp_path, era([claim], plb=plb), "1_ERA.835")
    (row,) = ledger.db.execute("SELECT claim_row FROM remit_provider_adjustments").fetchall()
    assert row[0] == ledger.find_claim(ACCOUNT, long_id)


def test_show_phi_reads_patients_back_from_a_zipped_era(
    tmp_path: Path, plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    state = tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(state))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    ledger = Ledger.open(state)
    ledger.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    text = era([["CLP*C1*1*100*80*0*12*PCN1", "CAS*CO*45*20", PATIENT]])
    assert judge(text)
    zipped = tmp_path / "1_ERA_STATUS_5010_20261120.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("SUMMARY.txt", "FOR PEOPLE\n")
        archive.writestr("era/1.835", text)
    apply_response(ledger, ACCOUNT, zipped, plugin_manager.response_readers(), zipped.name)
    ledger.db.execute(
        "INSERT INTO response_files (account, remote_name, size, sha256, archive_path, parsed, "
        "fetched_at) VALUES (?, ?, 1, 'x', ?, 1, 'now')",
        (ACCOUNT, zipped.name, str(zipped)),
    )
    ledger.close()
    shown = json.loads(run(plugin_manager, "remits", "export", "--format", "json", "--show-phi"))
    assert {r["claim_id"]: r["patient_name"] for r in shown} == {"C1": "JANE DOE"}


def test_an_older_era_fetched_late_is_history_only(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    sent(ledger, 7, {"C1": [("C1-1", "100")]})
    paid = ["CLP*C1*1*100*80*0*12*PCN1", PATIENT, *line("C1-1", "100", "80", "CAS*CO*45*20")]
    apply(ledger, plugin_manager, tmp_path, era([paid], trace="NEW", paid_on="20261125"), "2.835")
    denied = ["CLP*C1*1*100*0*0*12*PCN1", PATIENT, *line("C1-1", "100", "0", "CAS*CO*97*100")]
    apply(ledger, plugin_manager, tmp_path, era([denied], trace="OLD", paid_on="20261101"), "1.835")
    state, _ = state_of(ledger, "C1")
    assert state is ClaimState.PAID
    (claim,) = ledger.claims(claim_id="C1")
    assert [e.state for e in ledger.claim_events(claim.row)][-1] is ClaimState.DENIED


def test_money_in_a_detail_keeps_minus_zero_apart_from_zero() -> None:
    """Equal Decimals, printed differently: a cache keyed by value must not merge them."""
    from claimferry.lifecycle import _money

    assert [_money(Decimal("0")), _money(Decimal("-0")), _money(Decimal("0.00"))] == [
        "0.00",
        "-0.00",
        "0.00",
    ]
    assert [_money(Decimal("12.5")), _money(Decimal("12.50")), _money(Decimal("-12.5"))] == [
        "12.50",
        "12.50",
        "-12.50",
    ]
