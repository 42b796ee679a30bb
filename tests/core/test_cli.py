"""The CLI through click's CliRunner: exit codes, stdout/stderr, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from claimferry import __version__
from claimferry.cli import create_cli
from claimferry.cli.app import LazyCommand
from claimferry.credstore import KEY_ORIGINS, MASTER_KEY_ENV
from claimferry.manager import PluginManager
from support import own_environment
from support.x12judge import judge

EXAMPLE = Path(__file__).with_name("issue_example_claims.yaml")
ACCOUNTS = {
    "accounts": {
        "sunrise": {
            "clearinghouse": "officeally",
            "submitter_id": "SUNRISE01",
            "mode": "test",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": {"host": "127.0.0.1", "port": 2222},
            "credentials": {"source": "env"},
        }
    }
}


@pytest.fixture
def run(plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "accounts.yaml"
    config.write_text(yaml.safe_dump(ACCOUNTS))
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    cli = create_cli(plugin_manager)

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_version_and_help_everywhere(run) -> None:
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output
    for command in ("validate", "build", "submit", "fetch", "plugins", "hostkey", "credentials"):
        result = run(command, "-h")
        assert result.exit_code == 0, command
        assert "Usage:" in result.output


def test_validate_ok_and_json(run) -> None:
    result = run("validate", str(EXAMPLE))
    assert result.exit_code == 0
    assert "2 claims" in result.stdout
    result = run("validate", str(EXAMPLE), "--json")
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["summary"]["claims"] == 2


def test_validate_bad_file_exit_2_every_problem_no_traceback(run, tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["claims"][0]["lines"][0]["charge"] = "abc"
    data["claims"][1]["subscriber"]["gender"] = "Q"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = run("validate", str(bad))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{bad}: claim SUN-1001: lines[0].charge" in result.stdout
    assert f"{bad}: claim SUN-1002: subscriber.gender" in result.stdout
    assert f"2 errors, 1 warning in {bad} (2 claims)" in result.stdout


def test_content_findings_block_with_exit_2(run, tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["billing_provider"]["npi"] = "1234567890"  # bad check digit
    bad = tmp_path / "npi.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = run("validate", str(bad), "--json")
    assert result.exit_code == 2
    findings = json.loads(result.stdout)["findings"]
    assert any(f["field"] == "billing_provider.npi" and f["severity"] == "error" for f in findings)
    out = tmp_path / "never.837"
    result = run("build", str(bad), "--account", "sunrise", "-o", str(out))
    assert result.exit_code == 2
    assert not out.exists()
    assert "nothing was written" in result.stderr


def test_build_writes_pyx12_clean_file_with_ledger_control_numbers(run, tmp_path: Path) -> None:
    first, second = tmp_path / "a.837", tmp_path / "b.837"
    assert run("build", str(EXAMPLE), "--account", "sunrise", "-o", str(first)).exit_code == 0
    result = run("build", str(EXAMPLE), "--account", "sunrise", "-o", str(second), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["interchange_control_number"] == 2
    verdict = judge(first.read_bytes())
    assert verdict, verdict.errors
    assert b"*000000001*0*T*:~" in first.read_bytes()
    assert first.stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_account_can_override_the_receiver_identifiers(run, tmp_path: Path) -> None:
    """Office Ally's GS03 is seen as 330897513 and OA: the config decides, no release needed."""
    accounts = json.loads(json.dumps(ACCOUNTS))
    accounts["accounts"]["sunrise"]["receiver"] = {"isa_qualifier": "01", "gs_id": "OA"}
    config = tmp_path / "receiver.yaml"
    config.write_text(yaml.safe_dump(accounts))
    out = tmp_path / "oa.837"
    result = run(
        "--config", str(config), "build", str(EXAMPLE), "--account", "sunrise", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    segments = [s.split("*") for s in out.read_text().split("~\n")]
    isa = next(s for s in segments if s[0] == "ISA")
    assert (isa[7], isa[8].rstrip()) == ("01", "330897513")
    assert next(s for s in segments if s[0] == "GS")[3] == "OA"
    verdict = judge(out.read_bytes())
    assert verdict, verdict.errors

    accounts["accounts"]["sunrise"]["receiver"] = {"gs_id": "O*A", "id": "X~"}
    config.write_text(yaml.safe_dump(accounts))
    result = run(
        "--config", str(config), "build", str(EXAMPLE), "--account", "sunrise", "-o", str(out)
    )
    assert result.exit_code == 2
    assert (
        "accounts.sunrise.receiver.gs_id: letters, digits, spaces or dashes only" in result.stderr
    )
    assert "accounts.sunrise.receiver.id: must not contain the X12 delimiters" in result.stderr


def test_build_needs_contact(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = json.loads(json.dumps(ACCOUNTS))
    del accounts["accounts"]["sunrise"]["contact"]
    config = tmp_path / "nocontact.yaml"
    config.write_text(yaml.safe_dump(accounts))
    result = run(
        "--config",
        str(config),
        "build",
        str(EXAMPLE),
        "--account",
        "sunrise",
        "-o",
        str(tmp_path / "x.837"),
    )
    assert result.exit_code == 2
    assert "accounts.sunrise.contact" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("build", "EXAMPLE", "--account", "nobody", "-o", "x"), 2, "accounts.nobody"),
        (("build", "EXAMPLE", "-o", "x"), 2, "Missing option '--account'"),
        (("validate", "missing.yaml"), 2, "file not found"),
        (("fetch",), 2, "give --account NAME or --all"),
        (("frobnicate",), 2, "No such command"),
    ],
)
def test_bad_arguments(run, args: tuple[str, ...], code: int, text: str) -> None:
    args = tuple(str(EXAMPLE) if a == "EXAMPLE" else a for a in args)
    result = run(*args)
    assert result.exit_code == code
    assert text in result.output
    assert "Traceback" not in result.output


def test_missing_config_is_a_clear_error(
    plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    result = CliRunner().invoke(
        create_cli(plugin_manager), ["build", str(EXAMPLE), "--account", "a", "-o", "x"]
    )
    assert result.exit_code == 2
    assert "pass --config FILE or set CLAIMFERRY_CONFIG" in result.output


def test_plugins_json_lists_registrations(run) -> None:
    result = run("plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["content-checks"]["registers"]["enrollment_validators"] == ["content-checks"]
    assert by_name["content-checks"]["distribution"] == "claimferry"
    assert data["failed"] == []


def test_a_bug_is_one_line_not_a_traceback(run, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("claimferry.cli.commands.check_claims_file", broken)
    result = run("validate", str(EXAMPLE))
    assert result.exit_code == 1
    assert "unexpected internal error (ZeroDivisionError)" in result.stderr
    assert "Traceback" not in result.output


def test_misspelt_hook_in_an_installed_plugin_is_one_line_exit_1(tmp_path: Path) -> None:
    """A real distribution on the path, run as the console script would be."""
    site = tmp_path / "site"
    (site / "acme_typo").mkdir(parents=True)
    (site / "acme_typo" / "__init__.py").write_text(
        "from claimferry.api import hookimpl\n\n"
        "@hookimpl\n"
        "def claimferry_clearinghouse():\n"
        "    return []\n"
    )
    dist_info = site / "acme_typo-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-typo\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[claimferry]\nacme = acme_typo\n")
    env = own_environment()
    env["PYTHONPATH"] = str(site)

    def claimferry(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "claimferry", *args],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=60,
            check=False,
        )

    result = claimferry("plugins")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert "plugin acme (from acme-typo) implements claimferry_clearinghouse" in result.stderr
    assert "CLAIMFERRY_BLOCK_PLUGINS=acme" in result.stderr
    blocked = claimferry("plugins", "--json", CLAIMFERRY_BLOCK_PLUGINS="acme")
    assert blocked.returncode == 0, blocked.stderr
    assert "acme" not in {p["name"] for p in json.loads(blocked.stdout)["plugins"]}


def test_a_reader_that_stops_early_gets_no_error(tmp_path: Path) -> None:
    """`claimferry plugins | head -1`: a closed pipe is not an internal error."""
    process = subprocess.Popen(
        [sys.executable, "-m", "claimferry", "plugins"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CLAIMFERRY_STATE_DIR": str(tmp_path)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the CLI has started up and written anything
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert errors == ""


# -- --json on every command: one JSON document on stdout, success or failure --------
# Each command runs in a failure case and its whole stdout is parsed; the cases are
# held against the commands the CLI has, so a new command without one fails here.
# Failures that need a server are in tests/e2e/test_json_failures.py.

ENROLLMENT = ("--npi", "1234567893", "--tax-id", "123456789", "--payer-id", "00621")
TRANSACTION = ("--transaction", "837P", "--status", "approved")

# (command words, the arguments of a failure, the error code, exit code)
CASES: list[tuple[tuple[str, ...], tuple[str, ...], str, int]] = [
    (("validate",), ("BAD",), "invalid-claims", 2),
    (("build",), ("EXAMPLE", "--account", "nobody", "-o", "out.837"), "config", 2),
    (("submit",), ("EXAMPLE", "--account", "nobody"), "config", 2),
    (("fetch",), ("--account", "sunrise"), "failed", 1),
    (("status",), ("--account", "sunrsie"), "input", 2),
    (("remits", "list"), ("--since", "yesterday"), "usage", 2),
    (("batches", "list"), ("--account", "sunrsie"), "input", 2),
    (("batches", "resend"), ("7",), "ledger", 1),
    (("batches", "abandon"), ("7",), "usage", 2),
    (("show",), ("missing.835",), "input", 2),
    (("convert",), ("missing.837",), "usage", 2),
    (
        ("secondary", "build"),
        ("--claims", "c.yaml", "--from-835", "x.835", "-o", "2.yaml"),
        "usage",
        2,
    ),
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
    (("enrollment", "export"), ("--account", "sunrise"), "usage", 2),
    (("remits", "export"), ("--since", "2026-01-01"), "usage", 2),
    (("plugins",), ("--bogus",), "usage", 2),
    (("hostkey",), ("sunrsie",), "config", 2),
    (("credentials", "test"), ("sunrise",), "credentials", 1),
    (("credentials", "set"), ("sunrse",), "config", 2),
    (("credentials", "show"), ("sunrse",), "config", 2),
    (("credentials", "rotate-master-key"), (), "credentials", 1),
    (("accounts", "list"), ("--bogus",), "usage", 2),
    (("accounts", "show"), ("sunrse",), "config", 2),
    (("onboard", "status"), ("sunrse",), "config", 2),
    (("onboard", "mark"), ("sunrse", "oa-account"), "config", 2),
    (("onboard", "request-sftp"), ("sunrse",), "config", 2),
    (("onboard", "promote"), ("sunrse",), "config", 2),
    (("harness", "users", "add"), (), "usage", 2),
    (("accounts", "add"), ("sunrise", "--submitter-id", "SUNRISE02", "--no-input"), "config", 2),
    (("accounts", "remove"), ("sunrse", "--yes"), "config", 2),
    (("credentials", "remove"), ("sunrise", "--yes"), "failed", 1),
    (("payers", "import"), ("missing.csv",), "input", 2),
    (("payers", "search"), ("aetna", "--transaction", "X99"), "usage", 2),
    (("payers", "show"), ("99999",), "failed", 1),
    (("db", "status"), ("--database", "mysql://db/ledger"), "usage", 2),
    (("db", "upgrade"), ("--database", "postgresql://nobody@127.0.0.1:1/none"), "database", 1),
    (("db", "copy"), ("--from", "missing.sqlite3", "--to", "new.sqlite3"), "usage", 2),
    (("enqueue", "submit"), ("EXAMPLE", "--account", "sunrise"), "queue", 1),
    (("enqueue", "fetch"), ("--all",), "queue", 1),
    (("queue", "status"), (), "queue", 1),
]


MASTER_KEY_VARIABLES = tuple(MASTER_KEY_ENV + origin for origin in KEY_ORIGINS)
"""Unset, the credential store has no master key: rotate-master-key fails."""


def _bad_claims(tmp_path: Path) -> Path:
    """A claims file whose billing NPI fails its check digit: a content finding."""
    bad = yaml.safe_load(EXAMPLE.read_text())
    bad["billing_provider"]["npi"] = "1234567890"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    return path


def _commands(group: click.Group, words: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, listed in group.commands.items():
        command = listed.load() if isinstance(listed, LazyCommand) else listed
        if isinstance(command, click.Group):
            found |= _commands(command, (*words, name))
        elif any(p.name == "as_json" for p in command.params):
            found.add((*words, name))
    return found


def test_every_command_with_json_has_a_failure_case_below(plugin_manager: PluginManager) -> None:
    cli = create_cli(plugin_manager)
    assert isinstance(cli, click.Group)
    assert _commands(cli) == {words for words, *_ in CASES}


@pytest.mark.parametrize(("words", "args", "code", "exit_code"), CASES, ids=lambda v: str(v))
def test_a_failing_command_writes_one_error_document(
    run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    words: tuple[str, ...],
    args: tuple[str, ...],
    code: str,
    exit_code: int,
) -> None:
    for name in ("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", *MASTER_KEY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    files = {"EXAMPLE": str(EXAMPLE), "BAD": str(_bad_claims(tmp_path))}
    result = run(*words, *(files.get(a, a) for a in args), "--json")
    document: dict[str, Any] = json.loads(result.stdout)  # the whole of stdout, one document
    assert result.exit_code == exit_code, result.output
    assert document["ok"] is False
    error = document["error"]
    assert error["code"] == code
    assert set(error) >= {"code", "message", "file", "path", "problems"}
    assert error["message"] and "Traceback" not in result.output
    assert error["message"].splitlines()[0] in result.stderr  # and the text for the log


def test_an_input_error_lists_every_problem_with_its_file_and_path(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = json.loads(json.dumps(ACCOUNTS))
    accounts["accounts"]["sunrise"]["mode"] = "prod"
    accounts["accounts"]["sunrise"]["sftp"]["port"] = "twenty-two"
    config = tmp_path / "broken-accounts.yaml"
    config.write_text(yaml.safe_dump(accounts))
    result = run("--config", str(config), "hostkey", "sunrise", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    paths = [(p["file"], p["path"]) for p in error["problems"]]
    assert (str(config), "accounts.sunrise.mode") in paths
    assert (str(config), "accounts.sunrise.sftp.port") in paths
    assert error["code"] == "config" and (error["file"], error["path"]) == paths[0]


def test_blocking_findings_keep_the_validation_document(run, tmp_path: Path) -> None:
    result = run("validate", str(_bad_claims(tmp_path)), "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 2
    assert document["ok"] is False and document["error"]["code"] == "invalid-claims"
    assert document["error"]["file"].endswith("bad.yaml")
    assert "nothing was written or sent" in document["error"]["message"]
    assert any(f["field"] == "billing_provider.npi" for f in document["findings"])


def test_a_usage_error_names_the_option(run) -> None:
    result = run("build", str(EXAMPLE), "--json", "-o", "x.837")
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
    assert json.loads(run("status", "--json").stdout) == {"ok": True, "claims": [], "batches": []}
    assert json.loads(run("batches", "list", "--json").stdout) == []
    assert json.loads(run("validate", str(EXAMPLE), "--json").stdout)["ok"] is True


def test_exports_report_the_file_they_wrote(run, tmp_path: Path) -> None:
    posting, records = tmp_path / "posting.csv", tmp_path / "enrollment.yaml"
    result = run("remits", "export", "-o", str(posting), "--json")
    assert json.loads(result.stdout) == {"ok": True, "file": str(posting), "rows": 0}
    assert posting.read_text().startswith("row_type,account,")  # the header row only
    result = run("enrollment", "export", str(records), "--account", "sunrise", "--json")
    assert json.loads(result.stdout) == {"ok": True, "file": str(records), "records": 0}
    assert records.is_file()


def test_accounts_add_and_remove_report_as_json(run, tmp_path: Path) -> None:
    config = str(tmp_path / "accounts.yaml")
    added = run("accounts", "add", "northside", "--submitter-id", "NORTH01", "--no-input", "--json")
    assert json.loads(added.stdout) == {
        "ok": True,
        "account": "northside",
        "config": config,
        "added": True,
    }
    removed = run("accounts", "remove", "northside", "--yes", "--json")
    assert json.loads(removed.stdout) == {
        "ok": True,
        "account": "northside",
        "config": config,
        "removed": True,
    }


def test_show_of_an_835_writes_every_amount_with_two_decimals(run, samples_dir: Path) -> None:
    result = run("show", str(samples_dir / "835_01_simple_denied_no_payment_emedny.txt"))
    assert result.exit_code == 0, result.output
    assert "payment 0.00 credit by NON" in result.stdout
    assert "charge 34.00, paid 0.00, patient responsibility 0.00;" in result.stdout
    assert "line V2020: charge 12.00, paid 0.00" in result.stdout
    assert "CO-29 12.00: The time limit for filing has expired" in result.stdout


@pytest.mark.parametrize(
    ("flags", "level"),
    [((), "CRITICAL"), (("-v",), "WARNING"), (("-vv",), "WARNING"), (("-vvv",), "DEBUG")],
)
def test_paramiko_debug_shows_only_with_vvv(run, flags: tuple[str, ...], level: str) -> None:
    import logging

    paramiko = logging.getLogger("paramiko")
    before = paramiko.level
    try:
        assert run(*flags, "plugins", "--json").exit_code == 0
        assert logging.getLevelName(paramiko.level) == level
    finally:
        paramiko.setLevel(before)


def test_all_findings_help_says_where_v_goes(run) -> None:
    assert "claimferry -v validate" in " ".join(run("validate", "--help").output.split())
