"""Credentials whose secret parts can be passed around but not printed."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

__all__ = ["Credentials", "SecretStr"]


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
