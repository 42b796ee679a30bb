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
    """A mailbox session on Office Ally's profile: its folders, and its name in messages."""

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

    def open_session(account: Account, credentials: Credentials) -> OfficeAllySession:
        session = OfficeAllySession(account, credentials, policy, tuning)
        session.connect()
        return session

    return ClaimTransport(
        name=TRANSPORT_NAME,
        open=open_session,
        probe_host_key=probe_host_key,
        description="Office Ally over SFTP (paramiko): pinned host keys, atomic uploads",
    )
