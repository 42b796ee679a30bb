"""Changing the accounts config in place: ``hostkey --pin``, ``accounts add|remove``
and ``onboard promote``.

The file is the operator's: its comments, order, quoting and indentation are
kept (ruamel.yaml's round trip), only the changed values differ, and the new
file replaces the old one atomically with the same permissions, so a crash
leaves one or the other, never half of each.
"""

from __future__ import annotations

import fcntl
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from claimferry.documents import read_text
from claimferry.errors import ConfigError, Problem
from claimferry.storage import StorageError, atomic_write


def pin_host_key(path: Path, accounts: Iterable[str], openssh: str) -> None:
    """Write ``openssh`` (``"<type> <base64>"``) as ``sftp.host_key`` of each account."""

    def pin(data: Any) -> None:
        for name in accounts:
            sftp = _sftp_section(data, name, str(path))
            value = DoubleQuotedScalarString(openssh)
            if "host_key" in sftp or not isinstance(sftp, CommentedMap):
                sftp["host_key"] = value
            else:  # a new pin goes where a reader looks for it: beside the host
                keys = list(sftp)
                after = max((keys.index(k) for k in ("host", "port") if k in keys), default=-1)
                sftp.insert(after + 1, "host_key", value)

    _edit(path, pin)


def add_account(
    path: Path, name: str, settings: dict[str, Any], check: Callable[[Any], object]
) -> None:
    """Append account ``name`` (a new config file when there is none), after ``check``
    has passed the whole config as it would be written."""

    def add(data: Any) -> None:
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if accounts is None and isinstance(data, dict):
            accounts = data["accounts"] = CommentedMap()
        if not isinstance(accounts, dict):
            raise ConfigError([Problem(str(path), "accounts", "expected a mapping of accounts")])
        if name in accounts:
            raise ConfigError(
                [Problem(str(path), f"accounts.{name}", "exists already (accounts show NAME)")]
            )
        accounts[name] = _block(settings)
        check(data)

    _edit(path, add, create=True)


def remove_account(path: Path, name: str, check: Callable[[Any], object]) -> None:
    """Take account ``name`` out; the rest of the file, comments included, stays."""

    def remove(data: Any) -> None:
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if not isinstance(accounts, dict) or name not in accounts:
            raise ConfigError([Problem(str(path), f"accounts.{name}", "no such account")])
        del accounts[name]
        check(data)

    _edit(path, remove)


def set_mode(path: Path, name: str, mode: str, check: Callable[[Any], object]) -> None:
    """Set account ``name``'s ``mode`` (``onboard promote``), the rest untouched."""

    def change(data: Any) -> None:
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if not isinstance(accounts, dict) or not isinstance(accounts.get(name), dict):
            raise ConfigError([Problem(str(path), f"accounts.{name}", "no such account")])
        accounts[name]["mode"] = mode
        check(data)

    _edit(path, change)


def _block(settings: dict[str, Any]) -> CommentedMap:
    """Nested settings as block mappings, the layout people write by hand."""
    out = CommentedMap()
    for key, value in settings.items():
        out[key] = _block(value) if isinstance(value, dict) else value
    return out


def _edit(path: Path, change: Callable[[Any], None], *, create: bool = False) -> None:
    """Load ``path`` round-trip, ``change`` it in place, and replace the file atomically
    with the same permissions; ``create`` starts a missing file (mode 0644: it holds
    no secret).

    Edits queue on a lock of the config's folder, so two at once (two operators
    adding accounts) both land: each reads the file only once it holds the lock.
    """
    with _edit_lock(path):
        new = create and not path.exists()
        source = str(path)
        text = "accounts:\n" if new else read_text(path, what="config file")
        try:
            _, indent, block_seq_indent = load_yaml_guess_indent(text)
            yaml = _round_trip(indent, block_seq_indent)
            data = yaml.load(text)
        except YAMLError as exc:
            raise ConfigError([Problem(source, "", f"not valid YAML ({exc})")]) from None
        change(data)
        out = io.StringIO()
        yaml.dump(data, out)
        written = out.getvalue()
        if new:
            atomic_write(path, written.encode("utf-8"), mode=0o644)
            return
        if b"\r\n" in path.read_bytes():
            written = written.replace("\n", "\r\n")
        target = path.resolve()  # a symlinked config keeps its link
        atomic_write(target, written.encode("utf-8"), mode=stat.S_IMODE(target.stat().st_mode))


@contextmanager
def _edit_lock(path: Path) -> Iterator[None]:
    """A lock on the config's folder: the file itself cannot carry one, since each
    edit replaces it, and a lock file beside it would be litter."""
    folder = path.resolve().parent
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        cause = exc.strerror or exc.__class__.__name__
        raise StorageError(f"{folder}: cannot open the config's folder ({cause})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _round_trip(indent: int | None, block_seq_indent: int | None) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # a key is one long line; never fold it
    mapping = indent or 2
    offset = block_seq_indent or 0
    yaml.indent(mapping=mapping, sequence=max(mapping, offset + 2), offset=offset)
    return yaml


def _sftp_section(data: object, name: str, source: str) -> dict[str, object]:
    accounts = data.get("accounts") if isinstance(data, dict) else None
    account = accounts.get(name) if isinstance(accounts, dict) else None
    sftp = account.get("sftp") if isinstance(account, dict) else None
    if not isinstance(sftp, dict):
        raise ConfigError(
            [Problem(source, f"accounts.{name}.sftp", "no sftp section to pin the key in")]
        )
    return sftp
