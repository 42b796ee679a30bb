"""Alerts end to end: claims the mock rejects and denies, one fetch, one e-mail digest
over STARTTLS and one signed webhook POST naming the claims and codes and no patient;
a webhook that fails gets the same digest at the next fetch, and the fetch never fails."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.support import ACCOUNT, E2E, mentions, sample_phi
from support.alert_servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_SECRET,
    SmtpServer,
    WebhookServer,
    smtp_server,
    webhook_server,
)

CLAIMS = {"SUN-REJECT-1": "rejected", "SUN-DENY-2": "denied", "SUN-PAID-3": "paid"}


def _claims(data: dict[str, Any]) -> None:
    model = next(c for c in data["claims"] if c["id"] == "SUN-1004")
    data["claims"] = [copy.deepcopy(model) | {"id": claim_id} for claim_id in CLAIMS]


def _alerting_config(e2e: E2E, smtp: SmtpServer, webhook: WebhookServer) -> None:
    """The e2e config plus two destinations: the clinic's billing office by e-mail,
    the vendor's operations by webhook."""
    e2e.monkeypatch.setenv("SUNRISE_SMTP_PASSWORD", SMTP_PASSWORD)
    e2e.monkeypatch.setenv("OPS_WEBHOOK_SECRET", WEBHOOK_SECRET)
    e2e.accounts[ACCOUNT]["alerts"] = {
        "billing": ["claim_rejected", "claim_denied"],
        "ops": "all",
    }
    config = {
        "notifiers": {
            "billing": {
                "type": "email",
                "host": smtp.host,
                "port": smtp.port,
                "sender": "claimferry@vendor.example",
                "to": ["billing@sunrise.example"],
                "username": SMTP_USER,
                "password_var": "SUNRISE_SMTP_PASSWORD",
                "ca_file": str(smtp.ca_file),
            },
            "ops": {"type": "webhook", "url": webhook.url, "secret_var": "OPS_WEBHOOK_SECRET"},
        },
        "accounts": copy.deepcopy(e2e.accounts),
    }
    e2e.config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_one_digest_per_fetch_by_email_and_signed_webhook_retried_when_it_fails(
    e2e: E2E, tmp_path: Path
) -> None:
    phi = sample_phi()
    with smtp_server(tmp_path) as smtp, webhook_server() as webhook:
        _alerting_config(e2e, smtp, webhook)
        e2e.ok("submit", str(e2e.claims_file(change=_claims)), "--account", ACCOUNT)
        assert e2e.harness.wait_idle(30)

        webhook.fail_with.append(500)
        fetched = e2e.ok("fetch", "--account", ACCOUNT, "--json")
        assert "alert digest to ops not delivered, kept for the next fetch" in fetched.stderr
        (result,) = json.loads(fetched.stdout)
        assert {a["notifier"]: a["delivered"] for a in result["alerts"]} == {
            "billing": True,
            "ops": False,
        }
        states = {c: r["state"] for c, r in e2e.claims_by_id().items()}
        assert states["SUN-DENY-2"] == "denied" and states["SUN-PAID-3"] == "paid"
        assert states["SUN-REJECT-1"] in ("rejected", "payer_rejected")

        # one e-mail for the whole fetch, over TLS, with ids and codes and no patient
        (message,) = smtp.mailbox.messages
        assert smtp.mailbox.tls == [True]
        assert message["Subject"] == "claimferry sunrise: 1 claim rejected, 1 claim denied"
        body = message.get_payload(decode=True).decode()
        assert "claim SUN-REJECT-1" in body and "claim SUN-DENY-2" in body
        assert "SUN-PAID-3" not in body
        denied_line = next(line for line in body.splitlines() if "SUN-DENY-2" in line)
        assert "CO-50" in denied_line
        rejected_line = next(line for line in body.splitlines() if "SUN-REJECT-1" in line)
        assert "codes A" in rejected_line, rejected_line  # a 277CA's STC01, e.g. A7:21
        raw = smtp.mailbox.raw[0].decode("utf-8", "replace")
        assert mentions(raw, phi) == []
        assert SMTP_PASSWORD not in raw

        # the webhook's POST is signed with the shared secret; it answered 500
        (first,) = webhook.verified()
        digest = json.loads(first.body)
        assert {a["claim"] for a in digest["alerts"]} >= {"SUN-REJECT-1", "SUN-DENY-2"}
        assert mentions(first.body.decode(), phi) == []

        # the next fetch has no news, sends no e-mail, and delivers the kept digest
        again = e2e.ok("fetch", "--account", ACCOUNT, "--json")
        (result,) = json.loads(again.stdout)
        assert result["alerts"] == [
            {
                "notifier": "ops",
                "digest": digest["id"],
                "alerts": len(digest["alerts"]),
                "delivered": True,
                "error": None,
            }
        ]
        assert len(smtp.mailbox.messages) == 1
        assert [r.headers["x-claimferry-delivery"] for r in webhook.verified()] == [
            digest["id"],
            digest["id"],
        ]
        assert json.loads(webhook.received[1].body) == digest

        # nothing new and nothing kept: the output is a fetch's as without alerts
        (quiet,) = e2e.json("fetch", "--account", ACCOUNT)
        assert "alerts" not in quiet
        assert len(webhook.received) == 2 and len(smtp.mailbox.messages) == 1

    audit = e2e.audit()
    told = [(e["action"], e["detail"]) for e in audit if e["action"].startswith("alert-")]
    assert [action for action, _ in told] == ["alert-sent", "alert-failed", "alert-sent"]
    assert all(WEBHOOK_SECRET not in (d or "") and SMTP_PASSWORD not in (d or "") for _, d in told)


def test_a_login_put_on_hold_is_told_and_the_fetch_keeps_its_exit_code(
    e2e: E2E, tmp_path: Path
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as webhook:
        _alerting_config(e2e, smtp, webhook)
        e2e.monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", "not-the-password")
        refused = e2e.run("fetch", "--account", ACCOUNT)
        assert refused.exit_code == 1
        assert "Traceback" not in refused.output
        (request,) = webhook.verified()
        kinds = [a["kind"] for a in json.loads(request.body)["alerts"]]
        assert kinds == ["login_on_hold"]
        assert smtp.mailbox.messages == []  # billing asked for claims only


@pytest.mark.parametrize("secret_key", ["secret", "password"])
def test_a_secret_written_in_the_config_is_refused(
    e2e: E2E, tmp_path: Path, secret_key: str
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as webhook:
        _alerting_config(e2e, smtp, webhook)
    config = yaml.safe_load(e2e.config_path.read_text())
    config["notifiers"]["ops"][secret_key] = "typed-in-secret"
    e2e.config_path.write_text(yaml.safe_dump(config))
    result = e2e.run("fetch", "--account", ACCOUNT)
    assert result.exit_code == 2
    assert f"notifiers.ops.{secret_key}: holds a secret" in result.stderr
    assert "typed-in-secret" not in result.output
