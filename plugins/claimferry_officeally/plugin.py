"""Office Ally's registrations: the SFTP transport, the clearinghouse profile and the
readers of its own reports (File Summary, EDI Status Report, readable ERA)."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import ClaimTransport, Clearinghouse, ResponseReader, hookimpl
from claimferry_officeally.profile import make_profile
from claimferry_officeally.reports import make_readers
from claimferry_officeally.transport import make_transport


@hookimpl
def claimferry_claim_transports() -> Iterator[ClaimTransport]:
    yield make_transport()


@hookimpl
def claimferry_clearinghouses() -> Iterator[Clearinghouse]:
    yield make_profile()


@hookimpl
def claimferry_response_readers() -> Iterator[ResponseReader]:
    yield from make_readers()
