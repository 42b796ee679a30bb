"""Registers the ``claimferry harness`` commands through the core's CLI hook."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.hookspecs import hookimpl
from claimferry.types import CliCommand


@hookimpl
def claimferry_cli_commands() -> Iterator[CliCommand]:
    from claimferry_harness.cli import harness_group

    yield CliCommand(
        name="harness",
        command=harness_group(),
        description="Run the mock Office Ally SFTP server",
    )
