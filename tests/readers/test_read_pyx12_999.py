"""The 999 pyx12 writes when it judges an 837P reads back with the same verdict."""

from __future__ import annotations

import io
from pathlib import Path

from claimferry.x12.ack999 import read_999
from claimferry.x12.segments import iter_segments
from support.x12judge import judge

SAMPLE = "837P_05_simple_single_claim_uhin.edi"


def _ack(text: str):  # type: ignore[no-untyped-def]
    return read_999(iter_segments(io.BytesIO(text.encode("latin-1")), "pyx12.999"), "pyx12.999")


def test_pyx12_999_for_a_clean_837p_accepts(samples_dir: Path) -> None:
    verdict = judge(samples_dir / SAMPLE)
    assert verdict
    ack = _ack(verdict.ack_999)
    assert ack.accepted_transactions() == ("800000372",)
    assert ack.rejected_transactions() == {}
    (group,) = ack.groups
    assert (group.control_number, group.status, group.accepted_count) == ("800000372", "A", 1)


def test_pyx12_999_for_a_broken_837p_rejects_with_reasons(samples_dir: Path) -> None:
    text = (samples_dir / SAMPLE).read_text(encoding="latin-1")
    broken = text.replace("CLM*1606*2***", "CLM*1606****", 1).replace(
        "DMG*D8*19461111", "DMG*D8*1946", 1
    )
    verdict = judge(broken.encode("latin-1"))
    assert not verdict
    ack = _ack(verdict.ack_999)
    assert ack.accepted_transactions() == ()
    reasons = ack.rejected_transactions()["800000372"]
    assert any(reason.startswith("CLM at segment") and "CLM02" in reason for reason in reasons)
    assert any(reason.startswith("DMG at segment") for reason in reasons)
    assert ack.groups[0].status == "R"
    assert "1946" not in ack.render()  # IK404 copies the birth date we sent: never shown
