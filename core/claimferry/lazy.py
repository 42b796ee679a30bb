"""Names a package exports, imported on first use (PEP 562).

A plugin's registration module imports ``claimferry.api`` and ``claimferry
--help`` imports every registration module: a package that imported all it
exports up front would load the claim model, the ledger and paramiko into
every command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps each name to the
    module that defines it; the first lookup imports it and keeps it."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        setattr(sys.modules[package], name, value)  # the next lookup does not come here
        return value

    return __getattr__
