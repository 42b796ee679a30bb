"""The vendor's credential store: envelope encryption in the real ledger file.

Wrong master keys, tampered and swapped rows, every origin of the master key,
0600 files, the CLI's set/show/remove/rotate (with SIGKILL at each step of a
rotation), and no secret anywhere in the state directory or the output.
(Logins through the store against the mock Office Ally: e2e/test_credential_store.py.)
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import yaml
from click.testing import CliRunner, Result

from claimferry.cli import create_cli
from claimferry.credentials import Credentials, SecretStr, username_fingerprint
from claimferry.credstore import (
    MASTER_KEY_ENV,
    NEW_MASTER_KEY_ENV,
    CredentialStore,
    MasterKey,
    generate_master_key,
    load_master_key,
)
from claimferry.errors import CredentialError
from claimferry.ledger import LEDGER_FILE, Ledger
from claimferry.manager import PluginManager
from support.memory_keyring import MemoryKeyring

USERNAME = "oa-sftp-user-7731"
PASSWORD = "Tr0ub4dor&3-horse-staple"
OTHER_PASSWORD = "correct-Battery-9981"
ACCOUNTS = ("sunrise", "lakeside", "hillcrest", "riverbend", "oakwood")


def key() -> MasterKey:
    return MasterKey(base64.b64decode(generate_master_key()), "test")


@pytest.fixture(autouse=True)
def no_master_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for prefix in (MASTER_KEY_ENV, NEW_MASTER_KEY_ENV):
        for suffix in ("", "_FILE", "_COMMAND", "_KEYRING"):
            monkeypatch.delenv(prefix + suffix, raising=False)
    monkeypatch.delenv("CLAIMFERRY_FAILPOINT", raising=False)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "state") as opened:
        yield opened


def secrets(password: str = PASSWORD, username: str = USERNAME) -> Credentials:
    return Credentials(username=username, password=SecretStr(password))


def state_bytes(state_dir: Path) -> bytes:
    """Every byte in the state directory: the ledger, its WAL, the archive."""
    return b"".join(p.read_bytes() for p in sorted(state_dir.rglob("*")) if p.is_file())


# -- the store itself -------------------------------------------------------------------


def test_secrets_round_trip_and_are_sealed_at_rest(ledger: Ledger) -> None:
    master = key()
    store = CredentialStore(ledger.db)
    info = store.put("sunrise", secrets(), master, actor="alice")
    got = store.get("sunrise", master)
    assert got.username == USERNAME
    assert got.password is not None and got.password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(got) and PASSWORD not in str(got)
    assert info.username_fingerprint == username_fingerprint(USERNAME)
    assert info.set_by == "alice" and info.master_key_id == master.key_id
    assert store.info("sunrise") == info
    data = state_bytes(ledger.path.parent)
    for plain in (PASSWORD, USERNAME):
        assert plain.encode() not in data
    assert master.key not in data and base64.b64encode(master.key) not in data


def test_a_private_key_and_passphrase_are_kept_too(ledger: Ledger) -> None:
    master = key()
    store = CredentialStore(ledger.db)
    pem = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAkeymaterial\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    given = Credentials(USERNAME, private_key=SecretStr(pem), passphrase=SecretStr(PASSWORD))
    store.put("sunrise", given, master, actor="alice")
    got = store.get("sunrise", master)
    assert got.password is None
    assert got.private_key is not None and got.private_key.get_secret_value() == pem
    assert got.passphrase is not None and got.passphrase.get_secret_value() == PASSWORD


def test_a_wrong_master_key_is_named_not_a_decryption_traceback(ledger: Ledger) -> None:
    right, wrong = key(), key()
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), right, actor="alice")
    with pytest.raises(CredentialError) as caught:
        store.get("sunrise", wrong)
    message = str(caught.value)
    assert message.startswith("wrong master key")
    assert right.key_id in message and wrong.key_id in message
    # and no second master key can creep in beside the first
    with pytest.raises(CredentialError, match="wrong master key"):
        store.put("lakeside", secrets(), wrong, actor="alice")
    assert store.info("lakeside") is None


@pytest.mark.parametrize("column", ["sealed", "wrapped_key"])
@pytest.mark.parametrize("where", [0, 12, -1])
def test_a_changed_byte_is_detected(ledger: Ledger, column: str, where: int) -> None:
    """The nonce (byte 0), the ciphertext (12) and the GCM tag (-1) are all covered."""
    master = key()
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), master, actor="alice")
    blob = bytearray(ledger.db.execute(f"SELECT {column} FROM stored_credentials").fetchone()[0])
    blob[where] ^= 0x01
    with ledger.transaction() as db:
        db.execute(f"UPDATE stored_credentials SET {column} = ?", (bytes(blob),))
    with pytest.raises(CredentialError, match="fail their integrity check") as caught:
        store.get("sunrise", master)
    assert PASSWORD not in str(caught.value)


def test_rows_swapped_between_accounts_fail(ledger: Ledger) -> None:
    """The account's name is sealed in (AAD): another account's row does not open as this one's."""
    master = key()
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(PASSWORD), master, actor="alice")
    store.put("lakeside", secrets(OTHER_PASSWORD), master, actor="alice")
    with ledger.transaction() as db:
        rows = {
            r["account"]: (r["wrapped_key"], r["sealed"])
            for r in db.execute("SELECT * FROM stored_credentials")
        }
        for account, other in (("sunrise", "lakeside"), ("lakeside", "sunrise")):
            db.execute(
                "UPDATE stored_credentials SET wrapped_key = ?, sealed = ? WHERE account = ?",
                (*rows[other], account),
            )
    for account in ("sunrise", "lakeside"):
        with pytest.raises(CredentialError, match=f"account {account}: .*integrity"):
            store.get(account, master)
    # only the sealed secrets swapped, each account keeping its own data key: refused too
    with ledger.transaction() as db:
        db.execute(
            "UPDATE stored_credentials SET wrapped_key = ? WHERE account = ?",
            (rows["sunrise"][0], "sunrise"),
        )
    with pytest.raises(CredentialError, match="integrity"):
        store.get("sunrise", master)


def test_rotation_rewraps_every_data_key_and_leaves_the_secrets(ledger: Ledger) -> None:
    old, new = key(), key()
    store = CredentialStore(ledger.db)
    for number, account in enumerate(ACCOUNTS):
        store.put(account, secrets(f"{PASSWORD}-{number}"), old, actor="alice")
    sealed_before = dict(ledger.db.execute("SELECT account, sealed FROM stored_credentials"))
    assert store.rotate(old, new) == len(ACCOUNTS)
    assert store.master_key_ids() == {new.key_id}
    assert dict(ledger.db.execute("SELECT account, sealed FROM stored_credentials")) == (
        sealed_before
    )
    for number, account in enumerate(ACCOUNTS):
        got = store.get(account, new).password
        assert got is not None and got.get_secret_value() == f"{PASSWORD}-{number}"
        with pytest.raises(CredentialError, match="wrong master key"):
            store.get(account, old)
        assert store.info(account).rewrapped_at is not None  # type: ignore[union-attr]


def test_rotation_refuses_the_same_key_and_a_wrong_old_key(ledger: Ledger) -> None:
    old, new = key(), key()
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), old, actor="alice")
    with pytest.raises(CredentialError, match="is the current one"):
        store.rotate(old, MasterKey(old.key, "again"))
    with pytest.raises(CredentialError, match="wrong master key"):
        store.rotate(new, key())
    assert store.master_key_ids() == {old.key_id}


@pytest.mark.parametrize(
    ("column", "value"),
    [("set_by", "mallory"), ("set_at", "2020-01-01T00:00:00+00:00"), ("username_fingerprint", "x")],
)
def test_edited_metadata_is_detected(ledger: Ledger, column: str, value: str) -> None:
    """Who set the secrets, when, and the username's fingerprint are sealed in (AAD)."""
    master = key()
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), master, actor="alice")
    with ledger.transaction() as db:
        db.execute(f"UPDATE stored_credentials SET {column} = ?", (value,))
    with pytest.raises(CredentialError, match="fail their integrity check"):
        store.get("sunrise", master)


def test_the_first_master_key_is_recorded_and_no_other_taken_even_when_empty(
    ledger: Ledger,
) -> None:
    """A typo'd key path on the first `set` after the store was emptied cannot split it."""
    first, typo, rotated = key(), key(), key()
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), first, actor="alice")
    assert store.expected_key_id() == first.key_id
    assert store.remove("sunrise")
    with pytest.raises(CredentialError, match=f"wrapped by master key {first.key_id}"):
        store.put("lakeside", secrets(), typo, actor="alice")
    store.put("lakeside", secrets(), first, actor="alice")
    assert store.rotate(first, rotated) == 1
    assert store.expected_key_id() == rotated.key_id
    with pytest.raises(CredentialError, match="wrong master key"):
        store.put("sunrise", secrets(), first, actor="alice")
    store.put("sunrise", secrets(), rotated, actor="alice")
    assert store.master_key_ids() == {rotated.key_id}


def _key_file(path: Path, master: MasterKey) -> Path:
    path.write_text(base64.b64encode(master.key).decode() + "\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("changeover", ["key file replaced", "new key variable set"])
def test_a_long_run_reads_on_across_a_rotation(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changeover: str
) -> None:
    """fetch --all loaded the old key; a rotation commits; the next account still opens."""
    old, new = key(), key()
    current = _key_file(tmp_path / "master.key", old)
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(current))
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), old, actor="alice")
    store.put("lakeside", secrets(OTHER_PASSWORD), old, actor="alice")
    assert store.read("sunrise").username == USERNAME  # the old key is now cached
    store.rotate(old, new)
    if changeover == "key file replaced":
        _key_file(current, new)
    else:
        monkeypatch.setenv(f"{NEW_MASTER_KEY_ENV}_FILE", str(_key_file(tmp_path / "n.key", new)))
    got = store.read("lakeside").password
    assert got is not None and got.get_secret_value() == OTHER_PASSWORD


def test_a_truly_wrong_key_is_still_refused_after_one_reload(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    right, wrong = key(), key()
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(_key_file(tmp_path / "m.key", wrong)))
    store = CredentialStore(ledger.db)
    store.put("sunrise", secrets(), right, actor="alice")
    for _ in range(2):
        with pytest.raises(CredentialError, match=f"gives master key {wrong.key_id}"):
            store.read("sunrise")


# -- where the master key comes from ----------------------------------------------------


def test_master_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = generate_master_key()
    monkeypatch.setenv(MASTER_KEY_ENV, text)
    master = load_master_key()
    assert master.key == base64.b64decode(text)
    assert text not in repr(master)


def test_master_key_file_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "master.key"
    text = generate_master_key()
    path.write_text(text + "\n")
    path.chmod(0o640)
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(path))
    with pytest.raises(CredentialError, match=r"mode 0640.*chmod 600") as caught:
        load_master_key()
    assert text not in str(caught.value)
    path.chmod(0o600)
    assert load_master_key().key == base64.b64decode(text)
    link = tmp_path / "link.key"
    link.symlink_to(path)
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(link))
    with pytest.raises(CredentialError, match="cannot open master key file"):
        load_master_key()


def test_master_key_from_a_command_whose_output_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = generate_master_key()
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_COMMAND", f"{sys.executable} -c 'print(\"{text}\")'")
    assert load_master_key().key == base64.b64decode(text)
    failing = f"{sys.executable} -c 'import sys; print(\"{text}\"); sys.exit(3)'"
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_COMMAND", failing)
    with pytest.raises(CredentialError, match="exited with status 3") as caught:
        load_master_key()
    assert text not in str(caught.value)
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_COMMAND", "no-such-kms-cli get key")
    with pytest.raises(CredentialError, match="'no-such-kms-cli' not found"):
        load_master_key()


def test_a_key_command_runs_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fetch --all opens hundreds of accounts: one KMS call, not one per clinic."""
    calls = tmp_path / "calls"
    script = tmp_path / "kms.py"
    script.write_text(
        f"from pathlib import Path\nwith Path({str(calls)!r}).open('a') as f: f.write('x')\n"
        f"print({generate_master_key()!r})\n"
    )
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_COMMAND", f"{sys.executable} {script}")
    keys = {load_master_key().key_id for _ in range(5)}
    assert len(keys) == 1 and calls.read_text() == "x"


def test_master_key_from_the_keyring(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    text = generate_master_key()
    keyring.set_password("billing-vendor", "master-key", text)
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_KEYRING", "billing-vendor")
    assert load_master_key().key == base64.b64decode(text)
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_KEYRING", "elsewhere")
    with pytest.raises(CredentialError, match="no such entry in the keyring"):
        load_master_key()


def test_master_key_missing_doubled_or_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialError, match=r"no master key.*_FILE.*_COMMAND.*_KEYRING"):
        load_master_key()
    monkeypatch.setenv(MASTER_KEY_ENV, generate_master_key())
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", "/nowhere")
    with pytest.raises(CredentialError, match="several master keys"):
        load_master_key()
    monkeypatch.delenv(f"{MASTER_KEY_ENV}_FILE")
    for bad in (PASSWORD, base64.b64encode(b"short").decode()):
        monkeypatch.setenv(MASTER_KEY_ENV, bad)
        with pytest.raises(CredentialError, match="does not hold a master key") as caught:
            load_master_key()
        assert bad not in str(caught.value)


# -- the CLI ------------------------------------------------------------------------------


CONFIG = {
    "accounts": {
        name: {
            "clearinghouse": "officeally",
            "submitter_id": f"{name.upper()[:8]}01",
            "credentials": {"source": "store"},
        }
        for name in ACCOUNTS
    }
}


class Cli:
    """The real CLI in this process, with a config, a state dir and a master key file."""

    def __init__(self, tmp: Path, pm: PluginManager, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp, self.state_dir = tmp, tmp / "state"
        self.config = tmp / "accounts.yaml"
        self.config.write_text(yaml.safe_dump(CONFIG))
        self.key_file = tmp / "keys" / "master.key"
        self.key_file.parent.mkdir()
        self.outputs: list[str] = []
        self._cli = create_cli(pm)
        monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(self.state_dir))
        monkeypatch.setenv("CLAIMFERRY_CONFIG", str(self.config))
        assert (
            self.run("credentials", "new-master-key", "--file", str(self.key_file)).exit_code == 0
        )
        monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(self.key_file))

    def run(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(self._cli, list(args), input=input, catch_exceptions=False)
        self.outputs.append(result.output)
        assert "Traceback" not in result.output
        return result

    def set(self, account: str, password: str = PASSWORD) -> Result:
        return self.run("credentials", "set", account, "--stdin", input=f"{USERNAME}\n{password}\n")


@pytest.fixture
def cli(tmp_path: Path, plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path, plugin_manager, monkeypatch)


def test_new_master_key_file_is_0600_and_never_overwritten(cli: Cli) -> None:
    assert stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    before = cli.key_file.read_bytes()
    again = cli.run("credentials", "new-master-key", "--file", str(cli.key_file))
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert cli.key_file.read_bytes() == before


def test_set_asks_without_echo_and_show_gives_metadata_only(cli: Cli) -> None:
    typed = f"{USERNAME}\n{PASSWORD}\n{PASSWORD}\n"
    result = cli.run("credentials", "set", "sunrise", input=typed)
    assert result.exit_code == 0, result.output
    assert "SFTP username" in result.stderr and "SFTP password (again)" in result.stderr
    assert USERNAME not in result.output and PASSWORD not in result.output  # no echo
    shown = json.loads(cli.run("credentials", "show", "sunrise", "--json").stdout)
    assert shown["stored"] is True and shown["source"] == "store"
    assert shown["username_fingerprint"] == username_fingerprint(USERNAME)
    assert shown["age_days"] == 0 and shown["set_by"] and shown["set_at"]
    assert shown["last_used"] is None
    text = cli.run("credentials", "show", "sunrise").stdout
    assert "username sha256:" in text and "age 0 day(s)" in text
    audit = json.loads(cli.run("audit", "--json").stdout)
    assert [e["action"] for e in audit] == ["credentials-stored"]
    ledger_file = cli.state_dir / LEDGER_FILE
    assert not ledger_file.exists() or stat.S_IMODE(ledger_file.stat().st_mode) == 0o600
    _assert_no_secret(cli)


def test_a_mistyped_confirmation_stores_nothing(cli: Cli) -> None:
    typed = f"{USERNAME}\n{PASSWORD}\n{OTHER_PASSWORD}\n"
    result = cli.run("credentials", "set", "sunrise", input=typed)
    assert result.exit_code != 0
    assert cli.run("credentials", "show", "sunrise").exit_code == 1


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (f"{USERNAME}\n", "expected 2 lines"),
        (f"{USERNAME}\n{PASSWORD}\nextra\n", "expected 2 lines"),
        (f"{USERNAME}\n\n", "line 2 (the password) is empty"),
        (f" {USERNAME}\n{PASSWORD}\n", "line 1 (the username) is empty or starts or ends"),
    ],
)
def test_bad_stdin_is_refused_with_exit_2(cli: Cli, typed: str, expected: str) -> None:
    result = cli.run("credentials", "set", "sunrise", "--stdin", input=typed)
    assert result.exit_code == 2 and expected in result.stderr
    assert PASSWORD not in result.output


def test_set_needs_a_master_key_and_a_known_account(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = cli.set("nosuch")
    assert unknown.exit_code == 2 and "no such account" in unknown.stderr
    monkeypatch.delenv(f"{MASTER_KEY_ENV}_FILE")
    missing = cli.set("sunrise")
    assert missing.exit_code == 1 and "no master key for the credential store" in missing.stderr


def test_set_for_an_account_on_another_source_says_so(cli: Cli) -> None:
    config = yaml.safe_load(cli.config.read_text())
    config["accounts"]["sunrise"]["credentials"] = {"source": "env"}
    cli.config.write_text(yaml.safe_dump(config))
    result = cli.set("sunrise")
    assert result.exit_code == 0
    assert "takes its credentials from source 'env'" in result.stderr


def test_wrong_master_key_and_tampering_through_the_cli(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.set("sunrise").exit_code == 0
    other = cli.tmp / "keys" / "other.key"
    assert cli.run("credentials", "new-master-key", "--file", str(other)).exit_code == 0
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(other))
    wrong = cli.set("lakeside")
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: wrong master key")


def test_a_lost_key_is_forgotten_only_once_the_store_is_empty(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.set("sunrise").exit_code == 0
    lost = load_master_key().key_id
    other = cli.tmp / "keys" / "other.key"
    assert cli.run("credentials", "new-master-key", "--file", str(other)).exit_code == 0
    monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(other))
    held = cli.run("credentials", "forget-master-key", "--yes")
    assert held.exit_code == 1 and "holds 1 account(s)' credentials" in held.stderr
    assert cli.run("credentials", "remove", "sunrise", "--yes").exit_code == 0
    assert cli.set("sunrise").stderr.startswith("error: wrong master key")  # even when empty
    forgot = cli.run("credentials", "forget-master-key", "--yes")
    assert forgot.exit_code == 0 and f"forgot master key {lost}" in forgot.stdout
    assert cli.set("sunrise").exit_code == 0
    actions = [e["action"] for e in json.loads(cli.run("audit", "--json").stdout)]
    assert actions[-2:] == ["master-key-forgotten", "credentials-stored"]


def test_remove_deletes_and_audits(cli: Cli) -> None:
    assert cli.set("sunrise").exit_code == 0
    assert cli.run("credentials", "remove", "sunrise", input="n\n").exit_code == 1
    assert cli.run("credentials", "remove", "sunrise", "--yes").exit_code == 0
    assert cli.run("credentials", "remove", "sunrise", "--yes").exit_code == 1
    shown = json.loads(cli.run("credentials", "show", "sunrise", "--json").stdout)
    assert shown["stored"] is False
    actions = [e["action"] for e in json.loads(cli.run("audit", "--json").stdout)]
    assert actions == ["credentials-stored", "credentials-removed"]


def _assert_no_secret(cli: Cli) -> None:
    data = state_bytes(cli.state_dir)
    for secret in (PASSWORD, OTHER_PASSWORD, USERNAME):
        assert secret.encode() not in data
        for output in cli.outputs:
            assert secret not in output


# -- rotation, killed at every step -------------------------------------------------------

ROTATION_STEPS = ("rotate-begun", "rotate-first-rewrapped", "rotate-all-rewrapped")


def _rotate(cli: Cli, new_key: Path, failpoint: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_FAILPOINT"}
    env |= {f"{NEW_MASTER_KEY_ENV}_FILE": str(new_key)}
    if failpoint:
        env["CLAIMFERRY_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "claimferry", "credentials", "rotate-master-key", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _readable_with(state_dir: Path, master: MasterKey) -> dict[str, str]:
    """Each account's password, opened with ``master`` in a fresh connection."""
    with Ledger.open(state_dir) as ledger:
        store = CredentialStore(ledger.db)
        found = {}
        for info in store.all_info():
            password = store.get(info.account, master).password
            assert password is not None
            found[info.account] = password.get_secret_value()
        return found


@pytest.mark.parametrize("failpoint", [*ROTATION_STEPS, "rotate-committed"])
def test_rotation_killed_at_any_step_leaves_every_secret_readable(cli: Cli, failpoint: str) -> None:
    for number, account in enumerate(ACCOUNTS):
        assert cli.set(account, f"{PASSWORD}-{number}").exit_code == 0
    expected = {account: f"{PASSWORD}-{n}" for n, account in enumerate(ACCOUNTS)}
    new_key = cli.tmp / "keys" / "new.key"
    assert cli.run("credentials", "new-master-key", "--file", str(new_key)).exit_code == 0
    old = load_master_key()
    new = MasterKey(base64.b64decode(new_key.read_text()), "new")

    killed = _rotate(cli, new_key, failpoint)
    assert killed.returncode == -9, killed.stderr

    # killed before its commit, the store is wholly under the old key; after, the new
    under, other = (new, old) if failpoint == "rotate-committed" else (old, new)
    assert _readable_with(cli.state_dir, under) == expected
    with Ledger.open(cli.state_dir) as ledger:
        assert CredentialStore(ledger.db).master_key_ids() == {under.key_id}
    with pytest.raises(CredentialError, match="wrong master key"):
        _readable_with(cli.state_dir, other)
    rotated = [e for e in json.loads(cli.run("audit", "--json").stdout) if "rotated" in e["action"]]
    assert len(rotated) == (1 if under is new else 0)  # the audit entry commits with the keys

    if under is old:  # run again to the end: the rotation is whole
        done = _rotate(cli, new_key, None)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["rewrapped"] == len(ACCOUNTS)
        assert _readable_with(cli.state_dir, new) == expected
    _assert_no_secret(cli)


def test_operators_storing_at_once_from_several_processes_all_land(cli: Cli) -> None:
    """Writers queue on the ledger's write lock; none is lost, none half-written."""
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_FAILPOINT"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "claimferry", "credentials", "set", account, "--stdin"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for account in ACCOUNTS
    ]
    for number, process in enumerate(processes):
        _, err = process.communicate(f"{USERNAME}\n{PASSWORD}-{number}\n", timeout=120)
        assert process.returncode == 0, err
    expected = {account: f"{PASSWORD}-{n}" for n, account in enumerate(ACCOUNTS)}
    assert _readable_with(cli.state_dir, load_master_key()) == expected
    stored = [e for e in json.loads(cli.run("audit", "--json").stdout) if "stored" in e["action"]]
    assert sorted(e["account"] for e in stored) == sorted(ACCOUNTS)


def test_rotation_without_a_new_key_changes_nothing(cli: Cli) -> None:
    assert cli.set("sunrise").exit_code == 0
    result = cli.run("credentials", "rotate-master-key")
    assert result.exit_code == 1 and f"set {NEW_MASTER_KEY_ENV}" in result.stderr
    assert _readable_with(cli.state_dir, load_master_key())["sunrise"] == PASSWORD


@pytest.mark.sqlite_only("reads the ledger file")
def test_the_store_table_is_in_the_ledger_file(cli: Cli) -> None:
    assert cli.set("sunrise").exit_code == 0
    with sqlite3.connect(cli.state_dir / LEDGER_FILE) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(stored_credentials)")}
    assert {"wrapped_key", "sealed", "master_key_id", "username_fingerprint"} <= columns
    assert "password" not in columns and "username" not in columns


def test_remove_of_an_unknown_account_is_refused_before_asking(cli: Cli) -> None:
    typo = cli.run("credentials", "remove", "sunrsie", input="y\n")
    assert typo.exit_code == 2, typo.output
    assert "Delete" not in typo.output  # no question about an account that does not exist
    assert f"error: {cli.config}: accounts.sunrsie: no such account (known: " in typo.stderr
