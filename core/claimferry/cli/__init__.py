"""The ``claimferry`` command line. Results go to stdout, progress and logs to stderr.

Each command's module is imported when the command runs (``cli.app`` lists
them), so that ``--help`` and ``status`` load little. The rest of the core
imports this package only at its entry points (``__main__``, and ``create_cli``
in :mod:`claimferry.api`, which is how plugins' tests reach it); the harness
may import it (its ``harness`` command group runs in the same CLI).
"""

from claimferry.cli.app import create_cli, main

__all__ = ["create_cli", "main"]
