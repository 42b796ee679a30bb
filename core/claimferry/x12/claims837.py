"""837P professional claims (005010X222), read back so an operator can see what was sent.

The reader follows the HL hierarchy: billing provider (20) > subscriber (22)
> patient (23), each claim (CLM) taking its payer and people from the levels
above it. Claims are yielded one at a time, so a large file is never held in
memory; :class:`Claims837Document` reads the file once to check it and count
its totals, and again for each listing, so nothing is shown of a file that
turns out malformed further down.

Loops the listing does not show (2310 providers, 2320/2330 other payers,
2420 line providers, drug and COB details) are read past: pyx12 judges the
full structure in our tests; this reader refuses only what would make the
listing wrong. Names, member IDs, birth dates and addresses are PHI: masked
in reprs, in the JSON form and in the listing unless asked.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimferry.claims import FREQUENCY_CODES
from claimferry.x12.codes import (
    CLAIM_FILING_CODES,
    MASK,
    ElementReader,
    Person,
    jsonable,
    meaning,
    person,
)
from claimferry.x12.segments import Segment, X12SyntaxError, read_segments
from claimferry.x12.ta1 import EnvelopedStream

IMPLEMENTATION_837P = "005010X222"
"""ST03/GS08 of every 837P release (A1, A2) starts with this."""

FREQUENCY_MEANINGS = {code: word for word, code in FREQUENCY_CODES.items()}
PAYER_RESPONSIBILITY = {
    "P": "primary",
    "S": "secondary",
    "T": "tertiary",
    **{code: "payer responsibility" for code in "ABCDEFGHU"},
}
"""SBR01: which payer in the coordination of benefits this claim is sent to."""


@dataclass(frozen=True)
class Member:
    """The subscriber (2010BA) or patient (2010CA): every field but the gender is PHI."""

    person: Person
    birth_date: date | None
    gender: str
    address: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Member({self.person!r}, birth_date={MASK!r}, address={MASK!r})"

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        birth = self.birth_date.isoformat() if self.birth_date else None
        return {
            **self.person.to_dict(phi=phi),
            "birth_date": birth if phi or birth is None else MASK,
            "gender": self.gender,
            "address": list(self.address) if phi else ([MASK] if self.address else []),
        }

    def describe(self, *, phi: bool) -> str:
        if not phi:
            return f"{MASK}, member id {MASK}" if self.person.id else MASK
        born = f", born {self.birth_date.isoformat()}" if self.birth_date else ""
        member = f", member id {self.person.id}" if self.person.id else ""
        address = f", {'; '.join(self.address)}" if self.address else ""
        return f"{self.person.display_name}{member}{born}{address}"


@dataclass(frozen=True)
class ServiceLine837:
    """Loop 2400: one SV1 with its service dates (DTP*472) and line control number (REF*6R)."""

    number: str
    qualifier: str
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal
    unit_basis: str
    units: Decimal | None
    service_from: date | None
    service_to: date | None
    control_number: str

    def describe(self) -> str:
        procedure = ":".join((self.procedure, *self.modifiers))
        units = f", {self.units} {self.unit_basis}" if self.units is not None else ""
        when = _period(self.service_from, self.service_to)
        control = f", line control {self.control_number}" if self.control_number else ""
        return f"line {self.number} {procedure}: charge {self.charge:.2f}{units}, {when}{control}"


@dataclass(frozen=True)
class Claim837:
    """Loop 2300 with the payer and people it was sent for.

    ``patient`` is None when the subscriber is the patient (no HL*23).
    """

    claim_id: str
    transaction: str
    total_charge: Decimal
    place_of_service: str
    frequency_code: str
    payer_claim_number: str
    payer_responsibility: str
    filing_code: str
    payer_name: str
    payer_id: str
    billing_provider_name: str
    billing_provider_npi: str
    subscriber: Member
    patient: Member | None
    lines: tuple[ServiceLine837, ...]

    @property
    def frequency_meaning(self) -> str:
        return FREQUENCY_MEANINGS.get(self.frequency_code, f"frequency {self.frequency_code}")

    @property
    def responsibility_meaning(self) -> str:
        return meaning(PAYER_RESPONSIBILITY, self.payer_responsibility)

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, Member):
                result[name] = value.to_dict(phi=phi)
            else:
                result[name] = jsonable(value, phi=phi)
        result["frequency"] = self.frequency_meaning
        return result

    def render(self, *, phi: bool) -> list[str]:
        replaces = f" replacing payer claim {self.payer_claim_number}"
        out = [
            f"  claim {self.claim_id}: charge {self.total_charge:.2f}, "
            f"{self.frequency_meaning} ({self.frequency_code}), place of service "
            f"{self.place_of_service}{replaces if self.payer_claim_number else ''}",
            f"    payer {self.payer_name} ({self.payer_id}), {self.responsibility_meaning}, "
            f"filing {self.filing_code} ({meaning(CLAIM_FILING_CODES, self.filing_code)})",
            f"    billing provider {self.billing_provider_name} (NPI {self.billing_provider_npi})",
            f"    subscriber {self.subscriber.describe(phi=phi)}",
        ]
        if self.patient is not None:
            out.append(f"    patient {self.patient.describe(phi=phi)}")
        out += [f"    {line.describe()}" for line in self.lines]
        return out


@dataclass(frozen=True)
class Transaction837:
    """An ST..SE header: BHT and the submitter (1000A) and receiver (1000B)."""

    control_number: str
    implementation: str
    reference: str
    created: date | None
    submitter_name: str
    submitter_id: str
    receiver_name: str
    receiver_id: str


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _period(start: date | None, end: date | None) -> str:
    if start is None:
        return "no service date"
    if end is None or end == start:
        return start.isoformat()
    return f"{start.isoformat()} to {end.isoformat()}"


class _Party:
    """An NM1 being read with the N3/N4/DMG that follow it."""

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.address: list[str] = []
        self.birth_date: date | None = None
        self.gender = ""

    def member(self) -> Member:
        return Member(person(self.segment), self.birth_date, self.gender, tuple(self.address))


class _ClaimBuilder:
    def __init__(self, clm: Segment, reader: ElementReader) -> None:
        self.clm = clm
        self.claim_id = reader.required(clm, 1, "the claim id (CLM01)")
        self.total = reader.amount(clm, 2)
        facility = [*reader.composite(clm, 5), "", "", ""]
        if not facility[0] or not facility[2]:
            raise reader.error(
                clm, 5, "expected place of service and frequency as code:B:frequency"
            )
        self.place, self.frequency = facility[0], facility[2]
        self.payer_claim_number = ""
        self.lines: list[ServiceLine837] = []
        self.lx: Segment | None = None
        self.line: Segment | None = None
        self.line_dates: tuple[date | None, date | None] = (None, None)
        self.line_control = ""
        self.in_other_payer = False


class _Transaction:
    """One ST..SE of an 837P: the levels read so far and the claim being read."""

    def __init__(self, st: Segment, reader: ElementReader, group_version: str) -> None:
        self.reader = reader
        self.st = st
        implementation = st.element(3).strip() or group_version
        if not implementation.startswith(IMPLEMENTATION_837P):
            raise reader.error(st, 3, f"expected an 837P ({IMPLEMENTATION_837P}A1) transaction")
        self.implementation = implementation
        self.bht: Segment | None = None
        self.submitter: Segment | None = None
        self.receiver: Segment | None = None
        self.header: Transaction837 | None = None
        self.level = ""
        self.provider: Segment | None = None
        self.sbr: Segment | None = None
        self.payer: Segment | None = None
        self.subscriber: _Party | None = None
        self.patient: _Party | None = None
        self.party: _Party | None = None
        self.claim: _ClaimBuilder | None = None

    def feed(self, segment: Segment) -> Transaction837 | Claim837 | None:
        """Take one segment; return the header when the first HL opens, a claim when one ends."""
        seg_id = segment.id
        if seg_id == "HL":
            return self._level(segment)
        if self.header is None:
            self._before_levels(segment)
            return None
        if seg_id == "CLM":  # a level holds one claim after another
            closed = self._close_claim()
            if self.subscriber is None or self.level == "20":
                raise self.reader.error(
                    segment, None, "expected CLM under a subscriber (HL*22) or patient (HL*23)"
                )
            self.claim = _ClaimBuilder(segment, self.reader)
            self.party = None
            return closed
        if self.claim is not None:
            self._in_claim(self.claim, segment)
        else:
            self._in_level(segment)
        return None

    def end(self, se: Segment) -> Claim837 | None:
        if self.header is None:
            raise self.reader.error(se, None, "expected at least one HL level in the transaction")
        return self._close_claim()

    def _before_levels(self, segment: Segment) -> None:
        if segment.id == "BHT":
            self.bht = segment
        elif segment.id == "NM1" and segment.element(1) == "41":
            self.submitter = segment
        elif segment.id == "NM1" and segment.element(1) == "40":
            self.receiver = segment
        elif segment.id not in ("PER", "REF"):
            raise self.reader.error(segment, None, "expected BHT, NM1 or PER before the first HL")

    def _level(self, segment: Segment) -> Transaction837 | Claim837 | None:
        reader = self.reader
        if self.header is None:
            self.header = self._header(segment)
            opened: Transaction837 | Claim837 | None = self.header
        else:
            opened = self._close_claim()
        level = segment.element(3).strip()
        if level not in ("20", "22", "23"):
            raise reader.error(segment, 3, "expected an 837P level code (20, 22 or 23)")
        if level == "20":
            self.provider, self.sbr, self.payer, self.subscriber = None, None, None, None
        elif level == "22":
            if self.provider is None:
                raise reader.error(segment, None, "expected a billing provider (HL*20) first")
            self.sbr, self.payer, self.subscriber = None, None, None
        elif self.subscriber is None:
            raise reader.error(segment, None, "expected a subscriber (HL*22) before HL*23")
        self.patient, self.party, self.level = None, None, level
        return opened

    def _header(self, first_hl: Segment) -> Transaction837:
        reader = self.reader
        for found, what in (
            (self.bht, "BHT"),
            (self.submitter, "the submitter (NM1*41)"),
            (self.receiver, "the receiver (NM1*40)"),
        ):
            if found is None:
                raise reader.error(first_hl, None, f"expected {what} before the first HL")
        assert self.bht and self.submitter and self.receiver
        return Transaction837(
            control_number=reader.required(self.st, 2, "a transaction set control number"),
            implementation=self.implementation,
            reference=self.bht.element(3).strip(),
            created=reader.date_of(self.bht, 4, required=False),
            submitter_name=self.submitter.element(3).strip(),
            submitter_id=self.submitter.element(9).strip(),
            receiver_name=self.receiver.element(3).strip(),
            receiver_id=self.receiver.element(9).strip(),
        )

    def _in_level(self, segment: Segment) -> None:
        seg_id, level = segment.id, self.level
        if seg_id == "NM1":
            entity = segment.element(1)
            self.party = None
            if level == "20" and entity == "85":
                self.provider = segment
            elif level == "22" and entity == "IL":
                self.subscriber = self.party = _Party(segment)
            elif level == "22" and entity == "PR":
                self.payer = segment
            elif level == "23" and entity == "QC":
                self.patient = self.party = _Party(segment)
        elif seg_id == "SBR" and level == "22":
            self.sbr = segment
        elif self.party is not None:
            self._party_detail(self.party, segment)

    def _party_detail(self, party: _Party, segment: Segment) -> None:
        if segment.id == "N3":
            party.address.append(" ".join(e for e in segment.elements[:2] if e))
        elif segment.id == "N4":
            party.address.append(" ".join(e for e in segment.elements[:3] if e))
        elif segment.id == "DMG":
            if segment.element(1) == "D8":
                party.birth_date = self.reader.date_of(segment, 2, required=False)
            party.gender = segment.element(3).strip()

    def _in_claim(self, claim: _ClaimBuilder, segment: Segment) -> None:
        reader, seg_id = self.reader, segment.id
        if seg_id == "LX":
            self._close_line(claim)
            reader.required(segment, 1, "the line number (LX01)")
            claim.lx, claim.in_other_payer = segment, False
        elif claim.lx is not None:
            self._in_line(claim, segment)
        elif seg_id == "SBR":
            claim.in_other_payer = True  # loop 2320: another payer of this claim
        elif seg_id == "REF" and segment.element(1) == "F8" and not claim.in_other_payer:
            claim.payer_claim_number = reader.required(segment, 2, "the payer's claim number")
        elif seg_id == "SV1":
            raise reader.error(segment, None, "expected LX before SV1")

    def _in_line(self, claim: _ClaimBuilder, segment: Segment) -> None:
        reader, seg_id = self.reader, segment.id
        if seg_id == "SV1":
            if claim.line is not None:
                raise reader.error(segment, None, "expected one SV1 per service line (LX)")
            procedure = reader.composite(segment, 1)
            if len(procedure) < 2 or not procedure[0] or not procedure[1]:
                raise reader.error(segment, 1, "expected a procedure as qualifier:code")
            reader.amount(segment, 2)
            reader.quantity(segment, 4)
            claim.line = segment
        elif seg_id == "DTP" and segment.element(1) == "472":
            claim.line_dates = reader.period(segment, 2)
        elif seg_id == "REF" and segment.element(1) == "6R":
            claim.line_control = segment.element(2).strip()

    def _close_line(self, claim: _ClaimBuilder) -> None:
        lx, line = claim.lx, claim.line
        if lx is None:
            return
        if line is None:
            raise self.reader.error(lx, None, "expected SV1 in this service line")
        procedure = self.reader.composite(line, 1)
        claim.lines.append(
            ServiceLine837(
                number=lx.element(1).strip(),
                qualifier=procedure[0],
                procedure=procedure[1],
                modifiers=tuple(m for m in procedure[2:6] if m),
                charge=self.reader.amount(line, 2),
                unit_basis=line.element(3).strip(),
                units=self.reader.quantity(line, 4),
                service_from=claim.line_dates[0],
                service_to=claim.line_dates[1],
                control_number=claim.line_control,
            )
        )
        claim.lx, claim.line, claim.line_control = None, None, ""
        claim.line_dates = (None, None)

    def _close_claim(self) -> Claim837 | None:
        claim, self.claim = self.claim, None
        if claim is None:
            return None
        reader = self.reader
        self._close_line(claim)
        if not claim.lines:
            raise reader.error(claim.clm, None, "expected at least one service line (LX, SV1)")
        charges = sum((line.charge for line in claim.lines), Decimal(0))
        if charges != claim.total:
            reader.notice(
                claim.clm, 2, f"CLM02 differs from the sum of the lines' charges ({charges:.2f})"
            )
        if self.payer is None or self.sbr is None:
            raise reader.error(claim.clm, None, "expected SBR and a payer (NM1*PR) in HL*22")
        assert self.subscriber is not None and self.provider is not None
        return Claim837(
            claim_id=claim.claim_id,
            transaction=self.st.element(2).strip(),
            total_charge=claim.total,
            place_of_service=claim.place,
            frequency_code=claim.frequency,
            payer_claim_number=claim.payer_claim_number,
            payer_responsibility=self.sbr.element(1).strip(),
            filing_code=self.sbr.element(9).strip(),
            payer_name=self.payer.element(3).strip(),
            payer_id=self.payer.element(9).strip(),
            billing_provider_name=_organization_or_person(self.provider),
            billing_provider_npi=self.provider.element(9).strip(),
            subscriber=self.subscriber.member(),
            patient=self.patient.member() if self.patient else None,
            lines=tuple(claim.lines),
        )


def _organization_or_person(nm1: Segment) -> str:
    return " ".join(part for part in (nm1.element(4), nm1.element(3)) if part.strip())


class Claims837Stream(EnvelopedStream):
    """Iterate the transaction headers and claims of an 837P; afterwards ``header``
    and ``notices`` are set."""

    TRANSACTION = "837"
    GROUP = "HC"

    def __iter__(self) -> Iterator[Transaction837 | Claim837]:
        envelope, transaction = self.envelope, None
        group_version = ""
        last: Segment | None = None
        for segment in self.segments:
            last = segment
            if not envelope.check(segment):
                assert transaction is not None
                found = transaction.feed(segment)
            elif segment.id == "GS":
                group_version = segment.element(8).strip()
                continue
            elif segment.id == "ST":
                transaction = _Transaction(segment, self.reader, group_version)
                continue
            elif segment.id == "SE" and transaction is not None:
                found, transaction = transaction.end(segment), None
            else:
                continue
            if found is not None:
                yield found
        envelope.finish(last)


def iter_837p(segments: Iterable[Segment], source: str) -> Iterator[Transaction837 | Claim837]:
    """Yield each transaction's header, then its claims, one at a time."""
    yield from Claims837Stream(segments, source)


class Claims837Document:
    """An 837P file, checked whole and totalled; its claims are read again on demand.

    Reading checks every segment first (raising the precise X12SyntaxError),
    so a listing never starts on a file that fails further down; memory stays
    flat however many claims the file holds.
    """

    kind = "837P"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = str(path)
        stream = Claims837Stream(read_segments(path), self.source)
        transactions: list[Transaction837] = []
        claims = lines = 0
        total = Decimal(0)
        for event in stream:
            if isinstance(event, Transaction837):
                transactions.append(event)
            else:
                claims += 1
                lines += len(event.lines)
                total += event.total_charge
        if stream.header is None:
            raise X12SyntaxError(self.source, "segment 1", "expected ISA")
        if not claims:
            raise X12SyntaxError(self.source, "", "expected at least one claim (CLM)")
        self.interchange = stream.header
        self.transactions = tuple(transactions)
        self.claim_count = claims
        self.line_count = lines
        self.total_charge = total
        self.notices = stream.notices

    def claims(self) -> Iterator[Claim837]:
        """The claims, read again from the file one at a time."""
        for event in iter_837p(read_segments(self.path), self.source):
            if isinstance(event, Claim837):
                yield event

    def _head(self, *, phi: bool) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "interchange": jsonable(self.interchange, phi=phi),
            "transactions": jsonable(self.transactions, phi=phi),
            "claim_count": self.claim_count,
            "line_count": self.line_count,
            "total_charge": str(self.total_charge),
            "notices": [str(notice) for notice in self.notices],
        }

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        """The whole file as one dict (use ``json_chunks`` for large files)."""
        return self._head(phi=phi) | {"claims": [c.to_dict(phi=phi) for c in self.claims()]}

    def json_chunks(self, *, phi: bool = False) -> Iterator[str]:
        """``to_dict`` as indented JSON text, one claim at a time."""
        head = json.dumps(self._head(phi=phi), indent=2)
        yield head.removesuffix("\n}") + ',\n  "claims": ['
        separator = "\n"
        for claim in self.claims():
            yield separator + textwrap.indent(json.dumps(claim.to_dict(phi=phi), indent=2), "    ")
            separator = ",\n"
        yield "\n  ]\n}\n"

    def render_lines(self, *, phi: bool = False) -> Iterator[str]:
        """The listing for a person, one line at a time."""
        isa = self.interchange
        usage = "test" if isa.test else "production"
        yield (
            f"837P claims ({self.source}): {_count(self.claim_count, 'claim')}, "
            f"{_count(self.line_count, 'line')}, total charge {self.total_charge:.2f}"
        )
        yield (
            f"  interchange {isa.control_number} ({usage}) from {isa.sender_qualifier} "
            f"{isa.sender_id} to {isa.receiver_qualifier} {isa.receiver_id}"
        )
        headers = {t.control_number: t for t in self.transactions}
        current = None
        for claim in self.claims():
            if claim.transaction != current:
                current = claim.transaction
                t = headers[current]
                created = t.created.isoformat() if t.created else "no date"
                yield (
                    f"  transaction {t.control_number} ({t.implementation}) of {created}: "
                    f"submitter {t.submitter_name} ({t.submitter_id}), "
                    f"receiver {t.receiver_name} ({t.receiver_id})"
                )
            yield from claim.render(phi=phi)
        yield f"  total: {_count(self.claim_count, 'claim')}, charge {self.total_charge:.2f}"
        for notice in self.notices:
            yield f"  notice: {notice.location}: {notice.message}"

    def render(self, *, phi: bool = False) -> str:
        return "\n".join(self.render_lines(phi=phi))


def read_837p_file(path: Path) -> Claims837Document:
    """Check and total an 837P file; raises X12SyntaxError naming the segment."""
    return Claims837Document(path)
