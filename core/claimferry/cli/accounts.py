"""``claimferry accounts``: list, show, add and remove clinic accounts without hand-editing.

``add`` and ``remove`` rewrite the accounts config round-trip (config_edit.py):
the operator's comments, order and quoting stay, and the new file is checked
whole, as ``load_config`` checks it, before it replaces the old one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from claimferry.cli.app import App, BadInput, emit_json, json_option, pass_app
from claimferry.cli.output import examples, table
from claimferry.config import Account, find_config
from claimferry.config_edit import add_account, remove_account
from claimferry.errors import ClaimferryError

_MASK = "**********"


def _config_path(app: App) -> Path:
    path = find_config(app.config_path)
    if path is None:
        raise BadInput("no accounts config: pass --config FILE or set CLAIMFERRY_CONFIG")
    return path


@click.group(epilog=examples("claimferry accounts list", "claimferry accounts show sunrise"))
def accounts() -> None:
    """List, show, add and remove clinic accounts in the accounts config."""


@accounts.command(
    "list", epilog=examples("claimferry accounts list", "claimferry accounts list --json")
)
@json_option
@pass_app
def accounts_list(app: App, as_json: bool) -> None:
    """Every account: clearinghouse, submitter ID, mode, SFTP host, credential source."""
    rows = [_summary(account) for account in app.config().accounts.values()]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no accounts; add one with: claimferry accounts add NAME")
        return
    headers = ["ACCOUNT", "CLEARINGHOUSE", "SUBMITTER", "MODE", "SFTP HOST", "CREDENTIALS"]
    click.echo(table([[str(v or "-") for v in row.values()] for row in rows], headers))


def _summary(account: Account) -> dict[str, Any]:
    return {
        "account": account.name,
        "clearinghouse": account.clearinghouse,
        "submitter_id": account.submitter_id,
        "mode": account.mode,
        "sftp_host": account.sftp.host if account.sftp else None,
        "credentials_source": account.credentials.source if account.credentials else None,
    }


@accounts.command("show", epilog=examples("claimferry accounts show sunrise"))
@click.argument("account_name", metavar="ACCOUNT")
@json_option
@pass_app
def accounts_show(app: App, account_name: str, as_json: bool) -> None:
    """One account's settings, as claimferry reads them (defaults filled in).

    The credential source's settings are shown by name, their values masked,
    as everywhere else: a plugin's settings may hold anything.
    """
    account = app.account(account_name)
    data = account.model_dump(mode="json", exclude={"name", "credentials"})
    if account.credentials is not None:
        data["credentials"] = {"source": account.credentials.source} | {
            key: _MASK for key in account.credentials.settings
        }
    if as_json:
        emit_json({"account": account.name} | data)
        return
    click.echo(f"{account.name}:")
    _print_tree(data, "  ")


def _print_tree(data: dict[str, Any], indent: str) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{indent}{key}:")
            _print_tree(value, indent + "  ")
        elif value is not None:
            click.echo(f"{indent}{key}: {value}")


@accounts.command(
    "add",
    epilog=examples(
        "claimferry accounts add northside",
        "claimferry accounts add northside --clearinghouse officeally --submitter-id 330000123 "
        "--host sftp.officeally.com --credentials-source store --no-input",
    ),
)
@click.argument("account_name", metavar="ACCOUNT")
@click.option("--clearinghouse", help="The clearinghouse profile (asked for; officeally).")
@click.option("--submitter-id", help="The submitter ID the clearinghouse assigned (asked for).")
@click.option("--submitter-name", help="Loop 1000A name (default: the billing provider's).")
@click.option(
    "--mode",
    type=click.Choice(["test", "production"]),
    default="test",
    show_default=True,
    help="Where the clearinghouse routes the files: test first, production once promoted.",
)
@click.option("--host", help="The SFTP server (asked for).")
@click.option("--port", type=click.IntRange(1, 65535), help="The SFTP port (default 22).")
@click.option("--host-key", help="The server's public key to pin, '<type> <base64>'.")
@click.option(
    "--credentials-source",
    default="store",
    show_default=True,
    help="Where the SFTP secrets come from: store, env, file, keyring or a plugin's.",
)
@click.option("--contact-name", help="Who the clearinghouse calls about a file (asked for).")
@click.option("--contact-phone", help="Their 10-digit phone number (asked for).")
@click.option("--contact-email", help="Their e-mail address.")
@click.option(
    "--portal-username", help="The clinic's Office Ally (portal) login, for the SFTP request."
)
@click.option("--registered-email", help="The address the clinic registered with Office Ally.")
@click.option("--no-input", is_flag=True, help="Never ask: what is missing is an error.")
@json_option
@pass_app
def accounts_add(
    app: App,
    account_name: str,
    clearinghouse: str | None,
    submitter_id: str | None,
    submitter_name: str | None,
    mode: str,
    host: str | None,
    port: int | None,
    host_key: str | None,
    credentials_source: str,
    contact_name: str | None,
    contact_phone: str | None,
    contact_email: str | None,
    portal_username: str | None,
    registered_email: str | None,
    no_input: bool,
    as_json: bool,
) -> None:
    """Add a clinic account to the accounts config, asking for what the flags leave out.

    The config is checked whole before it is written (a bad submitter ID or
    host key is refused, exit 2, and the file is left as it was); comments and
    layout are kept. The SFTP password is not asked for here: store it with
    `claimferry credentials set ACCOUNT`.

    \b
    Examples:
      claimferry accounts add sunrise
      claimferry accounts add sunrise --clearinghouse officeally --submitter-id SUNRISE01 \\
          --host ftp10.officeally.com --contact-name "Billing Office" \\
          --contact-phone 2175550100 --no-input
    """
    path = _config_path(app)

    def ask(value: str | None, flag: str, prompt: str, default: str | None = None) -> str | None:
        if value is not None or no_input:
            return value if value is not None else default
        try:
            answer: str = click.prompt(
                prompt, default=default or "", show_default=bool(default), err=True
            )
        except click.Abort:
            raise BadInput(f"no answer for {flag}: give it as a flag") from None
        return answer.strip() or None

    clearinghouse = ask(clearinghouse, "--clearinghouse", "Clearinghouse", "officeally")
    submitter_id = ask(submitter_id, "--submitter-id", "Submitter ID (ISA06)")
    host = ask(host, "--host", "SFTP host (empty: none yet)")
    contact_name = ask(contact_name, "--contact-name", "Contact name (empty: none)")
    if contact_name and not contact_email:
        contact_phone = ask(contact_phone, "--contact-phone", "Contact phone, 10 digits")
    # what `onboard request-sftp` writes into the e-mail; optional, it can come later
    portal_username = ask(
        portal_username, "--portal-username", "Office Ally portal username (empty: later)"
    )
    registered_email = ask(
        registered_email,
        "--registered-email",
        "E-mail registered with Office Ally (empty: later)",
    )
    missing = [
        flag
        for flag, value in (("--clearinghouse", clearinghouse), ("--submitter-id", submitter_id))
        if not value
    ]
    if missing:
        raise BadInput(f"account {account_name}: {' and '.join(missing)} required")
    settings: dict[str, Any] = {"clearinghouse": clearinghouse, "submitter_id": submitter_id}
    if submitter_name:
        settings["submitter_name"] = submitter_name
    settings["mode"] = mode
    if contact_name or contact_phone or contact_email:
        settings["contact"] = _present(name=contact_name, phone=contact_phone, email=contact_email)
    if host or port or host_key:
        settings["sftp"] = _present(host=host, port=port, host_key=host_key)
    settings["credentials"] = {"source": credentials_source}
    if portal_username or registered_email:
        settings["onboarding"] = _present(
            portal_username=portal_username, registered_email=registered_email
        )
    add_account(path, account_name, settings, lambda data: app.check_config(data, str(path)))
    if as_json:
        emit_json({"account": account_name, "config": str(path), "added": True})
    else:
        click.echo(f"added account {account_name} to {path}")
    if credentials_source == "store":
        click.echo(f"  next: claimferry credentials set {account_name}", err=True)
    if host and not host_key:
        click.echo(f"  then: claimferry hostkey {account_name} --pin", err=True)


def _present(**values: Any) -> dict[str, Any]:
    """The settings given, in order; ``None`` is left out rather than written as null."""
    return {key: value for key, value in values.items() if value is not None}


@accounts.command("remove", epilog=examples("claimferry accounts remove northside --yes"))
@click.argument("account_name", metavar="ACCOUNT")
@click.option("--yes", is_flag=True, help="Remove without asking.")
@json_option
@pass_app
def accounts_remove(app: App, account_name: str, yes: bool, as_json: bool) -> None:
    """Take an account out of the accounts config.

    Its history stays in the ledger (status, audit and batches still show it)
    and its stored credentials stay in the store until `claimferry
    credentials remove ACCOUNT`.
    """
    path = _config_path(app)
    app.account(account_name)  # a misspelt name lists the known ones
    if not yes and not click.confirm(f"Remove account {account_name} from {path}?", err=True):
        raise ClaimferryError("nothing removed; pass --yes to remove without asking")
    remove_account(path, account_name, lambda data: app.check_config(data, str(path)))
    if as_json:
        emit_json({"account": account_name, "config": str(path), "removed": True})
    else:
        click.echo(f"removed account {account_name} from {path}")
