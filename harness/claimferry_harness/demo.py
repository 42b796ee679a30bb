"""``claimferry demo``: the whole pipeline on one machine, against the mock Office Ally.

It starts the harness on a free loopback port, writes an accounts config
that pins the harness's host key, submits the bundled sample claims through
the real Office Ally plugin (found through the plugin manager, never
imported), waits for the answers, fetches and reads them, and prints each
claim's path. Everything stays in one folder, so ``claimferry status`` can
look again afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path

import click
import yaml

from claimferry.claims_input import load_claims
from claimferry.cli.app import App, pass_app
from claimferry.cli.lifecycle import report_status
from claimferry.cli.output import examples
from claimferry.config import STATE_ENV, load_config
from claimferry.database import DATABASE_ENV
from claimferry.errors import ClaimferryError
from claimferry.fetching import fetch_account
from claimferry.findings import Severity
from claimferry.ledger import Ledger
from claimferry.submission import submit_claims, validate_claims
from claimferry.types import ValidationContext
from claimferry_harness.server import MockOfficeAlly
from claimferry_harness.users import HarnessUser

ACCOUNT = "sunrise"
MARKER = ".claimferry-demo"
"""Marks a folder the demo made, so that a rerun may clear it and nothing else."""


def _prepare(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists():
            raise ClaimferryError(
                f"{folder} exists and was not made by the demo; choose another --dir"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by claimferry demo; removed by the next demo run\n")


@contextmanager
def _credentials(password: str) -> Iterator[None]:
    """The env credential source's variables, for this process only."""
    names = {
        f"CLAIMFERRY_{ACCOUNT.upper()}_SFTP_USERNAME": ACCOUNT,
        f"CLAIMFERRY_{ACCOUNT.upper()}_SFTP_PASSWORD": password,
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _write_config(folder: Path, server: MockOfficeAlly) -> Path:
    config = {
        "state_dir": "state",
        "accounts": {
            ACCOUNT: {
                "clearinghouse": "officeally",
                "submitter_id": "SUNRISE01",
                "mode": "test",
                "contact": {"name": "Billing Office", "phone": "2175550100"},
                "sftp": {
                    "host": server.host,
                    "port": server.port,
                    "host_key": server.host_key_openssh,
                    "retries": 1,
                },
                "credentials": {"source": "env"},
            }
        },
    }
    path = folder / "accounts.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def demo_command() -> click.Command:
    @click.command(
        "demo", epilog=examples("claimferry demo", "claimferry demo --dir /tmp/claimferry-demo")
    )
    @click.option(
        "--dir",
        "folder",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("claimferry-demo"),
        show_default=True,
        help="Where the demo keeps its config, ledger, archive and mock server.",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(1, 600),
        default=30.0,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for the mock's answers before giving up.",
    )
    @pass_app
    def demo(app: App, folder: Path, timeout: float) -> None:
        """Submit the sample claims to a mock Office Ally on loopback and read the answers."""
        folder = folder.resolve()
        _prepare(folder)
        state = folder / "state"
        # the demo's ledger is its folder's own, never a database the environment names
        shared_database = os.environ.pop(DATABASE_ENV, None)
        password = secrets.token_urlsafe(18)
        with MockOfficeAlly(
            folder / "harness", {ACCOUNT: HarnessUser(password=password)}
        ) as server:
            click.echo(
                f"mock Office Ally listening on {server.host}:{server.port} "
                f"(host key {server.fingerprint})"
            )
            config_path = _write_config(folder, server)
            account = load_config(config_path).account(ACCOUNT)
            with as_file(files("claimferry") / "data" / "sample_claims.yaml") as sample:
                claims = load_claims(sample).claims
            context = ValidationContext(account=account, today=app.today, state_dir=state)
            findings = validate_claims(app.pm, claims, context)
            for finding in findings:
                click.echo(f"  {finding}", err=True)
            if any(f.severity is Severity.ERROR for f in findings):
                raise ClaimferryError("the sample claims did not validate")
            click.echo(f"validated {len(claims)} sample claims ({len(findings)} warning(s))")
            with _credentials(password), Ledger.open(state) as ledger:
                outcome = submit_claims(
                    app.pm,
                    ledger,
                    account,
                    claims,
                    now=datetime.now(UTC).astimezone(),
                    progress=lambda message: click.echo(f"  {message}", err=True),
                )
                for batch in outcome.delivered:
                    click.echo(
                        f"uploaded {batch.remote_name} ({batch.size} bytes, "
                        f"sha256 {batch.sha256[:16]}...)"
                    )
                if not server.wait_idle(timeout):
                    raise ClaimferryError(f"the mock server did not answer within {timeout}s")
                fetched = fetch_account(app.pm, ledger, account)
            click.echo("came back:")
            for item in fetched:
                what = item.error or f"{item.kind}, {item.claims} claim update(s)"
                click.echo(f"  {item.remote_name}: {what}")
        click.echo("")
        report_status(App(app.pm, config_path, app.today, state_dir_override=state))
        click.echo("")
        again = f"claimferry --config {config_path} status"
        if os.environ.get(STATE_ENV):  # it would win over the demo config's state_dir
            again = f"{STATE_ENV}={state} {again}"
        if shared_database:  # and this over the ledger file in it
            again = f"{DATABASE_ENV}= {again}"
            os.environ[DATABASE_ENV] = shared_database
        click.echo(f"look again with: {again}")

    return demo
