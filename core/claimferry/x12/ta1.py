"""The interchange level: the ISA/IEA envelope and TA1 acknowledgments.

A TA1 answers a whole interchange (ISA13 of the file we sent). It comes alone
(an interchange of TA1s, no GS) or, as Office Ally sends it, right after the
ISA of a 999. Every response reader walks its file through ``Envelope`` so the
same envelope rules, and the same precise errors, apply to all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

from claimferry.errors import Problem
from claimferry.x12.codes import (
    TA1_ACK_CODES,
    TA1_NOTE_CODES,
    ElementReader,
    is_digits,
    jsonable,
    meaning,
)
from claimferry.x12.segments import Segment, X12SyntaxError, read_segments


@dataclass(frozen=True)
class InterchangeHeader:
    """The ISA of a response: who sent it, when, and its control number."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: date | None
    time: time | None
    version: str
    control_number: str
    test: bool


@dataclass(frozen=True)
class InterchangeAck:
    """One TA1: the verdict on the interchange whose ISA13 is ``control_number``."""

    control_number: str
    date: date | None
    time: time | None
    ack_code: str
    note_code: str

    @property
    def accepted(self) -> bool:
        """True for A and E: the interchange went on to be read."""
        return self.ack_code in ("A", "E")

    @property
    def ack_meaning(self) -> str:
        return meaning(TA1_ACK_CODES, self.ack_code)

    @property
    def note_meaning(self) -> str:
        return meaning(TA1_NOTE_CODES, self.note_code)

    def acknowledges(self, isa13: str) -> bool:
        """Whether this TA1 answers the interchange ``isa13`` (TA101 may be unpadded)."""
        return self.control_number.lstrip("0") == isa13.strip().lstrip("0")

    def summary(self) -> str:
        return (
            f"interchange {self.control_number}: {self.ack_code} ({self.ack_meaning}); "
            f"note {self.note_code} ({self.note_meaning})"
        )


def read_interchange_ack(segment: Segment, reader: ElementReader) -> InterchangeAck:
    """A TA1 segment: TA101 control number, TA102/03 date and time, TA104 code, TA105 note."""
    control = reader.required(segment, 1, "the acknowledged interchange control number")
    if not is_digits(control) or len(control) > 9:
        raise reader.error(segment, 1, "expected an interchange control number (up to 9 digits)")
    return InterchangeAck(
        control_number=control,
        date=reader.short_date(segment, 2),
        time=reader.time_of(segment, 3),
        ack_code=reader.code(segment, 4, TA1_ACK_CODES, "an acknowledgment code"),
        note_code=reader.code(segment, 5, TA1_NOTE_CODES, "a TA1 note code"),
    )


class Envelope:
    """Checks ISA/GS/ST ... SE/GE/IEA while a reader streams through a file.

    Structure that would make the content ambiguous (a segment outside a
    transaction, a missing trailer, a file that stops before IEA) is an
    error. Trailer counts and control numbers that disagree are notices: the
    content is still readable and the operator is told.
    """

    def __init__(
        self, reader: ElementReader, transaction: str, group: str, *, allow_ta1: bool = False
    ) -> None:
        self.reader = reader
        self.transaction = transaction
        self.group = group
        self.allow_ta1 = allow_ta1
        self.header: InterchangeHeader | None = None
        self.acks: list[InterchangeAck] = []
        self._isa: Segment | None = None
        self._gs: Segment | None = None
        self._st: Segment | None = None
        self._groups = 0
        self._transactions = 0
        self._closed = False

    @property
    def in_transaction(self) -> bool:
        return self._st is not None

    def check(self, segment: Segment) -> bool:
        """Check one segment's place; True when it was an envelope segment (or TA1).

        Inside a transaction (nearly every segment of a large file) this is one
        attribute test and one set lookup; nothing is closed then, as IEA
        cannot come before SE. Nor is anything counted: SE01 is checked against
        the positions of ST and SE, so a reader may hand segments it knows
        belong inside a transaction (an 835's CAS, say) straight to their own
        handlers.
        """
        if self._st is not None:
            seg_id = segment.id
            if seg_id not in _ENVELOPE_IDS:
                return False
            if seg_id == "SE":
                self._close_transaction(segment)
                return True
            raise self.reader.error(segment, None, "expected SE to close the transaction first")
        if self._closed:
            raise self.reader.error(segment, None, "expected the end of the file after IEA")
        handler = _HANDLERS.get(segment.id)
        if handler is None:
            raise self.reader.error(
                segment, None, "expected this segment inside a transaction (ST..SE)"
            )
        handler(self, segment)
        return True

    def finish(self, last: Segment | None) -> None:
        """Called at the end of the file: an interchange that never closed is an error."""
        if not self._closed:
            where = f"segment {last.position + 1}" if last else "segment 1"
            raise X12SyntaxError(self.reader.source, where, "file ends before IEA")

    def _open_interchange(self, segment: Segment) -> None:
        reader = self.reader
        if self._isa is not None:
            raise reader.error(segment, None, "expected one ISA per file")
        if len(segment) < 16:
            raise reader.error(segment, None, "expected 16 elements in ISA")
        control = segment.element(13).strip()
        if not is_digits(control):
            raise reader.error(segment, 13, "expected an interchange control number (digits)")
        self._isa = segment
        self.header = InterchangeHeader(
            sender_qualifier=segment.element(5).strip(),
            sender_id=segment.element(6).strip(),
            receiver_qualifier=segment.element(7).strip(),
            receiver_id=segment.element(8).strip(),
            date=reader.short_date(segment, 9),
            time=reader.time_of(segment, 10),
            version=segment.element(12).strip(),
            control_number=control,
            test=segment.element(15).strip() == "T",
        )

    def _interchange_ack(self, segment: Segment) -> None:
        if not self.allow_ta1 or self._gs is not None or self._groups:
            raise self.reader.error(segment, None, "expected TA1 only right after ISA")
        self.acks.append(read_interchange_ack(segment, self.reader))

    def _open_group(self, segment: Segment) -> None:
        reader = self.reader
        if not self.group:
            raise reader.error(segment, None, "expected only TA1 segments in a TA1 interchange")
        if self._gs is not None:
            raise reader.error(segment, None, "expected GE to close the functional group first")
        if segment.element(1) != self.group:
            raise reader.error(
                segment, 1, f"expected functional group {self.group} (a {self.transaction})"
            )
        self._gs = segment
        self._transactions = 0

    def _open_transaction(self, segment: Segment) -> None:
        reader = self.reader
        if self._gs is None:
            raise reader.error(segment, None, "expected GS before ST")
        if segment.element(1) != self.transaction:
            raise reader.error(segment, 1, f"expected transaction set {self.transaction}")
        reader.required(segment, 2, "a transaction set control number")
        self._st = segment
        self._transactions += 1

    def _close_transaction(self, segment: Segment) -> None:
        reader, st = self.reader, self._st
        assert st is not None
        segments = segment.position - st.position + 1  # positions count every segment
        if reader.count(segment, 1) != segments:
            reader.notice(
                segment,
                1,
                f"SE01 counts a different number of segments than the {segments} from ST to SE",
            )
        if segment.element(2) != st.element(2):
            reader.notice(segment, 2, "SE02 does not match ST02")
        self._st = None

    def _close_group(self, segment: Segment) -> None:
        reader, gs = self.reader, self._gs
        if gs is None:
            raise reader.error(segment, None, "expected GS before GE")
        if reader.count(segment, 1) != self._transactions:
            reader.notice(
                segment,
                1,
                f"GE01 does not match the {self._transactions} transaction sets in the group",
            )
        if segment.element(2).lstrip("0") != gs.element(6).lstrip("0"):
            reader.notice(segment, 2, "GE02 does not match GS06")
        self._gs = None
        self._groups += 1

    def _close_interchange(self, segment: Segment) -> None:
        reader, isa = self.reader, self._isa
        if isa is None:
            raise reader.error(segment, None, "expected ISA before IEA")
        if self._gs is not None:
            raise reader.error(segment, None, "expected GE to close the functional group first")
        if reader.count(segment, 1) != self._groups:
            reader.notice(
                segment,
                1,
                f"IEA01 does not match the {self._groups} functional groups in the interchange",
            )
        if segment.element(2).strip() != isa.element(13).strip():
            reader.notice(segment, 2, "IEA02 does not match ISA13")
        self._closed = True


_ENVELOPE_IDS = frozenset({"SE", "ST", "GS", "GE", "ISA", "IEA", "TA1"})
_HANDLERS: dict[str, Callable[[Envelope, Segment], None]] = {
    "ISA": Envelope._open_interchange,
    "TA1": Envelope._interchange_ack,
    "GS": Envelope._open_group,
    "ST": Envelope._open_transaction,
    "GE": Envelope._close_group,
    "IEA": Envelope._close_interchange,
}


class EnvelopedStream:
    """A transaction reader streaming through a file inside its envelope; once
    iterated, ``header`` and ``notices`` are set. Subclasses name their
    transaction set (``TRANSACTION``) and functional group (``GROUP``)."""

    TRANSACTION = ""
    GROUP = ""

    def __init__(self, segments: Iterable[Segment], source: str) -> None:
        self.segments = segments
        self.reader = ElementReader(source)
        self.envelope = Envelope(self.reader, transaction=self.TRANSACTION, group=self.GROUP)

    @property
    def header(self) -> InterchangeHeader | None:
        return self.envelope.header

    @property
    def notices(self) -> tuple[Problem, ...]:
        return tuple(self.reader.notices)


@dataclass(frozen=True)
class TA1Document:
    """A standalone TA1 interchange: one or more interchange acknowledgments."""

    source: str
    interchange: InterchangeHeader
    acks: tuple[InterchangeAck, ...]
    notices: tuple[Problem, ...]

    kind = "TA1"

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {"kind": self.kind, **jsonable(self, phi=phi)}
        result["acks"] = [
            {**jsonable(a), "ack_meaning": a.ack_meaning, "note_meaning": a.note_meaning}
            for a in self.acks
        ]
        return result

    def render(self, *, phi: bool = False) -> str:
        lines = [f"TA1 interchange acknowledgment ({self.source})"]
        lines += [f"  {ack.summary()}" for ack in self.acks]
        lines += [f"  notice: {n.location}: {n.message}" for n in self.notices]
        return "\n".join(lines)


def read_ta1(segments: Iterable[Segment], source: str) -> TA1Document:
    """Read a standalone TA1 interchange (4010 or 5010)."""
    reader = ElementReader(source)
    envelope = Envelope(reader, transaction="", group="", allow_ta1=True)
    last: Segment | None = None
    for segment in segments:
        envelope.check(segment)
        last = segment
    envelope.finish(last)
    assert envelope.header is not None
    if not envelope.acks:
        raise X12SyntaxError(source, "segment 2", "expected a TA1 segment after ISA")
    return TA1Document(source, envelope.header, tuple(envelope.acks), tuple(reader.notices))


def read_ta1_file(path: Path) -> TA1Document:
    return read_ta1(read_segments(path), str(path))
