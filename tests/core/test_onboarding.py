"""Onboarding steps read from facts: a real ledger, credential store, payer list and
config; the ``onboard`` commands' bad input and refusals; ``harness users add``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keyring
import pytest
import yaml
from click.testing import CliRunner, Result

from claimferry.cli import create_cli
from claimferry.cli import onboard as onboard_cli
from claimferry.config import Account, Config, load_config
from claimferry.credentials import Credentials, SecretStr
from claimferry.credstore import CredentialStore, MasterKey, generate_master_key
from claimferry.enrollment import EnrollmentEntry, set_enrollment
from claimferry.errors import ConfigError
from claimferry.ledger import LOGIN_OK, LOGIN_REFUSED, Ledger
from claimferry.manager import PluginManager
from claimferry.onboarding import (
    ClinicOnboarding,
    mark_step,
    onboarding_status,
    sftp_request,
    summarize,
)
from claimferry.storage import StorageError
from claimferry_harness.cli import harness_group
from claimferry_harness.users import load_users
from claimferry_officeally.payers import PayerList, parse_payer_list

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _config_data(**north: Any) -> dict[str, Any]:
    return {
        "accounts": {
            "north": {
                "clearinghouse": "officeally",
                "submitter_id": "NORTH01",
                "contact": {"name": "Dana Reyes", "phone": "2175550199"},
                "sftp": {"host": "127.0.0.1", "port": 2222},
                "credentials": {"source": "store"},
                "onboarding": {
                    "portal_username": "north-aba",
                    "registered_email": "billing@north.example",
                    "payers": ["62308", "60054"],
                },
                **north,
            }
        }
    }


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def ledger(state: Path) -> Iterator[Ledger]:
    with Ledger.open(state) as opened:
        yield opened


def _account(tmp_path: Path, **north: Any) -> Account:
    config: Config = load_config(_write(tmp_path, _config_data(**north)))
    return config.account("north")


def _clinic(pm: PluginManager, ledger: Ledger, state: Path, account: Account) -> ClinicOnboarding:
    (clinic,) = onboarding_status(pm, ledger, state, [account], now=NOW, payer_list_max_age_days=90)
    return clinic


def _done(clinic: ClinicOnboarding) -> dict[str, bool]:
    return {step.key: step.done for step in clinic.steps}


def test_a_new_clinic_holds_no_step_and_each_names_its_next_action(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger, state: Path
) -> None:
    clinic = _clinic(plugin_manager, ledger, state, _account(tmp_path))
    assert not any(_done(clinic).values())
    assert clinic.next_step is not None and clinic.next_step.number == 1
    actions = {step.key: step.action for step in clinic.steps}
    assert actions["credentials"] == "claimferry credentials set north"
    assert actions["host-key"] == "claimferry hostkey north --pin"
    assert actions["login"] == "claimferry credentials test north"
    assert actions["production"] == "claimferry onboard promote north"
    assert [s.number for s in clinic.missing_for_production] == list(range(3, 10))
    assert summarize([clinic]) == {
        "clinics": 1,
        "in_production": 0,
        "complete": 0,
        "blocked_at": [{"step": 1, "title": "Office Ally account", "clinics": 1}],
    }


def test_the_summary_counts_production_mode_apart_from_complete_onboarding(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger, state: Path
) -> None:
    """A clinic put in production by hand, with steps missing, is in production and blocked."""
    clinic = _clinic(plugin_manager, ledger, state, _account(tmp_path, mode="production"))
    assert clinic.in_production and clinic.next_step is not None
    summary = summarize([clinic])
    assert (summary["in_production"], summary["complete"]) == (1, 0)
    assert summary["blocked_at"][0]["clinics"] == 1
    assert clinic.as_json()["in_production"] is True


def test_each_fact_turns_its_step_and_a_refused_login_turns_it_back(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger, state: Path, samples_dir: Path
) -> None:
    account = _account(tmp_path, sftp={"host": "h", "host_key": HOST_KEY})
    mark_step(ledger, "north", "oa-account", NOW.date() - timedelta(days=3))
    master = MasterKey(base64.b64decode(generate_master_key()), "test")
    secrets = Credentials(username="north-sftp", password=SecretStr("s3cret-test-only"))
    CredentialStore(ledger.db).put("north", secrets, master, actor="tester")
    ledger.audit(LOGIN_OK, account="north", host_fingerprint="SHA256:x")
    clinic = _clinic(plugin_manager, ledger, state, account)
    done = _done(clinic)
    assert done["oa-account"] and done["credentials"] and done["host-key"] and done["login"]
    steps = {s.key: s for s in clinic.steps}
    assert steps["oa-account"].detail.startswith(f"{(NOW.date() - timedelta(days=3))} (marked")
    # no request was marked, but a login that worked shows Office Ally opened SFTP
    assert steps["sftp-requested"].detail == "implied: an SFTP login worked"

    ledger.audit(LOGIN_REFUSED, account="north", detail="the server refused the login")
    steps = {s.key: s for s in _clinic(plugin_manager, ledger, state, account).steps}
    assert not steps["login"].done and steps["login"].detail.startswith("on hold")
    assert not steps["sftp-requested"].done  # nothing shows it any more

    with PayerList.open(state) as payers:
        payers.replace(parse_payer_list(samples_dir / "officeally_payer_list.csv"), "list.csv")
    steps = {s.key: s for s in _clinic(plugin_manager, ledger, state, account).steps}
    assert steps["payer-list"].done
    (stale,) = onboarding_status(
        plugin_manager,
        ledger,
        state,
        [account],
        now=NOW + timedelta(days=400),
        payer_list_max_age_days=90,
    )
    assert "days ago (over 90)" in {s.key: s for s in stale.steps}["payer-list"].detail
    # CIGNA and Aetna need no 837P enrollment on the list, but ERA (835) enrollment
    assert steps["edi-enrollment"].done
    assert steps["era-enrollment"].detail == "not approved for 62308, 60054"
    for payer in ("62308", "60054"):
        entry = EnrollmentEntry.model_validate(
            {
                "npi": "1234567893",
                "tax_id": "123456789",
                "payer_id": payer,
                "transaction": "835",
                "status": "approved" if payer == "62308" else "submitted",
            }
        )
        set_enrollment(ledger, "north", entry, "tester")
    steps = {s.key: s for s in _clinic(plugin_manager, ledger, state, account).steps}
    assert steps["era-enrollment"].detail == "not approved for 60054"


def _credentials_step(pm: PluginManager, ledger: Ledger, state: Path, account: Account) -> Any:
    (step,) = [s for s in _clinic(pm, ledger, state, account).steps if s.key == "credentials"]
    return step


def _uses(ledger: Ledger) -> list[str | None]:
    return [e.detail for e in ledger.audit_entries("north") if e.action == "credentials-used"]


def test_env_and_file_sources_are_asked_without_reading_a_secret(
    tmp_path: Path,
    plugin_manager: PluginManager,
    ledger: Ledger,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _account(tmp_path, credentials={"source": "env"})
    monkeypatch.delenv("CLAIMFERRY_NORTH_SFTP_USERNAME", raising=False)
    step = _credentials_step(plugin_manager, ledger, state, env)
    assert not step.done and "CLAIMFERRY_NORTH_SFTP_USERNAME is not set" in step.detail
    monkeypatch.setenv("CLAIMFERRY_NORTH_SFTP_USERNAME", "north-sftp")
    monkeypatch.setenv("CLAIMFERRY_NORTH_SFTP_PASSWORD", "s3cret-test-only")
    step = _credentials_step(plugin_manager, ledger, state, env)
    assert step.done and step.detail == "source env: its environment variables are set"
    # a file that is there and private is enough: its content is not read (this is not YAML)
    secrets_file = tmp_path / "north.yaml"
    secrets_file.write_text("username: [unclosed")
    secrets_file.chmod(0o600)
    by_file = _account(tmp_path, credentials={"source": "file", "path": str(secrets_file)})
    assert _credentials_step(plugin_manager, ledger, state, by_file).done
    secrets_file.chmod(0o644)
    step = _credentials_step(plugin_manager, ledger, state, by_file)
    assert not step.done and "chmod 600" in step.detail
    assert _uses(ledger) == []


def test_a_source_that_must_be_read_to_know_is_audited_as_a_use(
    tmp_path: Path,
    plugin_manager: PluginManager,
    ledger: Ledger,
    state: Path,
    memory_keyring: Any,
) -> None:
    keyring.set_password("claimferry", "north:username", "north-sftp")
    keyring.set_password("claimferry", "north-sftp", "s3cret-test-only")
    account = _account(tmp_path, credentials={"source": "keyring"})
    assert _credentials_step(plugin_manager, ledger, state, account).done
    (used,) = _uses(ledger)
    assert used is not None and used.startswith("source keyring, username sha256:")
    assert used.endswith("read by onboard status (no login)")
    assert "s3cret-test-only" not in used and "north-sftp" not in used


def test_an_unlisted_payer_needs_enrollment_and_no_payers_is_a_gap(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger, state: Path, samples_dir: Path
) -> None:
    with PayerList.open(state) as payers:
        payers.replace(parse_payer_list(samples_dir / "officeally_payer_list.csv"), "list.csv")
    unlisted = _account(tmp_path, onboarding={"payers": ["ZZ999"]})
    steps = {s.key: s for s in _clinic(plugin_manager, ledger, state, unlisted).steps}
    assert steps["edi-enrollment"].detail == "not approved for ZZ999"
    none = _account(tmp_path, onboarding={})
    steps = {s.key: s for s in _clinic(plugin_manager, ledger, state, none).steps}
    assert steps["edi-enrollment"].action == (
        "list the payer IDs the clinic bills in accounts.north.onboarding.payers"
    )


def test_the_sftp_request_has_the_four_fields_or_names_what_is_missing(tmp_path: Path) -> None:
    message = sftp_request(_account(tmp_path))
    assert (message["From"], message["To"]) == ("billing@north.example", "support@officeally.com")
    body = message.get_content().splitlines()
    for line in ("Username: north-aba", "Contact Name: Dana Reyes", "Type: HCFA"):
        assert line in body
    assert "Software Name: claimferry" in body
    bare = _account(tmp_path, onboarding={}, contact=None)
    with pytest.raises(ConfigError) as raised:
        sftp_request(bare)
    assert [p.location for p in raised.value.problems] == [
        "accounts.north.onboarding.portal_username",
        "accounts.north.onboarding.registered_email",
        "accounts.north.contact.name",
    ]


def test_onboarding_settings_are_checked_at_load(tmp_path: Path) -> None:
    data = _config_data(onboarding={"registered_email": "not an address", "payers": ["A B"]})
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, data))
    text = str(raised.value)
    assert "accounts.north.onboarding.registered_email: expected an e-mail address" in text
    assert "accounts.north.onboarding.payers" in text


# -- the commands --------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, plugin_manager: PluginManager, state: Path) -> Iterator[tuple[Path, Any]]:
    config = _write(tmp_path, _config_data())
    cli = create_cli(plugin_manager)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), *args])

    yield config, invoke


def test_mark_refuses_bad_steps_and_dates(run: tuple[Path, Any]) -> None:
    _, invoke = run
    for args, message in (
        (("north", "credentials"), "'credentials' is not one of"),
        (("north", "oa-account", "--date", "2026-13-01"), "does not match the format"),
        (("north", "oa-account", "--date", "2999-01-01"), "is in the future"),
        (("nobody", "oa-account"), "no such account"),
    ):
        result = invoke("onboard", "mark", *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "Traceback" not in result.output
    marked = invoke("onboard", "mark", "north", "sftp-requested", "--date", "2026-12-01", "--json")
    assert json.loads(marked.stdout)["date"] == "2026-12-01"


def test_promote_lists_what_is_missing_and_leaves_the_config(run: tuple[Path, Any]) -> None:
    config, invoke = run
    before = config.read_bytes()
    result = invoke("onboard", "promote", "north")
    assert result.exit_code == 1
    assert "north stays in test mode; missing:" in result.stderr
    assert "3 credentials stored: nothing in the credential store" in result.stderr
    assert config.read_bytes() == before
    audit = json.loads(invoke("audit", "--json").stdout)
    assert not [e for e in audit if e["action"] == "promoted-to-production"]


def _actions(invoke: Any) -> list[str]:
    return [e["action"] for e in json.loads(invoke("audit", "--json").stdout)]


def test_a_promotion_killed_after_the_config_changed_has_its_record(
    run: tuple[Path, Any], state: Path
) -> None:
    """The audit entry is written before the config says production: a SIGKILL right
    after the config change leaves a production clinic with its promotion record."""
    config, invoke = run
    env = os.environ | {"CLAIMFERRY_FAILPOINT": "promote-config-written"}
    command = ["--config", str(config), "onboard", "promote", "north", "--force"]
    killed = subprocess.run(
        [sys.executable, "-m", "claimferry", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    assert yaml.safe_load(config.read_text())["accounts"]["north"]["mode"] == "production"
    assert _actions(invoke) == ["promoted-to-production"]
    status = json.loads(invoke("onboard", "status", "north", "--json").stdout)
    assert status["clinics"][0]["promoted_at"] is not None


def test_a_config_change_that_fails_is_recorded_and_undoes_the_promotion(
    run: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, invoke = run
    before = config.read_bytes()

    def disk_full(*args: Any) -> None:
        raise StorageError("accounts.yaml: cannot replace the file (No space left on device)")

    monkeypatch.setattr(onboard_cli, "set_mode", disk_full)
    result = invoke("onboard", "promote", "north", "--force")
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert config.read_bytes() == before
    assert _actions(invoke) == ["promoted-to-production", "promotion-failed"]
    status = json.loads(invoke("onboard", "status", "north", "--json").stdout)
    assert status["clinics"][0]["promoted_at"] is None  # that promotion did not happen


def test_status_of_all_clinics_has_a_summary(run: tuple[Path, Any]) -> None:
    _, invoke = run
    invoke("onboard", "mark", "north", "oa-account")
    text = invoke("onboard", "status")
    assert text.exit_code == 0, text.output
    assert "2 SFTP requested" in text.stdout
    assert "claimferry onboard request-sftp north" in text.stdout
    assert text.stdout.rstrip().endswith(
        "1 clinic(s): 0 in production mode, 0 with all ten steps done; blocked: 1 at step 2"
    )


def test_request_sftp_writes_the_mail_file_and_marks_step_2(
    run: tuple[Path, Any], tmp_path: Path
) -> None:
    _, invoke = run
    out = tmp_path / "request.eml"
    result = invoke("onboard", "request-sftp", "north", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "To: support@officeally.com" in text and "Type: HCFA" in text
    status = json.loads(invoke("onboard", "status", "north", "--json").stdout)
    assert status["clinics"][0]["steps"][1]["done"]


def test_request_sftp_never_overwrites_a_file_unless_forced(
    run: tuple[Path, Any], tmp_path: Path
) -> None:
    _, invoke = run
    out = tmp_path / "notes.eml"
    out.write_text("the clinic's own notes\n")
    refused = invoke("onboard", "request-sftp", "north", "-o", str(out))
    assert refused.exit_code == 2
    assert f"--output {out} exists; not overwritten (--force replaces it)" in refused.stderr
    assert out.read_text() == "the clinic's own notes\n"
    assert "onboard-marked:sftp-requested" not in _actions(invoke)
    forced = invoke("onboard", "request-sftp", "north", "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert "Type: HCFA" in out.read_text()


def _issue(name: str, users: Path) -> Result:
    return CliRunner().invoke(harness_group(), ["users", "add", name, "--users", str(users)])


def test_harness_users_add_issues_a_login_once(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    first = CliRunner().invoke(
        harness_group(), ["users", "add", "north-sftp", "--users", str(users)]
    )
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == "SFTP username: north-sftp"
    password = lines[1].removeprefix("SFTP password: ")
    assert len(password) >= 20
    assert load_users(users)["north-sftp"].password_matches(password)
    assert users.stat().st_mode & 0o777 == 0o600

    again = CliRunner().invoke(
        harness_group(), ["users", "add", "north-sftp", "--users", str(users)]
    )
    assert again.exit_code == 2 and "exists already" in again.stderr
    assert load_users(users)["north-sftp"].password_matches(password)
    bad = _issue("../x", users)
    assert bad.exit_code == 2 and "must start with a letter or digit" in bad.stderr
    other = _issue("south", users)
    assert other.exit_code == 0
    assert set(load_users(users)) == {"north-sftp", "south"}


def test_the_printed_request_is_the_one_docs_onboarding_shows(
    tmp_path: Path, plugin_manager: PluginManager, state: Path
) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "onboarding.md").read_text()
    shown = doc[doc.index("From: billing@sunrise.example") :]
    shown = shown[: shown.index("```")]
    data = _config_data(
        onboarding={"portal_username": "sunrise-aba", "registered_email": "billing@sunrise.example"}
    )
    data["accounts"] = {"sunrise": data["accounts"]["north"]}
    config = _write(tmp_path, data)
    result = CliRunner().invoke(
        create_cli(plugin_manager), ["--config", str(config), "onboard", "request-sftp", "sunrise"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == shown
