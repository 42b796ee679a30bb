"""Fixtures for the end-to-end tests: the real CLI against the mock Office Ally on loopback.

Every test gets its own harness (``oa_harness``), its own accounts config
pinning the harness's host key, its own state directory, and SFTP
credentials in environment variables (the ``env`` credential source).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from claimferry.manager import PluginManager
from claimferry_harness import MockOfficeAlly
from claimferry_harness.pytest_plugin import PinnedHostKey, ResponseWaiter
from claimferry_harness.users import HarnessLogin
from e2e.support import ACCOUNT, E2E


@pytest.fixture
def e2e(
    plugin_manager: PluginManager,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    oa_host_key: PinnedHostKey,
    wait_for_responses: ResponseWaiter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[E2E]:
    """One account (``sunrise``, test mode) on a fresh harness, driven through the CLI."""
    for name in ("CLAIMFERRY_CONFIG", "CLAIMFERRY_STATE_DIR"):  # XDG_STATE_HOME: tests/conftest.py
        monkeypatch.delenv(name, raising=False)
    env = E2E(
        pm=plugin_manager,
        harness=oa_harness,
        host_key=oa_host_key,
        tmp=tmp_path,
        monkeypatch=monkeypatch,
        waiter=wait_for_responses,
    )
    env.add_account(ACCOUNT, oa_user)
    yield env
