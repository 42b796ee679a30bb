"""Start-up: a command imports what it uses, and ``--help`` nothing heavy.

Every command pays its start-up, and so does a shell completion or a script
that asks ``claimferry status`` per account. Timings live in benchmarks/cli.py;
these tests hold the import structure that makes them, in a fresh process with
the installed plugins, as users run it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.cli.app import BUILT_IN, LazyCommand
from claimferry.manager import PluginManager

HEAVY = (
    "paramiko",
    "pydantic",
    "yaml",
    "claimferry.claims",
    "claimferry.ledger",
    "claimferry.submission",
    "claimferry.x12.remit835",
    "claimferry_harness.server",
    "claimferry_officeally.reports",
    "claimferry_checks.tables",
)
"""What a listing of commands does not need: SSH, the claim model, the ledger,
the 835 reader's tables, the mock server, the report readers, the code tables."""

_PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["claimferry", *{args!r}]
from claimferry.cli import main
main()
"""


def _modules(tmp_path: Path, *args: str) -> set[str]:
    """The modules a real ``claimferry ARGS`` run had imported when it exited."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        env={"CLAIMFERRY_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    modules = _modules(tmp_path, *args)
    assert "claimferry_officeally.payers_plugin" in modules  # plugins load: they add commands
    assert _loaded(modules, HEAVY) == []


def test_status_on_an_empty_ledger_needs_no_ssh_nor_claim_model(tmp_path: Path) -> None:
    modules = _modules(tmp_path, "status")
    assert "claimferry.ledger" in modules
    assert _loaded(modules, ("paramiko", "claimferry.claims", "claimferry.submission")) == []
    assert _loaded(modules, ("claimferry_harness.server", "claimferry_checks.tables")) == []


def test_a_command_imports_its_module_when_it_runs(tmp_path: Path) -> None:
    assert "claimferry.cli.commands" not in _modules(tmp_path, "--help")
    assert "claimferry.cli.commands" in _modules(tmp_path, "validate", "--help")


def test_each_listed_summary_is_the_commands_own() -> None:
    """``--help`` shows the summaries the registry keeps; they must say what the
    loaded command's docstring says, or the listing would drift from the help."""
    cli = create_cli(PluginManager().load())
    ctx = click.Context(cli)
    lazy = [c for c in cli.commands.values() if isinstance(c, LazyCommand)]
    assert {c.name for c in BUILT_IN} <= {c.name for c in lazy}
    assert "demo" in {c.name for c in lazy}  # a plugin's command may be lazy too
    for listed in lazy:
        name, loaded, _ = cli.resolve_command(ctx, [str(listed.name)])
        assert loaded is not None and not isinstance(loaded, LazyCommand)
        assert loaded.name == name == listed.name
        assert listed.get_short_help_str(200) == loaded.get_short_help_str(200), name
        assert cli.commands[name] is loaded  # loaded once


def test_a_lazy_command_runs_in_any_click_group() -> None:
    """A plugin may put one in a group of its own: the real command parses and runs."""
    group = click.Group("root")
    group.add_command(LazyCommand("harness", "claimferry_harness.cli:harness_group", "Mock."))
    result = CliRunner().invoke(group, ["harness", "serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--root" in result.output  # the real command's own options


def test_every_public_name_has_a_home_and_resolves() -> None:
    """``claimferry.api`` imports on first use: a name added to ``__all__`` without
    its home (or the other way round) would fail only in the plugin that uses it."""
    import claimferry.api as api

    assert set(api._HOME) == set(api.__all__)
    for name in api.__all__:
        assert getattr(api, name) is not None, name
