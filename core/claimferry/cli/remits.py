"""Remittances for posting: the payments received (list) and every service line
with what was paid and why (export). docs/posting.md describes the columns."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from claimferry.cli.app import App, emit_json, json_option, pass_app
from claimferry.cli.output import examples, money, table
from claimferry.errors import InputError, Problem
from claimferry.ledger import Ledger
from claimferry.lifecycle import response_files
from claimferry.remits import Payment, PostingRow, payments, posting_rows, source_path
from claimferry.storage import ArchiveMissing, atomic_write
from claimferry.x12.codes import ADJUSTMENT_REASONS, meaning, remark_meaning
from claimferry.x12.remit835 import iter_835_claims
from claimferry.x12.segments import read_segments

COLUMNS = (
    "row_type",
    "account",
    "trace_number",
    "payment_date",
    "payer_name",
    "payer_id",
    "claim_id",
    "patient_control_number",
    "payer_claim_number",
    "claim_status",
    "claim_state",
    "line_number",
    "line_control_number",
    "service_date",
    "service_end_date",
    "procedure",
    "modifiers",
    "units",
    "charge",
    "allowed",
    "paid",
    "patient_responsibility",
    "contractual",
    "other_adjustments",
    "adjustments",
    "adjustment_descriptions",
    "remark_codes",
    "remark_descriptions",
    "payee_id",
    "payment_method",
    "payment_amount",
    "payment_balanced",
)
"""New columns go at the end: importers may read a posting file by position."""
CSV_ONLY = ("adjustment_descriptions", "remark_descriptions")
"""JSON carries each description beside its code instead."""
PHI_COLUMNS = ("patient_name", "member_id")
"""From the archived 835 itself (the ledger keeps no names or member ids), with --show-phi."""


@click.group(
    epilog=examples(
        "claimferry remits list --since 2026-11-01", "claimferry remits export -o posting.csv"
    )
)
def remits() -> None:
    """Payments received (835s): list them, export them line by line for posting."""


def _since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--since"
        ) from None


def _chosen(app: App, account: str | None, since: str | None, trace: str | None) -> list[Payment]:
    with app.open_ledger() as ledger:
        account = app.account_filter(account, ledger)
        return payments(ledger, account=account, since=_since(since), trace=trace)


_FILTERS = (
    click.option("--account", help="Only this account."),
    click.option("--since", metavar="YYYY-MM-DD", help="Only payments dated on or after this day."),
    click.option("--trace", help="Only the payment with this check or EFT trace number (TRN02)."),
)


def _filters(func: Any) -> Any:
    for option in reversed(_FILTERS):
        func = option(func)
    return func


@remits.command(
    "list",
    epilog=examples(
        "claimferry remits list",
        "claimferry remits list --account sunrise --since 2026-11-01 --json",
    ),
)
@_filters
@json_option
@pass_app
def list_payments(
    app: App, account: str | None, since: str | None, trace: str | None, as_json: bool
) -> None:
    """Payments: trace, date, payer, amount, provider-level adjustments, claims."""
    chosen = _chosen(app, account, since, trace)
    if as_json:
        emit_json([_payment_json(p) for p in chosen])
        return
    if not chosen:
        click.echo(
            "no payments recorded" if not (account or since or trace) else "no payments match"
        )
        return
    rows = [
        [
            p.account,
            p.trace_number,
            p.payment_date or "-",
            f"{p.payer_name} ({p.payer_id})",
            p.method,
            money(p.amount),
            money(p.provider_adjustment_total),
            str(p.claim_count),
            "NOT BALANCED" if p.imbalance else "balanced",
        ]
        for p in chosen
    ]
    headers = ["ACCOUNT", "TRACE", "DATE", "PAYER", "METHOD", "AMOUNT", "PLB", "CLAIMS", "CHECK"]
    click.echo(table(rows, headers))


def _payment_json(payment: Payment) -> dict[str, Any]:
    return {
        "account": payment.account,
        "trace_number": payment.trace_number,
        "payment_date": payment.payment_date,
        "payer_name": payment.payer_name,
        "payer_id": payment.payer_id,
        "payee_id": payment.payee_id,
        "method": payment.method,
        "credit_debit": payment.credit_debit,
        "amount": str(payment.amount),
        "provider_adjustment_total": str(payment.provider_adjustment_total),
        "claim_count": payment.claim_count,
        "imbalance": payment.imbalance,
        "source_file": payment.source_file,
    }


@remits.command(
    "export",
    epilog=examples(
        "claimferry remits export -o posting.csv",
        "claimferry remits export --format json --trace 883921",
    ),
)
@_filters
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="CSV (one row per line) or JSON (the same rows, adjustments as lists).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here (atomically) instead of to stdout.",
)
@click.option(
    "--show-phi", is_flag=True, help="Add patient names and member ids, read from the 835s."
)
@json_option
@pass_app
def export(
    app: App,
    account: str | None,
    since: str | None,
    trace: str | None,
    output_format: str,
    output: Path | None,
    show_phi: bool,
    as_json: bool,
) -> None:
    """One row per service line paid, adjusted or denied, for posting (docs/posting.md).

    With -o FILE, --json reports what was written: {"file", "rows"}.
    """
    if as_json and output is None:
        raise click.UsageError("--json reports the file written: give -o FILE")
    chosen = _chosen(app, account, since, trace)
    with app.open_ledger() as ledger:
        records = [
            _record(row, phi)
            for row, phi in _with_phi(ledger, posting_rows(ledger, chosen), show_phi)
        ]
    columns = (*COLUMNS, *PHI_COLUMNS) if show_phi else COLUMNS
    if output_format == "json":
        keys = [c for c in columns if c not in CSV_ONLY]
        text = json.dumps([{c: r.get(c) for c in keys} for r in records], indent=2, default=str)
        data = text + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(_flat(r) for r in records)
        data = buffer.getvalue()
    if output is None:
        sys.stdout.write(data)
    else:
        atomic_write(output, data.encode("utf-8"))
        if as_json:
            emit_json({"file": str(output), "rows": len(records)})
        else:
            click.echo(f"wrote {len(records)} rows to {output}", err=True)


def _with_phi(
    ledger: Ledger, rows: Iterable[PostingRow], show_phi: bool
) -> Iterator[tuple[PostingRow, tuple[str, str] | None]]:
    people: dict[int, dict[int, tuple[str, str]]] = {}
    for row in rows:
        if not show_phi or row.segment_position is None:
            yield row, None
            continue
        if row.payment.id not in people:
            people[row.payment.id] = _patients(ledger, row.payment)
        yield row, people[row.payment.id].get(row.segment_position, ("", ""))


def _patients(ledger: Ledger, payment: Payment) -> dict[int, tuple[str, str]]:
    """Each claim's patient name and member id, by CLP position, from the archived 835."""
    reference = source_path(ledger, payment)
    missing = InputError(
        [Problem(payment.source_file, "", "archived 835 not found: cannot show patients")]
    )
    if reference is None:
        raise missing
    member = payment.source_file.partition("!")[2]
    found: dict[int, tuple[str, str]] = {}
    try:
        with ledger.archive.local(reference) as path, response_files(path) as files:
            for name, file in files:
                if member and name != member:
                    continue
                for claim in iter_835_claims(read_segments(file), str(file)):
                    person = claim.patient or claim.insured
                    insured = claim.insured or claim.patient
                    found[claim.segment_position] = (
                        person.display_name if person else "",
                        insured.id if insured else "",
                    )
    except ArchiveMissing:
        raise missing from None
    return found


def _record(row: PostingRow, phi: tuple[str, str] | None) -> dict[str, Any]:
    groups: dict[str, Decimal] = {}
    for adjustment in row.adjustments:
        groups[adjustment.group] = groups.get(adjustment.group, Decimal(0)) + adjustment.amount
    other = sum((v for g, v in groups.items() if g not in ("CO", "PR")), Decimal(0))
    payment = row.payment
    record: dict[str, Any] = {
        "row_type": row.kind,
        "account": payment.account,
        "trace_number": payment.trace_number,
        "payment_date": payment.payment_date,
        "payer_name": payment.payer_name,
        "payer_id": payment.payer_id,
        "payee_id": payment.payee_id,
        "payment_method": payment.method,
        "payment_amount": _text(payment.amount),
        "payment_balanced": payment.imbalance is None,
        "claim_id": row.claim_id,
        "patient_control_number": row.patient_control_number,
        "payer_claim_number": row.payer_claim_number,
        "claim_status": row.claim_status,
        "claim_state": row.claim_state,
        "line_number": row.line_number,
        "line_control_number": row.line_control_number,
        "service_date": row.service_from,
        "service_end_date": row.service_to,
        "procedure": row.procedure,
        "modifiers": list(row.modifiers),
        "units": _text(row.units),
        "charge": _text(row.charge),
        "allowed": _text(row.allowed),
        "paid": _text(row.paid),
        "patient_responsibility": _text(row.patient_responsibility),
        "contractual": _text(groups.get("CO", Decimal(0))),
        "other_adjustments": _text(other),
        "adjustments": [
            {
                "group": a.group,
                "reason": a.reason,
                "amount": _text(a.amount),
                "quantity": _text(a.quantity),
                "description": meaning(ADJUSTMENT_REASONS, a.reason),
            }
            for a in row.adjustments
        ],
        "remark_codes": [
            {"code": code, "description": remark_meaning(code)} for code in row.remark_codes
        ],
    }
    if phi is not None:
        record["patient_name"], record["member_id"] = phi
    return record


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A record as CSV cells: lists joined, descriptions beside the codes."""
    adjustments: Sequence[dict[str, Any]] = record["adjustments"]
    remarks: Sequence[dict[str, Any]] = record["remark_codes"]
    return record | {
        "payment_balanced": "true" if record["payment_balanced"] else "false",
        "modifiers": ":".join(record["modifiers"]),
        "adjustments": "; ".join(f"{a['group']}-{a['reason']} {a['amount']}" for a in adjustments),
        "adjustment_descriptions": "; ".join(
            f"{a['group']}-{a['reason']}: {a['description']}" for a in adjustments
        ),
        "remark_codes": "; ".join(r["code"] for r in remarks),
        "remark_descriptions": "; ".join(f"{r['code']}: {r['description']}" for r in remarks),
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
