"""What fails must fail precisely: an exit code, a message, nothing under a final name."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from e2e.support import ACCOUNT, E2E, final_names


@pytest.fixture
def logins(e2e: E2E, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password login the harness is asked to check (user names only)."""
    seen: list[str] = []
    check: Callable[[str, str], bool] = e2e.harness.login_password

    def counting(username: str, password: str) -> bool:
        seen.append(username)
        return check(username, password)

    monkeypatch.setattr(e2e.harness, "login_password", counting)
    return seen


def _nothing_delivered(e2e: E2E) -> None:
    assert final_names(e2e.harness.inbound_dir(e2e.users[ACCOUNT].username)) == []
    assert e2e.harness.wait_idle(10)
    assert e2e.outbound() == []


def test_wrong_password_one_login_attempt_no_retry(e2e: E2E, logins: list[str]) -> None:
    e2e.set_sftp(ACCOUNT, retries=3)  # retries are for the network, never for a refused login
    wrong = "not-the-sftp-password-7Q"
    e2e.monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", wrong)
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        f"error: Office Ally refused the SFTP login for account {ACCOUNT} "
        f"(user '{e2e.users[ACCOUNT].username}'). Not retried"
    ) in result.stderr
    assert wrong not in result.output
    assert logins == [e2e.users[ACCOUNT].username]
    _nothing_delivered(e2e)
    # the login is checked before a batch is recorded: nothing to finish later
    assert e2e.status() == {"ok": True, "claims": [], "batches": []}
    refused = [a for a in e2e.json("audit") if a["action"] == "login-refused"]
    assert [a["account"] for a in refused] == [ACCOUNT]
    assert wrong not in str(refused)

    result = e2e.run("credentials", "test", ACCOUNT)
    assert result.exit_code == 1 and "refused the SFTP login" in result.stderr
    assert wrong not in result.output
    assert len(logins) == 2


def test_after_a_refused_login_no_run_tries_again_until_credentials_test(
    e2e: E2E, logins: list[str]
) -> None:
    """A cron job must not lock the clinic's account by trying a wrong password each hour."""
    right = e2e.users[ACCOUNT].password
    e2e.monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", "not-the-sftp-password-7Q")
    assert e2e.run("fetch", "--account", ACCOUNT).exit_code == 1
    assert len(logins) == 1
    e2e.monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", right)  # fixed, but not tested
    for command in (
        ["fetch", "--account", ACCOUNT],
        ["submit", str(e2e.claims_file()), "--account", ACCOUNT],
    ):
        held = e2e.run(*command)
        assert held.exit_code == 1, held.output
        assert f"the last SFTP login for account {ACCOUNT} was refused" in held.stderr
        assert f"claimferry credentials test {ACCOUNT}" in held.stderr
    assert len(logins) == 1  # nothing was tried
    assert e2e.status() == {"ok": True, "claims": [], "batches": []}

    e2e.ok("credentials", "test", ACCOUNT)
    e2e.ok("fetch", "--account", ACCOUNT)
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert len(logins) == 4
    actions = [a["action"] for a in e2e.audit() if a["action"].startswith("login-")]
    assert actions == ["login-refused", "login-ok"]


def test_unknown_host_key_fails_closed(e2e: E2E, logins: list[str]) -> None:
    known_hosts = e2e.tmp / "known_hosts"
    known_hosts.write_text("")
    e2e.set_sftp(ACCOUNT, host_key=None, known_hosts=str(known_hosts))
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    where = f"{e2e.harness.host}:{e2e.harness.port}"
    assert f"host key of {where} is unknown" in result.stderr
    assert str(known_hosts) in result.stderr
    assert "expected:  (none)" in result.stderr
    assert f"presented: ssh-ed25519 {e2e.harness.fingerprint}" in result.stderr
    assert f"claimferry hostkey {ACCOUNT}" in result.stderr
    assert logins == []  # no secret is sent to an unverified server
    _nothing_delivered(e2e)


def test_changed_host_key_shows_both_fingerprints(e2e: E2E, logins: list[str]) -> None:
    pinned = e2e.harness.fingerprint
    presented = e2e.harness.rotate_host_key()
    assert presented != pinned
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "has CHANGED" in result.stderr
    assert f"expected:  ssh-ed25519 {pinned}" in result.stderr
    assert f"presented: ssh-ed25519 {presented}" in result.stderr
    assert "Never switch host key checking off" in result.stderr
    assert logins == []
    _nothing_delivered(e2e)
    # fetch fails closed the same way, and says which account failed
    result = e2e.run("fetch", "--account", ACCOUNT)
    assert result.exit_code == 1
    assert "has CHANGED" in result.stderr and presented in result.stderr
    assert logins == []


def test_interrupted_upload_stays_pending_then_is_delivered_once(e2e: E2E) -> None:
    claims = e2e.claims_file()
    e2e.harness.faults.drop_after_bytes = 1000
    result = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    status = e2e.status()
    (batch,) = status["batches"]
    name = batch["file_name"]
    assert f"error: upload of {name} on {e2e.harness.host}:{e2e.harness.port} failed" in (
        result.stderr
    )
    # nothing under the final name; the harness saw nothing to process
    inbound = e2e.harness.inbound_dir(e2e.users[ACCOUNT].username)
    assert final_names(inbound) == []
    assert not (inbound / name).exists()
    _nothing_delivered(e2e)
    # the batch stays pending (built: known undelivered; uploading: to be looked for on
    # the server), with its error, and status says the next submit finishes it
    assert batch["state"] in ("built", "uploading") and batch["error"]
    assert batch["remote_name"] is None
    assert {c["state"] for c in status["claims"]} == {"built"}
    shown = e2e.ok("status")
    assert (
        f"batch {batch['id']} ({ACCOUNT}) is {batch['state']}, not yet confirmed delivered"
        in shown.stderr
    )
    assert "the next submit for the account finishes it" in shown.stderr
    assert [e["action"] for e in e2e.audit()] == [
        "credentials-used",
        "batch-built",
        "upload-failed",
    ]

    # once the network is healthy, the next submit delivers it exactly once
    e2e.harness.faults.clear()
    result = e2e.ok("submit", str(claims), "--account", ACCOUNT)
    assert result.stdout.count("uploaded ") == 1 and f"uploaded {name}" in result.stdout
    assert final_names(inbound) == [name]
    assert (inbound / name).read_bytes() == (
        e2e.state_dir / "archive" / ACCOUNT / "sent" / name
    ).read_bytes()
    assert [p.name for p in inbound.iterdir()] == [name]  # the temporary file is gone too
    responses = e2e.wait_answered(5)
    assert len(responses) == 5  # one FileID: processed once
    (batch,) = e2e.status()["batches"]
    assert batch["state"] == "uploaded" and batch["remote_name"] == name
    assert [e["action"] for e in e2e.audit()] == [
        "credentials-used",
        "batch-built",
        "upload-failed",
        "credentials-used",
        "upload",
    ]

    # and a third submit of the same file is refused: nothing new
    result = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 1 and f"already sent in batch {batch['id']}" in result.stderr
    assert final_names(inbound) == [name]
    e2e.ok("fetch", "--account", ACCOUNT)
    assert {c["state"] for c in e2e.status()["claims"]} == {"paid"}


def test_refused_write_is_known_undelivered_and_sent_by_the_next_submit(e2e: E2E) -> None:
    """Regression: a refused write (no rename sent) used to leave the batch 'uncertain'."""
    claims = e2e.claims_file()
    e2e.harness.faults.fail_writes = True
    result = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "the server refused a write" in result.stderr
    inbound = e2e.harness.inbound_dir(e2e.users[ACCOUNT].username)
    assert list(inbound.iterdir()) == []  # not even a temporary file: nothing was delivered
    e2e.harness.faults.clear()
    result = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert result.exit_code == 0, result.stderr
    (batch,) = e2e.status()["batches"]
    assert final_names(inbound) == [batch["file_name"]]
    assert batch["state"] == "uploaded"


def test_server_down_fails_precisely_and_records_nothing(e2e: E2E) -> None:
    e2e.harness.stop()
    where = f"{e2e.harness.host}:{e2e.harness.port}"
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"error: connect on {where} failed after 1 attempt: ConnectionRefusedError" in (
        result.stderr
    )
    assert e2e.status() == {"ok": True, "claims": [], "batches": []}
    result = e2e.run("fetch", "--account", ACCOUNT)
    assert result.exit_code == 1
    assert f"{ACCOUNT}: error: connect on {where} failed" in result.stderr
    assert "1 of 1 account(s) failed" in result.stderr


def test_unreadable_responses_are_archived_reported_and_do_not_stop_the_others(
    e2e: E2E,
) -> None:
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    good = e2e.wait_answered(4)
    outbound = e2e.harness.outbound_dir(e2e.users[ACCOUNT].username)
    junk = outbound / "100000099_999_20261128.999"
    junk.write_bytes(b"this is not X12 at all")
    result = e2e.run("fetch", "--account", ACCOUNT, "--json")
    assert result.exit_code == 1  # an unreadable answer is a failure to report
    assert "1 response file(s) could not be read" in result.stderr
    files = {f["name"]: f for f in json.loads(result.stdout)["results"][0]["files"]}
    assert sorted(files) == sorted([*(p.name for p in good), junk.name])
    assert files[junk.name]["error"] and files[junk.name]["kind"] is None
    assert all(files[p.name]["error"] is None for p in good)
    archived = e2e.state_dir / "archive" / ACCOUNT / "received" / junk.name
    assert archived.read_bytes() == junk.read_bytes()
    assert junk.exists()  # never deleted remotely
    assert {c["state"] for c in e2e.status()["claims"]} == {"paid"}
    assert "0 new file(s)" in e2e.ok("fetch", "--account", ACCOUNT).stdout


def test_an_835_broken_half_way_changes_no_claim(e2e: E2E) -> None:
    """Its first claims read fine, then the file ends: none of its answers is recorded."""
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    answers = e2e.wait_answered(4)
    (remit,) = [p for p in answers if "_835_" in p.name]
    text = remit.read_text()
    cut = text.index("CLP*", text.index("CLP*", text.index("CLP*") + 1) + 1)  # third claim
    remit.write_text(text[:cut])
    result = e2e.run("fetch", "--account", ACCOUNT, "--json")
    assert result.exit_code == 1
    files = {f["name"]: f for f in json.loads(result.stdout)["results"][0]["files"]}
    assert files[remit.name]["error"] and files[remit.name]["kind"] is None
    claims = e2e.status()["claims"]
    assert {c["state"] for c in claims} == {"acknowledged"}
    assert all(e["file"] != remit.name for c in claims for e in c["history"])


def test_a_login_refused_on_reconnect_holds_logins_too(
    e2e: E2E, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops mid-upload and the password no longer works when the
    transport logs in again: that refusal puts the account on hold like a first one."""
    e2e.set_sftp(ACCOUNT, retries=1)
    e2e.harness.faults.drop_after_bytes = 1000
    check: Callable[[str, str], bool] = e2e.harness.login_password
    attempts: list[str] = []

    def first_only(username: str, password: str) -> bool:
        attempts.append(username)
        return len(attempts) == 1 and check(username, password)

    monkeypatch.setattr(e2e.harness, "login_password", first_only)
    result = e2e.run("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(attempts) == 2
    assert [a["action"] for a in e2e.audit() if a["action"].startswith("login-")] == [
        "login-refused"
    ]
    held = e2e.run("fetch", "--account", ACCOUNT)
    assert held.exit_code == 1 and "was refused" in held.stderr
    assert len(attempts) == 2
