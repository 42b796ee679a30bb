"""Reporting commands: where every claim stands (status), what a response says (show),
and who did what (audit)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from claimferry.aging import FINAL, overdue_reason, replaced_submissions
from claimferry.cli.app import App, emit_json, json_option, pass_app
from claimferry.cli.batches import batch_json
from claimferry.cli.output import examples, money, table
from claimferry.errors import ClaimferryError, InputError, Problem
from claimferry.ledger import BatchState, ClaimState

DEFAULT_OVERDUE_HOURS = 24.0
DEFAULT_OVERDUE_DAYS = 30
AGING_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))
"""A/R aging by days since the claim was sent; older is "90+"."""


def _limits(app: App, account: str) -> tuple[float, int]:
    try:
        settings = app.account(account)
    except ClaimferryError:
        return DEFAULT_OVERDUE_HOURS, DEFAULT_OVERDUE_DAYS
    return settings.overdue_after_hours, settings.overdue_after_days


def _bucket(days: int) -> str:
    return next((label for limit, label in AGING_BUCKETS if days <= limit), "90+")


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


def _states(value: str | None) -> frozenset[ClaimState] | None:
    if value is None:
        return None
    chosen = set()
    for name in filter(None, (v.strip() for v in value.split(","))):
        try:
            chosen.add(ClaimState(name))
        except ValueError:
            known = ", ".join(s.value for s in ClaimState)
            raise click.BadParameter(
                f"{name!r} is not a claim state (one of: {known})", param_hint="--state"
            ) from None
    return frozenset(chosen)


@click.command(
    epilog=examples(
        "claimferry status --claim SUN-1001",
        "claimferry status --state denied,payer_rejected --summary",
    )
)
@click.option("--account", "account_name", help="Only this account.")
@click.option("--batch", "batch_id", type=int, help="Only this batch.")
@click.option("--claim", "claim_id", help="Only this claim id, with its full history.")
@click.option(
    "--state",
    "states",
    metavar="STATE[,STATE...]",
    help="Only claims in these states, e.g. denied,rejected,payer_rejected.",
)
@click.option(
    "--overdue", is_flag=True, help="Only overdue claims, with their age and A/R aging bucket."
)
@click.option(
    "--summary",
    is_flag=True,
    help="Counts and money per account and state, and the A/R aging of open claims.",
)
@json_option
@pass_app
def status(
    app: App,
    account_name: str | None,
    batch_id: int | None,
    claim_id: str | None,
    states: str | None,
    overdue: bool,
    summary: bool,
    as_json: bool,
) -> None:
    """Each claim's lifecycle: uploaded, acknowledged, paid or denied, with reasons."""
    app.say_state_dir()
    report_status(
        app,
        account_name,
        batch_id,
        claim_id,
        as_json,
        states=_states(states),
        overdue_only=overdue,
        summary=summary,
    )


def report_status(
    app: App,
    account_name: str | None = None,
    batch_id: int | None = None,
    claim_id: str | None = None,
    as_json: bool = False,
    *,
    states: frozenset[ClaimState] | None = None,
    overdue_only: bool = False,
    summary: bool = False,
) -> None:
    """Print the status table (or JSON); the demo prints it too."""
    from claimferry.remits import claim_money, patient_balances

    now = datetime.now(UTC)
    limits: dict[str, tuple[float, int]] = {}
    with app.open_ledger() as ledger:
        app.account_filter(account_name, ledger)
        records = ledger.claims(account=account_name, batch_id=batch_id, claim_id=claim_id)
        all_batches = {b.id: b for b in ledger.batches(account_name)}
        money = claim_money(ledger, (r.row for r in records))
        balances = patient_balances(ledger, money)
        replaced = replaced_submissions(records, all_batches)
        claims: list[dict[str, Any]] = []
        for record in records:
            if states is not None and record.state not in states:
                continue
            batch = all_batches.get(record.batch_id) if record.batch_id is not None else None
            sent_at = datetime.fromisoformat(batch.created_at) if batch is not None else None
            limit = limits.setdefault(record.account, _limits(app, record.account))
            # a replaced submission waits for nothing: its replacement does
            superseded = record.row in replaced
            why_overdue = None if superseded else overdue_reason(record, sent_at, limit, now)
            if overdue_only and why_overdue is None:
                continue
            age = (now - sent_at).days if sent_at is not None else None
            paid = money.get(record.row)
            balance = balances.get(record.row)
            built_from, next_payer = (
                ledger.next_payer_links(record.account, record.claim_id)
                if claim_id is not None
                else (None, [])
            )
            claims.append(
                {
                    "account": record.account,
                    "batch": record.batch_id,
                    "claim": record.claim_id,
                    "payer": record.payer_id,
                    "charge": str(record.charge) if record.charge is not None else None,
                    "state": record.state.value,
                    "paid": str(paid.paid) if paid else None,
                    "patient_responsibility": str(paid.patient_responsibility) if paid else None,
                    "patient_balance": str(balance.amount) if balance else None,
                    "patient_balance_passed_to": balance.passed_to if balance else None,
                    "overdue": why_overdue is not None,
                    "overdue_reason": why_overdue,
                    "age_days": age,
                    "aging_bucket": _bucket(age) if age is not None else None,
                    "replaced_by_batch": replaced.get(record.row),
                    "built_from": built_from,
                    "next_payer_claims": next_payer,
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
                        for e in ledger.claim_events(record.row)
                    ],
                }
            )
        batches = [
            batch_json(b) for b in all_batches.values() if batch_id is None or b.id == batch_id
        ]
    if summary:
        _print_summary(claims, as_json)
        return
    if as_json:
        emit_json({"claims": claims, "batches": batches})
        return
    if not claims:
        filtered = any(x is not None for x in (account_name, batch_id, claim_id, states))
        click.echo("no claims match" if filtered or overdue_only else "no claims recorded")
    elif claim_id is not None:
        _print_histories(claims)
    else:
        _print_table(claims, overdue_only)
    _warn_batches(batches)


def _print_table(claims: list[dict[str, Any]], overdue_only: bool) -> None:
    rows = []
    for c in claims:
        detail = c["detail"] or ""
        if c["replaced_by_batch"] is not None:
            detail = f"replaced by batch {c['replaced_by_batch']}; {detail}"
        state = c["state"] + (" OVERDUE" if c["overdue"] else "")
        row = [
            c["account"],
            str(c["batch"] or "-"),
            c["claim"],
            c["payer"] or "-",
            money(c["charge"]),
            state,
        ]
        if overdue_only:
            age = "-" if c["age_days"] is None else str(c["age_days"])
            rows.append([*row, age, c["aging_bucket"] or "-", _short(c["overdue_reason"] or "")])
        else:
            updated = c["updated_at"][:16].replace("T", " ")
            rows.append([*row, updated, _path(c["history"]), _short(detail)])
    headers = ["ACCOUNT", "BATCH", "CLAIM", "PAYER", "CHARGE", "STATE"]
    tail = ["AGE", "BUCKET", "WHY"] if overdue_only else ["UPDATED", "PATH", "DETAIL"]
    click.echo(table(rows, [*headers, *tail]))


def _print_summary(claims: list[dict[str, Any]], as_json: bool) -> None:
    """Per account and state: claims, charged, paid, the patient's balance (netted over
    the next payers' claims, so a visit billed on is counted once), outstanding (charges
    still waiting for a final answer, a replaced submission's not counted); and the open
    claims' aging."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    aging: dict[str, dict[str, int]] = {}
    for c in claims:
        entry = totals.setdefault(
            (c["account"], c["state"]),
            {
                "account": c["account"],
                "state": c["state"],
                "claims": 0,
                "charged": Decimal(0),
                "paid": Decimal(0),
                "patient_balance": Decimal(0),
                "outstanding": Decimal(0),
            },
        )
        charge = Decimal(c["charge"] or 0)
        entry["claims"] += 1
        entry["charged"] += charge
        entry["paid"] += Decimal(c["paid"] or 0)
        entry["patient_balance"] += Decimal(c["patient_balance"] or 0)
        if ClaimState(c["state"]) not in FINAL and c["replaced_by_batch"] is None:
            entry["outstanding"] += charge
            if c["aging_bucket"] is not None:
                buckets = aging.setdefault(
                    c["account"], dict.fromkeys([b for _, b in AGING_BUCKETS] + ["90+"], 0)
                )
                buckets[c["aging_bucket"]] += 1
    entries = [totals[key] for key in sorted(totals)]
    if as_json:
        emit_json(
            {
                "states": [
                    {k: str(v) if isinstance(v, Decimal) else v for k, v in e.items()}
                    for e in entries
                ],
                "aging": aging,
            }
        )
        return
    if not entries:
        click.echo("no claims recorded")
        return
    amounts = ("charged", "paid", "patient_balance", "outstanding")
    rows = [
        [e["account"], e["state"], str(e["claims"]), *(money(e[m]) for m in amounts)]
        for e in entries
    ]
    headers = ["ACCOUNT", "STATE", "CLAIMS", "CHARGED", "PAID", "PATIENT", "OUTSTANDING"]
    click.echo(table(rows, headers))
    for account, buckets in sorted(aging.items()):
        spread = ", ".join(f"{label} days: {count}" for label, count in buckets.items())
        click.echo(f"{account} open claims by age: {spread}")


def _warn_batches(batches: list[dict[str, Any]]) -> None:
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
        overdue = f"  OVERDUE: {c['overdue_reason']}" if c["overdue"] else ""
        click.echo(
            f"claim {c['claim']}  account {c['account']}  batch {c['batch'] or '-'}  "
            f"payer {c['payer'] or '-'}  charge {money(c['charge'])}  now {c['state']}{overdue}"
        )
        if c["payer_claim_number"]:
            click.echo(f"  payer claim number {c['payer_claim_number']}")
        if c["paid"] is not None:
            click.echo(
                f"  paid {money(c['paid'])} over all remittances, "
                f"patient responsibility {money(c['patient_responsibility'])}"
            )
            passed_to = c["patient_balance_passed_to"]
            after = f" (the rest went to the next payer's claim {passed_to})" if passed_to else ""
            click.echo(f"  patient balance {money(c['patient_balance'])}{after}")
        if c["replaced_by_batch"] is not None:
            click.echo(f"  replaced by batch {c['replaced_by_batch']}")
        if c["built_from"] is not None:
            click.echo(f"  bills the next payer for claim {c['built_from']}")
        for built in c["next_payer_claims"]:
            click.echo(f"  next payer: {built} claim")
        for h in c["history"]:
            amount = f"  {money(h['amount'])}" if h["amount"] else ""
            detail = f"  {h['detail']}" if h["detail"] else ""
            source = f"  ({h['file']})" if h["file"] else ""
            click.echo(f"  {h['at']}  {h['state']}{amount}{detail}{source}")


@click.command(epilog=examples("claimferry audit", "claimferry audit --account sunrise --json"))
@click.option("--account", "account_name", help="Only this account.")
@json_option
@pass_app
def audit(app: App, account_name: str | None, as_json: bool) -> None:
    """The append-only audit trail: who, when, which account, host, file, size, SHA-256."""
    with app.open_ledger() as ledger:
        entries = ledger.audit_entries(app.account_filter(account_name, ledger))
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


@click.command(
    epilog=examples(
        "claimferry show 100000001_ERA_835_5010_20261202.835",
        "claimferry show out.837 --show-phi",
    )
)
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--show-phi",
    is_flag=True,
    help="Show names, member ids, birth dates and addresses (masked by default).",
)
@json_option
@pass_app
def show(app: App, path: Path, show_phi: bool, as_json: bool) -> None:
    """Render a response file (TA1, 999, 277CA, 835, clearinghouse reports) or an 837P
    we sent (claims, lines, totals, envelope) for a person.

    A file kept in the database (``archive: database``) is named as ``batches list``
    and ``fetch`` name it: ``db:ACCOUNT/sent/NAME`` or ``db:ACCOUNT/received/NAME``.
    """
    from claimferry.storage import IN_DATABASE, ArchiveMissing

    reference = str(path)
    if not reference.startswith(IN_DATABASE):
        _show(app, path, show_phi, as_json)
        return
    try:
        with app.open_ledger() as ledger, ledger.archive.local(reference) as copy:
            _show(app, copy, show_phi, as_json)
    except ArchiveMissing:
        raise InputError([Problem(reference, "", "not in the database's archive")]) from None


def _show(app: App, path: Path, show_phi: bool, as_json: bool) -> None:
    from claimferry.lifecycle import find_reader
    from claimferry.x12.responses import detect_kind, is_837p, read_response

    if not path.is_file():
        raise InputError([Problem(str(path), "", "file not found")])
    kind = detect_kind(path)
    if kind is None and is_837p(path):
        _show_837p(path, show_phi, as_json)
        return
    if kind is not None:
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


def _show_837p(path: Path, show_phi: bool, as_json: bool) -> None:
    """Streamed: the file is checked whole first, then listed one claim at a time."""
    from claimferry.x12.claims837 import read_837p_file

    claims = read_837p_file(path)
    if as_json:
        for chunk in claims.json_chunks(phi=show_phi):
            click.echo(chunk, nl=False)
        return
    for line in claims.render_lines(phi=show_phi):
        click.echo(line)
    for notice in claims.notices:
        click.echo(f"notice: {notice}", err=True)
