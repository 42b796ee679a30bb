"""Office Ally's EDI_STATUS report, read from the layout docs/harness.md documents."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claimferry.errors import InputError
from claimferry.manager import PluginManager
from claimferry_officeally.reports import read_edi_status

REPORT = """\
OFFICE ALLY EDI STATUS REPORT\r
FILE ID: 100000001\r
FILE NAME: claims_837P.txt\r
RECEIVED: 09/03/2024 12:00\r
\r
CLAIM ID                                PAYER ID         BILLED AMOUNT  SERVICE DATE  STATUS    MESSAGE\r
------------------------------------------------------------------------------------------------------------------------\r
SUN-1001                                60054                   120.00  09/02/2024    ACCEPTED  ACCEPTED AND FORWARDED TO PAYER\r
SUN-1002                                ZZZ99                    45.50  09/02/2024    REJECTED  PAYER ID NOT ON THE PAYER LIST FOR 837P\r
------------------------------------------------------------------------------------------------------------------------\r
TOTAL CLAIMS: 2  ACCEPTED: 1  REJECTED: 1\r
"""  # noqa: E501 (the report's own width)


def _write(tmp_path: Path, text: str, name: str = "100000001_EDI_STATUS_20240903.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("ascii"))
    return path


def test_reads_rows_and_states(tmp_path: Path) -> None:
    report = read_edi_status(_write(tmp_path, REPORT))
    assert report.file_id == "100000001" and report.file_name == "claims_837P.txt"
    assert [(r.claim_id, r.payer_id, r.billed, r.status) for r in report.rows] == [
        ("SUN-1001", "60054", Decimal("120.00"), "ACCEPTED"),
        ("SUN-1002", "ZZZ99", Decimal("45.50"), "REJECTED"),
    ]
    updates = report.claim_updates()
    assert [(u.claim_id, u.state) for u in updates] == [
        ("SUN-1001", "accepted"),
        ("SUN-1002", "rejected"),
    ]
    assert "PAYER ID NOT ON THE PAYER LIST" in (updates[1].detail or "")
    assert report.to_dict()["claims"][1]["billed"] == "45.50"
    assert "1 accepted, 1 rejected" in report.render()


def test_columns_come_from_the_header_not_fixed_offsets(tmp_path: Path) -> None:
    shifted = "\n".join(
        line
        if line.startswith(("OFFICE", "FILE", "RECEIVED", "TOTAL", "---")) or not line
        else "    " + line
        for line in REPORT.replace("\r", "").split("\n")
    )
    report = read_edi_status(_write(tmp_path, shifted))
    assert [r.claim_id for r in report.rows] == ["SUN-1001", "SUN-1002"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("OFFICE ALLY EDI STATUS REPORT", "SOMETHING ELSE"), "line 1: expected the title"),
        (("   120.00", "   12x.00"), "line 8: BILLED AMOUNT is not an amount"),
        (("ACCEPTED  ACCEPTED", "MAYBE     ACCEPTED"), "line 8: STATUS must be"),
        (("STATUS    MESSAGE", "STATE     MESSAGE"), "line 6: header row lacks columns"),
    ],
)
def test_broken_reports_name_file_and_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _write(tmp_path, REPORT.replace(*change, 1))
    with pytest.raises(InputError) as caught:
        read_edi_status(path)
    assert f"{path}: {message}" in str(caught.value)


def test_truncated_report_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, REPORT[: REPORT.index("SUN-1002")])
    with pytest.raises(InputError, match="ends before its closing rule"):
        read_edi_status(path)


def test_registered_as_a_response_reader(plugin_manager: PluginManager, tmp_path: Path) -> None:
    readers = {r.name: r for r in plugin_manager.response_readers()}
    reader = readers["officeally-edi-status"]
    assert reader.matches("123456789_EDI_STATUS_20261128.txt", b"")
    assert reader.matches("other.txt", REPORT.encode())
    assert not reader.matches("123_999_20261128.999", b"ISA*00*")
