"""Fixtures for the Office Ally transport tests: a loopback SFTP server and accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from claimferry.api import Account, Credentials, SecretStr, SftpMailbox, SftpSettings
from claimferry_officeally.transport import RetryPolicy, make_transport
from transport.sftp_server import PASSWORD, USER, AccountFactory, SftpTestServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpTestServer]:
    srv = SftpTestServer(tmp_path / "sftp-root", users={USER: PASSWORD}).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff delays the transport asked for (it never really sleeps in tests)."""
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(base_delay=0.01, max_delay=0.05, sleep=sleeps.append)


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(username=USER, password=SecretStr(PASSWORD))


@pytest.fixture
def make_account(server: SftpTestServer) -> AccountFactory:
    def make(**sftp: Any) -> Account:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": server.port,
            "host_key": server.host_key_openssh,
            "connect_timeout": 5.0,
            "auth_timeout": 5.0,
            "operation_timeout": 5.0,
            "retries": 2,
        }
        settings.update(sftp)
        return Account(
            name="sunrise",
            clearinghouse="officeally",
            submitter_id="SUNRISE01",
            sftp=SftpSettings(**settings),
        )

    return make


@pytest.fixture
def open_session(
    make_account: AccountFactory, credentials: Credentials, policy: RetryPolicy
) -> Callable[..., SftpMailbox]:
    """Open a session through the registered transport object, with a test retry policy."""
    transport = make_transport(policy=policy)

    def opener(account: Account | None = None, creds: Credentials | None = None) -> SftpMailbox:
        session = transport.open(account or make_account(), creds or credentials)
        assert isinstance(session, SftpMailbox)
        return session

    return opener
