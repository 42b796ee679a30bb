"""Fixtures for the payer list, enrollment records and enrollment checks.

Every test works on real SQLite files under ``tmp_path``. The small payer list
below has one payer per situation the validator must tell apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from claimferry.claims import Claim, parse_claims
from claimferry.cli import create_cli
from claimferry.cli.enrollment import enrollment
from claimferry.manager import PluginManager

HEADER = (
    "PAYER NAME,PAYER ID,TRANSACTION,AVAILABLE,NON PAR,ENROLLMENT,SECONDARY,ATTACHMENT,"
    "WC / AUTO,NOTES\n"
)
PAYER_ROWS = """\
Acme Health,ACME1,Professional Claims 837P,Yes,No,Yes,Yes,No,,"EDI enrollment required.
Allow two weeks."
Acme Health,ACRA1,Remits 835,Yes,No,Yes,Yes,No,,ERA enrollment form on the portal.
Acme Health,ACEL1,Eligibility 270 / 271,Yes,No,No,No,No,,
Open Plan,OPEN1,Professional Claims 837P,Yes,No,No,No,No,,
Open Plan,OPEN1,Remits 835,Yes,No,No,No,No,,
Costly Mutual\t,COST1 ,Professional Claims 837P,Yes,Yes,No,Yes,No,Work Comp,
Eligibility Only Co,ELIG9,Eligibility 270 / 271,Yes,No,No,No,No,,
Shared Admin,TPA01,Professional Claims 837P,Yes,No,No,Yes,No,,
Plan Under Admin,TPA01,Professional Claims 837P,Yes,No,Yes,Yes,No,,
"""
PAYERS_CSV = HEADER + PAYER_ROWS

NPI = "1234567893"
TAX_ID = "123456789"
ACCOUNTS = {
    "accounts": {
        "sunrise": {
            "clearinghouse": "officeally",
            "submitter_id": "SUNRISE01",
            "mode": "test",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": {"host": "127.0.0.1", "port": 2222},
            "credentials": {"source": "env"},
        },
    }
}


def claim_data(claim_id: str, payer_id: str, payer_name: str = "SOME PAYER") -> dict[str, Any]:
    """One claim that passes the content checks (invented people, valid NPI check digits)."""
    served = (date.today() - timedelta(days=10)).isoformat()
    return {
        "id": claim_id,
        "payer": {"name": payer_name, "id": payer_id},
        "subscriber": {
            "member_id": "XOF123456789",
            "first_name": "Ava",
            "last_name": "Smith",
            "birth_date": "1984-02-11",
            "gender": "F",
            "filing_code": "CI",
            "address": {
                "line1": "22 Oak Ave",
                "city": "Springfield",
                "state": "IL",
                "zip": "62704",
            },
        },
        "place_of_service": "11",
        "diagnoses": ["F84.0"],
        "lines": [
            {
                "service_date": served,
                "procedure": "97153",
                "units": 4,
                "charge": "120.00",
                "diagnosis_pointers": [1],
            }
        ],
    }


def claims_file_data(*claims: dict[str, Any]) -> dict[str, Any]:
    return {
        "billing_provider": {
            "organization": "Sunrise ABA Therapy LLC",
            "npi": NPI,
            "tax_id": TAX_ID,
            "taxonomy": "103K00000X",
            "address": {
                "line1": "100 Main St",
                "city": "Springfield",
                "state": "IL",
                "zip": "627011234",
            },
        },
        "claims": list(claims),
    }


def make_claims(*claims: dict[str, Any]) -> list[Claim]:
    return parse_claims(claims_file_data(*claims), "test").claims


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(path))
    return path


@pytest.fixture
def payers_csv(tmp_path: Path) -> Path:
    path = tmp_path / "payers.csv"
    path.write_text(PAYERS_CSV, encoding="utf-8")
    return path


Run = Callable[..., Result]


@pytest.fixture
def run(
    plugin_manager: PluginManager, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Run:
    """The whole CLI, with the ``enrollment`` group added if commands.py does not yet."""
    config = tmp_path / "accounts.yaml"
    config.write_text(yaml.safe_dump(ACCOUNTS))
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    cli = create_cli(plugin_manager)
    if "enrollment" not in cli.commands:
        cli.add_command(enrollment)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke
