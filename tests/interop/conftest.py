"""Interop fixtures: a real OpenSSH server on loopback (skipped only if sshd is absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.openssh import LocalSshd, unavailable_reason


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSshd]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = LocalSshd(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sshd_home(sshd: LocalSshd) -> Iterator[Path]:
    """The SFTP start folder, emptied after each test."""
    yield sshd.home
    for folder in ("inbound", "outbound"):
        for entry in (sshd.home / folder).iterdir():
            entry.unlink()
