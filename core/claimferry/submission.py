"""Submitting a batch exactly once: validate, build, record, upload, and recover
a batch a crash or Ctrl-C left half-way.

The CLI and the demo compose these; tests call them one by one.
"""

from __future__ import annotations

import hashlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from claimferry.claims import Claim, Frequency, claim_json, revised
from claimferry.config import Account
from claimferry.connection import connect
from claimferry.errors import (
    ClaimferryError,
    ConfigError,
    InputError,
    Interrupted,
    Problem,
    TransportError,
)
from claimferry.failpoints import failpoint
from claimferry.findings import Finding
from claimferry.ledger import (
    REJECTIONS,
    Batch,
    BatchState,
    ClaimRecord,
    Ledger,
    LedgerError,
    NewClaim,
    SentLine,
)
from claimferry.manager import PluginManager
from claimferry.storage import SENT, ArchiveMissing, sha256_hex
from claimferry.types import (
    Clearinghouse,
    DeliveryState,
    FileNaming,
    TransportSession,
    ValidationContext,
)
from claimferry.x12.writer837 import Envelope, line_control_number, write_837p

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# -- validate ----------------------------------------------------------------------


def validate_claims(
    pm: PluginManager,
    claims: Sequence[Claim],
    context: ValidationContext,
    *,
    skip_enrollment: bool = False,
    partial: Sequence[Claim] = (),
    started: Progress = _quiet,
) -> list[Finding]:
    """Run every validator; findings are tagged with the validator that made them.

    ``partial`` are claims that failed their schema, as far as they parsed:
    only validators that take them see them. ``started`` hears each
    validator's name as it starts (a progress display).
    """
    findings: list[Finding] = []
    for validator in pm.enrollment_validators():
        if skip_enrollment and validator.kind == "enrollment":
            continue
        started(validator.name)
        given = [*claims, *partial] if validator.partial_claims and partial else claims
        for finding in validator.check(given, context):
            findings.append(
                finding if finding.validator else replace(finding, validator=validator.name)
            )
    return findings


# -- build -------------------------------------------------------------------------


def envelope_for(
    account: Account,
    clearinghouse: Clearinghouse,
    claims: Sequence[Claim],
    control_number: int,
    created: datetime,
) -> Envelope:
    """The 837P envelope from the account's settings and the clearinghouse profile."""
    if account.contact is None:
        raise ConfigError(
            [
                Problem(
                    "config",
                    f"accounts.{account.name}.contact",
                    "the 837P submitter contact (loop 1000A PER) is required: "
                    "give 'name' and a 10-digit 'phone' or an 'email'",
                )
            ]
        )
    submitter_name = account.submitter_name or claims[0].provider().display_name
    receiver = clearinghouse.receiver
    if account.receiver is not None:
        receiver = replace(receiver, **account.receiver.model_dump(exclude_none=True))
    return Envelope(
        sender_qualifier=clearinghouse.isa_submitter_qualifier,
        sender_id=account.submitter_id,
        receiver=receiver,
        submitter_name=submitter_name,
        contact=account.contact,
        test=not account.is_production,
        interchange_control_number=control_number,
        group_control_number=control_number,
        transaction_set_control_number=control_number,
        created=created,
    )


def claim_content_hash(claim: Claim) -> str:
    """Identifies a claim's content, to refuse sending the same claim twice."""
    return hashlib.sha256(claim_json(claim)).hexdigest()


def build_interchange(
    account: Account,
    clearinghouse: Clearinghouse,
    claims: Sequence[Claim],
    control_number: int,
    created: datetime,
) -> bytes:
    return write_837p(claims, envelope_for(account, clearinghouse, claims, control_number, created))


# -- submit ------------------------------------------------------------------------


CENTS = Decimal("0.01")


class AlreadySent(ClaimferryError):
    """Claims the payer may already hold went out before; ``--resubmit`` sends
    them as replacements."""

    code = "already-sent"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)  # one per claim: the sent file, the claim id
        super().__init__(
            f"{len(self.problems)} claim(s) were already sent: use --resubmit to send "
            "them as replacements (frequency 7)"
        )


def content_keys(claims: Sequence[Claim]) -> list[tuple[str, str]]:
    """Each claim's id and content hash: what "the same claim" means for exactly-once."""
    return [(c.id, claim_content_hash(c)) for c in claims]


def interchanges(claims: Sequence[Claim], limit: int) -> list[Sequence[Claim]]:
    """The claims in files of at most ``limit`` claims each, in file order."""
    return [claims[start : start + limit] for start in range(0, len(claims), limit)]


@dataclass
class _Built:
    """A built 837P file, not yet recorded; ``reference`` once it is in the archive."""

    name: str
    data: bytes
    control_number: int
    claims: list[NewClaim]
    sha256: str
    size: int
    reference: str = ""

    def keep(self, ledger: Ledger, account: str) -> None:
        """Into the archive; the bytes are let go then (a large submit builds many files)."""
        self.reference = ledger.archive.store(account, SENT, self.name, self.data)
        self.data = b""
        failpoint("after-archive")


def _build(
    ledger: Ledger,
    account: Account,
    clearinghouse: Clearinghouse,
    claims: Sequence[Claim],
    hashes: Sequence[str],
    now: datetime,
) -> _Built:
    number = ledger.next_control_number(account.name)
    failpoint("after-control-number")
    data = build_interchange(account, clearinghouse, claims, number, now)
    name = clearinghouse.claim_file_name(
        FileNaming(account.name, account.submitter_id, not account.is_production, number)
    )
    new_claims = [
        NewClaim(
            c.id,
            c.payer.id,
            c.total_charge.quantize(CENTS),
            content,
            c.frequency,
            c.payer_claim_number,
            tuple(
                SentLine(line_control_number(c.id, place, line), line.procedure, line.charge)
                for place, line in enumerate(c.lines, 1)
            ),
        )
        for c, content in zip(claims, hashes, strict=True)
    ]
    return _Built(name, data, number, new_claims, sha256_hex(data), len(data))


def record_batches(
    ledger: Ledger,
    account: Account,
    clearinghouse: Clearinghouse,
    claims: Sequence[Claim],
    now: datetime,
    keys: Sequence[tuple[str, str]] | None = None,
    guard: Callable[[], None] | None = None,
) -> list[Batch]:
    """Build the files, archive them and record the batches: all before any upload.

    Claims beyond the account's ``interchange_limit`` go in further files, each
    its own batch with its own control numbers. All the batches are recorded in
    one transaction, so a crash leaves every claim in a batch or none. Files
    kept in a directory are written before it (a crash leaves a file the ledger
    does not know, never a batch without its file); in the database they are
    written in it, with their batches.
    ``keys`` are the claims' :func:`content_keys`, when the caller has them already.
    ``guard`` runs in that transaction (the duplicate check), so that nothing
    can be recorded between the check and the batches.
    """
    hashes = [h for _, h in (keys if keys is not None else content_keys(claims))]
    ledger.ensure_account(account.name, clearinghouse.name, account.submitter_id)
    limit = account.interchange_limit
    built = [
        _build(ledger, account, clearinghouse, part, hashes[at : at + limit], now)
        for part, at in zip(interchanges(claims, limit), range(0, len(claims), limit), strict=True)
    ]
    in_database = ledger.archive.in_database
    if not in_database:
        for b in built:
            b.keep(ledger, account.name)
    with ledger.transaction():
        if guard is not None:
            guard()
        if in_database:
            for b in built:
                b.keep(ledger, account.name)
        batches = [
            ledger.record_batch(
                account=account.name,
                file_name=b.name,
                archive_path=b.reference,
                sha256=b.sha256,
                size=b.size,
                control_number=b.control_number,
                test=not account.is_production,
                claims=b.claims,
            )
            for b in built
        ]
    for b, batch in zip(built, batches, strict=True):
        ledger.audit(
            "batch-built",
            account=account.name,
            file_name=batch.file_name,
            size=batch.size,
            sha256=batch.sha256,
            detail=f"{len(b.claims)} claims, ISA13 {b.control_number:09d}",
        )
    return batches


def _taken(
    submissions: Sequence[tuple[ClaimRecord, Batch | None]],
) -> list[tuple[ClaimRecord, Batch | None]]:
    """The submissions the payer may hold. A rejected one never reached
    adjudication: a claim rejected every time may go again as an original."""
    return [(record, batch) for record, batch in submissions if record.state not in REJECTIONS]


@dataclass(frozen=True)
class _Conflict:
    """A claim that would reach the payer twice, and the submission it repeats."""

    record: ClaimRecord
    batch: Batch
    changed: bool


def _conflicts(
    ledger: Ledger,
    account: str,
    claims: Sequence[Claim],
    keys: Sequence[tuple[str, str]],
    states: set[BatchState],
) -> list[_Conflict]:
    """Claims the payer may already hold: a submission in a batch in ``states``
    that was not rejected.

    The same id with other content conflicts too, unless the file marks it a
    replacement or void: an edited claim sent again as an original is a
    duplicate claim to the payer. Every submission counts, not only the
    latest: a rejected replacement does not undo the original the payer paid.
    """
    history = ledger.submissions(account, [claim_id for claim_id, _ in keys])
    out = []
    for claim, (claim_id, content) in zip(claims, keys, strict=True):
        taken = [
            (record, batch)
            for record, batch in _taken(history.get(claim_id, []))
            if batch is not None and batch.state in states
        ]
        if not taken:
            continue
        same = [(r, b) for r, b in taken if r.content_sha256 == content]
        if not same and claim.frequency != "original":
            continue
        record, batch = (same or taken)[-1]
        out.append(_Conflict(record, batch, changed=not same))
    return out


def _already_sent(conflicts: Sequence[_Conflict]) -> AlreadySent:
    problems = [
        Problem(
            c.batch.file_name,
            c.record.claim_id,
            f"already sent in batch {c.batch.id} ({c.batch.created_at[:10]})"
            + (" with other content" if c.changed else "")
            + (
                ", whose delivery is uncertain: see 'claimferry batches'"
                if c.batch.state is BatchState.UNCERTAIN
                else ""
            ),
        )
        for c in conflicts
    ]
    return AlreadySent(problems)


def as_replacements(ledger: Ledger, account: str, claims: Sequence[Claim]) -> list[Claim]:
    """For ``--resubmit``: claims sent before go again as replacements (frequency 7).

    REF*F8 must carry the payer's number for the claim as it stands now: the
    one the payer gave the latest submission it took (learned from a 277CA or
    835) wins over the claims file's, which may name an older one. A void
    stays a void. A claim the payer never took (every submission rejected)
    stays an original: there is nothing to replace.
    """
    out, problems = [], []
    history = ledger.submissions(account, [claim.id for claim in claims])
    for claim in claims:
        taken = _taken(history.get(claim.id, []))
        if not taken:  # never sent, or every time rejected: the payer has nothing to replace
            out.append(claim)
            continue
        known = [r.payer_claim_number for r, _ in taken if r.payer_claim_number]
        number = known[-1] if known else claim.payer_claim_number
        if number is None:
            problems.append(
                Problem(
                    "claims",
                    f"claim {claim.id}: payer_claim_number",
                    "a replacement needs the payer's claim number, not known yet: add it",
                )
            )
            continue
        frequency: Frequency = "void" if claim.frequency == "void" else "replacement"
        try:
            out.append(revised(claim, "claims", frequency=frequency, payer_claim_number=number))
        except InputError as exc:  # a number on record that the schema refuses
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return out


def deliver(
    ledger: Ledger,
    session: TransportSession,
    batch: Batch,
    account: str,
    progress: Progress = _quiet,
) -> Batch:
    """Upload one recorded batch. It is marked uploading first, so a crash is recoverable.

    Only under the sender's lock: no other run can be uploading it meanwhile.
    """
    ledger.require_sender_lock(account)
    try:
        data = ledger.archive.read(batch.archive_path)
    except ArchiveMissing as exc:
        raise TransportError(f"{exc}; not sending batch {batch.id}") from None
    if sha256_hex(data) != batch.sha256:
        raise TransportError(
            f"{batch.archive_path}: archived batch changed since it was built; not sending it"
        )
    ledger.set_batch_state(batch.id, BatchState.UPLOADING)
    failpoint("after-mark-uploading")
    progress(f"uploading {batch.file_name} ({batch.size} bytes)")
    try:
        receipt = session.upload(data, batch.file_name)
    except KeyboardInterrupt:
        # Stopped at once: whether the file arrived is unknown, so the batch stays
        # uploading and the next run asks the server, as after a crash.
        detail = INTERRUPTED_UPLOAD.format(account=account)
        ledger.set_batch_state(batch.id, BatchState.UPLOADING, error=detail)
        audit_batch(ledger, "upload-interrupted", account, batch, session.host_fingerprint)
        raise Interrupted(
            f"stopped during the upload of batch {batch.id} ({batch.file_name}): {detail}"
        ) from None
    except TransportError as exc:
        # Known not delivered: back to built, so the next run simply sends it;
        # otherwise it stays uploading and the next run asks the server first.
        state = BatchState.BUILT if exc.delivered is False else BatchState.UPLOADING
        ledger.set_batch_state(batch.id, state, error=str(exc))
        audit_batch(ledger, "upload-failed", account, batch, session.host_fingerprint, str(exc))
        raise
    failpoint("after-upload")
    if receipt.sha256 != batch.sha256 or receipt.size != batch.size:
        ledger.set_batch_state(
            batch.id, BatchState.UPLOADING, error="the transport reported a different size or hash"
        )
        raise TransportError(f"{batch.file_name}: uploaded size or hash does not match")
    try:
        with ledger.transaction():
            ledger.set_batch_state(
                batch.id,
                BatchState.UPLOADED,
                remote_name=receipt.remote_name,
                host_fingerprint=receipt.host_fingerprint,
            )
            ledger.audit(
                "upload",
                account=account,
                file_name=receipt.remote_name,
                size=receipt.size,
                sha256=receipt.sha256,
                host_fingerprint=receipt.host_fingerprint,
            )
    except ClaimferryError as exc:
        raise LedgerError(
            f"batch {batch.id} WAS uploaded ({receipt.remote_name}, {receipt.size} bytes), "
            f"but the ledger could not record it: {exc}. It stays 'uploading': the next run "
            "looks for it on the server and records it. Do not send these claims again "
            "by hand"
        ) from None
    return ledger.batch(batch.id)


INTERRUPTED_UPLOAD = (
    "the upload was interrupted (Ctrl-C); the next 'claimferry submit --account {account}' "
    "asks the server whether the file arrived, then records or sends it"
)
INTERRUPTED_BEFORE_UPLOAD = (
    "interrupted (Ctrl-C) before its upload; the next 'claimferry submit --account {account}' "
    "sends it first"
)


def pending_batches(ledger: Ledger, account: str) -> list[Batch]:
    """Batches recorded but not known to be delivered (a crash or a failed upload)."""
    return ledger.batches(account, [BatchState.BUILT, BatchState.UPLOADING])


def recover_pending(
    ledger: Ledger, session: TransportSession, account: str, progress: Progress = _quiet
) -> list[Batch]:
    """Finish the batches an earlier run left behind, before sending anything new.

    A batch never started is sent. A batch caught mid-upload is looked for on
    the server: found under its final name, it is marked delivered; found
    only as the transport's temporary file, it is sent again (the rename never
    happened); found nowhere, it is marked uncertain and left to an operator
    (``claimferry batches``), because the clearinghouse may have taken it.

    It runs under the sender's lock, so a batch it finds uploading was left
    by a run that is gone, never by one still sending it.
    """
    ledger.require_sender_lock(account)
    done = []
    for batch in pending_batches(ledger, account):
        if batch.state is BatchState.BUILT:
            progress(f"sending batch {batch.id}, recorded by an earlier run")
            done.append(deliver(ledger, session, batch, account, progress))
            continue
        found = session.delivery_state(batch.file_name, batch.size, batch.sha256)
        if found is DeliveryState.DELIVERED:
            ledger.set_batch_state(
                batch.id,
                BatchState.UPLOADED,
                remote_name=batch.file_name,
                host_fingerprint=session.host_fingerprint,
            )
            audit_batch(ledger, "upload-confirmed", account, batch, session.host_fingerprint)
            progress(f"batch {batch.id} was delivered by an earlier run: {batch.file_name}")
            done.append(ledger.batch(batch.id))
        elif found is DeliveryState.PARTIAL:
            progress(f"batch {batch.id}: an earlier upload stopped half-way; sending it again")
            done.append(deliver(ledger, session, batch, account, progress))
        else:
            reason = UNCERTAIN_REASON.format(name=batch.file_name, id=batch.id)
            ledger.set_batch_state(batch.id, BatchState.UNCERTAIN, error=reason)
            audit_batch(ledger, "upload-uncertain", account, batch, session.host_fingerprint)
            progress(f"batch {batch.id}: {reason}")
    return done


UNCERTAIN_REASON = (
    "an earlier upload of {name} was interrupted and the file is not on the server now; "
    "the clearinghouse may already have taken it. Check its portal for the file, then run "
    "'claimferry batches resend {id}' or 'claimferry batches abandon {id}'"
)


def audit_batch(
    ledger: Ledger,
    action: str,
    account: str,
    batch: Batch,
    fingerprint: str | None,
    detail: str | None = None,
) -> None:
    """One audit entry about a batch's file: the one shape every batch action has."""
    ledger.audit(
        action,
        account=account,
        file_name=batch.file_name,
        size=batch.size,
        sha256=batch.sha256,
        host_fingerprint=fingerprint,
        detail=detail,
    )


class StopRequest:
    """What the first Ctrl-C asked for: stop at the next safe point, after
    finishing ``doing`` (a step that must not be cut short)."""

    def __init__(self) -> None:
        self.requested = False
        self.doing = "the step in progress"

    def check(self, stopped_at: str) -> None:
        """A safe point: stop here, saying where the work stands, if asked to."""
        if self.requested:
            raise Interrupted(f"interrupted (Ctrl-C): {stopped_at}")


@contextmanager
def first_ctrl_c_finishes(say: Progress | None) -> Iterator[StopRequest]:
    """Ctrl-C once: ``say`` what is being finished and stop at the next safe
    point; Ctrl-C twice: stop at once (``KeyboardInterrupt``). Only the main
    thread can take signals; elsewhere, and when ``say`` is ``None`` (a caller
    that handles Ctrl-C itself), Ctrl-C is left as it is."""
    stop = StopRequest()
    if say is None or threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        say(f"finishing {stop.doing}; Ctrl-C again to stop now")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class SubmitOutcome:
    batches: list[Batch]
    """The batches made from these claims (one per ``interchange_limit`` claims);
    empty when an earlier run had made them."""
    delivered: list[Batch]
    """Every batch delivered by this run, pending ones from earlier runs included."""


def submit_claims(
    pm: PluginManager,
    ledger: Ledger,
    account: Account,
    claims: Sequence[Claim],
    *,
    now: datetime,
    resubmit: bool = False,
    progress: Progress = _quiet,
    wait: float = 0.0,
    on_interrupt: Progress | None = None,
) -> SubmitOutcome:
    """Exactly once: refuse what was sent, finish what is pending, record, then upload.

    Claims sent before are refused before logging in; everything from there
    on is under the sender's lock (waiting up to ``wait`` seconds for it), and
    decided again there, since another run may have sent them meanwhile.
    With ``on_interrupt``, a first Ctrl-C is told to it and the run stops at
    the next safe point with :class:`Interrupted`, saying where the batch is.
    """
    clearinghouse = pm.get_clearinghouse(account.clearinghouse)
    ledger.ensure_account(account.name, clearinghouse.name, account.submitter_id)
    # hashing every claim is a good part of a large submit: once, unless --resubmit
    # changes the claims
    keys = None if resubmit else content_keys(claims)
    if keys is not None and not pending_batches(ledger, account.name):
        # with batches pending, some of a split file's may be sent and the rest not:
        # the decision waits for them to be finished, under the lock
        _refuse_sent(ledger, account.name, claims, keys)
    with first_ctrl_c_finishes(on_interrupt) as stop:
        stop.doing = "logging in"
        session = connect(pm, ledger, account)
        try:
            stop.check("before anything was recorded or sent")
            with ledger.sender_lock(account.name, command="submit", wait=wait):
                return _submit(
                    ledger,
                    session,
                    account,
                    clearinghouse,
                    claims,
                    keys,
                    now,
                    progress,
                    stop,
                )
        finally:
            session.close()


def _refuse_sent(
    ledger: Ledger, account: str, claims: Sequence[Claim], keys: Sequence[tuple[str, str]]
) -> None:
    found = _conflicts(ledger, account, claims, keys, {BatchState.UPLOADED, BatchState.UNCERTAIN})
    if found:
        raise _already_sent(found)


def _finished_earlier(
    claims: Sequence[Claim], again: Sequence[_Conflict], recovered: Sequence[Batch]
) -> bool:
    """Whether an earlier run recorded exactly these claims and this run finished
    sending its batches: each claim is in one, unchanged, and every one is uploaded
    now, at least one of them by this run (a split file may have been half sent)."""
    ids = {b.id for b in recovered}
    return (
        {c.record.claim_id for c in again} == {c.id for c in claims}
        and all(
            not c.changed and (c.batch.id in ids or c.batch.state is BatchState.UPLOADED)
            for c in again
        )
        and any(c.batch.id in ids for c in again)
    )


def _submit(
    ledger: Ledger,
    session: TransportSession,
    account: Account,
    clearinghouse: Clearinghouse,
    claims: Sequence[Claim],
    keys: Sequence[tuple[str, str]] | None,
    now: datetime,
    progress: Progress,
    stop: StopRequest,
) -> SubmitOutcome:
    """``keys`` are the claims' content keys; ``None`` for ``--resubmit``, which
    sends the claims sent before as replacements."""
    resubmit = keys is None
    if keys is None:
        claims = as_replacements(ledger, account.name, claims)
        keys = content_keys(claims)
    stop.doing = "the batches an earlier run left pending"
    recovered = recover_pending(ledger, session, account.name, progress)
    stop.check(
        "nothing new was recorded or sent"
        + (f"; earlier batches sent: {_batch_list(recovered)}" if recovered else "")
    )
    if not resubmit:
        # sent meanwhile by another run, or recorded by an earlier one: decided again
        # under the lock, after the earlier runs' batches are finished
        again = _conflicts(ledger, account.name, claims, keys, set(BatchState))
        if again:
            if _finished_earlier(claims, again, recovered):
                progress("these claims were recorded by an earlier run; its batches are now sent")
                return SubmitOutcome([], recovered)
            raise _already_sent(again)

    def refuse_repeats() -> None:
        repeated = _conflicts(ledger, account.name, claims, keys, set(BatchState))
        if repeated:
            raise _already_sent(repeated)

    batches = record_batches(
        ledger,
        account,
        clearinghouse,
        claims,
        now,
        keys,
        guard=None if resubmit else refuse_repeats,
    )
    for batch in batches:
        progress(f"recorded batch {batch.id}: {batch.file_name}")
    failpoint("after-record")
    sent: list[Batch] = []
    for batch in batches:
        if stop.requested:
            waiting = batches[len(sent) :]
            detail = INTERRUPTED_BEFORE_UPLOAD.format(account=account.name)
            for left in waiting:
                ledger.set_batch_state(left.id, BatchState.BUILT, error=detail)
            verb = "is" if len(waiting) == 1 else "are"
            stop.check(
                f"batch {_batch_list(waiting)} {verb} recorded, not sent: {detail}"
                + (f"; sent: {_batch_list(sent)}" if sent else "")
            )
        stop.doing = "the upload in flight"
        sent.append(deliver(ledger, session, batch, account.name, progress))
    stop.check(
        f"batch {_batch_list([*recovered, *sent])} delivered and recorded; "
        "these claims are sent: do not submit them again"
    )
    return SubmitOutcome(batches, [*recovered, *sent])


def _batch_list(batches: Sequence[Batch]) -> str:
    return ", ".join(f"{b.id} ({b.remote_name or b.file_name})" for b in batches)
