"""The mock Office Ally SFTP server for end-to-end tests.

It imports the core and nothing of the plugins, and writes its response X12
with its own code: a mock that shared the client's code would share its bugs.

Names are imported on first use (PEP 562): the package is imported by the
``claimferry`` plugin registration, which must not load the server and paramiko
into every command.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from claimferry_harness.faults import Faults
    from claimferry_harness.payers import Payer, PayerList
    from claimferry_harness.rules import Adjustment, ProcessingRules
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import HarnessLogin, HarnessUser, load_users

_HOME = {
    "Adjustment": "rules",
    "Faults": "faults",
    "HarnessLogin": "users",
    "HarnessUser": "users",
    "MockOfficeAlly": "server",
    "Payer": "payers",
    "PayerList": "payers",
    "ProcessingRules": "rules",
    "load_users": "users",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Adjustment",
    "Faults",
    "HarnessLogin",
    "HarnessUser",
    "MockOfficeAlly",
    "Payer",
    "PayerList",
    "ProcessingRules",
    "load_users",
]
