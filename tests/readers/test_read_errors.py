"""Malformed responses are refused with the file, segment number and element, and no PHI."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from claimferry.errors import InputError
from claimferry.x12.ack999 import read_999
from claimferry.x12.remit835 import iter_835, iter_835_claims, read_835
from claimferry.x12.responses import read_response
from claimferry.x12.segments import X12SyntaxError, iter_segments
from claimferry.x12.status277 import read_277ca
from claimferry.x12.ta1 import read_ta1

Reader = Callable[[Any, str], object]


def _read(reader: Reader, text: str) -> object:
    return reader(iter_segments(io.BytesIO(text.encode("latin-1")), "resp.x12"), "resp.x12")


def _refused(reader: Reader, text: str) -> X12SyntaxError:
    with pytest.raises(X12SyntaxError) as caught:
        _read(reader, text)
    return caught.value


def _sample(samples_dir: Path, name: str) -> str:
    return (samples_dir / name).read_text(encoding="latin-1")


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        (
            "CLP*5554555444*1*800.00",
            "CLP*5554555444*1*8O0.00",
            "segment 13 (CLP) element CLP03",
            "expected an amount",
        ),
        (
            "CLP*5554555444*1*",
            "CLP*5554555444*7*",
            "segment 13 (CLP) element CLP02",
            "expected a claim status code",
        ),
        (
            "CAS*CO*A2*50.00",
            "CAS*XY*A2*50.00",
            "segment 14 (CAS) element CAS01",
            "expected a claim adjustment group code",
        ),
        ("CAS*CO*A2*50.00", "CAS*CO*A2*", "segment 14 (CAS) element CAS03", "expected an amount"),
        (
            "DTM*150*20020301",
            "DTM*150*2002-03-01",
            "segment 17 (DTM) element DTM02",
            "expected a date as CCYYMMDD",
        ),
        ("SVC*HC:99211", "SVC*99211", "segment 16 (SVC) element SVC01", "expected a procedure"),
        (
            "BPR*I*945.00*C*ACH",
            "BPR*I*945.00*C*EFT",
            "segment 4 (BPR) element BPR04",
            "expected a payment method",
        ),
        ("LX*1~\nCLP", "CLP", "segment 12 (CLP)", None),
    ],
)
def test_835_errors_name_segment_and_element(
    samples_dir: Path, old: str, new: str, where: str, expected: str | None
) -> None:
    text = _sample(samples_dir, "835_02_two_claims_cas_managed_care.835")
    assert old in text
    if expected is None:  # removing LX shifts nothing that matters: still a valid 835
        _read(read_835, text.replace(old, new, 1))
        return
    error = _refused(read_835, text.replace(old, new, 1))
    assert error.where == where
    assert str(error) == f"resp.x12: {where}: {error.problems[0].message}"
    assert expected in str(error)


def test_835_error_never_quotes_patient_names_or_values(samples_dir: Path) -> None:
    text = _sample(samples_dir, "835_02_two_claims_cas_managed_care.835")
    text = text.replace("NM1*QC*1*BUDD*WILLIAM****MI*33344555510", "NM1*QC*1*BUDD*WILLIAM****MI*3")
    error = _refused(read_835, text.replace("DTM*151*20020304", "DTM*151*BUDDWILL"))
    assert "BUDD" not in str(error) and "WILLIAM" not in str(error)
    assert error.where == "segment 18 (DTM) element DTM02"


def test_835_structure_errors(samples_dir: Path) -> None:
    text = _sample(samples_dir, "835_02_two_claims_cas_managed_care.835")
    no_bpr = _refused(read_835, text.replace("BPR*", "XYZ*", 1))
    assert (no_bpr.where, "expected BPR right after ST" in str(no_bpr)) == ("segment 4 (XYZ)", True)
    stray = _refused(
        read_835,
        text.replace("CAS*CO*A2*50.00~\n", "", 1).replace("LX*1~\n", "LX*1~\nCAS*CO*45*1~\n"),
    )
    assert stray.where == "segment 13 (CAS)" and "expected CLP" in str(stray)
    truncated = _refused(read_835, text[: text.index("SE*26")])
    assert truncated.where == "segment 28" and "file ends before IEA" in str(truncated)
    wrong_kind = _refused(read_999, text)
    assert wrong_kind.where == "segment 2 (GS) element GS01" and "FA" in str(wrong_kind)


def test_835_imbalance_is_reported_not_raised(samples_dir: Path) -> None:
    text = _sample(samples_dir, "835_02_two_claims_cas_managed_care.835")
    document = _read(
        read_835, text.replace("CLP*5554555444*1*800.00*450.00", "CLP*5554555444*1*800.00*440.00")
    )
    (advice,) = document.payments  # type: ignore[attr-defined]
    assert not advice.balanced
    assert advice.imbalances == (
        "claim 5554555444 (segment 13): charge 800.00 - paid 440.00 = 360.00, "
        "but adjustments total 350.00",
        "transaction 112233: payment 945.00 differs from claims paid 935.00 "
        "- provider adjustments 0.00 = 935.00",
    )
    summaries = [e for e in _read(iter_835, text) if not hasattr(e, "claim_id")]  # type: ignore[attr-defined]
    assert summaries[-1].balanced and summaries[-1].total_paid == Decimal("945.00")


def test_835_text_read_again_gives_the_same_values_and_a_notice_each_time(
    samples_dir: Path,
) -> None:
    """The reader remembers CAS segments and dates by their text: a repeated one reads
    the same, and a day off the calendar is noticed wherever it stands."""
    text = _sample(samples_dir, "835_02_two_claims_cas_managed_care.835")
    for day in ("20020301", "20020310"):  # both lines' DTM*150: off the calendar
        text = text.replace(f"DTM*150*{day}", "DTM*150*20020230")
    text = text.replace("DTM*151*20020312", "DTM*151*20020304")  # both DTM*151 the same day
    text = text.replace("CAS*CO*A2*55.00", "CAS*CO*A2*50.00").replace(
        "CLP*8765432112*1*1200.00*495.00", "CLP*8765432112*1*1200.00*500.00"
    )
    document = _read(read_835, text)
    first, second = document.claims()  # type: ignore[attr-defined]
    assert first.adjustments == second.adjustments
    assert first.adjustments[0].amount == Decimal("50.00")
    assert [line.service_from for line in (*first.lines, *second.lines)] == [None, None]
    assert {line.service_to.isoformat() for line in (*first.lines, *second.lines)} == {"2002-03-04"}
    notices = [(n.location, n.message) for n in document.notices]  # type: ignore[attr-defined]
    assert notices[1:] == [  # the first: the sample's BPR16, 20002316
        (where, "date is not on the calendar; read as unknown")
        for where in ("segment 17 (DTM) element DTM02", "segment 24 (DTM) element DTM02")
    ]


def test_835_imbalances_name_the_claim_then_its_lines(samples_dir: Path) -> None:
    text = _sample(samples_dir, "835_02_two_claims_cas_managed_care.835")
    text = text.replace("CLP*5554555444*1*800.00*450.00", "CLP*5554555444*1*800.00*440.00")
    document = _read(
        read_835, text.replace("SVC*HC:99211*800.00*500.00", "SVC*HC:99211*800.00*490.00")
    )
    (advice,) = document.payments  # type: ignore[attr-defined]
    assert advice.imbalances[:2] == (
        "claim 5554555444 (segment 13): charge 800.00 - paid 440.00 = 360.00, "
        "but adjustments total 350.00",
        "claim 5554555444 line 1: charge 800.00 - paid 490.00 = 310.00, "
        "but adjustments total 300.00",
    )


def test_iter_835_claims_yields_claims_with_their_payment(samples_dir: Path) -> None:
    text = _sample(samples_dir, "835_06_three_ST_plb_only_nevada_medicaid.txt")
    claims = list(_read(iter_835_claims, text))  # type: ignore[call-overload]
    assert [(c.claim_id, c.payment.transaction_control_number) for c in claims] == [
        ("77777777", "0001"),
        ("77777778", "0002"),
        ("77777779", "0002"),
    ]


def test_999_errors(samples_dir: Path) -> None:
    text = _sample(samples_dir, "999_03_partial_IK3_IK4_CTX_AK9P.edi")
    bad_status = _refused(read_999, text.replace("IK5*A", "IK5*Q", 1))
    assert bad_status.where == "segment 6 (IK5) element IK501"
    bad_position = _refused(read_999, text.replace("IK4*2*782", "IK4*X*782", 1))
    assert bad_position.where == "segment 10 (IK4) element IK401"
    orphan = _refused(read_999, text.replace("AK2*837*0001~", "", 1))
    assert orphan.where == "segment 5 (IK5)" and "expected AK2 before IK5" in str(orphan)
    no_ak9 = _refused(read_999, text.replace("AK9*P*3*3*1", "IK5*A"))
    assert no_ak9.where == "segment 17 (IK5)"


def test_999_bad_value_is_kept_but_never_shown(samples_dir: Path) -> None:
    text = _sample(samples_dir, "999_03_partial_IK3_IK4_CTX_AK9P.edi")
    document = _read(read_999, text.replace("IK4*2*782*1", "IK4*2*782*7*SECRETVALUE", 1))
    error = document.groups[0].transactions[1].segment_errors[0].element_errors[0]  # type: ignore[attr-defined]
    assert error.bad_value == "SECRETVALUE"
    assert "SECRETVALUE" not in repr(error)
    assert "SECRETVALUE" not in str(document.to_dict()) + document.render()  # type: ignore[attr-defined]


def test_277ca_errors(samples_dir: Path) -> None:
    text = _sample(samples_dir, "277CA_03_mixed_A2_A3_A7_five_claims.edi")
    bad_status = _refused(read_277ca, text.replace("STC*A7:21", "STC*A7", 1))
    assert bad_status.where == "segment 34 (STC) element STC01"
    bad_parent = _refused(read_277ca, text.replace("HL*5*3*PT", "HL*5*9*PT", 1))
    assert bad_parent.where == "segment 26 (HL) element HL02"
    no_trace = _refused(read_277ca, text.replace("TRN*2*JONES44444", "TRN*1*JONES44444", 1))
    assert no_trace.where == "segment 31 (HL)" and "TRN*2" in str(no_trace)
    assert "JONES" not in str(no_trace).replace("JONES44444", "")


def test_ta1_errors(samples_dir: Path) -> None:
    text = _sample(samples_dir, "TA1_01_standalone_rejected_4010.edi")
    bad_date = _refused(read_ta1, text.replace("*030809*", "*03-809*"))
    assert bad_date.where == "segment 2 (TA1) element TA102"
    bad_note = _refused(read_ta1, text.replace("*R*024", "*R*999"))
    assert bad_note.where == "segment 2 (TA1) element TA105"
    no_ta1 = _refused(read_ta1, text.replace("TA1*000000100*030809*0823*R*024~\n", ""))
    assert "expected a TA1" in str(no_ta1)


def test_read_response_refuses_what_it_cannot_read(tmp_path: Path, samples_dir: Path) -> None:
    with pytest.raises(InputError, match="expected an X12 TA1, 999, 277CA"):
        read_response(samples_dir / "837P_05_simple_single_claim_uhin.edi")
    with pytest.raises(InputError, match="cannot read the file"):
        read_response(tmp_path / "missing.x12")
    bom = tmp_path / "bom.x12"
    bom.write_bytes(b"\xef\xbb\xbf" + (samples_dir / "999_01_accepted_emedny.txt").read_bytes())
    assert read_response(bom).kind == "999"


def test_whitespace_inside_an_hl_id_is_no_crash(samples_dir: Path, tmp_path: Path) -> None:
    from claimferry.errors import InputError
    from claimferry.x12.segments import read_segments
    from claimferry.x12.status277 import read_277ca

    text = (samples_dir / "277CA_01_accepted_A1_A2_emedny.txt").read_text()
    damaged = tmp_path / "hl.277"
    damaged.write_text(text.replace("HL*3*", "HL* 3*").replace("HL*4*", "HL* 4 *"))
    try:
        document = read_277ca(read_segments(damaged), str(damaged))
    except InputError:
        return  # refusing it precisely is fine too
    assert document.claims


def test_a_transaction_whose_se01_miscounts_is_a_notice_naming_the_true_count(
    samples_dir: Path,
) -> None:
    """SE01 is checked from the positions of ST and SE: the 835 reader hands claim
    segments to their handlers without the envelope seeing each one."""
    text = _sample(samples_dir, "835_01_simple_denied_no_payment_emedny.txt")

    def notices(text: str) -> list[tuple[str, str]]:
        document = read_835(iter_segments(io.BytesIO(text.encode("latin-1")), "a.835"), "a.835")
        return [(n.location, n.message) for n in document.notices]

    assert notices(text) == []
    assert notices(text.replace("SE*25*1740", "SE*24*1740")) == [
        (
            "segment 27 (SE) element SE01",
            "SE01 counts a different number of segments than the 25 from ST to SE",
        )
    ]
