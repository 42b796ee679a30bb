"""Simulated processing: uploads over real SFTP, responses judged by pyx12."""

from __future__ import annotations

import dataclasses
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest

from claimferry_harness import (
    Adjustment,
    HarnessLogin,
    MockOfficeAlly,
    PayerList,
    ProcessingRules,
)
from claimferry_harness.processing import is_claim_file_name
from claimferry_harness.pytest_plugin import ResponseWaiter
from harness.harness_support import (
    Connect,
    Line,
    TestClaim,
    build_837,
    by_id,
    segments,
    upload,
)
from support.x12judge import judge

SAMPLE_PAYERS = {"FLHIN": "FLORIDA DIRECT", "999996666": "KEY INSURANCE COMPANY"}


def _one(files: list[Path], marker: str) -> Path:
    """The one file named with ``marker`` (``_277CA_`` is the clearinghouse's, not the payer's)."""
    found = [f for f in files if marker in f.name and ("PAYER" in marker or "PAYER" not in f.name)]
    assert len(found) == 1, f"expected one {marker} file in {[f.name for f in files]}"
    return found[0]


def _assert_balanced_835(data: bytes) -> None:
    """BPR02 = sum CLP04 (no PLB) per transaction; CLP03 - CLP04 = sum CAS per claim."""
    segs = segments(data)
    starts = [i for i, s in enumerate(segs) if s.id == "ST"]
    for begin in starts:
        end = next(i for i in range(begin, len(segs)) if segs[i].id == "SE")
        txn = segs[begin:end]
        bpr = by_id(txn, "BPR")[0]
        clps = [i for i, s in enumerate(txn) if s.id == "CLP"]
        assert Decimal(bpr.element(2)) == sum(Decimal(txn[i].element(4)) for i in clps)
        for n, start in enumerate(clps):
            stop = clps[n + 1] if n + 1 < len(clps) else len(txn)
            cas_total = sum(
                Decimal(s.element(i))
                for s in txn[start:stop]
                if s.id == "CAS"
                for i in range(3, len(s.elements) + 1, 3)
                if s.element(i)
            )
            clp = txn[start]
            assert Decimal(clp.element(3)) - Decimal(clp.element(4)) == cas_total


@pytest.mark.parametrize(
    "sample",
    ["837P_05_simple_single_claim_uhin.edi", "837P_01_dependent_patient_HL23_four_lines.edi"],
)
def test_sample_837_gets_999_with_ta1_two_277cas_edi_status_and_835(
    sample: str,
    samples_dir: Path,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    oa_harness.rules = ProcessingRules(
        payers=PayerList.default().with_payers(SAMPLE_PAYERS), check_billing_npi=False
    )
    data = (samples_dir / sample).read_bytes()
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    upload(sftp, data, "claims_837P.txt")
    files = wait_for_responses(5)
    assert oa_harness.wait_idle(5)
    assert len(files) == 5
    for path in files:
        assert re.match(r"^\d{9,10}_", path.name)
        if path.suffix != ".txt":
            verdict = judge(path.read_bytes())
            assert verdict, (path.name, verdict.errors)
    uploaded = segments(data)
    isa13 = uploaded[0].element(13)
    gs06 = by_id(uploaded, "GS")[0].element(6)
    st02 = by_id(uploaded, "ST")[0].element(2)
    clm01 = by_id(uploaded, "CLM")[0].element(1)

    ack = segments(_one(files, "_999_").read_bytes())
    assert [s.id for s in ack[:3]] == ["ISA", "TA1", "GS"]
    assert ack[1].elements[:1] == (isa13,) and ack[1].element(4) == "A"
    assert by_id(ack, "AK1")[0].elements[:2] == ("HC", gs06)
    assert by_id(ack, "AK2")[0].elements[:2] == ("837", st02)
    assert by_id(ack, "IK5")[0].element(1) == "A"
    assert by_id(ack, "AK9")[0].element(1) == "A"

    status = segments(_one(files, "_PAYER_277CA_").read_bytes())
    assert by_id(status, "NM1")[0].element(1) == "PR"
    assert ("2", clm01) in [s.elements[:2] for s in by_id(status, "TRN")]
    claim_stc = by_id(status, "STC")[-1]
    assert claim_stc.components(1)[:2] == ["A2", "20"]
    payer_claim_number = by_id(status, "REF")[0]
    assert payer_claim_number.element(1) == "1K"
    received = segments(_one(files, "_277CA_").read_bytes())
    assert by_id(received, "NM1")[0].element(1) == "AY"
    assert by_id(received, "STC")[-1].components(1) == ["A1", "19", "40"]

    remit = _one(files, "_ERA_835_").read_bytes()
    _assert_balanced_835(remit)
    clp = by_id(segments(remit), "CLP")[0]
    assert clp.element(1) == clm01 and clp.element(2) == "1"
    assert clp.element(7) == payer_claim_number.element(2)
    charge = Decimal(clp.element(3))
    assert Decimal(clp.element(4)) == (charge * Decimal("0.8")).quantize(Decimal("0.01"))
    allowed = sum(Decimal(s.element(2)) for s in by_id(segments(remit), "AMT"))
    assert allowed == Decimal(clp.element(4))  # AMT*B6 on every line, all of it paid

    report = _one(files, "_EDI_STATUS_").read_text()
    assert clm01 in report and "ACCEPTED" in report


def _process(
    server: MockOfficeAlly,
    user: HarnessLogin,
    connect: Connect,
    data: bytes,
    wait: ResponseWaiter,
    count: int,
) -> list[Path]:
    sftp = connect(server, user.username, password=user.password)
    upload(sftp, data, "batch_837P.txt")
    assert server.wait_idle(10)
    files = wait(count)
    assert len(files) == count, [f.name for f in files]
    for path in files:
        if path.suffix != ".txt":
            verdict = judge(path.read_bytes())
            assert verdict, (path.name, verdict.errors)
    return files


def test_rules_unknown_payer_rejects_and_denials_are_processed_with_cas(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    claims = [
        TestClaim("PAID1", lines=[Line("97153", "120.00"), Line("97155", "33.33", units="1")]),
        TestClaim("NOPAYER1", payer_id="ZZZ99"),
        TestClaim("ERA-ONLY", payer_id="SKUT0"),
        TestClaim("DENY-ME"),
        TestClaim("AUTHLESS", lines=[Line("97151", "200.00"), Line("97153", "60.00")]),
        TestClaim("AUTHED", prior_auth="PA123", lines=[Line("97151", "200.00")]),
        TestClaim("ALLAUTH", lines=[Line("97151", "100.00")]),
        TestClaim("BADTOTAL", total="999.00"),
        TestClaim("BADNPI", npi="1234567890"),
        TestClaim("REJECT-ME"),
    ]
    files = _process(oa_harness, oa_user, connect, build_837(claims), wait_for_responses, 5)

    stc_by_claim: dict[str, list[str]] = {}
    for marker in ("_277CA_", "_PAYER_277CA_"):  # the payer's answer comes last
        current = ""
        for seg in segments(_one(files, marker).read_bytes()):
            if seg.id == "HL":
                current = ""
            elif seg.id == "TRN" and seg.element(1) == "2":
                current = seg.element(2)
            elif seg.id == "STC" and current:
                stc_by_claim[current] = seg.components(1)
    assert stc_by_claim["PAID1"][:2] == ["A2", "20"]
    assert stc_by_claim["NOPAYER1"] == ["A3", "116", "PR"]
    assert stc_by_claim["ERA-ONLY"] == ["A3", "116", "PR"]
    assert stc_by_claim["BADTOTAL"] == ["A7", "400"]
    assert stc_by_claim["BADNPI"] == ["A7", "562", "85"]
    assert stc_by_claim["REJECT-ME"] == ["A7", "21"]

    remit = segments(_one(files, "_ERA_835_").read_bytes())
    _assert_balanced_835(_one(files, "_ERA_835_").read_bytes())
    clps = {s.element(1): s for s in by_id(remit, "CLP")}
    assert set(clps) == {"PAID1", "DENY-ME", "AUTHLESS", "AUTHED", "ALLAUTH"}
    assert clps["PAID1"].elements[1:4] == ("1", "153.33", "122.66")
    assert clps["DENY-ME"].elements[1:4] == ("1", "120", "0")  # processed as primary
    assert clps["ALLAUTH"].elements[1:4] == ("1", "100", "0")
    assert clps["AUTHLESS"].elements[1:4] == ("1", "260", "48")
    assert clps["AUTHED"].elements[1:4] == ("1", "200", "160")
    cas = [(s.element(1), s.element(2), s.element(3)) for s in by_id(remit, "CAS")]
    assert ("CO", "50", "120") in cas
    assert ("CO", "197", "200") in cas and ("CO", "197", "100") in cas
    assert ("CO", "45", "6.67") in cas  # 33.33 * 80% = 26.664 -> paid 26.66

    report = _one(files, "_EDI_STATUS_").read_text()
    assert re.search(r" REJECT-ME .* REJECTED  REJECTED BY HARNESS RULE", report)
    assert "NOPAYER1" not in report  # rejected by the clearinghouse, never reached a payer


def test_deny_and_pay_rules_are_configurable(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    oa_harness.rules = dataclasses.replace(
        oa_harness.rules,
        deny_claim_ids=r"^X",
        denial=Adjustment("CO", "96"),
        allowed_percent=Decimal(50),
        contractual=Adjustment("CO", "42"),
    )
    claims = [TestClaim("X1"), TestClaim("DENY-NOT-ANYMORE")]
    files = _process(oa_harness, oa_user, connect, build_837(claims), wait_for_responses, 5)
    remit = segments(_one(files, "_ERA_835_").read_bytes())
    clps = {s.element(1): s.elements[1:4] for s in by_id(remit, "CLP")}
    assert clps == {"X1": ("1", "120", "0"), "DENY-NOT-ANYMORE": ("1", "120", "60")}
    cas = {(s.element(1), s.element(2), s.element(3)) for s in by_id(remit, "CAS")}
    assert cas == {("CO", "96", "120"), ("CO", "42", "60")}


def _only_999(files: list[Path], reason: str) -> list:  # type: ignore[type-arg]
    """The 999 of a failed file, checking that a File Summary says why and nothing else came."""
    assert len(files) == 2, [f.name for f in files]
    ack, summary = sorted(files, key=lambda f: f.name.startswith("FS_"))
    file_id = ack.name.split("_")[0]
    assert "_999_" in ack.name and summary.name == f"FS_HCFA_{file_id}_IN_C.txt"
    text = summary.read_bytes().decode("ascii")
    assert "     File Name:" + file_id + "_batch_837P.txt\r\n" in text
    assert f"\r\n\tFile failed: {reason}" in text
    assert f"master file with fileID:{file_id}\r\n" in text
    data = ack.read_bytes()
    verdict = judge(data)
    assert verdict, verdict.errors
    return segments(data)


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (b"this is not an X12 file at all\n", "022"),
        (build_837([TestClaim("A1")]).replace(b"IEA*1*000000101", b"IEA*1*000000999"), "001"),
        (build_837([TestClaim("A1")]).replace(b"IEA*1*", b"IEA*2*"), "021"),
        (build_837([TestClaim("A1")]).rsplit(b"IEA", 1)[0], "023"),
    ],
    ids=["not-x12", "iea-control-mismatch", "iea-count", "no-iea"],
)
def test_broken_envelope_gets_only_a_rejecting_ta1(
    data: bytes,
    note: str,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    files = _process(oa_harness, oa_user, connect, data, wait_for_responses, 2)
    segs = _only_999(files, "the interchange envelope is invalid: ")
    assert [s.id for s in segs] == ["ISA", "TA1", "IEA"]
    assert segs[1].element(4) == "R" and segs[1].element(5) == note


@pytest.mark.parametrize(
    ("data", "ik5", "ak905"),
    [
        (build_837([TestClaim("A1")], se_count_delta=1), "4", ""),
        (build_837([TestClaim("A1")]).replace(b"*0101~\nGE", b"*0102~\nGE"), "3", ""),
        (build_837([TestClaim("A1")]).replace(b"CLM*A1*120.00", b"CLM*A1*12O"), "5", ""),
        (build_837([TestClaim("A1")]).replace(b"GE*1*101", b"GE*2*101"), "A", "5"),
    ],
    ids=["se-count", "se-control", "bad-amount", "ge-count"],
)
def test_bad_transaction_gets_only_a_rejecting_999(
    data: bytes,
    ik5: str,
    ak905: str,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    files = _process(oa_harness, oa_user, connect, data, wait_for_responses, 2)
    segs = _only_999(files, "no transaction set was accepted (see the 999)")
    assert segs[1].id == "TA1" and segs[1].element(4) == "A"
    result = by_id(segs, "IK5")[0]
    assert (result.element(1) if ik5 == "A" else result.element(2)) == ik5
    ak9 = by_id(segs, "AK9")[0]
    assert ak9.element(1) == "R" and ak9.element(4) == "0" and ak9.element(5) == ak905
    if ik5 == "5":
        assert by_id(segs, "IK3")[0].elements[:4] == ("CLM", "19", "2300", "8")
        assert by_id(segs, "IK4")[0].elements[:3] == ("2", "782", "6")


def test_temporary_and_non_claim_names_are_not_processed(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, connect: Connect
) -> None:
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    data = build_837([TestClaim("A1")])
    for name in ("b_837P.txt.part", "c_837P.tmp", ".d_837P.txt", "notes.txt"):
        with sftp.open(f"inbound/{name}", "wb") as stream:
            stream.write(data)
    sftp.rename("inbound/notes.txt", "inbound/readme.txt")
    assert oa_harness.wait_idle(5)
    assert sftp.listdir("outbound") == []


def test_file_written_under_its_final_name_is_processed_on_close(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    sftp.putfo(__import__("io").BytesIO(build_837([TestClaim("A1")])), "inbound/direct_837P.txt")
    files = wait_for_responses(5)
    assert {f.name.split("_", 1)[1].rsplit("_", 1)[0] for f in files} == {
        "999",
        "277CA",
        "PAYER_277CA",
        "EDI_STATUS",
        "ERA_835_5010",
    }


def test_processing_is_asynchronous_with_a_delay(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    oa_harness.set_delay(0.5)
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    started = time.monotonic()
    upload(sftp, build_837([TestClaim("A1")]), "late_837P.txt")
    assert time.monotonic() - started < 0.4
    assert sftp.listdir("outbound") == []
    files = wait_for_responses(5, timeout=5)
    assert time.monotonic() - started >= 0.5
    assert len(files) == 5


def test_file_ids_are_unique_and_survive_restarts(tmp_path: Path, connect: Connect) -> None:
    ids = []
    rules = ProcessingRules(first_file_id=9999999998)  # crosses from 10 digits back to 9
    for _ in range(2):
        with MockOfficeAlly(tmp_path, rules=rules) as server:
            server.add_user("u", password="pw-test-only")
            sftp = connect(server, "u", password="pw-test-only")
            for n in range(2):
                upload(sftp, build_837([TestClaim(f"C{n}")]), f"f{n}_837P.txt")
            assert server.wait_idle(10)
            ids = sorted({p.name.split("_")[0] for p in server.outbound_dir("u").iterdir()})
    assert ids == ["100000000", "100000001", "9999999998", "9999999999"]


STATUS_TITLES = [
    "File ID",
    "OA ClaimID",
    "Accnt#",
    "Patient Name",
    "Amount",
    "Practice",
    "Tax ID",
    "Payer",
    "Process Dt",
    "Payer Ref ID",
    "Status",
    "Payer Response",
]


def _status_rows(path: Path) -> tuple[list[int], list[list[str]]]:
    """Column starts from the header titles, and each row's cells, as a reader takes them."""
    lines = path.read_bytes().decode("ascii").split("\r\n")
    assert lines[:2] == ["Office Ally EDI Status Report", lines[1]]
    assert re.fullmatch(r"Report Date: \d\d/\d\d/\d{4}", lines[1])
    header = next(line for line in lines if line.startswith("    File ID"))
    starts = [header.index(t) for t in STATUS_TITLES]
    rows = [line for line in lines[lines.index(header) + 1 :] if line[4:5].isdigit()]
    ends = [*starts[1:], None]
    return starts, [[row[a:b].strip() for a, b in zip(starts, ends, strict=True)] for row in rows]


@pytest.mark.parametrize("first_file_id", [100000001, 1000000001])
def test_edi_status_report_has_office_allys_columns_and_the_payers_answers(
    first_file_id: int,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    oa_harness.rules = dataclasses.replace(oa_harness.rules, first_file_id=first_file_id)
    claims = [
        TestClaim("SUN-1001", lines=[Line("97153", "1200.00")]),
        TestClaim("SUN-REJECT-1002"),
        TestClaim("SUN-1003", payer_id="NOPE"),
    ]
    files = _process(oa_harness, oa_user, connect, build_837(claims), wait_for_responses, 5)
    starts, rows = _status_rows(_one(files, "_EDI_STATUS_"))
    wider = 1 if first_file_id >= 10**9 else 0  # a 10-digit FileID moves every column right
    # and "SUN-REJECT-1002" (15 characters) widens Accnt# by one
    assert starts == [4, 14 + wider, 26 + wider] + [
        s + wider + 1 for s in (41, 61, 73, 84, 95, 105, 122, 142, 152)
    ]
    file_id = str(first_file_id)
    today = rows[0][8]
    payer_status = segments(_one(files, "_PAYER_277CA_").read_bytes())
    pcn = next(s.element(2) for s in by_id(payer_status, "REF") if s.element(1) == "1K")
    assert rows[0] == [
        file_id,
        f"{first_file_id % 10**6:06d}0001",
        "SUN-1001",
        "DOE,JANE",
        "1,200.00",
        "SUNRISE01",
        "371234567",
        "60054",
        today,
        pcn,
        "ACCEPTED",
        "ACCEPTED BY PAYER",
    ]
    assert rows[1][2] == "SUN-REJECT-1002" and rows[1][9] == ""
    assert rows[1][10:] == ["REJECTED", "REJECTED BY HARNESS RULE reject_claim_ids"]
    assert len(rows) == 2  # SUN-1003 was rejected by the clearinghouse (its 277CA says so)


def test_edi_status_amount_ends_where_office_allys_does(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    files = _process(
        oa_harness, oa_user, connect, build_837([TestClaim("SUN-1")]), wait_for_responses, 5
    )
    lines = _one(files, "_EDI_STATUS_").read_bytes().decode("ascii").split("\r\n")
    header = next(line for line in lines if line.startswith("    File ID"))
    assert [header.index(t) for t in STATUS_TITLES] == [
        4, 14, 26, 41, 61, 73, 84, 95, 105, 122, 142, 152
    ]  # fmt: skip
    row = next(line for line in lines if line.startswith("    100000001 "))
    assert row[61:70] == "   120.00"


def test_office_ally_payer_list_csv_is_understood(samples_dir: Path) -> None:
    payers = PayerList.from_office_ally_csv(samples_dir / "officeally_payer_list.csv")
    assert len(payers) > 1000
    assert payers.takes_claims("39081")  # 3P Admin, 837P
    payer = payers.get("58102")
    assert payer is not None and {"837P", "835"} <= payer.transactions


@pytest.mark.parametrize(
    ("name", "answered"),
    [
        ("SUNRISE01_837P_OATEST_000000001.txt", True),
        ("SUNRISE01_837_000000001.txt", False),  # Office Ally's rule: the name holds 837P
        ("sunrise01_837p.txt", False),
        (".SUNRISE01_837P.txt", False),
        ("SUNRISE01_837P.txt.part", False),
    ],
)
def test_only_final_names_holding_837p_are_answered(name: str, answered: bool) -> None:
    assert is_claim_file_name(name) is answered
