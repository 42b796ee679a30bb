"""A new clinic taken through every onboarding step to production against the mock
Office Ally: each step turns done only when its fact exists, promotion is refused
until steps 3-9 hold, and the completed onboarding reaches the audit trail and the
alert digest. No secret in any output, audit entry or state file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from claimferry.credstore import MASTER_KEY_ENV
from claimferry.notify import ONBOARDING_COMPLETE
from claimferry_harness.cli import _reload_users, harness_group
from claimferry_harness.users import UsersFileWatch
from e2e.support import ACCOUNT, E2E
from support.alert_servers import WEBHOOK_SECRET, WebhookServer, webhook_server

CLINIC = "northside"
SAMPLE_PAYERS = ("00621", "60054", "62308", "87726")
"""The payers of the sample claims: on the sample payer list, no 837P enrollment needed,
ERA (835) enrollment required."""


def _steps(world: E2E) -> dict[str, dict[str, Any]]:
    data = world.json("onboard", "status", CLINIC)
    (clinic,) = data["clinics"]
    return {step["key"]: step for step in clinic["steps"]}


def _done(world: E2E) -> set[str]:
    return {key for key, step in _steps(world).items() if step["done"]}


def _alert_ops_by_webhook(world: E2E, url: str) -> None:
    """The vendor's operations hear of the clinic's completed onboarding by webhook."""
    world.monkeypatch.setenv("OPS_WEBHOOK_SECRET", WEBHOOK_SECRET)
    config = yaml.safe_load(world.config_path.read_text())
    config["notifiers"] = {
        "ops": {"type": "webhook", "url": url, "secret_var": "OPS_WEBHOOK_SECRET"}
    }
    config["accounts"][CLINIC]["alerts"] = {"ops": ["onboarding_complete"]}
    world.config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_a_new_clinic_goes_from_nothing_to_production(
    e2e: E2E, samples_dir: Path, tmp_path: Path
) -> None:
    with webhook_server() as webhook:
        _onboard_a_clinic(e2e, samples_dir, tmp_path, webhook)


def _onboard_a_clinic(e2e: E2E, samples_dir: Path, tmp_path: Path, webhook: WebhookServer) -> None:
    outputs = []
    host, port = e2e.harness.host, str(e2e.harness.port)
    outputs.append(
        e2e.ok(
            "accounts", "add", CLINIC, "--clearinghouse", "officeally",
            "--submitter-id", "NORTH01", "--host", host, "--port", port,
            "--contact-name", "Dana Reyes", "--contact-phone", "2175550199",
            "--portal-username", "northside-aba", "--registered-email",
            "billing@northside.example", "--no-input",
        )
    )  # fmt: skip
    _alert_ops_by_webhook(e2e, webhook.url)
    status = e2e.json("onboard", "status", CLINIC)
    assert status["clinics"][0]["blocked_at"] == 1
    assert _done(e2e) == set()  # not even the host key: nothing pinned yet

    e2e.ok("onboard", "mark", CLINIC, "oa-account", "--date", "2026-12-01")
    request = e2e.json("onboard", "request-sftp", CLINIC)
    assert request["from"] == "billing@northside.example"
    assert request["to"] == "support@officeally.com"
    for line in (
        "Username: northside-aba",
        "Contact Name: Dana Reyes",
        "Software Name: claimferry",
        "Type: HCFA",
    ):
        assert line in request["body"].splitlines()
    assert _done(e2e) == {"oa-account", "sftp-requested"}

    # Office Ally's side: it opens the SFTP account and e-mails username and password
    users_file = tmp_path / "users.yaml"
    watch = UsersFileWatch(users_file)
    issued = CliRunner().invoke(
        harness_group(), ["users", "add", "northside-sftp", "--users", str(users_file), "--json"]
    )
    assert issued.exit_code == 0, issued.output
    login = json.loads(issued.stdout)
    assert users_file.stat().st_mode & 0o777 == 0o600
    _reload_users(e2e.harness, watch)  # what a running `harness serve --users` does

    key_file = tmp_path / "master.key"
    e2e.ok("credentials", "new-master-key", "--file", str(key_file))
    e2e.monkeypatch.setenv(f"{MASTER_KEY_ENV}_FILE", str(key_file))
    typed = f"{login['username']}\n{login['password']}\n"
    stored = e2e.run("credentials", "set", CLINIC, "--stdin", input=typed)
    assert stored.exit_code == 0, stored.output
    outputs.append(stored)
    assert "credentials" in _done(e2e)

    outputs.append(e2e.ok("hostkey", CLINIC, "--pin", "--yes"))
    assert "host-key" in _done(e2e)
    outputs.append(e2e.ok("credentials", "test", CLINIC))
    assert "login" in _done(e2e)

    refused = e2e.run("onboard", "promote", CLINIC)
    assert refused.exit_code == 1
    for step in ("6 payer list", "7 EDI enrollment", "8 ERA enrollment", "9 test file"):
        assert step in refused.stderr
    assert yaml.safe_load(e2e.config_path.read_text())["accounts"][CLINIC]["mode"] == "test"

    shutil_copy = samples_dir / "officeally_payer_list.csv"
    e2e.ok("payers", "import", str(shutil_copy))
    assert "payer-list" in _done(e2e)

    claims = e2e.claims_file()
    outputs.append(e2e.ok("submit", str(claims), "--account", CLINIC))
    steps = _steps(e2e)
    assert not steps["test-file"]["done"]
    assert "no accepted 999 yet" in steps["test-file"]["detail"]
    # the claims name the payers now; none needs 837P enrollment, each needs ERA enrollment
    assert steps["edi-enrollment"]["done"]
    assert not steps["era-enrollment"]["done"]
    for payer in SAMPLE_PAYERS:
        assert payer in steps["era-enrollment"]["detail"]

    e2e.harness.wait_idle(30)
    e2e.waiter(5, timeout=30, user=login["username"])
    outputs.append(e2e.ok("fetch", "--account", CLINIC))
    steps = _steps(e2e)
    assert steps["test-file"]["done"] and "OATEST" in steps["test-file"]["detail"]

    for payer in SAMPLE_PAYERS:
        e2e.ok(
            "enrollment", "set", "--account", CLINIC, "--npi", "1234567893",
            "--tax-id", "123456789", "--payer-id", payer, "--transaction", "835",
            "--status", "approved",
        )  # fmt: skip
    assert _done(e2e) == {key for key in _steps(e2e)} - {"production"}

    outputs.append(e2e.ok("onboard", "promote", CLINIC))
    config = yaml.safe_load(e2e.config_path.read_text())
    assert config["accounts"][CLINIC]["mode"] == "production"
    final = e2e.json("onboard", "status")
    assert final["summary"]["complete"] == final["summary"]["in_production"] == 1
    assert final["clinics"][[c["account"] for c in final["clinics"]].index(CLINIC)]["complete"]

    audit = [e for e in e2e.audit() if e["account"] == CLINIC]
    actions = [e["action"] for e in audit]
    assert {"onboard-marked:oa-account", "onboard-marked:sftp-requested"} <= set(actions)
    assert actions[-2:] == ["promoted-to-production", ONBOARDING_COMPLETE]

    # the completed onboarding is an alert, sent with the next fetch
    assert not webhook.verified()
    outputs.append(e2e.ok("fetch", "--account", CLINIC))
    (posted,) = webhook.verified()
    digest = json.loads(posted.body)
    assert digest["account"] == CLINIC
    assert [a["kind"] for a in digest["alerts"]] == ["onboarding_complete"]
    outputs.append(e2e.ok("audit", "--json"))
    text = "\n".join(r.output for r in outputs) + json.dumps(audit)
    assert login["password"] not in text
    state_bytes = b"".join(p.read_bytes() for p in e2e.state_dir.rglob("*") if p.is_file())
    assert login["password"].encode() not in state_bytes


def test_submit_in_production_warns_until_promoted(e2e: E2E, samples_dir: Path) -> None:
    e2e.ok("payers", "import", str(samples_dir / "officeally_payer_list.csv"))
    e2e.accounts[ACCOUNT]["mode"] = "production"
    e2e.write_config()
    sent = e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT, "--json")
    assert f"warning: {ACCOUNT} is in production mode but was never promoted" in sent.stderr
    assert json.loads(sent.stdout)["delivered"]

    forced = e2e.ok("onboard", "promote", ACCOUNT, "--force", "--json")
    assert json.loads(forced.stdout)["forced"] is True
    (entry,) = [e for e in e2e.audit() if e["action"] == "promoted-to-production"]
    assert entry["detail"].startswith("forced; missing: ")
    assert entry["actor"]
    assert ONBOARDING_COMPLETE not in [e["action"] for e in e2e.audit()]
    again = e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT, "--dry-run")
    assert "never promoted" not in again.stderr
