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
    ctx = error.get("ctx")
    if kind == "too_short" and isinstance(ctx, dict):
        return f"at least {ctx['min_length']} required"
    if kind == "too_long" and isinstance(ctx, dict):
        return f"at most {ctx['max_length']} allowed, not {ctx['actual_length']}"
    if kind == "decimal_max_digits" and isinstance(ctx, dict):
        return f"at most {ctx['max_digits']} digits, the most its X12 element holds"
    if isinstance(kind, str) and kind.startswith("date_"):
        return f"{_date_reason(kind, msg)}; use YYYY-MM-DD"
    if kind == "finite_number":
        return "not a finite number (too large, or infinity or NaN)"
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    return msg


def _date_reason(kind: str, msg: str) -> str:
    """pydantic's reason without its wording about datetimes, which a file never holds."""
    if kind == "date_from_datetime_parsing":
        return "not a date: " + msg.removeprefix("Input should be a valid date or datetime, ")
    if kind in ("date_from_datetime_inexact", "date_number"):
        return "a number, not a date"
    return "not a date"


def problems_from_validation_error(
    exc: ValidationError,
    source: str,
    locate: Callable[[tuple[int | str, ...]], str] | None = None,
) -> list[Problem]:
    """One problem per error. Input values are never echoed (they may be PHI).

    pydantic counts a tuple's length after dropping the items that failed, so
    a claim whose one line is bad would also be told it has "at least 1
    required" lines: a list with failed items is not also called too short.
    """
    errors = exc.errors(include_input=False, include_url=False)
    with_bad_items = {
        tuple(error["loc"][:at])
        for error in errors
        for at, part in enumerate(error["loc"])
        if isinstance(part, int)
    }
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and loc in with_bad_items:
            continue
        where = locate(loc) if locate else dotted(loc)
        problems.append(Problem(source, where, _message(dict(error))))
    return problems
