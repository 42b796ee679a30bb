"""Streaming X12 segment reader.

Delimiters are taken from the ISA segment (never assumed), the file is read in
chunks so memory stays flat whatever its size, and every problem names the
file and the segment's position.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from claimferry.errors import InputError, Problem

CHUNK = 1 << 16
UTF8_BOM = b"\xef\xbb\xbf"
ISA16_LAST_OFFSET = 103 + 16
"""Where the separator before ISA16 stands in a padded ISA (103), with slack for
senders that overfill an element: past it, the ISA is short and the element
separator found belongs to a later segment."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


class X12SyntaxError(InputError):
    """A file that is not well-formed X12: names the file, segment and element."""

    def __init__(self, source: str, where: str, message: str) -> None:
        super().__init__([Problem(source, where, message)])
        self.source = source
        self.where = where


class Segment:
    """One segment. ``position`` counts from 1 within the file.

    A plain slotted class rather than a frozen dataclass: a large 835 makes
    millions of these, and frozen construction costs a third of the reading.
    Treat it as read-only.
    """

    __slots__ = ("delimiters", "elements", "id", "position")

    def __init__(
        self, position: int, id: str, elements: tuple[str, ...], delimiters: Delimiters
    ) -> None:
        self.position = position
        self.id = id
        self.elements = elements
        self.delimiters = delimiters

    def __repr__(self) -> str:
        return f"Segment({self.position}, {self.id!r}, {len(self.elements)} elements)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segment) and (
            self.position,
            self.id,
            self.elements,
            self.delimiters,
        ) == (other.position, other.id, other.elements, other.delimiters)

    __hash__ = None  # type: ignore[assignment]

    def element(self, index: int) -> str:
        """Element ``index`` counting from 1 (``ISA01``); empty when absent."""
        return self.elements[index - 1] if 0 < index <= len(self.elements) else ""

    def components(self, index: int) -> list[str]:
        return self.element(index).split(self.delimiters.component)

    def where(self, index: int | None = None) -> str:
        base = f"segment {self.position} ({self.id})"
        return f"{base} element {self.id}{index:02d}" if index is not None else base

    def __len__(self) -> int:
        return len(self.elements)


def detect_delimiters(head: str, source: str) -> tuple[Delimiters, int]:
    """Read the delimiters from the ISA at the start of ``head``.

    Returns them and the offset of the ISA in ``head``. The ISA has exactly
    16 elements; ISA16 is the component separator and the character after
    it ends the segment, so padding mistakes elsewhere do not matter.
    """
    start = len(head) - len(head.lstrip("\ufeff \t\r\n"))
    if head[start : start + 3] != "ISA":
        raise X12SyntaxError(source, "segment 1", "expected an ISA segment at the start")
    if len(head) < start + 4:
        raise X12SyntaxError(source, "segment 1 (ISA)", "file ends inside the ISA segment")
    element = head[start + 3]
    if element.isalnum() or element.isspace():
        raise X12SyntaxError(source, "segment 1 (ISA)", "no valid element separator after ISA")
    pos = start + 3  # the separator before ISA01; find the one before ISA16
    for _ in range(15):
        pos = head.find(element, pos + 1)
        if pos < 0 or pos - start > ISA16_LAST_OFFSET:
            raise X12SyntaxError(source, "segment 1 (ISA)", "expected 16 elements in ISA")
    if len(head) < pos + 3:
        raise X12SyntaxError(source, "segment 1 (ISA)", "file ends inside the ISA segment")
    component = head[pos + 1]
    terminator = head[pos + 2]
    if terminator.isalnum() or terminator in (element, component):
        raise X12SyntaxError(
            source,
            "segment 1 (ISA) element ISA16",
            "expected one component separator, then the segment terminator",
        )
    fields = head[start : pos + 1].split(element)
    version = fields[12] if len(fields) > 12 else ""
    repetition = fields[11] if len(fields) > 11 and version >= "00402" else ""
    if len(repetition) != 1 or repetition.isalnum() or repetition in (element, component):
        repetition = ""
    return Delimiters(element, component, repetition, terminator), start


def iter_segments(stream: IO[bytes], source: str) -> Iterator[Segment]:
    """Yield segments from a binary stream, reading it in chunks.

    Each chunk is split on the segment terminator at once; only the last,
    unfinished piece is carried into the next chunk. Nothing is read before
    the first segment is asked for.
    """
    return _segments(stream, source, None)


def read_segments(path: Path) -> Iterator[Segment]:
    """Segments of a file on disk (streamed); the file is opened at the first segment."""
    return _segments(None, str(path), path)


def _segments(stream: IO[bytes] | None, source: str, path: Path | None) -> Iterator[Segment]:
    """``iter_segments`` over ``stream``, or over ``path``, opened here and closed at the end.

    One generator for both, so a file's segments pass through no second
    generator on their way out: this loop runs for every segment of a 100 MB
    file, and its parts are written out for speed. A segment is filled in
    place rather than through ``Segment.__init__`` (a Python call per segment
    costs a third of the loop), and the identifier check runs once per
    distinct identifier.
    """
    if stream is None:
        assert path is not None
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise InputError(
                [Problem(source, "", f"cannot read the file: {exc.strerror}")]
            ) from None
    try:
        buffer = stream.read(CHUNK).removeprefix(UTF8_BOM).decode("latin-1")
        if not buffer.strip():
            raise X12SyntaxError(source, "", "file is empty")
        delimiters, start = detect_delimiters(buffer[:4096], source)
        terminator, element = delimiters.segment, delimiters.element
        position = 0
        pending = buffer[start:]
        known: set[str] = set()  # identifiers found well-formed: a file uses a few dozen
        new = Segment.__new__
        while True:
            chunk = stream.read(CHUNK)
            pieces = pending.split(terminator)
            pending = pieces.pop()
            for raw in pieces:
                raw = raw.strip(" \t\r\n")
                if not raw:
                    continue
                position += 1
                parts = raw.split(element)
                seg_id = parts.pop(0)
                if seg_id not in known:
                    if not (
                        2 <= len(seg_id) <= 3 and seg_id.isalnum() and seg_id == seg_id.upper()
                    ):
                        raise X12SyntaxError(
                            source,
                            f"segment {position}",
                            "expected a segment identifier of 2 or 3 letters or digits",
                        )
                    known.add(seg_id)
                segment = new(Segment)  # Segment(position, seg_id, tuple(parts), delimiters)
                segment.position = position
                segment.id = seg_id
                segment.elements = tuple(parts)
                segment.delimiters = delimiters
                yield segment
            if not chunk:
                break
            pending += chunk.decode("latin-1")
        if pending.strip(" \t\r\n"):
            raise X12SyntaxError(
                source, f"segment {position + 1}", "file ends without a segment terminator"
            )
    finally:
        if path is not None:
            stream.close()


def segments_from_bytes(data: bytes, source: str) -> list[Segment]:
    return list(iter_segments(io.BytesIO(data), source))
