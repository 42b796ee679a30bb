"""Writes the mock's response files: 999 (with TA1), 277CA, 835 and EDI_STATUS.

Deliberately its own small code, independent of the core's claim writer: a
mock that shares the client's code would share its bugs. Delimiters are fixed
(``*``, ``:``, ``^``, ``~`` plus a newline) and any of them found in a value
copied from the claim file is replaced by a space.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from claimferry_harness.adjudication import CENT, Outcome, Remit
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


def _clean(value: str) -> str:
    return value.translate(_SCRUB).strip()


def amount(value: Decimal) -> str:
    """An X12 decimal: cents at most, no trailing zeros (``80``, ``80.5``, ``0``)."""
    text = f"{value.quantize(CENT):f}"
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
    for err in txn.errors:
        body.add("IK3", err.segment_id, str(err.position), err.loop, err.code)
        if err.element is not None:
            body.add("IK4", str(err.element.position), err.element.reference, err.element.code)
    body.add("IK5", "A" if txn.accepted else "R", txn.error or "")


def _ak9(body: _Segments, group: FunctionalGroup) -> None:
    count = len(group.transactions)
    accepted = len(group.accepted_transactions)
    code = "A" if accepted == count else "P"
    if group.error is not None or accepted == 0:
        code = "R"
    body.add("AK9", code, str(count), str(count), str(accepted), group.error or "")


def acknowledgment_999(env: Envelope, interchange: Interchange, sender: str) -> bytes:
    """One 999 per functional group, after a TA1 accepting the interchange (as OA does)."""
    bodies = []
    for group in interchange.groups:
        body = _body("999")
        body.add(
            "AK1",
            group.functional_id if group.functional_id.isalpha() else "HC",
            group.control_number if group.control_number.isdigit() else "0",
            "005010X222A1",
        )
        for txn in group.transactions:
            _ak2(body, txn)
        _ak9(body, group)
        bodies.append(body)
    head = [_ta1(interchange.control_number, interchange.date, interchange.time, True, "000")]
    groups = [_group(env, "FA", "005010X231A1", sender, bodies)] if bodies else []
    return _interchange(env, head, groups)


# --- 277CA --------------------------------------------------------------------


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def claim_acknowledgment_277ca(
    env: Envelope,
    file_id: str,
    answered: Sequence[tuple[TransactionSet, Sequence[Outcome]]],
    sender: str,
) -> bytes:
    """A 277CA: one transaction set per accepted 837 transaction set, every claim in it."""
    bodies = [_277_body(env, file_id, txn, outcomes) for txn, outcomes in answered]
    return _interchange(env, [], [_group(env, "HN", "005010X214", sender, bodies)])


def _277_body(
    env: Envelope, file_id: str, txn: TransactionSet, outcomes: Sequence[Outcome]
) -> _Segments:
    today = _d8(env.now.date())
    body = _body("277")
    body.add("BHT", "0085", "08", file_id, today, env.now.strftime("%H%M"), "TH")
    body.add("HL", "1", "", "20", "1")
    body.add("NM1", "AY", "2", OFFICE_ALLY_NAME, "", "", "", "", "46", OFFICE_ALLY_ID)
    body.add("TRN", "1", file_id)
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
    accepted = [o for o in outcomes if o.accepted]
    rejected = [o for o in outcomes if not o.accepted]
    total = sum((o.claim.charge for o in outcomes), Decimal(0))
    body.add("STC", ("A1", "19", "PR"), today, "WQ", amount(total))
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
        body.add("TRN", "1", f"{file_id}{provider_hl:03d}")
        group_total = sum((o.claim.charge for o in group), Decimal(0))
        body.add("STC", ("A1", "19", "PR"), "", "WQ", amount(group_total))
        for outcome in group:
            hl += 1
            claim = outcome.claim
            body.add("HL", str(hl), str(provider_hl), "PT")
            _patient_name(body, claim)
            body.add("TRN", "2", claim.claim_id)
            body.add(
                "STC",
                outcome.status,
                today,
                "WQ" if outcome.accepted else "U",
                amount(claim.charge),
            )
            if outcome.accepted:
                body.add("REF", "1K", outcome.payer_claim_number)
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
    """The claims one payer pays to one billing provider: one 835 transaction set."""

    payer_id: str
    payer_name: str
    outcomes: tuple[Outcome, ...]

    @property
    def total(self) -> Decimal:
        return sum((o.remit.paid for o in self.outcomes if o.remit is not None), Decimal(0))


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
        first = payer.outcomes[0].claim
        body.add("N1", "PE", first.billing_name or "BILLING PROVIDER", "XX", first.billing_npi)
        if first.billing_tax_id:
            body.add("REF", "TJ", first.billing_tax_id)
        body.add("LX", "1")
        for outcome in payer.outcomes:
            if outcome.remit is not None:
                _claim_payment(body, outcome, outcome.remit)
        bodies.append(body)
    group = _group(env, "HP", "005010X221A1", sender, bodies, st03=False)
    return _interchange(env, [], [group])


def _claim_payment(body: _Segments, outcome: Outcome, remit: Remit) -> None:
    claim = outcome.claim
    filing = claim.filing_code if claim.filing_code in _CLP06 else "12"
    body.add(
        "CLP",
        claim.claim_id,
        remit.status,
        amount(claim.charge),
        amount(remit.paid),
        "0",
        filing,
        outcome.payer_claim_number,
        claim.place_of_service,
        claim.frequency,
    )
    _patient_name(body, claim)
    for line_remit in remit.lines:
        line = line_remit.line
        procedure = ("HC", line.procedure, *line.modifiers)
        body.add("SVC", procedure, amount(line.charge), amount(line_remit.paid), "", line.units)
        if line.service_date is not None:
            body.add("DTM", "472", _d8(line.service_date))
        if line_remit.adjustment is not None and line_remit.adjusted:
            adj = line_remit.adjustment
            body.add("CAS", adj.group, adj.reason, amount(line_remit.adjusted))


# --- EDI_STATUS text report ---------------------------------------------------

COLUMNS = (
    ("CLAIM ID", 0, 38),
    ("PAYER ID", 40, 15),
    ("BILLED AMOUNT", 57, 13),
    ("SERVICE DATE", 72, 12),
    ("STATUS", 86, 8),
    ("MESSAGE", 96, 0),
)


def _row(values: Sequence[str], right: frozenset[int] = frozenset()) -> str:
    line = ""
    for index, ((_, start, width), value) in enumerate(zip(COLUMNS, values, strict=True)):
        text = value[:width] if width else value
        if index in right:
            text = text.rjust(width)
        line = line.ljust(start) + text
    return line.rstrip()


def edi_status_report(
    file_id: str, upload_name: str, received: datetime, outcomes: Sequence[Outcome]
) -> bytes:
    """The fixed-width EDI_STATUS report; its layout is specified in docs/harness.md."""
    accepted = sum(1 for o in outcomes if o.accepted)
    lines = [
        "OFFICE ALLY EDI STATUS REPORT",
        f"FILE ID: {file_id}",
        f"FILE NAME: {_clean(upload_name)}",
        f"RECEIVED: {received.strftime('%m/%d/%Y %H:%M')}",
        "",
        _row([title for title, _, _ in COLUMNS]),
        "-" * 120,
    ]
    for outcome in outcomes:
        claim = outcome.claim
        when = claim.first_service_date
        lines.append(
            _row(
                [
                    claim.claim_id,
                    claim.payer_id,
                    f"{claim.charge.quantize(CENT):f}",
                    when.strftime("%m/%d/%Y") if when else "",
                    "ACCEPTED" if outcome.accepted else "REJECTED",
                    outcome.message,
                ],
                right=frozenset({2}),
            )
        )
    lines += [
        "-" * 120,
        f"TOTAL CLAIMS: {len(outcomes)}  ACCEPTED: {accepted}  "
        f"REJECTED: {len(outcomes) - accepted}",
    ]
    return "".join(f"{line}\r\n" for line in lines).encode("ascii", "replace")
