"""The built-in credential sources: env, file, keyring, store."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import CredentialSource, hookimpl


@hookimpl
def claimferry_credential_sources() -> Iterator[CredentialSource]:
    from claimferry_credentials.sources import SOURCES  # when asked: not in every --help

    yield from SOURCES
