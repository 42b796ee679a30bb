"""The mock Office Ally SFTP server for end-to-end tests.

It imports the core and nothing of the plugins, and writes its response X12
with its own code: a mock that shared the client's code would share its bugs.
"""

from claimferry_harness.faults import Faults
from claimferry_harness.payers import Payer, PayerList
from claimferry_harness.rules import Adjustment, ProcessingRules
from claimferry_harness.server import MockOfficeAlly
from claimferry_harness.testing import PinnedHostKey, ResponseWaiter
from claimferry_harness.users import HarnessLogin, HarnessUser, load_users

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
