"""Changing the accounts config in place, for ``claimferry hostkey --pin``.

The file is the operator's: its comments, order, quoting and indentation are
kept (ruamel.yaml's round trip), only the changed values differ, and the new
file replaces the old one atomically with the same permissions, so a crash
leaves one or the other, never half of each.
"""

from __future__ import annotations

import io
import stat
from collections.abc import Iterable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from claimferry.documents import read_text
from claimferry.errors import ConfigError, Problem
from claimferry.storage import atomic_write


def pin_host_key(path: Path, accounts: Iterable[str], openssh: str) -> None:
    """Write ``openssh`` (``"<type> <base64>"``) as ``sftp.host_key`` of each account."""
    source = str(path)
    text = read_text(path, what="config file")
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        yaml = _round_trip(indent, block_seq_indent)
        data = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError([Problem(source, "", f"not valid YAML ({exc})")]) from None
    for name in accounts:
        sftp = _sftp_section(data, name, source)
        value = DoubleQuotedScalarString(openssh)
        if "host_key" in sftp or not isinstance(sftp, CommentedMap):
            sftp["host_key"] = value
        else:  # a new pin goes where a reader looks for it: beside the host
            keys = list(sftp)
            after = max((keys.index(k) for k in ("host", "port") if k in keys), default=-1)
            sftp.insert(after + 1, "host_key", value)
    out = io.StringIO()
    yaml.dump(data, out)
    written = out.getvalue()
    if b"\r\n" in path.read_bytes():
        written = written.replace("\n", "\r\n")
    target = path.resolve()  # a symlinked config keeps its link
    atomic_write(target, written.encode("utf-8"), mode=stat.S_IMODE(target.stat().st_mode))


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
