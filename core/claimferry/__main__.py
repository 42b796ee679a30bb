"""``python -m claimferry``: the same CLI as the ``claimferry`` command."""

from claimferry.cli import main

main()
