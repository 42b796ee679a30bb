"""Reporting commands: where every claim stands (status), what a response says (show),
and who did what (audit)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from claimferry.cli.app import App, emit_json, json_option, pass_app
from claimferry.cli.batches import batch_json
from claimferry.config import find_config
from claimferry.errors import ClaimferryError, InputError, Problem
from claimferry.ledger import BatchState, ClaimRecord, ClaimState, Ledger
from claimferry.lifecycle import find_reader
from claimferry.x12.responses import detect_kind, read_response

DEFAULT_OVERDUE_HOURS = 24.0
AWAITING = {ClaimState.UPLOADED, ClaimState.ACCEPTED}
"""States in which a claim waits for the clearinghouse or payer to answer."""


def _overdue_hours(app: App, account: str) -> float:
    try:
        return app.account(account).overdue_after_hours
    except ClaimferryError:
        return DEFAULT_OVERDUE_HOURS


def _is_overdue(record: ClaimRecord, hours: float, now: datetime) -> bool:
    if record.state not in AWAITING:
        return False
    return datetime.fromisoformat(record.updated_at) + timedelta(hours=hours) < now


DETAIL_WIDTH = 70


def _path(history: list[dict[str, Any]]) -> str:
    """The states a claim went through, a repeated state shown once."""
    states: list[str] = []
    for event in history:
        if not states or states[-1] != event["state"]:
            states.append(event["state"])
    return " > ".join(states)


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_WIDTH else text[: DETAIL_WIDTH - 3] + "..."


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line.rstrip(), *(b.rstrip() for b in body)])


@click.command()
@click.option("--account", "account_name", help="Only this account.")
@click.option("--batch", "batch_id", type=int, help="Only this batch.")
@click.option("--claim", "claim_id", help="Only this claim id, with its full history.")
@json_option
@pass_app
def status(
    app: App, account_name: str | None, batch_id: int | None, claim_id: str | None, as_json: bool
) -> None:
    """Each claim's lifecycle: uploaded, acknowledged, paid or denied, with reasons."""
    report_status(app, account_name, batch_id, claim_id, as_json)


def report_status(
    app: App,
    account_name: str | None = None,
    batch_id: int | None = None,
    claim_id: str | None = None,
    as_json: bool = False,
) -> None:
    """Print the status table (or JSON); the demo prints it too."""
    if account_name is not None and find_config(app.config_path) is not None:
        app.account(account_name)  # an unknown account is a mistake, not "no claims"
    now = datetime.now(UTC)
    hours: dict[str, float] = {}
    with Ledger.open(app.state_dir) as ledger:
        records = ledger.claims(account=account_name, batch_id=batch_id, claim_id=claim_id)
        claims: list[dict[str, Any]] = []
        for record in records:
            limit = hours.setdefault(record.account, _overdue_hours(app, record.account))
            events = ledger.claim_events(record.row)
            claims.append(
                {
                    "account": record.account,
                    "batch": record.batch_id,
                    "claim": record.claim_id,
                    "payer": record.payer_id,
                    "charge": str(record.charge) if record.charge is not None else None,
                    "state": record.state.value,
                    "overdue": _is_overdue(record, limit, now),
                    "detail": record.detail,
                    "payer_claim_number": record.payer_claim_number,
                    "updated_at": record.updated_at,
                    "history": [
                        {
                            "state": e.state.value,
                            "at": e.at,
                            "detail": e.detail,
                            "amount": str(e.amount) if e.amount is not None else None,
                            "file": e.source_file,
                        }
                        for e in events
                    ],
                }
            )
        batches = [
            batch_json(b)
            for b in ledger.batches(account_name)
            if batch_id is None or b.id == batch_id
        ]
    if as_json:
        emit_json({"claims": claims, "batches": batches})
        return
    if not claims:
        filtered = any(x is not None for x in (account_name, batch_id, claim_id))
        click.echo("no claims match" if filtered else "no claims recorded")
    elif claim_id is not None:
        _print_histories(claims)
    else:
        rows = [
            [
                c["account"],
                str(c["batch"] or "-"),
                c["claim"],
                c["payer"] or "-",
                c["charge"] or "-",
                c["state"] + (" OVERDUE" if c["overdue"] else ""),
                c["updated_at"][:16].replace("T", " "),
                _path(c["history"]),
                _short(c["detail"] or ""),
            ]
            for c in claims
        ]
        headers = ["ACCOUNT", "BATCH", "CLAIM", "PAYER", "CHARGE", "STATE", "UPDATED", "PATH"]
        click.echo(table(rows, [*headers, "DETAIL"]))
    for b in batches:
        if b["state"] in (BatchState.BUILT, BatchState.UPLOADING):
            error = f"; last error: {b['error']}" if b["error"] else ""
            click.echo(
                f"batch {b['id']} ({b['account']}) is {b['state']}, not yet confirmed delivered"
                f"{error}; the next submit for the account finishes it",
                err=True,
            )
        elif b["state"] == BatchState.UNCERTAIN:
            click.echo(f"batch {b['id']} ({b['account']}) UNCERTAIN: {b['error']}", err=True)


def _print_histories(claims: list[dict[str, Any]]) -> None:
    for c in claims:
        overdue = "  OVERDUE: no answer yet" if c["overdue"] else ""
        click.echo(
            f"claim {c['claim']}  account {c['account']}  batch {c['batch'] or '-'}  "
            f"payer {c['payer'] or '-'}  charge {c['charge'] or '-'}  now {c['state']}{overdue}"
        )
        if c["payer_claim_number"]:
            click.echo(f"  payer claim number {c['payer_claim_number']}")
        for h in c["history"]:
            amount = f"  {h['amount']}" if h["amount"] else ""
            detail = f"  {h['detail']}" if h["detail"] else ""
            source = f"  ({h['file']})" if h["file"] else ""
            click.echo(f"  {h['at']}  {h['state']}{amount}{detail}{source}")


@click.command()
@click.option("--account", "account_name", help="Only this account.")
@json_option
@pass_app
def audit(app: App, account_name: str | None, as_json: bool) -> None:
    """The append-only audit trail: who, when, which account, host, file, size, SHA-256."""
    with Ledger.open(app.state_dir) as ledger:
        entries = ledger.audit_entries(account_name)
    if as_json:
        emit_json([asdict(e) for e in entries])
        return
    rows = [
        [
            e.at,
            e.actor,
            e.account or "-",
            e.action,
            e.file_name or "-",
            str(e.size) if e.size is not None else "-",
            (e.sha256 or "-")[:16],
            e.host_fingerprint or "-",
        ]
        for e in entries
    ]
    if not rows:
        click.echo("the audit trail is empty")
        return
    headers = ["AT", "WHO", "ACCOUNT", "ACTION", "FILE", "SIZE", "SHA256", "HOST"]
    click.echo(table(rows, headers))


@click.command()
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--show-phi", is_flag=True, help="Show patient names and member ids (masked by default)."
)
@json_option
@pass_app
def show(app: App, path: Path, show_phi: bool, as_json: bool) -> None:
    """Render any response file (TA1, 999, 277CA, 835, clearinghouse reports) for a person."""
    if not path.is_file():
        raise InputError([Problem(str(path), "", "file not found")])
    if detect_kind(path) is not None:
        document = read_response(path)
        notices = [str(n) for n in document.notices]
        data, text = document.to_dict(phi=show_phi), document.render(phi=show_phi)
    else:
        report = find_reader(path, app.pm.response_readers()).read(path)
        notices, data, text = [], report.to_dict(), report.render()
    if as_json:
        emit_json(data | {"notices": notices})
        return
    click.echo(text)
    for notice in notices:
        click.echo(f"notice: {notice}", err=True)
