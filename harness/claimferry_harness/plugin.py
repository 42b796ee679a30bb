"""Registers the ``claimferry harness`` and ``claimferry demo`` commands through the core's
CLI hook."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.cli.app import LazyCommand
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
    yield CliCommand(
        name="demo",
        command=LazyCommand(
            "demo",
            "claimferry_harness.demo:demo_command",
            "Submit the sample claims to a mock Office Ally on loopback and read the answers.",
        ),
        description="The whole pipeline against the mock Office Ally, on loopback",
    )
