"""Reads an uploaded 837P the way a clearinghouse front end would.

Three levels, as in X12: the interchange envelope (a broken one is answered by
a rejecting TA1 only), functional groups (AK9 codes) and transaction sets (IK5
codes, with IK3/IK4 detail for the few segment checks made here). Inside
accepted transaction sets it collects just what the responses need about
each claim. It uses the core's segment tokenizer and nothing of the claim
writer, so a bug shared with the client cannot hide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from claimferry.x12.segments import Segment, X12SyntaxError, iter_segments

_CONTROL_NUMBER = re.compile(r"^\d{9}$")
_ST_CONTROL = re.compile(r"^[A-Za-z0-9]{4,9}$")
_GS_CONTROL = re.compile(r"^\d{1,9}$")
_AMOUNT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")


class EnvelopeError(Exception):
    """The interchange cannot be acknowledged beyond a TA1: ``note_code`` is TA105."""

    def __init__(self, note_code: str, reason: str, isa: Segment | None = None) -> None:
        super().__init__(reason)
        self.note_code = note_code
        self.reason = reason
        self.isa = isa


@dataclass(frozen=True)
class ElementError:
    """One IK4: element position, data element reference number, IK403 code."""

    position: int
    reference: str
    code: str


@dataclass(frozen=True)
class SegmentError:
    """One IK3 (+ IK4): the segment, its position in the transaction set, its loop."""

    segment_id: str
    position: int
    loop: str
    code: str
    element: ElementError | None = None


@dataclass
class PriorPayment:
    """What an earlier payer did, as a COB claim reports it: AMT*D (claim) or SVD02
    (line) paid, and its CAS adjustments in all and those put on the patient (PR)."""

    paid: Decimal | None = None
    adjusted: Decimal = Decimal(0)
    patient: Decimal = Decimal(0)

    def add_cas(self, seg: Segment) -> None:
        for position in range(3, 19, 3):
            amount = _amount(seg.element(position))
            if amount is not None:
                self.adjusted += amount
                if seg.element(1) == "PR":
                    self.patient += amount


@dataclass
class ServiceLine:
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: str
    service_date: date | None = None
    prior_auth: bool = False
    control_number: str = ""
    """REF*6R, the line item control number the 835 must return."""
    prior: list[PriorPayment] = field(default_factory=list)
    """Loop 2430: each earlier payer's adjudication of the line (SVD, CAS)."""


@dataclass
class Claim:
    """What the responses need about one 2300 claim (ordinal counts from 1 per file).

    ``position`` is the CLM segment's position in its transaction set (for IK3);
    ``responsibility`` is SBR01 (P, S, T...), which decides CLP02 1, 2 or 3.
    """

    ordinal: int
    position: int
    claim_id: str
    charge: Decimal
    place_of_service: str
    frequency: str
    payer_id: str
    payer_name: str
    filing_code: str
    billing_name: str
    billing_npi: str
    billing_tax_id: str
    patient_last: str
    patient_first: str
    member_id: str
    responsibility: str = "P"
    prior_auth: bool = False
    lines: list[ServiceLine] = field(default_factory=list)
    prior: list[PriorPayment] = field(default_factory=list)
    """Loop 2320: each earlier payer's claim-level adjudication (AMT*D, CAS)."""

    @property
    def first_service_date(self) -> date | None:
        dates = [line.service_date for line in self.lines if line.service_date is not None]
        return min(dates) if dates else None

    @property
    def line_total(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal(0))


@dataclass
class TransactionSet:
    """One ST..SE. ``error`` is the IK502 code when rejected.

    ``noted`` holds errors that do not reject the set (999 ``IK5*E``).
    """

    ident: str
    control_number: str
    reference: str = ""
    submitter_name: str = ""
    submitter_id: str = ""
    segment_count: int = 1
    trailer: Segment | None = None
    errors: list[SegmentError] = field(default_factory=list)
    noted: list[SegmentError] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


@dataclass
class FunctionalGroup:
    """One GS..GE. ``error`` is the AK905 code when the group itself is rejected.

    A ``refused`` group is rejected as a whole, without a reason per
    transaction set (999 ``AK9*R`` and no AK2).
    """

    functional_id: str
    sender: str
    control_number: str
    version: str
    transactions: list[TransactionSet] = field(default_factory=list)
    error: str | None = None
    refused: bool = False

    @property
    def accepted_transactions(self) -> list[TransactionSet]:
        if self.error is not None or self.refused:
            return []
        return [t for t in self.transactions if t.accepted]


@dataclass
class Interchange:
    """The envelope values the acknowledgments echo, and the groups inside."""

    sender_qualifier: str
    sender_id: str
    date: str
    time: str
    control_number: str
    usage: str
    groups: list[FunctionalGroup] = field(default_factory=list)

    @property
    def claims(self) -> list[Claim]:
        return [c for g in self.groups for t in g.accepted_transactions for c in t.claims]


def read_interchange(path: Path) -> Interchange:
    """Read and check one uploaded file; raises :class:`EnvelopeError` for a TA1 rejection."""
    with path.open("rb") as stream:
        segments = iter_segments(stream, path.name)
        try:
            return _read(segments)
        except X12SyntaxError as exc:
            raise EnvelopeError("022", f"not well-formed X12 ({exc.where or 'start'})") from None


def _read(segments: Iterator[Segment]) -> Interchange:
    isa = next(segments, None)
    if isa is None:
        raise EnvelopeError("022", "no ISA segment")
    interchange = _check_isa(isa)
    group: FunctionalGroup | None = None
    collector: _ClaimCollector | None = None
    ordinal = 0
    for seg in segments:
        if collector is not None:
            txn = collector.txn
            if seg.id not in ("SE", "ST", "GE", "GS", "IEA"):
                txn.segment_count += 1
                collector.feed(seg, txn.segment_count)
                continue
            if seg.id == "SE":
                txn.segment_count += 1
                txn.trailer = seg
            ordinal = collector.ordinal
            _close_transaction(txn)
            collector = None
            if seg.id == "SE":
                continue
        if seg.id == "ST":
            if group is None:
                raise EnvelopeError("024", "transaction set outside a functional group", isa)
            txn = TransactionSet(seg.element(1), seg.element(2))
            group.transactions.append(txn)
            collector = _ClaimCollector(txn, ordinal)
        elif seg.id == "GE":
            if group is None:
                raise EnvelopeError("022", "GE without GS", isa)
            _close_group(group, seg)
            group = None
        elif seg.id == "GS":
            if group is not None:
                _close_group(group, None)
            group = FunctionalGroup(seg.element(1), seg.element(2), seg.element(6), seg.element(8))
            interchange.groups.append(group)
        elif seg.id == "IEA":
            if group is not None:
                _close_group(group, None)
            _check_iea(seg, interchange, isa)
            extra = next(segments, None)
            if extra is not None:
                raise EnvelopeError("022", f"segment {extra.position} follows IEA", isa)
            return interchange
        else:
            raise EnvelopeError("024", f"segment {seg.position} outside a transaction set", isa)
    raise EnvelopeError("023", "file ends without IEA", isa)


def _check_isa(isa: Segment) -> Interchange:
    if isa.id != "ISA" or len(isa) != 16:
        raise EnvelopeError("022", "ISA must have 16 elements", None)
    if isa.element(12) != "00501":
        raise EnvelopeError("017", "ISA12 must be 00501", isa)
    if not _CONTROL_NUMBER.match(isa.element(13)):
        raise EnvelopeError("018", "ISA13 must be 9 digits", isa)
    if isa.element(15) not in ("T", "P"):
        raise EnvelopeError("020", "ISA15 must be T or P", isa)
    return Interchange(
        sender_qualifier=isa.element(5),
        sender_id=isa.element(6).strip(),
        date=isa.element(9),
        time=isa.element(10),
        control_number=isa.element(13),
        usage=isa.element(15),
    )


def _check_iea(iea: Segment, interchange: Interchange, isa: Segment) -> None:
    if iea.element(2) != interchange.control_number:
        raise EnvelopeError("001", "IEA02 does not match ISA13", isa)
    if iea.element(1) != str(len(interchange.groups)):
        raise EnvelopeError("021", "IEA01 does not match the number of groups", isa)


def _close_group(group: FunctionalGroup, trailer: Segment | None) -> None:
    if group.functional_id != "HC":
        group.error = "1"
    elif not group.version.startswith("005010X222"):
        group.error = "2"
    elif not _GS_CONTROL.match(group.control_number):
        group.error = "6"
    elif trailer is None:
        group.error = "3"
    elif trailer.element(2) != group.control_number:
        group.error = "4"
    elif trailer.element(1) != str(len(group.transactions)):
        group.error = "5"


def _close_transaction(txn: TransactionSet) -> None:
    if txn.ident != "837":
        txn.error = "1"
    elif not _ST_CONTROL.match(txn.control_number):
        txn.error = "7"
    elif txn.trailer is None:
        txn.error = "2"
    elif txn.trailer.element(2) != txn.control_number:
        txn.error = "3"
    elif txn.trailer.element(1) != str(txn.segment_count):
        txn.error = "4"
    elif txn.errors:
        txn.error = "5"
    if txn.error is not None:
        txn.claims.clear()


def _amount(value: str) -> Decimal | None:
    if not _AMOUNT.match(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _date(qualifier: str, value: str) -> date | None:
    """D8 ``CCYYMMDD`` or the start of an RD8 ``CCYYMMDD-CCYYMMDD``."""
    text = value.split("-")[0] if qualifier == "RD8" else value
    if qualifier not in ("D8", "RD8") or not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


class _ClaimCollector:
    """Walks one 837P transaction set's segments and builds :class:`Claim` records.

    It tracks only the loops it needs: 1000A submitter, 2010AA billing provider,
    2000B/2010BA/2010BB subscriber and payer, 2010CA patient, 2300 claim,
    2320 other payers' paid amounts and adjustments (2330 skipped), 2400 lines and
    their 2430 line adjudications.
    """

    def __init__(self, txn: TransactionSet, ordinal: int) -> None:
        self.txn = txn
        self.ordinal = ordinal
        self.billing = ("", "", "")  # name, NPI, tax ID
        self.subscriber = ("", "", "")  # last, first, member ID
        self.patient: tuple[str, str] | None = None
        self.payer: tuple[str, str] | None = None  # ID, name
        self.filing_code = ""
        self.responsibility = "P"
        self.last_nm1 = ""
        self.claim: Claim | None = None
        self.line: ServiceLine | None = None
        self.other_payer = False  # inside 2320/2330

    def _error(
        self, seg: Segment, position: int, loop: str, code: str, element: ElementError | None = None
    ) -> None:
        self.txn.errors.append(SegmentError(seg.id, position, loop, code, element))

    def feed(self, seg: Segment, position: int) -> None:
        sid = seg.id
        if sid == "BHT":
            self.txn.reference = seg.element(3)
        elif sid == "HL":
            self._hierarchy(seg.element(3))
        elif sid == "NM1":
            self._name(seg, position)
        elif sid == "REF":
            self._reference(seg)
        elif sid == "SBR":
            if self.claim is None:
                self.responsibility = seg.element(1)
                self.filing_code = seg.element(9)
            else:
                self.other_payer = True
                self.claim.prior.append(PriorPayment())
        elif sid in ("AMT", "CAS", "SVD") and self.claim is not None:
            self._prior_payment(self.claim, seg)
        elif sid == "CLM":
            self._claim(seg, position)
        elif sid == "LX" and self.claim is not None:
            self.other_payer = False
            self.line = None
        elif sid == "SV1" and self.claim is not None:
            self._service_line(self.claim, seg, position)
        elif sid == "DTP" and seg.element(1) == "472" and self.line is not None:
            when = _date(seg.element(2), seg.element(3))
            if when is None:
                self._error(seg, position, "2400", "8", ElementError(3, "1251", "8"))
            else:
                self.line.service_date = when

    def _prior_payment(self, claim: Claim, seg: Segment) -> None:
        """AMT*D and CAS of a 2320 loop; SVD and CAS of a 2430 loop."""
        if self.line is None:
            if self.other_payer and claim.prior:
                if seg.id == "AMT" and seg.element(1) == "D":
                    claim.prior[-1].paid = _amount(seg.element(2))
                elif seg.id == "CAS":
                    claim.prior[-1].add_cas(seg)
        elif seg.id == "SVD":
            self.line.prior.append(PriorPayment(paid=_amount(seg.element(2))))
        elif seg.id == "CAS" and self.line.prior:
            self.line.prior[-1].add_cas(seg)

    def _hierarchy(self, level: str) -> None:
        self.claim = None
        self.line = None
        self.other_payer = False
        if level == "20":
            self.billing = ("", "", "")
        if level in ("20", "22"):
            self.subscriber = ("", "", "")
            self.payer = None
            self.filing_code = ""
            self.responsibility = "P"
        self.patient = None

    def _name(self, seg: Segment, position: int) -> None:
        entity = seg.element(1)
        self.last_nm1 = entity if self.claim is None else ""
        if entity == "41" and self.claim is None:
            self.txn.submitter_name = seg.element(3)
            self.txn.submitter_id = seg.element(9)
        elif entity == "85" and self.claim is None:
            self.billing = (seg.element(3), seg.element(9), self.billing[2])
        elif entity == "IL" and self.claim is None:
            self.subscriber = (seg.element(3), seg.element(4), seg.element(9))
        elif entity == "QC" and self.claim is None:
            self.patient = (seg.element(3), seg.element(4))
        elif entity == "PR" and self.claim is None:
            if not seg.element(9):
                self._error(seg, position, "2010BB", "8", ElementError(9, "67", "1"))
            self.payer = (seg.element(9), seg.element(3))

    def _reference(self, seg: Segment) -> None:
        qualifier = seg.element(1)
        if qualifier in ("EI", "SY") and self.last_nm1 == "85":
            self.billing = (self.billing[0], self.billing[1], seg.element(2))
        elif qualifier == "G1" and self.claim is not None and not self.other_payer:
            if self.line is not None:
                self.line.prior_auth = True
            else:
                self.claim.prior_auth = True
        elif qualifier == "6R" and self.line is not None and not self.other_payer:
            self.line.control_number = seg.element(2)

    def _claim(self, seg: Segment, position: int) -> None:
        self.claim = None
        self.line = None
        self.other_payer = False
        claim_id = seg.element(1)
        charge = _amount(seg.element(2))
        if not claim_id:
            self._error(seg, position, "2300", "8", ElementError(1, "1028", "1"))
        if charge is None:
            code = "1" if not seg.element(2) else "6"
            self._error(seg, position, "2300", "8", ElementError(2, "782", code))
        if self.payer is None:
            self._error(seg, position, "2010BB", "3")
        if not claim_id or charge is None or self.payer is None:
            return
        place = seg.components(5)
        self.ordinal += 1
        last, first = self.patient or self.subscriber[:2]
        self.claim = Claim(
            ordinal=self.ordinal,
            position=position,
            claim_id=claim_id,
            charge=charge,
            place_of_service=place[0],
            frequency=place[2] if len(place) > 2 else "1",
            payer_id=self.payer[0],
            payer_name=self.payer[1],
            filing_code=self.filing_code,
            billing_name=self.billing[0],
            billing_npi=self.billing[1],
            billing_tax_id=self.billing[2],
            patient_last=last,
            patient_first=first,
            member_id=self.subscriber[2],
            responsibility=self.responsibility,
        )
        self.txn.claims.append(self.claim)

    def _service_line(self, claim: Claim, seg: Segment, position: int) -> None:
        procedure = seg.components(1)
        charge = _amount(seg.element(2))
        if len(procedure) < 2 or not procedure[1]:
            self._error(seg, position, "2400", "8", ElementError(1, "234", "1"))
            return
        if charge is None:
            code = "1" if not seg.element(2) else "6"
            self._error(seg, position, "2400", "8", ElementError(2, "782", code))
            return
        modifiers = tuple(m for m in procedure[2:6] if m)
        self.line = ServiceLine(procedure[1], modifiers, charge, seg.element(4) or "1")
        claim.lines.append(self.line)
