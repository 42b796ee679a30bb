"""Office Ally's payer list: the ``claimferry payers`` commands and the enrollment validator."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from claimferry.api import (
    App,
    ClaimferryError,
    ClaimferryGroup,
    CliCommand,
    EnrollmentValidator,
    emit_json,
    examples,
    hookimpl,
    json_option,
    pass_app,
    table,
)

if TYPE_CHECKING:  # the payer list and sqlite3 are imported by the commands that use them
    from claimferry_officeally.payers import Change, ImportResult, Listing, PayerList

_TRANSACTION = re.compile(r"\d{3}[A-Z]?(?:/\d{3})?")
"""How the payer list writes a transaction: 837P, 835, 270/271."""
_PAIRS = {"270": "270/271", "271": "270/271", "276": "276/277", "277": "276/277"}
"""Request and answer are listed together; either half names the pair."""
_NOT_IMPORTED = "no Office Ally payer list imported; run `claimferry payers import FILE`"


@hookimpl
def claimferry_cli_commands() -> Iterator[CliCommand]:
    yield CliCommand(name="payers", command=payers, description="Office Ally's payer list")


@hookimpl
def claimferry_enrollment_validators() -> Iterator[EnrollmentValidator]:
    from claimferry_officeally.enrollment_checks import VALIDATOR, check_enrollment

    yield EnrollmentValidator(
        name=VALIDATOR,
        check=check_enrollment,
        description="Office Ally payer list and the account's EDI/ERA enrollment",
        kind="enrollment",
    )


@click.group(
    "payers",
    cls=ClaimferryGroup,
    epilog=examples(
        "claimferry payers import payer_list.csv",
        "claimferry payers search aetna --transaction 837P",
    ),
)
def payers() -> None:
    """Office Ally's payer list: which payers take which transactions, and what they require."""


def _open_existing(app: App) -> PayerList:
    from claimferry_officeally.payers import PayerList

    found = PayerList.open_existing(app.state_dir, app.database)
    if found is None:
        raise ClaimferryError(_NOT_IMPORTED)
    return found


@payers.command("import", epilog=examples("claimferry payers import payer_list.csv"))
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@pass_app
def import_command(app: App, path: Path, as_json: bool) -> None:
    """Replace the payer list with Office Ally's export (CSV), all at once or not at all.

    Download it from Office Ally's portal as CSV. Rows with an unknown
    transaction are skipped with a warning; any other problem stops the import
    and nothing changes. Prints what changed since the last import.
    """
    from claimferry_officeally.payers import PayerList, parse_payer_list

    parsed = parse_payer_list(path)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    with PayerList.open(app.state_dir, app.database) as store:
        result = store.replace(parsed, str(path))
        where = store.where
    if as_json:
        emit_json(_import_json(result))
        return
    click.echo(
        f"imported {result.listings} listings ({result.payer_ids} payer IDs) from {path} "
        f"into {where}"
    )
    if result.first_import:
        click.echo("first import: every payer ID and transaction is new")
        return
    click.echo(
        f"{len(result.added)} added, {len(result.removed)} removed, "
        f"{len(result.changed)} changed (payer ID + transaction)"
    )
    for sign, changes in (("+", result.added), ("-", result.removed), ("~", result.changed)):
        for change in changes:
            fields = f"  ({', '.join(change.fields)})" if change.fields else ""
            click.echo(f"  {sign} {change.payer_id}  {change.transaction}{fields}")


def _import_json(result: ImportResult) -> dict[str, Any]:
    def changes(items: Sequence[Change]) -> list[dict[str, Any]]:
        return [c.as_json() for c in items]

    return {
        "file": result.source,
        "listings": result.listings,
        "payer_ids": result.payer_ids,
        "first_import": result.first_import,
        "added": changes(result.added),
        "removed": changes(result.removed),
        "changed": changes(result.changed),
        "warnings": [{"location": w.location, "message": w.message} for w in result.warnings],
    }


def _transaction_code(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    code = "".join(value.upper().split())
    code = _PAIRS.get(code, code)
    if not _TRANSACTION.fullmatch(code):
        raise click.BadParameter(f"expected a transaction such as 837P, 835 or 270, not {value!r}")
    return code


@payers.command(
    "search",
    epilog=examples(
        "claimferry payers search aetna",
        "claimferry payers search aetna --transaction 835 --limit 50",
    ),
)
@click.argument("text")
@click.option(
    "--transaction",
    metavar="837P|835|270|276|...",
    callback=_transaction_code,
    help="Only payer IDs listed for this transaction.",
)
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Payers shown."
)
@json_option
@pass_app
def search_command(app: App, text: str, transaction: str | None, limit: int, as_json: bool) -> None:
    """Find payers by payer ID or name (any part, any case).

    An exact payer ID comes first, then the IDs that take claims (837P), then
    remittances (835), then the rest.
    """
    with _open_existing(app) as store:
        found = store.search(text, limit, transaction)
        more = store.count(text, transaction) - len(found) if len(found) == limit else 0
    hint = f"{more} more; use --limit {min(limit + more, 1000)}" if more else ""
    if as_json:
        emit_json(
            [
                {
                    "payer_id": group[0].payer_id,
                    "name": group[0].name,
                    "transactions": [item.transaction for item in group],
                }
                for group in found
            ]
        )
        if hint:
            click.echo(hint, err=True)
        return
    if found:
        rows = [
            [group[0].payer_id, group[0].name, ", ".join(item.transaction for item in group)]
            for group in found
        ]
        click.echo(table(rows, ["PAYER_ID", "NAME", "TRANSACTIONS"]))
    if hint:
        click.echo(hint)
    if not found:
        what = f" listed for {transaction}" if transaction else ""
        click.echo(f"no payer{what} matches {text!r}", err=True)


def _flags(item: Listing) -> str:
    parts = [
        "available" if item.available else "NOT available",
        "enrollment required" if item.enrollment else "no enrollment",
        "NON-PAR (fee)" if item.non_par else "par",
        "secondary ok" if item.secondary else "no secondary",
        "attachments ok" if item.attachment else "no attachments",
    ]
    if item.wc_auto:
        parts.append(item.wc_auto)
    return ", ".join(parts)


@payers.command(
    "show", epilog=examples("claimferry payers show 60054", "claimferry payers show 60054 --json")
)
@click.argument("payer_id", metavar="ID")
@json_option
@pass_app
def show_command(app: App, payer_id: str, as_json: bool) -> None:
    """What a payer ID requires for each transaction, under each name it is listed with."""
    with _open_existing(app) as store:
        found = store.listings(payer_id)
    if not found:
        raise ClaimferryError(
            f"payer ID {payer_id} is not on Office Ally's payer list; "
            "try `claimferry payers search NAME`"
        )
    if as_json:
        emit_json({"payer_id": found[0].payer_id, "listings": [i.as_json() for i in found]})
        return
    name = None
    for item in found:
        if item.name != name:
            name = item.name
            click.echo(f"{item.payer_id}  {item.name}")
        click.echo(f"  {item.transaction_label}: {_flags(item)}")
        for line in item.notes.splitlines():
            if line.strip():
                click.echo(f"      {line.strip()}")
