"""Fresh virtual environments for the plugin tests: claimferry as a user installs it.

Shared by the example's tests and the scaffold's: the sources copied as the
sdist holds them (so a build writes nothing into the checkout), pip run with
the development venv and claimferry's switches kept out of its environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 600


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment without the development venv and without our switches."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLAIMFERRY_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def copy_sources(destination: Path) -> None:
    """What the sdist holds, copied so the build writes nothing into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "*.pyc")
    destination.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, destination / name)
    for folder in ("core", "plugins", "harness"):
        shutil.copytree(REPO / folder, destination / folder, ignore=ignore)


def pip(python: Path, *args: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", *args],
        capture_output=True,
        text=True,
        env=clean_env({}),
        timeout=PIP_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"pip {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
