"""Every TA1, 999, 277CA and 835 sample parses, with values checked by hand against the file."""

from __future__ import annotations

import json
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from claimferry.x12.ack999 import read_999_file
from claimferry.x12.remit835 import Remit835Document, read_835_file
from claimferry.x12.responses import detect_kind, read_response
from claimferry.x12.segments import read_segments
from claimferry.x12.status277 import iter_277_claims, read_277ca_file
from claimferry.x12.ta1 import read_ta1_file

D = Decimal


def test_detect_kind_reads_content_not_names(samples_dir: Path) -> None:
    kinds = {p.name: detect_kind(p) for p in sorted(samples_dir.iterdir()) if p.is_file()}
    assert kinds["TA1_01_standalone_rejected_4010.edi"] == "TA1"
    assert kinds["999_04_officeally_TA1_after_ISA_rejected.txt"] == "999"
    assert [k for n, k in kinds.items() if n.startswith("277CA")] == ["277CA"] * 3
    assert [k for n, k in kinds.items() if n.startswith("835")] == ["835"] * 9
    assert [k for n, k in kinds.items() if n.startswith("999")] == ["999"] * 4
    assert all(k is None for n, k in kinds.items() if n.startswith("837P"))
    assert kinds["OA_style_ERA_text_report.txt"] is None
    assert kinds["officeally_payer_list.csv"] is None


@pytest.mark.parametrize("prefix", ["TA1", "999", "277CA", "835"])
def test_every_response_sample_reads_renders_and_serializes(samples_dir: Path, prefix: str) -> None:
    paths = sorted(samples_dir.glob(f"{prefix}_*"))
    assert paths
    for path in paths:
        document = read_response(path)
        assert document.kind == prefix
        data = document.to_dict()
        assert data["kind"] == prefix
        json.dumps(data)
        assert document.render().strip()


# --- TA1 ------------------------------------------------------------------------


def test_ta1_standalone_4010_rejected_with_group_count_notice(samples_dir: Path) -> None:
    doc = read_ta1_file(samples_dir / "TA1_01_standalone_rejected_4010.edi")
    assert doc.interchange.version == "00401"
    assert doc.interchange.control_number == "000000007"
    (ack,) = doc.acks
    assert ack.control_number == "000000100"
    assert ack.date == date(2003, 8, 9)
    assert ack.time == time(8, 23)
    assert (ack.ack_code, ack.note_code, ack.accepted) == ("R", "024", False)
    assert "invalid interchange content" in ack.note_meaning
    assert ack.acknowledges("100")
    # IEA01=1 although the interchange has no functional group: reported, not fatal.
    assert [(n.location, "IEA01" in n.message) for n in doc.notices] == [
        ("segment 3 (IEA) element IEA01", True)
    ]


# --- 999 ------------------------------------------------------------------------


def test_999_accepted(samples_dir: Path) -> None:
    doc = read_999_file(samples_dir / "999_01_accepted_emedny.txt")
    (group,) = doc.groups
    assert (group.functional_id, group.control_number, group.version) == (
        "HC",
        "28",
        "005010X223A2",
    )
    assert (group.status, group.included, group.received, group.accepted_count) == ("A", 1, 1, 1)
    assert doc.accepted_transactions() == ("0028",)
    assert doc.rejected_transactions() == {}
    assert doc.interchange_acks == ()


def test_999_rejected_unrecognized_segment(samples_dir: Path) -> None:
    doc = read_999_file(samples_dir / "999_02_rejected_IK3_IK5R_emedny.txt")
    assert doc.interchange.test
    (group,) = doc.groups
    assert (group.status, group.accepted_count, group.accepted) == ("R", 0, False)
    (transaction,) = group.transactions
    assert (transaction.status, transaction.syntax_errors) == ("R", ("5",))
    (error,) = transaction.segment_errors
    assert (error.segment_id, error.position, error.loop, error.code) == ("NM", 17, "", "1")
    assert error.meaning == "unrecognized segment ID"
    assert doc.rejected_transactions() == {
        "0028": (
            "one or more segments in error (IK5 5)",
            "NM at segment 17: unrecognized segment ID",
        )
    }


def test_999_partial_with_ik4_and_ctx(samples_dir: Path) -> None:
    doc = read_999_file(samples_dir / "999_03_partial_IK3_IK4_CTX_AK9P.edi")
    (group,) = doc.groups
    assert (group.control_number, group.version, group.status) == ("17456", "005010X222", "P")
    assert (group.included, group.received, group.accepted_count) == (3, 3, 1)
    assert doc.accepted_transactions() == ("0001",)
    assert set(doc.rejected_transactions()) == {"0002", "0003"}
    second, third = group.transactions[1], group.transactions[2]
    (clm,) = second.segment_errors
    assert (clm.segment_id, clm.position, clm.code) == ("CLM", 22, "8")
    assert [c.claim_id for c in clm.context] == ["123456789"]
    (element,) = clm.element_errors
    assert (element.position, element.component, element.reference_number, element.code) == (
        2,
        None,
        "782",
        "1",
    )
    assert "CLM02: required data element missing" in doc.rejected_transactions()["0002"][1]
    (ref,) = third.segment_errors
    assert (ref.segment_id, ref.position, ref.code, ref.meaning) == (
        "REF",
        57,
        "3",
        "required segment missing",
    )
    trigger, business_unit = ref.context
    assert (trigger.name, trigger.segment_id, trigger.segment_position) == (
        "SITUATIONAL TRIGGER",
        "CLM",
        "43",
    )
    assert business_unit.claim_id == "987654321"
    assert (third.status, third.syntax_errors) == ("R", ("5",))


def test_999_office_ally_ta1_after_isa(samples_dir: Path) -> None:
    doc = read_999_file(samples_dir / "999_04_officeally_TA1_after_ISA_rejected.txt")
    assert doc.interchange.sender_id == "330897513"
    (ta1,) = doc.interchange_acks
    assert (ta1.control_number, ta1.ack_code, ta1.note_code, ta1.accepted) == (
        "101",
        "A",
        "000",
        True,
    )
    assert ta1.acknowledges("000000101")
    (group,) = doc.groups
    assert (group.control_number, group.version, group.status) == ("101", "005010X222A1", "R")
    (transaction,) = group.transactions
    assert transaction.implementation == "005010X222A1"
    assert [(e.segment_id, e.position, e.loop, e.code) for e in transaction.segment_errors] == [
        ("CLM", 289, "2010", "6"),
        ("CLM", 381, "2010", "6"),
    ]
    assert doc.accepted_transactions() == ()
    assert list(doc.rejected_transactions()) == ["101"]
    assert "segment not in defined transaction set" in doc.render()


# --- 277CA ----------------------------------------------------------------------


def test_277ca_accepted(samples_dir: Path) -> None:
    doc = read_277ca_file(samples_dir / "277CA_01_accepted_A1_A2_emedny.txt")
    (claim,) = doc.claims
    assert claim.claim_id == "5781"
    assert claim.outcome == "accepted"
    assert [(s.category, s.code, s.charge_amount) for s in claim.statuses] == [
        ("A2", "20", D("125"))
    ]
    assert claim.payer_claim_number == "1107000000014420"
    assert claim.service_from == date(1001, 1, 1)  # the placeholder date is a real date
    assert (claim.payer_name, claim.payer_id, claim.provider_id) == (
        "NYSDOH",
        "141797357",
        "1234567890",
    )
    assert [level.level for level in doc.levels] == ["20", "21", "19"]
    receiver = doc.levels[1]
    assert [(s.category, s.code) for s in receiver.statuses] == [("A1", "20")]
    assert receiver.quantities == (("90", D(1)),)
    assert receiver.amounts == (("YU", D("125.0")),)
    assert "TPATIENT" not in repr(claim) and "LL99999X" not in repr(claim)
    assert "TPATIENT" not in json.dumps(doc.to_dict())
    assert "TPATIENT" in json.dumps(doc.to_dict(phi=True))


def test_277ca_rejected_pipe_components(samples_dir: Path) -> None:
    doc = read_277ca_file(samples_dir / "277CA_02_rejected_A7_pipe_component_emedny.txt")
    (claim,) = doc.claims
    assert claim.claim_id == "3920394930203"
    assert claim.outcome == "rejected"
    (status,) = claim.statuses
    assert (status.category, status.code, status.entity) == ("A7", "562", "85")
    assert status.effective_date == date(2011, 3, 11)
    assert status.charge_amount == D("199.14")
    assert (claim.payer_claim_number, claim.bill_type) == ("1107000000001120", "731")
    assert "NPI" in claim.summary() and "billing provider" in claim.summary()
    assert doc.interchange.test


def test_277ca_five_claims_mixed_and_impossible_date(samples_dir: Path) -> None:
    doc = read_277ca_file(samples_dir / "277CA_03_mixed_A2_A3_A7_five_claims.edi")
    assert [(c.claim_id, c.outcome) for c in doc.claims] == [
        ("PATIENT22222", "accepted"),
        ("PATIENT33333", "rejected"),
        ("JONES44444", "rejected"),
        ("JOHNSON55555", "accepted"),
        ("MILLS66666", "accepted"),
    ]
    unprocessable = doc.claims[1]
    assert [(s.category, s.code) for s in unprocessable.statuses] == [("A3", "21"), ("A3", "187")]
    assert unprocessable.service_from is None  # DTP*472*D8*20230229 is not on the calendar
    assert [n.location for n in doc.notices] == ["segment 30 (DTP) element DTP03"]
    assert doc.claims[0].payer_claim_number == "220216359803X"
    assert doc.claims[0].service_from == date(2023, 2, 14)
    assert doc.claims[2].statuses[1].code == "249"
    receiver = doc.levels[1]
    assert [(s.category, s.code, s.entity) for s in receiver.statuses] == [("A1", "19", "PR")]
    assert receiver.quantities == (("90", D(3)), ("AA", D(2)))
    assert receiver.amounts == (("YU", D("200.5")), ("YY", D(165)))
    assert doc.claims[0].payer_id == "YIC01" and doc.claims[0].provider_id == "234567894"


def test_277ca_streams_claims(samples_dir: Path) -> None:
    path = samples_dir / "277CA_03_mixed_A2_A3_A7_five_claims.edi"
    ids = [c.claim_id for c in iter_277_claims(read_segments(path), str(path))]
    assert len(ids) == 5


# --- 835 ------------------------------------------------------------------------


def _835(samples_dir: Path, name: str) -> Remit835Document:
    doc = read_835_file(samples_dir / name)
    assert all(advice.balanced for advice in doc.payments), [a.imbalances for a in doc.payments]
    return doc


def test_835_denied_no_payment(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_01_simple_denied_no_payment_emedny.txt")
    (advice,) = doc.payments
    pay = advice.payment
    assert (pay.handling_code, pay.amount, pay.credit_debit, pay.method) == ("H", D(0), "C", "NON")
    assert pay.payment_date == date(2010, 1, 1)
    assert (pay.trace_number, pay.transaction_control_number) == ("10100000000", "1740")
    assert (pay.payer.name, pay.payee.id_qualifier, pay.payee.id) == ("NYSDOH", "XX", "9999999995")
    (claim,) = advice.claims
    assert (claim.claim_id, claim.status, claim.charge, claim.paid) == (
        "PATIENT ACCOUNT NUMBER",
        "2",
        D(34),
        D(0),
    )
    assert (claim.filing_code, claim.payer_claim_number) == ("MC", "1000220000000030")
    assert [(line.procedure, line.charge, line.units) for line in claim.lines] == [
        ("V2020", D(12), D(0)),
        ("V2103", D(22), D(0)),
    ]
    assert [a.describe() for a in claim.all_adjustments()] == [
        "CO-29 12.00: The time limit for filing has expired",
        "CO-29 22.00: The time limit for filing has expired",
    ]
    assert claim.corrected_patient is not None
    assert "SUBMITTED" not in repr(claim) and "LL88888L" not in repr(claim)
    assert "CORRECTED" not in doc.render()


def test_835_two_claims_managed_care(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_02_two_claims_cas_managed_care.835")
    (advice,) = doc.payments
    assert (advice.payment.amount, advice.payment.method) == (D("945.00"), "ACH")
    # BPR16 20002316 has month 23: reported, read as unknown.
    assert advice.payment.payment_date is None
    assert [n.location for n in doc.notices] == ["segment 4 (BPR) element BPR16"]
    first, second = advice.claims
    assert (first.claim_id, first.charge, first.paid, first.patient_responsibility) == (
        "5554555444",
        D("800.00"),
        D("450.00"),
        D("300.00"),
    )
    assert (first.filing_code, first.payer_claim_number) == ("12", "94060555410000")
    assert [(a.group, a.reason, a.amount) for a in first.adjustments] == [("CO", "A2", D(50))]
    (line,) = first.lines
    assert (line.service_from, line.service_to) == (date(2002, 3, 1), date(2002, 3, 4))
    assert [(a.group, a.reason, a.amount) for a in second.lines[0].adjustments] == [
        ("PR", "1", D(600)),
        ("CO", "45", D(50)),
    ]


def test_835_three_claims_modifiers_and_remarks(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_03_three_claims_modifiers_cas_lq_emedny.txt")
    (advice,) = doc.payments
    assert advice.payment.amount == D("45.75")
    claims = advice.claims
    assert [c.claim_id for c in claims] == ["PATIENT ACCOUNT NUMBER"] * 3
    assert [c.payer_claim_number for c in claims] == [
        "1000210000000030",
        "1000220000000020",
        "1000230000000020",
    ]
    assert [c.paid for c in claims] == [D("34.25"), D(0), D("11.5")]
    assert sum(len(c.lines) for c in claims) == 10
    assert claims[0].lines[0].modifiers == ("RB",)
    assert claims[0].lines[0].allowed_amount == D(6)
    assert [line.remark_codes for line in claims[2].lines] == [(), (), ("N206",), ("N206",)]
    assert claims[2].lines[1].service_from == date(2013, 9, 17)


def test_835_reversal_correction_and_plb(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_04_reversal_correction_plb_outpatient_retro_emedny.txt")
    (advice,) = doc.payments
    reversal, correction = advice.claims
    assert (reversal.adjustment_kind, reversal.status, reversal.charge) == (
        "reversal",
        "22",
        D("-7151.17"),
    )
    assert (correction.adjustment_kind, correction.paid) == ("correction", D("7131.01"))
    assert correction.frequency_code == "7"
    assert (reversal.remark_codes, correction.remark_codes) == (("N689",), ("N419",))
    (plb,) = advice.provider_adjustments
    assert (plb.provider_id, plb.fiscal_period_end) == ("02245834", date(2014, 12, 31))
    assert (plb.reason, plb.reference, plb.amount) == ("FB", "FCN#201401011010200", D("-20.16"))


def test_835_inpatient_reversal_negative_cas(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_05_reversal_correction_inpatient_drg_emedny.txt")
    reversal, correction = doc.payments[0].claims
    assert reversal.adjustments[0].amount == D("-36989.36")
    assert reversal.rendering_provider_id == "1234567890"
    assert reversal.remark_codes == ("N689",)
    assert correction.adjustment_kind == "correction"
    assert doc.payments[0].payment.amount == D("1.57")


def test_835_three_transactions_and_iea_mismatch(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_06_three_ST_plb_only_nevada_medicaid.txt")
    assert [p.payment.transaction_control_number for p in doc.payments] == ["0001", "0002", "0003"]
    assert [len(p.claims) for p in doc.payments] == [1, 2, 0]
    assert [c.status for c in doc.claims()] == ["4", "2", "4"]
    first = doc.payments[0].claims[0]
    assert [(a.group, a.reason, a.amount, a.quantity) for a in first.adjustments] == [
        ("OA", "147", D(50016), D(0)),
        ("CO", "26", D(22216), D(0)),
    ]
    last = doc.payments[2]
    assert (last.payment.amount, last.payment.method) == (D("1812.27"), "CHK")
    assert len(last.provider_adjustments) == 6
    assert sum(a.amount for a in last.provider_adjustments) == D("-1812.27")
    # IEA02 100000301 != ISA13 100000300: reported, the content is still read.
    assert [n.location for n in doc.notices] == ["segment 67 (IEA) element IEA02"]
    assert "IEA02 does not match ISA13" in doc.render()


def test_835_institutional_plb_balances(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_07_institutional_ts3_mia_moa_plb.835")
    (advice,) = doc.payments
    assert [c.filing_code for c in advice.claims] == ["MA", "MB"]
    assert [(a.reason, a.reference, a.amount) for a in advice.provider_adjustments] == [
        ("CV", "CP", D("-1.27"))
    ]
    assert advice.claims[1].remark_codes == ("MA02",)


def test_835_mixed_component_separator(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_08_secondary_cob_mixed_component_separator.835")
    first, second = doc.payments[0].claims
    assert first.lines == () and first.adjustments[0].reason == "23"
    assert [
        (line.procedure_qualifier, line.procedure, line.modifiers) for line in second.lines
    ] == [
        ("HC", "12345", ("26",)),
        ("HC", "66543", ("26",)),
    ]
    assert [(a.group, a.reason, a.amount) for a in second.lines[1].adjustments] == [
        ("PR", "1", D(150)),
        ("PR", "2", D(70)),
        ("CO", "42", D(85)),
    ]
    # The date sits in BPR15, one element early: reported, read as unknown.
    assert doc.payments[0].payment.payment_date is None
    assert doc.payments[0].payment.production_date == date(2005, 4, 12)
    assert [n.location for n in doc.notices] == ["segment 4 (BPR) element BPR16"]


def test_835_gt_component_separator(samples_dir: Path) -> None:
    doc = _835(samples_dir, "835_09_gt_component_separator_uhc.txt")
    first, second = doc.payments[0].claims
    assert (first.claim_id, first.patient_responsibility) == ("001-18573-358", D("105.26"))
    assert [line.procedure for line in first.lines] == ["B4152", "B4152"]
    assert [line.control_number for line in first.lines] == ["800941258001", "800941258002"]
    assert first.lines[0].units == D(234)
    assert [(a.group, a.reason, a.amount) for a in second.lines[2].adjustments] == [
        ("PR", "2", D("5.13")),
        ("PR", "1", D(110)),
        ("CO", "45", D("184.32")),
    ]
    assert doc.payments[0].payment.payment_date == date(2021, 2, 4)
    assert "MR COOL" not in repr(first) and "MR COOL" not in doc.render()
    assert "COOL" in doc.render(phi=True)
