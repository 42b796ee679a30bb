"""Clearinghouse profiles from YAML: what gets registered, and precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from claimferry.api import FileNaming, InputError, PluginManager

from claimferry_generic_sftp.profiles import CONFIG_ENV
from conftest import write_profiles

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINUc9Uk1GQhMCVr2AocXuW5si3ewucmJrC/41194RMN3"


def test_profile_registers_a_clearinghouse(
    pm: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(write_profiles(tmp_path / "p.yaml", "h", 22, KEY)))
    acme = pm.get_clearinghouse("acme")
    assert acme.transport == "generic-sftp"
    assert (acme.receiver.isa_qualifier, acme.receiver.isa_id, acme.receiver.gs_id) == (
        "ZZ",
        "ACMECLAIMS",
        "ACMECLAIMS",
    )
    assert (acme.receiver.name, acme.receiver.id) == ("ACME CLAIMS EXCHANGE", "ACMECLAIMS")
    naming = FileNaming("sunrise", "SUNRISE01", test=False, interchange_control_number=7)
    assert acme.claim_file_name(naming) == "SUNRISE01_000000007_production.x12"
    assert (acme.label, acme.mailbox.inbound, acme.mailbox.outbound) == (
        "ACME Claims",
        "to_clearinghouse",
        "from_clearinghouse",
    )
    assert acme.mailbox.is_response("100000001_999_20261207.999")
    assert not acme.mailbox.is_response("100000001_EDI_STATUS_20261207.txt")


def test_no_config_means_no_clearinghouse(
    pm: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert pm.clearinghouses() == []
    assert [t.name for t in pm.transports()] == ["generic-sftp"]
    assert [s.name for s in pm.credential_sources()] == ["command"]


@pytest.mark.parametrize(
    ("change", "location", "message"),
    [
        ({"file_name": "{submitter_id}.x12"}, "file_name", "must contain {control_number}"),
        ({"file_name": "{npi}_{control_number}.x12"}, "file_name", "unknown field(s) npi"),
        ({"file_name": "out/{control_number}.x12"}, "file_name", "plain file name"),
        ({"responses": "(unclosed"}, "responses", "not a regular expression"),
        ({"receiver": {"isa_qualifier": "ZZ"}}, "receiver.isa_id", "required field is missing"),
    ],
)
def test_bad_profile_names_file_and_key(
    pm: PluginManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, object],
    location: str,
    message: str,
) -> None:
    path = write_profiles(tmp_path / "p.yaml", "h", 22, KEY)
    data = yaml.safe_load(path.read_text())
    data["clearinghouses"]["acme"].update(change)
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    with pytest.raises(InputError) as caught:  # a bad file keeps its exit code 2
        pm.clearinghouses()
    problems = [str(p) for p in caught.value.problems]
    assert any(
        p.startswith(f"{path}: clearinghouses.acme.{location}") and message in p for p in problems
    ), problems


def test_missing_config_file(pm: PluginManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, "/nonexistent/clearinghouses.yaml")
    with pytest.raises(InputError, match=f"not found \\(named by {CONFIG_ENV}\\)"):
        pm.clearinghouses()
