"""From response files to claim states.

Each response names the claims it answers: a TA1 or 999 by our control
numbers, a 277CA and an 835 by our claim ids (CLM01), a clearinghouse report
through its plugin's reader. This module turns each into
:class:`ClaimUpdate` values and moves the ledger's claims through them.
"""

from __future__ import annotations

import lzma
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from claimferry.errors import InputError, Problem
from claimferry.failpoints import failpoint
from claimferry.ledger import ClaimState, Ledger
from claimferry.types import ClaimUpdate, ResponseReader
from claimferry.x12.ack999 import read_999
from claimferry.x12.remit835 import RemitClaim, iter_835_claims
from claimferry.x12.responses import detect_kind
from claimferry.x12.segments import read_segments
from claimferry.x12.status277 import iter_277_claims
from claimferry.x12.ta1 import InterchangeAck, read_ta1

HEAD_BYTES = 4096
ZIP_UNPACKED_MAX = 512 * 2**20
ZIP_MEMBERS_MAX = 10_000
PAID_STATUSES = {"1", "2", "3", "19", "20", "21"}
"""CLP02 codes for a claim processed (as primary, secondary, tertiary) with payment."""


@dataclass(frozen=True)
class AppliedResponse:
    kind: str
    claims: int
    """Claim updates recorded."""
    unknown: int
    """Claims the ledger had never sent, recorded as seen."""


def _batch_claim_ids(ledger: Ledger, account: str, control_number: str) -> tuple[int, list[str]]:
    number = int(control_number) if control_number.strip().isdigit() else -1
    for batch in ledger.batches(account):
        if number in (batch.isa13, batch.st02):
            return batch.isa13, [c.claim_id for c in ledger.claims(batch_id=batch.id)]
    return number, []


def _interchange_updates(
    ledger: Ledger, account: str, acks: Iterable[InterchangeAck]
) -> Iterator[ClaimUpdate]:
    for ack in acks:
        if ack.accepted:
            continue
        number, claim_ids = _batch_claim_ids(ledger, account, ack.control_number)
        detail = f"interchange rejected (TA1 {ack.note_code}: {ack.note_meaning})"
        for claim_id in claim_ids:
            yield ClaimUpdate(claim_id, ClaimState.REJECTED, detail, control_number=number)


def _updates_999(ledger: Ledger, account: str, path: Path) -> Iterator[ClaimUpdate]:
    document = read_999(read_segments(path), str(path))
    yield from _interchange_updates(ledger, account, document.interchange_acks)
    for group in document.groups:
        for result in group.transactions:
            number, claim_ids = _batch_claim_ids(ledger, account, result.control_number)
            if result.accepted:
                state, detail = ClaimState.ACCEPTED, f"999 {result.status}: {result.status_meaning}"
            else:
                state = ClaimState.REJECTED
                detail = "999 rejected: " + ("; ".join(result.reasons()) or result.status_meaning)
            for claim_id in claim_ids:
                yield ClaimUpdate(claim_id, state, detail, control_number=number)


def _updates_277(path: Path) -> Iterator[ClaimUpdate]:
    for ack in iter_277_claims(read_segments(path), str(path)):
        reasons = "; ".join(status.describe() for status in ack.statuses)
        if ack.outcome == "accepted":
            state = ClaimState.ACKNOWLEDGED
        elif ack.outcome == "rejected":
            state = ClaimState.PAYER_REJECTED
        else:
            continue  # an informational status moves nothing
        yield ClaimUpdate(
            ack.claim_id,
            state,
            f"277CA {reasons}",
            payer_claim_number=ack.payer_claim_number or None,
        )


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _remit_update(claim: RemitClaim) -> ClaimUpdate:
    reasons = "; ".join(a.describe() for a in claim.all_adjustments())
    because = f"; {reasons}" if reasons else ""
    if claim.status == "22" or claim.adjustment_kind in ("reversal", "correction"):
        state = ClaimState.ADJUSTED
        detail = f"835 {claim.adjustment_kind or 'reversal'}: paid {_money(claim.paid)}{because}"
    elif claim.status == "4":
        state, detail = ClaimState.DENIED, f"835 denied{because}"
    elif claim.status in PAID_STATUSES:
        state = ClaimState.PAID
        detail = (
            f"835 paid {_money(claim.paid)} of {_money(claim.charge)} "
            f"({claim.status_meaning}){because}"
        )
    else:
        state, detail = (
            ClaimState.ADJUSTED,
            f"835 {claim.status_meaning}: paid {claim.paid}{because}",
        )
    return ClaimUpdate(
        claim.claim_id,
        state,
        detail,
        amount=claim.paid,
        payer_claim_number=claim.payer_claim_number or None,
    )


def response_updates(
    ledger: Ledger, account: str, path: Path, readers: Iterable[ResponseReader]
) -> tuple[str, list[ClaimUpdate]]:
    """What a response file says, as claim updates; refuses a file nothing can read."""
    if zipfile.is_zipfile(path):
        return _zipped_updates(ledger, account, path, readers)
    return _file_updates(ledger, account, path, readers)


def _file_updates(
    ledger: Ledger, account: str, path: Path, readers: Iterable[ResponseReader]
) -> tuple[str, list[ClaimUpdate]]:
    kind = detect_kind(path)
    if kind == "TA1":
        document = read_ta1(read_segments(path), str(path))
        return kind, list(_interchange_updates(ledger, account, document.acks))
    if kind == "999":
        return kind, list(_updates_999(ledger, account, path))
    if kind == "277CA":
        return kind, list(_updates_277(path))
    if kind == "835":
        claims = iter_835_claims(read_segments(path), str(path))
        return kind, [_remit_update(c) for c in claims]
    report = find_reader(path, readers).read(path)
    return report.kind, report.claim_updates()


def find_reader(path: Path, readers: Iterable[ResponseReader]) -> ResponseReader:
    """The plugin reader that knows this (non-X12) file, by its name and first bytes."""
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
    for reader in readers:
        if reader.matches(path.name, head):
            return reader
    raise InputError([Problem(str(path), "", "not a response any installed reader knows")])


_UNZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # a compression method Python lacks
    EOFError,
    RuntimeError,  # an encrypted member
    zlib.error,
    lzma.LZMAError,
)


def _zipped_updates(
    ledger: Ledger, account: str, path: Path, readers: Iterable[ResponseReader]
) -> tuple[str, list[ClaimUpdate]]:
    """A zip of responses (Office Ally zips its ERAs): each X12 file in it is read
    as if it had come alone; the readable summaries beside them are for people.

    Members are unpacked one at a time, under a flat name of ours (never the
    member's path), into a temporary folder beside the archived zip (patient
    data stays in the state directory), and only up to ``ZIP_UNPACKED_MAX``
    bytes and ``ZIP_MEMBERS_MAX`` members: a zip bomb stops there. A zip or
    an encrypted file inside is refused rather than skipped, so no answer is
    dropped unseen.
    """
    kinds: list[str] = []
    updates: list[ClaimUpdate] = []
    unpacked = 0
    try:
        with (
            zipfile.ZipFile(path) as archive,
            tempfile.TemporaryDirectory(dir=path.parent, prefix=".unzip-") as folder,
        ):
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > ZIP_MEMBERS_MAX:
                raise InputError(
                    [Problem(str(path), "", f"more than {ZIP_MEMBERS_MAX} files in the zip")]
                )
            for number, member in enumerate(members):
                where = f"{path}!{member.filename}"
                if member.flag_bits & 0x1:
                    raise InputError([Problem(where, "", "encrypted: cannot be read")])
                target = Path(folder) / f"member-{number}"
                unpacked += _unpack(archive, member, target, ZIP_UNPACKED_MAX - unpacked, path)
                if zipfile.is_zipfile(target):
                    raise InputError([Problem(where, "", "a zip inside the zip is not read")])
                try:
                    if detect_kind(target) is None:
                        continue
                    kind, found = _file_updates(ledger, account, target, readers)
                except InputError as exc:
                    raise InputError(
                        [Problem(where, p.location, p.message) for p in exc.problems]
                    ) from None
                kinds.append(kind)
                updates += found
    except _UNZIP_ERRORS as exc:
        reason = str(exc) or exc.__class__.__name__
        raise InputError(
            [Problem(str(path), "", f"not a zip that can be read ({reason})")]
        ) from None
    if not kinds:
        raise InputError([Problem(str(path), "", "a zip with no X12 response in it")])
    return "+".join(dict.fromkeys(kinds)), updates


def _unpack(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, budget: int, path: Path
) -> int:
    """Copy one member out, refusing it past ``budget`` bytes (sizes in a zip can lie)."""
    copied = 0
    with archive.open(member) as source, target.open("wb") as copy:
        while chunk := source.read(1 << 16):
            copied += len(chunk)
            if copied > budget:
                limit = ZIP_UNPACKED_MAX >> 20
                raise InputError([Problem(str(path), "", f"unpacks to more than {limit} MiB")])
            copy.write(chunk)
    return copied


def apply_updates(
    ledger: Ledger, account: str, updates: Iterable[ClaimUpdate], source_file: str
) -> tuple[int, int]:
    """Record each update; returns how many, and how many were of claims never sent."""
    count = unknown = 0
    for update in updates:
        known = ledger.latest_claim(account, update.claim_id) is not None
        ledger.update_claim(
            account,
            update.claim_id,
            ClaimState(update.state),
            detail=update.detail,
            amount=update.amount,
            source_file=source_file,
            payer_claim_number=update.payer_claim_number,
            batch_control_number=update.control_number,
        )
        count += 1
        unknown += not known
        failpoint("after-claim-update")
    return count, unknown


def apply_response(
    ledger: Ledger,
    account: str,
    path: Path,
    readers: Iterable[ResponseReader],
    source_file: str,
    response_id: int | None = None,
) -> AppliedResponse:
    """Read one archived response and move its claims through their states.

    The file is read whole first, outside the ledger's write lock (a big ERA
    zip takes a while; other writers must not time out). Its claim updates,
    and the mark that archived response ``response_id`` was read, are then
    one transaction: a crash half-way applies none of them, so reading the
    file again cannot record any answer twice. That transaction first checks
    the response is still unread: another reader that got there first leaves
    nothing to apply.
    """
    kind, updates = response_updates(ledger, account, path, readers)
    with ledger.transaction():
        if response_id is not None and not ledger.response_unread(response_id):
            return AppliedResponse(kind, 0, 0)
        count, unknown = apply_updates(ledger, account, updates, source_file)
        if response_id is not None:
            ledger.mark_response_parsed(response_id, kind=kind)
    return AppliedResponse(kind, count, unknown)
