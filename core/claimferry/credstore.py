"""The vendor's credential store: SFTP secrets encrypted in the state database.

Envelope encryption with AES-256-GCM: each account's secrets are sealed with
a data key of its own, and that data key is sealed ("wrapped") with the
master key. The master key never touches the database: it comes from an
environment variable, a 0600 file, the OS keyring or a command (a KMS or
Vault CLI). Rotating the master key re-wraps the data keys only, in one
transaction, so a crash leaves every secret under the old key or every one
under the new.

Both ciphertexts carry the account's name as associated data, and the
sealed secrets also the row's metadata (who set them, when, the username's
fingerprint): a row copied onto another account's fails to open, as does any
changed byte or edited metadata. Each row records the id of the master key
that wrapped it (a keyed hash, which gives nothing of the key away), so a
wrong master key is told apart from tampering. The store records the id of
its master key the first time a secret is stored, so a second key (a typo in
a path) is refused even while the store is empty.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import json
import os
import secrets
import shlex
import sqlite3
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from claimferry.credentials import (
    Credentials,
    SecretStr,
    read_private_file,
    username_fingerprint,
)
from claimferry.database import Connection, write_transaction
from claimferry.errors import CredentialError
from claimferry.failpoints import failpoint

STORE_SOURCE = "store"
"""The credential source that reads this store (``credentials: {source: store}``)."""
MASTER_KEY_ENV = "CLAIMFERRY_MASTER_KEY"
NEW_MASTER_KEY_ENV = "CLAIMFERRY_NEW_MASTER_KEY"
"""Where ``rotate-master-key`` finds the key that replaces the current one."""
KEY_ORIGINS = ("", "_FILE", "_COMMAND", "_KEYRING")
"""The suffixes of the variables that give a master key: the key itself, a 0600
file holding it, a command that prints it, a keyring service holding it."""
KEYRING_ENTRY = "master-key"
COMMAND_TIMEOUT = 30.0
KEY_BYTES = 32
_NONCE = 12
_WRAP_AAD = b"claimferry credential store v1: data key for account\x00"
_SEAL_AAD = b"claimferry credential store v2: secrets and metadata of account\x00"
_KEY_ID_LABEL = b"claimferry master key id v1"
_SECRET_FIELDS = ("password", "private_key", "passphrase")
_EXPECTED_KEY = "master_key_id"
"""The ``credential_store_settings`` row naming the one master key the store takes."""

# -- the master key -------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every data key; ``origin`` says where it came from (for messages)."""

    key: bytes = field(repr=False)
    origin: str

    @property
    def key_id(self) -> str:
        """Names the key in the store and in messages without revealing it."""
        return hmac.new(self.key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def generate_master_key() -> str:
    """A new random master key in the text form every key origin reads (base64)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


_loaded: dict[tuple[str, ...], MasterKey] = {}
_reloaded: set[tuple[tuple[str, ...], str]] = set()
_loading = threading.Lock()


def _setting(prefix: str) -> tuple[str, ...]:
    return (prefix, *(os.environ.get(prefix + suffix, "") for suffix in KEY_ORIGINS))


def load_master_key(prefix: str = MASTER_KEY_ENV) -> MasterKey:
    """The master key from the one of ``<prefix>``, ``_FILE``, ``_COMMAND``, ``_KEYRING`` set.

    Fetched once per process for each setting: ``fetch --all`` resolves
    hundreds of accounts, and a KMS or Vault command per account would cost
    more than every unwrap together (and fill the KMS's log).
    """
    setting = _setting(prefix)
    with _loading:
        if setting not in _loaded:
            _loaded[setting] = _fetch_master_key(prefix)
        return _loaded[setting]


def _reload_master_key(prefix: str, wanted: str) -> MasterKey:
    """The key fetched again, once per process for each key id the store wants:
    a rotation committed while a long run (``fetch --all``) held the old key
    in memory, and the file, command or keyring now gives the new one."""
    setting = _setting(prefix)
    with _loading:
        if (setting, wanted) not in _reloaded:
            _reloaded.add((setting, wanted))
            _loaded[setting] = _fetch_master_key(prefix)
        return _loaded[setting]


def _new_master_key_given() -> bool:
    return any(os.environ.get(NEW_MASTER_KEY_ENV + suffix) for suffix in KEY_ORIGINS)


def _fetch_master_key(prefix: str) -> MasterKey:
    given = [prefix + suffix for suffix in KEY_ORIGINS if os.environ.get(prefix + suffix)]
    if not given:
        raise CredentialError(
            f"no master key for the credential store: set {prefix} (the key), {prefix}_FILE "
            f"(a 0600 file holding it), {prefix}_COMMAND (a command printing it, e.g. a KMS "
            f"or Vault CLI) or {prefix}_KEYRING (a keyring service holding it under "
            f"'{KEYRING_ENTRY}'); `claimferry credentials new-master-key` makes one"
        )
    if len(given) > 1:
        raise CredentialError(
            f"several master keys given ({', '.join(given)}): set only one of them"
        )
    variable = given[0]
    value = os.environ[variable]
    if variable == prefix:
        return MasterKey(_decode(value, f"environment variable {variable}"), variable)
    if variable.endswith("_FILE"):
        path = Path(value).expanduser()
        origin = f"master key file {path} ({variable})"
        return MasterKey(_decode(read_private_file(path, "master key file"), origin), origin)
    if variable.endswith("_COMMAND"):
        origin = f"the command {variable} names"
        return MasterKey(_decode(_run_key_command(value, variable), origin), origin)
    origin = f"keyring service {value!r}, entry {KEYRING_ENTRY!r} ({variable})"
    return MasterKey(_decode(_keyring_key(value, origin), origin), origin)


def _decode(text: str, origin: str) -> bytes:
    """Base64 of 32 bytes; the error never shows what was found."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise CredentialError(
            f"{origin} does not hold a master key: expected the base64 text of "
            f"{KEY_BYTES} random bytes (`claimferry credentials new-master-key` makes one)"
        )
    return key


def _run_key_command(command: str, variable: str) -> str:
    """Run without a shell; its output is the key, so it never reaches a message."""
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = []
    if not argv:
        raise CredentialError(f"{variable}: expected a command line, e.g. 'vault kv get ...'")
    program = argv[0]
    try:
        done = subprocess.run(  # noqa: S603 - the operator's own command, no shell
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=COMMAND_TIMEOUT
        )
    except FileNotFoundError:
        raise CredentialError(f"{variable}: command {program!r} not found") from None
    except subprocess.TimeoutExpired:
        raise CredentialError(
            f"{variable}: command {program!r} did not finish within {COMMAND_TIMEOUT:g}s"
        ) from None
    except OSError as exc:
        raise CredentialError(f"{variable}: command {program!r} could not run: {exc}") from None
    if done.returncode != 0:
        raise CredentialError(
            f"{variable}: command {program!r} exited with status {done.returncode}; its "
            "output is not shown because it may hold the key: run it yourself to see why"
        )
    return done.stdout.decode("utf-8", errors="replace")


def _keyring_key(service: str, origin: str) -> str:
    try:
        keyring = importlib.import_module("keyring")
        keyring_errors = importlib.import_module("keyring.errors")
    except ImportError:
        raise CredentialError(
            f"{origin}: the keyring needs the 'keyring' package: pip install 'claimferry[keyring]'"
        ) from None
    try:
        value = keyring.get_password(service, KEYRING_ENTRY)
    except keyring_errors.KeyringError as exc:
        raise CredentialError(f"{origin}: the keyring failed ({exc.__class__.__name__})") from None
    if not value:
        raise CredentialError(f"{origin}: no such entry in the keyring")
    return str(value)


# -- the store ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredInfo:
    """What may be shown about an account's stored credentials: never a secret."""

    account: str
    username_fingerprint: str
    set_by: str
    set_at: datetime
    master_key_id: str
    rewrapped_at: datetime | None

    def age_days(self, now: datetime) -> int:
        return (now - self.set_at).days


class CredentialStore:
    """The ``stored_credentials`` table of the ledger file, on the ledger's connection."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def put(
        self, account: str, credentials: Credentials, master: MasterKey, *, actor: str
    ) -> StoredInfo:
        """Seal ``credentials`` under a new data key, replacing what the account had."""
        data_key = AESGCM.generate_key(bit_length=256)
        payload = {"username": credentials.username} | {
            name: secret.get_secret_value()
            for name in _SECRET_FIELDS
            if (secret := getattr(credentials, name)) is not None
        }
        now = _now()
        fingerprint = username_fingerprint(credentials.username)
        metadata = _metadata(account, fingerprint, actor, now)
        sealed = _seal(data_key, json.dumps(payload).encode("utf-8"), _SEAL_AAD, metadata)
        wrapped = _seal(master.key, data_key, _WRAP_AAD, account.encode("utf-8"))
        with write_transaction(self._db) as db:
            self._require_master(master)
            db.execute(
                "INSERT INTO credential_store_settings (name, value) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                (_EXPECTED_KEY, master.key_id),
            )
            db.execute(
                "INSERT INTO stored_credentials (account, wrapped_key, "
                "master_key_id, sealed, username_fingerprint, set_by, set_at, rewrapped_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (account) DO UPDATE SET "
                "wrapped_key = excluded.wrapped_key, master_key_id = excluded.master_key_id, "
                "sealed = excluded.sealed, username_fingerprint = excluded.username_fingerprint, "
                "set_by = excluded.set_by, set_at = excluded.set_at, rewrapped_at = NULL",
                (account, wrapped, master.key_id, sealed, fingerprint, actor, now),
            )
        set_at = datetime.fromisoformat(now)
        return StoredInfo(account, fingerprint, actor, set_at, master.key_id, None)

    def read(self, account: str) -> Credentials:
        """The account's credentials under the master key the environment gives.

        When the row is wrapped by another key than the one this process
        holds, a rotation may have committed since it loaded it: the key is
        fetched again once, and ``CLAIMFERRY_NEW_MASTER_KEY*`` is tried too,
        so a long ``fetch --all`` carries on across the changeover.
        """
        row = self._row(account)
        master = load_master_key()
        wanted = row["master_key_id"]
        if wanted != master.key_id:
            master = _reload_master_key(MASTER_KEY_ENV, wanted)
        if wanted != master.key_id and _new_master_key_given():
            new = load_master_key(NEW_MASTER_KEY_ENV)
            if new.key_id == wanted:
                master = new
        return _unseal(account, row, master)

    def get(self, account: str, master: MasterKey) -> Credentials:
        """The account's credentials; a wrong key or a changed byte is a CredentialError."""
        return _unseal(account, self._row(account), master)

    def _row(self, account: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM stored_credentials WHERE account = ?", (account,)
        ).fetchone()
        if row is None:
            raise CredentialError(
                f"account {account}: no credentials in the store; "
                f"set them with: claimferry credentials set {account}"
            )
        return row

    def info(self, account: str) -> StoredInfo | None:
        row = self._db.execute(
            "SELECT * FROM stored_credentials WHERE account = ?", (account,)
        ).fetchone()
        return _info(row) if row is not None else None

    def all_info(self) -> list[StoredInfo]:
        rows = self._db.execute("SELECT * FROM stored_credentials ORDER BY account")
        return [_info(row) for row in rows]

    def remove(self, account: str) -> bool:
        with write_transaction(self._db) as db:
            return (
                db.execute("DELETE FROM stored_credentials WHERE account = ?", (account,)).rowcount
                > 0
            )

    def rotate(self, old: MasterKey, new: MasterKey) -> int:
        """Re-wrap every data key from ``old`` to ``new`` in one transaction; returns how many.

        The secrets themselves are not touched. Killed before the commit, the
        store is wholly under ``old``; after it, wholly under ``new``. Inside a
        caller's transaction (to audit in the same commit) it commits with that.
        """
        if old.key_id == new.key_id:
            raise CredentialError(
                f"the new master key is the current one (key id {old.key_id}): nothing to rotate"
            )
        now = _now()
        with write_transaction(self._db) as db:
            failpoint("rotate-begun")
            self._require_master(old)
            rows = db.execute("SELECT account, wrapped_key FROM stored_credentials").fetchall()
            for number, row in enumerate(rows):
                account = row["account"]
                bound = account.encode("utf-8")
                try:
                    data_key = _open(old.key, row["wrapped_key"], _WRAP_AAD, bound)
                except (InvalidTag, ValueError):
                    raise _tampered(account) from None
                db.execute(
                    "UPDATE stored_credentials SET wrapped_key = ?, master_key_id = ?, "
                    "rewrapped_at = ? WHERE account = ?",
                    (_seal(new.key, data_key, _WRAP_AAD, bound), new.key_id, now, account),
                )
                if number == 0:
                    failpoint("rotate-first-rewrapped")
            db.execute(
                "INSERT INTO credential_store_settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_EXPECTED_KEY, new.key_id),
            )
            failpoint("rotate-all-rewrapped")
        return len(rows)

    def master_key_ids(self) -> set[str]:
        rows = self._db.execute("SELECT DISTINCT master_key_id FROM stored_credentials")
        return {row[0] for row in rows}

    def expected_key_id(self) -> str | None:
        """The master key the store took first (or was last rotated to); ``None``: never used."""
        row = self._db.execute(
            "SELECT value FROM credential_store_settings WHERE name = ?", (_EXPECTED_KEY,)
        ).fetchone()
        return str(row[0]) if row is not None else None

    def forget_master_key(self) -> str | None:
        """Let an empty store take a new master key (the old one was lost); returns the
        id it expected. Refused while any secret is stored: they need that key."""
        with write_transaction(self._db) as db:
            held = db.execute("SELECT COUNT(*) FROM stored_credentials").fetchone()[0]
            if held:
                raise CredentialError(
                    f"the credential store holds {held} account(s)' credentials, wrapped by "
                    "its master key: remove them first (claimferry credentials remove ACCOUNT)"
                )
            expected = self.expected_key_id()
            db.execute("DELETE FROM credential_store_settings WHERE name = ?", (_EXPECTED_KEY,))
        return expected

    def _require_master(self, master: MasterKey) -> None:
        """The store holds data keys of one master key, recorded when it was first
        used; another is the wrong one, even while the store is empty."""
        expected = self.expected_key_id()
        for key_id in ({expected} if expected else set()) | self.master_key_ids():
            if key_id != master.key_id:
                raise _wrong_key(key_id, master)


def _metadata(account: str, fingerprint: str, set_by: str, set_at: str) -> bytes:
    """What the sealed secrets are bound to: the row's account and shown metadata."""
    return "\x00".join((account, fingerprint, set_by, set_at)).encode("utf-8")


def _unseal(account: str, row: sqlite3.Row, master: MasterKey) -> Credentials:
    if row["master_key_id"] != master.key_id:
        raise _wrong_key(row["master_key_id"], master)
    metadata = _metadata(account, row["username_fingerprint"], row["set_by"], row["set_at"])
    try:
        data_key = _open(master.key, row["wrapped_key"], _WRAP_AAD, account.encode("utf-8"))
        payload = json.loads(_open(data_key, row["sealed"], _SEAL_AAD, metadata))
    except (InvalidTag, ValueError):
        raise _tampered(account) from None
    return Credentials(
        username=payload["username"],
        **{name: SecretStr(payload[name]) for name in _SECRET_FIELDS if name in payload},
    )


def _seal(key: bytes, plaintext: bytes, label: bytes, bound: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, label + bound)


def _open(key: bytes, blob: bytes, label: bytes, bound: bytes) -> bytes:
    """Raises InvalidTag for a changed byte, ValueError for a blob cut short."""
    return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], label + bound)


def _wrong_key(stored_id: str, master: MasterKey) -> CredentialError:
    return CredentialError(
        f"wrong master key: the credential store's data keys are wrapped by master key "
        f"{stored_id}, but {master.origin} gives master key {master.key_id}. Use the key "
        "the store was first set (or last rotated) with; if it is lost, so are the secrets"
    )


def _tampered(account: str) -> CredentialError:
    return CredentialError(
        f"account {account}: the stored credentials fail their integrity check: changed, "
        "damaged, or copied from another account's row. Nothing was used; set them again "
        f"with: claimferry credentials set {account}"
    )


def _info(row: sqlite3.Row) -> StoredInfo:
    rewrapped = row["rewrapped_at"]
    return StoredInfo(
        row["account"],
        row["username_fingerprint"],
        row["set_by"],
        datetime.fromisoformat(row["set_at"]),
        row["master_key_id"],
        datetime.fromisoformat(rewrapped) if rewrapped else None,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
