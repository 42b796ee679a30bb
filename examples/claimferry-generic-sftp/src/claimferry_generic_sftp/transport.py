"""The transport: claimferry's shared SFTP mailbox, on each account's profile.

Every SFTP guarantee (host key checked before the password, one login
attempt, temporary name then rename, delivery state, bounded retries of
network errors, nothing deleted) is claimferry's
:func:`claimferry.api.mailbox_transport`; this module only says where an
account's settings and profile come from.
"""

from __future__ import annotations

from claimferry.api import Account, Clearinghouse, SftpSettings, TransportError, mailbox_transport

from claimferry_generic_sftp.profiles import (
    CONFIG_ENV,
    TRANSPORT_NAME,
    Profile,
    configured_profiles,
    to_clearinghouse,
)


def _profile(account: Account) -> Profile:
    profile = configured_profiles().get(account.clearinghouse)
    if profile is None:
        raise TransportError(
            f"account {account.name}: clearinghouse {account.clearinghouse!r} is not "
            f"defined in the file named by {CONFIG_ENV}"
        )
    return profile


def settings_for(account: Account) -> SftpSettings:
    """The account's own ``sftp:`` section if it has one, else its clearinghouse profile's."""
    return account.sftp if account.sftp is not None else _profile(account).sftp


def clearinghouse_for(account: Account) -> Clearinghouse:
    return to_clearinghouse(account.clearinghouse, _profile(account))


TRANSPORT = mailbox_transport(
    TRANSPORT_NAME,
    clearinghouse_for,
    settings=settings_for,
    description="any SFTP mailbox from a YAML profile (claimferry's shared SFTP mailbox)",
)
