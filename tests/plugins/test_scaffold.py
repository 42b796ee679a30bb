"""``claimferry plugin new``: each kind, written by the CLI, installed into a fresh venv
next to a claimferry wheel built from this checkout, passes its own tests there."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry.api import create_cli
from claimferry.manager import PluginManager
from claimferry.scaffold import KINDS
from plugins.venv_support import PIP_TIMEOUT, clean_env, copy_sources, pip

pytestmark = pytest.mark.slow


def _run(*argv: str, cwd: Path | None = None, timeout: float = PIP_TIMEOUT) -> str:
    done = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, env=clean_env({}), timeout=timeout
    )
    assert done.returncode == 0, f"{argv[:4]}:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding a claimferry wheel from this checkout, and pytest."""
    base = tmp_path_factory.mktemp("scaffold-venv")
    copy_sources(base / "claimferry")
    _run(sys.executable, "-m", "venv", str(base / "venv"), timeout=120)
    python = base / "venv" / "bin" / "python"
    wheels = base / "wheels"
    pip(python, "wheel", "--no-deps", "-q", "-w", str(wheels), str(base / "claimferry"))
    pip(python, "install", "-q", str(next(wheels.glob("claimferry-*.whl"))), "pytest")
    return python


def _new_plugin(name: str, kind: str, directory: Path) -> Path:
    """``claimferry plugin new``, as a user runs it; the package folder it wrote."""
    result = CliRunner().invoke(
        create_cli(PluginManager().load("none")),
        ["plugin", "new", name, "--kind", kind, "--directory", str(directory)],
    )
    assert result.exit_code == 0, result.output
    package = directory / f"claimferry-{name}"
    assert result.output.startswith(f"wrote {package}\n")
    return package


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_new_plugin_passes_its_own_tests(kind: str, venv_python: Path, tmp_path: Path) -> None:
    name = f"acme-{kind}"
    package = _new_plugin(name, kind, tmp_path)
    assert {p.name for p in package.iterdir()} == {
        "pyproject.toml",
        "tox.ini",
        "README.md",
        "src",
        "tests",
    }
    pip(venv_python, "install", "-q", str(package))
    listed = _run(str(venv_python), "-m", "claimferry", "plugins", timeout=120)
    assert f"claimferry-{name}" in listed
    output = _run(str(venv_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert " passed" in output and "failed" not in output and "skipped" not in output


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_new_plugin_passes_its_own_strict_type_check(
    kind: str, venv_python: Path, tmp_path: Path
) -> None:
    """What ``tox -e type`` runs: the deps its tox.ini names, then mypy --strict."""
    package = _new_plugin(f"typed-{kind}", kind, tmp_path)
    tox = configparser.ConfigParser()
    tox.read(package / "tox.ini", encoding="utf-8")
    deps = tox["testenv:type"]["deps"].split()
    assert "mypy" in deps
    pip(venv_python, "install", "-q", f"{package}[test]", *deps)
    command = tox["testenv:type"]["commands"].split()
    assert command[0] == "mypy"
    output = _run(str(venv_python), "-m", *command, cwd=package, timeout=300)
    assert output.startswith("Success: no issues found"), output


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "claimferry-acme").mkdir()
    (tmp_path / "claimferry-acme" / "mine.txt").write_text("keep")
    result = CliRunner().invoke(
        create_cli(PluginManager().load("none")),
        ["plugin", "new", "acme", "--directory", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "already exists; nothing was written" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["claimferry-acme"]
    assert [p.name for p in (tmp_path / "claimferry-acme").iterdir()] == ["mine.txt"]
