"""Office Ally's EDI Status Report, read in the columns public integrations read
(File ID, OA claim id, account, ..., status, payer response), through the
plugin's own ResponseReader."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimferry.errors import InputError
from claimferry.manager import PluginManager
from officeally.support import DATA, copy, edited, read, readers

NINE = "882990025_EDI_STATUS_20261129.txt"
TEN = "1026454084_EDI_STATUS_20261130.txt"


def test_rows_become_the_payers_answers(plugin_manager: PluginManager) -> None:
    name, report = read(plugin_manager, DATA / NINE)
    assert name == "officeally-edi-status" and report.kind == "EDI_STATUS"
    updates = report.claim_updates()
    assert [(u.claim_id, u.state) for u in updates] == [
        ("SUN-1001", "acknowledged"),
        ("SUN-1002", "payer_rejected"),
        ("SUN-1003", "acknowledged"),
    ]
    # the payer's response, wrapped onto a second line, is kept whole
    assert updates[1].detail == (
        "Office Ally EDI status: payer 60054 REJECTED: SUBSCRIBER NOT FOUND; VERIFY MEMBER ID"
        " AND DATE OF BIRTH AND RESUBMIT AS AN ORIGINAL CLAIM"
    )
    # the payer's reference is shown, never taken as the claim number for REF*F8
    assert all(u.payer_claim_number is None for u in updates)


def test_a_ten_digit_file_id_moves_every_column(plugin_manager: PluginManager) -> None:
    _, report = read(plugin_manager, DATA / TEN)
    data = report.to_dict()
    assert data["file_ids"] == ["1026454084"]
    assert [
        (c["claim_id"], c["oa_claim_id"], c["billed"], c["status"]) for c in data["claims"]
    ] == [
        ("SUN-1004", "3000000004", "80.00", "REJECTED"),
        ("SUN-1005", "3000000005", "95.00", "ACCEPTED"),
    ]


def test_shown_without_patient_data(plugin_manager: PluginManager) -> None:
    _, report = read(plugin_manager, DATA / NINE)
    data = report.to_dict()
    assert data["claims"][2] == {
        "claim_id": "SUN-1003",
        "file_id": "882990025",
        "oa_claim_id": "3000000003",
        "payer_id": "00570",
        "billed": "1200.00",
        "processed": "11/29/2026",
        "payer_reference": "PCN0000003",
        "status": "ACCEPTED",
        "response": "ACCEPTED",
    }
    text = report.render()
    assert "3 claims, 2 accepted by the payer, 1 rejected" in text
    for phi in ("TEST,ALPHA", "TEST,BRAVO", "999999999", "1234567 "):
        assert phi not in text and phi not in str(data)


def test_a_file_id_label_line_is_not_the_header(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    path = edited(NINE, tmp_path, "Report Date: 11/29/2026", "FILE ID: 882990025")
    _, report = read(plugin_manager, path)
    assert len(report.claim_updates()) == 3


def test_an_unknown_column_ends_the_one_before_it(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    path = edited(NINE, tmp_path, "Payer     Process Dt", "Payer  B  Process Dt")
    path.write_bytes(path.read_bytes().replace(b"60054     11/29", b"60054  B1 11/29"))
    _, report = read(plugin_manager, path)
    claims = report.to_dict()["claims"]
    assert [(c["payer_id"], c["processed"]) for c in claims] == [
        ("60054", "11/29/2026"),
        ("60054", "11/29/2026"),
        ("00570", "11/29/2026"),
    ]


def test_columns_come_from_the_header_not_fixed_offsets(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    shifted = tmp_path / NINE
    shifted.write_bytes(
        b"\r\n".join(
            b"   " + line if line.lstrip().startswith((b"File ID", b"882990025")) else line
            for line in (DATA / NINE).read_bytes().split(b"\r\n")
        )
    )
    _, report = read(plugin_manager, shifted)
    assert [u.claim_id for u in report.claim_updates()] == ["SUN-1001", "SUN-1002", "SUN-1003"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("882990025 3000000002", "88299002X 3000000002", "line 7: File ID must be 9 or 10 digits"),
        ("882990025 3000000002", "882990025 30000000X2", "line 7: OA Claim ID must be 10 digits"),
        ("SUN-1002", "        ", "line 7: the patient account number (Accnt#"),
        (
            "REJECTED  SUBSCRIBER",
            "MAYBE     SUBSCRIBER",
            "line 7: Status must be ACCEPTED or REJECTED",
        ),
        ("  45.50", "  45.5x", "line 7: Amount is not an amount"),
        ("Status    Payer", "State     Payer", "line 4: the header row lacks the columns Status"),
        ("    File ID", "    FileNo ", ": no header row (a line whose first column is 'File ID')"),
    ],
)
def test_malformed_rows_name_file_and_line(
    plugin_manager: PluginManager, tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = edited(NINE, tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        readers(plugin_manager)["officeally-edi-status"].read(path)
    assert f"{path}{'' if message.startswith(':') else ': '}{message}" in str(caught.value)


def test_binary_or_missing_files_are_input_errors(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    reader = readers(plugin_manager)["officeally-edi-status"]
    binary = tmp_path / NINE
    binary.write_bytes(b"    File ID\0Status")
    with pytest.raises(InputError, match="binary data, not a text report"):
        reader.read(binary)
    with pytest.raises(InputError, match="cannot read the file"):
        reader.read(tmp_path / "gone_EDI_STATUS.txt")


def test_recognised_by_name_or_by_content(plugin_manager: PluginManager, tmp_path: Path) -> None:
    reader = readers(plugin_manager)["officeally-edi-status"]
    head = (DATA / NINE).read_bytes()[:4096]
    assert reader.matches("123456789_EDI_STATUS_20261128.txt", b"")
    assert reader.matches("1234567890_EDI_STATUS_20261128.txt", b"")
    assert reader.matches("renamed.txt", head)
    assert not reader.matches("12345678_EDI_STATUS_20261128.txt", b"")  # 8 digits: no FileID
    assert not reader.matches("123_999_20261128.999", b"ISA*00*")
    # a renamed copy still reads through the core's choice of reader
    name, _ = read(plugin_manager, copy(NINE, tmp_path, "status.txt"))
    assert name == "officeally-edi-status"
