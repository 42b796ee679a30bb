"""Shared fixtures. Every test gets a fresh plugin manager that loads only
claimferry's own plugins, never whatever else happens to be installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from claimferry.manager import PluginManager
from support.memory_keyring import MemoryKeyring

pytest_plugins = ["support.postgres"]

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


@pytest.fixture(autouse=True)
def _own_xdg_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """The default state directory, and the list of state directories kept there,
    are each test's own: never the user's, never another test's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


@pytest.fixture
def samples_dir() -> Path:
    """The public X12 samples in ../shared/samples (data to read, not code)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture
def plugin_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginManager]:
    """A fresh manager with the built-in plugins only; switches cleared."""
    for var in ("CLAIMFERRY_BLOCK_PLUGINS", "CLAIMFERRY_LOAD_PLUGINS", "CLAIMFERRY_TRACE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    pm = PluginManager().load("builtin")
    try:
        yield pm
    finally:
        for name, plugin in list(pm.list_name_plugin()):
            pm.unregister(plugin, name=name)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The keyring library pointed at a fresh in-memory keyring for one test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
