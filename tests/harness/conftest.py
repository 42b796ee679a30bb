"""Fixtures for the harness tests."""

from __future__ import annotations

from collections.abc import Iterator

import paramiko
import pytest

from claimferry_harness import MockOfficeAlly
from harness.harness_support import Connect, Session


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(server, user, password=...)`` -> SFTPClient, closed after the test."""
    sessions: list[Session] = []

    def make(server: MockOfficeAlly, username: str, **kwargs: object) -> paramiko.SFTPClient:
        session = Session(server, username, **kwargs)  # type: ignore[arg-type]
        sessions.append(session)
        return session.sftp

    yield make
    for session in sessions:
        session.close()
