"""The transport's pins end to end: the CLI against the mock Office Ally (issue 11, point 8).

The unit-level pins are in tests/transport/test_pins.py; each behaviour here
is also pinned there, so a planted bug fails at both levels:

(a) a host key of the right type but other bytes is refused, both fingerprints shown;
(b) a refused login is one attempt per run, never retried;
(c) a failed or interrupted upload leaves no temporary file in inbound.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest

from e2e.conftest import e2e as e2e  # the end-to-end world, as tests/e2e uses it
from e2e.support import ACCOUNT, E2E, final_names


@pytest.fixture
def logins(e2e: E2E, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password login the mock is asked to check (user names only)."""
    seen: list[str] = []
    check: Callable[[str, str], bool] = e2e.harness.login_password

    def counting(username: str, password: str) -> bool:
        seen.append(username)
        return check(username, password)

    monkeypatch.setattr(e2e.harness, "login_password", counting)
    return seen


def _other_key_of_the_same_type(openssh: str) -> tuple[str, str]:
    """The key line with its last byte changed, and that key's SHA256 fingerprint."""
    key_type, b64 = openssh.split()[:2]
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 0x01
    digest = base64.b64encode(hashlib.sha256(bytes(blob)).digest()).decode().rstrip("=")
    return f"{key_type} {base64.b64encode(bytes(blob)).decode()}", f"SHA256:{digest}"


# (a) -----------------------------------------------------------------------------------


def test_a_pinned_key_of_the_right_type_but_other_bytes_stops_every_command(
    e2e: E2E, logins: list[str]
) -> None:
    pinned, pinned_fingerprint = _other_key_of_the_same_type(e2e.harness.host_key_openssh)
    e2e.set_sftp(ACCOUNT, host_key=pinned)
    for command in (
        ["submit", str(e2e.claims_file()), "--account", ACCOUNT],
        ["fetch", "--account", ACCOUNT],
        ["credentials", "test", ACCOUNT],
    ):
        result = e2e.run(*command)
        assert result.exit_code == 1, (command, result.output)
        assert "has CHANGED" in result.stderr, command
        assert f"ssh-ed25519 {pinned_fingerprint}" in result.stderr
        assert f"ssh-ed25519 {e2e.harness.fingerprint}" in result.stderr
        assert "Traceback" not in result.output
    assert logins == []  # no password went to a server that is not the pinned one
    inbound = e2e.harness.inbound_dir(e2e.users[ACCOUNT].username)
    assert list(inbound.iterdir()) == []
    # The operator's way out: look at the key, pin it, and the account works again.
    shown = e2e.run("hostkey", ACCOUNT)
    assert shown.exit_code == 1  # the server's key is not the pinned one
    assert e2e.harness.fingerprint in shown.stdout and pinned_fingerprint in shown.stdout
    e2e.set_sftp(ACCOUNT, host_key=e2e.harness.host_key_openssh)
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert logins == [e2e.users[ACCOUNT].username]


# (b) -----------------------------------------------------------------------------------


def test_a_locked_account_is_one_login_whatever_the_retries_and_the_next_runs_hold(
    e2e: E2E, logins: list[str]
) -> None:
    """Good credentials refused, as a locked account is: one try, then no more."""
    e2e.set_sftp(ACCOUNT, retries=4)
    e2e.harness.faults.refuse_logins = True
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "refused the SFTP login" in result.stderr and "Not retried" in result.stderr
    assert logins == [e2e.users[ACCOUNT].username]
    for command in (
        ["fetch", "--account", ACCOUNT],
        ["submit", str(e2e.claims_file()), "--account", ACCOUNT],
    ):
        held = e2e.run(*command)
        assert held.exit_code == 1 and "was refused" in held.stderr
    assert len(logins) == 1
    assert e2e.status() == {"ok": True, "claims": [], "batches": []}


def test_a_refused_password_during_fetch_is_one_attempt(e2e: E2E, logins: list[str]) -> None:
    e2e.set_sftp(ACCOUNT, retries=4)
    wrong = "portal-login-not-sftp-9Z"
    e2e.monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", wrong)
    result = e2e.run("fetch", "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert logins == [e2e.users[ACCOUNT].username]
    assert wrong not in result.output


# (c) -----------------------------------------------------------------------------------


def test_every_attempt_cut_then_delivered_leaves_only_the_final_file(e2e: E2E) -> None:
    claims = e2e.claims_file()
    e2e.set_sftp(ACCOUNT, retries=2)
    e2e.harness.faults.drop_after_bytes = 1000  # per connection: all three attempts are cut
    result = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    inbound = e2e.harness.inbound_dir(e2e.users[ACCOUNT].username)
    assert final_names(inbound) == []
    e2e.harness.faults.clear()
    e2e.ok("submit", str(claims), "--account", ACCOUNT)
    (batch,) = e2e.status()["batches"]
    assert batch["state"] == "uploaded"
    assert sorted(p.name for p in inbound.iterdir()) == [batch["remote_name"]]
    assert len(e2e.wait_answered(5)) == 5  # one FileID: the mock processed it once


def test_a_refused_write_with_retries_leaves_nothing_in_inbound(e2e: E2E) -> None:
    e2e.set_sftp(ACCOUNT, retries=3)
    e2e.harness.faults.fail_writes = True
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert list(e2e.harness.inbound_dir(e2e.users[ACCOUNT].username).iterdir()) == []
    assert e2e.harness.wait_idle(10) and e2e.outbound() == []
