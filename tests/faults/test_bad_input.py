"""Bad input is bad input everywhere (issue 11 point 7, issue 10 point 6).

Each fault goes through the real CLI, as an operator meets it: exit code 2, a
message that names the file and the field (or line), and never a traceback,
an "unexpected internal error", or a quote of a secret.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from claimferry.claims_input import load_claims
from claimferry.cli import create_cli
from claimferry.manager import PluginManager
from support import own_environment

EXAMPLE = Path(__file__).parents[1] / "core" / "issue_example_claims.yaml"
CONFIG = """\
accounts:
  sunrise:
    clearinghouse: officeally
    submitter_id: SUNRISE01
    contact: {name: Billing Office, phone: "2175550100"}
    sftp: {host: 127.0.0.1, port: 2222, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINUc9Uk1GQhMCVr2AocXuW5si3ewucmJrC/41194RMN3"}
    credentials: {source: env}
"""  # noqa: E501
SECRET = "Hunter2 s3cret!"

Run = Callable[..., Result]


@pytest.fixture
def run(plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    for var in ("CLAIMFERRY_CONFIG", "CLAIMFERRY_CLAIMS_FILE_LIMIT_MB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(create_cli(plugin_manager), list(args))

    return invoke


def refused(result: Result, *expected: str) -> str:
    """The CLI said what is wrong, with exit code 2 and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    for text in expected:
        assert text in result.output, result.output
    return result.output


def example() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def write(path: Path, data: dict[str, Any]) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(data, default=str))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def config_file(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    return path


# --- 1. deep nesting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", '{"claims": ' + "[" * 5000 + "]" * 5000 + "}"),
        (
            "deep-in-claim.json",
            '{"claims": [{"id": "A1", "payer": ' + "[" * 900 + "]" * 900 + "}]}",
        ),
        ("deep.yaml", "claims: " + "[" * 100_000 + "]" * 100_000 + "\n"),
        ("deep-block.yaml", "claims:\n" + "".join(" " * i + "- \n" for i in range(1, 3000))),
    ],
)
def test_deep_nesting_is_refused(run: Run, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    refused(run("validate", str(path)), f"{path}: ", "nested too deeply")


def test_a_deeply_nested_config_is_refused(run: Run, tmp_path: Path) -> None:
    path = config_file(tmp_path, CONFIG + "state_dir: " + "[" * 50_000 + "]" * 50_000 + "\n")
    refused(run("--config", str(path), "status"), f"{path}: ", "nested too deeply")


# --- 2. numbers beyond the 837P element maximums --------------------------------------


@pytest.mark.parametrize(
    ("suffix", "field", "value", "expected"),
    [
        (".yaml", "charge", "1e400", "lines[0].charge: at most 18 digits"),
        (".yaml", "charge", "1e20", "lines[0].charge: at most 18 digits"),
        (".yaml", "charge", 1e20, "lines[0].charge: at most 18 digits"),
        (".json", "charge", 1e20, "lines[0].charge: at most 18 digits"),
        (".yaml", "units", "1e30", "lines[0].units: at most 15 digits"),
        (".json", "units", 1e30, "lines[0].units: at most 15 digits"),
        (".yaml", "units", "1234567890123456", "lines[0].units: at most 15 digits"),
    ],
)
def test_numbers_that_overflow_their_element_are_refused(
    run: Run, tmp_path: Path, suffix: str, field: str, value: object, expected: str
) -> None:
    data = example()
    data["claims"][0]["lines"][0][field] = value
    path = write(tmp_path / f"claims{suffix}", data)
    refused(run("validate", str(path)), f"{path}: claim SUN-1001: {expected}")


def test_a_json_number_too_large_for_a_float_is_refused(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    text = json.dumps(example(), default=str)
    path.write_text(text.replace('"charge": 480.0', '"charge": 1e400', 1))
    refused(run("validate", str(path)), f"{path}: claim SUN-1001: lines[0].charge: not a finite")


def test_the_largest_amounts_an_element_holds_are_accepted(run: Run, tmp_path: Path) -> None:
    data = example()
    line = data["claims"][0]["lines"][0]
    line["charge"], line["units"] = "9999999999999999.99", "999999999999999"
    data["claims"][0]["lines"] = [line]
    result = run("validate", str(write(tmp_path / "claims.yaml", data)))
    assert result.exit_code == 0, result.output


def test_a_total_charge_beyond_clm02_is_refused(run: Run, tmp_path: Path) -> None:
    data = example()
    for line in data["claims"][0]["lines"]:
        line["charge"] = "9999999999999999.99"  # each fits SV102; their sum does not fit CLM02
    path = write(tmp_path / "claims.yaml", data)
    refused(run("validate", str(path)), f"{path}: claim SUN-1001: ", "CLM02 holds at most 18")


# --- 3. claim ids -----------------------------------------------------------------------


def test_a_claim_id_over_20_characters_is_refused_and_says_why(run: Run, tmp_path: Path) -> None:
    data = example()
    data["claims"][0]["id"] = "SUN-2026-11-0001-ABCD"  # 21
    path = write(tmp_path / "claims.yaml", data)
    message = refused(
        run("validate", str(path)),
        f"{path}: claim SUN-2026-11-0001-ABCD: id: at most 20 characters, not 21",
    )
    assert "only the first 20" in message and "RFI 525" in message


def test_a_claim_id_of_20_characters_is_accepted(run: Run, tmp_path: Path) -> None:
    data = example()
    data["claims"][0]["id"] = "SUN-2026-11-0001-ABC"
    result = run("validate", str(write(tmp_path / "claims.yaml", data)))
    assert result.exit_code == 0, result.output


def test_a_non_ascii_claim_id_is_refused_at_validate_before_a_control_number_is_used(
    run: Run, tmp_path: Path
) -> None:
    config = str(config_file(tmp_path))
    data = example()
    data["claims"][0]["id"] = "SUN-1001é"
    bad = write(tmp_path / "bad.yaml", data)
    refused(run("validate", str(bad)), f"{bad}: claim SUN-1001é: id: printable ASCII only")
    out = tmp_path / "out.x12"
    refused(run("--config", config, "build", str(bad), "--account", "sunrise", "-o", str(out)))
    assert not out.exists()
    result = run("--config", config, "build", str(EXAMPLE), "--account", "sunrise", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "ISA13 000000001" in result.output  # the refused build used none


# --- 4. duplicate keys ------------------------------------------------------------------


def test_a_duplicate_yaml_key_is_refused_with_its_line(run: Run, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("charge: 480.00,", "charge: 480.00, charge: 4800.00,")
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "4800" in row)
    refused(
        run("validate", str(path)),
        f"{path}: line {line}: duplicate key 'charge' (first on line {line})",
    )


def test_a_duplicate_yaml_key_on_another_line_is_refused(run: Run, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "    place_of_service:", "    prior_authorization: PA1\n    place_of_service:", 1
    )
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    lines = [n for n, row in enumerate(text.splitlines(), 1) if "prior_authorization" in row]
    refused(
        run("validate", str(path)),
        f"{path}: line {lines[1]}: duplicate key 'prior_authorization' (first on line {lines[0]})",
    )


def test_yaml_merge_keys_may_still_be_overridden(run: Run, tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    first = '      - {service_date: 2026-11-02, procedure: "97153"'
    second = '      - {service_date: 2026-11-02, procedure: "97155"'
    assert first in text and second in text
    text = text.replace(first, '      - &first {service_date: 2026-11-02, procedure: "97153"')
    text = text.replace(
        text[text.index(second) : text.index("\n", text.index(second))],
        "      - {<<: *first, charge: 200.00}",
    )
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    assert run("validate", str(path)).exit_code == 0
    lines = load_claims(path).claims[0].lines
    assert (lines[1].procedure, lines[1].charge) == ("97153", Decimal("200.00"))


def test_a_duplicate_json_key_is_refused_with_its_line(run: Run, tmp_path: Path) -> None:
    text = json.dumps(example(), default=str, indent=1)
    text = text.replace('"charge": 480.0', '"charge": 480.0,\n"charge": 4800.0', 1)
    path = tmp_path / "claims.json"
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "4800" in row)
    refused(run("validate", str(path)), f"{path}: line {line}: duplicate key 'charge'")


def test_a_duplicate_json_key_deep_in_a_claim_is_refused(run: Run, tmp_path: Path) -> None:
    text = json.dumps(example(), default=str, indent=1)
    text = text.replace('"id": "00621"', '"id": "00621",\n"id": "00622"', 1)
    path = tmp_path / "claims.json"
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "00622" in row)
    refused(run("validate", str(path)), f"{path}: line {line}: duplicate key 'id'")


def test_nan_is_not_json(run: Run, tmp_path: Path) -> None:
    text = json.dumps(example(), default=str, indent=1)
    path = tmp_path / "claims.json"
    path.write_text(text.replace('"charge": 480.0', '"charge": NaN', 1))
    line, column = next(
        (n, row.index("NaN") + 1)
        for n, row in enumerate(path.read_text().splitlines(), 1)
        if "NaN" in row
    )
    refused(
        run("validate", str(path)),
        f"{path}: line {line}, column {column}: not valid JSON: expected value",
    )


def test_a_duplicate_key_that_is_not_a_field_name_is_not_shown(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - Ava Smith 1984-02-11: 1\n    Ava Smith 1984-02-11: 2\n")
    result = run("validate", str(path))
    refused(result, f"{path}: line 3: duplicate key (not shown) (first on line 2)")
    assert "Ava" not in result.output and "1984" not in result.output


def test_a_duplicate_key_in_the_accounts_config_is_refused(run: Run, tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        CONFIG.replace(
            "    submitter_id:", "    mode: production\n    mode: test\n    submitter_id:"
        ),
    )
    refused(run("--config", str(path), "status"), f"{path}: line 5: duplicate key 'mode'")


# --- 5. size limit ----------------------------------------------------------------------


def test_a_claims_file_over_200_mb_is_refused_unread(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:  # sparse: nothing is written, nothing need be read
        handle.truncate(200_000_001)
    message = refused(run("validate", str(path)), f"{path}: claims file of 200.0 MB")
    assert "over the 200 MB limit" in message and "CLAIMFERRY_CLAIMS_FILE_LIMIT_MB" in message


def test_the_claims_file_limit_comes_from_env_then_config(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = EXAMPLE.stat().st_size
    config = config_file(tmp_path, CONFIG + "claims_file_limit_mb: 0.001\n")
    refused(run("--config", str(config), "validate", str(EXAMPLE)), "over the 0.0 MB (1,000 bytes)")
    monkeypatch.setenv("CLAIMFERRY_CLAIMS_FILE_LIMIT_MB", "1")
    assert run("--config", str(config), "validate", str(EXAMPLE)).exit_code == 0
    monkeypatch.setenv("CLAIMFERRY_CLAIMS_FILE_LIMIT_MB", str(size / 2 / 1_000_000))
    refused(run("validate", str(EXAMPLE)), f"{EXAMPLE}: claims file of ")
    monkeypatch.setenv("CLAIMFERRY_CLAIMS_FILE_LIMIT_MB", "lots")
    refused(run("validate", str(EXAMPLE)), "CLAIMFERRY_CLAIMS_FILE_LIMIT_MB: expected a number")


# --- 6. credential source settings ------------------------------------------------------


def test_an_unknown_credential_setting_is_refused_naming_the_allowed_ones(
    run: Run, tmp_path: Path
) -> None:
    path = config_file(tmp_path, CONFIG.replace("{source: env}", "{source: env, pasword_var: P}"))
    message = refused(
        run("--config", str(path), "credentials", "test", "sunrise"),
        "accounts.sunrise.credentials.pasword_var: not a setting of credential source 'env'",
    )
    assert "username_var, password_var, private_key_var, passphrase_var" in message


@pytest.mark.parametrize("key", ["pwd", "pass", "passwd", "secret", "token", "sftpPass"])
def test_secrets_under_any_secret_key_are_refused(run: Run, tmp_path: Path, key: str) -> None:
    path = config_file(
        tmp_path, CONFIG.replace("{source: env}", f"{{source: env, {key}: '{SECRET}'}}")
    )
    result = run("--config", str(path), "credentials", "test", "sunrise")
    refused(result, f"{path}: accounts.sunrise.credentials.{key}: holds a secret")
    assert SECRET not in result.output


def test_a_password_typed_into_password_var_is_never_shown(run: Run, tmp_path: Path) -> None:
    path = config_file(
        tmp_path, CONFIG.replace("{source: env}", f"{{source: env, password_var: '{SECRET}'}}")
    )
    result = run("--config", str(path), "credentials", "test", "sunrise")
    refused(result, "accounts.sunrise.credentials.password_var: must name an environment variable")
    assert SECRET not in result.output and "Hunter2" not in result.output


# --- 7. the accounts config -------------------------------------------------------------


@pytest.mark.parametrize(
    "inbound", ["outbound", "/outbound", "outbound/", "./outbound/../outbound", "Outbound/x"]
)
def test_inbound_that_resolves_to_outbound_is_refused(
    run: Run, tmp_path: Path, inbound: str
) -> None:
    path = config_file(
        tmp_path, CONFIG.replace("port: 2222,", f"port: 2222, inbound: '{inbound}',")
    )
    refused(
        run("--config", str(path), "status"),
        f"{path}: accounts.sunrise.sftp: inbound '{inbound}' is the outbound folder 'outbound'",
    )


def test_submitter_ids_differing_only_in_case_are_refused(run: Run, tmp_path: Path) -> None:
    second = (
        CONFIG.split("\n", 1)[1].replace("sunrise:", "sunset:").replace("SUNRISE01", "sunrise01")
    )
    path = config_file(tmp_path, CONFIG + second)
    message = refused(run("--config", str(path), "status"), f"{path}: ")
    assert "accounts sunrise and sunset" in message and "differ only in case" in message


def test_one_submitter_id_at_two_clearinghouses_is_fine(run: Run, tmp_path: Path) -> None:
    second = (
        CONFIG.split("\n", 1)[1].replace("sunrise:", "sunset:").replace("SUNRISE01", "sunrise01")
    )
    second = second.replace("clearinghouse: officeally", "clearinghouse: other")
    path = config_file(tmp_path, CONFIG + second)
    result = run("--config", str(path), "status")
    assert "differ only in case" not in result.output


# --- the real process -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("deep.json", '{"claims": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
        (
            "charge.yaml",
            EXAMPLE.read_text().replace("charge: 480.00", "charge: 1e400"),
            "claim SUN-1001: lines[0].charge: at most 18 digits",
        ),
    ],
)
def test_the_installed_command_exits_2_without_a_traceback(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    env = own_environment()
    done = subprocess.run(
        [sys.executable, "-m", "claimferry", "validate", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}: " in done.stdout + done.stderr and expected in done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
