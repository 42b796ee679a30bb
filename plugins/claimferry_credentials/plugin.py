"""The built-in credential sources: env, file, keyring, store."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import CredentialSource, hookimpl
from claimferry_credentials.sources import SOURCES


@hookimpl
def claimferry_credential_sources() -> Iterator[CredentialSource]:
    yield from SOURCES
