"""Office Ally's registrations: the SFTP transport, the clearinghouse profile and the
readers of its own reports (File Summary, EDI Status Report, readable ERA).

Each is imported when its hook is called: registering the plugin must not load
paramiko and the report readers into every command.
"""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import ClaimTransport, Clearinghouse, ResponseReader, hookimpl


@hookimpl
def claimferry_claim_transports() -> Iterator[ClaimTransport]:
    from claimferry_officeally.transport import make_transport

    yield make_transport()


@hookimpl
def claimferry_clearinghouses() -> Iterator[Clearinghouse]:
    from claimferry_officeally.profile import make_profile

    yield make_profile()


@hookimpl
def claimferry_response_readers() -> Iterator[ResponseReader]:
    from claimferry_officeally.reports import make_readers

    yield from make_readers()
