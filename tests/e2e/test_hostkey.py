"""``claimferry hostkey``: a changed key exits 1; ``--pin`` re-pins it in the config,
keeping the operator's comments and layout, only after asking (or ``--yes``)."""

from __future__ import annotations

import json
from pathlib import Path

from claimferry_harness.users import HarnessLogin
from e2e.support import ACCOUNT, E2E

OLD_PIN_NOTE = "# pinned after the call with Office Ally"


def _config_by_hand(e2e: E2E, *, other_port: int = 0) -> str:
    """An accounts config as an operator writes it: comments, 4-space indent, quoting,
    a flow mapping; ``sunrise`` and ``harbor`` pin the harness's key, ``lakeside``
    (another server) pins the same key for another port."""
    host, port, key = e2e.harness.host, e2e.harness.port, e2e.host_key.openssh
    text = f"""\
# Our clinics on Office Ally; reviewed by the practice manager.
accounts:
    {ACCOUNT}:   # the main clinic
        clearinghouse: officeally
        submitter_id: 'SUNRISE01'
        mode: test
        contact: {{name: Billing Office, phone: "2175550100"}}
        sftp:
            host: {host}
            port: {port}
            host_key: "{key}"  {OLD_PIN_NOTE}
            retries: 0
        credentials:
            source: env   # CLAIMFERRY_SUNRISE_SFTP_*
    harbor:
        clearinghouse: officeally
        submitter_id: HARBOR01
        sftp: {{host: {host}, port: {port}, host_key: "{key}", retries: 0}}
        credentials: {{source: env}}
    lakeside:
        clearinghouse: officeally
        submitter_id: LAKESIDE01
        sftp: {{host: {host}, port: {other_port or port + 1}, host_key: "{key}"}}
        credentials: {{source: env}}
"""
    e2e.config_path.write_text(text)
    e2e.config_path.chmod(0o640)
    return text


def _add_harbor(e2e: E2E) -> None:
    login = HarnessLogin("harbor-sftp", "test-only-harbor-password-1")
    e2e.harness.add_user(login.username, password=login.password)
    e2e.add_account("harbor", login)


def test_a_changed_key_exits_1_with_both_fingerprints(e2e: E2E) -> None:
    old = e2e.harness.fingerprint
    new = e2e.harness.rotate_host_key()
    result = e2e.run("hostkey", ACCOUNT)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{ACCOUNT}: ssh-ed25519 {new}"
    assert f"  pinned:    ssh-ed25519 {old}" in lines
    assert "  DIFFERS from the pinned key" in lines
    assert f"claimferry hostkey {ACCOUNT} --pin" in result.stdout
    assert "differs from the one pinned for sunrise" in result.stderr
    assert "Traceback" not in result.output

    result = e2e.run("hostkey", ACCOUNT, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["fingerprint"] == new and data["pinned_fingerprint"] == old
    assert data["matches_pinned"] is False and data["pinned_now"] == []


def test_pin_with_yes_rewrites_only_the_key_and_keeps_comments_layout_and_mode(
    e2e: E2E,
) -> None:
    _add_harbor(e2e)
    before = _config_by_hand(e2e)
    new = e2e.harness.rotate_host_key()
    assert e2e.run("credentials", "test", ACCOUNT).exit_code == 1  # the pin holds

    result = e2e.ok("hostkey", ACCOUNT, "--pin", "--yes")
    assert f"pinned in {e2e.config_path} for {ACCOUNT}, harbor" in result.stdout
    after = e2e.config_path.read_text()
    new_key = e2e.harness.host_key_openssh
    changed = [
        (old_line, new_line)
        for old_line, new_line in zip(before.splitlines(), after.splitlines(), strict=True)
        if old_line != new_line
    ]
    # sunrise and harbor pinned the old key of this server: both re-pinned, the key
    # swapped in place; lakeside (another port) and every other line are untouched.
    old_key = e2e.host_key.openssh
    assert [old_line.replace(old_key, new_key) for old_line, _ in changed] == [
        new_line for _, new_line in changed
    ]
    assert [old_line.split(":")[0].strip() for old_line, _ in changed] == ["host_key", "sftp"]
    assert e2e.config_path.stat().st_mode & 0o777 == 0o640
    assert not [p for p in e2e.tmp.iterdir() if p.name.startswith(".accounts.yaml.")]

    assert new in e2e.ok("credentials", "test", ACCOUNT).stdout
    assert new in e2e.ok("credentials", "test", "harbor").stdout
    data = e2e.json("hostkey", ACCOUNT)
    assert data["matches_pinned"] is True and data["pinned_fingerprint"] == new


def test_pin_asks_first_and_a_no_writes_nothing(e2e: E2E) -> None:
    before = _config_by_hand(e2e)
    old = e2e.harness.fingerprint
    new = e2e.harness.rotate_host_key()

    for answer in ("n\n", ""):  # declined, and no answer at all (stdin closed)
        result = e2e.run("hostkey", ACCOUNT, "--pin", input=answer)
        assert result.exit_code == 1, result.output
        assert f"  pinned:    ssh-ed25519 {old}" in result.stderr
        assert f"Pin ssh-ed25519 {new} for {ACCOUNT}, harbor in {e2e.config_path}?" in result.stderr
        assert "nothing pinned; pass --yes" in result.stderr
        assert e2e.config_path.read_text() == before

    result = e2e.run("hostkey", ACCOUNT, "--pin", "--json", input="y\n")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the question went to stderr, stdout is the JSON
    assert data["pinned_now"] == [ACCOUNT, "harbor"] and data["fingerprint"] == new
    assert e2e.harness.host_key_openssh in e2e.config_path.read_text()
    assert new in e2e.ok("credentials", "test", ACCOUNT).stdout


def test_pin_when_the_key_matches_changes_nothing(e2e: E2E) -> None:
    before = _config_by_hand(e2e)
    mtime = e2e.config_path.stat().st_mtime_ns
    result = e2e.ok("hostkey", ACCOUNT, "--pin")  # no question: nothing to pin
    assert "matches the pinned key" in result.stdout
    assert "Pin " not in result.stderr and "pinned in" not in result.stdout
    assert e2e.config_path.read_text() == before
    assert e2e.config_path.stat().st_mtime_ns == mtime


def test_pin_an_account_that_used_known_hosts(e2e: E2E) -> None:
    e2e.set_sftp(ACCOUNT, host_key=None, known_hosts=str(e2e.tmp / "no_known_hosts"))
    result = e2e.ok("hostkey", ACCOUNT)  # nothing pinned, nothing differs
    assert "nothing pinned" in result.stdout
    assert f"claimferry hostkey {ACCOUNT} --pin" in result.stdout
    e2e.ok("hostkey", ACCOUNT, "--pin", "--yes")
    assert e2e.harness.host_key_openssh in e2e.config_path.read_text()
    assert e2e.json("hostkey", ACCOUNT)["matches_pinned"] is True
    e2e.ok("credentials", "test", ACCOUNT)


def test_a_pin_that_is_not_base64_is_a_config_error(e2e: E2E) -> None:
    e2e.set_sftp(ACCOUNT, host_key="ssh-ed25519 AAAA!not-base64")
    result = e2e.run("hostkey", ACCOUNT, "--pin", "--yes")
    assert result.exit_code == 2, result.output
    assert f"accounts.{ACCOUNT}.sftp.host_key: the key is not valid base64" in result.stderr
    assert "AAAA!not-base64" in e2e.config_path.read_text()


def test_pin_keeps_a_symlinked_config_a_link(e2e: E2E) -> None:
    real = e2e.tmp / "shared" / "accounts.yaml"
    real.parent.mkdir()
    _config_by_hand(e2e)
    e2e.config_path.rename(real)
    e2e.config_path.symlink_to(real)
    e2e.harness.rotate_host_key()
    e2e.ok("hostkey", ACCOUNT, "--pin", "--yes")
    assert e2e.config_path.is_symlink()
    assert e2e.harness.host_key_openssh in Path(real).read_text()
