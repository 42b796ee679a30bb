"""Accounts of the mock server: who may log in, and with what.

The users file (YAML)::

    users:
      sunrise: {password: "s3cret-test-only"}
      harbor: {public_keys: ["ssh-ed25519 AAAA..."]}

Every problem in the file is reported at once, naming the file and the field,
never a password.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import yaml

from claimferry.documents import parse_yaml, read_text
from claimferry.errors import InputError, Problem
from claimferry.storage import atomic_write

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Matched whole (``fullmatch``): ``$`` would let a trailing newline through."""
_DUMMY_PASSWORD = b"\x00" * 32


def is_user_name(name: object) -> bool:
    """Whether ``name`` may be an account: checked when accounts are added and at every login."""
    return isinstance(name, str) and USER_NAME.fullmatch(name) is not None


def check_user_name(name: str) -> str:
    """User names become folder names: letters, digits, ``.``, ``_``, ``-``."""
    if not is_user_name(name):
        raise ValueError(
            f"user name {name!r} must start with a letter or digit and hold only "
            "letters, digits, '.', '_' or '-' (at most 64)"
        )
    return name


def parse_public_key(text: str) -> tuple[str, bytes]:
    """``"ssh-ed25519 AAAA... comment"`` -> (key type, key blob); ValueError if not one."""
    parts = text.split() if isinstance(text, str) else []
    if len(parts) < 2:
        raise ValueError("expected an OpenSSH public key: '<type> <base64> [comment]'")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        key = paramiko.PKey.from_type_string(parts[0], blob)
    except (binascii.Error, ValueError, paramiko.SSHException, TypeError) as exc:
        raise ValueError(f"not a usable {parts[0]} public key ({type(exc).__name__})") from None
    return key.get_name(), key.asbytes()


@dataclass(frozen=True)
class HarnessUser:
    """One account: a password, public keys, or both. The password never shows in a repr."""

    password: str | None = field(default=None, repr=False)
    public_keys: tuple[str, ...] = ()
    _key_blobs: tuple[tuple[str, bytes], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.password is not None and (not isinstance(self.password, str) or not self.password):
            raise ValueError("password must be a non-empty string")
        keys = tuple(self.public_keys)
        object.__setattr__(self, "public_keys", keys)
        object.__setattr__(self, "_key_blobs", tuple(parse_public_key(k) for k in keys))
        if self.password is None and not keys:
            raise ValueError("a user needs a password, public keys, or both")

    def password_matches(self, offered: str) -> bool:
        """Constant-time comparison; a user without a password matches nothing."""
        expected = self.password.encode("utf-8") if self.password is not None else None
        matched = hmac.compare_digest(expected or _DUMMY_PASSWORD, offered.encode("utf-8"))
        return expected is not None and matched

    def key_matches(self, key: paramiko.PKey) -> bool:
        blob = key.asbytes()
        found = False
        for key_type, allowed in self._key_blobs:
            found |= hmac.compare_digest(allowed, blob) and key_type == key.get_name()
        return found


def password_matches_nobody(offered: str) -> bool:
    """Spend the time of one comparison for an unknown user, then refuse."""
    hmac.compare_digest(_DUMMY_PASSWORD, offered.encode("utf-8"))
    return False


@dataclass(frozen=True)
class HarnessLogin:
    """A user name and password to log in with (what the ``oa_user`` fixture gives)."""

    username: str
    password: str = field(repr=False)


def load_users(path: Path) -> dict[str, HarnessUser]:
    """Read a users file; :class:`InputError` lists every problem (file and field)."""
    source = str(path)
    data = parse_yaml(read_text(path, what="users file"), source)
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise InputError(
            [
                Problem(
                    source,
                    "users",
                    "expected a mapping 'users:' of name -> {password, public_keys}",
                )
            ]
        )
    extra = sorted(str(k) for k in data if k != "users")
    problems = [Problem(source, key, "unknown field (expected only 'users')") for key in extra]
    users: dict[str, HarnessUser] = {}
    for name, entry in data["users"].items():
        user = _user(source, name, entry, problems)
        if user is not None:
            users[str(name)] = user
    if problems:
        raise InputError(problems)
    return users


def _user(source: str, name: Any, entry: Any, problems: list[Problem]) -> HarnessUser | None:
    where = f"users.{name}" if str(name).isprintable() else f"users.{name!r}"
    before = len(problems)
    try:
        check_user_name(name)
    except ValueError as exc:
        problems.append(Problem(source, where, str(exc)))
    if not isinstance(entry, dict):
        problems.append(
            Problem(source, where, "expected a mapping with password and/or public_keys")
        )
        return None
    for key in sorted(str(k) for k in entry if k not in ("password", "public_keys")):
        problems.append(
            Problem(source, f"{where}.{key}", "unknown field (expected password or public_keys)")
        )
    password = entry.get("password")
    if password is not None and (not isinstance(password, str) or not password):
        problems.append(Problem(source, f"{where}.password", "expected a non-empty string"))
    keys = entry.get("public_keys", [])
    if isinstance(keys, str) or not isinstance(keys, list):
        problems.append(Problem(source, f"{where}.public_keys", "expected a list of keys"))
        keys = []
    for index, key in enumerate(keys):
        try:
            parse_public_key(key)
        except ValueError as exc:
            problems.append(Problem(source, f"{where}.public_keys[{index}]", str(exc)))
    if password is None and not keys:
        problems.append(Problem(source, where, "needs a password, public_keys, or both"))
    if len(problems) > before:
        return None
    return HarnessUser(password=password, public_keys=tuple(keys))


def make_users(entries: Iterable[tuple[str, HarnessUser]]) -> dict[str, HarnessUser]:
    """Check names and build the users mapping the server keeps."""
    return {check_user_name(name): user for name, user in entries}


def issue_user(path: Path, name: str) -> HarnessLogin:
    """Open a new SFTP account as Office Ally does: a new user name with a new random
    password, written into the users file (created 0600: it holds passwords).

    Issues queue on a lock of the file's folder, so two at once both land; a name
    already in the file is refused (:class:`InputError`), its password unchanged.
    """
    check_user_name(name)
    password = secrets.token_urlsafe(18)
    folder = path.resolve().parent
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(
            [Problem(str(path), "", f"folder {folder} does not exist; create it first")]
        ) from None
    except OSError as exc:
        problem = Problem(str(path), "", f"cannot open folder {folder}: {exc.strerror}")
        raise InputError([problem]) from None
    try:
        fcntl.flock(folder_fd, fcntl.LOCK_EX)
        users = load_users(path) if path.exists() else {}
        if name in users:
            raise InputError([Problem(str(path), f"users.{name}", "exists already")])
        data = parse_yaml(read_text(path, what="users file"), str(path)) if users else {}
        entries = dict(data.get("users") or {}) if isinstance(data, dict) else {}
        entries[name] = {"password": password}
        text = yaml.safe_dump({"users": entries}, sort_keys=False)
        try:
            atomic_write(path, text.encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise InputError([Problem(str(path), "", f"cannot write: {exc.strerror}")]) from None
    finally:
        os.close(folder_fd)
    return HarnessLogin(name, password)


class UsersFileWatch:
    """What ``harness serve`` reloads: a users file that changed since it was last read.

    A file that does not parse is reported and the users already known stay.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def changed(self) -> dict[str, HarnessUser] | None:
        """The file's users when it changed, else ``None``; raises :class:`InputError`."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return None
        self._seen = stamp
        return load_users(self.path)
