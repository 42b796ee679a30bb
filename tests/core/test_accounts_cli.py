"""``claimferry accounts add|list|show|remove``: the config edited round-trip, checked
whole before it is written, comments and layout kept, concurrent edits all landing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimferry.cli import create_cli
from claimferry.config import load_config
from claimferry.manager import PluginManager
from support import own_environment

CONFIG = """\
# Billing vendor accounts: one per clinic
state_dir: state
accounts:
  # the first clinic; ask Dana before changing anything
  sunrise:
    clearinghouse: officeally
    submitter_id: SUNRISE01   # ISA06, from Office Ally
    mode: test
    sftp: {host: ftp10.officeally.com, port: 22}
    credentials:
      source: env
      password_var: SUNRISE_OA_PASS

  lakeside:
    clearinghouse: officeally
    submitter_id: 'LAKESIDE01'
    credentials: {source: store}
"""

FLAGS = (
    "--clearinghouse",
    "officeally",
    "--submitter-id",
    "HILL01",
    "--host",
    "ftp10.officeally.com",
    "--contact-name",
    "Front Desk",
    "--contact-phone",
    "2175550100",
    "--no-input",
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(CONFIG)
    path.chmod(0o640)
    return path


def run(pm: PluginManager, config: Path, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(
        create_cli(pm), ["--config", str(config), *args], input=input, catch_exceptions=False
    )
    assert "Traceback" not in result.output
    return result


def test_add_with_flags_appends_and_keeps_everything_else(
    plugin_manager: PluginManager, config: Path
) -> None:
    result = run(plugin_manager, config, "accounts", "add", "hillcrest", *FLAGS)
    assert result.exit_code == 0, result.output
    assert "next: claimferry credentials set hillcrest" in result.stderr
    written = config.read_text()
    assert written.startswith(CONFIG)  # every comment, quote and blank line as it was
    assert written[len(CONFIG) :] == (
        "  hillcrest:\n"
        "    clearinghouse: officeally\n"
        "    submitter_id: HILL01\n"
        "    mode: test\n"
        "    contact:\n"
        "      name: Front Desk\n"
        "      phone: '2175550100'\n"
        "    sftp:\n"
        "      host: ftp10.officeally.com\n"
        "    credentials:\n"
        "      source: store\n"
    )
    assert oct(config.stat().st_mode & 0o777) == oct(0o640)
    account = load_config(config).account("hillcrest")
    assert account.contact is not None and account.contact.phone == "2175550100"
    assert account.credentials is not None and account.credentials.source == "store"


def test_add_asks_for_what_the_flags_leave_out(plugin_manager: PluginManager, config: Path) -> None:
    typed = "\nHILL01\nftp10.officeally.com\nFront Desk\n2175550100\nhill-aba\n\n"
    result = run(plugin_manager, config, "accounts", "add", "hillcrest", input=typed)
    assert result.exit_code == 0, result.output
    for prompt in (
        "Clearinghouse [officeally]",
        "Submitter ID",
        "SFTP host",
        "Contact phone",
        "Office Ally portal username",
        "E-mail registered with Office Ally",
    ):
        assert prompt in result.stderr
    account = load_config(config).account("hillcrest")
    assert (account.clearinghouse, account.submitter_id) == ("officeally", "HILL01")
    assert account.sftp is not None and account.sftp.host == "ftp10.officeally.com"
    assert "then: claimferry hostkey hillcrest --pin" in result.stderr
    # the SFTP request's settings: one answered, one left for later (empty)
    assert account.onboarding.portal_username == "hill-aba"
    assert account.onboarding.registered_email is None


def test_add_asks_for_the_sftp_request_settings_unless_given(
    plugin_manager: PluginManager, config: Path
) -> None:
    typed = "\nHILL01\n\n\nhill-aba\nbilling@hill.example\n"
    result = run(plugin_manager, config, "accounts", "add", "hillcrest", input=typed)
    assert result.exit_code == 0, result.output
    onboarding = load_config(config).account("hillcrest").onboarding
    assert (onboarding.portal_username, onboarding.registered_email) == (
        "hill-aba",
        "billing@hill.example",
    )
    given = "\nLAKE02\n\n\n"
    flags = ("--portal-username", "lake-aba", "--registered-email", "a@lake.example")
    result = run(plugin_manager, config, "accounts", "add", "lakeview", *flags, input=given)
    assert result.exit_code == 0, result.output
    assert "portal username" not in result.stderr and "registered with" not in result.stderr


def test_add_into_a_new_file(plugin_manager: PluginManager, tmp_path: Path) -> None:
    path = tmp_path / "new" / "accounts.yaml"
    path.parent.mkdir()
    result = run(plugin_manager, path, "accounts", "add", "hillcrest", *FLAGS)
    assert result.exit_code == 0, result.output
    assert list(load_config(path).accounts) == ["hillcrest"]
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--submitter-id", "HILL*01"), "accounts.hillcrest.submitter_id: expected 2 to 15"),
        (("--clearinghouse", "nosuch"), "no clearinghouse 'nosuch' is installed"),
        (("--credentials-source", "vault"), "no credential source 'vault' is installed"),
        (("--contact-phone", "555"), "accounts.hillcrest.contact.phone"),
        (("--host-key", "ssh-ed25519 AAAAcut"), "accounts.hillcrest.sftp.host_key"),
        (("--submitter-id", "sunrise01"), "differ only in case"),
    ],
)
def test_add_refuses_what_load_config_would_and_leaves_the_file(
    plugin_manager: PluginManager, config: Path, args: tuple[str, ...], expected: str
) -> None:
    flags = list(FLAGS)
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in flags:
            flags[flags.index(flag) + 1] = value
        else:
            flags += [flag, value]
    result = run(plugin_manager, config, "accounts", "add", "hillcrest", *flags)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and str(config) in result.stderr
    assert config.read_text() == CONFIG
    assert [p.name for p in config.parent.iterdir()] == [config.name]


def test_add_refuses_an_existing_name_and_missing_answers(
    plugin_manager: PluginManager, config: Path
) -> None:
    again = run(plugin_manager, config, "accounts", "add", "sunrise", *FLAGS)
    assert again.exit_code == 2 and "accounts.sunrise: exists already" in again.stderr
    bare = run(plugin_manager, config, "accounts", "add", "hillcrest", "--no-input")
    assert bare.exit_code == 2 and "--submitter-id required" in bare.stderr
    eof = run(plugin_manager, config, "accounts", "add", "hillcrest", input="")
    assert eof.exit_code == 2 and "give it as a flag" in eof.stderr
    assert config.read_text() == CONFIG


def test_list_and_show(plugin_manager: PluginManager, config: Path) -> None:
    listed = json.loads(run(plugin_manager, config, "accounts", "list", "--json").stdout)
    assert [(a["account"], a["credentials_source"]) for a in listed] == [
        ("sunrise", "env"),
        ("lakeside", "store"),
    ]
    lines = run(plugin_manager, config, "accounts", "list").stdout.splitlines()
    assert lines[0].split() == [
        *("ACCOUNT", "CLEARINGHOUSE", "SUBMITTER", "MODE", "SFTP", "HOST", "CREDENTIALS")
    ]
    assert lines[1].split() == [
        *("sunrise", "officeally", "SUNRISE01", "test", "ftp10.officeally.com", "env")
    ]
    assert lines[2].split() == ["lakeside", "officeally", "LAKESIDE01", "test", "-", "store"]
    shown = json.loads(run(plugin_manager, config, "accounts", "show", "sunrise", "--json").stdout)
    assert shown["submitter_id"] == "SUNRISE01" and shown["sftp"]["port"] == 22
    # a source's settings are named, their values masked
    assert shown["credentials"] == {"source": "env", "password_var": "**********"}
    text = run(plugin_manager, config, "accounts", "show", "sunrise").stdout
    assert "SUNRISE_OA_PASS" not in text and "host: ftp10.officeally.com" in text
    unknown = run(plugin_manager, config, "accounts", "show", "nosuch")
    assert unknown.exit_code == 2 and "known: lakeside, sunrise" in unknown.stderr


def test_remove_takes_out_one_account_only(plugin_manager: PluginManager, config: Path) -> None:
    asked = run(plugin_manager, config, "accounts", "remove", "lakeside", input="n\n")
    assert asked.exit_code == 1 and config.read_text() == CONFIG
    result = run(plugin_manager, config, "accounts", "remove", "lakeside", "--yes")
    assert result.exit_code == 0, result.output
    assert config.read_text() == CONFIG[: CONFIG.index("  lakeside:")]
    assert list(load_config(config).accounts) == ["sunrise"]
    gone = run(plugin_manager, config, "accounts", "remove", "lakeside", "--yes")
    assert gone.exit_code == 2


def test_concurrent_adds_from_several_processes_all_land(config: Path) -> None:
    """Two operators onboarding clinics at once: no add overwrites another's."""
    names = [f"clinic{n}" for n in range(6)]
    env = own_environment()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "claimferry",
                "--config",
                str(config),
                "accounts",
                "add",
                name,
                *FLAGS[:3],
                f"CLINIC{n}",
                *FLAGS[4:],
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, name in enumerate(names)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    accounts = load_config(config).accounts
    assert sorted(accounts) == sorted(["sunrise", "lakeside", *names])
    assert config.read_text().startswith(CONFIG)
