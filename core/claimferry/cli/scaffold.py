"""``claimferry plugin new``: write a ready plugin package to start from."""

from __future__ import annotations

from pathlib import Path

import click

from claimferry.cli.app import ClaimferryGroup
from claimferry.cli.output import examples
from claimferry.errors import InputError, Problem
from claimferry.scaffold import KINDS, write_plugin


@click.group(
    "plugin",
    cls=ClaimferryGroup,
    epilog=examples("claimferry plugin new acme --kind clearinghouse"),
)
def plugin() -> None:
    """Start a plugin of your own (see docs/plugins.md)."""


@plugin.command(
    "new",
    epilog=examples(
        "claimferry plugin new acme --kind clearinghouse",
        "claimferry plugin new payer-rules --kind validator --directory ~/src",
    ),
)
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    default="clearinghouse",
    show_default=True,
    help="What the plugin adds: a clearinghouse on the shared SFTP mailbox, a "
    "credential source or a claims validator.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Folder to write the package claimferry-NAME into.",
)
def new(name: str, kind: str, directory: Path) -> None:
    """Write the package claimferry-NAME: pyproject with its entry point, the hook
    implementation, tests against the mock server, a README and a tox.ini."""
    if not directory.is_dir():
        raise InputError([Problem("--directory", "", f"{directory} is not a folder")])
    try:
        target = write_plugin(name, kind, directory)
    except PermissionError:
        raise InputError([Problem("--directory", "", f"cannot write in {directory}")]) from None
    click.echo(f"wrote {target}")
    click.echo(f"next: cd {target} && pip install -e '.[test]' && pytest")
