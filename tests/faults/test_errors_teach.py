"""Errors that teach, through the CLI: the parser's own reason and place, the
form a date takes, a ZIP to quote, config mistakes found when the config is
read, and an unknown account name refused by every command that takes one."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from claimferry.cli import create_cli
from claimferry.manager import PluginManager

EXAMPLE = Path(__file__).parents[1] / "core" / "issue_example_claims.yaml"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINUc9Uk1GQhMCVr2AocXuW5si3ewucmJrC/41194RMN3"
CONFIG = f"""\
# the clinic's accounts
accounts:
  sunrise:
    clearinghouse: officeally
    submitter_id: SUNRISE01
    contact: {{name: Billing Office, phone: "2175550100"}}
    sftp: {{host: 127.0.0.1, port: 2222, host_key: "{KEY}"}}
    credentials: {{source: env}}
"""


@pytest.fixture
def run(plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    cli = create_cli(plugin_manager)

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert "Traceback" not in result.output
        return result

    return invoke


def refused(result: Result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output, result.output


def test_unterminated_quote_names_its_line_column_and_the_parser_reason(
    run, tmp_path: Path
) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text('billing_provider:\n  organization: Sunrise\n  npi: "12345\n  tax_id: x\n')
    refused(
        run("validate", str(path)),
        f"{path}: line 3, column 8: not valid YAML: found unexpected end of stream at "
        "line 5, column 1 while scanning a quoted scalar that starts here",
    )


def test_bad_indentation_in_the_config_says_why_for_every_command(run, tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(CONFIG.replace("    submitter_id", "      submitter_id"))
    for command in (["status"], ["audit"], ["batches", "list"], ["hostkey", "sunrise"]):
        refused(
            run("--config", str(path), *command),
            f"{path}: line 5, column 19: not valid YAML: mapping values are not allowed",
        )


def test_json_errors_carry_jiters_reason_and_column(run, tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    path.write_text('{"claims": [\n  {"id": "A" "payer": 1}]}')
    refused(run("validate", str(path)), f"{path}: line 2, column 14: not valid JSON: expected")


def test_a_secret_in_a_broken_quote_is_not_shown(run, tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - id: 'Hunter2-s3cret\n")
    result = run("validate", str(path))
    refused(result, f"{path}: line 2, column 9: not valid YAML")
    assert "Hunter2" not in result.output


def test_a_value_that_does_not_fit_its_explicit_tag_is_bad_yaml(run, tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - id: !!int XOF123456\n")
    result = run("validate", str(path))
    refused(result, f"{path}: not valid YAML: a value does not fit its explicit tag")
    assert "XOF" not in result.output


def _claims(tmp_path: Path, edit) -> Path:
    text = EXAMPLE.read_text()
    path = tmp_path / "claims.yaml"
    path.write_text(edit(text))
    return path


def test_dates_say_the_form_they_take(run, tmp_path: Path) -> None:
    path = _claims(
        tmp_path,
        lambda t: (
            t.replace("birth_date: 1984-02-11", "birth_date: 02/11/1984")
            .replace(
                'service_date: 2026-11-02, procedure: "97153"',
                'service_date: 20261102, procedure: "97153"',
            )
            .replace("birth_date: 2019-06-30", "birth_date: 2019-02-30")
        ),
    )
    result = run("validate", str(path))
    refused(
        result,
        f"{path}: claim SUN-1001: subscriber.birth_date: not a date: invalid character in "
        "year; use YYYY-MM-DD",
        f"{path}: claim SUN-1001: lines[0].service_date: a number, not a date; use YYYY-MM-DD",
        f"{path}: claim SUN-1001: patient.birth_date: not a date: day value is outside "
        "expected range; use YYYY-MM-DD",
    )
    assert "1984" not in result.stderr.replace(str(path), "")  # the value is PHI


def test_a_zip_read_as_a_number_says_to_quote_it(run, tmp_path: Path) -> None:
    # YAML 1.2 keeps an unquoted 02134 as text, but 627011234 is a number all the same
    path = _claims(tmp_path, lambda t: t.replace('zip: "627011234"', "zip: 627011234"))
    refused(
        run("validate", str(path)),
        f"{path}: billing_provider.address.zip: read as a number, which may drop leading "
        'zeros; quote it: zip: "02134"',
    )
    path = _claims(tmp_path, lambda t: t.replace('zip: "61602"}}', "zip: 61602}}", 1))
    refused(run("validate", str(path)), "claim SUN-1002: subscriber.address.zip: read as a number")


def _blob(key_type: str) -> str:
    name = key_type.encode()
    return base64.b64encode(len(name).to_bytes(4, "big") + name + b"\x00" * 36).decode()


@pytest.mark.parametrize(
    ("host_key", "reason"),
    [
        (KEY[:-7], "the key is not valid base64 (cut short?)"),
        (f"ssh-rsa {KEY.split()[1]}", "the key is not an ssh-rsa key (wrong type, or cut short)"),
        (f"ssh-ed2551 {_blob('ssh-ed2551')}", "unknown key type 'ssh-ed2551'"),
        ("AAAAC3NzaC1lZDI1NTE5", "expected '<key type> <base64 key>'"),
        (12345, "Input should be a valid string"),
    ],
)
def test_a_bad_host_key_is_a_config_error_at_load_time(
    run, tmp_path: Path, host_key: object, reason: str
) -> None:
    data = yaml.safe_load(CONFIG)
    data["accounts"]["sunrise"]["sftp"]["host_key"] = host_key
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(data))
    for command in (["status"], ["batches", "list"], ["validate", str(EXAMPLE)]):
        refused(
            run("--config", str(path), *command),
            f"{path}: accounts.sunrise.sftp.host_key: {reason}",
        )


def test_unknown_clearinghouse_and_credential_source_found_when_the_config_is_read(
    run, tmp_path: Path
) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        CONFIG.replace("clearinghouse: officeally", "clearinghouse: officealy").replace(
            "{source: env}", "{source: enviroment}"
        )
    )
    for command in (["status"], ["audit"], ["remits", "list"], ["validate", str(EXAMPLE)]):
        refused(
            run("--config", str(path), *command),
            f"{path}: accounts.sunrise.clearinghouse: no clearinghouse 'officealy' is "
            "installed (known: officeally)",
            f"{path}: accounts.sunrise.credentials.source: no credential source "
            "'enviroment' is installed (known: env, file, keyring, store)",
        )


def test_unknown_account_is_an_error_in_every_command_that_takes_one(run, tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(CONFIG)
    config = ["--config", str(path)]
    for command in (
        ["audit", "--account", "sunrsie"],
        ["batches", "list", "--account", "sunrsie"],
        ["remits", "list", "--account", "sunrsie"],
        ["remits", "export", "--account", "sunrsie"],
        ["status", "--account", "sunrsie"],
    ):
        refused(
            run(*config, *command),
            "--account: sunrsie: no such account in the config or the ledger",
            "(known: sunrise)",
        )
    for command in (
        ["validate", str(EXAMPLE), "--account", "sunrsie"],
        ["build", str(EXAMPLE), "--account", "sunrsie", "-o", str(tmp_path / "out.x12")],
        ["submit", str(EXAMPLE), "--account", "sunrsie"],
        ["fetch", "--account", "sunrsie"],
        ["hostkey", "sunrsie"],
        ["credentials", "test", "sunrsie"],
        ["enrollment", "list", "--account", "sunrsie"],
    ):
        refused(run(*config, *command), "accounts.sunrsie: no such account (known: sunrise)")
    # without a config, the ledger's accounts are the known ones
    refused(
        run("audit", "--account", "sunrsie"),
        "--account: sunrsie: no such account in the ledger in",
        "(no config given) (known: none)",
    )
