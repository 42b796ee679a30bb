"""``--json`` on every command: one JSON document on stdout, success or failure.

Each command is run in a failure case and its stdout parsed whole; the list of
cases is held against the commands the CLI has, so a new command without a
case fails here. Failures that need a server (a refused login, a changed host
key, claims sent before) are in tests/e2e/test_json_failures.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.manager import PluginManager

EXAMPLE = Path(__file__).with_name("issue_example_claims.yaml")
ACCOUNTS = {
    "accounts": {
        "sunrise": {
            "clearinghouse": "officeally",
            "submitter_id": "SUNRISE01",
            "mode": "test",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": {"host": "127.0.0.1", "port": 9, "retries": 0, "connect_timeout": 2},
            "credentials": {"source": "env"},
        }
    }
}
ENROLLMENT = ("--npi", "1234567893", "--tax-id", "123456789", "--payer-id", "00621")
TRANSACTION = ("--transaction", "837P", "--status", "approved")

# (command words, the arguments of a failure, the error code, exit code)
CASES: list[tuple[tuple[str, ...], tuple[str, ...], str, int]] = [
    (("validate",), ("BAD",), "input", 2),
    (("build",), ("EXAMPLE", "--account", "nobody", "-o", "out.837"), "config", 2),
    (("submit",), ("EXAMPLE", "--account", "nobody"), "config", 2),
    (("fetch",), ("--account", "sunrise"), "failed", 1),
    (("status",), ("--account", "sunrsie"), "input", 2),
    (("remits", "list"), ("--since", "yesterday"), "usage", 2),
    (("batches", "list"), ("--account", "sunrsie"), "input", 2),
    (("batches", "resend"), ("7",), "ledger", 1),
    (("batches", "abandon"), ("7",), "usage", 2),
    (("show",), ("missing.835",), "input", 2),
    (("audit",), ("--account", "sunrsie"), "input", 2),
    (
        ("enrollment", "set"),
        ("--account", "sunrise", "--npi", "1234567890", *ENROLLMENT[2:], *TRANSACTION),
        "input",
        2,
    ),
    (
        ("enrollment", "delete"),
        ("--account", "sunrise", *ENROLLMENT, "--transaction", "837P"),
        "input",
        2,
    ),
    (("enrollment", "list"), ("--account", "sunrsie"), "config", 2),
    (("enrollment", "import"), ("missing.yaml", "--account", "sunrise"), "input", 2),
    (("plugins",), ("--bogus",), "usage", 2),
    (("hostkey",), ("sunrsie",), "config", 2),
    (("credentials", "test"), ("sunrise",), "credentials", 1),
    (("payers", "import"), ("missing.csv",), "input", 2),
    (("payers", "search"), ("aetna", "--transaction", "X99"), "usage", 2),
    (("payers", "show"), ("99999",), "failed", 1),
]


@pytest.fixture
def run(plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", raising=False)
    config = tmp_path / "accounts.yaml"
    config.write_text(yaml.safe_dump(ACCOUNTS))
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    bad = yaml.safe_load(EXAMPLE.read_text())
    bad["billing_provider"]["npi"] = "1234567890"  # bad check digit: a content finding
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    cli = create_cli(plugin_manager)
    files = {"EXAMPLE": str(EXAMPLE), "BAD": str(tmp_path / "bad.yaml")}

    def invoke(*args: str):
        return CliRunner().invoke(cli, [files.get(a, a) for a in args], catch_exceptions=False)

    return invoke


def _commands(group: click.Group, words: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _commands(command, (*words, name))
        elif any(p.name == "as_json" for p in command.params):
            found.add((*words, name))
    return found


def test_every_command_with_json_has_a_failure_case(plugin_manager: PluginManager) -> None:
    cli = create_cli(plugin_manager)
    assert isinstance(cli, click.Group)
    assert _commands(cli) == {words for words, *_ in CASES}


@pytest.mark.parametrize(("words", "args", "code", "exit_code"), CASES, ids=lambda v: str(v))
def test_a_failing_command_writes_one_error_document(
    run, words: tuple[str, ...], args: tuple[str, ...], code: str, exit_code: int
) -> None:
    result = run(*words, *args, "--json")
    document: dict[str, Any] = json.loads(result.stdout)  # the whole of stdout, one document
    assert result.exit_code == exit_code, result.output
    assert document["ok"] is False
    error = document["error"]
    assert error["code"] == code
    assert set(error) >= {"code", "message", "file", "path", "problems"}
    assert error["message"] and "Traceback" not in result.output
    assert error["message"].splitlines()[0] in result.stderr  # and the text for the log


def test_an_input_error_lists_every_problem_with_its_file_and_path(run, tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["claims"][0]["lines"][0]["charge"] = "abc"
    data["claims"][1]["subscriber"]["gender"] = "Q"
    bad = tmp_path / "schema.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = run("validate", str(bad), "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    paths = [(p["file"], p["path"]) for p in error["problems"]]
    assert (str(bad), "claim SUN-1001: lines[0].charge") in paths
    assert (str(bad), "claim SUN-1002: subscriber.gender") in paths
    assert (error["file"], error["path"]) == paths[0]


def test_blocking_findings_keep_the_validation_document(run) -> None:
    result = run("validate", "BAD", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 2
    assert document["ok"] is False and document["valid"] is False
    assert "nothing was written or sent" in document["error"]["message"]
    assert any(f["field"] == "billing_provider.npi" for f in document["findings"])


def test_a_usage_error_names_the_option(run) -> None:
    result = run("build", "EXAMPLE", "--json", "-o", "x.837")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "usage" and error["path"] == "--account"


def test_failures_before_the_command_runs_are_json_too(run, tmp_path: Path) -> None:
    result = run("frobnicate", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "usage"
    broken = tmp_path / "broken.yaml"
    broken.write_text("accounts: [\n")
    result = run("--config", str(broken), "--init", "status", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "config" and error["file"] == str(broken)


def test_success_documents_keep_their_shape(run) -> None:
    assert json.loads(run("status", "--json").stdout) == {"claims": [], "batches": []}
    assert json.loads(run("batches", "list", "--json").stdout) == []
    assert json.loads(run("validate", "EXAMPLE", "--json").stdout)["valid"] is True
