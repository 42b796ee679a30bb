"""``claimferry credentials``: test a login, and keep secrets in the credential store.

Secrets are read from a no-echo prompt or stdin, never from the command line
(where ``ps`` and shell history would show them), and no output, log line or
audit entry holds one.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from claimferry import connection
from claimferry.cli.app import App, BadInput, emit_json, json_option, pass_app
from claimferry.cli.output import examples
from claimferry.credentials import Credentials, SecretStr
from claimferry.credstore import (
    MASTER_KEY_ENV,
    NEW_MASTER_KEY_ENV,
    STORE_SOURCE,
    CredentialStore,
    StoredInfo,
    generate_master_key,
    load_master_key,
)
from claimferry.errors import ClaimferryError
from claimferry.failpoints import failpoint
from claimferry.ledger import (
    CREDENTIALS_REMOVED,
    CREDENTIALS_STORED,
    CREDENTIALS_USED,
    MASTER_KEY_FORGOTTEN,
    MASTER_KEY_ROTATED,
    current_actor,
)


@click.group(
    epilog=examples("claimferry credentials test sunrise", "claimferry credentials show sunrise")
)
def credentials() -> None:
    """Test an account's login; keep SFTP secrets in the encrypted credential store."""


@credentials.command(
    "test",
    epilog=examples(
        "claimferry credentials test sunrise", "claimferry credentials test sunrise --json"
    ),
)
@click.argument("account_name", metavar="ACCOUNT")
@json_option
@pass_app
def credentials_test(app: App, account_name: str, as_json: bool) -> None:
    """Connect and log in with the account's credentials; print no secret.

    One login attempt, even after a refused one: this is how an account whose
    login was refused is allowed to log in again once its password is fixed.
    """
    account = app.account(account_name)
    with app.open_ledger() as ledger:
        session = connection.connect(app.pm, ledger, account, after_refusal=True)
    try:
        fingerprint = session.host_fingerprint
        waiting = len(session.list_responses())
    finally:
        session.close()
    if as_json:
        emit_json(
            {
                "account": account.name,
                "host_fingerprint": fingerprint,
                "responses_waiting": waiting,
            }
        )
    else:
        click.echo(
            f"{account.name}: login ok (host {fingerprint}); {waiting} response file(s) waiting"
        )


@credentials.command(
    "set",
    epilog=examples(
        "claimferry credentials set sunrise",
        "claimferry credentials set sunrise --stdin",
    ),
)
@click.argument("account_name", metavar="ACCOUNT")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the username (first line) and the password (second line) from stdin.",
)
@json_option
@pass_app
def credentials_set(app: App, account_name: str, from_stdin: bool, as_json: bool) -> None:
    """Store the account's SFTP username and password, encrypted, in the state database.

    Office Ally e-mails the SFTP username and the password separately: each is
    asked for on its own, without echo (the password twice), or read from
    stdin with --stdin. Never on the command line. The master key comes from
    CLAIMFERRY_MASTER_KEY, _FILE, _COMMAND or _KEYRING (see docs/credentials.md).

    \b
    Examples:
      claimferry credentials set sunrise
      printf '%s\\n%s\\n' "$OA_USER" "$OA_PASS" | claimferry credentials set sunrise --stdin
    """
    account = app.account(account_name)
    master = load_master_key()  # before asking: a missing key should not waste the typing
    username, password = _read_stdin() if from_stdin else _prompt()
    secrets = Credentials(username=username, password=SecretStr(password))
    with app.open_ledger() as ledger, ledger.transaction():
        info = CredentialStore(ledger.db).put(account.name, secrets, master, actor=current_actor())
        ledger.audit(
            CREDENTIALS_STORED,
            account=account.name,
            detail=f"username {info.username_fingerprint}, master key {info.master_key_id}",
        )
    source = account.credentials.source if account.credentials else None
    note = (
        None
        if source == STORE_SOURCE
        else f"account {account.name} takes its credentials from "
        f"{f'source {source!r}' if source else 'no source'}: set credentials: "
        f"{{source: {STORE_SOURCE}}} in the config to use the stored ones"
    )
    if as_json:
        emit_json(_info_json(info, datetime.now(UTC), source) | {"note": note})
        return
    click.echo(
        f"{account.name}: credentials stored (username {info.username_fingerprint}, "
        f"master key {info.master_key_id})"
    )
    if note:
        click.echo(f"note: {note}", err=True)


def _prompt() -> tuple[str, str]:
    """Asked one at a time, as they arrive in two e-mails; nothing echoed."""
    username = click.prompt("SFTP username", hide_input=True, err=True)
    password = click.prompt(
        "SFTP password",
        hide_input=True,
        confirmation_prompt="SFTP password (again)",
        err=True,
    )
    return _required(username, "the username"), _required(password, "the password")


def _read_stdin() -> tuple[str, str]:
    lines = sys.stdin.read().splitlines()
    if len(lines) != 2:
        raise BadInput(
            f"stdin: expected 2 lines, the SFTP username then the SFTP password; got {len(lines)}"
        )
    return _required(lines[0], "line 1 (the username)"), _required(
        lines[1], "line 2 (the password)"
    )


def _required(value: str, what: str) -> str:
    if not value or value != value.strip():
        raise BadInput(
            f"{what} is empty or starts or ends with white space; not stored "
            "(paste it again, without the e-mail's spaces or line ends)"
        )
    return value


@credentials.command("show", epilog=examples("claimferry credentials show sunrise --json"))
@click.argument("account_name", metavar="ACCOUNT")
@json_option
@pass_app
def credentials_show(app: App, account_name: str, as_json: bool) -> None:
    """What is known about the account's credentials, never the secrets themselves.

    Its source; for the store, who set them and when, their age, a fingerprint
    of the username (SHA-256, to compare with the one Office Ally sent) and the
    master key they are wrapped by; and when a command last used them.
    """
    account = app.account(account_name)
    source = account.credentials.source if account.credentials else None
    now = datetime.now(UTC)
    with app.open_ledger() as ledger:
        info = CredentialStore(ledger.db).info(account.name)
        used = [e for e in ledger.audit_entries(account.name) if e.action == CREDENTIALS_USED]
    last_used = used[-1].at if used else None
    if as_json:
        data = _info_json(info, now, source) if info else {"account": account.name}
        emit_json(data | {"source": source, "stored": info is not None, "last_used": last_used})
    else:
        click.echo(f"{account.name}: credential source {source or '(none configured)'}")
        if info is None:
            click.echo("  nothing in the credential store")
        else:
            click.echo(f"  stored by {info.set_by} at {info.set_at:%Y-%m-%d %H:%M} UTC")
            click.echo(f"  age {info.age_days(now)} day(s)")
            click.echo(f"  username {info.username_fingerprint}")
            click.echo(f"  master key {info.master_key_id}")
            if info.rewrapped_at is not None:
                click.echo(f"  re-wrapped at {info.rewrapped_at:%Y-%m-%d %H:%M} UTC")
        click.echo(f"  last used {last_used or 'never'}")
    if source == STORE_SOURCE and info is None:
        raise ClaimferryError(
            f"account {account.name} takes its credentials from the store, which has none "
            f"for it: claimferry credentials set {account.name}"
        )


def _info_json(info: StoredInfo, now: datetime, source: str | None) -> dict[str, Any]:
    return {
        "account": info.account,
        "source": source,
        "set_by": info.set_by,
        "set_at": info.set_at.isoformat(),
        "age_days": info.age_days(now),
        "username_fingerprint": info.username_fingerprint,
        "master_key_id": info.master_key_id,
        "rewrapped_at": info.rewrapped_at.isoformat() if info.rewrapped_at else None,
    }


@credentials.command("remove", epilog=examples("claimferry credentials remove sunrise --yes"))
@click.argument("account_name", metavar="ACCOUNT")
@click.option("--yes", is_flag=True, help="Remove without asking.")
@json_option
@pass_app
def credentials_remove(app: App, account_name: str, yes: bool, as_json: bool) -> None:
    """Delete the account's credentials from the store (the config is not changed)."""
    with app.open_ledger() as ledger:
        stored = CredentialStore(ledger.db).info(account_name) is not None
    if not stored:  # checked before asking: a typo is an error, not a question
        app.account(account_name)  # an account the config does not know: exit code 2
        raise ClaimferryError(f"account {account_name}: nothing in the credential store")
    if not yes and not click.confirm(f"Delete the stored credentials of {account_name}?", err=True):
        raise ClaimferryError("nothing removed; pass --yes to remove without asking")
    with app.open_ledger() as ledger, ledger.transaction():
        if not CredentialStore(ledger.db).remove(account_name):
            raise ClaimferryError(f"account {account_name}: nothing in the credential store")
        ledger.audit(CREDENTIALS_REMOVED, account=account_name)
    if as_json:
        emit_json({"account": account_name, "removed": True})
    else:
        click.echo(f"{account_name}: stored credentials removed")


@credentials.command(
    "rotate-master-key",
    epilog=examples("claimferry credentials rotate-master-key --json"),
)
@json_option
@pass_app
def rotate_master_key(app: App, as_json: bool) -> None:
    """Re-wrap every account's data key under a new master key, all in one transaction.

    The current key comes from CLAIMFERRY_MASTER_KEY (or _FILE, _COMMAND,
    _KEYRING), the new one from CLAIMFERRY_NEW_MASTER_KEY (or _FILE, ...). If
    the run is cut short, every secret is still under the old key; once it
    reports success, every one is under the new key: switch
    CLAIMFERRY_MASTER_KEY to it then.
    """
    old = load_master_key(MASTER_KEY_ENV)
    new = load_master_key(NEW_MASTER_KEY_ENV)
    with app.open_ledger() as ledger, ledger.transaction():
        count = CredentialStore(ledger.db).rotate(old, new)
        ledger.audit(
            MASTER_KEY_ROTATED,
            detail=f"{count} data key(s) re-wrapped from master key {old.key_id} to {new.key_id}",
        )
    failpoint("rotate-committed")
    if as_json:
        emit_json({"rewrapped": count, "old_key_id": old.key_id, "new_key_id": new.key_id})
        return
    click.echo(
        f"re-wrapped {count} data key(s) under master key {new.key_id}; from now on give that "
        f"key as {MASTER_KEY_ENV} (or _FILE, _COMMAND, _KEYRING) and retire {old.key_id}"
    )


@credentials.command(
    "forget-master-key", epilog=examples("claimferry credentials forget-master-key --yes")
)
@click.option("--yes", is_flag=True, help="Forget without asking.")
@pass_app
def forget_master_key(app: App, yes: bool) -> None:
    """Let an emptied store take a new master key, after the old one was lost.

    The store takes only the master key it was first set (or last rotated)
    with, even when empty, so a mistyped key path is refused. If that key is
    lost, its secrets are lost too: remove them (`credentials remove`), then
    forget the key here; the next `credentials set` records the new one.
    """
    if not yes and not click.confirm("Forget the credential store's master key?", err=True):
        raise ClaimferryError("nothing changed; pass --yes to forget without asking")
    with app.open_ledger() as ledger, ledger.transaction():
        expected = CredentialStore(ledger.db).forget_master_key()
        if expected is not None:
            ledger.audit(MASTER_KEY_FORGOTTEN, detail=f"master key {expected}")
    if expected is None:
        click.echo("the credential store has no master key recorded yet; nothing to forget")
    else:
        click.echo(f"forgot master key {expected}; the next `credentials set` records its key")


@credentials.command(
    "new-master-key", epilog=examples("claimferry credentials new-master-key --file master.key")
)
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the key to this new file (mode 0600) instead of printing it.",
)
def new_master_key(path: Path | None) -> None:
    """Make a random 256-bit master key (base64), for the credential store.

    Keep it apart from the state directory: in a KMS or Vault, the OS keyring,
    or a 0600 file on another volume. Lost, every stored secret is lost with it.
    """
    key = generate_master_key()
    if path is None:
        click.echo(key)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BadInput(f"{path} exists; a master key file is never overwritten") from None
    except OSError as exc:
        raise ClaimferryError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    click.echo(f"wrote a new master key to {path} (mode 0600); use it with {MASTER_KEY_ENV}_FILE")
