"""The example plugin as a user would meet it: installed next to claimferry in a fresh venv.

One virtual environment per session (about half a minute to build): the
claimferry wheel built from this checkout, the example's wheel, and a broken
plugin package whose module raises at import. Nothing of the development
install is visible in it. Then:

(a) ``claimferry plugins --json`` names the example's distribution, version
    and registrations;
(b) ``claimferry submit`` delivers through the example's clearinghouse and
    credential source to the mock server, under the example's file names;
(c) the broken package is listed under "failed" and the CLI still works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimferry_harness import MockOfficeAlly
from claimferry_harness.pytest_plugin import HarnessFactory
from plugins.venv_support import REPO, clean_env, copy_sources
from plugins.venv_support import pip as _pip

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "claimferry-generic-sftp"

INBOUND, OUTBOUND = "to_clearinghouse", "from_clearinghouse"
FILE_NAME = "{submitter_id}_{control_number:09d}_{mode}.x12"
"""The naming the brief's example uses; the mock does not answer it (no "837")."""

BROKEN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "claimferry-broken-example"
version = "0.0.1"
dependencies = ["claimferry"]

[project.entry-points.claimferry]
broken-example = "claimferry_broken_example.plugin"
"""


@dataclass(frozen=True)
class Venv:
    root: Path
    wheels: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "claimferry"), *args],
            capture_output=True,
            text=True,
            env=clean_env(env or {}),
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("plugin-venv")
    copy_sources(base / "claimferry")
    shutil.copytree(
        EXAMPLE,
        base / "example",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".*_cache"),
    )
    broken = base / "broken"
    (broken / "claimferry_broken_example").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "claimferry_broken_example" / "__init__.py").write_text("")
    (broken / "claimferry_broken_example" / "plugin.py").write_text(
        'raise RuntimeError("this plugin is broken on purpose")\n'
    )
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    result = Venv(base / "venv", base / "wheels")
    python = result.bin / "python"
    folders = [str(base / name) for name in ("claimferry", "example", "broken")]
    _pip(python, "wheel", "--no-deps", "-q", "-w", str(result.wheels), *folders)
    _pip(python, "install", "-q", *map(str, sorted(result.wheels.glob("*.whl"))))
    return result


def _profiles(path: Path, host: str, port: int, host_key: str) -> Path:
    profile = {
        "receiver": {
            "isa_qualifier": "ZZ",
            "isa_id": "ACMECLAIMS",
            "gs_id": "ACMECLAIMS",
            "name": "ACME CLAIMS EXCHANGE",
            "id": "ACMECLAIMS",
        },
        "file_name": FILE_NAME,
        "sftp": {
            "host": host,
            "port": port,
            "host_key": host_key,
            "inbound": INBOUND,
            "outbound": OUTBOUND,
        },
    }
    path.write_text(yaml.safe_dump({"clearinghouses": {"acme": profile}}))
    return path


def _plugins_json(venv: Venv, env: dict[str, str]) -> dict[str, Any]:
    done = venv.run("plugins", "--json", env=env)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_wheel_ships_types_and_data(venv: Venv) -> None:
    """py.typed for every package plugins type-check against, and the sample claims."""
    (wheel,) = venv.wheels.glob("claimferry-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        "claimferry/py.typed",
        "claimferry/data/sample_claims.yaml",
        "claimferry_checks/py.typed",
        "claimferry_credentials/py.typed",
        "claimferry_officeally/py.typed",
        "claimferry_harness/py.typed",
    }
    assert wanted <= names, sorted(wanted - names)
    (example,) = venv.wheels.glob("claimferry_generic_sftp-*.whl")
    assert "claimferry_generic_sftp/py.typed" in zipfile.ZipFile(example).namelist()


def test_plugins_lists_the_example(venv: Venv, tmp_path: Path) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINUc9Uk1GQhMCVr2AocXuW5si3ewucmJrC/41194RMN3"
    profiles = _profiles(tmp_path / "ch.yaml", "127.0.0.1", 22, key)
    data = _plugins_json(venv, {"CLAIMFERRY_GENERIC_SFTP_CONFIG": str(profiles)})
    rows = {row["name"]: row for row in data["plugins"]}
    assert rows["generic-sftp"] == {
        "name": "generic-sftp",
        "distribution": "claimferry-generic-sftp",
        "version": "0.1.0",
        "builtin": False,
        "registers": {
            "claim_transports": ["generic-sftp"],
            "clearinghouses": ["acme"],
            "credential_sources": ["command"],
        },
    }
    assert rows["officeally"]["distribution"] == "claimferry"
    assert rows["officeally"]["builtin"] is True


def test_broken_plugin_is_reported_and_the_cli_works(venv: Venv) -> None:
    data = _plugins_json(venv, {})
    assert [f["name"] for f in data["failed"]] == ["broken-example"]
    failure = data["failed"][0]
    assert failure["distribution"] == "claimferry-broken-example"
    assert "RuntimeError: this plugin is broken on purpose" in failure["error"]
    names = {row["name"] for row in data["plugins"]}
    assert {"generic-sftp", "officeally", "credentials", "content-checks"} <= names
    assert "broken-example" not in names
    assert venv.run("--help").returncode == 0

    blocked = _plugins_json(venv, {"CLAIMFERRY_BLOCK_PLUGINS": "broken-example"})
    assert blocked["failed"] == []


@pytest.fixture
def harness(oa_harness_factory: HarnessFactory) -> Iterator[MockOfficeAlly]:
    yield oa_harness_factory(inbound=INBOUND, outbound=OUTBOUND)


def test_submit_through_the_example(venv: Venv, harness: MockOfficeAlly, tmp_path: Path) -> None:
    password = "test-only-" + os.urandom(8).hex()
    harness.add_user("clinic", password=password)
    secret = tmp_path / "fake_pass.py"
    secret.write_text(f"print({password!r})\nprint('username: clinic')\n")
    profiles = _profiles(tmp_path / "ch.yaml", harness.host, harness.port, harness.host_key_openssh)
    config = tmp_path / "accounts.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            accounts:
              sunrise:
                clearinghouse: acme
                submitter_id: SUNRISE01
                mode: test
                contact: {{name: Billing Office, phone: "2175550100"}}
                credentials:
                  source: command
                  command: [{json.dumps(sys.executable)}, {json.dumps(str(secret))}]
            """
        )
    )
    claims = _installed_sample_claims(venv)
    env = {
        "CLAIMFERRY_GENERIC_SFTP_CONFIG": str(profiles),
        "CLAIMFERRY_CONFIG": str(config),
        "CLAIMFERRY_STATE_DIR": str(tmp_path / "state"),
        "CLAIMFERRY_BLOCK_PLUGINS": "broken-example",
    }
    done = venv.run(
        "submit", str(claims), "--account", "sunrise", "--no-enrollment-check", "--json", env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert password not in done.stdout + done.stderr

    arrived = sorted(p.name for p in harness.inbound_dir("clinic").iterdir())
    assert arrived == ["SUNRISE01_000000001_test.x12"]
    interchange = (harness.inbound_dir("clinic") / arrived[0]).read_text()
    isa = [element.strip() for element in interchange.split("*")[5:9]]
    assert isa == ["ZZ", "SUNRISE01", "ZZ", "ACMECLAIMS"]  # ISA05-08
    assert "NM1*40*2*ACME CLAIMS EXCHANGE*****46*ACMECLAIMS~" in interchange


def _installed_sample_claims(venv: Venv) -> Path:
    """The sample claims shipped in the installed wheel (package data)."""
    done = subprocess.run(
        [
            str(venv.bin / "python"),
            "-c",
            "import claimferry, pathlib; "
            "print(pathlib.Path(claimferry.__file__).parent / 'data' / 'sample_claims.yaml')",
        ],
        capture_output=True,
        text=True,
        env=clean_env({}),
        timeout=60,
        check=True,
    )
    path = Path(done.stdout.strip())
    assert path.is_file()
    return path


def test_example_passes_its_own_tests() -> None:
    """What someone who copies the example runs first: its harness tests."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        env=clean_env({}),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_example_type_checks_strictly_against_the_installed_wheel(venv: Venv) -> None:
    """The example's own ``mypy`` run (strict, from its pyproject.toml), with claimferry
    installed as a user installs it: no MYPYPATH, no stubs of ours."""
    python = venv.bin / "python"
    _pip(python, "install", "-q", "mypy", "pytest", "types-paramiko", "types-PyYAML")
    done = subprocess.run(
        [str(python), "-m", "mypy", "src", "tests"],
        cwd=venv.root.parent / "example",
        capture_output=True,
        text=True,
        env=clean_env({}),
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.startswith("Success: no issues found")


def test_example_type_checks_strictly_against_an_editable_claimferry(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The same run against a checkout installed as docs/plugins.md says: editable, in
    setuptools' strict mode (the default mode's import hook is invisible to mypy)."""
    base = tmp_path_factory.mktemp("editable-venv")
    copy_sources(base / "claimferry")
    shutil.copytree(EXAMPLE, base / "example", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    python = base / "venv" / "bin" / "python"
    editable = ("-e", str(base / "claimferry"), "--config-settings", "editable_mode=strict")
    _pip(python, "install", "-q", *editable, "mypy", "pytest", "types-paramiko", "types-PyYAML")
    done = subprocess.run(
        [str(python), "-m", "mypy", "src", "tests"],
        cwd=base / "example",
        capture_output=True,
        text=True,
        env=clean_env({}),
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.startswith("Success: no issues found")
