"""Many clinic accounts on one clearinghouse; credentials test and hostkey."""

from __future__ import annotations

import json
import secrets

from claimferry_harness.users import HarnessLogin
from e2e.support import ACCOUNT, E2E, final_names, sha256_file

OTHERS = ("harbor", "lakeside")


def _add_clinics(e2e: E2E) -> dict[str, HarnessLogin]:
    logins = {ACCOUNT: e2e.users[ACCOUNT]}
    for name in OTHERS:
        login = HarnessLogin(f"{name}-sftp", "test-only-" + secrets.token_urlsafe(12))
        e2e.harness.add_user(login.username, password=login.password)
        e2e.add_account(name, login)
        logins[name] = login
    return logins


def test_fetch_all_accounts_in_parallel(e2e: E2E) -> None:
    logins = _add_clinics(e2e)
    claims = e2e.claims_file()
    for account in logins:
        e2e.ok("submit", str(claims), "--account", account)
    expected = {account: e2e.wait_answered(4, account) for account in logins}
    for account, login in logins.items():
        (name,) = final_names(e2e.harness.inbound_dir(login.username))
        assert name.startswith(f"{account.upper()}01_837P_OATEST_"), name

    fetched = e2e.json("fetch", "--all", "--jobs", "4")
    assert [r["account"] for r in fetched] == sorted(logins)
    file_ids = set()
    for result in fetched:
        account = result["account"]
        assert "error" not in result, result
        files = {f["name"]: f for f in result["files"]}
        assert sorted(files) == [p.name for p in expected[account]]
        for path in expected[account]:
            assert files[path.name]["sha256"] == sha256_file(path)
            archived = e2e.state_dir / "archive" / account / "received" / path.name
            assert archived.read_bytes() == path.read_bytes()
            file_ids.add(path.name.split("_", 1)[0])
    assert len(file_ids) == 3  # each account got its own answers, none of another's

    status = e2e.status()
    for account in logins:
        mine = [c for c in status["claims"] if c["account"] == account]
        assert len(mine) == 4 and {c["state"] for c in mine} == {"paid"}, mine
    text = e2e.ok("fetch", "--all", "--jobs", "4").stdout
    assert sorted(text.splitlines()) == [f"{a}: 0 new file(s)" for a in sorted(logins)]


def test_fetch_all_reports_the_one_account_that_fails(e2e: E2E) -> None:
    logins = _add_clinics(e2e)
    e2e.ok("status")  # creates the ledger: see test_fetch_all_on_a_fresh_state_dir
    e2e.monkeypatch.setenv("CLAIMFERRY_HARBOR_SFTP_PASSWORD", "not-the-password-9")
    result = e2e.run("fetch", "--all", "--jobs", "4")
    assert result.exit_code == 1, result.output
    assert "harbor: error: Office Ally refused the SFTP login for account harbor" in result.stderr
    assert f"{ACCOUNT}: 0 new file(s)" in result.stdout
    assert "lakeside: 0 new file(s)" in result.stdout
    assert "1 of 3 account(s) failed" in result.stderr
    assert "not-the-password-9" not in result.output
    assert len(logins) == 3


def test_fetch_all_on_a_fresh_state_dir(e2e: E2E) -> None:
    """The first ``fetch --all`` of a new install opens the ledger from several threads.

    Regression: the ledger's migrations used to race ("table ... already exists").
    """
    _add_clinics(e2e)
    for attempt in range(5):  # the race used to be lost almost every time
        e2e.monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(e2e.tmp / f"fresh-state-{attempt}"))
        result = e2e.run("fetch", "--all", "--jobs", "4")
        assert result.exit_code == 0, result.stderr
        assert "cannot open the ledger" not in result.stderr


def test_credentials_test_prints_no_secret(e2e: E2E) -> None:
    password = e2e.users[ACCOUNT].password
    result = e2e.ok("credentials", "test", ACCOUNT)
    assert result.stdout.strip() == (
        f"{ACCOUNT}: login ok (host {e2e.harness.fingerprint}); 0 response file(s) waiting"
    )
    assert password not in result.output
    data = e2e.json("credentials", "test", ACCOUNT)
    assert data == {
        "account": ACCOUNT,
        "ok": True,
        "host_fingerprint": e2e.harness.fingerprint,
        "responses_waiting": 0,
    }
    e2e.monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD")
    result = e2e.run("credentials", "test", ACCOUNT)
    assert result.exit_code == 1
    assert "CLAIMFERRY_SUNRISE_SFTP_PASSWORD" in result.stderr
    assert "Traceback" not in result.output


def test_hostkey_shows_the_harness_key_and_whether_it_matches_the_pin(e2e: E2E) -> None:
    result = e2e.ok("hostkey", ACCOUNT)
    assert result.stdout.splitlines()[0] == f"{ACCOUNT}: ssh-ed25519 {e2e.harness.fingerprint}"
    assert f"pinned:    ssh-ed25519 {e2e.harness.fingerprint}" in result.stdout
    assert "matches the pinned key" in result.stdout
    data = e2e.json("hostkey", ACCOUNT)
    assert data["fingerprint"] == e2e.harness.fingerprint == e2e.host_key.fingerprint
    assert data["host_key"] == e2e.harness.host_key_openssh
    assert data["pinned"] is True and data["matches_pinned"] is True

    # after a rotation: the new key, flagged as differing (exit 1); re-pinning it makes
    # logins work (`hostkey --pin`: tests/e2e/test_hostkey.py)
    new = e2e.harness.rotate_host_key()
    result = e2e.run("hostkey", ACCOUNT)
    assert result.exit_code == 1
    assert new in result.stdout and "DIFFERS from the pinned key" in result.stdout
    data = json.loads(e2e.run("hostkey", ACCOUNT, "--json").stdout)
    assert data["fingerprint"] == new and data["matches_pinned"] is False
    assert e2e.run("credentials", "test", ACCOUNT).exit_code == 1
    e2e.set_sftp(ACCOUNT, host_key=data["host_key"])
    assert new in e2e.ok("credentials", "test", ACCOUNT).stdout

    # with nothing pinned, hostkey still shows the key (it never logs in)
    e2e.set_sftp(ACCOUNT, host_key=None, known_hosts=str(e2e.tmp / "no_known_hosts"))
    data = json.loads(e2e.ok("hostkey", ACCOUNT, "--json").stdout)
    assert data["fingerprint"] == new and data["pinned"] is False
