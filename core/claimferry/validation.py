"""Turning pydantic's validation errors into :class:`Problem` lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

from claimferry.errors import Problem


def dotted(loc: Sequence[int | str]) -> str:
    """``('claims', 0, 'lines', 1, 'charge')`` -> ``claims[0].lines[1].charge``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: dict[str, object]) -> str:
    kind = error.get("type")
    msg = str(error.get("msg", "invalid"))
    if kind == "missing":
        return "required field is missing"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # models, dataclasses
        return "unknown field"
    if kind == "tuple_type":  # the schema keeps lists as tuples; files have lists
        return "Input should be a valid list"
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    return msg


def problems_from_validation_error(
    exc: ValidationError,
    source: str,
    locate: Callable[[tuple[int | str, ...]], str] | None = None,
) -> list[Problem]:
    """One problem per error. Input values are never echoed (they may be PHI)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        where = locate(loc) if locate else dotted(loc)
        problems.append(Problem(source, where, _message(dict(error))))
    return problems
