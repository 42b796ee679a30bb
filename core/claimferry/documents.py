"""Reading input files with errors that name the file and the line.

Claims files, the accounts config, enrollment imports and secret files all
come through here, so every one of them fails the same precise way: an
:class:`InputError` naming the file (and line), never a traceback, and never
a quote of the content (it may hold PHI or secrets). A key given twice is
refused, in YAML and in JSON: the last one would silently win (a charge of
4800 billed where the first line said 480).

Claims files, the big ones, are read by :func:`parse_claims_yaml` with ryaml (a
Rust YAML 1.2 parser, ten times PyYAML's C loader); the rest keep PyYAML, which is
also the fallback where ryaml has no wheel, and the second opinion on errors.
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jiter
import yaml
from yaml.nodes import MappingNode
from yaml.tokens import TagToken

from claimferry.errors import InputError, Problem

_fast_loads: Callable[[str], Any] | None
try:
    from ryaml import loads as _fast_loads  # type: ignore[attr-defined]
except ImportError:  # no wheel for this platform: PyYAML reads claims too
    _fast_loads = None

_MERGE_TAG = "tag:yaml.org,2002:merge"
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,39}$")
"""Keys are field names. Any other key (a name, a member id, a date used as a key)
may be PHI or a secret, so it is never shown."""


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key on line {line}")
        self.key = key
        self.line = line
        self.first_line = first_line


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that leaves dates as text, so a schema reports an
    impossible date (1984-02-31) at its field instead of YAML failing the file,
    and that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Keys a merge (``<<: *defaults``) brings in may be overridden; a key
        written twice may not."""
        if isinstance(node, MappingNode):
            seen: dict[object, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: the base constructor says so
                    continue
                if first is not None:
                    raise _DuplicateKey(key, line, first)
                seen[key] = line
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _duplicate(key: object) -> str:
    text = str(key)
    return f"duplicate key '{text}'" if _FIELD_NAME.match(text) else "duplicate key (not shown)"


def read_text(
    path: Path, *, what: str = "file", max_bytes: int | None = None, raise_limit: str = ""
) -> str:
    """UTF-8 text (a byte order mark is dropped).

    A file over ``max_bytes`` is refused before a byte of it is read: parsing
    holds the whole document in memory several times over. ``raise_limit``
    tells how to allow bigger ones.
    """
    with _reading(path, what), path.open(encoding="utf-8-sig") as handle:
        _within(handle, path, what, max_bytes, raise_limit)
        return handle.read()


def read_lines(
    path: Path, *, what: str = "file", max_bytes: int | None = None, raise_limit: str = ""
) -> Iterator[tuple[int, str]]:
    """Each line of UTF-8 text with its number, read as needed: a file of any
    length in the memory of one line. Fails as :func:`read_text` does; a line
    that is not UTF-8 is named."""
    with _reading(path, what), path.open("rb") as handle:
        _within(handle, path, what, max_bytes, raise_limit)
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputError([Problem(str(path), f"line {number}", "not UTF-8 text")]) from None
            yield number, line


def _within(handle: Any, path: Path, what: str, max_bytes: int | None, raise_limit: str) -> None:
    """Refuse a file over ``max_bytes`` by its size, before a byte of it is read."""
    if max_bytes is None:
        return
    size = os.fstat(handle.fileno()).st_size
    if size > max_bytes:
        message = f"{what} of {_mb(size)} is over the {_mb(max_bytes)} limit"
        hint = f" ({raise_limit})" if raise_limit else ""
        raise InputError([Problem(str(path), "", message + hint)])


@contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """A file that cannot be read, said as an :class:`InputError` naming it."""
    source = str(path)
    try:
        yield
    except FileNotFoundError:
        raise InputError([Problem(source, "", f"{what} not found")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem(source, "", "not UTF-8 text")]) from None
    except IsADirectoryError:
        raise InputError([Problem(source, "", f"is a directory, not a {what}")]) from None
    except OSError as exc:
        raise InputError([Problem(source, "", f"cannot read ({exc.strerror})")]) from None


def _mb(size: int) -> str:
    """Sizes as people set limits: ``200 MB`` (10**6 bytes), with the bytes when not round."""
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000} MB"
    return f"{size / 1_000_000:.1f} MB ({size:,} bytes)"


def parse_yaml(text: str, source: str) -> Any:
    """YAML 1.1 with PyYAML's C loader: merges, dates as text, no key twice."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as exc:
        message = f"{_duplicate(exc.key)} (first on line {exc.first_line})"
        raise InputError([Problem(source, f"line {exc.line}", message)]) from None
    except RecursionError:
        raise InputError([Problem(source, "", "nested too deeply")]) from None
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):
            raise InputError(
                [Problem(source, _at(exc.problem_mark), "nested too deeply")]
            ) from None
        raise InputError([_yaml_problem(exc, source)]) from None
    except yaml.YAMLError:
        raise InputError([Problem(source, "", "not valid YAML")]) from None
    except (ValueError, OverflowError):
        # an explicit tag whose value does not fit it (`!!int abc`); the value is not shown
        message = "not valid YAML: a value does not fit its explicit tag (!!int, !!float...)"
        raise InputError([Problem(source, "", message)]) from None


def _at(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Parsing and validation make many objects per claim and free none of them:
    the cyclic collector would walk the growing heap over and over for nothing
    (on 10,000 claims, a quarter of ryaml's time and more than half of the
    model's). Nothing here makes cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_claims_yaml(text: str, source: str) -> Any:
    """YAML 1.2 (``NO`` and ``0123`` stay text), read as fast as JSON.

    On an error PyYAML reads the file again: its messages have the line and
    column and keep file content out, where ryaml's may quote it or miss the
    line. A file ryaml refuses is refused even when PyYAML would take it, so a
    claims file means the same thing on every machine that has ryaml.
    """
    if _fast_loads is None:
        return parse_yaml(text, source)
    try:
        with gc_paused():
            document = _fast_loads(text)
    except ValueError as exc:  # ryaml's InvalidYamlError, and its TypeErrors wrapped
        parse_yaml(text, source)  # raises with the better message if PyYAML agrees
        raise InputError([_ryaml_problem(str(exc), source)]) from None
    if "!" in text:
        _refuse_tags(text, source)
    if "<<" in text:
        document = _merged(document)
    return document


_RYAML_AT = re.compile(r" at line (?P<line>\d+) column (?P<column>\d+)")
_RYAML_REASONS = {
    "recursion limit exceeded": "nested too deeply",
    "repetition limit exceeded": "not valid YAML 1.2: aliases expand to too much data",
}


def _ryaml_problem(message: str, source: str) -> Problem:
    """What ryaml refused and PyYAML took: said by ryaml, without the content
    its messages quote (a value that does not fit its type is shown whole)."""
    found = _RYAML_AT.search(message)
    where = f"line {found['line']}, column {found['column']}" if found else ""
    for marker, reason in _RYAML_REASONS.items():
        if marker in message:
            return Problem(source, where, reason)
    return Problem(source, where, "not valid YAML 1.2 (a value does not fit its type)")


_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


def _refuse_tags(text: str, source: str) -> None:
    """ryaml reads an unknown tag (``!foo x``) as a mapping ``{'!foo': 'x'}``;
    PyYAML's scanner finds the tags (a ``!`` inside text is not one), and any
    but the core schema's is refused where it stands."""
    loader = _Loader(text)
    try:
        while loader.check_token():
            token = loader.get_token()
            if isinstance(token, TagToken):
                handle, suffix = token.value
                tag = ("tag:yaml.org,2002:" if handle == "!!" else handle or "") + suffix
                if tag not in _CORE_TAGS:
                    shown = _QUOTED.sub(_shown, f"'{handle or ''}{suffix}'")
                    message = f"not valid YAML: tag {shown} is not used in claims files"
                    raise InputError([Problem(source, _at(token.start_mark), message)])
    except yaml.YAMLError:
        return  # ryaml read it; only a tag the scanner can reach is refused
    finally:
        loader.dispose()


_MERGE_KEY = "<<"


def _merged(node: Any) -> Any:
    """YAML merge keys (``<<: *line``), which YAML 1.2 dropped: the keys a merge
    brings in come first and the mapping's own override them, as in PyYAML."""
    if isinstance(node, list):
        return [_merged(item) for item in node]
    if not isinstance(node, dict):
        return node
    own = {key: _merged(value) for key, value in node.items() if key != _MERGE_KEY}
    if _MERGE_KEY not in node:
        return own
    sources = node[_MERGE_KEY]
    result: dict[Any, Any] = {}
    for source in reversed(sources if isinstance(sources, list) else [sources]):
        if isinstance(source, dict):
            result.update(_merged(source))
    result.update(own)
    return result


_QUOTED = re.compile(r"'([^']*)'")
_SHOWN = re.compile(r"^(?:[!<>\[\]{}(),:.\-]|[!A-Za-z0-9_:.\-]{1,40})$")
"""What the parser quotes of the file: a token (``','``, ``']'``) or a tag (``'!foo'``)
is shown; anything else might be content, which may be PHI or a secret."""


def _yaml_problem(exc: yaml.MarkedYAMLError, source: str) -> Problem:
    """The parser's own reason, located where the fix goes.

    A construct left open (a quote, a bracket) is only noticed where the file
    ends: then the place it was opened is the place to look, and both are said.
    """
    reason = _QUOTED.sub(_shown, str(exc.problem or "invalid"))
    problem_at, context_at = _at(exc.problem_mark), _at(exc.context_mark)
    if exc.context and context_at and context_at != problem_at:
        context = _QUOTED.sub(_shown, exc.context)
        if "end of stream" in reason:
            message = f"not valid YAML: {reason} at {problem_at} {context} that starts here"
            return Problem(source, context_at, message)
        reason = f"{reason} ({context} from {context_at})"
    return Problem(source, problem_at, f"not valid YAML: {reason}")


def _shown(quoted: re.Match[str]) -> str:
    return quoted[0] if _SHOWN.match(quoted[1]) else "(not shown)"


_JITER_ERROR = re.compile(r"^(?P<what>.*) at line (?P<line>\d+) column (?P<column>\d+)$")
_JITER_DUPLICATE = re.compile(r'^Detected duplicate key "(?P<key>.*)"$', re.DOTALL)


def parse_json(text: str, source: str) -> Any:
    """Strict JSON: no ``NaN``/``Infinity``, no key twice in one object, at most
    200 levels deep (jiter's limit: a claims file needs six)."""
    try:
        return jiter.from_json(text.encode(), allow_inf_nan=False, catch_duplicate_keys=True)
    except ValueError as exc:
        found = _JITER_ERROR.match(str(exc))
        what = found["what"] if found else str(exc)
        where = f"line {found['line']}, column {found['column']}" if found else ""
        duplicate = _JITER_DUPLICATE.match(what)
        if duplicate:
            message = _duplicate(duplicate["key"])
            where = f"line {found['line']}" if found else ""
        elif what.startswith("recursion limit"):
            message = "nested too deeply"
        else:
            message = f"not valid JSON: {_QUOTED.sub(_shown, what)}"
        raise InputError([Problem(source, where, message)]) from None


def _keys_once(pairs: list[tuple[str, Any]]) -> None:
    if len(dict(pairs)) != len(pairs):
        raise ValueError("duplicate key")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_CHECKER = json.JSONDecoder(object_pairs_hook=_keys_once, parse_constant=_no_constant)
"""Keeps nothing: each object's keys are counted and dropped, so a claims file that
pydantic then parses itself is checked at about half the cost of a full parse."""


def check_json(text: str, source: str) -> None:
    """Refuse what :func:`parse_json` refuses, without keeping a parsed document."""
    try:
        _CHECKER.decode(text)
    except (ValueError, RecursionError):
        parse_json(text, source)  # says what and where
        raise InputError([Problem(source, "", "not valid JSON")]) from None


def parse_json_line(line: str, source: str, number: int) -> Any:
    """One line of a JSON Lines file, as strict as :func:`parse_json`, its
    problems placed on line ``number`` of the file."""
    try:
        return parse_json(line, source)
    except InputError as exc:
        raise InputError(
            Problem(p.source, _on_line(p.location, number), p.message) for p in exc.problems
        ) from None


def _on_line(location: str, number: int) -> str:
    _, _, column = location.partition(", ")
    return f"line {number}, {column}" if column else f"line {number}"
