"""``claimferry demo`` runs the whole flow, and its folder can be looked at afterwards."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.manager import PluginManager
from e2e.support import mentions, sample_data, sample_phi


def test_demo_then_status_from_its_config(
    plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CLAIMFERRY_CONFIG", "CLAIMFERRY_STATE_DIR", "CLAIMFERRY_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))  # never the user's own state
    folder = tmp_path / "demo"
    cli = create_cli(plugin_manager)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["demo", "--dir", str(folder), "--timeout", "60"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "mock Office Ally listening on 127.0.0.1:" in result.stdout
    assert "uploaded " in result.stdout and "came back:" in result.stdout
    config = folder / "accounts.yaml"
    assert f"look again with: claimferry --config {config} status" in result.stdout
    assert mentions(result.output, sample_phi()) == []

    result = runner.invoke(
        cli, ["--config", str(config), "status", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    by_id = {c["claim"]: c for c in status["claims"]}
    assert sorted(by_id) == sorted(c["id"] for c in sample_data()["claims"])
    for claim_id, claim in by_id.items():
        path = [h["state"] for h in claim["history"]]
        assert path[:2] == ["built", "uploaded"], (claim_id, path)
        assert path[-1] in ("paid", "denied") and claim["state"] == path[-1], (claim_id, path)
        assert claim["account"] == "sunrise"
    assert [b["state"] for b in status["batches"]] == ["uploaded"]
    assert (folder / "state").is_dir() and not (tmp_path / "xdg").exists()

    # running it again in the same folder starts afresh
    result = runner.invoke(cli, ["demo", "--dir", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_demo_hint_works_with_a_state_dir_in_the_environment(
    plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CLAIMFERRY_STATE_DIR wins over the demo config's state_dir: the hint must say so."""
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "elsewhere"))
    folder = tmp_path / "demo"
    cli = create_cli(plugin_manager)
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--dir", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the hint is a shell command: VAR=value assignments, then claimferry and its arguments
    words = shlex.split(result.stdout.rsplit("look again with: ", 1)[1].strip())
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        monkeypatch.setenv(name, value)
    assert words[0] == "claimferry"
    result = runner.invoke(cli, [*words[1:], "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["claims"]) == len(sample_data()["claims"])
