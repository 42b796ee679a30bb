"""The mock Office Ally SFTP server for end-to-end tests, its ``harness`` CLI group,
and the pytest fixtures plugin authors test with (``PinnedHostKey``, ``ResponseWaiter``).

Above the core, beside the plugins: it imports the core (any module) and never
a plugin, and writes its response X12 with its own code: a mock that shared
the client's code would share its bugs. Tests and plugins' tests import it;
the core and the plugins' own code never do.

Names are imported on first use (PEP 562): the package is imported by the
``claimferry`` plugin registration, which must not load the server and paramiko
into every command.
"""

from typing import TYPE_CHECKING

from claimferry.lazy import exports

if TYPE_CHECKING:
    from claimferry_harness.faults import Faults
    from claimferry_harness.payers import Payer, PayerList
    from claimferry_harness.rules import Adjustment, ProcessingRules
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.testing import PinnedHostKey, ResponseWaiter
    from claimferry_harness.users import HarnessLogin, HarnessUser, load_users

_HOME = {
    "Adjustment": "claimferry_harness.rules",
    "Faults": "claimferry_harness.faults",
    "HarnessLogin": "claimferry_harness.users",
    "HarnessUser": "claimferry_harness.users",
    "MockOfficeAlly": "claimferry_harness.server",
    "Payer": "claimferry_harness.payers",
    "PayerList": "claimferry_harness.payers",
    "PinnedHostKey": "claimferry_harness.testing",
    "ProcessingRules": "claimferry_harness.rules",
    "ResponseWaiter": "claimferry_harness.testing",
    "load_users": "claimferry_harness.users",
}


__getattr__ = exports(__name__, _HOME)

__all__ = [
    "Adjustment",
    "Faults",
    "HarnessLogin",
    "HarnessUser",
    "MockOfficeAlly",
    "Payer",
    "PayerList",
    "PinnedHostKey",
    "ProcessingRules",
    "ResponseWaiter",
    "load_users",
]
