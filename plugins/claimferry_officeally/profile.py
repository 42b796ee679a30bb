"""Office Ally's clearinghouse profile: envelope identifiers and claim file names.

Every Office Ally fact that is not confirmed by Office Ally's own documents
lives here, in one place, so that a correction is a one-line change (see
docs/officeally.md for what is confirmed and what is not).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from claimferry.api import Clearinghouse, FileNaming, InputError, Mailbox, Problem, Receiver
from claimferry_officeally.payers import check_payer_id, payer_list_imported, requires_enrollment

PROFILE_NAME = "officeally"
TRANSPORT_NAME = "officeally-sftp"

MAILBOX = Mailbox(
    inbound="inbound",
    outbound="outbound",
    # Every file in outbound: the readers know Office Ally's reports by content
    # first, and its 999s, 277CAs and ERAs keep no one naming scheme.
    responses=r".+",
    login_hint="Check the SFTP username and password Office Ally e-mailed for SFTP; "
    "they are not the web portal login.",
)

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


# Response file names, from integrators reading Office Ally's outbound folder
# (unconfirmed: the companion guide's Appendix A could not be read). Office
# Ally's FileID is 9 or 10 digits, so names are matched whole, never cut at
# fixed offsets. The readers recognise each report by its content first, so
# a name that differs from these still reads.
FILE_ID = r"(?P<file_id>\d{9,10})"
RESPONSE_NAMES: Mapping[str, str] = {
    "FILE_SUMMARY": rf"FS_(?P<file_type>[A-Z]+)_{FILE_ID}_[A-Z0-9_]*\.TXT",
    "EDI_STATUS": rf"{FILE_ID}_EDI_STATUS_(?P<date>\d{{8}})\S*\.TXT",
    "ERA_STATUS": rf"{FILE_ID}_ERA_STATUS_5010_(?P<date>\d{{8}})\S*\.TXT",
}
"""Report name (a reader's ``kind``) to a pattern for the whole file name, case-blind."""


@dataclass(frozen=True)
class ResponseName:
    """What an Office Ally response file's name says: which report, for which FileID."""

    report: str
    file_id: str


@dataclass(frozen=True)
class ResponseNaming:
    """Recognises Office Ally's response file names; ``patterns`` may be replaced
    (each must capture the FileID as ``file_id``)."""

    patterns: Mapping[str, str] = field(default_factory=lambda: dict(RESPONSE_NAMES))

    def __post_init__(self) -> None:
        for report, pattern in self._compiled.items():
            if "file_id" not in pattern.groupindex:
                raise ValueError(f"the {report} name pattern captures no file_id")

    @cached_property
    def _compiled(self) -> dict[str, re.Pattern[str]]:
        return {report: re.compile(p, re.IGNORECASE) for report, p in self.patterns.items()}

    def parse(self, file_name: str) -> ResponseName | None:
        """The report and FileID this name belongs to, or None for any other name."""
        for report, pattern in self._compiled.items():
            if found := pattern.fullmatch(file_name):
                return ResponseName(report, found.group("file_id"))
        return None


def make_profile(clock: Callable[[], datetime] | None = None) -> Clearinghouse:
    return Clearinghouse(
        name=PROFILE_NAME,
        receiver=RECEIVER,
        transport=TRANSPORT_NAME,
        claim_file_name=make_claim_file_name(clock),
        description="Office Ally (professional claims, X12 5010 837P, over SFTP)",
        check_payer_id=check_payer_id,
        payer_list_imported=payer_list_imported,
        requires_enrollment=requires_enrollment,
        label="Office Ally",
        mailbox=MAILBOX,
    )
