"""The ``command`` credential source: output formats, and failures that never echo output."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from claimferry.api import Account, CredentialError, PluginManager

if TYPE_CHECKING:
    from conftest import SecretCommand

SECRET = "hunter2-do-not-print"

AccountFor = Callable[..., Account]


def _resolve(pm: PluginManager, account: Account) -> tuple[str, str]:
    credentials = pm.get_credential_source("command").resolve(account)
    assert credentials.password is not None
    assert SECRET not in repr(credentials)
    return credentials.username, credentials.password.get_secret_value()


def test_first_line_is_the_password(
    pm: PluginManager, secret_command: SecretCommand, account_for: AccountFor
) -> None:
    argv = secret_command(f"{SECRET}\nusername: clinic\nurl: sftp.example\nfree notes\n")
    assert _resolve(pm, account_for({"command": argv})) == ("clinic", SECRET)


def test_username_setting_wins(
    pm: PluginManager, secret_command: SecretCommand, account_for: AccountFor
) -> None:
    argv = secret_command(f"{SECRET}\nusername: from-output\n")
    account = account_for({"command": argv, "username": "from-config"})
    assert _resolve(pm, account) == ("from-config", SECRET)


def test_key_value_lines(
    pm: PluginManager, secret_command: SecretCommand, account_for: AccountFor
) -> None:
    argv = secret_command(f"# from vault\nUsername: clinic\npassword:  {SECRET}  \n")
    account = account_for({"command": argv, "format": "key-value"})
    assert _resolve(pm, account) == ("clinic", SECRET)


@pytest.mark.parametrize(
    ("output", "settings", "expected"),
    [
        ("", {}, "printed no password"),
        (f"{SECRET}\n", {}, "no username"),
        (f"username: clinic\n{SECRET}\n", {"format": "key-value"}, "line 2 is not 'key: value'"),
        ("username: clinic\n", {"format": "key-value"}, "printed no password"),
    ],
)
def test_bad_output(
    pm: PluginManager,
    secret_command: SecretCommand,
    account_for: AccountFor,
    output: str,
    settings: dict[str, str],
    expected: str,
) -> None:
    account = account_for({"command": secret_command(output), **settings})
    with pytest.raises(CredentialError, match=expected) as caught:
        _resolve(pm, account)
    assert SECRET not in str(caught.value)


def test_failing_command_is_named_without_its_output(
    pm: PluginManager, secret_command: SecretCommand, account_for: AccountFor
) -> None:
    account = account_for({"command": secret_command(SECRET, exit_code=3)})
    with pytest.raises(CredentialError, match="exited with status 3") as caught:
        _resolve(pm, account)
    assert "account sunrise" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_missing_command(pm: PluginManager, account_for: AccountFor) -> None:
    account = account_for({"command": ["no-such-password-manager-here", "show", "x"]})
    with pytest.raises(CredentialError, match="'no-such-password-manager-here' not found"):
        _resolve(pm, account)


def test_slow_command_times_out(pm: PluginManager, account_for: AccountFor) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    account = account_for({"command": argv, "timeout": 0.5})
    with pytest.raises(CredentialError, match=r"did not finish within 0\.5s"):
        _resolve(pm, account)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "'command' must be a list"),
        ({"command": "pass show clinic/sftp"}, "'command' must be a list"),
        ({"command": ["pass"], "format": "json"}, "'format' must be one of"),
        ({"command": ["pass"], "timeout": 0}, "'timeout' must be a number"),
    ],
)
def test_bad_settings(
    pm: PluginManager, account_for: AccountFor, settings: dict[str, object], expected: str
) -> None:
    with pytest.raises(CredentialError, match=expected):
        _resolve(pm, account_for(settings))
