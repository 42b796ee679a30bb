"""The readable ERA text (ERA_STATUS ... .txt): recognised, read, shown, and
moving no claim (the 835 beside it is what the ledger reads)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claimferry.errors import InputError
from claimferry.ledger import Ledger
from claimferry.lifecycle import apply_response
from claimferry.manager import PluginManager
from officeally.support import DATA, copy, edited, read, readers

ERA = "1026454085_ERA_STATUS_5010_20261201.txt"


def test_read_for_people_and_moves_no_claim(plugin_manager: PluginManager) -> None:
    name, era = read(plugin_manager, DATA / ERA)
    assert name == "officeally-era-text" and era.kind == "ERA_STATUS"
    assert era.claim_updates() == []
    data = era.to_dict()
    assert data["checks"] == [
        {"check": "EFT0000000001", "amount": "96.00", "claims": 2, "date": "11/27/2026"}
    ]
    assert data["adjustments"] == [
        {"reference": "SUNRISEPLB01", "amount": "-12.00", "reason": "Overpayment Recover"}
    ]
    assert data["claims"] == [
        {
            "claim_id": "SUN-1001",
            "check": "EFT0000000001",
            "charge": "120.00",
            "paid": "96.00",
            "status": "PROCESSED AS PRIMARY",
            "payer_claim_number": "PCN0000001",
        },
        {
            "claim_id": "SUN-1003",
            "check": "EFT0000000001",
            "charge": "80.00",
            "paid": "0.00",
            "status": "DENIED",
            "payer_claim_number": "PCN0000003",
        },
    ]
    text = era.render()
    assert "1 payment(s), 2 claim(s); read for people only, the 835 moves the claims" in text
    for phi in ("TEST,ALPHA", "TESTID0001", "Sunrise Billing", "ANYTOWN"):
        assert phi not in text and phi not in str(data)


def test_the_public_sample_reads(plugin_manager: PluginManager, samples_dir: Path) -> None:
    _, era = read(plugin_manager, samples_dir / "OA_style_ERA_text_report.txt")
    data = era.to_dict()
    assert [c["amount"] for c in data["checks"]] == ["48.80", "51.20", "5.00"]
    assert sum(Decimal(a["amount"]) for a in data["adjustments"]) == Decimal("-42.80")
    assert [(c["claim_id"], c["status"], c["paid"]) for c in data["claims"]] == [
        ("1112", "PROCESSED AS PRIMARY", "48.80"),
        ("L111", "OTHER", "-48.80"),
        ("M111", "PROCESSED AS SECONDARY", "100.00"),
        ("M111", "DENIED", "0.00"),
        ("M111", "PROCESSED AS PRIMARY, FWDED", "5.00"),
    ]
    assert "DOE" not in str(data) and "ZECM" not in str(data)


def test_applied_as_a_response_it_is_archived_and_moves_nothing(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    path = copy(ERA, tmp_path)
    with Ledger.open(tmp_path) as ledger:
        applied = apply_response(
            ledger, "sunrise", path, plugin_manager.response_readers(), path.name
        )
    assert (applied.kind, applied.claims, applied.unknown) == ("ERA_STATUS", 0, 0)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("96.00           2 ", "96.0x           2 ", "line 20: Amount is not an amount"),
        ("96.00           2 ", "96.00           two", "line 20: # Claims is not a count"),
        ("120.00      96.00", "120.0x      96.00", "line 24: Charge Amt is not an amount"),
        ("-12.00", "-12.0x", "line 14: Adjustment Amt is not an amount"),
        ("SUN-1003", "        ", "line 36: Accnt# (our claim id) is empty"),
        ("# Claims", "# Claimz", ": no payment table"),
    ],
)
def test_malformed_rows_name_file_and_line(
    plugin_manager: PluginManager, tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = edited(ERA, tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        readers(plugin_manager)["officeally-era-text"].read(path)
    assert f"{path}{'' if message.startswith(':') else ': '}{message}" in str(caught.value)


def test_recognised_by_name_or_by_content(plugin_manager: PluginManager, tmp_path: Path) -> None:
    reader = readers(plugin_manager)["officeally-era-text"]
    assert reader.matches("792253152_ERA_STATUS_5010_20210112.txt", b"")
    assert reader.matches("1026454085_ERA_STATUS_5010_20261201.txt", b"")
    assert not reader.matches("792253152_ERA_835_5010_20210112.835", b"ISA*00*")
    name, _ = read(plugin_manager, copy(ERA, tmp_path, "remit.txt"))
    assert name == "officeally-era-text"
