"""The plugin manager: loading, switches, duplicates, broken plugins, typed lookups."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from claimferry import manager as manager_module
from claimferry.api import (
    ClaimTransport,
    CredentialSource,
    EnrollmentValidator,
    hookimpl,
)
from claimferry.errors import PluginError
from claimferry.manager import PluginManager


def _validator(name: str) -> EnrollmentValidator:
    return EnrollmentValidator(name=name, check=lambda claims, context: [])


class GoodPlugin:
    @hookimpl
    def claimferry_enrollment_validators(self) -> Iterator[EnrollmentValidator]:
        yield _validator("third-party-rules")


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """Entry points that point at modules made up for the test, never installed ones."""
    modules: dict[str, object] = {}

    def entry_points(group: str) -> list[EntryPoint]:
        assert group == "claimferry"
        return [EntryPoint(name, f"fake_cf_{name.replace('-', '_')}", group) for name in modules]

    monkeypatch.setattr(manager_module, "entry_points", entry_points)
    for var in ("CLAIMFERRY_BLOCK_PLUGINS", "CLAIMFERRY_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield modules
    finally:
        for name in modules:
            sys.modules.pop(f"fake_cf_{name.replace('-', '_')}", None)


def _install(modules: dict[str, object], name: str, body: dict[str, Any]) -> None:
    module = types.ModuleType(f"fake_cf_{name.replace('-', '_')}")
    module.__dict__.update(body)
    sys.modules[module.__name__] = module
    modules[name] = module


def test_builtins_register_through_entry_points(plugin_manager: PluginManager) -> None:
    names = {name for name, _ in plugin_manager.list_name_plugin()}
    assert {"content-checks", "credentials", "officeally", "harness"} <= names
    assert all(plugin_manager.plugin_info(n).builtin for n in names)
    assert plugin_manager.load_failures == []


def test_broken_plugin_is_reported_not_fatal(fake_entry_points: dict[str, object]) -> None:
    _install(
        fake_entry_points,
        "good",
        {"claimferry_enrollment_validators": GoodPlugin().claimferry_enrollment_validators},
    )
    fake_entry_points["broken"] = None  # no module: importing it fails
    pm = PluginManager().load()
    assert [f.name for f in pm.load_failures] == ["broken"]
    assert "ModuleNotFoundError" in pm.load_failures[0].error
    assert [v.name for v in pm.enrollment_validators()] == ["third-party-rules"]


def test_misspelt_hook_fails_loudly(fake_entry_points: dict[str, object]) -> None:
    @hookimpl
    def claimferry_enrolment_validators() -> list[EnrollmentValidator]:
        return []

    _install(
        fake_entry_points,
        "typo",
        {"claimferry_enrolment_validators": claimferry_enrolment_validators},
    )
    with pytest.raises(PluginError) as caught:
        PluginManager().load()
    message = str(caught.value)
    assert "plugin typo implements claimferry_enrolment_validators" in message
    assert message.endswith("CLAIMFERRY_BLOCK_PLUGINS=typo")
    assert "\n" not in message and "<module" not in message


def test_misspelt_hook_advice_keeps_what_is_blocked(
    fake_entry_points: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    @hookimpl
    def claimferry_clearinghouse() -> list[object]:
        return []

    @hookimpl(optionalhook=True)
    def claimferry_future_hook() -> list[object]:
        return []

    _install(fake_entry_points, "typo", {"claimferry_clearinghouse": claimferry_clearinghouse})
    _install(fake_entry_points, "optional", {"claimferry_future_hook": claimferry_future_hook})
    _install(fake_entry_points, "other", {})
    monkeypatch.setenv("CLAIMFERRY_BLOCK_PLUGINS", "other")
    with pytest.raises(PluginError) as caught:
        PluginManager().load()
    message = str(caught.value)
    assert "claimferry_future_hook" not in message  # optional hooks may be unknown
    assert message.endswith("CLAIMFERRY_BLOCK_PLUGINS=other,typo")
    monkeypatch.setenv("CLAIMFERRY_BLOCK_PLUGINS", "other,typo")
    assert [n for n, _ in PluginManager().load().list_name_plugin()] == ["optional"]


def test_block_and_allow_switches(
    fake_entry_points: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two"):
        _install(fake_entry_points, name, {})
    monkeypatch.setenv("CLAIMFERRY_BLOCK_PLUGINS", "one")
    assert [n for n, _ in PluginManager().load().list_name_plugin()] == ["two"]
    monkeypatch.delenv("CLAIMFERRY_BLOCK_PLUGINS")
    monkeypatch.setenv("CLAIMFERRY_LOAD_PLUGINS", "one")
    assert [n for n, _ in PluginManager().load().list_name_plugin()] == ["one"]


def test_duplicate_names_name_both_plugins() -> None:
    pm = PluginManager().load("none")

    class Twin:
        @hookimpl
        def claimferry_enrollment_validators(self) -> list[EnrollmentValidator]:
            return [_validator("third-party-rules")]

    pm.register_plugin(GoodPlugin(), "first-plugin")
    pm.register_plugin(Twin(), "second-plugin")
    with pytest.raises(PluginError) as caught:
        pm.enrollment_validators()
    message = str(caught.value)
    assert "first-plugin" in message and "second-plugin" in message
    assert "'third-party-rules'" in message


def test_wrong_registration_type_and_raising_hook_are_plugin_errors() -> None:
    pm = PluginManager().load("none")

    class Wrong:
        @hookimpl
        def claimferry_claim_transports(self) -> list[object]:
            return ["not a transport"]

    class Raising:
        @hookimpl
        def claimferry_credential_sources(self) -> list[CredentialSource]:
            raise RuntimeError("vault unreachable")

    pm.register_plugin(Wrong(), "wrong")
    pm.register_plugin(Raising(), "raising")
    with pytest.raises(PluginError, match=r"plugin wrong returned str .* expected ClaimTransport"):
        pm.transports()
    with pytest.raises(PluginError, match=r"plugin raising failed in .*vault unreachable"):
        pm.credential_sources()


def test_typed_lookup_lists_what_exists(plugin_manager: PluginManager) -> None:
    with pytest.raises(PluginError, match=r"no transport named 'carrier-pigeon' \(available: "):
        plugin_manager.get_transport("carrier-pigeon")


@pytest.mark.parametrize("name", ["", "Upper", "has space", "-lead", "x" * 0])
def test_registration_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match="must be lowercase"):
        ClaimTransport(name=name, open=lambda account, credentials: None)  # type: ignore[arg-type,return-value]


def test_trace_switch_logs_hook_calls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pm = PluginManager().load("none")
    pm.register_plugin(GoodPlugin(), "traced")
    monkeypatch.setenv("CLAIMFERRY_TRACE_PLUGINS", "1")
    pm.enrollment_validators()
    assert "hook claimferry_enrollment_validators -> traced" in capsys.readouterr().err


def test_listing_survives_a_raising_hook() -> None:
    pm = PluginManager().load("none")

    class Raising:
        @hookimpl
        def claimferry_clearinghouses(self) -> list[object]:
            raise RuntimeError("profiles file unreadable")

    pm.register_plugin(GoodPlugin(), "good")
    pm.register_plugin(Raising(), "raising")
    table, failures = pm.registrations()
    assert table["good"] == {"claimferry_enrollment_validators": ["third-party-rules"]}
    assert [(f.plugin, f.hook) for f in failures] == [("raising", "claimferry_clearinghouses")]
    assert "profiles file unreadable" in failures[0].error


def test_payer_list_callables_written_before_database_still_work() -> None:
    """A clearinghouse profile's payer-list callables from before ``database=`` was
    added are called without it; newer ones get it."""
    from claimferry.types import payer_list_call

    def before(state_dir: Path, payer_id: str, transaction: str) -> tuple[str, str]:
        return payer_id, transaction

    def after(
        state_dir: Path, payer_id: str, transaction: str, *, database: str | None = None
    ) -> str | None:
        return database

    url = "postgresql://claimferry@db/ledger"
    assert payer_list_call(before, Path("s"), "P1", "837P", database=url) == ("P1", "837P")
    assert payer_list_call(after, Path("s"), "P1", "837P", database=url) == url
