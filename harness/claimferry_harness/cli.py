"""``claimferry harness serve``: run the mock Office Ally server until Ctrl-C or SIGTERM;
``claimferry harness users add``: open an SFTP account on it, as Office Ally does.

Results (host, port, fingerprint) go to stdout, logs to stderr. The group is
built by a function and the server module is imported only when serving, so
loading the CLI stays cheap.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from claimferry.cli.output import examples
from claimferry.errors import InputError
from claimferry_harness.rules import ANSWER_FILES

if TYPE_CHECKING:
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import UsersFileWatch


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(
    "serve",
    epilog=examples("claimferry harness serve --root /tmp/oa --port 2222 --users users.yaml"),
)
@click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the host key, accounts and state (created if missing).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--users",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML users file (see docs/harness.md).",
)
@click.option(
    "--payer-list",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Office Ally payer-list CSV to use instead of the built-in payers.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between an upload and its responses.",
)
@click.option("--inbound", default="inbound", show_default=True, help="Upload folder name.")
@click.option("--outbound", default="outbound", show_default=True, help="Response folder name.")
@click.option(
    "--max-handles",
    type=click.IntRange(min=1),
    help="Open files and folders one SFTP session may hold at once (default 64).",
)
@click.option(
    "--answer-pattern",
    default=ANSWER_FILES,
    show_default=True,
    help="Regular expression searched in upload names: only uploads it finds are answered.",
)
@click.option("--allow-remote", is_flag=True, help="Allow a --host that is not a loopback address.")
def serve(
    root: Path,
    port: int,
    host: str,
    users_file: Path | None,
    payer_list: Path | None,
    delay: float,
    inbound: str,
    outbound: str,
    max_handles: int | None,
    answer_pattern: str,
    allow_remote: bool,
) -> None:
    """Run the mock Office Ally SFTP server (test credentials only)."""
    from claimferry_harness.payers import PayerList
    from claimferry_harness.rules import ProcessingRules
    from claimferry_harness.server import MAX_HANDLES, MockOfficeAlly
    from claimferry_harness.users import UsersFileWatch, load_users

    if not _is_loopback(host) and not allow_remote:
        raise click.BadParameter(
            f"{host} is not a loopback address; pass --allow-remote to listen on it",
            param_hint="--host",
        )
    try:
        users = load_users(users_file) if users_file is not None else {}
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--users") from None
    try:
        payers = PayerList.from_office_ally_csv(payer_list) if payer_list else PayerList.default()
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--payer-list") from None
    try:
        rules = ProcessingRules(payers=payers, delay=delay, answer_files=answer_pattern)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--answer-pattern") from None
    _configure_logging()
    if not users:
        logging.getLogger(__name__).warning("no users: nobody can log in (pass --users FILE)")
    try:
        server = MockOfficeAlly(
            root,
            users,
            host=host,
            port=port,
            inbound=inbound,
            outbound=outbound,
            rules=rules,
            max_handles=max_handles or MAX_HANDLES,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, _on_signal)
    try:
        try:
            server.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        click.echo(f"host: {server.host}")
        click.echo(f"port: {server.port}")
        click.echo(f"fingerprint: {server.fingerprint}")
        click.echo(f"host key: {server.host_key_openssh}")
        sys.stdout.flush()
        watch = UsersFileWatch(users_file) if users_file is not None else None
        while not stop.wait(0.5):
            if watch is not None:
                _reload_users(server, watch)
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _reload_users(server: MockOfficeAlly, watch: UsersFileWatch) -> None:
    """New and changed users of the users file (``harness users add``) can log in at once."""
    try:
        users = watch.changed()
    except InputError as exc:
        logging.getLogger(__name__).warning("users file not reloaded: %s", exc)
        return
    for name, user in (users or {}).items():
        server.add_user(name, user.password, user.public_keys)
        logging.getLogger(__name__).info("users file: %s can log in", name)


@click.group("users", epilog=examples("claimferry harness users add northside --users users.yaml"))
def users() -> None:
    """The mock's SFTP accounts, as Office Ally opens them."""


@users.command(
    "add",
    epilog=examples(
        "claimferry harness users add northside --users users.yaml",
        "claimferry harness users add northside --users users.yaml --json",
    ),
)
@click.argument("name")
@click.option(
    "--users",
    "users_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The users file `harness serve --users` reads (created 0600 if missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def users_add(name: str, users_file: Path, as_json: bool) -> None:
    """Open an SFTP account on the mock: a new username and a random password.

    What Office Ally does when a clinic asks for SFTP: the username and the
    password come out as two messages (here, two lines), to be stored with
    `claimferry credentials set ACCOUNT`. A running `harness serve --users
    FILE` lets the new user log in within a second. Test credentials only.
    """
    from claimferry_harness.users import check_user_name, issue_user

    try:
        check_user_name(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    try:
        login = issue_user(users_file, name)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME or --users") from None
    if as_json:
        click.echo(json.dumps({"username": login.username, "password": login.password}))
        return
    click.echo(f"SFTP username: {login.username}")
    click.echo(f"SFTP password: {login.password}")


def _configure_logging() -> None:
    """The harness's INFO lines on stderr, whoever set logging up.

    Run alone, logging is configured here. Under ``claimferry``, whose root
    logger shows WARNING unless ``-v`` is given, the harness's own logger is
    lowered to INFO, so listening, answered uploads and early disconnects show
    all the same. paramiko's chatter stays at WARNING unless debug was asked for.
    """
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    harness = logging.getLogger("claimferry_harness")
    if harness.getEffectiveLevel() > logging.INFO:
        harness.setLevel(logging.INFO)
    debug = root.getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("paramiko").setLevel(logging.DEBUG if debug else logging.WARNING)


def harness_group() -> click.Group:
    """The ``harness`` command group (a new object per call, for tests)."""

    @click.group(
        "harness",
        context_settings={"help_option_names": ["-h", "--help"]},
        epilog=examples("claimferry harness serve --root /tmp/oa --port 2222 --users users.yaml"),
    )
    def harness() -> None:
        """The mock Office Ally SFTP server for end-to-end tests."""

    harness.add_command(serve)
    harness.add_command(users)
    return harness
