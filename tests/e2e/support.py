"""Helpers for the end-to-end tests: a per-test accounts config, state dir and CLI runner."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

import claimferry
from claimferry.cli import create_cli
from claimferry.manager import PluginManager
from claimferry_harness import MockOfficeAlly
from claimferry_harness.pytest_plugin import PinnedHostKey, ResponseWaiter
from claimferry_harness.users import HarnessLogin

ACCOUNT = "sunrise"
SAMPLE_CLAIMS = Path(claimferry.__file__).parent / "data" / "sample_claims.yaml"
WAIT = 30.0
"""Seconds to wait for the harness on a loaded machine; waits end as soon as it is done."""

RESPONSE_MARKERS = ("_999_", "_277CA_", "_PAYER_277CA_", "_EDI_STATUS_", "_ERA_835_")
"""What the mock answers a file with: Office Ally's 999, its 277CA, the payer's 277CA,
the EDI Status Report and the 835."""


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sample_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SAMPLE_CLAIMS.read_text(encoding="utf-8"))
    return data


def sample_phi() -> list[str]:
    """Every patient and subscriber name, member ID and birth date of the sample claims.

    Birth dates come in both ``YYYY-MM-DD`` and ``YYYYMMDD`` forms (the 837P's DMG02).
    """
    found: set[str] = set()
    for claim in sample_data()["claims"]:
        for person in (claim.get("subscriber"), claim.get("patient")):
            if not person:
                continue
            found.update({person["first_name"], person["last_name"]})
            if "member_id" in person:
                found.add(str(person["member_id"]))
            birth = str(person["birth_date"])
            found.update({birth, birth.replace("-", "")})
    return sorted(found)


@dataclass
class E2E:
    """One test's world: harness, accounts config, state dir and a CLI runner."""

    pm: PluginManager
    harness: MockOfficeAlly
    host_key: PinnedHostKey
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    waiter: ResponseWaiter
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, HarnessLogin] = field(default_factory=dict)
    _cli: click.Group | None = None

    @property
    def config_path(self) -> Path:
        return self.tmp / "accounts.yaml"

    @property
    def state_dir(self) -> Path:
        return self.tmp / "state"

    def __post_init__(self) -> None:
        self.monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(self.state_dir))

    # -- accounts --------------------------------------------------------------

    def add_account(self, name: str, login: HarnessLogin, **overrides: Any) -> dict[str, Any]:
        """An account pinned to the harness's key, credentials in env variables."""
        prefix = f"CLAIMFERRY_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_SFTP"
        self.monkeypatch.setenv(f"{prefix}_USERNAME", login.username)
        self.monkeypatch.setenv(f"{prefix}_PASSWORD", login.password)
        account: dict[str, Any] = {
            "clearinghouse": "officeally",
            "submitter_id": f"{name.upper()[:10]}01",
            "mode": "test",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": {
                "host": self.harness.host,
                "port": self.harness.port,
                "host_key": self.host_key.openssh,
                "retries": 0,
                "connect_timeout": WAIT,
                "auth_timeout": WAIT,
                "operation_timeout": WAIT,
            },
            "credentials": {"source": "env"},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(account.get(key), dict):
                account[key] = {**account[key], **value}
            else:
                account[key] = value
        self.accounts[name] = account
        self.users[name] = login
        self.write_config()
        return account

    def set_sftp(self, name: str, **settings: Any) -> None:
        """Change an account's sftp settings; ``None`` removes a setting."""
        sftp = self.accounts[name]["sftp"]
        for key, value in settings.items():
            if value is None:
                sftp.pop(key, None)
            else:
                sftp[key] = value
        self.write_config()

    def write_config(self) -> None:
        self.config_path.write_text(
            yaml.safe_dump({"accounts": copy.deepcopy(self.accounts)}, sort_keys=False)
        )

    # -- the CLI ---------------------------------------------------------------

    @property
    def cli(self) -> click.Group:
        if self._cli is None:
            self._cli = create_cli(self.pm)
        return self._cli

    def run(self, *args: str, input: str | None = None) -> Result:
        """``input`` is what the operator types (stdin), for commands that ask."""
        return CliRunner().invoke(
            self.cli,
            ["--config", str(self.config_path), *args],
            input=input,
            catch_exceptions=False,
        )

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (
            f"claimferry {' '.join(args)} exited {result.exit_code}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self.json("status")
        return data

    def claims_by_id(self) -> dict[str, dict[str, Any]]:
        """The latest ledger record of each claim id (status lists older submissions first)."""
        return {c["claim"]: c for c in self.status()["claims"]}

    def audit(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.json("audit")
        return data

    # -- claims files ----------------------------------------------------------

    def claims_file(
        self,
        name: str = "claims.yaml",
        change: Callable[[dict[str, Any]], None] | None = None,
    ) -> Path:
        """The sample claims, optionally changed, written to the test's folder."""
        data = sample_data()
        if change is not None:
            change(data)
        path = self.tmp / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    # -- the harness's side ----------------------------------------------------

    def inbound(self, account: str = ACCOUNT) -> list[Path]:
        folder = self.harness.inbound_dir(self.users[account].username)
        return sorted(folder.iterdir())

    def outbound(self, account: str = ACCOUNT) -> list[Path]:
        folder = self.harness.outbound_dir(self.users[account].username)
        return sorted(folder.iterdir())

    def wait_answered(self, files: int, account: str = ACCOUNT) -> list[Path]:
        """Wait until the harness answered every upload and ``files`` responses are there."""
        assert self.harness.wait_idle(WAIT), "the harness did not answer in time"
        return self.waiter(files, timeout=WAIT, user=self.users[account].username)


def segments(path: Path) -> list[list[str]]:
    """An X12 file's segments as lists of elements, separators taken from its ISA."""
    text = path.read_text(encoding="ascii")
    element, terminator = text[3], text[105]
    return [s.strip().split(element) for s in text.split(terminator) if s.strip()]


def component_separator(path: Path) -> str:
    return path.read_text(encoding="ascii")[104]


def claim_segments(path: Path) -> dict[str, list[list[str]]]:
    """Each claim's 2300/2400 segments (CLM up to the next HL or CLM), by CLM01."""
    claims: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for segment in segments(path):
        if segment[0] == "CLM":
            current = claims.setdefault(segment[1], [])
        elif segment[0] in ("HL", "SE"):
            current = None
        if current is not None:
            current.append(segment)
    return claims


def final_names(folder: Path) -> list[str]:
    """Files the server would process: not hidden, not ``.part``/``.tmp``."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if not p.name.startswith(".") and not p.name.lower().endswith((".part", ".tmp"))
    )


def mentions(text: str, needles: list[str]) -> list[str]:
    """The needles that occur in ``text`` as whole words, ignoring case."""
    return [
        n
        for n in needles
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])", text, re.IGNORECASE)
    ]
