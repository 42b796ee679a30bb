"""The order of hook calls in a whole run: submit, then fetch, against the harness."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.manager import PluginManager
from claimferry_harness import HarnessUser, MockOfficeAlly

CLAIMS = Path(__file__).with_name("issue_example_claims.yaml")


def _hooks(stderr: str) -> list[str]:
    """Hook names in calling order, one entry per call (not per implementation)."""
    calls: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("claimferry: hook "):
            name = line.split()[2]
            if not calls or calls[-1] != name:
                calls.append(name)
    return calls


def test_hook_call_order_in_submit_and_fetch(
    plugin_manager: PluginManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with MockOfficeAlly(tmp_path / "oa", {"sunrise": HarnessUser(password="pw-test")}) as oa:
        config = tmp_path / "accounts.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "accounts": {
                        "sunrise": {
                            "clearinghouse": "officeally",
                            "submitter_id": "SUNRISE01",
                            "contact": {"name": "Billing", "phone": "2175550100"},
                            "sftp": {
                                "host": oa.host,
                                "port": oa.port,
                                "host_key": oa.host_key_openssh,
                            },
                            "credentials": {"source": "env"},
                        }
                    }
                }
            )
        )
        monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
        monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
        monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_USERNAME", "sunrise")
        monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", "pw-test")
        monkeypatch.setenv("CLAIMFERRY_TRACE_PLUGINS", "1")
        runner = CliRunner()
        cli = create_cli(plugin_manager)
        # Building the CLI is the only hook call before a command runs.
        assert _hooks(capsys.readouterr().err) == ["claimferry_cli_commands"]
        submitted = runner.invoke(cli, ["submit", str(CLAIMS), "--account", "sunrise"])
        assert submitted.exit_code == 0, submitted.stderr
        assert oa.wait_idle(30)
        fetched = runner.invoke(cli, ["fetch", "--account", "sunrise"])
        assert fetched.exit_code == 0, fetched.stderr
    # Loading the config checks each account's clearinghouse and credential source
    # are installed, and each alert destination fits its notifier, so a misspelt one
    # is a config error before anything happens.
    config_check = [
        "claimferry_clearinghouses",
        "claimferry_credential_sources",
        "claimferry_notifiers",
    ]
    assert _hooks(submitted.stderr) == [
        *config_check,
        "claimferry_enrollment_validators",  # every validator, before anything is built
        "claimferry_clearinghouses",  # the account's profile: envelope and file name
        "claimferry_claim_transports",  # the profile's transport
        "claimferry_credential_sources",  # the account's secrets, just before connecting
    ]
    assert _hooks(fetched.stderr) == [
        *config_check,
        "claimferry_clearinghouses",
        "claimferry_claim_transports",
        "claimferry_credential_sources",
        "claimferry_response_readers",  # reports that are not X12
    ]
