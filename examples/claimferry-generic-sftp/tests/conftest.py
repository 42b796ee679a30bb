"""Fixtures: a fresh plugin manager holding only this plugin, a profile for the
mock server, and a secret "command" that prints the mock account's password.

The mock server and its fixtures (``oa_harness``, ``oa_user``, ``oa_host_key``,
``wait_for_responses``) come from claimferry's pytest plugin, installed with
claimferry.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

# PluginManager is exported by claimferry.api for tests like these; the plugin's own
# code never needs it.
from claimferry.api import Account, PluginManager

from claimferry_generic_sftp import plugin
from claimferry_generic_sftp.profiles import CONFIG_ENV

if TYPE_CHECKING:
    from claimferry_harness import MockOfficeAlly, PinnedHostKey

PROFILE = "acme"
"""The clearinghouse name the test accounts use."""

# Rename these with the folders and naming of the clearinghouse you copy this for.
INBOUND = "to_clearinghouse"
OUTBOUND = "from_clearinghouse"
FILE_NAME = "{submitter_id}_{control_number:09d}_{mode}.x12"
ANSWER_PATTERN = r"^[A-Z0-9]+_\d{9}_(?:test|production)\.x12$"
"""How the clearinghouse recognises a claim file: the mock answers only these."""
RESPONSES = r"\d+_(?:999|277CA|PAYER_277CA|ERA_835_5010)_.*"
"""Its responses: X12 only (the mock also writes Office Ally's EDI_STATUS report)."""


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginManager]:
    """This plugin alone: nothing installed elsewhere is loaded by accident."""
    for var in ("CLAIMFERRY_BLOCK_PLUGINS", "CLAIMFERRY_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    manager = PluginManager().load("none")
    manager.register_plugin(plugin, name="generic-sftp")
    try:
        yield manager
    finally:
        manager.unregister(plugin, name="generic-sftp")


def write_profiles(path: Path, host: str, port: int, host_key: str) -> Path:
    """A profiles file for the mock server, as an operator would write one."""
    profile = {
        "description": "ACME Claims Exchange (test double)",
        "label": "ACME Claims",
        "receiver": {
            "isa_qualifier": "ZZ",
            "isa_id": "ACMECLAIMS",
            "gs_id": "ACMECLAIMS",
            "name": "ACME CLAIMS EXCHANGE",
            "id": "ACMECLAIMS",
        },
        "file_name": FILE_NAME,
        "responses": RESPONSES,
        "login_hint": "ACME mails the SFTP password in a letter.",
        "sftp": {
            "host": host,
            "port": port,
            "host_key": host_key,
            "inbound": INBOUND,
            "outbound": OUTBOUND,
            "retries": 0,
        },
    }
    path.write_text(yaml.safe_dump({"clearinghouses": {PROFILE: profile}}), encoding="utf-8")
    return path


SecretCommand = Callable[..., list[str]]


@pytest.fixture
def secret_command(tmp_path: Path) -> SecretCommand:
    """Stand-ins for ``pass show ...``: ``secret_command(output, exit_code=0)`` gives an argv.

    The script prints ``output`` on stdout and on stderr, so tests can check
    that neither reaches an error message.
    """

    made = itertools.count()

    def make(output: str, exit_code: int = 0) -> list[str]:
        script = tmp_path / f"fake_pass_{next(made)}.py"
        script.write_text(
            "import sys\n"
            f"sys.stdout.write({output!r})\n"
            f"sys.stderr.write({output!r})\n"
            f"sys.exit({exit_code})\n",
            encoding="utf-8",
        )
        return [sys.executable, str(script)]

    return make


def make_account(credentials: dict[str, Any], **fields: Any) -> Account:
    """An account on the test profile whose secrets come from the command source."""
    return Account.model_validate(
        {
            "name": "sunrise",
            "clearinghouse": PROFILE,
            "submitter_id": "SUNRISE01",
            "credentials": {"source": "command", **credentials},
            **fields,
        }
    )


@pytest.fixture
def account_for() -> Callable[..., Account]:
    return make_account


@pytest.fixture
def profiles(
    oa_harness: MockOfficeAlly,
    oa_host_key: PinnedHostKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The profiles file for the running mock, named by the environment variable."""
    path = write_profiles(
        tmp_path / "clearinghouses.yaml", oa_harness.host, oa_harness.port, oa_host_key.openssh
    )
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return path
