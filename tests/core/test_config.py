"""The accounts config: the issue's example loads; bad configs name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.config import claims_file_limit, load_config, state_dir_for
from claimferry.errors import ConfigError
from claimferry.manager import PluginManager

EXAMPLE = """\
accounts:
  sunrise:
    clearinghouse: officeally
    submitter_id: SUNRISE01
    mode: test                 # test | production
    sftp: {host: ftp10.officeally.com, port: 22, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINUc9Uk1GQhMCVr2AocXuW5si3ewucmJrC/41194RMN3"}
    credentials: {source: keyring}
"""  # noqa: E501 (the issue's example, as written)


def test_issue_example_loads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(EXAMPLE)
    config = load_config(path)
    account = config.account("sunrise")
    assert account.name == "sunrise"
    assert account.clearinghouse == "officeally"
    assert not account.is_production
    assert account.sftp is not None and account.sftp.port == 22
    assert account.sftp.host_key is not None and account.sftp.host_key.startswith("ssh-ed25519 ")
    assert account.credentials is not None and account.credentials.source == "keyring"


def test_credential_source_settings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE.replace("{source: keyring}", "{source: env, username_var: U}"))
    account = load_config(path).account("sunrise")
    assert account.credentials is not None
    assert account.credentials.settings == {"username_var": "U"}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("port: 22", "port: 99999"), "accounts.sunrise.sftp.port"),
        (("mode: test", "mode: live"), "accounts.sunrise.mode"),
        (("submitter_id: SUNRISE01", "submitter_id: 'x*y'"), "accounts.sunrise.submitter_id"),
        (
            ("clearinghouse: officeally", "clearinghous: officeally"),
            "accounts.sunrise.clearinghous",
        ),
        (('host_key: "ssh-ed25519 AAAA', 'host_key: "AAAA'), "accounts.sunrise.sftp.host_key"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, change: tuple[str, str], where: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: {where}" in str(caught.value)


def test_unknown_account_lists_known(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE)
    with pytest.raises(ConfigError, match=r"accounts.harbor: no such account \(known: sunrise\)"):
        load_config(path).account("harbor")


def test_unreadable_configs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("accounts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_state_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("state_dir: state\n" + EXAMPLE)
    config = load_config(path)
    monkeypatch.delenv("CLAIMFERRY_STATE_DIR", raising=False)
    assert state_dir_for(config) == tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "env"))
    assert state_dir_for(config) == tmp_path / "env"


def test_contact_needs_a_phone_or_an_email(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        EXAMPLE.replace("    mode: test", "    contact: {name: Billing}\n    mode: test")
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: accounts.sunrise.contact: needs a 10-digit 'phone' or an 'email'" in str(
        caught.value
    )


SECRET = "hunter2SECRET"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "PASSPHRASE",
        "private_key",
        "private-key",
        "secret",
        "token",
        "api_key",
        "API-Key",
        "sftp_password",
        "client-secret",
        "pwd",
        "pass",
        "passwd",
        "sftpPass",
        "SFTP-PW",
        "APIKey",
        "secret_key",
    ],
)
def test_secrets_in_the_credentials_section_are_refused(tmp_path: Path, key: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE.replace("{source: keyring}", f"{{source: env, {key}: {SECRET}}}"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: accounts.sunrise.credentials.{key}: holds a secret")
    assert "env" in message and "file" in message and "keyring" in message
    assert SECRET not in message and SECRET not in repr(caught.value.problems)


def test_every_secret_key_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        EXAMPLE.replace("{source: keyring}", f"{{source: file, password: {SECRET}, token: t}}")
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [p.location for p in caught.value.problems] == [
        "accounts.sunrise.credentials.password",
        "accounts.sunrise.credentials.token",
    ]


@pytest.mark.parametrize(
    "credentials",
    [
        "{source: env, username_var: U, password_var: P, private_key_var: K, passphrase_var: X}",
        "{source: file, path: ~/.config/claimferry/sunrise.yaml}",
        "{source: keyring, service: billing-vendor, username: sunrise-sftp}",
        "{source: vault, password_path: kv/sunrise, token_file: /run/secrets/t}",  # where, not what
        # the example plugin's source (examples/claimferry-generic-sftp)
        "{source: command, command: [pass, show, clinic/acme-sftp], format: key-value, timeout: 5}",
    ],
)
def test_plugin_settings_that_name_secrets_still_load(tmp_path: Path, credentials: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE.replace("{source: keyring}", credentials))
    settings = load_config(path).account("sunrise").credentials
    assert settings is not None and settings.settings


def test_credential_settings_repr_masks_values(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        EXAMPLE.replace("{source: keyring}", "{source: command, command: [pass, show, clinic]}")
    )
    config = load_config(path)
    settings = config.account("sunrise").credentials
    assert settings is not None and settings.settings["command"] == ["pass", "show", "clinic"]
    for shown in (repr(settings), str(settings), repr(config), str(config)):
        assert "clinic" not in shown
        assert "command='**********'" in shown and "source='command'" in shown


def test_cli_refuses_a_secret_in_the_config_with_exit_2(
    plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE.replace("{source: keyring}", f"{{source: env, password: {SECRET}}}"))
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(path))
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(create_cli(plugin_manager), ["credentials", "test", "sunrise"])
    assert result.exit_code == 2
    assert f"{path}: accounts.sunrise.credentials.password: holds a secret" in result.stderr
    assert SECRET not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("inbound", "outbound", "refused"),
    [
        ("/outbound", "outbound", True),
        ("outbound/", "outbound", True),
        ("./outbound/../outbound", "outbound", True),
        ("OUTBOUND", "outbound", True),
        ("outbound/claims", "outbound", True),
        ("inbound", "outbound", False),
        ("outbound-claims", "outbound", False),
        ("/in", "/data/out", False),
        ("/data/out/../out", "/data/out", True),
    ],
)
def test_inbound_may_not_resolve_to_outbound(
    tmp_path: Path, inbound: str, outbound: str, refused: bool
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        EXAMPLE.replace("port: 22,", f"port: 22, inbound: '{inbound}', outbound: '{outbound}',")
    )
    if not refused:
        assert load_config(path).account("sunrise").sftp is not None
        return
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: accounts.sunrise.sftp: inbound '{inbound}' is the outbound folder" in str(
        caught.value
    )


def test_submitter_ids_may_repeat_but_not_differ_only_in_case(tmp_path: Path) -> None:
    second = EXAMPLE.split("\n", 1)[1].replace("sunrise:", "sunset:")
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE + second)  # the same id twice: one sender, serialised by its lock
    assert set(load_config(path).accounts) == {"sunrise", "sunset"}
    path.write_text(EXAMPLE + second.replace("SUNRISE01", "Sunrise01"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "accounts sunrise and sunset" in message
    assert "'SUNRISE01' and 'Sunrise01'" in message and "differ only in case" in message


def test_claims_file_limit_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAIMFERRY_CLAIMS_FILE_LIMIT_MB", raising=False)
    assert claims_file_limit(None) == 200_000_000
    path = tmp_path / "a.yaml"
    path.write_text(EXAMPLE + "claims_file_limit_mb: 500\n")
    config = load_config(path)
    assert claims_file_limit(config) == 500_000_000
    monkeypatch.setenv("CLAIMFERRY_CLAIMS_FILE_LIMIT_MB", "1.5")
    assert claims_file_limit(config) == 1_500_000
    for bad in ("0", "-3", "nan", "inf", "lots"):
        monkeypatch.setenv("CLAIMFERRY_CLAIMS_FILE_LIMIT_MB", bad)
        with pytest.raises(ConfigError, match="CLAIMFERRY_CLAIMS_FILE_LIMIT_MB: expected"):
            claims_file_limit(config)
    path.write_text(EXAMPLE + "claims_file_limit_mb: .inf\n")
    with pytest.raises(ConfigError, match="claims_file_limit_mb"):
        load_config(path)
