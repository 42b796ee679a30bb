"""The hook implementations: what ``claimferry plugins`` shows for this package.

claimferry finds this module through the entry point in pyproject.toml
(group ``claimferry``). Hooks run when claimferry asks, not at import, so a
bad profiles file is reported by the command that needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import ClaimTransport, Clearinghouse, CredentialSource, hookimpl

from claimferry_generic_sftp.command_source import SOURCE
from claimferry_generic_sftp.profiles import configured_profiles, to_clearinghouse
from claimferry_generic_sftp.transport import TRANSPORT


@hookimpl
def claimferry_clearinghouses() -> Iterator[Clearinghouse]:
    for name, profile in configured_profiles().items():
        yield to_clearinghouse(name, profile)


@hookimpl
def claimferry_claim_transports() -> Iterator[ClaimTransport]:
    yield TRANSPORT


@hookimpl
def claimferry_credential_sources() -> Iterator[CredentialSource]:
    yield SOURCE
