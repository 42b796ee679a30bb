"""The credential store against the mock Office Ally: a clinic's SFTP login kept
encrypted in the state database, used by credentials test, submit and fetch,
each use in the audit trail and no secret anywhere (state dir, outputs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from claimferry.credentials import username_fingerprint
from claimferry.credstore import MASTER_KEY_ENV, NEW_MASTER_KEY_ENV
from claimferry.ledger import Ledger
from e2e.support import ACCOUNT, E2E, WAIT

KEY_ORIGINS = [
    prefix + suffix
    for prefix in (MASTER_KEY_ENV, NEW_MASTER_KEY_ENV)
    for suffix in ("", "_FILE", "_COMMAND", "_KEYRING")
]


@pytest.fixture
def store(e2e: E2E) -> E2E:
    """``sunrise`` switched to the store: its env variables gone, a master key in a 0600 file."""
    for name in KEY_ORIGINS:
        e2e.monkeypatch.delenv(name, raising=False)
    e2e.monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_USERNAME")
    e2e.monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD")
    e2e.accounts[ACCOUNT]["credentials"] = {"source": "store"}
    e2e.write_config()
    key_file = e2e.tmp / "master.key"
    e2e.ok("credentials", "new-master-key", "--file", str(key_file))
    e2e.monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(key_file))
    return e2e


def _outputs(*results: object) -> str:
    return "\n".join(getattr(r, "output", "") for r in results)


def test_a_stored_login_serves_test_submit_and_fetch(store: E2E) -> None:
    login = store.users[ACCOUNT]
    typed = f"{login.username}\n{login.password}\n{login.password}\n"
    outputs = [store.run("credentials", "set", ACCOUNT, input=typed)]
    assert outputs[0].exit_code == 0, outputs[0].output

    outputs.append(store.ok("credentials", "test", ACCOUNT))
    assert "login ok" in outputs[-1].stdout
    outputs.append(store.ok("submit", str(store.claims_file()), "--account", ACCOUNT))
    store.wait_answered(5)
    outputs.append(store.ok("fetch", "--account", ACCOUNT, "--json"))
    assert len(json.loads(outputs[-1].stdout)[0]["files"]) == 5
    outputs.append(store.ok("credentials", "show", ACCOUNT, "--json"))
    shown = json.loads(outputs[-1].stdout)
    assert shown["username_fingerprint"] == username_fingerprint(login.username)
    assert shown["last_used"] is not None

    audit = store.audit()
    used = [e for e in audit if e["action"] == "credentials-used"]
    assert len(used) == 3  # credentials test, submit, fetch
    for entry in used:
        assert entry["account"] == ACCOUNT
        assert entry["detail"] == f"source store, username {username_fingerprint(login.username)}"
    assert [e["action"] for e in audit].count("credentials-stored") == 1
    outputs.append(store.ok("audit"))

    every_byte = b"".join(p.read_bytes() for p in store.state_dir.rglob("*") if p.is_file())
    assert login.password.encode() not in every_byte
    text = _outputs(*outputs) + json.dumps(audit)
    assert login.password not in text


def test_wrong_key_and_tampering_are_clear_errors_and_no_login_is_tried(store: E2E) -> None:
    login = store.users[ACCOUNT]
    stored = store.run(
        "credentials", "set", ACCOUNT, "--stdin", input=f"{login.username}\n{login.password}\n"
    )
    assert stored.exit_code == 0
    other = store.tmp / "other.key"
    store.ok("credentials", "new-master-key", "--file", str(other))
    store.monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(other))
    wrong = store.run("credentials", "test", ACCOUNT)
    assert wrong.exit_code == 1 and "wrong master key" in wrong.stderr
    assert "Traceback" not in wrong.output

    store.monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(store.tmp / "master.key"))
    with Ledger.open(store.state_dir) as ledger:
        db = ledger.db
        sealed = bytearray(db.execute("SELECT sealed FROM stored_credentials").fetchone()[0])
        sealed[20] ^= 0x40
        db.execute("UPDATE stored_credentials SET sealed = ?", (bytes(sealed),))
    tampered = store.run("fetch", "--account", ACCOUNT)
    assert tampered.exit_code == 1 and "integrity check" in tampered.stderr
    actions = [e["action"] for e in store.audit()]
    assert "credentials-used" not in actions and "login-refused" not in actions
    assert login.password not in _outputs(stored, wrong, tampered)


def test_debug_runs_through_the_store_leak_no_secret(store: E2E) -> None:
    """Real processes at -vv (claimferry's and paramiko's DEBUG logs): neither the
    password nor the master key shows, in any output or anywhere in the state dir."""
    login = store.users[ACCOUNT]
    master_key = (store.tmp / "master.key").read_text().strip()
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_FAILPOINT"}

    def claimferry(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "claimferry", "-vvv", "--config", str(store.config_path), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=3 * WAIT,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
        return done

    typed = f"{login.username}\n{login.password}\n"
    runs = [claimferry("credentials", "set", ACCOUNT, "--stdin", input=typed)]
    runs.append(claimferry("credentials", "test", ACCOUNT, "--json"))
    runs.append(claimferry("submit", str(store.claims_file()), "--account", ACCOUNT, "--json"))
    store.wait_answered(5)
    runs.append(claimferry("fetch", "--all", "--json"))
    runs.append(claimferry("credentials", "show", ACCOUNT, "--json"))
    runs.append(claimferry("audit", "--json"))
    output = "\n".join(done.stdout + done.stderr for done in runs)
    assert " DEBUG paramiko" in output  # the logs really were on
    every_byte = b"".join(p.read_bytes() for p in store.state_dir.rglob("*") if p.is_file())
    for secret in (login.password, master_key):
        assert secret not in output
        assert secret.encode() not in every_byte
