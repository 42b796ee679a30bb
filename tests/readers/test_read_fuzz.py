"""Mutated and truncated responses: every reader fails only with the project's InputError.

A traceback from a response file would break promise 8 (bad input yields a
precise error, never a crash), so the readers are fed random damage to every
sample: byte flips, deleted and duplicated segments, swapped delimiters and
truncation.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimferry.errors import InputError
from claimferry.x12.ack999 import read_999
from claimferry.x12.remit835 import iter_835, read_835
from claimferry.x12.responses import detect_kind, read_response
from claimferry.x12.segments import iter_segments
from claimferry.x12.status277 import iter_277_claims, read_277ca
from claimferry.x12.ta1 import read_ta1

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
RESPONSE_PREFIXES = ("TA1_", "999_", "277CA_", "835_")
SAMPLE_BYTES = (
    [p.read_bytes() for p in sorted(SAMPLES.iterdir()) if p.name.startswith(RESPONSE_PREFIXES)]
    if SAMPLES.is_dir()
    else []
)
pytestmark = pytest.mark.skipif(not SAMPLE_BYTES, reason=f"shared samples not found at {SAMPLES}")

READERS: dict[str, Callable[[Any, str], object]] = {
    "ta1": read_ta1,
    "999": read_999,
    "277ca": read_277ca,
    "277ca-stream": lambda segments, source: list(iter_277_claims(segments, source)),
    "835": read_835,
    "835-stream": lambda segments, source: list(iter_835(segments, source)),
}
DELIMITERS = b"*:~|>^\n"


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each '~'-terminated piece, good enough to cut segments out."""
    spans, start = [], 0
    for index, byte in enumerate(data):
        if byte == ord("~"):
            spans.append((start, index + 1))
            start = index + 1
    return spans or [(0, len(data))]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE_BYTES)))
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        how = draw(
            st.sampled_from(["flip", "delete", "duplicate", "swap", "truncate", "delimiter"])
        )
        if how == "flip":
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        elif how == "delimiter":
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.sampled_from(DELIMITERS))
        elif how in ("delete", "duplicate"):
            spans = _segments(bytes(data))
            start, end = spans[draw(st.integers(0, len(spans) - 1))]
            piece = data[start:end]
            data[start:end] = piece * 2 if how == "duplicate" else b""
        elif how == "swap":
            a, b = draw(st.sampled_from(DELIMITERS)), draw(st.sampled_from(DELIMITERS))
            data = bytearray(
                bytes(data)
                .replace(bytes([a]), b"\0")
                .replace(bytes([b]), bytes([a]))
                .replace(b"\0", bytes([b]))
            )
        else:
            data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(READERS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_damaged_responses_raise_only_input_errors(name: str, data: bytes) -> None:
    try:
        READERS[name](iter_segments(io.BytesIO(data), "fuzz.x12"), "fuzz.x12")
    except InputError as error:
        assert error.problems and all(p.source == "fuzz.x12" for p in error.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_damaged_files_through_read_response_raise_only_input_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "response.x12"
        path.write_bytes(data)
        try:
            detect_kind(path)
            document = read_response(path)
        except InputError:
            return
        document.to_dict()
        document.render()


@settings(max_examples=200, deadline=None)
@given(data=st.sampled_from(SAMPLE_BYTES or [b""]), cut=st.floats(0, 1))
def test_truncated_samples_are_refused_precisely(data: bytes, cut: float) -> None:
    truncated = data[: int(len(data) * cut)]
    if truncated.rstrip(b"\r\n") == data.rstrip(b"\r\n"):
        return
    for reader in READERS.values():
        with pytest.raises(InputError):
            reader(iter_segments(io.BytesIO(truncated), "cut.x12"), "cut.x12")
