"""``claimferry plugin new``: each kind, written by the CLI, installed into a fresh venv
next to a claimferry wheel built from this checkout, passes its own tests there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry.api import create_cli
from claimferry.manager import PluginManager
from claimferry.scaffold import KINDS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 600


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLAIMFERRY_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(*argv: str, cwd: Path | None = None, timeout: float = PIP_TIMEOUT) -> str:
    done = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, env=_env(), timeout=timeout
    )
    assert done.returncode == 0, f"{argv[:4]}:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding a claimferry wheel from this checkout, and pytest."""
    base = tmp_path_factory.mktemp("scaffold-venv")
    source = base / "claimferry"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "*.pyc")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for folder in ("core", "plugins", "harness"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    _run(sys.executable, "-m", "venv", str(base / "venv"), timeout=120)
    python = base / "venv" / "bin" / "python"
    _run(
        str(python),
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(base / "wheels"),
        str(source),
    )
    wheel = next((base / "wheels").glob("claimferry-*.whl"))
    _run(str(python), "-m", "pip", "install", "-q", str(wheel), "pytest")
    return python


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_new_plugin_passes_its_own_tests(kind: str, venv_python: Path, tmp_path: Path) -> None:
    name = f"acme-{kind}"
    result = CliRunner().invoke(
        create_cli(PluginManager().load("none")),
        ["plugin", "new", name, "--kind", kind, "--directory", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    package = tmp_path / f"claimferry-{name}"
    assert result.output.startswith(f"wrote {package}\n")
    assert {p.name for p in package.iterdir()} == {
        "pyproject.toml",
        "tox.ini",
        "README.md",
        "src",
        "tests",
    }
    _run(str(venv_python), "-m", "pip", "install", "-q", str(package))
    listed = _run(str(venv_python), "-m", "claimferry", "plugins", timeout=120)
    assert f"claimferry-{name}" in listed
    output = _run(str(venv_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert " passed" in output and "failed" not in output and "skipped" not in output


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
