"""Office Ally's File Summary: a failed file (no claims created) rejects every
claim in the batch we uploaded under that name; an accepted file's summary is
read and shown and moves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimferry.api import BatchUpdate, FileResponseDocument
from claimferry.errors import InputError
from claimferry.manager import PluginManager
from officeally.support import DATA, copy, edited, read, readers

ACCEPTED = "FS_HCFA_1026347812_IN_C.txt"
FAILED = "FS_HCFA_443130028_IN_C.txt"


def test_a_failed_file_rejects_the_batch_we_uploaded(plugin_manager: PluginManager) -> None:
    name, summary = read(plugin_manager, DATA / FAILED)
    assert name == "officeally-file-summary" and summary.kind == "FILE_SUMMARY"
    assert isinstance(summary, FileResponseDocument)
    # our upload name, without the FileID Office Ally puts in front of it
    assert summary.batch_updates() == [
        BatchUpdate(
            state="rejected",
            detail="Office Ally failed file 443130028: "
            "File failed: ISA segment is not 106 characters long",
            file_name="SUNRISE01_837P_000000125_20261128T190000.txt",
        )
    ]
    assert summary.claim_updates() == []
    data = summary.to_dict()
    assert data["failed"] is True and data["file_id"] == "443130028"
    assert data["file_name"] == "443130028_SUNRISE01_837P_000000125_20261128T190000.txt"
    assert "FAILED, no claims were created: File failed: ISA segment" in summary.render()


def test_an_accepted_file_is_read_and_moves_nothing(plugin_manager: PluginManager) -> None:
    _, summary = read(plugin_manager, DATA / ACCEPTED)
    assert isinstance(summary, FileResponseDocument)
    assert summary.batch_updates() == [] and summary.claim_updates() == []
    data = summary.to_dict()
    assert data["failed"] is False and data["reason"] is None
    assert data["uploaded_name"] == "SUNRISE01_837P_000000124_20261128T181200.txt"
    assert data["counts"] == {"Initially Accepted": 2, "Rejected": 1}
    assert data["errors"] == [
        {"code": "FE69", "meaning": "Patient Street Address Required", "count": 1},
        {"code": "LC1762", "meaning": "Claim Missing Diagnosis Codes", "count": 1},
    ]
    assert data["split"] == [
        {"file_id": "1026454084", "payer_id": "60054", "claims": 2, "total": "245.50"},
        {"file_id": "1026454085", "payer_id": "00570", "claims": 1, "total": "120.00"},
    ]
    assert [
        (c["claim_id"], c["oa_claim_id"], c["section"], c["errors"]) for c in data["claims"]
    ] == [
        ("SUN-1001", "3000000001", "accepted", []),
        ("SUN-1002", "3000000002", "accepted", []),
        ("SUN-1003", "3000000003", "rejected", ["FE69", "LC1762"]),
    ]
    text = summary.render()
    assert "2 initially accepted, 1 rejected" in text
    assert "claim SUN-1003 (OA 3000000003): rejected  payer 00570  FE69,LC1762" in text
    for phi in ("TEST,ALPHA", "TESTID0001", "01/01/1970", "Sunrise Billing", "Z00129"):
        assert phi not in text and phi not in str(data)


def test_file_id_from_the_name_when_the_footer_is_missing(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    path = edited(FAILED, tmp_path, "master file with fileID:443130028", "master file")
    _, summary = read(plugin_manager, path)
    [update] = summary.batch_updates()  # type: ignore[attr-defined]
    assert update.file_name == "SUNRISE01_837P_000000125_20261128T190000.txt"


def test_a_failed_file_without_a_description_still_rejects(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    path = edited(FAILED, tmp_path, "\tFile failed: ISA segment is not 106 characters long\r\n", "")
    _, summary = read(plugin_manager, path)
    [update] = summary.batch_updates()  # type: ignore[attr-defined]
    assert (
        update.detail == "Office Ally failed file 443130028: no claims were created from the file"
    )


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            ACCEPTED,
            "     File Name:",
            "     Filename :",
            "line 17: the Claims Upload File Summary names no File Name",
        ),
        (
            ACCEPTED,
            "+---> 1 # errors FE69 -",
            "+---> one errors FE69 -",
            "line 25: expected '+---> <count> # errors",
        ),
        (
            ACCEPTED,
            "1026454085\t\tBCBS Example (00570)",
            "1026454085\t\tBCBS Example",
            "line 13: expected '<File ID> <payer>",
        ),
        (
            ACCEPTED,
            "3)     3000000003",
            "3)     30000000XX",
            "line 45: OA CLAIMID must be 10 digits",
        ),
        (ACCEPTED, "SUN-1003", "        ", "line 45: ACCNT# (our claim id) is empty"),
        (ACCEPTED, "2)     3000000002", "2x     3000000002", "line 37: expected a claim row"),
        (
            ACCEPTED,
            "PAYER  ERRORS",
            "PAYER  FAULTS",
            "line 34: the header row lacks the columns ERRORS",
        ),
        (
            FAILED,
            "Claims Upload File Summary",
            "Upload Summary",
            ": no 'Claims Upload File Summary' section",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(
    plugin_manager: PluginManager, tmp_path: Path, name: str, old: str, new: str, message: str
) -> None:
    path = edited(name, tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        readers(plugin_manager)["officeally-file-summary"].read(path)
    assert f"{path}{'' if message.startswith(':') else ': '}{message}" in str(caught.value)


def test_recognised_by_name_or_by_content(plugin_manager: PluginManager, tmp_path: Path) -> None:
    reader = readers(plugin_manager)["officeally-file-summary"]
    assert reader.matches("FS_HCFA_443130028_IN_C.txt", b"")
    assert reader.matches("FS_HCFA_1026347812_IN_C.txt", b"")
    assert reader.matches("fs_hcfa_1026347812_in_c.TXT", b"")
    assert not reader.matches("FS_HCFA_12345_IN_C.txt", b"")
    assert reader.matches("summary.txt", b"Dear Sunrise Billing\r\n\r\nYour claims file has now")
    assert not reader.matches("summary.txt", b"ISA*00*")
    name, _ = read(plugin_manager, copy(FAILED, tmp_path, "summary.txt"))
    assert name == "officeally-file-summary"
