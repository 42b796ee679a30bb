"""``claimferry db``: which database holds the ledger, its schema, and moving it."""

from __future__ import annotations

import click

from claimferry.cli.app import App, ClaimferryGroup, emit_json, json_option, pass_app
from claimferry.cli.output import examples, table
from claimferry.errors import ClaimferryError


@click.group(
    "db",
    cls=ClaimferryGroup,
    epilog=examples(
        "claimferry db status",
        "claimferry db copy --from sqlite:///var/lib/claimferry/ledger.sqlite3 "
        "--to postgresql://claimferry@db.internal/claimferry",
    ),
)
def db() -> None:
    """The state database: where the ledger is, its schema version, moving it to PostgreSQL."""


def _database_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from claimferry.config import check_database_url

    try:
        return check_database_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


DATABASE_OPTION = click.option(
    "--database",
    metavar="URL",
    callback=_database_option,
    help="This database (postgresql://... or sqlite:///PATH) instead of the config's.",
)


def _location(app: App, database: str | None) -> tuple[str, str]:
    """The ledger's database as it is opened, and as messages name it."""
    from claimferry.database import redacted_location
    from claimferry.ledger import ledger_location

    if database is None:
        path, url = ledger_location(app.state_dir, app.database)
        database = url or str(path)
    return database, redacted_location(database)


@db.command(
    "status",
    epilog=examples(
        "claimferry db status",
        "claimferry db status --database postgresql://db.internal/claimferry",
    ),
)
@DATABASE_OPTION
@json_option
@pass_app
def status(app: App, database: str | None, as_json: bool) -> None:
    """The ledger's database, its schema version and whether an upgrade is due.

    It creates nothing: a database without a ledger says so.
    """
    from claimferry.database import connect_database, is_database_url, schema_version
    from claimferry.ledger import ledger_exists, ledger_migrations

    location, shown = _location(app, database)
    engine = "postgresql" if is_database_url(location) else "sqlite"
    if not ledger_exists(app.state_dir, location):
        document = {"database": shown, "engine": engine, "exists": False, "version": 0}
    else:
        connection = connect_database(location)
        try:
            version, latest = schema_version(connection), len(ledger_migrations(connection))
        finally:
            connection.close()
        document = {
            "database": shown,
            "engine": engine,
            "exists": True,
            "version": version,
            "latest": latest,
            "upgrade_due": version < latest,
            "newer_than_this_claimferry": version > latest,
        }
    if as_json:
        emit_json({"ok": True, **document})
        return
    if not document["exists"]:
        click.echo(f"no ledger yet in {shown} ({engine}); the first command that writes creates it")
        return
    verdict = (
        "up to date"
        if version == latest
        else f"upgrade due: run `claimferry db upgrade` ({latest - version} step(s))"
        if version < latest
        else "written by a newer claimferry: upgrade claimferry"
    )
    click.echo(table([[shown, engine, str(version), str(latest), verdict]],
                     ["database", "engine", "schema", "latest", "state"]))  # fmt: skip


@db.command("upgrade", epilog=examples("claimferry db upgrade"))
@DATABASE_OPTION
@json_option
@pass_app
def upgrade(app: App, database: str | None, as_json: bool) -> None:
    """Bring the ledger's schema to this claimferry's version (creating it if new).

    Every command does this when it opens the ledger; run it on its own in a
    deployment step, before the workers of a new release start.
    """
    from claimferry.database import (
        connect_database,
        is_database_url,
        migrate_schema,
        schema_version,
    )
    from claimferry.ledger import ledger_migrations

    location, shown = _location(app, database)
    connection = connect_database(location)
    try:
        before = schema_version(connection)
        migrate_schema(connection, ledger_migrations(connection), shown)
        after = schema_version(connection)
    finally:
        connection.close()
    queue = None
    if is_database_url(location):
        from claimferry.cli.queue import queue_module

        queue = "created" if queue_module().apply_queue_schema(location) else "present"
    if as_json:
        emit_json({"ok": True, "database": shown, "from": before, "to": after, "queue": queue})
        return
    if before == after:
        click.echo(f"{shown}: schema {after}, already up to date")
    else:
        click.echo(f"{shown}: schema {before} -> {after}")
    if queue is not None:
        click.echo(f"task queue tables: {queue}")


@db.command(
    "copy",
    epilog=examples(
        "claimferry db copy --from sqlite:///srv/claimferry/state/ledger.sqlite3 "
        "--to postgresql://claimferry@db.internal/claimferry"
    ),
)
@click.option(
    "--from", "source", required=True, metavar="DATABASE",
    help="The ledger to copy: sqlite:///PATH (or a path) or postgresql://...",
)  # fmt: skip
@click.option(
    "--to", "target", required=True, metavar="DATABASE",
    help="An empty database to copy it into: postgresql://... or sqlite:///PATH.",
)  # fmt: skip
@json_option
def copy(source: str, target: str, as_json: bool) -> None:
    """Copy a ledger with all its history into an empty database, and prove it.

    Ids, control numbers, claim events, remittances, enrollment, stored
    credentials and the audit trail come across unchanged; the source is held
    against writes while it is read. Every table's row count and checksum are
    then compared on both sides; any difference fails the command (exit 1).
    Point the config's `database:` at the target afterwards.
    """
    from claimferry.database import redacted_location
    from claimferry.ledger_copy import copy_ledger, holds_ledger

    if not holds_ledger(source):
        raise click.BadParameter(
            f"{redacted_location(source)} holds no ledger", param_hint="--from"
        )
    tables = copy_ledger(source, target)
    differing = [t.table for t in tables if not t.matches]
    if as_json:
        emit_json(
            {
                "ok": not differing,
                "from": redacted_location(source),
                "to": redacted_location(target),
                "tables": [
                    {"table": t.table, "rows": t.rows, "checksum": t.checksum,
                     "target_rows": t.target_rows, "target_checksum": t.target_checksum}
                    for t in tables
                ],
            }
        )  # fmt: skip
    else:
        rows = [
            [t.table, str(t.rows), str(t.target_rows), t.checksum[:16],
             "same" if t.matches else "DIFFERENT"]
            for t in tables
        ]  # fmt: skip
        click.echo(table(rows, ["table", "rows", "copied", "checksum", "check"]))
        click.echo(
            f"copied {sum(t.rows for t in tables)} rows from {redacted_location(source)} "
            f"to {redacted_location(target)}"
        )
    if differing:
        raise ClaimferryError(
            f"the copy differs from the source in {', '.join(differing)}: do not switch to it"
        )
