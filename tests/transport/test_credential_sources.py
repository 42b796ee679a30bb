"""The built-in credential sources: env, file, keyring (promise 6: nothing secret shown)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keyring
import pytest

from claimferry.api import Account, CredentialError, Credentials, CredentialSettings, SecretStr
from claimferry.manager import PluginManager
from claimferry_credentials.sources import env_prefix, resolve_env, resolve_file, resolve_keyring
from support.memory_keyring import MemoryKeyring

SECRET = "s3cr3t-Value-9"
KEY_TEXT = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "AAAAsecretkeymaterial\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def account(name: str = "sunrise", **settings: Any) -> Account:
    source = settings.pop("source", "env")
    return Account(
        name=name,
        clearinghouse="officeally",
        submitter_id="SUNRISE01",
        credentials=CredentialSettings(source=source, **settings),
    )


def assert_masked(creds: Credentials, *secrets: str) -> None:
    for shown in (repr(creds), str(creds), repr(creds.password), str(creds.private_key)):
        for secret in secrets:
            assert secret not in shown


def test_all_three_are_registered(plugin_manager: PluginManager) -> None:
    names = {s.name for s in plugin_manager.credential_sources()}
    assert {"env", "file", "keyring"} <= names


# --- env ------------------------------------------------------------------------


def test_env_prefix_normalises_the_account_name() -> None:
    assert env_prefix("sunrise") == "CLAIMFERRY_SUNRISE_SFTP"
    assert env_prefix("sun-rise.aba 2") == "CLAIMFERRY_SUN_RISE_ABA_2_SFTP"


def test_env_default_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMFERRY_SUN_RISE_SFTP_USERNAME", "oa-user")
    monkeypatch.setenv("CLAIMFERRY_SUN_RISE_SFTP_PASSWORD", SECRET)
    creds = resolve_env(account("sun-rise"))
    assert creds.username == "oa-user"
    assert creds.password is not None and creds.password.get_secret_value() == SECRET
    assert creds.private_key is None
    assert_masked(creds, SECRET)


def test_env_overridden_variables_and_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OA_USER", "oa-user")
    monkeypatch.setenv("OA_KEY", KEY_TEXT)
    monkeypatch.setenv("OA_PHRASE", SECRET)
    creds = resolve_env(
        account(username_var="OA_USER", private_key_var="OA_KEY", passphrase_var="OA_PHRASE")
    )
    assert creds.private_key is not None and creds.private_key.get_secret_value() == KEY_TEXT
    assert creds.passphrase is not None
    assert_masked(creds, SECRET, "secretkeymaterial")


def test_env_missing_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_USERNAME", raising=False)
    with pytest.raises(CredentialError, match="CLAIMFERRY_SUNRISE_SFTP_USERNAME"):
        resolve_env(account())
    monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_USERNAME", "oa-user")
    monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", raising=False)
    monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_PRIVATE_KEY", raising=False)
    with pytest.raises(CredentialError) as caught:
        resolve_env(account())
    assert "CLAIMFERRY_SUNRISE_SFTP_PASSWORD" in str(caught.value)
    assert "CLAIMFERRY_SUNRISE_SFTP_PRIVATE_KEY" in str(caught.value)


def test_env_never_quotes_a_variable_name_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password typed into ``password_var`` that happens to look like a variable
    name passes the config's check; the error still refers to the setting only."""
    typed = "Hunter2Secret"
    monkeypatch.delenv(typed, raising=False)
    monkeypatch.setenv("OA_USER", "oa-user")
    monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_PRIVATE_KEY", raising=False)
    with pytest.raises(CredentialError) as caught:
        resolve_env(account(username_var="OA_USER", password_var=typed))
    message = str(caught.value)
    assert typed not in message
    assert "the environment variable that credentials.password_var names" in message
    with pytest.raises(CredentialError) as caught:
        resolve_env(account(username_var=typed))
    assert typed not in str(caught.value)
    assert "credentials.username_var" in str(caught.value)


def test_each_built_in_source_lists_its_settings(plugin_manager: PluginManager) -> None:
    """Settings are checked against these lists before a source runs (docs/credentials.md)."""
    settings = {s.name: s.settings for s in plugin_manager.credential_sources()}
    assert settings["env"] == ("username_var", "password_var", "private_key_var", "passphrase_var")
    assert settings["file"] == ("path",)
    assert settings["keyring"] == ("service", "username")


# --- file -----------------------------------------------------------------------


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_file_single_account(tmp_path: Path) -> None:
    path = write_private(tmp_path / "creds.yaml", f"username: oa-user\npassword: {SECRET}\n")
    creds = resolve_file(account(source="file", path=str(path)))
    assert creds.username == "oa-user"
    assert creds.password is not None and creds.password.get_secret_value() == SECRET
    assert_masked(creds, SECRET)


def test_file_per_account_map(tmp_path: Path) -> None:
    text = (
        "accounts:\n"
        f"  sunrise: {{username: sun-user, password: {SECRET}}}\n"
        "  lakeside:\n"
        "    username: lake-user\n"
        "    private_key: |\n" + "".join(f"      {line}\n" for line in KEY_TEXT.splitlines())
    )
    path = write_private(tmp_path / "creds.yaml", text, 0o400)
    assert resolve_file(account("sunrise", source="file", path=str(path))).username == "sun-user"
    lake = resolve_file(account("lakeside", source="file", path=str(path)))
    assert lake.private_key is not None and lake.private_key.get_secret_value() == KEY_TEXT
    with pytest.raises(CredentialError, match=r"accounts\.hilltop: no such entry"):
        resolve_file(account("hilltop", source="file", path=str(path)))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o601])
def test_file_with_loose_permissions_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_private(tmp_path / "creds.yaml", f"username: u\npassword: {SECRET}\n", mode)
    with pytest.raises(CredentialError) as caught:
        resolve_file(account(source="file", path=str(path)))
    message = str(caught.value)
    assert str(path) in message and f"{mode:04o}" in message and "chmod 600" in message
    assert SECRET not in message


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path = write_private(tmp_path / "creds.yaml", f"username: u\npassword: {SECRET}\n")
    os.chown(path, 12345, -1)
    with pytest.raises(CredentialError, match="owned by uid 12345"):
        resolve_file(account(source="file", path=str(path)))


def test_file_symlink_is_refused(tmp_path: Path) -> None:
    target = write_private(tmp_path / "real.yaml", f"username: u\npassword: {SECRET}\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    with pytest.raises(CredentialError, match="cannot open"):
        resolve_file(account(source="file", path=str(link)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"password: {SECRET}\n", "'username' is missing"),
        ("username: u\n", "neither a password nor a private key"),
        (f"username: u\npasword: {SECRET}\n", "unknown keys pasword"),
        (f"username: u\npassword: [{SECRET}]\n", "'password' must be text"),
        (f"username: u\npassword: '{SECRET}\n", "not valid YAML"),
    ],
)
def test_file_errors_never_show_the_secret(tmp_path: Path, text: str, expected: str) -> None:
    path = write_private(tmp_path / "creds.yaml", text)
    with pytest.raises(CredentialError) as caught:
        resolve_file(account(source="file", path=str(path)))
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value)


def test_file_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="not found"):
        resolve_file(account(source="file", path=str(tmp_path / "nope.yaml")))
    with pytest.raises(CredentialError, match="'path' setting"):
        resolve_file(account(source="file"))


# --- keyring --------------------------------------------------------------------


def test_keyring_username_stored_in_the_keyring(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("claimferry", "sunrise:username", "oa-user")
    keyring.set_password("claimferry", "oa-user", SECRET)
    creds = resolve_keyring(account(source="keyring"))
    assert creds.username == "oa-user"
    assert creds.password is not None and creds.password.get_secret_value() == SECRET
    assert_masked(creds, SECRET)


def test_keyring_username_and_service_from_settings(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("billing-vendor", "oa-user", SECRET)
    creds = resolve_keyring(account(source="keyring", service="billing-vendor", username="oa-user"))
    assert creds.username == "oa-user"


def test_keyring_missing_entries(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(CredentialError, match="keyring set claimferry sunrise:username"):
        resolve_keyring(account(source="keyring"))
    with pytest.raises(CredentialError, match="no password in the keyring"):
        resolve_keyring(account(source="keyring", username="oa-user"))


def test_keyring_absent_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def no_keyring(name: str, package: str | None = None) -> Any:
        if name.startswith("keyring"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_keyring)
    with pytest.raises(CredentialError, match=r"pip install 'claimferry\[keyring\]'"):
        resolve_keyring(account(source="keyring"))


def test_credentials_never_show_secrets() -> None:
    creds = Credentials(
        username="oa-user",
        password=SecretStr(SECRET),
        private_key=SecretStr(KEY_TEXT),
        passphrase=SecretStr("phrase-" + SECRET),
    )
    assert_masked(creds, SECRET, "secretkeymaterial")
    assert SECRET not in f"{creds!r} {creds!s} {creds.passphrase!r}"
