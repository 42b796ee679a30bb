"""835 remittance advice (005010X221A1), read as a stream.

An 835 can run to 100 MB, so ``iter_835`` yields events as the file streams
past: the payment header (BPR, TRN, payer, payee) when a transaction's claims
begin, each claim (CLP with its CAS, NM1, DTM, SVC lines) when it ends, and a
summary with the provider-level adjustments (PLB) and the balance check at SE.
Nothing but the open claim is held. ``read_835`` collects them for small files.

Imbalance is reported, never fatal: a payer's arithmetic is theirs to get
wrong, and the operator must still see every claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from claimferry.errors import Problem
from claimferry.x12.codes import (
    ADJUSTMENT_GROUPS,
    ADJUSTMENT_REASONS,
    CLAIM_FILING_CODES,
    CLAIM_PAYMENT_STATUS,
    CREDIT_DEBIT,
    PAYMENT_HANDLING_CODES,
    PAYMENT_METHODS,
    PROVIDER_ADJUSTMENT_REASONS,
    ElementReader,
    Person,
    describe_remark,
    fast_frozen_init,
    jsonable,
    meaning,
    person,
)
from claimferry.x12.segments import Segment, X12SyntaxError, read_segments
from claimferry.x12.ta1 import EnvelopedStream, InterchangeHeader

ZERO = Decimal(0)
_ONE = Decimal(1)

# Defined in the 835 and accepted, but not part of the model.
_READ_AND_IGNORED = frozenset({"CUR", "N3", "N4", "PER", "RDM", "TS3", "TS2", "QTY"})
_HEADER = frozenset({"TRN", "REF", "DTM", "N1"}) | _READ_AND_IGNORED


@dataclass(frozen=True)
class Party:
    """A payer (N1*PR) or payee (N1*PE): name and identifier (e.g. XX = NPI, FI = tax ID)."""

    entity: str
    name: str
    id_qualifier: str
    id: str


@dataclass(frozen=True)
class PaymentHeader:
    """One 835 transaction's payment: BPR, TRN and the parties."""

    transaction_control_number: str
    handling_code: str
    amount: Decimal
    credit_debit: str
    method: str
    payment_date: date | None
    trace_number: str
    trace_originator: str
    production_date: date | None
    payer: Party
    payee: Party

    @property
    def method_meaning(self) -> str:
        return meaning(PAYMENT_METHODS, self.method)

    @property
    def signed_amount(self) -> Decimal:
        """The money to the payee: BPR02, negated for a debit (BPR03 D), when the
        payer takes back more than it pays and the payee owes the difference."""
        return -self.amount if self.credit_debit == "D" else self.amount

    @property
    def handling_meaning(self) -> str:
        return meaning(PAYMENT_HANDLING_CODES, self.handling_code)


@fast_frozen_init
@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group (CO/OA/PI/PR/CR), reason (CARC), amount and quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None

    @property
    def group_meaning(self) -> str:
        return meaning(ADJUSTMENT_GROUPS, self.group)

    @property
    def reason_meaning(self) -> str:
        return _reason_meaning(self.reason)

    def describe(self) -> str:
        return self._description

    @cached_property
    def _description(self) -> str:
        """Kept on the adjustment: every claim's status detail describes its
        adjustments, and the 835 reader hands out one Adjustment per distinct CAS
        text, so an ERA's thousands of claims describe a few dozen."""
        return f"{self.group}-{self.reason} {self.amount:.2f}: {_reason_meaning(self.reason)}"


@lru_cache(maxsize=1024)
def _reason_meaning(reason: str) -> str:
    return meaning(ADJUSTMENT_REASONS, reason)


@fast_frozen_init
@dataclass(frozen=True)
class ServiceLine:
    """An SVC: what was billed, what was paid, and why the two differ."""

    procedure_qualifier: str
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    revenue_code: str
    units: Decimal
    service_from: date | None
    service_to: date | None
    control_number: str
    adjustments: tuple[Adjustment, ...]
    remark_codes: tuple[str, ...]
    amounts: tuple[tuple[str, Decimal], ...]

    @property
    def allowed_amount(self) -> Decimal | None:
        return next((value for q, value in self.amounts if q == "B6"), None)


@fast_frozen_init
@dataclass(frozen=True)
class RemitClaim:
    """A CLP with everything under it. ``claim_id`` is the CLM01 we sent.

    ``adjustment_kind`` is 'reversal' for CLP02 22 and 'correction' for the
    claim that follows a reversal of the same claim id; otherwise empty.
    """

    segment_position: int
    claim_id: str
    status: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal | None
    filing_code: str
    payer_claim_number: str
    facility_code: str
    frequency_code: str
    adjustment_kind: str
    adjustments: tuple[Adjustment, ...]
    patient: Person | None
    insured: Person | None
    corrected_patient: Person | None
    rendering_provider_id: str
    crossover_carrier: Party | None
    """NM1*TT: the payer the claim was forwarded to (CLP02 19/20/21, 23)."""
    statement_from: date | None
    statement_to: date | None
    received_date: date | None
    remark_codes: tuple[str, ...]
    amounts: tuple[tuple[str, Decimal], ...]
    lines: tuple[ServiceLine, ...]
    payment: PaymentHeader = field(repr=False, compare=False)

    @property
    def status_meaning(self) -> str:
        return meaning(CLAIM_PAYMENT_STATUS, self.status)

    @property
    def filing_meaning(self) -> str:
        return meaning(CLAIM_FILING_CODES, self.filing_code)

    def all_adjustments(self) -> tuple[Adjustment, ...]:
        """Claim-level then line-level CAS."""
        return self.adjustments + tuple(a for line in self.lines for a in line.adjustments)


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB pair: a provider-level adjustment, not tied to a claim (e.g. WO recovery)."""

    provider_id: str
    fiscal_period_end: date | None
    reason: str
    reference: str
    amount: Decimal

    @property
    def reason_meaning(self) -> str:
        return meaning(PROVIDER_ADJUSTMENT_REASONS, self.reason)


@dataclass(frozen=True)
class PaymentSummary:
    """The end of one 835 transaction: PLBs, totals, and what did not balance."""

    payment: PaymentHeader
    provider_adjustments: tuple[ProviderAdjustment, ...]
    claim_count: int
    total_charge: Decimal
    total_paid: Decimal
    imbalances: tuple[str, ...]

    @property
    def balanced(self) -> bool:
        return not self.imbalances


RemitEvent = PaymentHeader | RemitClaim | PaymentSummary


def claim_imbalances(claim: RemitClaim) -> list[str]:
    """CLP03 - CLP04 must equal every CAS of the claim; SVC02 - SVC03 every CAS of the line."""
    claim_cas = ZERO  # amounts are exact: adding line by line gives what sum() gives
    for adjustment in claim.adjustments:
        claim_cas += adjustment.amount
    lines_found: list[str] = []
    for number, line in enumerate(claim.lines, 1):
        line_cas = ZERO
        for adjustment in line.adjustments:
            line_cas += adjustment.amount
        claim_cas += line_cas
        if line.charge - line.paid != line_cas:
            lines_found.append(
                f"claim {claim.claim_id} line {number}: charge {line.charge:.2f} - paid "
                f"{line.paid:.2f} = {line.charge - line.paid:.2f}, but adjustments total "
                f"{line_cas:.2f}"
            )
    if claim.charge - claim.paid == claim_cas:
        return lines_found
    return [
        f"claim {claim.claim_id} (segment {claim.segment_position}): charge {claim.charge:.2f} "
        f"- paid {claim.paid:.2f} = {claim.charge - claim.paid:.2f}, but adjustments total "
        f"{claim_cas:.2f}",
        *lines_found,
    ]


def payment_imbalance(
    payment: PaymentHeader, total_paid: Decimal, adjustments: Iterable[ProviderAdjustment]
) -> str | None:
    """BPR02 (negative for a debit) must equal the claims' CLP04 total minus the PLB total."""
    plb = sum((a.amount for a in adjustments), ZERO)
    expected = total_paid - plb
    amount = payment.signed_amount
    if amount == expected:
        return None
    return (
        f"transaction {payment.transaction_control_number}: payment {amount:.2f} differs "
        f"from claims paid {total_paid:.2f} - provider adjustments {plb:.2f} = {expected:.2f}"
    )


@dataclass(frozen=True)
class PaymentAdvice:
    """One whole 835 transaction, read into memory."""

    payment: PaymentHeader
    claims: tuple[RemitClaim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    imbalances: tuple[str, ...]

    @property
    def balanced(self) -> bool:
        return not self.imbalances


@dataclass(frozen=True)
class Remit835Document:
    """A whole 835 interchange: one payment advice per ST."""

    source: str
    interchange: InterchangeHeader
    payments: tuple[PaymentAdvice, ...]
    notices: tuple[Problem, ...]

    kind = "835"

    def claims(self) -> Iterator[RemitClaim]:
        for advice in self.payments:
            yield from advice.claims

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        return {"kind": self.kind, **jsonable(self, phi=phi)}

    def render(self, *, phi: bool = False) -> str:
        lines = [f"835 remittance advice ({self.source})"]
        for advice in self.payments:
            pay = advice.payment
            when = pay.payment_date.isoformat() if pay.payment_date else "no date"
            lines.append(
                f"  payment {pay.amount:.2f} {meaning(CREDIT_DEBIT, pay.credit_debit)} by "
                f"{pay.method} ({pay.method_meaning}) on {when}, trace {pay.trace_number}; "
                f"payer {pay.payer.name} -> payee {pay.payee.name} {pay.payee.id}"
            )
            for claim in advice.claims:
                lines += _render_claim(claim, phi=phi)
            for adj in advice.provider_adjustments:
                lines.append(
                    f"    provider adjustment {adj.reason} ({adj.reason_meaning}) "
                    f"{adj.reference}: {adj.amount:.2f}"
                )
            balance = "balanced" if advice.balanced else "NOT BALANCED"
            lines.append(f"    {balance}")
            lines += [f"      - {problem}" for problem in advice.imbalances]
        lines += [f"  notice: {n.location}: {n.message}" for n in self.notices]
        return "\n".join(lines)


def _render_claim(claim: RemitClaim, *, phi: bool) -> list[str]:
    kind = f" [{claim.adjustment_kind}]" if claim.adjustment_kind else ""
    patient = ""
    if phi and claim.patient:
        patient = f" patient {claim.patient.display_name}"
    out = [
        f"    claim {claim.claim_id}{kind}: {claim.status} {claim.status_meaning}; "
        f"charge {claim.charge:.2f}, paid {claim.paid:.2f}, patient responsibility "
        f"{claim.patient_responsibility or ZERO:.2f}; "
        f"payer claim {claim.payer_claim_number}{patient}"
    ]
    if claim.crossover_carrier is not None:
        carrier = claim.crossover_carrier
        out.append(f"      forwarded to {carrier.name} ({carrier.id})")
    out += [f"      {adj.describe()}" for adj in claim.adjustments]
    out += [f"      remark {describe_remark(code)}" for code in claim.remark_codes]
    for line in claim.lines:
        procedure = ":".join((line.procedure, *line.modifiers))
        out.append(
            f"      line {procedure}: charge {line.charge:.2f}, paid {line.paid:.2f}, "
            f"units {line.units}"
        )
        out += [f"        {adj.describe()}" for adj in line.adjustments]
        out += [f"        remark {describe_remark(code)}" for code in line.remark_codes]
    return out


class _LineBuilder:
    __slots__ = (
        "adjustments",
        "amounts",
        "charge",
        "control_number",
        "dates",
        "paid",
        "procedure",
        "remarks",
        "segment",
        "units",
    )

    def __init__(self, segment: Segment, reader: ElementReader) -> None:
        procedure = [*reader.composite(segment, 1), ""]
        if not procedure[0] or not procedure[1]:
            raise reader.error(segment, 1, "expected a procedure as qualifier:code[:modifiers]")
        self.segment = segment
        self.procedure = procedure
        self.charge = reader.amount(segment, 2)
        self.paid = reader.amount(segment, 3)
        self.units = reader.quantity(segment, 5)
        self.dates: dict[str, date | None] = {}
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []
        self.amounts: list[tuple[str, Decimal]] = []
        self.control_number = ""

    def build(self) -> ServiceLine:
        procedure, dates = self.procedure, self.dates
        single = dates.get("472")
        return ServiceLine(  # positional: this runs for every line of a large ERA
            procedure[0],
            procedure[1],
            tuple(filter(None, procedure[2:6])),
            self.charge,
            self.paid,
            self.segment.element(4),
            _ONE if self.units is None else self.units,
            single or dates.get("150"),
            single or dates.get("151"),
            self.control_number,
            tuple(self.adjustments),
            tuple(self.remarks),
            tuple(self.amounts),
        )


class _ClaimBuilder:
    __slots__ = (
        "adjustments",
        "amounts",
        "charge",
        "crossover_carrier",
        "dates",
        "line",
        "lines",
        "paid",
        "patient_responsibility",
        "people",
        "remarks",
        "rendering_provider_id",
        "segment",
        "status",
    )

    def __init__(self, segment: Segment, reader: ElementReader) -> None:
        self.segment = segment
        reader.required(segment, 1, "the claim's id (CLM01 as sent)")
        self.status = reader.code(segment, 2, CLAIM_PAYMENT_STATUS, "a claim status code")
        self.charge = reader.amount(segment, 3)
        self.paid = reader.amount(segment, 4)
        self.patient_responsibility = reader.optional_amount(segment, 5)
        self.adjustments: list[Adjustment] = []
        self.people: dict[str, Person] = {}
        self.rendering_provider_id = ""
        self.crossover_carrier: Party | None = None
        self.dates: dict[str, date | None] = {}
        self.remarks: list[str] = []
        self.amounts: list[tuple[str, Decimal]] = []
        self.lines: list[ServiceLine] = []
        self.line: _LineBuilder | None = None

    def close_line(self) -> None:
        if self.line is not None:
            self.lines.append(self.line.build())
            self.line = None

    def build(self, payment: PaymentHeader, previous: RemitClaim | None) -> RemitClaim:
        self.close_line()
        clp = self.segment
        fields = (*clp.elements, "", "", "", "", "", "", "", "", "")
        kind = ""
        if self.status == "22":
            kind = "reversal"
        elif previous and previous.status == "22" and previous.claim_id == fields[0]:
            kind = "correction"
        dates, people = self.dates, self.people
        return RemitClaim(  # positional: this runs for every claim of a large ERA
            clp.position,
            fields[0],
            self.status,
            self.charge,
            self.paid,
            self.patient_responsibility,
            fields[5],
            fields[6],
            fields[7],
            fields[8],
            kind,
            tuple(self.adjustments),
            people.get("QC"),
            people.get("IL"),
            people.get("74"),
            self.rendering_provider_id,
            self.crossover_carrier,
            dates.get("232"),
            dates.get("233"),
            dates.get("050"),
            tuple(self.remarks),
            tuple(self.amounts),
            tuple(self.lines),
            payment,
        )


class _Transaction:
    """One ST..SE of an 835 as it streams past."""

    def __init__(self, st: Segment, reader: ElementReader) -> None:
        self.st = st
        self.reader = reader
        self.bpr: Segment | None = None
        self.trn: Segment | None = None
        self.production_date: date | None = None
        self.parties: dict[str, Party] = {}
        self.payment: PaymentHeader | None = None
        self.claim: _ClaimBuilder | None = None
        self.previous: RemitClaim | None = None
        self.plb: list[ProviderAdjustment] = []
        self.claim_count = 0
        self.total_charge = ZERO
        self.total_paid = ZERO
        self.imbalances: list[str] = []
        self.cas: dict[tuple[str, ...], tuple[Adjustment, ...]] = {}
        self.days: dict[tuple[str, ...], tuple[str, date | None]] = {}

    def feed(self, segment: Segment) -> tuple[RemitEvent, ...]:
        """Take one segment; return the events it completes (usually none).

        A tuple rather than a generator: this runs for every segment of a
        100 MB file, and a generator per segment costs more than the work.
        """
        reader, seg_id, claim = self.reader, segment.id, self.claim
        if claim is not None and seg_id not in ("CLP", "LX", "PLB"):
            # The stream hands a claim's own segments (_IN_CLAIM) straight to their
            # handlers; any other one here has no place in a claim.
            raise self._unexpected(segment)
        if self.bpr is None:
            if seg_id != "BPR":
                raise reader.error(segment, None, "expected BPR right after ST")
            self._payment_order(segment)
            return ()
        events: tuple[RemitEvent, ...] = ()
        if self.payment is None:
            if seg_id in _HEADER:
                self._header(segment)
                return ()
            if seg_id not in ("LX", "CLP", "PLB"):
                raise reader.error(segment, None, "expected an 835 header segment, LX, CLP or PLB")
            self.payment = self._build_header(segment)
            events = (self.payment,)
        events += self._close_claim()
        if seg_id == "CLP":
            if self.plb:
                raise reader.error(segment, None, "expected CLP before PLB")
            self.claim = _ClaimBuilder(segment, reader)
        elif seg_id == "PLB":
            self._provider_adjustments(segment)
        elif seg_id == "LX" and self.plb:
            raise reader.error(segment, None, "expected LX before PLB")
        elif seg_id not in ("LX", *_READ_AND_IGNORED):
            raise reader.error(segment, None, "expected CLP before this segment")
        return events

    def end(self) -> Iterator[RemitEvent]:
        """SE: close the last claim and summarize the transaction."""
        if self.bpr is None:
            raise self.reader.error(self.st, None, "expected BPR in the 835 transaction")
        if self.payment is None:
            self.payment = self._build_header(self.st)
            yield self.payment
        yield from self._close_claim()
        imbalance = payment_imbalance(self.payment, self.total_paid, self.plb)
        if imbalance:
            self.imbalances.append(imbalance)
        yield PaymentSummary(
            payment=self.payment,
            provider_adjustments=tuple(self.plb),
            claim_count=self.claim_count,
            total_charge=self.total_charge,
            total_paid=self.total_paid,
            imbalances=tuple(self.imbalances),
        )

    def _payment_order(self, bpr: Segment) -> None:
        reader = self.reader
        reader.code(bpr, 1, PAYMENT_HANDLING_CODES, "a transaction handling code")
        reader.amount(bpr, 2)
        reader.code(bpr, 3, CREDIT_DEBIT, "C (credit) or D (debit)")
        reader.code(bpr, 4, PAYMENT_METHODS, "a payment method")
        self.bpr = bpr

    def _header(self, segment: Segment) -> None:
        reader = self.reader
        if segment.id == "TRN":
            reader.required(segment, 2, "the check or EFT trace number")
            self.trn = segment
        elif segment.id == "DTM":
            value = reader.date_of(segment, 2)
            if segment.element(1) == "405":
                self.production_date = value
        elif segment.id == "N1":
            entity = reader.required(segment, 1, "an entity identifier code")
            self.parties.setdefault(
                entity, Party(entity, segment.element(2), segment.element(3), segment.element(4))
            )

    def _build_header(self, segment: Segment) -> PaymentHeader:
        reader, bpr, trn = self.reader, self.bpr, self.trn
        assert bpr is not None
        if trn is None:
            raise reader.error(segment, None, "expected TRN (the payment's trace) before this")
        missing = [code for code in ("PR", "PE") if code not in self.parties]
        if missing:
            raise reader.error(segment, None, f"expected N1*{missing[0]} before this")
        return PaymentHeader(
            transaction_control_number=self.st.element(2),
            handling_code=bpr.element(1),
            amount=reader.amount(bpr, 2),
            credit_debit=bpr.element(3),
            method=bpr.element(4),
            payment_date=self._payment_date(bpr),
            trace_number=trn.element(2),
            trace_originator=trn.element(3),
            production_date=self.production_date,
            payer=self.parties["PR"],
            payee=self.parties["PE"],
        )

    def _payment_date(self, bpr: Segment) -> date | None:
        """BPR16; some payers shift it into BPR15, so a missing one is a notice, not an
        error. It is part of the payment's identity (a payment delivered twice is
        recognised by it): the production date does not stand in for it here."""
        if not bpr.element(16).strip():
            self.reader.notice(bpr, 16, "payment date missing; read as unknown")
            return None
        return self.reader.date_of(bpr, 16)

    def _service_line(self, claim: _ClaimBuilder, segment: Segment) -> None:
        claim.close_line()
        claim.line = _LineBuilder(segment, self.reader)

    def _claim_adjustments(self, claim: _ClaimBuilder, segment: Segment) -> None:
        line = claim.line
        (claim.adjustments if line is None else line.adjustments).extend(self._adjustments(segment))

    def _date(self, claim: _ClaimBuilder, segment: Segment) -> None:
        elements = segment.elements
        # a DTM read well before is taken as it is: an ERA repeats a few hundred dates
        found = self.days.get(elements)
        if found is None:
            qualifier = elements[0].strip() if elements else ""
            if not qualifier:
                raise self.reader.error(segment, 1, "expected a date qualifier, found nothing")
            found = qualifier, self.reader.date_of(segment, 2)
            if found[1] is not None and len(self.days) < ElementReader.AMOUNT_CACHE:
                self.days[elements] = found
        line = claim.line
        (claim.dates if line is None else line.dates)[found[0]] = found[1]

    def _amount(self, claim: _ClaimBuilder, segment: Segment) -> None:
        reader, line = self.reader, claim.line
        qualifier = reader.required(segment, 1, "an amount qualifier")
        (claim.amounts if line is None else line.amounts).append(
            (qualifier, reader.amount(segment, 2))
        )

    def _reference(self, claim: _ClaimBuilder, segment: Segment) -> None:
        value = self.reader.required(segment, 2, "a reference number")
        line = claim.line
        if line is not None and segment.element(1) == "6R":
            line.control_number = value

    def _remark(self, claim: _ClaimBuilder, segment: Segment) -> None:
        line = claim.line
        if line is None:
            raise self.reader.error(segment, None, "expected SVC before LQ")
        code = self.reader.required(segment, 2, "a remark code")
        qualifier = segment.element(1).strip()  # HE: a RARC; RX: an NCPDP reject code
        line.remarks.append(code if qualifier in ("HE", "") else f"{qualifier}:{code}")

    def _party(self, claim: _ClaimBuilder, segment: Segment) -> None:
        if claim.line is not None:
            raise self._unexpected(segment)
        entity = self.reader.required(segment, 1, "an entity identifier code")
        if entity in ("QC", "IL", "74"):
            claim.people.setdefault(entity, person(segment))
        elif entity == "82":
            claim.rendering_provider_id = segment.element(9)
        elif entity == "TT":
            claim.crossover_carrier = Party(
                entity, segment.element(3), segment.element(8), segment.element(9)
            )

    def _outpatient_or_inpatient(self, claim: _ClaimBuilder, segment: Segment) -> None:
        if claim.line is not None:
            raise self._unexpected(segment)
        indexes = (3, 4, 5, 6, 7) if segment.id == "MOA" else (5, 20, 21, 22, 23)
        claim.remarks += [segment.element(i) for i in indexes if segment.element(i)]

    def _ignored(self, claim: _ClaimBuilder, segment: Segment) -> None:
        return

    def _unexpected(self, segment: Segment) -> X12SyntaxError:
        return self.reader.error(
            segment, None, "expected a claim (2100) or service line (2110) segment of the 835"
        )

    def _adjustments(self, segment: Segment) -> tuple[Adjustment, ...]:
        """A CAS's adjustments. The same text read before gives the same ones (they are
        immutable): an ERA repeats its fee-schedule adjustments thousands of times."""
        elements = segment.elements
        found = self.cas.get(elements)
        if found is None:
            found = tuple(self._read_adjustments(segment))
            if len(self.cas) < ElementReader.AMOUNT_CACHE:
                self.cas[elements] = found
        return found

    def _read_adjustments(self, segment: Segment) -> list[Adjustment]:
        reader = self.reader
        group = reader.code(segment, 1, ADJUSTMENT_GROUPS, "a claim adjustment group code")
        elements = segment.elements
        if 3 <= len(elements) <= 4 and elements[1].strip():  # one reason: most CAS segments
            return [
                Adjustment(
                    group,
                    elements[1].strip(),
                    reader.amount(segment, 3),
                    reader.quantity(segment, 4),
                )
            ]
        found = []
        fields = (*elements, "", "", "")  # CAS(index) is fields[index - 1], "" past the end
        for index in range(2, max(2, min(len(elements), 19)) + 1, 3):
            reason = fields[index - 1].strip()
            if not reason:
                if fields[index].strip():
                    raise reader.error(segment, index, "expected a reason code for this amount")
                if index == 2:
                    raise reader.error(segment, 2, "expected a claim adjustment reason code")
                continue
            found.append(
                Adjustment(
                    group,
                    reason,
                    reader.amount(segment, index + 1),
                    reader.quantity(segment, index + 2),
                )
            )
        return found

    def _provider_adjustments(self, segment: Segment) -> None:
        reader = self.reader
        provider = reader.required(segment, 1, "the provider identifier")
        period_end = reader.date_of(segment, 2)
        for index in range(3, 15, 2):
            if not segment.element(index).strip():
                if segment.element(index + 1).strip() or index == 3:
                    raise reader.error(
                        segment, index, "expected an adjustment reason (reason:reference)"
                    )
                continue
            reason = [*reader.composite(segment, index), ""]
            self.plb.append(
                ProviderAdjustment(
                    provider, period_end, reason[0], reason[1], reader.amount(segment, index + 1)
                )
            )

    def _close_claim(self) -> tuple[RemitClaim, ...]:
        if self.claim is None:
            return ()
        assert self.payment is not None
        claim = self.claim.build(self.payment, self.previous)
        self.claim = None
        self.previous = claim
        self.claim_count += 1
        self.total_charge += claim.charge
        self.total_paid += claim.paid
        self.imbalances += claim_imbalances(claim)
        return (claim,)


_IN_CLAIM: dict[str, Callable[[_Transaction, _ClaimBuilder, Segment], None]] = {
    "SVC": _Transaction._service_line,
    "CAS": _Transaction._claim_adjustments,
    "DTM": _Transaction._date,
    "AMT": _Transaction._amount,
    "REF": _Transaction._reference,
    "LQ": _Transaction._remark,
    "NM1": _Transaction._party,
    "MOA": _Transaction._outpatient_or_inpatient,
    "MIA": _Transaction._outpatient_or_inpatient,
    **dict.fromkeys(_READ_AND_IGNORED, _Transaction._ignored),
}
"""What each segment of an open claim does (CLP, LX and PLB close it; others are errors)."""


def iter_835(segments: Iterable[Segment], source: str) -> Iterator[RemitEvent]:
    """Yield each transaction's PaymentHeader, then its RemitClaims, then its PaymentSummary.

    Raises X12SyntaxError at the first malformed segment; imbalance goes into
    the summaries. Trailer notices are not reported here: use ``read_835``
    or ``Remit835Stream`` to get them.
    """
    yield from Remit835Stream(segments, source)


class Remit835Stream(EnvelopedStream):
    """Iterate the events of an 835; afterwards ``header`` and ``notices`` are set."""

    TRANSACTION = "835"
    GROUP = "HP"

    def __iter__(self) -> Iterator[RemitEvent]:
        envelope, transaction, claim = self.envelope, None, None
        check, in_claim = envelope.check, _IN_CLAIM.get
        last: Segment | None = None
        for segment in self.segments:
            last = segment
            if claim is not None:  # most segments: straight to their handler
                handler = in_claim(segment.id)
                if handler is not None:
                    assert transaction is not None  # a claim is only ever open in one
                    handler(transaction, claim, segment)
                    continue
            if not check(segment):
                assert transaction is not None
                events = transaction.feed(segment)
                claim = transaction.claim
                if events:
                    yield from events
            elif segment.id == "ST":
                transaction = _Transaction(segment, self.reader)
            elif segment.id == "SE" and transaction is not None:
                yield from transaction.end()
                transaction = claim = None
        envelope.finish(last)


def iter_835_claims(segments: Iterable[Segment], source: str) -> Iterator[RemitClaim]:
    """Yield claims one at a time; each carries its PaymentHeader as ``claim.payment``."""
    for event in iter_835(segments, source):
        if isinstance(event, RemitClaim):
            yield event


def read_835(segments: Iterable[Segment], source: str) -> Remit835Document:
    """Read a whole 835 into memory (use ``iter_835`` for large files)."""
    stream = Remit835Stream(segments, source)
    payments: list[PaymentAdvice] = []
    claims: list[RemitClaim] = []
    for event in stream:
        if isinstance(event, RemitClaim):
            claims.append(event)
        elif isinstance(event, PaymentSummary):
            payments.append(
                PaymentAdvice(
                    event.payment, tuple(claims), event.provider_adjustments, event.imbalances
                )
            )
            claims = []
    if stream.header is None:
        raise X12SyntaxError(source, "segment 1", "expected ISA")
    if not payments:
        raise X12SyntaxError(source, "", "expected at least one 835 transaction (ST..SE)")
    return Remit835Document(source, stream.header, tuple(payments), stream.notices)


def read_835_file(path: Path) -> Remit835Document:
    return read_835(read_segments(path), str(path))
