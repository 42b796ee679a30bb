"""``claimferry batches``: the operator's say over batches whose delivery is uncertain."""

from __future__ import annotations

from dataclasses import asdict

import click

from claimferry.cli.app import WAIT_OPTION, App, ClaimferryGroup, emit_json, json_option, pass_app
from claimferry.cli.output import examples, table
from claimferry.errors import ClaimferryError
from claimferry.ledger import Batch, BatchState, Ledger

OPERATOR = "operator decision"


@click.group(
    "batches",
    cls=ClaimferryGroup,
    epilog=examples("claimferry batches list --state uncertain", "claimferry batches resend 12"),
)
@pass_app
def batches(app: App) -> None:
    """List batches; resend or abandon one whose delivery is uncertain."""
    app.say_state_dir()


def batch_json(batch: Batch) -> dict[str, object]:
    """A batch as ``--json`` shows it (``status`` and ``batches``)."""
    return asdict(batch) | {"archive_path": str(batch.archive_path), "state": batch.state.value}


@batches.command(
    "list",
    epilog=examples(
        "claimferry batches list", "claimferry batches list --account sunrise --state uncertain"
    ),
)
@click.option("--account", "account_name", help="Only this account.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in BatchState]),
    help="Only batches in this state; repeat it for several.",
)
@json_option
@pass_app
def list_batches(
    app: App, account_name: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    """Every batch with its state, file name, size and control number."""
    with app.open_ledger() as ledger:
        account = app.account_filter(account_name, ledger)
        found = ledger.batches(account, [BatchState(s) for s in states] or None)
    if as_json:
        emit_json([batch_json(b) for b in found])
        return
    if not found:
        click.echo("no batches")
        return
    rows = [
        [
            str(b.id),
            b.account,
            b.state.value,
            f"{b.isa13:09d}",
            str(b.size),
            b.created_at[:16].replace("T", " "),
            b.file_name,
            b.error or "",
        ]
        for b in found
    ]
    headers = ["BATCH", "ACCOUNT", "STATE", "ISA13", "BYTES", "CREATED", "FILE", "ERROR"]
    click.echo(table(rows, headers))


def _uncertain(ledger: Ledger, batch_id: int) -> Batch:
    batch = ledger.batch(batch_id)
    if batch.state in (BatchState.BUILT, BatchState.UPLOADING):
        raise ClaimferryError(
            f"batch {batch_id} is {batch.state.value}: its run was interrupted before the "
            f"upload was confirmed, and it is not uncertain. Run 'claimferry submit CLAIMS "
            f"--account {batch.account}' again: it finishes this batch before anything new"
        )
    if batch.state is not BatchState.UNCERTAIN:
        raise ClaimferryError(
            f"batch {batch_id} is {batch.state.value}; only an uncertain batch needs this"
        )
    return batch


@batches.command(epilog=examples("claimferry batches resend 12"))
@click.argument("batch_id", metavar="BATCH", type=int)
@WAIT_OPTION
@json_option
@pass_app
def resend(app: App, batch_id: int, wait: float, as_json: bool) -> None:
    """Send an uncertain batch again: the same file, name and control numbers.

    Do this only after checking the clearinghouse's portal: if it already
    took the file, the same interchange control number makes it refuse the
    copy as a duplicate.
    """
    from claimferry import connection, submission  # paramiko and the writer: only when sending

    with app.open_ledger() as ledger:
        account = app.account(ledger.batch(batch_id).account)
        with ledger.sender_lock(account.name, command="batches resend", wait=wait):
            batch = _uncertain(ledger, batch_id)
            submission.audit_batch(ledger, "batch-resend", account.name, batch, None, OPERATOR)
            session = connection.connect(app.pm, ledger, account)
            try:
                sent = submission.deliver(ledger, session, batch, account.name)
            finally:
                session.close()
    if as_json:
        emit_json(batch_json(sent))
    else:
        click.echo(f"uploaded {sent.remote_name}  {sent.size} bytes  sha256 {sent.sha256}")


@batches.command(epilog=examples("claimferry batches abandon 12 --yes"))
@click.argument("batch_id", metavar="BATCH", type=int)
@click.option("--yes", is_flag=True, help="Confirm that the clearinghouse never received it.")
@WAIT_OPTION
@json_option
@pass_app
def abandon(app: App, batch_id: int, yes: bool, wait: float, as_json: bool) -> None:
    """Mark an uncertain batch as never delivered, so its claims can be submitted again."""
    from claimferry import submission

    if not yes:
        raise click.UsageError(
            "abandon only a batch the clearinghouse never received; confirm with --yes"
        )
    with app.open_ledger() as ledger:
        account = ledger.batch(batch_id).account
        with ledger.sender_lock(account, command="batches abandon", wait=wait):
            batch = _uncertain(ledger, batch_id)
            ledger.set_batch_state(batch.id, BatchState.FAILED, error="abandoned by an operator")
            submission.audit_batch(ledger, "batch-abandoned", batch.account, batch, None, OPERATOR)
            abandoned = ledger.batch(batch.id)
    if as_json:
        emit_json(batch_json(abandoned))
    else:
        click.echo(f"batch {batch_id} abandoned; its claims can be submitted again")
