"""Office Ally's SFTP transport: the shared mailbox (:mod:`claimferry.sftp_mailbox`)
on Office Ally's profile. Every SFTP guarantee lives there, once."""

from __future__ import annotations

from claimferry.api import (
    Account,
    ClaimTransport,
    Credentials,
    HostKey,
    RetryPolicy,
    SftpMailbox,
    Tuning,
    account_sftp_settings,
    mailbox_transport,
    temporary_name,
)
from claimferry.api import probe_host_key as probe_mailbox_host_key
from claimferry_officeally.profile import TRANSPORT_NAME, make_profile

__all__ = [
    "OfficeAllySession",
    "RetryPolicy",
    "Tuning",
    "make_transport",
    "probe_host_key",
    "temporary_name",
]


class OfficeAllySession(SftpMailbox):
    """A mailbox session on Office Ally's profile, for code that opens one directly."""

    def __init__(
        self,
        account: Account,
        credentials: Credentials,
        policy: RetryPolicy | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        super().__init__(account, credentials, make_profile(), policy=policy, tuning=tuning)


def probe_host_key(account: Account) -> HostKey:
    """The key Office Ally's server presents for this account, without logging in."""
    return probe_mailbox_host_key(account_sftp_settings(account))


def make_transport(
    policy: RetryPolicy | None = None, tuning: Tuning | None = None
) -> ClaimTransport:
    """The ``officeally-sftp`` registration; tests pass a policy that does not sleep."""
    return mailbox_transport(
        TRANSPORT_NAME,
        make_profile(),
        policy=policy,
        tuning=tuning,
        description="Office Ally over SFTP (paramiko): pinned host keys, atomic uploads",
    )
