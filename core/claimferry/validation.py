"""Turning pydantic's validation errors into problems, findings, and what did parse.

A claim that fails its schema is still worth checking: the content checks run
on the parts that parsed, so one pass reports everything. :func:`salvage`
builds such a part-object; where a value failed it holds :class:`Unparsed`,
which refuses every use with :class:`UnparsedError`, so a check that needs it
stops instead of judging a value that is not there.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Annotated, Any, NoReturn

from pydantic import ConfigDict, TypeAdapter, ValidationError

from claimferry.errors import Problem
from claimferry.findings import Finding, Severity


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
    if kind in _UNKNOWN_FIELD:
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


_UNKNOWN_FIELD = ("extra_forbidden", "unexpected_keyword_argument")  # models, dataclasses


def _date_reason(kind: str, msg: str) -> str:
    """pydantic's reason without its wording about datetimes, which a file never holds."""
    if kind == "date_from_datetime_parsing":
        return "not a date: " + msg.removeprefix("Input should be a valid date or datetime, ")
    if kind in ("date_from_datetime_inexact", "date_number"):
        return "a number, not a date"
    return "not a date"


def _code(kind: str) -> str:
    """A finding code for a pydantic error type: stable words, not pydantic's."""
    if kind == "missing":
        return "FIELD-MISSING"
    if kind in _UNKNOWN_FIELD:
        return "FIELD-UNKNOWN"
    if kind.startswith("date_"):
        return "DATE-FORMAT"
    if kind == "zip_number":
        return "ZIP-NUMBER"
    if kind.endswith("too_long") or kind == "decimal_max_digits":
        return "TOO-LONG"
    if kind.endswith("too_short"):
        return "TOO-SHORT"
    if kind == "value_error":
        return "SCHEMA-RULE"
    return "SCHEMA-" + kind.upper().replace("_", "-")


_FIXES = {
    "FIELD-MISSING": "add the field (docs/claims.md lists what each part needs)",
    "FIELD-UNKNOWN": "remove it, or correct its spelling (docs/claims.md lists the fields)",
    "DATE-FORMAT": "write the date as YYYY-MM-DD",
    "TOO-LONG": "shorten it to what the 837P element holds",
    "SCHEMA-DECIMAL-PARSING": "write a plain number, e.g. 480.00",
    "SCHEMA-INT-PARSING": "write a whole number",
    "SCHEMA-STRING-TYPE": "write it as text (quote it)",
}


def _errors(exc: ValidationError) -> Iterator[dict[str, Any]]:
    """pydantic's errors, without input values (they may be PHI).

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
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in with_bad_items:
            continue
        yield dict(error)


def problems_from_validation_error(
    exc: ValidationError,
    source: str,
    locate: Callable[[tuple[int | str, ...]], str] | None = None,
) -> list[Problem]:
    """One problem per error. Input values are never echoed (they may be PHI)."""
    problems = []
    for error in _errors(exc):
        loc = tuple(error["loc"])
        where = locate(loc) if locate else dotted(loc)
        problems.append(Problem(source, where, _message(error)))
    return problems


def findings_from_validation_error(
    exc: ValidationError, claim_id: str | None, prefix: tuple[int | str, ...] = ()
) -> list[Finding]:
    """One error finding per schema error, with a code and, where it helps, a fix.

    ``prefix`` places the errors in the file (``('claims', 3)`` for a claim
    without a usable id); the field is the path under it.
    """
    findings = []
    for error in _errors(exc):
        code = _code(str(error["type"]))
        message = _message(error)
        findings.append(
            Finding(
                Severity.ERROR,
                code,
                message,
                claim_id,
                dotted(prefix + tuple(error["loc"])) or None,
                "schema",
                fix="" if "; " in message else _FIXES.get(code, ""),
            )
        )
    return findings


# -- what parsed ------------------------------------------------------------------


class UnparsedError(Exception):
    """A check reached a value that failed its schema (it was reported there)."""


class Unparsed:
    """In place of a value that failed its schema: every use raises :class:`UnparsedError`.

    ``is None`` is the one question it answers (no), so an optional part that
    was given, but badly, is not taken for absent.
    """

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def _refuse(self, *args: object) -> NoReturn:
        raise UnparsedError(self.path)

    def __getattr__(self, name: str) -> NoReturn:
        raise UnparsedError(self.path)

    def __repr__(self) -> str:
        return f"<unparsed {self.path}>"

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = _refuse
    __str__ = __format__ = __int__ = __float__ = __index__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __neg__ = _refuse


_Locations = list[tuple[int | str, ...]]


def salvage(
    cls: type[Any], raw: Mapping[str, Any], exc: ValidationError, config: ConfigDict
) -> Any:
    """An instance of the pydantic dataclass ``cls`` from ``raw``, whose validation
    failed with ``exc``: the fields that parse hold their values, the others
    :class:`Unparsed`. Object-level rules that failed (two names given, say)
    leave the fields themselves usable.

    Built with ``object.__new__``: the object is for checks to read, never to
    build an 837P from.
    """
    return _salvage(cls, raw, [tuple(error["loc"]) for error in _errors(exc)], config, "")


def _salvage(
    cls: Any, raw: Mapping[str, Any], errors: _Locations, config: ConfigDict, path: str
) -> Any:
    values: dict[str, Any] = {}
    settings = tuple(sorted(config.items()))
    for name, field in cls.__pydantic_fields__.items():
        where = f"{path}.{name}" if path else name
        under = [loc[1:] for loc in errors if loc[:1] == (name,)]
        if name not in raw:
            values[name] = Unparsed(where) if field.is_required() else field.get_default()
        elif not under:
            values[name] = _parsed(_adapter(cls, name, settings), raw[name], where)
        else:
            values[name] = _salvage_value(_field_type(cls, name), raw[name], under, config, where)
    obj = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj


def _salvage_value(kind: Any, raw: Any, errors: _Locations, config: ConfigDict, path: str) -> Any:
    """What parsed of one field's value: a part-object, a tuple with its bad items
    unparsed, or :class:`Unparsed` when nothing of it can be used."""
    if () in errors:  # the value as a whole failed (wrong type, too many items...)
        return Unparsed(path)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and isinstance(raw, Mapping):
        return _salvage(kind, raw, errors, config, path)
    if typing.get_origin(kind) is tuple and isinstance(raw, list):
        item_kind = typing.get_args(kind)[0]
        items = []
        for index, item in enumerate(raw):
            under = [loc[1:] for loc in errors if loc[:1] == (index,)]
            if under:
                items.append(_salvage_value(item_kind, item, under, config, f"{path}[{index}]"))
            else:
                settings = tuple(sorted(config.items()))
                items.append(_parsed(_item_adapter(item_kind, settings), item, f"{path}[{index}]"))
        return tuple(items)
    return Unparsed(path)


def _parsed(adapter: TypeAdapter[Any], raw: Any, path: str) -> Any:
    """The value, or :class:`Unparsed` should it fail on its own (a rule of its
    object that the whole did not reach): a part-object never raises."""
    try:
        return adapter.validate_python(raw)
    except ValidationError:
        return Unparsed(path)


def _field_type(cls: type[Any], name: str) -> Any:
    """The field's type without ``None`` and ``Annotated`` wrappings."""
    kind = cls.__pydantic_fields__[name].annotation
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        kind = kinds[0] if len(kinds) == 1 else kind
    return _bare(kind)


def _bare(kind: Any) -> Any:
    while typing.get_origin(kind) is Annotated:
        kind = typing.get_args(kind)[0]
    return kind


_Settings = tuple[tuple[str, Any], ...]
"""A ``ConfigDict``'s items, hashable for the adapter caches."""


@cache
def _adapter(cls: type[Any], name: str, settings: _Settings) -> TypeAdapter[Any]:
    """One field's schema on its own, constraints and all."""
    field = cls.__pydantic_fields__[name]
    kind = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return _item_adapter(kind, settings)


@cache
def _item_adapter(kind: Any, settings: _Settings) -> TypeAdapter[Any]:
    if dataclasses.is_dataclass(_bare(kind)):
        return TypeAdapter(kind)  # a dataclass has its own config
    return TypeAdapter(kind, config=ConfigDict(**dict(settings)))  # type: ignore[typeddict-item]


def findings_of_parsed(findings: Iterable[Finding]) -> list[Finding]:
    """What a check found in a part-claim before it reached a value that failed its schema.

    That value was reported by the schema; the check stops there, quietly. A
    ``TypeError`` counts too: a function written in C (a regular expression's
    ``match``) says so when handed an :class:`Unparsed`.
    """
    made: list[Finding] = []
    try:
        for finding in findings:
            made.append(finding)
    except (UnparsedError, TypeError):
        pass
    return made
