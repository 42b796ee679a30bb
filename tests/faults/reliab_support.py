"""A world for the reliability faults: the mock Office Ally on loopback, two
accounts on it, a state directory, and claimferry run as real processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import claimferry
from claimferry.postgres import PostgresConnection
from claimferry_harness import HarnessUser, MockOfficeAlly
from support import own_environment

SAMPLE = Path(claimferry.__file__).parent / "data" / "sample_claims.yaml"
ACCOUNTS = {"sunrise": "SUNRISE01", "moonrise": "MOONRISE01"}
PASSWORD = "test-only-faults-password"
WAIT = 60.0
ANSWERS_PER_FILE = 5
"""The mock's answers to one file: 999, its 277CA, the payer's 277CA, EDI Status, 835."""


@dataclass
class World:
    harness: MockOfficeAlly
    tmp: Path
    env: dict[str, str]

    @property
    def state_dir(self) -> Path:
        return self.tmp / "state"

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    def claims_file(self, prefix: str = "SUN", name: str | None = None) -> Path:
        """The sample claims, their ids renumbered ``<prefix>-1`` ..., so each file is new."""
        data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
        for number, claim in enumerate(data["claims"], 1):
            claim["id"] = f"{prefix}-{number}"
        path = self.tmp / (name or f"{prefix}.yaml")
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "claimferry", *args]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env=self.env | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def inbound_claims(self, account: str) -> Counter[str]:
        """How many times each claim id reached the mock under a final 837P name."""
        found: Counter[str] = Counter()
        for path in self.harness.inbound_dir(account).iterdir():
            if path.name.startswith(".") or "837P" not in path.name:
                continue
            text = path.read_text(encoding="ascii")
            element, terminator = text[3], text[105]
            for segment in text.split(terminator):
                fields = segment.strip().split(element)
                if fields[0] == "CLM":
                    found[fields[1]] += 1
        return found

    def answers(self, account: str, marker: str = "_999_") -> list[str]:
        return sorted(
            p.name for p in self.harness.outbound_dir(account).iterdir() if marker in p.name
        )

    def temporary_files(self, account: str) -> list[str]:
        return sorted(
            p.name for p in self.harness.inbound_dir(account).iterdir() if p.name.startswith(".")
        )

    def ledger_rows(self, sql: str) -> list[Any]:
        """Rows of the ledger, read without taking any lock, whichever engine holds it;
        none while the ledger or the table does not exist yet."""
        database = self.env.get("CLAIMFERRY_DATABASE")
        if database:
            server = PostgresConnection(database)
            try:
                return server.execute(sql).fetchall()
            except sqlite3.DatabaseError:  # not created yet
                return []
            finally:
                server.close()
        if not self.ledger_path.is_file():
            return []
        db = sqlite3.connect(f"file:{self.ledger_path}?mode=ro", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            return list(db.execute(sql))
        except sqlite3.OperationalError:  # not created yet
            return []
        finally:
            db.close()

    def ledger_exists(self) -> bool:
        return bool(self.ledger_rows("SELECT 1 FROM accounts LIMIT 1")) or (
            "CLAIMFERRY_DATABASE" not in self.env and self.ledger_path.is_file()
        )

    def lock_holders(self) -> list[tuple[str, int, str]]:
        """The holder rows of the sender locks, read without taking any lock."""
        return [
            (r[0], r[1], r[2])
            for r in self.ledger_rows("SELECT sender, pid, command FROM sender_locks")
        ]

    def wait_for(self, what: str, check: Any, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    def duplicate_answers(self) -> list[tuple[str, list[Any]]]:
        """Claims whose history records one answer (state, file, detail) more than once."""
        out = []
        for claim in self.json("status")["claims"]:
            events = [(e["state"], e["file"], e["detail"]) for e in claim["history"]]
            if len(events) != len(set(events)):
                out.append((claim["claim"], events))
        return out


def make_world(
    tmp_path: Path, accounts: dict[str, str] = ACCOUNTS, **settings: Any
) -> Iterator[World]:
    """The mock with ``accounts`` (name: submitter ID) and a config for them, with
    top-level ``settings`` added to it."""
    users = {name: HarnessUser(password=PASSWORD) for name in accounts}
    with MockOfficeAlly(tmp_path / "harness", users) as server:
        config: dict[str, Any] = {
            "accounts": {
                name: {
                    "clearinghouse": "officeally",
                    "submitter_id": submitter,
                    "mode": "test",
                    "contact": {"name": "Billing Office", "phone": "2175550100"},
                    "sftp": {
                        "host": server.host,
                        "port": server.port,
                        "host_key": server.host_key_openssh,
                        "retries": 2,
                        "connect_timeout": WAIT,
                        "auth_timeout": WAIT,
                        "operation_timeout": WAIT,
                    },
                    "credentials": {"source": "env"},
                }
                for name, submitter in accounts.items()
            },
            **settings,
        }
        path = tmp_path / "accounts.yaml"
        path.write_text(yaml.safe_dump(config))
        env = own_environment()
        env |= {"CLAIMFERRY_CONFIG": str(path), "CLAIMFERRY_STATE_DIR": str(tmp_path / "state")}
        for name in accounts:
            env[f"CLAIMFERRY_{name.upper()}_SFTP_USERNAME"] = name
            env[f"CLAIMFERRY_{name.upper()}_SFTP_PASSWORD"] = PASSWORD
        yield World(server, tmp_path, env)


def run_cli_in_child(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run claimferry's ``main`` in this (fresh, forked) process: a real process of
    its own, without the interpreter start-up of ``python -m claimferry``."""
    import contextlib
    import io

    from claimferry.cli.app import main

    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["claimferry", *args]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def report_cli_run(
    args: list[str], env: dict[str, str], results: Any, tag: tuple[str, str]
) -> None:
    """A forked process's whole life: one claimferry run, its outcome put on ``results``."""
    code, _, err = run_cli_in_child(args, env)
    results.put((tag, code, err))
