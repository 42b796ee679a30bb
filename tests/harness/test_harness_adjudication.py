"""The mock answers as clearinghouses and payers do: one test per CLM01 rule.

Every claim file goes up over real SFTP; every X12 answer is judged by pyx12
and every 835 is checked to balance (BPR02 = sum CLP04 - sum PLB04, and per
claim CLP03 - CLP04 = sum CAS).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from claimferry.claims import Claim, Payer
from claimferry.claims_input import load_claims
from claimferry.x12.segments import Segment
from claimferry.x12.writer837 import write_837p
from claimferry_harness import HarnessLogin, MockOfficeAlly
from claimferry_harness.pytest_plugin import ResponseWaiter
from harness.harness_support import Connect, Line, TestClaim, build_837, by_id, segments, upload
from support.claim_files import DATA as CLAIMS_DATA
from support.claim_files import ENVELOPE
from support.x12judge import judge

TWO_LINES = [Line("97153", "120.00", control="LINE-A"), Line("97155", "33.33", units="1")]


@dataclass
class ServicePayment:
    svc: Segment
    cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    refs: dict[str, str] = field(default_factory=dict)
    allowed: Decimal | None = None


@dataclass
class ClaimPayment:
    """One 2100 loop of an 835, read back for assertions."""

    clp: Segment
    cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    names: dict[str, Segment] = field(default_factory=dict)
    moa: Segment | None = None
    lines: list[ServicePayment] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.clp.element(2)

    @property
    def amounts(self) -> tuple[Decimal, Decimal, Decimal]:
        """CLP03 charge, CLP04 paid, CLP05 patient responsibility."""
        charge, paid, patient = (Decimal(self.clp.element(i)) for i in (3, 4, 5))
        return charge, paid, patient

    def all_cas(self) -> list[tuple[str, str, Decimal]]:
        return [*self.cas, *(c for line in self.lines for c in line.cas)]


def _cas(seg: Segment) -> list[tuple[str, str, Decimal]]:
    return [
        (seg.element(1), seg.element(i), Decimal(seg.element(i + 1)))
        for i in range(2, len(seg.elements), 3)
        if seg.element(i)
    ]


def read_835(data: bytes) -> tuple[list[ClaimPayment], list[Segment]]:
    """The claim payments and PLB segments of an 835, checking that it balances."""
    segs = segments(data)
    claims: list[ClaimPayment] = []
    plbs: list[Segment] = []
    starts = [i for i, s in enumerate(segs) if s.id == "ST"]
    for begin in starts:
        end = next(i for i in range(begin, len(segs)) if segs[i].id == "SE")
        txn_claims: list[ClaimPayment] = []
        txn_plbs = []
        for seg in segs[begin:end]:
            if seg.id == "CLP":
                txn_claims.append(ClaimPayment(seg))
            elif seg.id == "PLB":
                txn_plbs.append(seg)
            elif not txn_claims:
                continue
            elif seg.id == "SVC":
                txn_claims[-1].lines.append(ServicePayment(seg))
            elif seg.id == "CAS":
                target = txn_claims[-1].lines or [txn_claims[-1]]
                target[-1].cas.extend(_cas(seg))
            elif seg.id == "NM1":
                txn_claims[-1].names[seg.element(1)] = seg
            elif seg.id == "MOA":
                txn_claims[-1].moa = seg
            elif seg.id == "REF" and txn_claims[-1].lines:
                txn_claims[-1].lines[-1].refs[seg.element(1)] = seg.element(2)
            elif seg.id == "AMT" and seg.element(1) == "B6":
                txn_claims[-1].lines[-1].allowed = Decimal(seg.element(2))
        bpr = by_id(segs[begin:end], "BPR")[0]
        paid = sum((c.amounts[1] for c in txn_claims), Decimal(0))
        plb_total = sum(
            (Decimal(p.element(i)) for p in txn_plbs for i in range(4, len(p.elements) + 1, 2)),
            Decimal(0),
        )
        assert Decimal(bpr.element(2)) == paid - plb_total, "BPR02 = sum CLP04 - sum PLB"
        assert bpr.element(4) == ("CHK" if paid - plb_total > 0 else "NON")
        for claim in txn_claims:
            charge, claim_paid, patient = claim.amounts
            assert charge - claim_paid == sum((c[2] for c in claim.all_cas()), Decimal(0))
            assert patient == sum((c[2] for c in claim.all_cas() if c[0] == "PR"), Decimal(0))
        claims += txn_claims
        plbs += txn_plbs
    return claims, plbs


@dataclass
class Answers:
    files: list[Path]

    def named(self, marker: str) -> list[Path]:
        return [f for f in self.files if marker in f.name]

    def one(self, marker: str) -> Path:
        found = self.named(marker)
        assert len(found) == 1, (marker, [f.name for f in self.files])
        return found[0]

    def remits(self) -> dict[str, ClaimPayment]:
        """CLP01 -> its payment in the first ERA."""
        claims, _ = read_835(self.named("_ERA_835_")[0].read_bytes())
        return {c.clp.element(1): c for c in claims}


def _send(
    server: MockOfficeAlly,
    user: HarnessLogin,
    connect: Connect,
    wait: ResponseWaiter,
    claims: list[TestClaim],
    count: int,
) -> Answers:
    sftp = connect(server, user.username, password=user.password)
    upload(sftp, build_837(claims), "batch_837P.txt")
    assert server.wait_idle(10)
    files = wait(count)
    assert len(files) == count, [f.name for f in files]
    for path in files:
        if path.suffix != ".txt":
            verdict = judge(path.read_bytes())
            assert verdict, (path.name, verdict.errors)
        if "_ERA_835_" in path.name:
            read_835(path.read_bytes())  # balances
    return Answers(files)


def _stc_by_claim(data: bytes) -> dict[str, tuple[Segment, str | None]]:
    """CLM01 -> (its STC, its REF*1K) in a 277CA."""
    found: dict[str, tuple[Segment, str | None]] = {}
    current = ""
    patient = False
    for seg in segments(data):
        if seg.id == "HL":
            current, patient = "", seg.element(3) == "PT"
        elif seg.id == "TRN" and seg.element(1) == "2" and patient:
            current = seg.element(2)
        elif seg.id == "STC" and current:
            found[current] = (seg, None)
        elif seg.id == "REF" and seg.element(1) == "1K" and current:
            found[current] = (found[current][0], seg.element(2))
    return found


def test_denial_is_processed_as_primary_with_nothing_paid_and_co_adjustments(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [
        TestClaim("DENY-1", lines=TWO_LINES),
        TestClaim("DENY-2ND", responsibility="S", primary_paid=("100.00", "20.00")),
        TestClaim("AUTHLESS", lines=[Line("97151", "100.00")]),
    ]
    remits = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5).remits()
    denied = remits["DENY-1"]
    assert denied.status == "1" and denied.amounts == (Decimal("153.33"), 0, 0)
    assert denied.all_cas() == [("CO", "50", Decimal(120)), ("CO", "50", Decimal("33.33"))]
    assert [line.allowed for line in denied.lines] == [None, None]  # nothing allowed
    assert denied.lines[0].refs == {"6R": "LINE-A"}
    assert remits["DENY-2ND"].status == "2"  # SBR01 S: processed as secondary
    assert remits["AUTHLESS"].status == "1"
    assert remits["AUTHLESS"].all_cas() == [("CO", "197", Decimal(100))]


def test_unknown_patient_is_the_only_clp02_4(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("NOPATIENT-1", lines=TWO_LINES), TestClaim("PAID-1")]
    remits = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5).remits()
    unknown = remits["NOPATIENT-1"]
    assert unknown.status == "4" and unknown.amounts == (Decimal("153.33"), 0, 0)
    assert unknown.cas == [("CO", "31", Decimal("153.33"))]  # claim level, no lines
    assert unknown.lines == []
    assert remits["PAID-1"].status == "1"


def test_deductible_pays_nothing_and_the_patient_owes_the_allowed_amount(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("DEDUCT-1", lines=TWO_LINES)]
    remit = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5).remits()["DEDUCT-1"]
    # allowed 80%: 96 + 26.66; the deductible takes all of it
    assert remit.status == "1"
    assert remit.amounts == (Decimal("153.33"), 0, Decimal("122.66"))
    assert [line.allowed for line in remit.lines] == [Decimal(96), Decimal("26.66")]
    assert remit.lines[0].cas == [("CO", "45", Decimal(24)), ("PR", "1", Decimal(96))]
    assert remit.lines[1].cas == [("CO", "45", Decimal("6.67")), ("PR", "1", Decimal("26.66"))]
    assert remit.lines[0].svc.element(3) == "0"


def test_coinsurance_pays_80_percent_of_allowed_and_the_patient_20(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("COINS-1", lines=[Line("97153", "120.00", control="L1")])]
    remit = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5).remits()["COINS-1"]
    assert remit.status == "1"
    assert remit.amounts == (Decimal(120), Decimal("76.8"), Decimal("19.2"))
    line = remit.lines[0]
    assert line.allowed == Decimal(96) and line.refs == {"6R": "L1"}
    assert line.cas == [("CO", "45", Decimal(24)), ("PR", "2", Decimal("19.2"))]


def test_crossover_is_clp02_19_naming_the_payer_it_went_to(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("CROSSOVER-1")]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5)
    remit = answers.remits()["CROSSOVER-1"]
    assert remit.status == "19"
    assert remit.amounts == (Decimal(120), Decimal("76.8"), Decimal("19.2"))
    assert ("PR", "2", Decimal("19.2")) in remit.all_cas()
    crossover = remit.names["TT"]
    assert crossover.elements[:3] == ("TT", "2", "ILLINOIS MEDICAID")
    assert crossover.elements[7:9] == ("PI", "IL621")
    assert remit.moa is not None and remit.moa.element(3) == "MA18"


def test_predetermination_and_not_our_claim_pay_nothing(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("PREDET-1"), TestClaim("NOTOURS-1")]
    remits = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5).remits()
    predetermination = remits["PREDET-1"]
    assert predetermination.status == "25" and predetermination.amounts == (Decimal(120), 0, 0)
    assert predetermination.lines[0].allowed == Decimal(96)  # what it would pay
    assert predetermination.all_cas() == [("CO", "45", Decimal(24)), ("OA", "101", Decimal(96))]
    not_ours = remits["NOTOURS-1"]
    assert not_ours.status == "23" and not_ours.amounts == (Decimal(120), 0, 0)
    assert not_ours.all_cas() == [("CO", "109", Decimal(120))]
    assert not_ours.names["TT"].element(9) == "IL621"  # forwarded there
    assert "TT" not in predetermination.names


def test_reversal_and_correction_come_in_a_later_era_of_their_own(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("REVERSE-1", lines=TWO_LINES), TestClaim("PAID-1")]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 6)
    first_path, later_path = sorted(answers.named("_ERA_835_"))
    first_id, later_id = first_path.name.split("_")[0], later_path.name.split("_")[0]
    assert first_id != later_id and int(later_id) > int(first_id)
    first, later = segments(first_path.read_bytes()), segments(later_path.read_bytes())
    assert first[0].element(13) != later[0].element(13)  # ISA13
    assert by_id(first, "TRN")[0].element(2) != by_id(later, "TRN")[0].element(2)

    original = answers.remits()["REVERSE-1"]
    assert original.status == "1" and original.amounts[1] == Decimal("122.66")
    claims_later, plbs = read_835(later_path.read_bytes())
    assert [c.clp.element(1) for c in claims_later] == ["REVERSE-1", "REVERSE-1"]
    reversal, correction = claims_later
    assert reversal.status == "22"
    assert reversal.amounts == (Decimal("-153.33"), Decimal("-122.66"), 0)
    assert reversal.all_cas() == [("CO", "45", Decimal(-24)), ("CO", "45", Decimal("-6.67"))]
    assert [line.allowed for line in reversal.lines] == [Decimal(-96), Decimal("-26.66")]
    assert correction.status == "1"
    assert correction.amounts == (Decimal("153.33"), Decimal("61.33"), 0)  # half of 122.66
    assert correction.lines[0].refs == {"6R": "LINE-A"}
    pcn = original.clp.element(7)
    assert reversal.clp.element(7) == correction.clp.element(7) == pcn
    # the payer took back more than it pays now: the balance is carried forward
    assert [p.elements[2:4] for p in plbs] == [(f"FB:{pcn}", "-61.33")]
    assert by_id(later, "BPR")[0].elements[:4] == ("H", "0", "C", "NON")
    assert "PAID-1" not in {c.clp.element(1) for c in claims_later}


def test_interest_is_a_provider_level_adjustment_naming_the_claim(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("PLB-1"), TestClaim("PAID-1")]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5)
    data = answers.one("_ERA_835_").read_bytes()
    _, plbs = read_835(data)
    assert len(plbs) == 1
    assert plbs[0].element(1) == "1245319599" and plbs[0].element(2).endswith("1231")
    assert plbs[0].elements[2:4] == ("L6:PLB-1", "-1.25")
    # 96 + 96 paid, plus 1.25 interest
    assert by_id(segments(data), "BPR")[0].elements[:2] == ("C", "193.25")


def test_accepted_with_errors_notes_the_claim_and_goes_on(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("PAID-1"), TestClaim("IK5E-1")]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5)
    ack = segments(answers.one("_999_").read_bytes())
    ik3 = by_id(ack, "IK3")[0]
    assert ik3.element(1) == "CLM" and ik3.elements[2:4] == ("2300", "8")
    assert by_id(ack, "IK4")[0].elements[:3] == ("1", "1028", "I12")
    assert by_id(ack, "IK5")[0].element(1) == "E"
    assert by_id(ack, "AK9")[0].elements[:4] == ("E", "1", "1", "1")
    assert set(answers.remits()) == {"PAID-1", "IK5E-1"}


def test_group_rejection_has_no_ak2_and_nothing_follows(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [TestClaim("PAID-1"), TestClaim("GROUPREJECT-1")]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 2)
    assert "the functional group was rejected" in answers.one("FS_HCFA_").read_text()
    ack = segments(answers.one("_999_").read_bytes())
    assert [s.id for s in ack] == ["ISA", "TA1", "GS", "ST", "AK1", "AK9", "SE", "GE", "IEA"]
    assert by_id(ack, "AK9")[0].elements == ("R", "1", "1", "0")


def test_clearinghouse_and_payer_277cas_are_separate_and_say_whose(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [
        TestClaim("PAID-1"),
        TestClaim("NOPAYER-1", payer_id="ZZZ99"),
        TestClaim("BADTOTAL-1", total="999.00"),
        TestClaim("REJECT-1"),
        TestClaim("BADNPI-1", npi="1234567890"),
    ]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5)
    clearinghouse_path, payer_path = sorted(
        answers.named("_277CA_"), key=lambda p: "_PAYER_" in p.name
    )
    clearinghouse_data = clearinghouse_path.read_bytes()
    payer_data = payer_path.read_bytes()
    sender = next(s for s in segments(clearinghouse_data) if s.id == "NM1")
    assert sender.elements == ("AY", "2", "OFFICE ALLY", "", "", "", "", "46", "330897513")
    payer = next(s for s in segments(payer_data) if s.id == "NM1")
    assert payer.elements == ("PR", "2", "AETNA", "", "", "", "", "PI", "60054")

    by_clearinghouse = _stc_by_claim(clearinghouse_data)
    assert set(by_clearinghouse) == {c.claim_id for c in claims}
    stc, trace = by_clearinghouse["PAID-1"]
    assert stc.components(1) == ["A1", "19", "40"] and trace is not None
    stc, trace = by_clearinghouse["NOPAYER-1"]
    assert stc.components(1) == ["A3", "116", "PR"] and trace is None
    assert stc.element(12) == "PAYER ID NOT ON THE PAYER LIST FOR 837P"
    stc, _ = by_clearinghouse["BADTOTAL-1"]
    assert stc.components(1) == ["A7", "400"]
    assert stc.element(12) == "CLAIM TOTAL DOES NOT EQUAL THE SUM OF THE LINE CHARGES"

    by_payer = _stc_by_claim(payer_data)
    assert set(by_payer) == {"PAID-1", "REJECT-1", "BADNPI-1"}  # what reached the payer
    stc, payer_claim_number = by_payer["PAID-1"]
    assert stc.components(1) == ["A2", "20"]
    stc, _ = by_payer["REJECT-1"]
    assert stc.components(1) == ["A7", "21"] and stc.element(12)
    stc, _ = by_payer["BADNPI-1"]
    assert stc.components(1) == ["A7", "562", "85"]
    assert stc.element(12) == "BILLING PROVIDER NPI IS INVALID"

    # the clearinghouse's REF*1K is its own trace; the payer's is what CLP07 repeats
    assert payer_claim_number is not None
    assert by_clearinghouse["PAID-1"][1] != payer_claim_number
    assert answers.remits()["PAID-1"].clp.element(7) == payer_claim_number
    assert set(answers.remits()) == {"PAID-1"}


def test_test_files_not_forwarded_get_only_the_clearinghouse_answer(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    oa_harness.rules = dataclasses.replace(oa_harness.rules, forward_test_files=False)
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, [TestClaim("PAID-1")], 2)
    assert sorted(f.name.split("_", 1)[1].rsplit("_", 1)[0] for f in answers.files) == [
        "277CA",
        "999",
    ]  # no payer saw it: no payer 277CA, no EDI Status Report rows, no 835


def _cob_claims(**changes: object) -> list[Claim]:
    """Our writer's secondary claim (tests/data/claims/secondary.yaml) billed to Aetna,
    after Blue Cross paid 336 + 140 and left 48 + 20 coinsurance."""
    claim = load_claims(CLAIMS_DATA / "secondary.yaml").claims[0]
    return [dataclasses.replace(claim, payer=Payer(name="AETNA", id="60054"), **changes)]


def test_a_secondary_payer_pays_what_the_primary_left_on_the_patient(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    data = write_837p(_cob_claims(), ENVELOPE)
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    upload(sftp, data, "cob_837P.txt")
    assert oa_harness.wait_idle(10)
    answers = Answers(wait_for_responses(5))
    verdict = judge(answers.one("_ERA_835_").read_bytes())
    assert verdict, verdict.errors
    remit = answers.remits()["SUN-2001S"]
    assert remit.status == "2"  # processed as secondary
    assert remit.amounts == (Decimal(680), Decimal(68), Decimal(0))
    assert [(line.svc.element(3), line.cas) for line in remit.lines] == [
        ("48", [("OA", "23", Decimal(432))]),
        ("20", [("OA", "23", Decimal(180))]),
    ]
    assert [line.refs["6R"] for line in remit.lines] == ["SUN-2001S-1", "SUN-2001S-2"]


def test_an_unbalanced_cob_claim_is_rejected_by_the_payers_277ca(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    (claim,) = _cob_claims()
    primary = claim.other_payers[0]
    short = dataclasses.replace(primary.lines[0], paid=Decimal(300))  # 300 + 144 != 480
    unbalanced = dataclasses.replace(
        claim, other_payers=(dataclasses.replace(primary, lines=(short, primary.lines[1])),)
    )
    claim_level = dataclasses.replace(
        claim,
        id="SUN-2003S",
        other_payers=(dataclasses.replace(primary, lines=(), paid=Decimal(600)),),
    )  # 600 paid, no adjustments, on 680
    data = write_837p([unbalanced, claim_level], ENVELOPE)
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    upload(sftp, data, "cob_837P.txt")
    assert oa_harness.wait_idle(10)
    answers = Answers(wait_for_responses(4))
    assert not answers.named("_ERA_835_")
    payer_277 = next(p for p in answers.named("_277CA_") if "_PAYER_" in p.name)
    by_payer = _stc_by_claim(payer_277.read_bytes())
    for claim_id in ("SUN-2001S", "SUN-2003S"):
        stc, _ = by_payer[claim_id]
        assert stc.components(1) == ["A7", "400"]
        assert stc.element(12) == (
            "OTHER PAYER PAID AND ADJUSTED AMOUNTS DO NOT ADD UP TO THE CHARGES (COB)"
        )


def test_a_secondary_claim_without_the_primarys_adjudication_is_rejected(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [
        TestClaim("NOCOB-2ND", responsibility="S"),
        TestClaim("COB-2ND", responsibility="S", primary_paid=("100.00", "20.00")),
    ]
    answers = _send(oa_harness, oa_user, connect, wait_for_responses, claims, 5)
    payer_277 = next(p for p in answers.named("_277CA_") if "_PAYER_" in p.name)
    by_payer = _stc_by_claim(payer_277.read_bytes())
    stc, _ = by_payer["NOCOB-2ND"]
    assert stc.components(1) == ["A7", "286"]
    assert stc.element(12) == (
        "SECONDARY OR TERTIARY CLAIM WITHOUT THE PRIOR PAYERS ADJUDICATION (2320 AMT D)"
    )
    remits = answers.remits()
    assert set(remits) == {"COB-2ND"}
    # the claim-level coinsurance the primary left (2320 CAS*PR) is what the secondary pays
    assert remits["COB-2ND"].amounts == (Decimal(120), Decimal(20), Decimal(0))
