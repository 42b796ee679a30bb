"""The ``claimferry`` command line. Results go to stdout, progress and logs to stderr."""

from claimferry.cli.app import create_cli, main

__all__ = ["create_cli", "main"]
