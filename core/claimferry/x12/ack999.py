"""999 implementation acknowledgments (005010X231A1).

A 999 says, per functional group we sent (AK1, our GS06) and per transaction
set in it (AK2, our ST02), whether it was accepted, and if not which segment
and element were wrong (IK3/IK4, with CTX naming the claim). Office Ally puts
a TA1 right after the ISA of its 999s; it is read, not tripped over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimferry.errors import Problem
from claimferry.x12.codes import (
    AK9_STATUS_CODES,
    AK9_SYNTAX_ERROR_CODES,
    IK3_SEGMENT_ERROR_CODES,
    IK4_ELEMENT_ERROR_CODES,
    IK5_STATUS_CODES,
    IK5_SYNTAX_ERROR_CODES,
    ElementReader,
    is_digits,
    jsonable,
    meaning,
)
from claimferry.x12.segments import Segment, X12SyntaxError, read_segments
from claimferry.x12.ta1 import Envelope, InterchangeAck, InterchangeHeader


@dataclass(frozen=True)
class ErrorContext:
    """A CTX: where an error sits, e.g. ``CLM01`` with the claim's id, or a situational trigger."""

    name: str
    reference: str
    segment_id: str
    segment_position: str
    loop: str

    @property
    def claim_id(self) -> str | None:
        """The claim (CLM01) a business-unit CTX names, if it names one."""
        return self.reference if self.name == "CLM01" and self.reference else None


@dataclass(frozen=True)
class ElementError:
    """An IK4: which element of the IK3 segment was wrong and why.

    ``bad_value`` is a copy of what we sent; it may be PHI, so it is kept for
    the caller but left out of reprs, the JSON form and the text summary.
    """

    position: int
    component: int | None
    repetition: int | None
    reference_number: str
    code: str
    bad_value: str = field(repr=False)
    context: tuple[ErrorContext, ...] = ()

    @property
    def meaning(self) -> str:
        return meaning(IK4_ELEMENT_ERROR_CODES, self.code)


@dataclass(frozen=True)
class SegmentError:
    """An IK3: a segment of our transaction set that was wrong, with its element errors."""

    segment_id: str
    position: int
    loop: str
    code: str
    context: tuple[ErrorContext, ...]
    element_errors: tuple[ElementError, ...]

    @property
    def meaning(self) -> str:
        return meaning(IK3_SEGMENT_ERROR_CODES, self.code) if self.code else "see element errors"

    def describe(self) -> str:
        loop = f" in loop {self.loop}" if self.loop else ""
        parts = [f"{self.segment_id} at segment {self.position}{loop}: {self.meaning}"]
        for error in self.element_errors:
            element = f"{self.segment_id}{error.position:02d}"
            if error.component:
                element += f"-{error.component}"
            parts.append(f"{element}: {error.meaning} (code {error.code})")
        claims = [c.claim_id for c in self.context if c.claim_id]
        if claims:
            parts.append(f"claim {', '.join(claims)}")
        return "; ".join(parts)


@dataclass(frozen=True)
class TransactionResult:
    """AK2 .. IK5: the verdict on one of our transaction sets (ST02 = ``control_number``)."""

    transaction_set: str
    control_number: str
    implementation: str
    status: str
    syntax_errors: tuple[str, ...]
    segment_errors: tuple[SegmentError, ...]

    @property
    def accepted(self) -> bool:
        """A (accepted) and E (accepted with errors noted) go on to the payer."""
        return self.status in ("A", "E")

    @property
    def status_meaning(self) -> str:
        return meaning(IK5_STATUS_CODES, self.status)

    def reasons(self) -> tuple[str, ...]:
        """Why it was rejected or noted: IK5 codes, then each IK3/IK4."""
        own = [f"{meaning(IK5_SYNTAX_ERROR_CODES, c)} (IK5 {c})" for c in self.syntax_errors]
        return (*own, *(error.describe() for error in self.segment_errors))


@dataclass(frozen=True)
class GroupResult:
    """AK1 .. AK9: the verdict on one of our functional groups (GS06 = ``control_number``)."""

    functional_id: str
    control_number: str
    version: str
    transactions: tuple[TransactionResult, ...]
    status: str
    included: int
    received: int
    accepted_count: int
    syntax_errors: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")

    @property
    def status_meaning(self) -> str:
        return meaning(AK9_STATUS_CODES, self.status)

    def reasons(self) -> tuple[str, ...]:
        """Why the group was rejected or noted: the AK9 codes."""
        return tuple(f"{meaning(AK9_SYNTAX_ERROR_CODES, c)} (AK9 {c})" for c in self.syntax_errors)


@dataclass(frozen=True)
class Ack999Document:
    """A 999 interchange: the embedded TA1s, then each acknowledged group."""

    source: str
    interchange: InterchangeHeader
    interchange_acks: tuple[InterchangeAck, ...]
    groups: tuple[GroupResult, ...]
    notices: tuple[Problem, ...]

    kind = "999"

    def accepted_transactions(self) -> tuple[str, ...]:
        """ST02 of every transaction set accepted (IK5 A or E)."""
        return tuple(t.control_number for g in self.groups for t in g.transactions if t.accepted)

    def rejected_transactions(self) -> Mapping[str, tuple[str, ...]]:
        """ST02 of every rejected transaction set, with the reasons given."""
        return {
            t.control_number: t.reasons()
            for g in self.groups
            for t in g.transactions
            if not t.accepted
        }

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        return {
            "kind": self.kind,
            **jsonable(self, phi=phi),
            "accepted_transactions": list(self.accepted_transactions()),
            "rejected_transactions": {k: list(v) for k, v in self.rejected_transactions().items()},
        }

    def render(self, *, phi: bool = False) -> str:
        lines = [f"999 implementation acknowledgment ({self.source})"]
        lines += [f"  TA1 {ack.summary()}" for ack in self.interchange_acks]
        for group in self.groups:
            lines.append(
                f"  group {group.control_number} ({group.functional_id} {group.version}): "
                f"{group.status} {group.status_meaning}; {group.accepted_count} of "
                f"{group.included} transaction sets accepted"
            )
            lines += [
                f"    group error: {meaning(AK9_SYNTAX_ERROR_CODES, c)} (AK9 {c})"
                for c in group.syntax_errors
            ]
            for transaction in group.transactions:
                verdict = "accepted" if transaction.accepted else "REJECTED"
                lines.append(
                    f"    transaction set {transaction.control_number}: {verdict} "
                    f"({transaction.status} {transaction.status_meaning})"
                )
                lines += [f"      - {reason}" for reason in transaction.reasons()]
        lines += [f"  notice: {n.location}: {n.message}" for n in self.notices]
        return "\n".join(lines)


def _position(reader: ElementReader, segment: Segment, index: int) -> int:
    return reader.count(segment, index) if segment.element(index).strip() else 0


class _Builder:
    """The open AK1/AK2/IK3/IK4 loops while the segments stream past."""

    def __init__(self, reader: ElementReader) -> None:
        self.reader = reader
        self.groups: list[GroupResult] = []
        self.ak1: Segment | None = None
        self.transactions: list[TransactionResult] = []
        self.ak2: Segment | None = None
        self.segment_errors: list[SegmentError] = []
        self.ik3: Segment | None = None
        self.ik3_context: list[ErrorContext] = []
        self.element_errors: list[ElementError] = []
        self.ik4: Segment | None = None
        self.ik4_context: list[ErrorContext] = []

    def feed(self, segment: Segment) -> None:
        handler = {
            "AK1": self._ak1,
            "AK2": self._ak2,
            "IK3": self._ik3,
            "CTX": self._ctx,
            "IK4": self._ik4,
            "IK5": self._ik5,
            "AK9": self._ak9,
        }.get(segment.id)
        if handler is None:
            raise self.reader.error(
                segment, None, "expected a 999 segment (AK1, AK2, IK3, IK4, CTX, IK5, AK9)"
            )
        handler(segment)

    def end_transaction(self, segment: Segment) -> None:
        if self.ak1 is not None or self.ak2 is not None:
            raise self.reader.error(segment, None, "expected AK9 before SE")

    def _ak1(self, segment: Segment) -> None:
        if self.ak1 is not None:
            raise self.reader.error(segment, None, "expected AK9 to close the previous AK1")
        self.reader.required(segment, 1, "the functional identifier code")
        self.reader.required(segment, 2, "the group control number")
        self.ak1 = segment
        self.transactions = []

    def _ak2(self, segment: Segment) -> None:
        if self.ak1 is None:
            raise self.reader.error(segment, None, "expected AK1 before AK2")
        if self.ak2 is not None:
            raise self.reader.error(segment, None, "expected IK5 to close the previous AK2")
        self.reader.required(segment, 1, "the transaction set identifier")
        self.reader.required(segment, 2, "the transaction set control number")
        self.ak2 = segment
        self.segment_errors = []

    def _ik3(self, segment: Segment) -> None:
        if self.ak2 is None:
            raise self.reader.error(segment, None, "expected AK2 before IK3")
        self._close_ik3()
        self.reader.required(segment, 1, "the segment ID in error")
        self.ik3 = segment

    def _ctx(self, segment: Segment) -> None:
        if self.ik3 is None:
            raise self.reader.error(segment, None, "expected IK3 or IK4 before CTX")
        first = segment.element(1).split(segment.delimiters.repetition or "\0")[0]
        name, _, reference = first.partition(segment.delimiters.component)
        context = ErrorContext(
            name=name,
            reference=reference,
            segment_id=segment.element(2),
            segment_position=segment.element(3),
            loop=segment.element(4),
        )
        (self.ik4_context if self.ik4 is not None else self.ik3_context).append(context)

    def _ik4(self, segment: Segment) -> None:
        if self.ik3 is None:
            raise self.reader.error(segment, None, "expected IK3 before IK4")
        self._close_ik4()
        position = segment.element(1).split(segment.delimiters.component)
        if not is_digits(position[0]):
            raise self.reader.error(segment, 1, "expected the element's position (digits)")
        self.reader.required(segment, 3, "an element syntax error code")
        for part in position[1:3]:
            if part and not is_digits(part):
                raise self.reader.error(
                    segment, 1, "expected component and repetition positions as digits"
                )
        self.ik4 = segment

    def _ik5(self, segment: Segment) -> None:
        reader, ak2 = self.reader, self.ak2
        if ak2 is None:
            raise reader.error(segment, None, "expected AK2 before IK5")
        self._close_ik3()
        self.transactions.append(
            TransactionResult(
                transaction_set=ak2.element(1),
                control_number=ak2.element(2),
                implementation=ak2.element(3),
                status=reader.code(segment, 1, IK5_STATUS_CODES, "a transaction set status"),
                syntax_errors=tuple(c for c in segment.elements[1:6] if c),
                segment_errors=tuple(self.segment_errors),
            )
        )
        self.ak2 = None

    def _ak9(self, segment: Segment) -> None:
        reader, ak1 = self.reader, self.ak1
        if ak1 is None:
            raise reader.error(segment, None, "expected AK1 before AK9")
        if self.ak2 is not None:
            raise reader.error(segment, None, "expected IK5 to close the previous AK2")
        self.groups.append(
            GroupResult(
                functional_id=ak1.element(1),
                control_number=ak1.element(2),
                version=ak1.element(3),
                transactions=tuple(self.transactions),
                status=reader.code(segment, 1, AK9_STATUS_CODES, "a functional group status"),
                included=reader.count(segment, 2),
                received=reader.count(segment, 3),
                accepted_count=reader.count(segment, 4),
                syntax_errors=tuple(c for c in segment.elements[4:9] if c),
            )
        )
        self.ak1 = None

    def _close_ik4(self) -> None:
        ik4 = self.ik4
        if ik4 is None:
            return
        position = [*ik4.element(1).split(ik4.delimiters.component), "", ""]
        self.element_errors.append(
            ElementError(
                position=int(position[0]),
                component=int(position[1]) if position[1] else None,
                repetition=int(position[2]) if position[2] else None,
                reference_number=ik4.element(2),
                code=ik4.element(3).strip(),
                bad_value=ik4.element(4),
                context=tuple(self.ik4_context),
            )
        )
        self.ik4 = None
        self.ik4_context = []

    def _close_ik3(self) -> None:
        self._close_ik4()
        ik3 = self.ik3
        if ik3 is None:
            return
        self.segment_errors.append(
            SegmentError(
                segment_id=ik3.element(1),
                position=_position(self.reader, ik3, 2),
                loop=ik3.element(3),
                code=ik3.element(4),
                context=tuple(self.ik3_context),
                element_errors=tuple(self.element_errors),
            )
        )
        self.ik3 = None
        self.ik3_context = []
        self.element_errors = []


def read_999(segments: Iterable[Segment], source: str) -> Ack999Document:
    """Read a 999 interchange, with or without Office Ally's TA1 after ISA."""
    reader = ElementReader(source)
    envelope = Envelope(reader, transaction="999", group="FA", allow_ta1=True)
    builder = _Builder(reader)
    last: Segment | None = None
    for segment in segments:
        last = segment
        if envelope.check(segment):
            if segment.id == "SE":
                builder.end_transaction(segment)
            continue
        builder.feed(segment)
    envelope.finish(last)
    assert envelope.header is not None
    if not builder.groups:
        raise X12SyntaxError(source, "", "expected at least one AK1 .. AK9 acknowledgment")
    return Ack999Document(
        source=source,
        interchange=envelope.header,
        interchange_acks=tuple(envelope.acks),
        groups=tuple(builder.groups),
        notices=tuple(reader.notices),
    )


def read_999_file(path: Path) -> Ack999Document:
    return read_999(read_segments(path), str(path))
