"""Reading input files with errors that name the file and the line.

Claims files, the accounts config, enrollment imports and secret files all
come through here, so every one of them fails the same precise way: an
:class:`InputError` naming the file (and line), never a traceback, and never
a quote of the content (it may hold PHI or secrets).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from claimferry.errors import InputError, Problem


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that leaves dates as text, so a schema reports an
    impossible date (1984-02-31) at its field instead of YAML failing the file."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_text(path: Path, *, what: str = "file") -> str:
    """UTF-8 text (a byte order mark is dropped)."""
    source = str(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem(source, "", f"{what} not found")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem(source, "", "not UTF-8 text")]) from None
    except OSError as exc:
        raise InputError([Problem(source, "", f"cannot read ({exc.strerror})")]) from None


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise InputError([Problem(source, where, "not valid YAML")]) from None


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(source, f"line {exc.lineno}", "not valid JSON")]) from None
