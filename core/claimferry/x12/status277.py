"""277CA claim acknowledgments (005010X214).

The 277CA is where a claim that passed the 999 is accepted into the payer's
adjudication system or rejected, claim by claim. Its HL hierarchy runs payer
(20) > receiver (21) > provider (19) > patient (PT); each patient level holds
one claim, named by TRN*2 (our CLM01). Claims are yielded as soon as their
level ends, so a large 277 is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimferry.errors import Problem
from claimferry.x12.codes import (
    CLAIM_STATUS_CATEGORIES,
    CLAIM_STATUS_CODES,
    ENTITY_CODES,
    HL_LEVEL_CODES,
    ElementReader,
    Person,
    jsonable,
    meaning,
    person,
)
from claimferry.x12.segments import Segment, X12SyntaxError, read_segments
from claimferry.x12.ta1 import Envelope, InterchangeHeader

REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})
ACCEPTED_CATEGORIES = frozenset({"A2", "A5"})
SEGMENTS_277CA = frozenset({"BHT", "HL", "NM1", "TRN", "STC", "QTY", "AMT", "REF", "DTP", "SVC"})


@dataclass(frozen=True)
class ClaimStatus:
    """One status composite of an STC (STC01, STC10 or STC11) with the STC's date and amounts."""

    category: str
    code: str
    entity: str
    effective_date: date | None
    action_code: str
    charge_amount: Decimal | None
    free_text: str = ""
    """STC12: the sender's own words, often the actionable reason for a rejection."""

    @property
    def category_meaning(self) -> str:
        return meaning(CLAIM_STATUS_CATEGORIES, self.category)

    @property
    def code_meaning(self) -> str:
        return meaning(CLAIM_STATUS_CODES, self.code)

    def describe(self) -> str:
        entity = (
            f", entity {self.entity} ({meaning(ENTITY_CODES, self.entity)})" if self.entity else ""
        )
        text = f" - {self.free_text}" if self.free_text else ""
        # the category's heading ("Acknowledgement/Returned as unprocessable claim") is
        # enough in a status line; its full text repeats what the status code says
        category = self.category_meaning.split("-", 1)[0].strip()
        status = f"{self.category}:{self.code} {category}: {self.code_meaning}"
        return f"{status}{entity}{text}"


@dataclass(frozen=True)
class EntityLevel:
    """A payer, receiver or provider HL level, with the statuses and totals reported there."""

    hl_id: str
    parent_id: str
    level: str
    entity: str
    name: str
    id_qualifier: str
    id: str
    trace_numbers: tuple[str, ...]
    statuses: tuple[ClaimStatus, ...]
    quantities: tuple[tuple[str, Decimal], ...]
    amounts: tuple[tuple[str, Decimal], ...]

    @property
    def level_meaning(self) -> str:
        return meaning(HL_LEVEL_CODES, self.level)


@dataclass(frozen=True)
class ServiceLineStatus:
    """A 2220D service line: its procedure, charge, line control number and statuses."""

    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal | None
    line_control_number: str
    service_from: date | None
    service_to: date | None
    statuses: tuple[ClaimStatus, ...]


@dataclass(frozen=True)
class ClaimAcknowledgment:
    """One claim's answer: ``claim_id`` is the CLM01 we sent.

    ``source_entity`` is who sent it (2100A NM101): ``AY`` a clearinghouse,
    ``PR`` the payer. A clearinghouse's acceptance only means it passed the
    claim on, and its REF*1K is its own trace, not the payer's claim number.
    """

    claim_id: str
    statuses: tuple[ClaimStatus, ...]
    payer_claim_number: str
    clearinghouse_trace: str
    bill_type: str
    service_from: date | None
    service_to: date | None
    patient: Person | None
    payer_name: str
    payer_id: str
    source_entity: str
    provider_name: str
    provider_id: str
    lines: tuple[ServiceLineStatus, ...]

    @property
    def from_clearinghouse(self) -> bool:
        return self.source_entity == "AY"

    @property
    def outcome(self) -> str:
        """'rejected' (A3/A4/A6/A7/A8), 'accepted' (A2/A5) or the first category's meaning."""
        categories = {status.category for status in self.statuses}
        if categories & REJECTED_CATEGORIES:
            return "rejected"
        if categories & ACCEPTED_CATEGORIES:
            return "accepted"
        return self.statuses[0].category_meaning if self.statuses else "no status"

    def summary(self) -> str:
        reasons = "; ".join(status.describe() for status in self.statuses)
        label = "clearinghouse trace" if self.from_clearinghouse else "payer claim"
        number = f" {label} {self.payer_claim_number}" if self.payer_claim_number else ""
        return f"claim {self.claim_id}: {self.outcome.upper()}{number} - {reasons}"


@dataclass(frozen=True)
class Status277Document:
    """A whole 277CA: the entity levels and every claim acknowledged."""

    source: str
    interchange: InterchangeHeader
    levels: tuple[EntityLevel, ...]
    claims: tuple[ClaimAcknowledgment, ...]
    notices: tuple[Problem, ...]

    kind = "277CA"

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {"kind": self.kind, **jsonable(self, phi=phi)}
        for claim, out in zip(self.claims, result["claims"], strict=True):
            out["outcome"] = claim.outcome
        return result

    def render(self, *, phi: bool = False) -> str:
        lines = [f"277CA claim acknowledgment ({self.source}): {len(self.claims)} claims"]
        lines += [f"  {claim.summary()}" for claim in self.claims]
        lines += [f"  notice: {n.location}: {n.message}" for n in self.notices]
        return "\n".join(lines)


class _Level:
    """An HL level being read: its segments arrive before its children's."""

    def __init__(self, segment: Segment, level: str) -> None:
        self.segment = segment
        self.level = level
        self.name_segment: Segment | None = None
        self.traces: list[Segment] = []
        self.statuses: list[ClaimStatus] = []
        self.quantities: list[tuple[str, Decimal]] = []
        self.amounts: list[tuple[str, Decimal]] = []
        self.refs: dict[str, str] = {}
        self.dates: tuple[date | None, date | None] = (None, None)
        self.lines: list[ServiceLineStatus] = []
        self.line: Segment | None = None
        self.line_statuses: list[ClaimStatus] = []
        self.line_ref = ""
        self.line_dates: tuple[date | None, date | None] = (None, None)
        self.frozen: EntityLevel | None = None


class _Reader:
    def __init__(self, reader: ElementReader) -> None:
        self.reader = reader
        self.levels: dict[str, _Level] = {}
        self.used_ids: set[str] = set()
        self.current: _Level | None = None
        self.done_levels: list[EntityLevel] = []

    def feed(self, segment: Segment) -> ClaimAcknowledgment | None:
        """Take one segment; return a claim when it closed one."""
        reader = self.reader
        if segment.id not in SEGMENTS_277CA:
            raise reader.error(segment, None, "expected a 277CA (005010X214) segment")
        if segment.id == "BHT":
            return None
        if segment.id == "HL":
            return self._open_level(segment)
        level = self.current
        if level is None:
            raise reader.error(segment, None, "expected HL before this segment")
        {
            "NM1": self._name,
            "TRN": self._trace,
            "STC": self._status,
            "QTY": self._quantity,
            "AMT": self._amount,
            "REF": self._reference,
            "DTP": self._date,
            "SVC": self._service,
        }[segment.id](level, segment)
        return None

    def close(self) -> ClaimAcknowledgment | None:
        """End of a transaction: the open level closes."""
        claim = self._close_current()
        self.levels, self.used_ids = {}, set()
        return claim

    def _open_level(self, segment: Segment) -> ClaimAcknowledgment | None:
        reader = self.reader
        claim = self._close_current()
        hl_id = reader.required(segment, 1, "the hierarchical ID number")
        level = reader.code(segment, 3, HL_LEVEL_CODES, "a 277CA level code")
        parent = segment.element(2)
        if parent and parent not in self.levels:
            raise reader.error(segment, 2, "expected the ID of an earlier HL as parent")
        if hl_id in self.used_ids:
            raise reader.error(segment, 1, "expected a hierarchical ID not used before")
        self.used_ids.add(hl_id)
        if level != "20" and not parent:
            raise reader.error(segment, 2, "expected a parent HL for this level")
        self.current = self.levels[hl_id] = _Level(segment, level)
        return claim

    def _name(self, level: _Level, segment: Segment) -> None:
        level.name_segment = segment

    def _trace(self, level: _Level, segment: Segment) -> None:
        self.reader.required(segment, 2, "a trace number")
        level.traces.append(segment)

    def _status(self, level: _Level, segment: Segment) -> None:
        reader = self.reader
        effective = reader.date_of(segment, 2, required=False)
        charge = reader.optional_amount(segment, 4)
        statuses = []
        for index in (1, 10, 11):
            if index > 1 and not segment.element(index):
                continue
            parts = [*reader.composite(segment, index), "", ""]
            if not parts[0] or not parts[1]:
                raise reader.error(segment, index, "expected a status as category:code[:entity]")
            statuses.append(
                ClaimStatus(
                    parts[0],
                    parts[1],
                    parts[2],
                    effective,
                    segment.element(3),
                    charge,
                    segment.element(12).strip(),
                )
            )
        (level.line_statuses if level.line else level.statuses).extend(statuses)

    def _quantity(self, level: _Level, segment: Segment) -> None:
        value = self.reader.quantity(segment, 2)
        if value is None:
            raise self.reader.error(segment, 2, "expected a quantity")
        level.quantities.append((segment.element(1), value))

    def _amount(self, level: _Level, segment: Segment) -> None:
        level.amounts.append((segment.element(1), self.reader.amount(segment, 2)))

    def _reference(self, level: _Level, segment: Segment) -> None:
        qualifier = self.reader.required(segment, 1, "a reference qualifier")
        value = self.reader.required(segment, 2, "a reference number")
        if level.line and qualifier == "FJ":
            level.line_ref = value
        else:
            level.refs.setdefault(qualifier, value)

    def _date(self, level: _Level, segment: Segment) -> None:
        period = self.reader.period(segment, 2)
        if segment.element(1) == "472":
            if level.line:
                level.line_dates = period
            else:
                level.dates = period

    def _service(self, level: _Level, segment: Segment) -> None:
        if level.level != "PT":
            raise self.reader.error(segment, None, "expected SVC only under a patient (PT) level")
        self._close_line(level)
        self.reader.composite(segment, 1)
        level.line = segment

    def _close_line(self, level: _Level) -> None:
        line = level.line
        if line is None:
            return
        procedure = [*self.reader.composite(line, 1), ""]
        level.lines.append(
            ServiceLineStatus(
                procedure=procedure[1],
                modifiers=tuple(m for m in procedure[2:6] if m),
                charge=self.reader.optional_amount(line, 2),
                line_control_number=level.line_ref,
                service_from=level.line_dates[0],
                service_to=level.line_dates[1],
                statuses=tuple(level.line_statuses),
            )
        )
        level.line, level.line_statuses, level.line_ref = None, [], ""
        level.line_dates = (None, None)

    def _freeze(self, level: _Level) -> EntityLevel:
        if level.frozen is None:
            name = level.name_segment
            level.frozen = EntityLevel(
                hl_id=level.segment.element(1),
                parent_id=level.segment.element(2),
                level=level.level,
                entity=name.element(1) if name else "",
                name=" ".join(x for x in (name.element(3), name.element(4)) if x) if name else "",
                id_qualifier=name.element(8) if name else "",
                id=name.element(9) if name else "",
                trace_numbers=tuple(t.element(2) for t in level.traces),
                statuses=tuple(level.statuses),
                quantities=tuple(level.quantities),
                amounts=tuple(level.amounts),
            )
            self.done_levels.append(level.frozen)
        return level.frozen

    def _ancestor(self, level: _Level, code: str) -> EntityLevel | None:
        seen: set[str] = set()
        parent = level.segment.element(2)
        while parent and parent not in seen:
            seen.add(parent)
            ancestor = self.levels[parent]
            if ancestor.level == code:
                return self._freeze(ancestor)
            parent = ancestor.segment.element(2)
        return None

    def _close_current(self) -> ClaimAcknowledgment | None:
        level, self.current = self.current, None
        if level is None:
            return None
        if level.level != "PT":
            self._freeze(level)
            return None
        self._close_line(level)
        # a patient level has no children; its key is the HL01 read (stripped) on open
        self.levels.pop(level.segment.element(1).strip(), None)
        claim_traces = [t for t in level.traces if t.element(1) == "2"]
        if not claim_traces:
            raise self.reader.error(
                level.segment, None, "expected TRN*2 with the claim's id in this patient level"
            )
        if not level.statuses:
            raise self.reader.error(level.segment, None, "expected STC in this patient level")
        payer = self._ancestor(level, "20")
        provider = self._ancestor(level, "19")
        return ClaimAcknowledgment(
            claim_id=claim_traces[0].element(2),
            statuses=tuple(level.statuses),
            payer_claim_number=level.refs.get("1K", ""),
            clearinghouse_trace=level.refs.get("D9", ""),
            bill_type=level.refs.get("BLT", ""),
            service_from=level.dates[0],
            service_to=level.dates[1],
            patient=person(level.name_segment) if level.name_segment else None,
            payer_name=payer.name if payer else "",
            payer_id=payer.id if payer else "",
            source_entity=payer.entity if payer else "",
            provider_name=provider.name if provider else "",
            provider_id=provider.id if provider else "",
            lines=tuple(level.lines),
        )


def _walk(
    segments: Iterable[Segment], reader: ElementReader, envelope: Envelope, walker: _Reader
) -> Iterator[ClaimAcknowledgment]:
    last: Segment | None = None
    for segment in segments:
        last = segment
        if envelope.check(segment):
            claim = walker.close() if segment.id == "SE" else None
        else:
            claim = walker.feed(segment)
        if claim:
            yield claim
    envelope.finish(last)


def iter_277_claims(segments: Iterable[Segment], source: str) -> Iterator[ClaimAcknowledgment]:
    """Yield each claim's acknowledgment as soon as its patient level ends."""
    reader = ElementReader(source)
    envelope = Envelope(reader, transaction="277", group="HN")
    yield from _walk(segments, reader, envelope, _Reader(reader))


def read_277ca(segments: Iterable[Segment], source: str) -> Status277Document:
    """Read a whole 277CA into one document."""
    reader = ElementReader(source)
    envelope = Envelope(reader, transaction="277", group="HN")
    walker = _Reader(reader)
    claims = tuple(_walk(segments, reader, envelope, walker))
    if envelope.header is None:
        raise X12SyntaxError(source, "segment 1", "expected ISA")
    return Status277Document(
        source, envelope.header, tuple(walker.done_levels), claims, tuple(reader.notices)
    )


def read_277ca_file(path: Path) -> Status277Document:
    return read_277ca(read_segments(path), str(path))
