"""Where an account's SFTP secrets come from: environment, a private file, a keyring,
or the credential store in the state database.

Each source reads its own settings from the account's ``credentials:`` section
and returns :class:`Credentials` whose secrets are masked in ``str``/``repr``.
Errors name the variable, file or keyring entry, never a secret value.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from claimferry.api import (
    Account,
    Connection,
    CredentialError,
    Credentials,
    CredentialSource,
    CredentialStore,
    SecretStr,
    check_private_file,
    read_private_file,
)

_SECRET_FIELDS = ("password", "private_key", "passphrase")


def _settings(account: Account) -> dict[str, Any]:
    return account.credentials.settings if account.credentials is not None else {}


def _build(
    account: Account, username: str, secrets: Mapping[str, str | None], where: str
) -> Credentials:
    if not secrets.get("password") and not secrets.get("private_key"):
        raise CredentialError(
            f"account {account.name}: {where} holds neither a password nor a private key"
        )
    return Credentials(
        username=username,
        **{name: SecretStr(value) for name, value in secrets.items() if value},
    )


# --- env ------------------------------------------------------------------------


def env_prefix(account_name: str) -> str:
    """``CLAIMFERRY_<ACCOUNT>_SFTP``: the account name upper-cased, other characters ``_``."""
    return f"CLAIMFERRY_{re.sub(r'[^A-Z0-9]', '_', account_name.upper())}_SFTP"


def _env_variables(account: Account) -> tuple[dict[str, str], dict[str, str]]:
    """Each field's variable name, and how a message refers to it.

    A variable named in the config is referred to by its setting, never by
    the name given there: that may be a password typed where its variable's
    name goes.
    """
    settings = _settings(account)
    prefix = env_prefix(account.name)
    names: dict[str, str] = {}
    shown: dict[str, str] = {}
    for field, default in (
        ("username", f"{prefix}_USERNAME"),
        ("password", f"{prefix}_PASSWORD"),
        ("private_key", f"{prefix}_PRIVATE_KEY"),
        ("passphrase", f"{prefix}_PASSPHRASE"),
    ):
        given = settings.get(f"{field}_var")
        names[field] = str(given or default)
        shown[field] = (
            f"the environment variable that credentials.{field}_var names"
            if given
            else f"environment variable {default}"
        )
    return names, shown


def resolve_env(account: Account) -> Credentials:
    """Secrets from environment variables (CI, containers, systemd credentials)."""
    names, shown = _env_variables(account)
    username = os.environ.get(names["username"])
    if not username:
        raise CredentialError(
            f"account {account.name}: {shown['username']} is not set (the SFTP username)"
        )
    secrets = {field: os.environ.get(names[field]) or None for field in _SECRET_FIELDS}
    if not secrets["password"] and not secrets["private_key"]:
        raise CredentialError(
            f"account {account.name}: set {shown['password']} (the SFTP password) "
            f"or {shown['private_key']} (a private key, PEM text)"
        )
    return _build(account, username, secrets, "the environment")


def env_present(account: Account) -> str:
    """The variables are set; their values are not looked at."""
    names, shown = _env_variables(account)
    if names["username"] not in os.environ:
        raise CredentialError(f"{shown['username']} is not set (the SFTP username)")
    if names["password"] not in os.environ and names["private_key"] not in os.environ:
        raise CredentialError(f"neither {shown['password']} nor {shown['private_key']} is set")
    return "its environment variables are set"


# --- file -----------------------------------------------------------------------


def _file_path(account: Account) -> Path:
    raw_path = _settings(account).get("path")
    if not raw_path:
        raise CredentialError(
            f"account {account.name}: the file credential source needs a 'path' setting"
        )
    return Path(str(raw_path)).expanduser()


def resolve_file(account: Account) -> Credentials:
    """Secrets from a YAML file readable by its owner only (mode 0600 or stricter)."""
    path = _file_path(account)
    text = read_private_file(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise CredentialError(f"credentials file {path} is not valid YAML") from None
    if isinstance(data, dict) and isinstance(data.get("accounts"), dict):
        entry = data["accounts"].get(account.name)
        where = f"credentials file {path}, accounts.{account.name}"
        if entry is None:
            raise CredentialError(f"{where}: no such entry")
    else:
        entry, where = data, f"credentials file {path}"
    if not isinstance(entry, dict):
        raise CredentialError(f"{where}: expected a mapping with username and password")
    unknown = sorted(set(entry) - {"username", *_SECRET_FIELDS})
    if unknown:
        raise CredentialError(f"{where}: unknown keys {', '.join(map(str, unknown))}")
    username = entry.get("username")
    if not isinstance(username, str) or not username:
        raise CredentialError(f"{where}: 'username' is missing")
    secrets: dict[str, str | None] = {}
    for field in _SECRET_FIELDS:
        value = entry.get(field)
        if value is not None and not isinstance(value, str):
            raise CredentialError(f"{where}: '{field}' must be text")
        secrets[field] = value
    return _build(account, username, secrets, where)


def file_present(account: Account) -> str:
    """The file is there, with the owner and mode ``resolve_file`` demands; not read."""
    path = _file_path(account)
    check_private_file(path)
    return f"file {path} is there, private"


# --- keyring --------------------------------------------------------------------


def resolve_keyring(account: Account) -> Credentials:
    """Secrets from the system keyring (macOS Keychain, Secret Service, Windows)."""
    try:
        keyring = importlib.import_module("keyring")
        keyring_errors = importlib.import_module("keyring.errors")
    except ImportError:
        raise CredentialError(
            "the keyring credential source needs the 'keyring' package: "
            "pip install 'claimferry[keyring]'"
        ) from None
    settings = _settings(account)
    service = str(settings.get("service") or "claimferry")
    try:
        username = settings.get("username") or keyring.get_password(
            service, f"{account.name}:username"
        )
        if not username:
            raise CredentialError(
                f"account {account.name}: no username: set credentials.username in the config "
                f"or store it in the keyring: keyring set {service} {account.name}:username"
            )
        password = keyring.get_password(service, str(username))
    except keyring_errors.KeyringError as exc:
        raise CredentialError(
            f"account {account.name}: the keyring failed ({exc.__class__.__name__}); "
            "is a keyring backend available?"
        ) from None
    if not password:
        raise CredentialError(
            f"account {account.name}: no password in the keyring for service {service!r}, "
            f"user {username!r}; store it with: keyring set {service} {username}"
        )
    return Credentials(username=str(username), password=SecretStr(password))


# --- store ----------------------------------------------------------------------


def resolve_store(account: Account, state_db: Connection) -> Credentials:
    """Secrets sealed in the state database, opened with the master key."""
    return CredentialStore(state_db).read(account.name)


def _store_outside_state(account: Account) -> Credentials:
    raise CredentialError(
        f"account {account.name}: the store credential source reads claimferry's state "
        "database, so only claimferry's own commands can use it"
    )


SOURCES = (
    CredentialSource(
        name="env",
        resolve=resolve_env,
        present=env_present,
        description="environment: CLAIMFERRY_<ACCOUNT>_SFTP_USERNAME, _PASSWORD, _PRIVATE_KEY",
        settings=("username_var", "password_var", "private_key_var", "passphrase_var"),
    ),
    CredentialSource(
        name="file",
        resolve=resolve_file,
        present=file_present,
        description="a YAML file readable by its owner only (chmod 600)",
        settings=("path",),
    ),
    CredentialSource(
        name="keyring",
        resolve=resolve_keyring,
        description="the system keyring (service 'claimferry' by default)",
        settings=("service", "username"),
    ),
    CredentialSource(
        name="store",
        resolve=_store_outside_state,
        resolve_stored=resolve_store,
        description="the encrypted credential store in the state database",
        settings=(),
    ),
)
