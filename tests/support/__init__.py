"""Helpers shared by the tests."""

from __future__ import annotations

import os


def own_environment() -> dict[str, str]:
    """This process's environment without claimferry's settings, for a command a test
    starts, except the test's own ledger database (``pytest --database=postgresql``)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLAIMFERRY_") or k == "CLAIMFERRY_DATABASE"
    }
