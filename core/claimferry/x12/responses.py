"""Tell what kind of response a file is, from its content, and read it.

File names from clearinghouses are unreliable (Office Ally's "accepted" 999
can be a rejection), so the kind comes from the envelope: a TA1 right after
ISA with no functional group, or the transaction set in ST01 (GS08 tells a
277CA from other 277s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from claimferry.errors import InputError, Problem
from claimferry.x12.ack999 import read_999
from claimferry.x12.claims837 import IMPLEMENTATION_837P
from claimferry.x12.remit835 import read_835
from claimferry.x12.segments import UTF8_BOM, Segment, X12SyntaxError, read_segments
from claimferry.x12.status277 import read_277ca
from claimferry.x12.ta1 import read_ta1

ResponseKind = Literal["TA1", "999", "277CA", "835"]

_HEAD = 4096


class X12Document(Protocol):
    """What every parsed X12 response offers the CLI (`claimferry show`)."""

    @property
    def kind(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def notices(self) -> tuple[Problem, ...]: ...

    def to_dict(self, *, phi: bool = False) -> dict[str, Any]:
        """A JSON-able form: Decimals as strings, dates ISO, PHI masked unless ``phi``."""
        ...

    def render(self, *, phi: bool = False) -> str:
        """A short summary for a person."""
        ...


_READERS: dict[str, Callable[[Iterator[Segment], str], X12Document]] = {
    "TA1": read_ta1,
    "999": read_999,
    "277CA": read_277ca,
    "835": read_835,
}


def _looks_like_x12(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            head = stream.read(_HEAD)
    except OSError as error:
        raise InputError(
            [Problem(str(path), "", f"cannot read the file: {error.strerror}")]
        ) from None
    return head.removeprefix(UTF8_BOM).lstrip(b" \t\r\n").startswith(b"ISA")


def detect_kind(path: Path) -> ResponseKind | None:
    """The kind of response in ``path``, or None when it is not X12 or not a response.

    Reads only the envelope up to the first ST. A file that starts like X12
    but is malformed before its kind shows raises the precise X12SyntaxError.
    """
    if not _looks_like_x12(path):
        return None
    seen_ta1 = False
    group_version = ""
    for segment in read_segments(path):
        if segment.id == "TA1":
            seen_ta1 = True
        elif segment.id == "GS":
            group_version = segment.element(8)
        elif segment.id == "ST":
            return _kind_of(segment, group_version)
        elif segment.id == "IEA":
            return "TA1" if seen_ta1 else None
        elif segment.id not in ("ISA", "GE", "SE"):
            return None
    return None


def is_837p(path: Path) -> bool:
    """True when ``path`` holds an 837P (005010X222): a claims file as we send it.

    Kept apart from :func:`detect_kind`: an 837P is never a response, and the
    response pipeline must not take one for an answer.
    """
    if not _looks_like_x12(path):
        return False
    group_version = ""
    for segment in read_segments(path):
        if segment.id == "GS":
            group_version = segment.element(8)
        elif segment.id == "ST":
            implementation = segment.element(3) or group_version
            return segment.element(1) == "837" and implementation.startswith(IMPLEMENTATION_837P)
        elif segment.id != "ISA":
            return False
    return False


def _kind_of(st: Segment, group_version: str) -> ResponseKind | None:
    transaction = st.element(1)
    if transaction == "999":
        return "999"
    if transaction == "835":
        return "835"
    if transaction == "277" and "X214" in (st.element(3) or group_version):
        return "277CA"
    return None


def read_response(path: Path) -> X12Document:
    """Read a TA1, 999, 277CA or 835 file into its document, whatever its name."""
    kind = detect_kind(path)
    if kind is None:
        raise X12SyntaxError(
            str(path), "", "expected an X12 TA1, 999, 277CA (005010X214) or 835 response"
        )
    return _READERS[kind](read_segments(path), str(path))
