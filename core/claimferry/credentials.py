"""Credentials whose secret parts can be passed around but not printed."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from claimferry.errors import CredentialError

__all__ = ["Credentials", "SecretStr", "read_private_file", "username_fingerprint"]


@dataclass(frozen=True)
class Credentials:
    """What a transport needs to log in for one account.

    ``password`` and ``private_key`` (PEM text) are :class:`pydantic.SecretStr`,
    whose ``str`` and ``repr`` are masked; call ``get_secret_value()`` only at
    the point of use. Office Ally's SFTP username and password are the ones it
    e-mails for SFTP, not the web portal login.
    """

    username: str
    password: SecretStr | None = None
    private_key: SecretStr | None = None
    passphrase: SecretStr | None = None

    def __post_init__(self) -> None:
        if not self.username:
            raise ValueError("credentials need a username")
        if self.password is None and self.private_key is None:
            raise ValueError("credentials need a password or a private key")


def username_fingerprint(username: str) -> str:
    """A short digest that tells two usernames apart without showing either
    (for ``credentials show`` and the audit trail)."""
    return "sha256:" + hashlib.sha256(username.encode("utf-8")).hexdigest()[:16]


def read_private_file(path: Path, what: str = "credentials file") -> str:
    """The file's text, but only if nobody but its owner, the current user, can read it.

    A symbolic link is refused too: it could point anywhere.
    """
    with _open_private(path, what) as handle:
        try:
            return handle.read()
        except UnicodeDecodeError:
            raise CredentialError(f"{what} {path} is not UTF-8 text") from None


def check_private_file(path: Path, what: str = "credentials file") -> None:
    """The checks of ``read_private_file`` without reading a byte: whether the
    secrets are there, for a status that must not read them."""
    with _open_private(path, what):
        pass


def _open_private(path: Path, what: str) -> TextIO:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise CredentialError(f"{what} {path} not found") from None
    except OSError as exc:
        raise CredentialError(f"cannot open {what} {path}: {exc.strerror}") from None
    handle = os.fdopen(fd, "r", encoding="utf-8")
    info = os.fstat(handle.fileno())
    mode = stat.S_IMODE(info.st_mode)
    problem = None
    if mode & 0o077:
        problem = (
            f"{what} {path} has mode {mode:04o}: group or others can read it. "
            f"Refused; fix with: chmod 600 {path}"
        )
    elif hasattr(os, "getuid") and info.st_uid != os.getuid():
        problem = (
            f"{what} {path} is owned by uid {info.st_uid}, not by the user "
            f"running claimferry (uid {os.getuid()}). Refused; fix with: "
            f"chown $(id -u) {path} && chmod 600 {path}"
        )
    if problem is not None:
        handle.close()
        raise CredentialError(problem)
    return handle
