"""Registers the ``claimferry harness`` and ``claimferry demo`` commands through the core's
CLI hook."""

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
    from claimferry_harness.demo import demo_command

    yield CliCommand(
        name="demo",
        command=demo_command(),
        description="The whole pipeline against the mock Office Ally, on loopback",
    )
