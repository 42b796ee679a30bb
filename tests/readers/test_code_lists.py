"""The code lists shipped as data: complete, well formed, sourced, and read lazily.

pyx12 is the independent judge here too: every remark, claim status and
claim status category code its code sets know must be in ours, and every
CLP06 code its 835 map allows.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from claimferry.x12.codes import (
    ADJUSTMENT_REASONS,
    CLAIM_FILING_CODES,
    CLAIM_STATUS_CATEGORIES,
    CLAIM_STATUS_CODES,
    REMARK_CODES,
    CodeList,
    describe_remark,
    meaning,
)
from claimferry_harness.adjudication import UNKNOWN_PAYER

# list, smallest and largest plausible size, shape of a code
LISTS = {
    "CARC": (ADJUSTMENT_REASONS, 350, 450, r"[1-9][0-9]{0,2}|[ABDPWY][0-9]{1,2}"),
    "RARC": (REMARK_CODES, 1100, 1400, r"(M|MA|N)[0-9]{1,3}"),
    "category": (CLAIM_STATUS_CATEGORIES, 40, 60, r"[ADEFPRX][0-9]{1,2}[FN]?|RQ"),
    "status": (CLAIM_STATUS_CODES, 700, 900, r"[0-9]{1,3}"),
    "filing": (CLAIM_FILING_CODES, 20, 30, r"[0-9]{2}|[A-Z]{2}"),
}


def _pyx12_code_set(name: str) -> list[str]:
    root = ET.fromstring((files("pyx12") / "map" / "codes.xml").read_bytes())
    (found,) = (s for s in root if s.findtext("id") == name)
    return [code.text or "" for code in found.iter("code")]


@pytest.mark.parametrize("name", LISTS)
def test_each_list_loads_whole_and_well_formed(name: str) -> None:
    table, smallest, largest, shape = LISTS[name]
    assert smallest <= len(table) <= largest
    for code in table:
        entry = table.entry(code)
        assert entry is not None and entry.code == code
        assert re.fullmatch(shape, code), code
        assert entry.description.strip() == entry.description != "", code
        assert entry.status in ("active", "deactivated"), code
        for day in (entry.start, entry.stop):
            assert day == "" or date.fromisoformat(day), code
        assert not entry.stop or entry.deactivated, code
        if entry.start and entry.stop:
            assert entry.start <= entry.stop, code


@pytest.mark.parametrize("name", LISTS)
def test_each_file_names_its_public_source(name: str) -> None:
    table = LISTS[name][0]
    text = (files("claimferry") / "data" / "codes" / table.filename).read_text("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("https://" in line for line in header)
    # each list is (or draws on) a dated or pinned snapshot, never "latest"
    assert any(re.search(r"commit [0-9a-f]{40}|/blob/[0-9a-f]{40}/|release 005010", line)
               for line in header)  # fmt: skip


@pytest.mark.parametrize(
    ("table", "code", "expected"),
    [
        (ADJUSTMENT_REASONS, "1", "Deductible Amount"),
        (ADJUSTMENT_REASONS, "2", "Coinsurance Amount"),
        (
            ADJUSTMENT_REASONS,
            "45",
            "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee"
            " arrangement",
        ),
        (
            ADJUSTMENT_REASONS,
            "97",
            "The benefit for this service is included in the payment/allowance for another"
            " service/procedure that has already been adjudicated",
        ),
        (ADJUSTMENT_REASONS, "29", "The time limit for filing has expired"),
        (ADJUSTMENT_REASONS, "31", "Patient cannot be identified as our insured"),
        (
            ADJUSTMENT_REASONS,
            "50",
            "These are non-covered services because this is not deemed a 'medical necessity'"
            " by the payer",
        ),
        (
            ADJUSTMENT_REASONS,
            "197",
            "Precertification/authorization/notification/pre-treatment absent",
        ),
        (
            REMARK_CODES,
            "MA18",
            "Alert: The claim information is also being forwarded to the patient's supplemental"
            " insurer. Send any questions regarding supplemental benefits to them",
        ),
        (
            REMARK_CODES,
            "N130",
            "Consult plan benefit documents/guidelines for information about restrictions"
            " for this service",
        ),
        (
            REMARK_CODES,
            "M15",
            "Separately billed services/tests have been bundled as they are considered components"
            " of the same procedure. Separate payment is not allowed",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A1",
            "Acknowledgement/Receipt-The claim/encounter has been received. This does not mean"
            " that the claim has been accepted for adjudication",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A2",
            "Acknowledgement/Acceptance into adjudication system-The claim/encounter has been"
            " accepted into the adjudication system",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A3",
            "Acknowledgement/Returned as unprocessable claim-The claim/encounter has been"
            " rejected and has not been entered into the adjudication system",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A4",
            "Acknowledgement/Not Found-The claim/encounter can not be found in the adjudication"
            " system",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A5",
            "Acknowledgement/Split Claim-The claim/encounter has been split upon acceptance into"
            " the adjudication system",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A6",
            "Acknowledgement/Rejected for Missing Information - The claim/encounter is missing"
            " the information specified in the Status details and has been rejected",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A7",
            "Acknowledgement/Rejected for Invalid Information - The claim/encounter has invalid"
            " information as specified in the Status details and has been rejected",
        ),
        (
            CLAIM_STATUS_CATEGORIES,
            "A8",
            "Acknowledgement / Rejected for relational field in error",
        ),
        (CLAIM_STATUS_CATEGORIES, "F1", "Finalized/Payment-The claim/line has been paid"),
        (CLAIM_STATUS_CATEGORIES, "F2", "Finalized/Denial-The claim/line has been denied"),
        (CLAIM_STATUS_CODES, "20", "Accepted for processing"),
        (CLAIM_STATUS_CODES, "21", "Missing or invalid information"),
        (CLAIM_STATUS_CODES, "116", "Claim submitted to incorrect payer"),
        (CLAIM_STATUS_CODES, "562", "Entity's National Provider Identifier (NPI)"),
        (CLAIM_FILING_CODES, "MB", "Medicare Part B"),
        (CLAIM_FILING_CODES, "MC", "Medicaid"),
        (CLAIM_FILING_CODES, "CI", "Commercial Insurance Co."),
    ],
)
def test_known_codes_read_as_the_lists_word_them(table: CodeList, code: str, expected: str) -> None:
    assert meaning(table, code) == expected


def test_usage_notes_are_kept_apart_from_the_description() -> None:
    carc_45 = ADJUSTMENT_REASONS.entry("45")
    assert carc_45 is not None and "(Use only with Group Codes PR or CO" in carc_45.usage
    status_562 = CLAIM_STATUS_CODES.entry("562")
    assert status_562 is not None
    assert status_562.usage == "This code requires use of an Entity Code."


def test_deactivated_codes_are_kept_and_marked() -> None:
    # Old 835s still carry them: the meaning says what they meant and that they are gone.
    assert meaning(ADJUSTMENT_REASONS, "A2") == (
        "Contractual adjustment (code deactivated since 2008-01-01)"
    )
    carc_15 = ADJUSTMENT_REASONS.entry("15")
    assert carc_15 is not None and carc_15.deactivated and carc_15.stop == ""
    assert meaning(ADJUSTMENT_REASONS, "15").endswith("(code deactivated)")
    assert meaning(REMARK_CODES, "N411").endswith("(code deactivated since 2009-02-01)")
    assert meaning(CLAIM_STATUS_CATEGORIES, "RQ").endswith("(code deactivated since 2008-01-01)")
    for table in (ADJUSTMENT_REASONS, REMARK_CODES, CLAIM_STATUS_CODES):
        entries = [table.entry(code) for code in table]
        dead = [e for e in entries if e is not None and e.deactivated]
        assert 50 <= len(dead) < len(entries) / 3


def test_an_unknown_code_is_shown_as_itself() -> None:
    assert meaning(ADJUSTMENT_REASONS, "X9") == "no description on file for code 'X9'"
    assert meaning(CLAIM_STATUS_CODES, "9999") == "no description on file for code '9999'"
    assert meaning(REMARK_CODES, "") == "no code"
    assert describe_remark("N9999") == "N9999: no description on file for code 'N9999'"


def test_describe_remark_reads_like_an_adjustment() -> None:
    assert describe_remark("N130") == (
        "N130: Consult plan benefit documents/guidelines for information about restrictions"
        " for this service"
    )


def test_the_mocks_unknown_payer_status_has_its_description() -> None:
    category, code, _entity = UNKNOWN_PAYER
    assert meaning(CLAIM_STATUS_CATEGORIES, category).startswith("Acknowledgement/Returned")
    assert meaning(CLAIM_STATUS_CODES, code) == "Claim submitted to incorrect payer"


@pytest.mark.parametrize(
    ("pyx12_set", "table"),
    [
        ("remark_code", REMARK_CODES),
        ("claim_status", CLAIM_STATUS_CODES),
        ("claim_status_cat", CLAIM_STATUS_CATEGORIES),
    ],
)
def test_every_code_pyx12_knows_is_in_our_list(pyx12_set: str, table: CodeList) -> None:
    theirs = _pyx12_code_set(pyx12_set)
    assert len(theirs) > 40
    assert [code for code in theirs if code not in table] == []


def test_clp06_codes_of_the_835_are_all_listed_and_marked() -> None:
    root = ET.fromstring((files("pyx12") / "map" / "835.5010.X221.A1.xml").read_bytes())
    (clp06,) = (e for e in root.iter("element") if e.get("xid") == "CLP06")
    allowed = {code.text for code in clp06.iter("code")}
    assert allowed and allowed <= set(CLAIM_FILING_CODES)
    for code in CLAIM_FILING_CODES:
        entry = CLAIM_FILING_CODES.entry(code)
        assert entry is not None
        assert (entry.usage == "") == (code in allowed), code


def test_no_list_is_read_at_import_nor_while_reading_an_835(samples_dir: Path) -> None:
    """Start-up and the 835 reader's per-claim path pay for no code list."""
    script = f"""
import pathlib
from claimferry.x12 import codes
from claimferry.x12.remit835 import read_835_file
lists = [codes.ADJUSTMENT_REASONS, codes.REMARK_CODES, codes.CLAIM_STATUS_CATEGORIES,
         codes.CLAIM_STATUS_CODES, codes.CLAIM_FILING_CODES]
assert not any("_entries" in vars(t) for t in lists)
for path in sorted(pathlib.Path({str(samples_dir)!r}).glob("835_*")):
    assert read_835_file(path).payments
assert not any("_entries" in vars(t) for t in lists)
codes.meaning(codes.ADJUSTMENT_REASONS, "45")
assert "_entries" in vars(codes.ADJUSTMENT_REASONS)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
