"""``claimferry enrollment``: an account's payer enrollment records (EDI claims and ERA)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from claimferry import enrollment as records
from claimferry.cli.app import App, ClaimferryGroup, emit_json, json_option, pass_app
from claimferry.cli.output import examples, table
from claimferry.enrollment import (
    Enrollment,
    EnrollmentKey,
    EnrollmentStatus,
    EnrollmentTransaction,
)
from claimferry.errors import InputError, Problem
from claimferry.ledger import current_actor
from claimferry.storage import atomic_write
from claimferry.types import PayerIdCheck, payer_list_call
from claimferry.validation import problems_from_validation_error

ACCOUNT = click.option("--account", "account_name", required=True, help="The clinic account.")
TRANSACTIONS = click.Choice([t.value for t in EnrollmentTransaction], case_sensitive=False)
TRANSACTION_METAVAR = "|".join(t.value for t in EnrollmentTransaction)
TRANSACTION = click.option(
    "--transaction",
    "transaction",
    type=TRANSACTIONS,
    metavar=TRANSACTION_METAVAR,
    required=True,
    help="837P (EDI enrollment, claims) or 835 (ERA enrollment).",
)
"""Choices as users type them (click shows case-insensitive ones in lowercase)."""
STATUSES = click.Choice([s.value for s in EnrollmentStatus], case_sensitive=False)
DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group(
    "enrollment",
    cls=ClaimferryGroup,
    epilog=examples(
        "claimferry enrollment list --account sunrise",
        "claimferry enrollment import enrollment.csv --account sunrise",
    ),
)
def enrollment() -> None:
    """Payer enrollment records per account: EDI enrollment for claims (837P), ERA (835).

    Validators read them: a payer that requires enrollment gets no claims from
    a provider whose enrollment is not approved.
    """


def _describe(record: Enrollment) -> str:
    dates = [
        f"{label} {value.isoformat()}"
        for label, value in (("submitted", record.submitted_on), ("decided", record.decided_on))
        if value is not None
    ]
    return (
        f"{record.account}  payer {record.payer_id}  {record.transaction.value}  "
        f"NPI {record.npi}  tax ID {record.tax_id}  {record.status.value}"
        + (f"  ({', '.join(dates)})" if dates else "")
        + (f"  notes: {record.notes}" if record.notes else "")
        + (f"  deleted {record.deleted_at}" if record.deleted_at is not None else "")
    )


def _option_name(loc: tuple[int | str, ...]) -> str:
    return "--" + "-".join(str(part).replace("_", "-") for part in loc) if loc else "options"


def _key(
    command: str, npi: str, tax_id: str, payer_id: str, transaction: str, *, stored: bool = False
) -> EnrollmentKey:
    """The record's identity; ``stored`` names one already kept, whatever its NPI check digit."""
    try:
        return records.EnrollmentEntry.model_validate(
            {"npi": npi, "tax_id": tax_id, "payer_id": payer_id, "transaction": transaction},
            context=records.STORED if stored else None,
        ).key
    except ValidationError as exc:
        raise InputError(problems_from_validation_error(exc, command, _option_name)) from None


def _check_payer_id(app: App, clearinghouse: str, key: EnrollmentKey, force: bool) -> None:
    """Refuse a payer ID the clearinghouse's payer list does not have, unless forced."""
    check_payer_id = app.pm.get_clearinghouse(clearinghouse).check_payer_id
    if check_payer_id is None:
        return
    found: PayerIdCheck = payer_list_call(
        check_payer_id, app.state_dir, key.payer_id, key.transaction.value, database=app.database
    )
    if found.listed is None:
        click.echo(f"warning: payer ID not checked: {found.detail}", err=True)
    elif not found.listed and force:
        click.echo(f"warning: {found.detail}; recorded anyway (--force)", err=True)
    elif not found.listed:
        raise InputError(
            [
                Problem(
                    "enrollment set",
                    "--payer-id",
                    f"{found.detail}; --force records it anyway",
                )
            ]
        )


@enrollment.command(
    "set",
    epilog=examples(
        "claimferry enrollment set --account sunrise --npi 1234567893 --tax-id 123456789"
        " --payer-id 60054 --transaction 837P --status submitted"
    ),
)
@ACCOUNT
@click.option(
    "--npi", required=True, help="Billing provider NPI (10 digits, with a valid check digit)."
)
@click.option("--tax-id", required=True, help="Billing provider tax ID (9 digits).")
@click.option("--payer-id", required=True, help="The payer ID the enrollment is for.")
@TRANSACTION
@click.option("--status", type=STATUSES, help="New status (a new record starts not-started).")
@click.option("--submitted-on", type=DATE, help="YYYY-MM-DD; today when status becomes submitted.")
@click.option(
    "--decided-on", type=DATE, help="YYYY-MM-DD; today when status becomes approved/rejected."
)
@click.option("--notes", help="Free text; an empty string clears it.")
@click.option(
    "--force", is_flag=True, help="Record a payer ID that is not on the imported payer list."
)
@json_option
@pass_app
def set_command(
    app: App,
    account_name: str,
    npi: str,
    tax_id: str,
    payer_id: str,
    transaction: str,
    status: str | None,
    submitted_on: datetime | None,
    decided_on: datetime | None,
    notes: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Create or change one record; the change is kept in its history with your user name.

    The NPI must pass its check digit and the tax ID have 9 digits; the payer
    ID must be on the imported payer list for the transaction, unless --force.
    """
    configured = app.account(account_name)
    account = configured.name
    key = _key("enrollment set", npi, tax_id, payer_id, transaction)
    _check_payer_id(app, configured.clearinghouse, key, force)
    given: dict[str, Any] = {
        "status": status.lower() if status else None,
        "submitted_on": submitted_on.date() if submitted_on else None,
        "decided_on": decided_on.date() if decided_on else None,
        "notes": notes,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    with app.open_ledger() as ledger:
        try:
            existing = records.find_enrollment(ledger.db, account, key)
            entry = records.changed_entry(existing, key, changes, app.today)
        except ValidationError as exc:
            raise InputError(
                problems_from_validation_error(exc, "enrollment set", _option_name)
            ) from None
        record, outcome = records.set_enrollment(ledger, account, entry, current_actor())
    if as_json:
        emit_json({"outcome": outcome, "enrollment": record.as_json()})
    else:
        click.echo(f"{outcome}: {_describe(record)}")


@enrollment.command(
    "delete",
    epilog=examples(
        "claimferry enrollment delete --account sunrise --npi 1234567893 --tax-id 123456789"
        " --payer-id 60054 --transaction 837P"
    ),
)
@ACCOUNT
@click.option("--npi", required=True, help="Billing provider NPI of the record.")
@click.option("--tax-id", required=True, help="Billing provider tax ID of the record.")
@click.option("--payer-id", required=True, help="Payer ID of the record.")
@TRANSACTION
@json_option
@pass_app
def delete_command(
    app: App,
    account_name: str,
    npi: str,
    tax_id: str,
    payer_id: str,
    transaction: str,
    as_json: bool,
) -> None:
    """Delete one record: validators stop seeing it; it and its history are kept.

    `enrollment list --deleted --history` shows it; `enrollment set` with the
    same NPI, tax ID, payer ID and transaction creates it again.
    """
    account = app.account(account_name).name
    key = _key("enrollment delete", npi, tax_id, payer_id, transaction, stored=True)
    with app.open_ledger() as ledger:
        record = records.delete_enrollment(ledger, account, key, current_actor())
    if record is None:
        raise InputError(
            [
                Problem(
                    "enrollment delete",
                    "",
                    f"account {account} has no {key.transaction.value} enrollment record for "
                    "this NPI, tax ID and payer ID; see `claimferry enrollment list "
                    f"--account {account}`",
                )
            ]
        )
    if as_json:
        emit_json({"outcome": "deleted", "enrollment": record.as_json()})
    else:
        click.echo(f"deleted: {_describe(record)}")


@enrollment.command(
    "list",
    epilog=examples("claimferry enrollment list --account sunrise --status submitted --history"),
)
@click.option("--account", "account_name", help="One account (default: every account).")
@click.option("--npi", help="Only records for this billing NPI.")
@click.option("--tax-id", help="Only records for this tax ID.")
@click.option("--payer-id", help="Only records for this payer ID (any case).")
@click.option(
    "--transaction",
    type=TRANSACTIONS,
    metavar=TRANSACTION_METAVAR,
    help="Only records for this transaction.",
)
@click.option("--status", type=STATUSES, help="Only records with this status.")
@click.option("--history", is_flag=True, help="Show every change of each record.")
@click.option("--deleted", is_flag=True, help="Include deleted records (marked as deleted).")
@json_option
@pass_app
def list_command(
    app: App,
    account_name: str | None,
    npi: str | None,
    tax_id: str | None,
    payer_id: str | None,
    transaction: str | None,
    status: str | None,
    history: bool,
    deleted: bool,
    as_json: bool,
) -> None:
    """List records, filtered by any of the options."""
    account = app.account(account_name).name if account_name else None
    with app.open_ledger() as ledger:
        found = records.list_enrollments(
            ledger.db,
            account,
            npi=npi,
            tax_id=tax_id.replace("-", "") if tax_id else None,
            payer_id=payer_id,
            transaction=EnrollmentTransaction(transaction.upper()) if transaction else None,
            status=EnrollmentStatus(status.lower()) if status else None,
            deleted=deleted,
        )
        changes = {r.id: records.enrollment_history(ledger.db, r.id) for r in found if history}
    if as_json:
        rows = []
        for record in found:
            row = record.as_json()
            if history:
                row["history"] = [c.as_json() for c in changes[record.id]]
            rows.append(row)
        emit_json(rows)
        return
    if not found:
        click.echo("no enrollment records match", err=True)
        return
    if history:
        lines = [
            [
                *_identity(record),
                change.changed_at[:19].replace("T", " "),
                change.actor,
                "deleted" if change.deleted else change.status.value,
                _day(change.submitted_on),
                _day(change.decided_on),
                change.notes or "",
            ]
            for record in found
            for change in changes[record.id]
        ]
        headers = [*IDENTITY, "CHANGED", "BY", "STATUS", "SUBMITTED", "DECIDED", "NOTES"]
    else:
        lines = [
            [
                *_identity(record),
                record.status.value + (" (deleted)" if record.deleted_at is not None else ""),
                _day(record.submitted_on),
                _day(record.decided_on),
                record.notes or "",
            ]
            for record in found
        ]
        headers = [*IDENTITY, "STATUS", "SUBMITTED", "DECIDED", "NOTES"]
    click.echo(table(lines, headers))


IDENTITY = ["ACCOUNT", "PAYER_ID", "TRANSACTION", "NPI", "TAX_ID"]


def _identity(record: Enrollment) -> list[str]:
    return [record.account, record.payer_id, record.transaction.value, record.npi, record.tax_id]


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "-"


@enrollment.command(
    "import",
    epilog=examples("claimferry enrollment import enrollment.yaml --account sunrise"),
)
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@ACCOUNT
@json_option
@pass_app
def import_command(app: App, path: Path, account_name: str, as_json: bool) -> None:
    """Import records from a YAML or CSV file (by suffix): all of them, or none on any error.

    Records already present are replaced by the file's values; records not in
    the file are left alone.
    """
    account = app.account(account_name).name
    entries = records.load_enrollment_file(path, account)
    with app.open_ledger() as ledger:
        summary = records.import_enrollments(ledger, account, entries, current_actor())
    result = {
        "file": str(path),
        "account": account,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
    }
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"{path}: {summary.created} created, {summary.updated} updated, "
            f"{summary.unchanged} unchanged (account {account})"
        )


@enrollment.command(
    "export",
    epilog=examples(
        "claimferry enrollment export enrollment.csv --account sunrise",
        "claimferry enrollment export --account sunrise --format csv",
    ),
)
@click.argument(
    "path", metavar="[FILE]", required=False, type=click.Path(path_type=Path, dir_okay=False)
)
@ACCOUNT
@click.option(
    "--format",
    "kind",
    type=click.Choice(["yaml", "csv"]),
    help="Without FILE, what to print (default yaml); with FILE, its suffix decides.",
)
@json_option
@pass_app
def export_command(
    app: App, path: Path | None, account_name: str, kind: str | None, as_json: bool
) -> None:
    """Write an account's records as YAML or CSV, in the shape ``import`` reads.

    With FILE, --json reports what was written: {"file", "records"}.
    """
    if as_json and path is None:
        raise click.UsageError("--json reports the file written: give FILE")
    account = app.account(account_name).name
    chosen = (
        records.file_format(path) if path is not None else records.FORMATS[f".{kind or 'yaml'}"]
    )
    if path is not None and kind is not None and kind != chosen:
        raise click.UsageError(f"--format {kind} does not match the suffix of {path}")
    with app.open_ledger() as ledger:
        found = records.list_enrollments(ledger.db, account)
    data = records.dump_enrollments(found, account, chosen)
    if path is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    atomic_write(path, data, mode=0o600)
    if as_json:
        emit_json({"file": str(path), "records": len(found)})
    else:
        click.echo(f"wrote {path}: {len(found)} record(s)", err=True)
