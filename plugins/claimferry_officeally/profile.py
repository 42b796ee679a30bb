"""Office Ally's clearinghouse profile: envelope identifiers and claim file names.

Every Office Ally fact that is not confirmed by Office Ally's own documents
lives here, in one place, so that a correction is a one-line change (see
docs/officeally.md for what is confirmed and what is not).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from claimferry.api import Clearinghouse, FileNaming, InputError, Problem, Receiver

PROFILE_NAME = "officeally"

RECEIVER = Receiver(
    isa_qualifier="ZZ",  # Office Ally's own 999s use ZZ (01 and 30 also seen)
    isa_id="330897513",  # Office Ally's tax ID
    gs_id="330897513",  # "OA" also seen in the wild
    name="OFFICE ALLY",
    id="330897513",  # loop 1000B NM109, qualifier 46
)

# File naming, from integrators quoting the 837P companion guide r060822 (unconfirmed).
CLAIM_FILE_MARK = "837P"
"""Every claim file's name must contain this."""
TEST_FILE_MARK = "OATEST"
"""A test file's name contains this: processed, but not forwarded to payers."""
CLAIM_FILE_SUFFIX = ".txt"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S"

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def make_claim_file_name(
    clock: Callable[[], datetime] | None = None,
    token: Callable[[], str] | None = None,
) -> Callable[[FileNaming], str]:
    """A namer for claim files; ``clock`` (UTC) and ``token`` are injectable for tests.

    ``<SUBMITTER>_837P[_OATEST]_<ISA13, 9 digits>_<UTC timestamp>_<random>.txt``:
    the submitter ID as configured (case kept: two IDs that differ only in
    case on one login must not share names) and the never-reused control
    number make it unique per account; the timestamp and a random part keep
    it unique even if a ledger is ever rebuilt. Call it once per batch and
    keep the result: the timestamp and the random part change.
    """
    now = clock or (lambda: datetime.now(UTC))
    suffix = token or (lambda: secrets.token_hex(4))

    def claim_file_name(naming: FileNaming) -> str:
        submitter = _UNSAFE.sub("", naming.submitter_id)
        if not submitter:
            submitter = _UNSAFE.sub("", naming.account).upper() or "CLAIMS"
        if not naming.test and TEST_FILE_MARK in submitter.upper():
            raise InputError(
                [
                    Problem(
                        "config",
                        f"accounts.{naming.account}.submitter_id",
                        f"contains {TEST_FILE_MARK!r}, which would mark every production "
                        "claim file as a test file at Office Ally",
                    )
                ]
            )
        parts = [submitter, CLAIM_FILE_MARK]
        if naming.test:
            parts.append(TEST_FILE_MARK)
        parts.append(f"{naming.interchange_control_number:09d}")
        parts.append(now().astimezone(UTC).strftime(TIMESTAMP_FORMAT))
        parts.append(suffix())
        return "_".join(parts) + CLAIM_FILE_SUFFIX

    return claim_file_name


def make_profile(clock: Callable[[], datetime] | None = None) -> Clearinghouse:
    return Clearinghouse(
        name=PROFILE_NAME,
        receiver=RECEIVER,
        transport="officeally-sftp",
        claim_file_name=make_claim_file_name(clock),
        description="Office Ally (professional claims, X12 5010 837P, over SFTP)",
    )
