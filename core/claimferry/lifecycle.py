"""From response files to claim states.

Each response names the claims it answers: a TA1 or 999 by our control
numbers, a 277CA and an 835 by our claim ids (CLM01), a clearinghouse report
through its plugin's reader. This module reads each and moves the ledger's
claims; an 835 is also stored line by line (``claimferry.remits``).

A claim's adjudicated state comes from what the payer did, not from one
code's name (docs/lifecycle.md has the TR3 reasoning): CLP02 1/2/3 is
"processed as primary/secondary/tertiary", so a claim processed with nothing
paid is denied, or the patient's to pay when the PR adjustments took it.
"""

from __future__ import annotations

import lzma
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path

from claimferry.database import IN_LIMIT
from claimferry.documents import gc_paused
from claimferry.errors import InputError, Problem
from claimferry.failpoints import failpoint
from claimferry.ledger import ADJUDICATED, Answer, ClaimState, Ledger
from claimferry.remits import RemitRecorder, earlier_remits, patient_responsibility, stands
from claimferry.types import BatchUpdate, ClaimUpdate, FileResponseDocument, ResponseReader
from claimferry.x12.ack999 import read_999
from claimferry.x12.codes import CLAIM_PAYMENT_STATUS, describe_remark, meaning
from claimferry.x12.remit835 import PaymentHeader, PaymentSummary, Remit835Stream, RemitClaim
from claimferry.x12.responses import detect_kind
from claimferry.x12.segments import read_segments
from claimferry.x12.status277 import ClaimAcknowledgment, iter_277_claims
from claimferry.x12.ta1 import InterchangeAck, read_ta1

HEAD_BYTES = 4096
ZIP_UNPACKED_MAX = 512 * 2**20
ZIP_MEMBERS_MAX = 10_000
PROCESSED = {"1": "primary", "2": "secondary", "3": "tertiary"}
"""CLP02 codes for a claim the payer adjudicated, and as which payer."""
CORRECTIONS = ADJUDICATED - {ClaimState.REVERSED}
"""States a claim's correction can have, after its reversal."""
REMIT_CHUNK = 512
"""835 claims stored per round of statements: memory stays flat, statements few."""
FORWARDED = frozenset({"19", "20", "21"})
"""CLP02: processed (as primary, secondary, tertiary) and forwarded to another payer."""


@dataclass(frozen=True)
class AppliedResponse:
    kind: str
    claims: int
    """Claim updates recorded."""
    unknown: int
    """Claims the ledger had never sent, recorded as seen."""
    imbalances: tuple[str, ...] = ()
    """Where an 835's payer figures do not add up (recorded as they came)."""


def _money(amount: Decimal) -> str:
    """Two decimals; cached, as an ERA repeats its amounts and Decimal formatting is slow.
    Zero is not cached: 0 and -0 are one key, printed apart."""
    found = _MONEY.get(amount) if amount else None
    if found is None:
        found = f"{amount:.2f}"
        if amount and len(_MONEY) < _MONEY_CACHE:
            _MONEY[amount] = found
    return found


_MONEY: dict[Decimal, str] = {}
_MONEY_CACHE = 4096


def adjudication(claim: RemitClaim, owed: Decimal | None = None) -> ClaimState:
    """What the payer did with a claim, from CLP02, the paid amount and what the patient
    owes (``owed``, when the caller has it already: see ``patient_responsibility``).

    CLP02 4 is a denial (the payer does not know the patient, X12 RFIs 1423
    and 1885); 22 a reversal; 19-21 processed and forwarded (crossover); 23
    not the payer's claim; 25 a predetermination. Anything else was processed
    (1/2/3): paid when money was paid, else the patient's to pay when PR
    adjustments (deductible, coinsurance, co-payment) took the amount, else
    denied. A secondary or tertiary payer that pays nothing and leaves nothing on
    the patient because the prior payer's payment covers the claim (CARC 23, "the
    impact of prior payer adjudication", with at most the CO-45 write-off beside
    it) has settled it: paid, with nothing more due.
    """
    status = claim.status
    if status == "22":
        return ClaimState.REVERSED
    if status == "4":
        return ClaimState.DENIED
    if status in FORWARDED:
        return ClaimState.FORWARDED
    if status == "23":
        return ClaimState.NOT_OUR_CLAIM
    if status == "25":
        return ClaimState.PREDETERMINATION
    if claim.paid > 0:
        return ClaimState.PAID
    if owed is None:
        owed = patient_responsibility(claim)
    if owed > 0:
        return ClaimState.PATIENT_RESPONSIBILITY
    if status in ("2", "3") and _covered_by_prior_payer(claim):
        return ClaimState.PAID
    return ClaimState.DENIED


def _covered_by_prior_payer(claim: RemitClaim) -> bool:
    """Nothing paid because the prior payers' payment covers the claim: CARC 23 ("the
    impact of prior payer(s) adjudication"), with at most the contractual write-off
    (CO-45) beside it, as secondary payers send it."""
    others = [a for a in claim.all_adjustments() if a.group != "PR"]
    return any(a.reason == "23" for a in others) and all(
        a.reason == "23" or (a.group, a.reason) == ("CO", "45") for a in others
    )


def _remit_detail(claim: RemitClaim, state: ClaimState, owed: Decimal, net: Decimal | None) -> str:
    """One line a biller can act on: what happened, the money, and why."""
    paid, charge = _money(claim.paid), _money(claim.charge)
    as_payer = PROCESSED.get(claim.status)
    how = f"processed as {as_payer}" if as_payer else meaning(CLAIM_PAYMENT_STATUS, claim.status)
    carrier = claim.crossover_carrier
    to = f" to {carrier.name or carrier.id} ({carrier.id})" if carrier else ""
    if state is ClaimState.PAID and not claim.paid:
        text = f"835 nothing more due: the prior payer's payment covers it ({how})"
    elif state is ClaimState.PAID:
        text = f"835 paid {paid} of {charge} ({how})"
    elif state is ClaimState.PATIENT_RESPONSIBILITY:
        text = f"835 patient responsibility {_money(owed)}, nothing paid ({how})"
    elif state is ClaimState.DENIED:
        text = f"835 denied, nothing paid ({how})"
    elif state is ClaimState.REVERSED:
        text = f"835 reversal of the earlier decision: {_money(-claim.paid)} taken back"
    elif state is ClaimState.FORWARDED:
        text = f"835 paid {paid} of {charge}, forwarded{to} ({how})"
    elif state is ClaimState.NOT_OUR_CLAIM:
        text = f"835 not the payer's claim, forwarded{to}" if to else "835 not the payer's claim"
    else:
        text = f"835 predetermination pricing only, no payment ({charge} priced)"
    if owed and state not in (ClaimState.PATIENT_RESPONSIBILITY, ClaimState.REVERSED):
        text += f"; patient owes {_money(owed)}"
    if net is not None:
        text += f"; corrected, net paid {_money(net)} over all remittances"
    reasons = [text]
    reasons += [a.describe() for a in claim.adjustments]
    remarks = list(claim.remark_codes)
    for line in claim.lines:
        reasons += [a.describe() for a in line.adjustments]
        remarks += line.remark_codes
    if remarks:
        reasons += [describe_remark(code) for code in dict.fromkeys(remarks)]
    return "; ".join(reasons)


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


@contextmanager
def response_files(path: Path) -> Iterator[list[tuple[str, Path]]]:
    """The X12 and report files a response holds: itself, or the members of a zip.

    Office Ally zips its ERAs: each X12 file in the zip is read as if it had
    come alone; the readable summaries beside them are for people. Members
    are unpacked under flat names of ours (never the member's path) into a
    temporary folder beside the archived zip (patient data stays in the
    state directory), and only up to ``ZIP_UNPACKED_MAX`` bytes and
    ``ZIP_MEMBERS_MAX`` members: a zip bomb stops there. A zip or an
    encrypted file inside is refused rather than skipped, so no answer is
    dropped unseen.
    """
    if not zipfile.is_zipfile(path):
        yield [(str(path), path)]
        return
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".unzip-") as folder:
        yield _unzipped(path, Path(folder))


def _unzipped(path: Path, folder: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    unpacked = 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > ZIP_MEMBERS_MAX:
                raise InputError(
                    [Problem(str(path), "", f"more than {ZIP_MEMBERS_MAX} files in the zip")]
                )
            for number, member in enumerate(members):
                where = f"{path}!{member.filename}"
                if member.flag_bits & 0x1:
                    raise InputError([Problem(where, "", "encrypted: cannot be read")])
                target = folder / f"member-{number}"
                unpacked += _unpack(archive, member, target, ZIP_UNPACKED_MAX - unpacked, path)
                if zipfile.is_zipfile(target):
                    raise InputError([Problem(where, "", "a zip inside the zip is not read")])
                try:
                    known = detect_kind(target) is not None
                except InputError as exc:
                    raise InputError(
                        [Problem(where, p.location, p.message) for p in exc.problems]
                    ) from None
                if known:
                    found.append((member.filename, target))
    except _UNZIP_ERRORS as exc:
        reason = str(exc) or exc.__class__.__name__
        raise InputError(
            [Problem(str(path), "", f"not a zip that can be read ({reason})")]
        ) from None
    if not found:
        raise InputError([Problem(str(path), "", "a zip with no X12 response in it")])
    return found


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


class _Answers:
    """Records one response file's answers in the ledger, inside the caller's transaction.

    A file's claim answers go to the ledger together (``flush``), in the order
    given: a 999 or 277CA of hundreds of claims is a few statements, not a few
    per claim, which a database server answers round trip by round trip.
    """

    def __init__(self, ledger: Ledger, account: str, source_file: str) -> None:
        self.ledger = ledger
        self.account = account
        self.source_file = source_file
        self.claims = 0
        self.unknown = 0
        self.imbalances: list[str] = []
        self._pending: list[Answer] = []
        self._latest: dict[str, tuple[int, ClaimState]] = {}

    def expect(self, claim_ids: Iterable[str]) -> None:
        """Look up the latest submission of claims about to be answered, together."""
        self._latest.update(self.ledger.find_claims(self.account, list(claim_ids)))

    def _row(
        self,
        claim_id: str,
        *,
        batch: int | None = None,
        payer_claim_number: str = "",
        lines: Iterable[str] = (),
    ) -> int:
        if batch is None and (latest := self._latest.get(claim_id)) is not None:
            return latest[0]  # what find_claim gives first, looked up with its neighbours
        row = self.ledger.find_claim(
            self.account,
            claim_id,
            batch_control_number=batch,
            payer_claim_number=payer_claim_number,
            line_control_numbers=tuple(filter(None, lines)),
        )
        if row is None:
            self.unknown += 1
            row = self.ledger.unknown_claim(self.account, claim_id)
        return row

    def _answer(
        self,
        row: int,
        state: ClaimState,
        detail: str | None,
        amount: Decimal | None = None,
        payer_claim_number: str | None = None,
    ) -> None:
        self._pending.append(
            Answer(row, state, detail, amount, self.source_file, payer_claim_number or None)
        )
        self.claims += 1
        failpoint("after-claim-update")

    def flush(self) -> None:
        """Record the answers gathered so far; the states looked up are then old."""
        self.ledger.answer_claims(self._pending, dict(self._latest.values()))
        self._pending = []
        self._latest = {}

    def claim(self, update: ClaimUpdate) -> None:
        row = self._row(update.claim_id, batch=update.control_number)
        self._answer(
            row,
            ClaimState(update.state),
            update.detail,
            update.amount,
            update.payer_claim_number,
        )

    def batch(self, update: BatchUpdate) -> None:
        """Every claim of the file a response names, by control number or file name.

        A file this account never sent (uploaded through Office Ally's portal,
        say, into the same mailbox) has no claims here: nothing moves.
        """
        ledger, state = self.ledger, ClaimState(update.state)
        for batch in ledger.batches(self.account):
            named = update.control_number in (batch.isa13, batch.gs06, batch.st02) or (
                update.file_name is not None
                and update.file_name in (batch.file_name, batch.remote_name)
            )
            if named:
                for record in ledger.claims(batch_id=batch.id):
                    self._answer(record.row, state, update.detail)
                return

    def acknowledgment(self, ack: ClaimAcknowledgment) -> None:
        """A 277CA: the clearinghouse's own (NM1*AY) is one step, the payer's another."""
        reasons = "; ".join(status.describe() for status in ack.statuses)
        outcome = ack.outcome
        if ack.from_clearinghouse:
            categories = {status.category for status in ack.statuses}
            if outcome == "rejected":
                state = ClaimState.REJECTED
            elif outcome == "accepted" or "A1" in categories:
                state = ClaimState.CLEARINGHOUSE_ACCEPTED
            else:
                return  # an informational status moves nothing
            trace = f"; trace {ack.payer_claim_number}" if ack.payer_claim_number else ""
            sender = ack.payer_name or ack.payer_id or "the clearinghouse"
            detail, number = f"277CA from {sender} (clearinghouse): {reasons}{trace}", None
        else:
            if outcome == "rejected":
                state = ClaimState.PAYER_REJECTED
            elif outcome == "accepted":
                state = ClaimState.ACKNOWLEDGED
            else:
                return
            detail, number = f"277CA {reasons}", ack.payer_claim_number or None
        row = self._row(
            ack.claim_id,
            payer_claim_number=ack.payer_claim_number if number else "",
            lines=(line.line_control_number for line in ack.lines),
        )
        self._answer(row, state, detail, payer_claim_number=number)

    def remittance(self, path: Path, source_file: str) -> None:
        """An 835, streamed: its claims are matched, classified and stored with their
        lines a chunk at a time (a few statements per chunk, not per claim).

        The cyclic collector is paused meanwhile (nothing here makes cycles): each
        chunk's claims outlive a collection or two and it would walk the whole
        heap again and again for them.
        """
        recorder = RemitRecorder(self.ledger, self.account, source_file)
        pending: list[RemitClaim] = []
        with gc_paused():
            for event in Remit835Stream(read_segments(path), str(path)):
                if isinstance(event, RemitClaim):
                    if not recorder.duplicate:
                        pending.append(event)
                        if len(pending) == REMIT_CHUNK:
                            self._remits(recorder, pending, source_file)
                            pending = []
                elif isinstance(event, PaymentHeader):
                    recorder.payment(event)
                elif isinstance(event, PaymentSummary):
                    self._remits(recorder, pending, source_file)
                    recorder.summary(event)
                    if not recorder.duplicate:
                        self.imbalances += event.imbalances
                    pending = []

    def _remits(self, recorder: RemitRecorder, claims: list[RemitClaim], source_file: str) -> None:
        """Match, classify and store one chunk of an 835's claims (all of one payment).
        A reversal of a claim an earlier chunk of the same payment decided (the payer
        listed the correction first) does not undo the correction."""
        if not claims:
            return
        ledger = self.ledger
        # a reversal before its correction, whatever order the payer listed them in
        claims.sort(key=_not_reversal)
        known = ledger.find_claims(self.account, [c.claim_id for c in claims])
        rows = [
            found[0]
            if (found := known.get(c.claim_id))
            else self._row(
                c.claim_id,
                payer_claim_number=c.payer_claim_number,
                lines=(line.control_number for line in c.lines),
            )
            for c in claims
        ]
        owed = [patient_responsibility(c) for c in claims]
        states = list(map(adjudication, claims, owed))
        earlier = earlier_remits(ledger.db, rows)
        recorder.claims(claims, rows, states, owed)
        day = claims[0].payment.payment_date
        paid_on = day.isoformat() if day is not None else None
        answers = []
        payment = recorder.payment_id
        for claim, row, state, claim_owed in zip(claims, rows, states, owed, strict=True):
            remit = (claim.status, claim.paid, paid_on, payment)
            before = earlier.get(row)
            net, current = None, True
            if before is None:
                earlier[row] = [remit]
            else:
                if state in CORRECTIONS and any(status == "22" for status, *_ in before):
                    net = sum((paid for _, paid, *_ in before), claim.paid)
                current = stands(remit, before)
                before.append(remit)
            answers.append(
                Answer(
                    row,
                    state,
                    _remit_detail(claim, state, claim_owed, net),
                    claim.paid,
                    source_file,
                    claim.payer_claim_number or None,
                    current,
                )
            )
        ledger.answer_claims(answers, dict(known.values()))
        self.claims += len(answers)
        failpoint("after-claim-update")


def _not_reversal(claim: RemitClaim) -> bool:
    return claim.status != "22"


def _interchange_rejections(acks: Iterable[InterchangeAck]) -> Iterator[BatchUpdate]:
    for ack in acks:
        if not ack.accepted and ack.control_number.strip().isdigit():
            yield BatchUpdate(
                ClaimState.REJECTED,
                f"interchange rejected (TA1 {ack.note_code}: {ack.note_meaning})",
                control_number=int(ack.control_number),
            )


def _apply_999(answers: _Answers, path: Path) -> None:
    """A 999: each transaction set's verdict, or the whole group's when AK9 rejects it
    (with or without AK2: a rejected group rejects every transaction in it)."""
    document = read_999(read_segments(path), str(path))
    for update in _interchange_rejections(document.interchange_acks):
        answers.batch(update)
    for group in document.groups:
        if group.status == "R" or (not group.accepted and not group.transactions):
            why = [*group.reasons(), *(r for t in group.transactions for r in t.reasons())]
            detail = "999 rejected the functional group: " + (
                "; ".join(why) or group.status_meaning
            )
            if group.control_number.strip().isdigit():
                answers.batch(BatchUpdate(ClaimState.REJECTED, detail, int(group.control_number)))
            continue
        for result in group.transactions:
            number = result.control_number.strip()
            if not number.isdigit():
                continue
            if result.accepted:
                state, detail = ClaimState.ACCEPTED, f"999 {result.status}: {result.status_meaning}"
                if result.reasons():
                    detail += " - errors noted: " + "; ".join(result.reasons())
            else:
                state = ClaimState.REJECTED
                detail = "999 rejected: " + ("; ".join(result.reasons()) or result.status_meaning)
            answers.batch(BatchUpdate(state, detail, int(number)))


def _apply_file(
    answers: _Answers, path: Path, readers: Iterable[ResponseReader], source_file: str
) -> str:
    """Apply one response file; returns its kind."""
    kind = detect_kind(path)
    if kind == "TA1":
        for update in _interchange_rejections(read_ta1(read_segments(path), str(path)).acks):
            answers.batch(update)
    elif kind == "999":
        _apply_999(answers, path)
    elif kind == "277CA":
        acks = iter_277_claims(read_segments(path), str(path))
        while chunk := list(islice(acks, IN_LIMIT)):  # streamed, and looked up together
            answers.expect(ack.claim_id for ack in chunk)
            for ack in chunk:
                answers.acknowledgment(ack)
    elif kind == "835":
        answers.remittance(path, source_file)
    else:
        report = find_reader(path, readers).read(path)
        for claim_update in report.claim_updates():
            answers.claim(claim_update)
        if isinstance(report, FileResponseDocument):
            for batch_update in report.batch_updates():
                answers.batch(batch_update)
        return report.kind
    assert kind is not None
    return kind


def apply_response(
    ledger: Ledger,
    account: str,
    path: Path,
    readers: Iterable[ResponseReader],
    source_file: str,
    response_id: int | None = None,
) -> AppliedResponse:
    """Read one archived response and move its claims through their states.

    The file is read as it streams (a 100 MB ERA is never held whole) inside
    one ledger transaction, with the mark that archived response
    ``response_id`` was read: a crash or a malformed segment half-way applies
    none of it, so reading the file again cannot record any answer twice.
    That transaction first checks the response is still unread: another
    reader that got there first leaves nothing to apply.
    """
    kinds: list[str] = []
    answers = _Answers(ledger, account, source_file)
    with response_files(path) as files, ledger.transaction():
        if response_id is not None and not ledger.response_unread(response_id):
            return AppliedResponse("", 0, 0)
        for where, member in files:
            source = source_file if member == path else f"{source_file}!{where}"
            try:
                kinds.append(_apply_file(answers, member, readers, source))
                answers.flush()
            except InputError as exc:
                if member == path:
                    raise
                located = [Problem(f"{path}!{where}", p.location, p.message) for p in exc.problems]
                raise InputError(located) from None
        kind = "+".join(dict.fromkeys(kinds))
        if response_id is not None:
            ledger.mark_response_parsed(response_id, kind=kind)
    return AppliedResponse(kind, answers.claims, answers.unknown, tuple(answers.imbalances))
