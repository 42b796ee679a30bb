"""Writes the mock's response files: 999 (with TA1), both 277CAs, 835s, and Office
Ally's text reports (the EDI Status Report, the File Summary of a failed file).

Deliberately its own small code, independent of the core's claim writer: a
mock that shares the client's code would share its bugs. Delimiters are fixed
(``*``, ``:``, ``^``, ``~`` plus a newline) and any of them found in a value
copied from the claim file is replaced by a space; in the text reports only
tabs and line breaks are.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from claimferry_harness.adjudication import (
    CENT,
    RECEIVED,
    Acknowledgment,
    Adjusted,
    Outcome,
    Remit,
)
from claimferry_harness.reader import (
    Claim,
    EnvelopeError,
    FunctionalGroup,
    Interchange,
    TransactionSet,
)

OFFICE_ALLY_ID = "330897513"
OFFICE_ALLY_NAME = "OFFICE ALLY"
_SCRUB = str.maketrans({c: " " for c in "*:^~\r\n"})
_TEXT_SCRUB = str.maketrans({c: " " for c in "\t\r\n"})


def _clean(value: str) -> str:
    """A value fit for an X12 element: no delimiter inside."""
    return value.translate(_SCRUB).strip()


def _text(value: str) -> str:
    """A value fit for one cell or line of a text report: no tab or line break inside."""
    return value.translate(_TEXT_SCRUB).strip()


def amount(value: Decimal) -> str:
    """An X12 decimal: cents at most, no trailing zeros (``80``, ``80.5``, ``0``)."""
    text = f"{value.quantize(CENT) or Decimal(0):f}"  # never "-0"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Envelope:
    """Who the response goes to and its control numbers."""

    receiver_qualifier: str
    receiver_id: str
    control_number: int
    usage: str
    now: datetime


class _Segments:
    """Collects segments; a tuple element is a composite; trailing empties are dropped."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, seg_id: str, *elements: str | tuple[str, ...]) -> None:
        values = [
            _clean(e) if isinstance(e, str) else ":".join(_clean(p) for p in e).rstrip(":")
            for e in elements
        ]
        while values and not values[-1]:
            values.pop()
        self.items.append("*".join([seg_id, *values]))

    def __len__(self) -> int:
        return len(self.items)


def _isa(env: Envelope) -> str:
    return "*".join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            OFFICE_ALLY_ID.ljust(15),
            env.receiver_qualifier.ljust(2)[:2],
            env.receiver_id.ljust(15)[:15],
            env.now.strftime("%y%m%d"),
            env.now.strftime("%H%M"),
            "^",
            "00501",
            f"{env.control_number:09d}",
            "0",
            env.usage,
            ":",
        ]
    )


def _interchange(env: Envelope, head: Sequence[str], groups: Sequence[str]) -> bytes:
    tail = f"IEA*{len(groups)}*{env.control_number:09d}"
    lines = [_isa(env), *head, *groups, tail]
    return "".join(f"{line}~\n" for line in lines).encode("ascii", "replace")


def _group(
    env: Envelope,
    functional_id: str,
    version: str,
    receiver: str,
    transactions: Sequence[_Segments],
    *,
    st03: bool = True,
) -> str:
    """GS..GE around the transaction sets (the 835 guide leaves ST03 unused)."""
    ctl = str(env.control_number)
    lines = [
        "*".join(
            [
                "GS",
                functional_id,
                OFFICE_ALLY_ID,
                _clean(receiver) or env.receiver_id,
                env.now.strftime("%Y%m%d"),
                env.now.strftime("%H%M"),
                ctl,
                "X",
                version,
            ]
        )
    ]
    for number, body in enumerate(transactions, start=1):
        control = f"{number:04d}"
        kind = body.items[0]
        lines.append(f"ST*{kind}*{control}*{version}" if st03 else f"ST*{kind}*{control}")
        lines.extend(body.items[1:])
        lines.append(f"SE*{len(body) + 1}*{control}")
    lines.append(f"GE*{len(transactions)}*{ctl}")
    return "~\n".join(lines)


def _body(kind: str) -> _Segments:
    body = _Segments()
    body.items.append(kind)  # placeholder for ST, replaced in _group
    return body


def _ta1(control_number: str, isa_date: str, isa_time: str, accepted: bool, note: str) -> str:
    return f"TA1*{control_number}*{isa_date}*{isa_time}*{'A' if accepted else 'R'}*{note}"


# --- 999 ----------------------------------------------------------------------


def rejected_envelope(env: Envelope, error: EnvelopeError) -> bytes:
    """A failed file whose envelope is broken: an interchange holding only a rejecting TA1."""
    isa = error.isa
    control = isa.element(13) if isa is not None and isa.element(13).isdigit() else "0" * 9
    isa_date = (
        isa.element(9)
        if isa is not None and len(isa.element(9)) == 6
        else env.now.strftime("%y%m%d")
    )
    isa_time = (
        isa.element(10)
        if isa is not None and len(isa.element(10)) == 4
        else env.now.strftime("%H%M")
    )
    return _interchange(
        env, [_ta1(control.zfill(9)[-9:], isa_date, isa_time, False, error.note_code)], []
    )


def _ak2(body: _Segments, txn: TransactionSet) -> None:
    ident = txn.ident if txn.ident.isalnum() and len(txn.ident) == 3 else "837"
    control = (
        txn.control_number
        if 4 <= len(txn.control_number) <= 9
        else txn.control_number.zfill(4)[-9:]
    )
    body.add("AK2", ident, control, "005010X222A1")
    for err in [*txn.errors, *txn.noted]:
        body.add("IK3", err.segment_id, str(err.position), err.loop, err.code)
        if err.element is not None:
            body.add("IK4", str(err.element.position), err.element.reference, err.element.code)
    if not txn.accepted:
        body.add("IK5", "R", txn.error or "")
    elif txn.noted:
        body.add("IK5", "E", "5")  # accepted, one or more segments noted in error
    else:
        body.add("IK5", "A")


def _ak9(body: _Segments, group: FunctionalGroup) -> None:
    count = len(group.transactions)
    accepted = group.accepted_transactions
    code = "A" if len(accepted) == count else "P"
    if code == "A" and any(t.noted for t in accepted):
        code = "E"
    if group.error is not None or group.refused or not accepted:
        code = "R"
    body.add("AK9", code, str(count), str(count), str(len(accepted)), group.error or "")


def acknowledgment_999(env: Envelope, interchange: Interchange, sender: str) -> bytes:
    """One 999 per functional group, after a TA1 accepting the interchange (as OA does).

    A refused group is answered with AK1 and AK9 only: no AK2 at all.
    """
    bodies = []
    for group in interchange.groups:
        body = _body("999")
        body.add(
            "AK1",
            group.functional_id if group.functional_id.isalpha() else "HC",
            group.control_number if group.control_number.isdigit() else "0",
            "005010X222A1",
        )
        for txn in [] if group.refused else group.transactions:
            _ak2(body, txn)
        _ak9(body, group)
        bodies.append(body)
    head = [_ta1(interchange.control_number, interchange.date, interchange.time, True, "000")]
    groups = [_group(env, "FA", "005010X231A1", sender, bodies)] if bodies else []
    return _interchange(env, head, groups)


# --- 277CA --------------------------------------------------------------------


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


@dataclass(frozen=True)
class InformationSource:
    """Who sends a 277CA (loop 2100A): the clearinghouse (``AY``) or a payer (``PR``).

    ``receipt_entity`` is STC01-3 of its "received" status (``A1:19``): the
    clearinghouse acknowledges as the receiver of the 837 (``40``), a payer as
    the payer.
    """

    entity: str
    name: str
    qualifier: str
    identifier: str
    receipt_entity: str

    @property
    def received(self) -> tuple[str, str, str]:
        return ("A1", "19", self.receipt_entity)


CLEARINGHOUSE = InformationSource("AY", OFFICE_ALLY_NAME, "46", OFFICE_ALLY_ID, RECEIVED[2])


def payer_source(payer_id: str, name: str) -> InformationSource:
    return InformationSource("PR", name or payer_id, "PI", payer_id, "PR")


@dataclass(frozen=True)
class ClaimAcknowledgments:
    """The claims of one 837 transaction set that one information source answers."""

    txn: TransactionSet
    source: InformationSource
    outcomes: tuple[Outcome, ...]


def claim_acknowledgment_277ca(
    env: Envelope, file_id: str, sets: Sequence[ClaimAcknowledgments], sender: str
) -> bytes:
    """A 277CA interchange: one transaction set per 837 transaction set and source.

    The clearinghouse's answers carry its own trace in REF*1K; a payer's carry
    the payer claim number that its 835 repeats in CLP07. Every rejection
    has its reason in STC12.
    """
    bodies = [_277_body(env, file_id, number, answers) for number, answers in enumerate(sets, 1)]
    return _interchange(env, [], [_group(env, "HN", "005010X214", sender, bodies)])


def _answer(source: InformationSource, outcome: Outcome) -> tuple[Acknowledgment, str]:
    """The acknowledgment ``source`` gives a claim and the REF*1K it assigns."""
    if source.entity == CLEARINGHOUSE.entity:
        return outcome.clearinghouse, outcome.clearinghouse_trace
    assert outcome.payer is not None, "a payer answers only the claims it received"
    return outcome.payer, outcome.payer_claim_number


def _277_body(env: Envelope, file_id: str, number: int, answers: ClaimAcknowledgments) -> _Segments:
    today = _d8(env.now.date())
    txn, source, outcomes = answers.txn, answers.source, answers.outcomes
    received = source.received
    body = _body("277")
    body.add("BHT", "0085", "08", f"{file_id}{number:02d}", today, env.now.strftime("%H%M"), "TH")
    body.add("HL", "1", "", "20", "1")
    blank = ("", "", "", "")
    body.add("NM1", source.entity, "2", source.name, *blank, source.qualifier, source.identifier)
    body.add("TRN", "1", f"{file_id}{number:02d}")
    body.add("DTP", "050", "D8", today)
    body.add("DTP", "009", "D8", today)
    body.add("HL", "2", "1", "21", "1")
    body.add(
        "NM1",
        "41",
        "2",
        txn.submitter_name or "SUBMITTER",
        "",
        "",
        "",
        "",
        "46",
        txn.submitter_id or env.receiver_id,
    )
    body.add("TRN", "2", txn.reference or txn.control_number)
    accepted = [o for o in outcomes if _answer(source, o)[0].accepted]
    rejected = [o for o in outcomes if not _answer(source, o)[0].accepted]
    total = sum((o.claim.charge for o in outcomes), Decimal(0))
    body.add("STC", received, today, "WQ", amount(total))
    body.add("QTY", "90", str(len(accepted)))
    body.add("QTY", "AA", str(len(rejected)))
    body.add("AMT", "YU", amount(sum((o.claim.charge for o in accepted), Decimal(0))))
    body.add("AMT", "YY", amount(sum((o.claim.charge for o in rejected), Decimal(0))))
    hl = 2
    for (name, npi), group in _by_billing_provider(outcomes):
        hl += 1
        provider_hl = hl
        body.add("HL", str(hl), "2", "19", "1")
        body.add("NM1", "85", "2", name or "BILLING PROVIDER", "", "", "", "", "XX", npi)
        body.add("TRN", "1", f"{file_id}{number:02d}{provider_hl:03d}")
        group_total = sum((o.claim.charge for o in group), Decimal(0))
        body.add("STC", received, "", "WQ", amount(group_total))
        for outcome in group:
            hl += 1
            claim = outcome.claim
            answer, reference = _answer(source, outcome)
            body.add("HL", str(hl), str(provider_hl), "PT")
            _patient_name(body, claim)
            body.add("TRN", "2", claim.claim_id)
            if answer.accepted:
                body.add("STC", answer.status, today, "WQ", amount(claim.charge))
                body.add("REF", "1K", reference)
            else:
                blanks = [""] * 7  # STC05..STC11 are not used in a 277CA
                body.add(
                    "STC", answer.status, today, "U", amount(claim.charge), *blanks, answer.message
                )
            _service_period(body, claim)
    return body


def _patient_name(body: _Segments, claim: Claim) -> None:
    """NM1*QC: the patient, as the 277CA and the 835 both name them."""
    body.add(
        "NM1",
        "QC",
        "1",
        claim.patient_last or "UNKNOWN",
        claim.patient_first,
        "",
        "",
        "",
        "MI" if claim.member_id else "",
        claim.member_id,
    )


def _service_period(body: _Segments, claim: Claim) -> None:
    dates = [line.service_date for line in claim.lines if line.service_date is not None]
    if not dates:
        return
    first, last = min(dates), max(dates)
    if first == last:
        body.add("DTP", "472", "D8", _d8(first))
    else:
        body.add("DTP", "472", "RD8", f"{_d8(first)}-{_d8(last)}")


def _by_billing_provider(
    outcomes: Iterable[Outcome],
) -> list[tuple[tuple[str, str], list[Outcome]]]:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for outcome in outcomes:
        key = (outcome.claim.billing_name, outcome.claim.billing_npi)
        groups.setdefault(key, []).append(outcome)
    return list(groups.items())


# --- 835 ----------------------------------------------------------------------

_CLP06 = {
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "AM",
    "CH",
    "DS",
    "HM",
    "LM",
    "MA",
    "MB",
    "MC",
    "OF",
    "TV",
    "VA",
    "WC",
    "ZZ",
}


@dataclass(frozen=True)
class PayerRemit:
    """The payments one payer makes to one billing provider: one 835 transaction set."""

    payer_id: str
    payer_name: str
    payments: tuple[tuple[Outcome, Remit], ...]

    @property
    def total(self) -> Decimal:
        """BPR02: the claims' payments less the provider-level adjustments."""
        remits = [remit for _, remit in self.payments]
        paid = sum((r.paid for r in remits), Decimal(0))
        return paid - sum((a.amount for r in remits for a in r.provider_adjustments), Decimal(0))


def _payer_tax_id(payer_id: str) -> str:
    """A stable made-up federal tax ID for a payer (TRN03 wants '1' + 9 digits)."""
    return f"1{zlib.crc32(payer_id.encode()) % 10**9:09d}"


def remittance_835(env: Envelope, file_id: str, remits: Sequence[PayerRemit], sender: str) -> bytes:
    """An 835 interchange: one transaction set per payer and billing provider, balanced."""
    today = _d8(env.now.date())
    bodies = []
    for number, payer in enumerate(remits, start=1):
        body = _body("835")
        total = payer.total
        if total < 0:
            raise ValueError("an 835 cannot pay a negative total (BPR02)")
        if total > 0:
            body.add("BPR", "C", amount(total), "C", "CHK", *([""] * 11), today)
        else:
            body.add("BPR", "H", "0", "C", "NON", *([""] * 11), today)
        body.add("TRN", "1", f"{file_id}{number:02d}", _payer_tax_id(payer.payer_id))
        body.add("DTM", "405", today)
        body.add("N1", "PR", payer.payer_name or payer.payer_id)
        body.add("N3", "PO BOX 1000")
        body.add("N4", "CHICAGO", "IL", "60601")
        body.add("REF", "2U", payer.payer_id)
        body.add("PER", "BL", "EDI SUPPORT", "TE", "8005550100")
        first = payer.payments[0][0].claim
        body.add("N1", "PE", first.billing_name or "BILLING PROVIDER", "XX", first.billing_npi)
        if first.billing_tax_id:
            body.add("REF", "TJ", first.billing_tax_id)
        body.add("LX", "1")
        for outcome, remit in payer.payments:
            _claim_payment(body, outcome, remit)
        fiscal_period = f"{env.now.year}1231"  # PLB02: the provider's fiscal year end
        for _, remit in payer.payments:
            for adj in remit.provider_adjustments:
                reference = (adj.reason, adj.reference[:50])
                body.add("PLB", first.billing_npi, fiscal_period, reference, amount(adj.amount))
        bodies.append(body)
    group = _group(env, "HP", "005010X221A1", sender, bodies, st03=False)
    return _interchange(env, [], [group])


def _cas(body: _Segments, adjustments: Sequence[Adjusted]) -> None:
    """CAS segments: one per group, at most six reason/amount pairs each."""
    groups: dict[str, list[Adjusted]] = {}
    for adjusted in adjustments:
        groups.setdefault(adjusted.adjustment.group, []).append(adjusted)
    for group, items in groups.items():
        for start in range(0, len(items), 6):
            elements: list[str] = []
            for item in items[start : start + 6]:
                elements += [item.adjustment.reason, amount(item.amount), ""]
            body.add("CAS", group, *elements)


def _claim_payment(body: _Segments, outcome: Outcome, remit: Remit) -> None:
    claim = outcome.claim
    filing = claim.filing_code if claim.filing_code in _CLP06 else "12"
    body.add(
        "CLP",
        claim.claim_id,
        remit.status,
        amount(remit.charge),
        amount(remit.paid),
        amount(remit.patient_responsibility),
        filing,
        outcome.payer_claim_number,
        claim.place_of_service,
        claim.frequency,
    )
    _cas(body, remit.claim_adjustments)
    _patient_name(body, claim)
    if remit.forwarded_to is not None:
        other = remit.forwarded_to
        body.add("NM1", "TT", "2", other.name, "", "", "", "", "PI", other.payer_id)
    if remit.remarks:
        body.add("MOA", "", "", *remit.remarks[:5])
    for line_remit in remit.lines:
        line = line_remit.line
        procedure = ("HC", line.procedure, *line.modifiers)
        body.add(
            "SVC", procedure, amount(line_remit.charge), amount(line_remit.paid), "", line.units
        )
        if line.service_date is not None:
            body.add("DTM", "472", _d8(line.service_date))
        _cas(body, line_remit.adjustments)
        if line.control_number:
            body.add("REF", "6R", line.control_number)
        if line_remit.allowed is not None:
            body.add("AMT", "B6", amount(line_remit.allowed))


# --- Office Ally's text reports -------------------------------------------------
#
# Layouts as integrators read Office Ally's real files (docs/harness.md gives
# the sources): the EDI Status Report (``<FileID>_EDI_STATUS_<date>.txt``)
# and the File Summary of a failed file (``FS_HCFA_<FileID>_IN_C.txt``).

STATUS_COLUMNS = (
    ("File ID", 4),
    ("OA ClaimID", 14),
    ("Accnt#", 26),
    ("Patient Name", 41),
    ("Amount", 61),
    ("Practice", 73),
    ("Tax ID", 84),
    ("Payer", 95),
    ("Process Dt", 105),
    ("Payer Ref ID", 122),
    ("Status", 142),
    ("Payer Response", 152),
)
"""Column titles and where they start for a 9-digit FileID, an Accnt# of up to 14."""
AMOUNT = (4, 9)
"""The Amount column is right-aligned in its first 9 characters."""
STATUS_RULE = "-" * 200


def _status_starts(file_id: str, longest_claim_id: int) -> list[int]:
    """Column starts: one further right per FileID digit past 9, and per Accnt# char past 14."""
    wider_id = len(file_id) - 9
    wider_account = max(0, longest_claim_id - 14)
    starts = []
    for index, (_, start) in enumerate(STATUS_COLUMNS):
        shift = (wider_id if index > 0 else 0) + (wider_account if index > 2 else 0)
        starts.append(start + shift)
    return starts


def _place(
    starts: Sequence[int], cells: Sequence[str], right: tuple[int, int] | None = None
) -> str:
    """Each cell from its column's start, cut before the next; ``right`` is (column, width)
    of a right-aligned cell."""
    line = ""
    for index, (start, text) in enumerate(zip(starts, cells, strict=True)):
        width = starts[index + 1] - start - 1 if index + 1 < len(starts) else None
        text = text[:width] if width is not None else text
        if right is not None and index == right[0]:
            text = text.rjust(right[1])
        line = line.ljust(start) + text
    return line.rstrip()


def edi_status_report(
    file_id: str,
    answered: Sequence[tuple[TransactionSet, Sequence[Outcome]]],
    processed: datetime,
) -> bytes | None:
    """The EDI Status Report: one row per claim a payer answered, ACCEPTED or REJECTED.

    Claims the clearinghouse rejected never reached a payer and are not
    listed (its own 277CA answers them); ``None`` when no row is left.
    """
    rows = [(txn, o) for txn, outcomes in answered for o in outcomes if o.payer is not None]
    if not rows:
        return None
    longest = max(len(o.claim.claim_id) for _, o in rows)
    starts = _status_starts(file_id, longest)
    day = processed.strftime("%m/%d/%Y")
    lines = [
        "Office Ally EDI Status Report",
        f"Report Date: {day}",
        "",
        _place(starts, [title for title, _ in STATUS_COLUMNS]),
        STATUS_RULE,
    ]
    for txn, outcome in rows:
        claim, payer = outcome.claim, outcome.payer
        assert payer is not None
        patient = ",".join(p for p in (claim.patient_last, claim.patient_first) if p)
        cells = [
            file_id,
            outcome.clearinghouse_trace,
            _text(claim.claim_id),
            _text(patient),
            f"{claim.charge.quantize(CENT):,f}",
            _text(txn.submitter_id),
            _text(claim.billing_tax_id),
            _text(claim.payer_id),
            day,
            outcome.payer_claim_number if payer.accepted else "",
            "ACCEPTED" if payer.accepted else "REJECTED",
            payer.message,
        ]
        lines.append(_place(starts, cells, right=AMOUNT))
    lines += [STATUS_RULE, f"Total Claims: {len(rows)}"]
    return "".join(f"{line}\r\n" for line in lines).encode("ascii", "replace")


def failed_file_summary(
    file_id: str, account: str, upload_name: str, processed: datetime, reason: str
) -> bytes:
    """The File Summary of a failed file: no claims were created, and why."""
    rule = "=" * 78
    day = processed.strftime("%m/%d/%Y")
    lines = [
        f"Dear {_text(account)}",
        "",
        "Your claims file could not be processed by Office Ally. No claims were created.",
        "",
        rule,
        "",
        "Claims Upload File Summary",
        "",
        f"     File Name:{file_id}_{_text(upload_name)}",
        f" Date Uploaded: {day}",
        "  Type of File: HCFA",
        f"Date Processed: {day}",
        f"\tFile failed: {_text(reason)}",
        "",
        rule,
        f"This summary is regarding the master file with fileID:{file_id}",
        "please track each individual file by their unique file ID.",
        rule,
    ]
    return "".join(f"{line}\r\n" for line in lines).encode("ascii", "replace")
