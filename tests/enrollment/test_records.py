"""Enrollment records in the ledger: set, history with the actor, import files, export."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
import yaml

from claimferry import enrollment as records
from claimferry.enrollment import (
    EnrollmentEntry,
    EnrollmentKey,
    EnrollmentStatus,
    EnrollmentTransaction,
)
from claimferry.errors import InputError
from claimferry.ledger import Ledger

NPI, TAX_ID = "1234567893", "123456789"
KEY = EnrollmentKey(NPI, TAX_ID, "ACME1", EnrollmentTransaction.CLAIMS)
TODAY = date(2026, 3, 2)


def _entry(**changes: object) -> EnrollmentEntry:
    data: dict[str, object] = {
        "npi": NPI,
        "tax_id": TAX_ID,
        "payer_id": "ACME1",
        "transaction": "837P",
    }
    return EnrollmentEntry.model_validate({**data, **changes})


def _problems(path: Path, account: str = "sunrise") -> list[str]:
    with pytest.raises(InputError) as caught:
        records.load_enrollment_file(path, account)
    return [str(p) for p in caught.value.problems]


def test_every_change_appends_history_with_the_actor(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        first, outcome = records.set_enrollment(ledger, "sunrise", _entry(), "ana")
        assert outcome == "created" and first.status == EnrollmentStatus.NOT_STARTED
        submitted = _entry(status="submitted", submitted_on="2026-01-05")
        assert records.set_enrollment(ledger, "sunrise", submitted, "ben")[1] == "updated"
        assert records.set_enrollment(ledger, "sunrise", submitted, "ben")[1] == "unchanged"
        approved = _entry(
            status="approved", submitted_on="2026-01-05", decided_on="2026-01-20", notes="ok"
        )
        record, _ = records.set_enrollment(ledger, "sunrise", approved, "cy")
        history = records.enrollment_history(ledger.db, record.id)
    assert [(c.status, c.actor) for c in history] == [
        (EnrollmentStatus.NOT_STARTED, "ana"),
        (EnrollmentStatus.SUBMITTED, "ben"),
        (EnrollmentStatus.APPROVED, "cy"),
    ]
    assert history[-1].decided_on == date(2026, 1, 20) and history[-1].notes == "ok"
    assert record.status == EnrollmentStatus.APPROVED


def test_records_are_per_account_and_payer_ids_match_ignoring_case(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        records.set_enrollment(ledger, "sunrise", _entry(), "ana")
        records.set_enrollment(ledger, "other", _entry(status="approved"), "ana")
        _, outcome = records.set_enrollment(ledger, "sunrise", _entry(payer_id="acme1"), "ana")
        assert outcome == "unchanged"
        assert len(records.list_enrollments(ledger.db, "sunrise")) == 1
        approved = records.list_enrollments(ledger.db, status=EnrollmentStatus.APPROVED)
        assert [r.account for r in approved] == ["other"]
    assert [r.account for r in records.read_enrollments(tmp_path, "other")] == ["other"]


def test_read_enrollments_creates_no_ledger(tmp_path: Path) -> None:
    assert records.read_enrollments(tmp_path / "none", "sunrise") == []
    assert not (tmp_path / "none").exists()


def test_changed_entry_dates_status_changes(tmp_path: Path) -> None:
    submitted = records.changed_entry(None, KEY, {"status": "submitted"}, TODAY)
    assert submitted.submitted_on == TODAY and submitted.decided_on is None
    with Ledger.open(tmp_path) as ledger:
        record, _ = records.set_enrollment(ledger, "sunrise", submitted, "ana")
    decided = records.changed_entry(
        record, KEY, {"status": "rejected", "notes": "wrong TIN"}, TODAY
    )
    assert decided.decided_on == TODAY and decided.submitted_on == TODAY
    given = records.changed_entry(
        record, KEY, {"status": "approved", "decided_on": date(2026, 3, 5)}, TODAY
    )
    assert given.decided_on == date(2026, 3, 5)
    kept = records.changed_entry(record, KEY, {"notes": "called payer"}, TODAY)
    assert kept.status == EnrollmentStatus.SUBMITTED and kept.notes == "called payer"


def test_entry_rules() -> None:
    assert _entry(tax_id="12-3456789").tax_id == TAX_ID
    assert _entry(transaction="837p", status="APPROVED").status == EnrollmentStatus.APPROVED
    for bad in (
        {"npi": "123"},
        {"tax_id": "12345678"},
        {"transaction": "837I"},
        {"status": "pending"},
        {"status": "submitted", "decided_on": "2026-01-01"},
        {"status": "approved", "submitted_on": "2026-02-01", "decided_on": "2026-01-01"},
    ):
        with pytest.raises(ValueError):
            _entry(**bad)


def test_yaml_and_csv_import_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "account": "sunrise",
                "enrollments": [
                    {
                        "npi": NPI,
                        "tax_id": TAX_ID,
                        "payer_id": "ACME1",
                        "transaction": "837P",
                        "status": "approved",
                        "submitted_on": "2026-01-02",
                        "decided_on": "2026-01-30",
                    },
                    {
                        "npi": NPI,
                        "tax_id": TAX_ID,
                        "payer_id": "ACRA1",
                        "transaction": "835",
                        "status": "submitted",
                        "notes": 'form sent by fax, "urgent"',
                    },
                ],
            }
        )
    )
    entries = records.load_enrollment_file(source, "sunrise")
    with Ledger.open(tmp_path / "state") as ledger:
        summary = records.import_enrollments(ledger, "sunrise", entries, "ana")
        assert (summary.created, summary.updated, summary.unchanged) == (2, 0, 0)
        stored = records.list_enrollments(ledger.db, "sunrise")
    for kind in ("yaml", "csv"):
        path = tmp_path / f"out.{kind}"
        path.write_bytes(records.dump_enrollments(stored, "sunrise", kind))  # type: ignore[arg-type]
        assert records.load_enrollment_file(path, "sunrise") == [r.entry() for r in stored]
    with Ledger.open(tmp_path / "state") as ledger:
        again = records.import_enrollments(ledger, "sunrise", entries, "ana")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_csv_import_problems_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "npi,tax_id,payer_id,transaction,status,decided_on\n"
        f"{NPI},{TAX_ID},ACME1,837P,approved,2026-01-02\n"
        f"12345,{TAX_ID},OPEN1,837P,approved,\n"
        f"{NPI},{TAX_ID},OPEN1,999,approved,\n"
        f"{NPI},{TAX_ID},COST1,835,approved,2026-02-30\n"
        f"{NPI},{TAX_ID},acme1,837P,submitted,\n"
        f"{NPI},{TAX_ID},COST1,837P\n"
    )
    problems = _problems(path)
    assert any("line 3: npi: expected a billing NPI" in p for p in problems)
    assert any("line 4: transaction" in p for p in problems)
    assert any("line 5: decided_on" in p for p in problems)
    assert any("line 6: duplicate of line 2" in p for p in problems)
    assert any("line 7: expected 6 fields, found 4" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("e.csv", "npi,tax_id,payer_id,transaction,colour\n", "unknown column 'colour'"),
        ("e.csv", "npi,tax_id,payer_id\n", "missing column transaction"),
        ("e.csv", "npi,tax_id,payer_id,transaction\n", "no enrollment records"),
        ("e.yaml", "enrollments: [\n", "not valid YAML"),
        ("e.yaml", "records: []\n", "expected a mapping with an 'enrollments' list"),
        ("e.yaml", "account: other\nenrollments: []\n", "for another account"),
        ("e.yaml", "enrollments: [oops]\n", "enrollments[0]: expected a mapping"),
        (
            "e.yaml",
            f"enrollments:\n- {{npi: '{NPI}', tax_id: '{TAX_ID}', payer_id: A1, "
            "transaction: 837P, colour: red}\n",
            "enrollments[0]: colour: unknown field",
        ),
        ("e.json", "{}", "expected a .yaml, .yml or .csv file"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert any(expected in p for p in _problems(path)), _problems(path)


def test_import_is_all_or_nothing(tmp_path: Path) -> None:
    """A database failure half-way leaves no record behind."""
    entries = [_entry(), _entry(payer_id="OPEN1")]
    with Ledger.open(tmp_path) as ledger:
        if isinstance(ledger.db, sqlite3.Connection):
            ledger.db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON enrollments WHEN NEW.payer_id = 'OPEN1' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            ledger.db.executescript(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'refused'; END $$; CREATE TRIGGER refuse BEFORE INSERT ON "
                "enrollments FOR EACH ROW WHEN (NEW.payer_id = 'OPEN1') EXECUTE FUNCTION refuse()"
            )
        with pytest.raises(Exception, match="refused"):
            records.import_enrollments(ledger, "sunrise", entries, "ana")
        assert records.list_enrollments(ledger.db) == []
        assert ledger.db.execute("SELECT COUNT(*) FROM enrollment_history").fetchone()[0] == 0
