"""Payer enrollment records: which provider may send claims (837P) and receive ERAs (835).

A record belongs to an account and names a billing provider (NPI + tax ID), a
payer ID and a transaction. It lives in the ledger's ``enrollments`` table;
this module is the only code that reads or writes it. Every change appends a
row to ``enrollment_history`` with who made it, so a status can always be
traced back (payers ask when a form was sent; clinics ask who approved it).
Deleting a record only marks it deleted, for the same reason: validators no
longer see it, ``enrollment list --deleted`` still does, with its history.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from claimferry.database import Connection, inserted_id
from claimferry.documents import parse_yaml, read_text
from claimferry.errors import InputError, Problem
from claimferry.ledger import Ledger, ledger_exists
from claimferry.npi import npi_problem
from claimferry.validation import dotted, problems_from_validation_error


class EnrollmentStatus(StrEnum):
    NOT_STARTED = "not-started"
    SUBMITTED = "submitted"
    """The form went to the payer (or Office Ally); no answer yet."""
    APPROVED = "approved"
    REJECTED = "rejected"


class EnrollmentTransaction(StrEnum):
    CLAIMS = "837P"
    """EDI enrollment: the payer accepts this provider's electronic claims."""
    ERA = "835"
    """ERA enrollment: the payer sends this provider's remittances electronically."""


DECIDED = {EnrollmentStatus.APPROVED, EnrollmentStatus.REJECTED}
FIELDS = (
    "npi",
    "tax_id",
    "payer_id",
    "transaction",
    "status",
    "submitted_on",
    "decided_on",
    "notes",
)
"""The columns of an enrollment file, in export order."""
_REQUIRED_FIELDS = ("npi", "tax_id", "payer_id", "transaction")
Format = Literal["yaml", "csv"]
FORMATS: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}


def _digits(count: int, what: str) -> Any:
    def check(value: Any) -> Any:
        text = str(value).strip().replace("-", "") if isinstance(value, str | int) else value
        if not isinstance(text, str) or len(text) != count or not text.isdigit():
            raise ValueError(f"expected {what}: {count} digits (in YAML, quote it)")
        return text

    return BeforeValidator(check)


STORED = {"stored": True}
"""Validation context for records already in the ledger: older releases took any
NPI check digit, and such a record must still list, export and delete."""


def _npi_rule(value: str, info: ValidationInfo) -> str:
    problem = None if info.context == STORED else npi_problem(value)
    if problem is not None:
        raise ValueError(problem[1])
    return value


def _lowercase(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _transaction(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class EnrollmentEntry(BaseModel):
    """One record as given on the command line or in an import file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    npi: Annotated[str, _digits(10, "a billing NPI"), AfterValidator(_npi_rule)]
    tax_id: Annotated[str, _digits(9, "a tax ID (EIN or SSN)")]
    payer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
    transaction: Annotated[EnrollmentTransaction, BeforeValidator(_transaction)]
    status: Annotated[EnrollmentStatus, BeforeValidator(_lowercase)] = EnrollmentStatus.NOT_STARTED
    submitted_on: date | None = None
    decided_on: date | None = None
    notes: str | None = None

    @field_validator("notes")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _dates_agree(self) -> EnrollmentEntry:
        if self.decided_on is not None and self.status not in DECIDED:
            raise ValueError("'decided_on' is only for approved or rejected enrollments")
        if (
            self.decided_on is not None
            and self.submitted_on is not None
            and self.decided_on < self.submitted_on
        ):
            raise ValueError("'decided_on' is before 'submitted_on'")
        return self

    @property
    def key(self) -> EnrollmentKey:
        return EnrollmentKey(self.npi, self.tax_id, self.payer_id, self.transaction)


@dataclass(frozen=True)
class EnrollmentKey:
    """What identifies a record within an account. Payer IDs match ignoring case."""

    npi: str
    tax_id: str
    payer_id: str
    transaction: EnrollmentTransaction


@dataclass(frozen=True)
class Enrollment:
    """A stored record."""

    id: int
    account: str
    npi: str
    tax_id: str
    payer_id: str
    transaction: EnrollmentTransaction
    status: EnrollmentStatus
    submitted_on: date | None
    decided_on: date | None
    notes: str | None
    updated_at: str
    deleted_at: str | None = None

    @property
    def key(self) -> EnrollmentKey:
        return EnrollmentKey(self.npi, self.tax_id, self.payer_id, self.transaction)

    def entry(self) -> EnrollmentEntry:
        return EnrollmentEntry.model_validate(
            {
                "npi": self.npi,
                "tax_id": self.tax_id,
                "payer_id": self.payer_id,
                "transaction": self.transaction,
                "status": self.status,
                "submitted_on": self.submitted_on,
                "decided_on": self.decided_on,
                "notes": self.notes,
            },
            context=STORED,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            **_entry_dict(self.entry()),
            "updated_at": self.updated_at,
            "deleted_at": self.deleted_at,
        }


@dataclass(frozen=True)
class EnrollmentChange:
    """One row of a record's history: its state after a change, and who made it."""

    status: EnrollmentStatus
    submitted_on: date | None
    decided_on: date | None
    notes: str | None
    actor: str
    changed_at: str
    deleted: bool = False
    """This change deleted the record (the other fields are its values then)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted,
            "status": self.status.value,
            "submitted_on": _iso(self.submitted_on),
            "decided_on": _iso(self.decided_on),
            "notes": self.notes,
            "actor": self.actor,
            "changed_at": self.changed_at,
        }


Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _entry_dict(entry: EnrollmentEntry) -> dict[str, Any]:
    return {
        "npi": entry.npi,
        "tax_id": entry.tax_id,
        "payer_id": entry.payer_id,
        "transaction": entry.transaction.value,
        "status": entry.status.value,
        "submitted_on": _iso(entry.submitted_on),
        "decided_on": _iso(entry.decided_on),
        "notes": entry.notes,
    }


def _record(row: sqlite3.Row) -> Enrollment:
    return Enrollment(
        id=row["id"],
        account=row["account"],
        npi=row["npi"],
        tax_id=row["tax_id"],
        payer_id=row["payer_id"],
        transaction=EnrollmentTransaction(row["transaction_type"]),
        status=EnrollmentStatus(row["status"]),
        submitted_on=_date(row["submitted_on"]),
        decided_on=_date(row["decided_on"]),
        notes=row["notes"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


# -- reading and writing records ------------------------------------------------------


def find_enrollment(db: Connection, account: str, key: EnrollmentKey) -> Enrollment | None:
    """The record with this key, or ``None``; a deleted record counts as none."""
    found = _find_any(db, account, key)
    return found if found is not None and found.deleted_at is None else None


def _find_any(db: Connection, account: str, key: EnrollmentKey) -> Enrollment | None:
    row = db.execute(
        "SELECT * FROM enrollments WHERE account = ? AND npi = ? AND tax_id = ? "
        "AND upper(payer_id) = upper(?) AND transaction_type = ?",
        (account, key.npi, key.tax_id, key.payer_id, key.transaction.value),
    ).fetchone()
    return _record(row) if row is not None else None


def _write(
    db: Connection, account: str, entry: EnrollmentEntry, actor: str
) -> tuple[Enrollment, Outcome]:
    """Create or update one record inside the caller's transaction; history on every change.

    Setting a deleted record creates it again in the same row, so its history
    runs on from the deletion.
    """
    existing = _find_any(db, account, entry.key)
    now = _now()
    values = (
        entry.status.value,
        _iso(entry.submitted_on),
        _iso(entry.decided_on),
        entry.notes,
    )
    if (
        existing is not None
        and existing.deleted_at is None
        and existing.entry() == entry.model_copy(update={"payer_id": existing.payer_id})
    ):
        return existing, "unchanged"
    if existing is None:
        record_id = inserted_id(
            db,
            "INSERT INTO enrollments (account, npi, tax_id, payer_id, transaction_type, "
            "status, submitted_on, decided_on, notes, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account,
                entry.npi,
                entry.tax_id,
                entry.payer_id,
                entry.transaction.value,
                *values,
                now,
            ),
        )
        assert record_id is not None  # a plain INSERT: it inserted, or raised
        outcome: Outcome = "created"
    else:
        record_id = existing.id
        db.execute(
            "UPDATE enrollments SET status = ?, submitted_on = ?, decided_on = ?, notes = ?, "
            "updated_at = ?, deleted_at = NULL WHERE id = ?",
            (*values, now, record_id),
        )
        outcome = "updated" if existing.deleted_at is None else "created"
    db.execute(
        "INSERT INTO enrollment_history (enrollment_id, status, submitted_on, decided_on, notes, "
        "actor, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (record_id, *values, actor, now),
    )
    row = db.execute("SELECT * FROM enrollments WHERE id = ?", (record_id,)).fetchone()
    return _record(row), outcome


def set_enrollment(
    ledger: Ledger, account: str, entry: EnrollmentEntry, actor: str
) -> tuple[Enrollment, Outcome]:
    """Create or replace one record; an identical record is left alone (no history row)."""
    with ledger.transaction() as db:
        return _write(db, account, entry, actor)


def delete_enrollment(
    ledger: Ledger, account: str, key: EnrollmentKey, actor: str
) -> Enrollment | None:
    """Mark a record deleted, with a history row; ``None`` when there is no such record."""
    with ledger.transaction() as db:
        existing = find_enrollment(db, account, key)
        if existing is None:
            return None
        now = _now()
        db.execute(
            "UPDATE enrollments SET deleted_at = ?, updated_at = ? WHERE id = ?",
            (now, now, existing.id),
        )
        db.execute(
            "INSERT INTO enrollment_history (enrollment_id, status, submitted_on, decided_on, "
            "notes, actor, changed_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            (
                existing.id,
                existing.status.value,
                _iso(existing.submitted_on),
                _iso(existing.decided_on),
                existing.notes,
                actor,
                now,
            ),
        )
        row = db.execute("SELECT * FROM enrollments WHERE id = ?", (existing.id,)).fetchone()
    return _record(row)


def changed_entry(
    existing: Enrollment | None, key: EnrollmentKey, changes: dict[str, Any], today: date
) -> EnrollmentEntry:
    """A record with some fields changed, as ``enrollment set`` makes it.

    Fields not given keep their value. Moving to submitted dates the
    submission today, and to approved or rejected dates the decision today,
    unless a date is given; moving back to not-started or submitted clears the
    old decision date (the history keeps it). Raises ``ValidationError``.
    """
    base: dict[str, Any] = (
        _entry_dict(existing.entry())
        if existing is not None
        else {
            "npi": key.npi,
            "tax_id": key.tax_id,
            "payer_id": key.payer_id,
            "transaction": key.transaction,
        }
    )
    status = changes.get("status")
    if status is not None and (existing is None or status != existing.status):
        status = EnrollmentStatus(status)
        if status == EnrollmentStatus.SUBMITTED:
            base["submitted_on"] = today
        if status in DECIDED:
            base["decided_on"] = today
        else:
            base["decided_on"] = None
    return EnrollmentEntry.model_validate({**base, **changes})


def import_enrollments(
    ledger: Ledger, account: str, entries: Sequence[EnrollmentEntry], actor: str
) -> ImportSummary:
    """Write every record in one transaction: all of them or, on any failure, none."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with ledger.transaction() as db:
        for entry in entries:
            counts[_write(db, account, entry, actor)[1]] += 1
    return ImportSummary(**counts)


def list_enrollments(
    db: Connection,
    account: str | None = None,
    *,
    npi: str | None = None,
    tax_id: str | None = None,
    payer_id: str | None = None,
    transaction: EnrollmentTransaction | None = None,
    status: EnrollmentStatus | None = None,
    deleted: bool = False,
) -> list[Enrollment]:
    """Records matching every filter given, ordered by account, payer, provider, transaction.

    Deleted records only with ``deleted=True``.
    """
    given = {
        "account = ?": account,
        "npi = ?": npi,
        "tax_id = ?": tax_id,
        "upper(payer_id) = upper(?)": payer_id,
        "transaction_type = ?": transaction.value if transaction else None,
        "status = ?": status.value if status else None,
    }
    where = [test for test, value in given.items() if value is not None]
    if not deleted:
        where.append("deleted_at IS NULL")
    rows = db.execute(
        f"SELECT * FROM enrollments WHERE {' AND '.join(where) or 'TRUE'} "  # noqa: S608 (constant tests)
        "ORDER BY account, upper(payer_id), npi, tax_id, transaction_type",
        [value for value in given.values() if value is not None],
    )
    return [_record(r) for r in rows]


def enrollment_history(db: Connection, enrollment_id: int) -> list[EnrollmentChange]:
    return [
        EnrollmentChange(
            EnrollmentStatus(r["status"]),
            _date(r["submitted_on"]),
            _date(r["decided_on"]),
            r["notes"],
            r["actor"],
            r["changed_at"],
            bool(r["deleted"]),
        )
        for r in db.execute(
            "SELECT * FROM enrollment_history WHERE enrollment_id = ? ORDER BY id",
            (enrollment_id,),
        )
    ]


def read_enrollments(
    state_dir: Path, account: str, database: str | None = None
) -> list[Enrollment]:
    """An account's records for validators; no ledger yet means none (and creates nothing).
    ``database`` is the config's (see :meth:`Ledger.open`)."""
    if not ledger_exists(state_dir, database):
        return []
    with Ledger.open(state_dir, database=database) as ledger:
        return list_enrollments(ledger.db, account)


# -- files ------------------------------------------------------------------------------


def file_format(path: Path) -> Format:
    """YAML or CSV, by the file's suffix."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError([Problem(str(path), "", "expected a .yaml, .yml or .csv file")]) from None


def load_enrollment_file(path: Path, account: str) -> list[EnrollmentEntry]:
    """Read and check a whole file; every problem is reported with its row and field.

    YAML: ``{account: NAME, enrollments: [{npi: ..., ...}, ...]}`` (``account``
    optional, but when given it must be the account imported into). CSV: a
    header row with the columns of :data:`FIELDS` (``status`` and the rest
    optional). The same NPI + tax ID + payer + transaction twice is an error.
    """
    source = str(path)
    kind = file_format(path)
    text = read_text(path)
    rows, problems = _csv_rows(text, source) if kind == "csv" else _yaml_rows(text, source, account)
    entries: list[EnrollmentEntry] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for label, raw in rows:
        try:
            entry = EnrollmentEntry.model_validate(raw)
        except ValidationError as exc:
            problems += problems_from_validation_error(exc, source, _under(label))
            continue
        identity = (entry.npi, entry.tax_id, entry.payer_id.upper(), entry.transaction.value)
        if identity in seen:
            problems.append(
                Problem(
                    source,
                    label,
                    f"duplicate of {seen[identity]} (same npi, tax_id, payer_id and transaction)",
                )
            )
            continue
        seen[identity] = label
        entries.append(entry)
    if problems:
        raise InputError(problems)
    if not entries:
        raise InputError([Problem(source, "", "no enrollment records")])
    return entries


def _under(label: str) -> Callable[[tuple[int | str, ...]], str]:
    return lambda loc: f"{label}: {dotted(loc) or '(record)'}"


Rows = list[tuple[str, dict[str, Any]]]
"""Each record's raw fields, labelled with where it is (``line 3``, ``enrollments[2]``)."""


def _csv_rows(text: str, source: str) -> tuple[Rows, list[Problem]]:
    """The records, and problems with their shape; a bad header stops at once."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        problems = [
            Problem(source, f"line 1, column {i + 1}", f"unknown column {h!r}")
            for i, h in enumerate(header)
            if h not in FIELDS
        ]
        problems += [
            Problem(source, "line 1", f"missing column {name}")
            for name in _REQUIRED_FIELDS
            if name not in header
        ]
        if len(set(header)) != len(header):
            problems.append(Problem(source, "line 1", "a column is given twice"))
        if problems:
            raise InputError(problems)
        rows: Rows = []
        start = reader.line_num + 1
        for values in reader:
            line, start = start, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                problems.append(
                    Problem(
                        source,
                        f"line {line}",
                        f"expected {len(header)} fields, found {len(values)}",
                    )
                )
                continue
            rows.append(
                (f"line {line}", {k: v for k, v in zip(header, values, strict=True) if v.strip()})
            )
    except csv.Error as exc:
        raise InputError(
            [Problem(source, f"line {reader.line_num}", f"not valid CSV ({exc})")]
        ) from None
    return rows, problems


def _yaml_rows(text: str, source: str, account: str) -> tuple[Rows, list[Problem]]:
    data = parse_yaml(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("enrollments"), list):
        raise InputError([Problem(source, "", "expected a mapping with an 'enrollments' list")])
    unknown = sorted(str(k) for k in data if k not in ("account", "enrollments"))
    problems = [Problem(source, key, "unknown field") for key in unknown]
    if "account" in data and data["account"] != account:
        problems.append(
            Problem(source, "account", f"this file is for another account, not {account}")
        )
    rows: Rows = []
    for index, item in enumerate(data["enrollments"]):
        label = f"enrollments[{index}]"
        if not isinstance(item, dict):
            problems.append(Problem(source, label, "expected a mapping"))
            continue
        rows.append((label, item))
    return rows, problems


def dump_enrollments(records: Iterable[Enrollment], account: str, kind: Format) -> bytes:
    """An export that :func:`load_enrollment_file` reads back unchanged."""
    entries = [_entry_dict(r.entry()) for r in records]
    if kind == "yaml":
        return yaml.safe_dump(
            {"account": account, "enrollments": entries}, sort_keys=False, allow_unicode=True
        ).encode("utf-8")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for entry in entries:
        writer.writerow(["" if entry[f] is None else entry[f] for f in FIELDS])
    return out.getvalue().encode("utf-8")
