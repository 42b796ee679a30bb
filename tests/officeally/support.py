"""Shared helpers for the Office Ally report tests: the test data and the
plugin's own readers, exactly as the plugin manager hands them out."""

from __future__ import annotations

import shutil
from pathlib import Path

from claimferry.api import ResponseDocument, ResponseReader
from claimferry.lifecycle import find_reader
from claimferry.manager import PluginManager

DATA = Path(__file__).resolve().parents[1] / "data" / "officeally"


def readers(pm: PluginManager) -> dict[str, ResponseReader]:
    return {r.name: r for r in pm.response_readers() if r.name.startswith("officeally-")}


def read(pm: PluginManager, path: Path) -> tuple[str, ResponseDocument]:
    """The reader the core would pick for ``path``, and what it reads."""
    reader = find_reader(path, pm.response_readers())
    return reader.name, reader.read(path)


def copy(name: str, tmp_path: Path, as_name: str | None = None) -> Path:
    target = tmp_path / (as_name or name)
    shutil.copyfile(DATA / name, target)
    return target


def edited(name: str, tmp_path: Path, old: str, new: str, as_name: str | None = None) -> Path:
    """A copy of a test file with one text changed (it must be there)."""
    text = (DATA / name).read_bytes().decode("ascii")
    assert old in text, old
    target = tmp_path / (as_name or name)
    target.write_bytes(text.replace(old, new, 1).encode("ascii"))
    return target
