"""Connecting to an account's clearinghouse: credentials, one login attempt, and
the session that records a refused login so that it is never retried in a loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from claimferry.config import Account
from claimferry.credentials import Credentials, username_fingerprint
from claimferry.database import Connection
from claimferry.errors import (
    AuthenticationError,
    ConfigError,
    HostKeyError,
    Problem,
)
from claimferry.ledger import (
    CREDENTIALS_USED,
    LOGIN_OK,
    LOGIN_REFUSED,
    Ledger,
)
from claimferry.manager import PluginManager
from claimferry.types import (
    DeliveryState,
    RemoteFile,
    TransportSession,
    UploadReceipt,
)


def connect(
    pm: PluginManager, ledger: Ledger, account: Account, *, after_refusal: bool = False
) -> TransportSession:
    """Open the account's session; a refused login or host key goes into the audit trail.

    Once a login was refused no other is tried, in this run or the next (a
    cron job's), until ``credentials test`` (``after_refusal``) logs in:
    clearinghouses lock an account after a few wrong passwords.
    """
    clearinghouse = pm.get_clearinghouse(account.clearinghouse)
    ledger.ensure_account(account.name, clearinghouse.name, account.submitter_id)
    if not after_refusal:
        refused = ledger.refused_login(account.name)
        if refused is not None:
            raise AuthenticationError(
                f"the last SFTP login for account {account.name} was refused "
                f"({refused.at[:16]}), so no other is tried, to keep "
                f"{clearinghouse.display_name} from "
                f"locking the account: fix its credentials, then run "
                f"'claimferry credentials test {account.name}'"
            )
    try:
        session = open_session(pm, ledger, account)
    except (AuthenticationError, HostKeyError) as exc:
        action = LOGIN_REFUSED if isinstance(exc, AuthenticationError) else "host-key-refused"
        ledger.audit(action, account=account.name, detail=str(exc))
        raise
    if after_refusal:  # a tested login is a fact onboarding reads, and it lifts a hold
        ledger.audit(LOGIN_OK, account=account.name, host_fingerprint=session.host_fingerprint)
    return _WatchedSession(session, ledger, account.name)


class _WatchedSession:
    """A session whose reconnects are held to the same rule as its first login:
    a transport logs in again after a dropped connection, and a refusal there
    puts the account's logins on hold too."""

    def __init__(self, session: TransportSession, ledger: Ledger, account: str) -> None:
        self._session, self._ledger, self._account = session, ledger, account

    @contextmanager
    def _watch(self) -> Iterator[None]:
        try:
            yield
        except AuthenticationError as exc:
            self._ledger.audit(LOGIN_REFUSED, account=self._account, detail=str(exc))
            raise

    @property
    def host_fingerprint(self) -> str:
        return self._session.host_fingerprint

    def upload(self, data: bytes, remote_name: str) -> UploadReceipt:
        with self._watch():
            return self._session.upload(data, remote_name)

    def delivery_state(self, remote_name: str, size: int, sha256: str) -> DeliveryState:
        with self._watch():
            return self._session.delivery_state(remote_name, size, sha256)

    def list_responses(self) -> list[RemoteFile]:
        with self._watch():
            return self._session.list_responses()

    def download(self, name: str) -> bytes:
        with self._watch():
            return self._session.download(name)

    def close(self) -> None:
        self._session.close()


def open_session(pm: PluginManager, ledger: Ledger, account: Account) -> TransportSession:
    """Resolve the account's credentials and open its clearinghouse's transport.

    Each use of the secrets goes into the audit trail (source and the
    username's fingerprint, never a secret), whether the login works or not.
    """
    clearinghouse = pm.get_clearinghouse(account.clearinghouse)
    transport = pm.get_transport(clearinghouse.transport)
    credentials = resolve_credentials(pm, account, ledger.db)
    ledger.audit(
        CREDENTIALS_USED,
        account=account.name,
        detail=f"source {account.credentials.source if account.credentials else '?'}, "
        f"username {username_fingerprint(credentials.username)}",
    )
    return transport.open(account, credentials)


def resolve_credentials(pm: PluginManager, account: Account, state_db: Connection) -> Credentials:
    """The account's credentials from its source; ``state_db`` serves a source that
    keeps them in the state database (the ``store``)."""
    if account.credentials is None:
        raise ConfigError(
            [
                Problem(
                    "config",
                    f"accounts.{account.name}.credentials",
                    "required to connect: e.g. {source: env}",
                )
            ]
        )
    source = pm.get_credential_source(account.credentials.source)
    if source.settings is not None:
        allowed = ", ".join(source.settings) or "none"
        unknown = [str(key) for key in account.credentials.settings if key not in source.settings]
        if unknown:
            raise ConfigError(
                Problem(
                    "config",
                    f"accounts.{account.name}.credentials.{key}",
                    f"not a setting of credential source '{source.name}' (its settings: {allowed})",
                )
                for key in unknown
            )
    if source.resolve_stored is not None:
        return source.resolve_stored(account, state_db)
    return source.resolve(account)
