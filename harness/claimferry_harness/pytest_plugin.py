r"""pytest fixtures for running the mock Office Ally server (entry point ``pytest11``).

- ``oa_harness``: a started server with a fresh root, stopped after the test;
  ``@pytest.mark.oa_harness(inbound="to_ch", outbound="from_ch",
  answer_pattern=r"\.x12$", ...)`` passes options to it;
- ``oa_harness_factory``: builds more servers (same options as the marker);
- ``oa_user``: a user on ``oa_harness`` with a password (:class:`HarnessLogin`);
- ``oa_host_key``: the server's key to pin (:class:`PinnedHostKey`);
- ``wait_for_responses``: polls ``oa_user``'s outbound folder.

The server module (and paramiko) is imported only when a fixture is used, so
loading this plugin costs nothing in runs that do not need the harness.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from claimferry_harness.testing import PinnedHostKey, ResponseWaiter

if TYPE_CHECKING:
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import HarnessLogin


class HarnessFactory(Protocol):
    def __call__(self, **options: Any) -> MockOfficeAlly: ...


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "oa_harness(**options): options for the oa_harness fixture, as for "
        "MockOfficeAlly (inbound=, outbound=, rules=, faults=, users=) and answer_pattern= "
        "(a regular expression: the upload names the mock answers)",
    )


@pytest.fixture
def oa_harness_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessFactory]:
    """Build started servers: ``oa_harness_factory(inbound="to_ch", outbound="from_ch")``.

    Options are MockOfficeAlly's keyword arguments, plus ``root`` (default: a
    fresh temporary folder) and ``answer_pattern`` (sets the rules'
    ``answer_files``: which upload names the mock answers). Every server built
    is stopped after the test.
    """
    from claimferry_harness.rules import ProcessingRules
    from claimferry_harness.server import MockOfficeAlly

    servers: list[MockOfficeAlly] = []

    def make(**options: Any) -> MockOfficeAlly:
        root = options.pop("root", None) or tmp_path_factory.mktemp("oa-harness")
        users = options.pop("users", None)
        if "answer_pattern" in options:
            from dataclasses import replace

            rules = options.get("rules") or ProcessingRules()
            options["rules"] = replace(rules, answer_files=options.pop("answer_pattern"))
        server = MockOfficeAlly(Path(root), users, **options)
        servers.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def oa_harness(
    request: pytest.FixtureRequest, oa_harness_factory: HarnessFactory
) -> MockOfficeAlly:
    """A running mock Office Ally on 127.0.0.1 with a fresh root."""
    marker = request.node.get_closest_marker("oa_harness")
    options = dict(marker.kwargs) if marker is not None else {}
    return oa_harness_factory(**options)


@pytest.fixture
def oa_user(oa_harness: MockOfficeAlly) -> HarnessLogin:
    """A user ``clinic`` on ``oa_harness`` with a fresh random password."""
    from claimferry_harness.users import HarnessLogin

    login = HarnessLogin("clinic", "test-only-" + secrets.token_urlsafe(12))
    oa_harness.add_user(login.username, password=login.password)
    return login


@pytest.fixture
def oa_host_key(oa_harness: MockOfficeAlly) -> PinnedHostKey:
    """The running server's host key, as a client config would pin it."""
    return PinnedHostKey(oa_harness.host_key_openssh, oa_harness.fingerprint)


@pytest.fixture
def wait_for_responses(oa_harness: MockOfficeAlly, oa_user: HarnessLogin) -> ResponseWaiter:
    """Poll the user's outbound folder until ``count`` files (at least) or ``predicate``.

    Returns the files (sorted by name); fails the test with what was there on
    timeout.
    """

    def wait(
        count: int | None = None,
        *,
        predicate: Callable[[list[Path]], bool] | None = None,
        timeout: float = 10.0,
        user: str | None = None,
    ) -> list[Path]:
        if count is None and predicate is None:
            count = 1
        folder = oa_harness.outbound_dir(user or oa_user.username)
        deadline = time.monotonic() + timeout
        while True:
            files = sorted(p for p in folder.iterdir() if p.is_file())
            done = (count is None or len(files) >= count) and (
                predicate is None or predicate(files)
            )
            if done:
                return files
            if time.monotonic() >= deadline:
                wanted = f"{count} file(s)" if count is not None else "the predicate"
                names = ", ".join(p.name for p in files) or "nothing"
                pytest.fail(
                    f"waited {timeout:g}s for {wanted} in {folder}; found {len(files)}: {names}",
                    pytrace=False,
                )
            time.sleep(0.02)

    return wait
