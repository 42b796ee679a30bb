"""Alerts on a real ledger, to a real SMTP server (STARTTLS, login) and a real HTTP
server on loopback: what is collected, what is sent, and what happens when it fails."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimferry.config import Config, load_config
from claimferry.errors import ConfigError, CredentialError, NotifierError
from claimferry.ledger import LOGIN_REFUSED, ClaimState, Ledger, NewClaim
from claimferry.manager import PluginManager
from claimferry.notify import (
    ALERT_FAILED,
    ALERT_SENT,
    ONBOARDING_COMPLETE,
    codes_in,
    collect,
    collect_after_fetch,
    deliver,
    deliver_after_fetch,
    read_secret,
)
from claimferry.types import Alert, AlertKind, Digest
from support.alert_servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_SECRET,
    smtp_server,
    webhook_server,
)

ACCOUNT = "sunrise"
PHI_DETAIL = "277CA A7:21 Acknowledgement/Rejected: missing - PATIENT JANE DOE MEMBER W123"


def _config(tmp_path: Path, pm: PluginManager, notifiers: dict[str, Any], alerts: Any) -> Config:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "notifiers": notifiers,
                "accounts": {
                    ACCOUNT: {
                        "clearinghouse": "officeally",
                        "submitter_id": "SUNRISE01",
                        "alerts": alerts,
                    }
                },
            }
        )
    )
    return load_config(path, notifiers={n.name: n for n in pm.notifiers()})


def _problems(tmp_path: Path, pm: PluginManager, notifiers: Any, alerts: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, pm, notifiers, alerts)
    assert caught.value.exit_code == 2
    return str(caught.value)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "state") as led:
        led.ensure_account(ACCOUNT, "officeally", "SUNRISE01")
        yield led


def _send(ledger: Ledger, *claim_ids: str, name: str = "b1.837") -> int:
    batch = ledger.record_batch(
        account=ACCOUNT,
        file_name=name,
        archive_path=Path(name),
        sha256="0" * 64,
        size=10,
        control_number=ledger.next_control_number(ACCOUNT),
        test=True,
        claims=[
            NewClaim(c, "00621", Decimal("100.00"), f"hash-{c}", "original", None)
            for c in claim_ids
        ],
    )
    return batch.id


# -- codes, secrets, config ----------------------------------------------------------


def test_codes_are_taken_from_answers_and_free_text_is_left() -> None:
    assert codes_in(PHI_DETAIL) == ("A7:21",)
    assert codes_in(
        "835 denied, nothing paid (processed as primary); CO-50 100.00: Not medically "
        "necessary; N130: Consult plan benefit documents"
    ) == ("CO-50", "N130")
    assert codes_in("999 rejected: Segment has data element errors (IK5 5); CLM01: x (code 7)") == (
        "IK5 5",
        "IK4 7",
    )
    assert codes_in("Office Ally EDI status: payer 00621 REJECTED: MEMBER NOT FOUND") == (
        "payer 00621 REJECTED",
    )
    assert codes_in(None) == ()


def test_secrets_come_from_a_variable_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s-env")
    assert read_secret({"secret_var": "HOOK_SECRET"}, "secret", "notifier ops") == "s-env"
    monkeypatch.delenv("HOOK_SECRET")
    with pytest.raises(CredentialError, match="variable that secret_var names is not set"):
        read_secret({"secret_var": "HOOK_SECRET"}, "secret", "notifier ops")
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text("s-file\n")
    secret_file.chmod(0o644)
    with pytest.raises(CredentialError, match="mode 0644") as loose:
        read_secret({"secret_file": str(secret_file)}, "secret", "notifier ops")
    assert "s-file" not in str(loose.value)
    secret_file.chmod(0o600)
    assert read_secret({"secret_file": str(secret_file)}, "secret", "notifier ops") == "s-file"
    assert read_secret({}, "secret", "notifier ops") is None


def test_config_names_the_key_path_of_every_notifier_mistake(
    tmp_path: Path, plugin_manager: PluginManager
) -> None:
    said = _problems(
        tmp_path,
        plugin_manager,
        {
            "ops": {"type": "webhook", "url": "http://hooks.example/x", "secret": "inline"},
            "mail": {"type": "email", "host": "smtp.example", "to": "nobody", "sender": "a@b"},
            "pager": {"type": "pagerduty"},
        },
        {"ops": "all", "nowhere": ["claim_denied"]},
    )
    assert "notifiers.ops.secret: holds a secret" in said
    assert "inline" not in said
    assert "notifiers.mail.to: expected an e-mail address" in said
    assert "notifiers.pager.type: no notifier 'pagerduty' is installed" in said
    assert "accounts.sunrise.alerts.nowhere: no notifier named 'nowhere'" in said

    said = _problems(
        tmp_path,
        plugin_manager,
        {"ops": {"type": "webhook", "url": "http://hooks.example/x", "secret_var": "S"}},
        {"ops": ["claim_denied", "claim_lost"]},
    )
    assert "notifiers.ops.url: must be https://" in said
    assert "accounts.sunrise.alerts: ops: unknown event claim_lost (events: claim_rejected," in said

    said = _problems(
        tmp_path,
        plugin_manager,
        {"ops": {"type": "webhook", "url": "https://hooks.example/x", "retries": 3}},
        "all",
    )
    assert "notifiers.ops.retries: not a setting of notifier 'webhook'" in said
    assert "accounts.sunrise.alerts" in said  # "all" is per notifier, not for the section


# -- collecting ----------------------------------------------------------------------


def _webhook_config(tmp_path: Path, pm: PluginManager, url: str, **extra: Any) -> Config:
    return _config(
        tmp_path,
        pm,
        {
            "ops": {"type": "webhook", "url": url, "secret_var": "HOOK_SECRET", **extra},
            "billing": {
                "type": "email",
                "host": "127.0.0.1",
                "sender": "claimferry@vendor.example",
                "to": ["billing@sunrise.example"],
            },
        },
        {"ops": "all", "billing": ["claim_denied"]},
    )


def _stored(ledger: Ledger) -> list[sqlite3.Row]:
    return ledger.db.execute("SELECT * FROM alert_digests ORDER BY id").fetchall()


def test_one_digest_per_notifier_with_what_is_new_and_no_free_text(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger
) -> None:
    config = _webhook_config(tmp_path, plugin_manager, "https://hooks.example/x")
    account = config.account(ACCOUNT)
    batch = _send(ledger, "SUN-1", "SUN-2", "SUN-3")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.PAYER_REJECTED, detail=PHI_DETAIL)
    ledger.update_claim(
        ACCOUNT, "SUN-2", ClaimState.DENIED, detail="835 denied, nothing paid; CO-50 100.00: x"
    )
    ledger.update_claim(ACCOUNT, "SUN-3", ClaimState.ACKNOWLEDGED, detail="277CA A2:20")
    ledger.audit(LOGIN_REFUSED, account=ACCOUNT, detail="the server refused the login")
    ledger.audit("upload-uncertain", account=ACCOUNT, file_name="b1.837")
    ledger.audit(ONBOARDING_COMPLETE, account=ACCOUNT)
    ledger.audit(LOGIN_REFUSED, account="elsewhere")  # another account's news

    assert collect(ledger, config, account, datetime.now(UTC)) == 2
    digests = {r["notifier"]: Digest.from_dict(json.loads(r["payload"])) for r in _stored(ledger)}
    ops = digests["ops"]
    assert [(a.kind, a.claim_id, a.codes) for a in ops.alerts] == [
        (AlertKind.CLAIM_REJECTED, "SUN-1", ("A7:21",)),
        (AlertKind.CLAIM_DENIED, "SUN-2", ("CO-50",)),
        (AlertKind.LOGIN_ON_HOLD, None, ()),
        (AlertKind.BATCH_UNCERTAIN, None, ()),
        (AlertKind.ONBOARDING_COMPLETE, None, ()),
    ]
    assert ops.alerts[3].batch_id == batch
    assert all(a.detail is None for a in ops.alerts)
    assert "JANE" not in json.dumps(ops.to_dict()) and "JANE" not in ops.render()
    assert ops.subject == (
        "claimferry sunrise: 1 claim rejected, 1 claim denied, 1 login on hold, "
        "1 batch uncertain, 1 onboarding complete"
    )
    assert [a.claim_id for a in digests["billing"].alerts] == ["SUN-2"]

    # the cursor moved: nothing new, nothing stored
    assert collect(ledger, config, account, datetime.now(UTC)) == 0


def test_details_only_when_the_notifier_asks(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger
) -> None:
    config = _webhook_config(
        tmp_path, plugin_manager, "https://hooks.example/x", include_details=True
    )
    _send(ledger, "SUN-1")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.REJECTED, detail=PHI_DETAIL)
    collect(ledger, config, config.account(ACCOUNT), datetime.now(UTC))
    (row,) = _stored(ledger)
    (alert,) = Digest.from_dict(json.loads(row["payload"])).alerts
    assert alert.detail == PHI_DETAIL


def test_a_rejection_a_later_answer_outranks_is_not_news(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger
) -> None:
    config = _webhook_config(tmp_path, plugin_manager, "https://hooks.example/x")
    _send(ledger, "SUN-1")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.REJECTED, detail="999 rejected (IK5 5)")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.ACKNOWLEDGED, detail="277CA A2:20")
    assert collect(ledger, config, config.account(ACCOUNT), datetime.now(UTC)) == 0


def test_overdue_claims_are_told_once(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger
) -> None:
    config = _webhook_config(tmp_path, plugin_manager, "https://hooks.example/x")
    account = config.account(ACCOUNT)
    _send(ledger, "SUN-1", "SUN-2")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.UPLOADED)
    ledger.update_claim(ACCOUNT, "SUN-2", ClaimState.DENIED, detail="835 denied; CO-50 1: x")
    collect(ledger, config, account, datetime.now(UTC))
    later = datetime.now(UTC) + timedelta(hours=account.overdue_after_hours + 1)
    assert collect(ledger, config, account, later) == 1
    (_, _, overdue) = _stored(ledger)
    (alert,) = Digest.from_dict(json.loads(overdue["payload"])).alerts
    assert (alert.kind, alert.claim_id, alert.source) == (
        AlertKind.CLAIMS_OVERDUE,
        "SUN-1",
        "status",
    )
    assert collect(ledger, config, account, later + timedelta(hours=1)) == 0


def test_a_claim_with_no_final_answer_after_the_account_days_is_overdue(
    tmp_path: Path, plugin_manager: PluginManager, ledger: Ledger
) -> None:
    config = _webhook_config(tmp_path, plugin_manager, "https://hooks.example/x")
    account = config.account(ACCOUNT)
    _send(ledger, "SUN-1", "SUN-2")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.ACKNOWLEDGED, detail="277CA A2:20")
    ledger.update_claim(ACCOUNT, "SUN-2", ClaimState.ACKNOWLEDGED, detail="277CA A2:20")
    ledger.update_claim(ACCOUNT, "SUN-2", ClaimState.PAID, detail="835 paid 80.00 of 100.00")
    collect(ledger, config, account, datetime.now(UTC))
    before = datetime.now(UTC) + timedelta(days=account.overdue_after_days - 1)
    assert collect(ledger, config, account, before) == 0
    after = datetime.now(UTC) + timedelta(days=account.overdue_after_days, hours=1)
    assert collect(ledger, config, account, after) == 1
    (alert,) = Digest.from_dict(json.loads(_stored(ledger)[-1]["payload"])).alerts
    assert (alert.kind, alert.claim_id, alert.state) == (
        AlertKind.CLAIMS_OVERDUE,
        "SUN-1",
        "acknowledged",
    )


# -- delivering ----------------------------------------------------------------------


def _digest(*claim_ids: str) -> Digest:
    at = "2026-12-07T05:00:00+00:00"
    return Digest(
        "d" * 32,
        ACCOUNT,
        at,
        tuple(
            Alert(AlertKind.CLAIM_REJECTED, ACCOUNT, at, c, 1, "rejected", "277CA", ("A7:21",))
            for c in claim_ids
        ),
    )


def test_email_goes_over_starttls_with_a_login(
    tmp_path: Path, plugin_manager: PluginManager
) -> None:
    password_file = tmp_path / "smtp.password"
    password_file.write_text(SMTP_PASSWORD + "\n")
    password_file.chmod(0o600)
    email = plugin_manager.get_notifier("email")
    with smtp_server(tmp_path) as smtp:
        settings = {
            "host": smtp.host,
            "port": smtp.port,
            "sender": "claimferry@vendor.example",
            "to": ["billing@sunrise.example", "ops@vendor.example"],
            "username": SMTP_USER,
            "password_file": str(password_file),
            "ca_file": str(smtp.ca_file),
        }
        email.send(_digest("SUN-1", "SUN-2"), settings)
        (message,) = smtp.mailbox.messages
        assert smtp.mailbox.tls == [True]
        assert smtp.mailbox.logins == [SMTP_USER]
        assert message["Subject"] == "claimferry sunrise: 2 claims rejected"
        assert message["To"] == "billing@sunrise.example, ops@vendor.example"
        body = message.get_payload(decode=True).decode()
        assert "claim SUN-1 (rejected) by 277CA; codes A7:21" in body
        assert SMTP_PASSWORD.encode() not in smtp.mailbox.raw[0]

        # a wrong password: the server's answer, never the password
        password_file.write_text("wrong-password-test")
        with pytest.raises(NotifierError, match=r"answered 535") as refused:
            email.send(_digest("SUN-1"), settings)
        assert "wrong-password" not in str(refused.value)

        # a certificate nobody vouches for is refused before anything is said
        with pytest.raises(NotifierError, match="TLS failed"):
            email.send(_digest("SUN-1"), {**settings, "ca_file": None})
    assert len(smtp.mailbox.messages) == 1


def test_email_is_never_sent_in_clear_text(tmp_path: Path, plugin_manager: PluginManager) -> None:
    with smtp_server(tmp_path, starttls=False) as smtp:
        with pytest.raises(NotifierError, match="offers no STARTTLS; nothing sent"):
            plugin_manager.get_notifier("email").send(
                _digest("SUN-1"),
                {
                    "host": smtp.host,
                    "port": smtp.port,
                    "sender": "a@b.example",
                    "to": "c@d.example",
                },
            )
        assert smtp.mailbox.messages == []


def test_webhook_posts_signed_json(
    plugin_manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", WEBHOOK_SECRET)
    webhook = plugin_manager.get_notifier("webhook")
    with webhook_server() as server:
        webhook.send(
            _digest("SUN-1"), {"url": server.url + "?token=t0k3n", "secret_var": "HOOK_SECRET"}
        )
        (request,) = server.verified()
        assert request.path == "/hooks/claimferry?token=t0k3n"
        assert request.headers["x-claimferry-delivery"] == "d" * 32
        sent = json.loads(request.body)
        assert sent["alerts"][0]["claim"] == "SUN-1" and sent["counts"] == {"claim_rejected": 1}
        assert server.verified("another-secret") == []

        server.fail_with.append(503)
        with pytest.raises(NotifierError) as failed:
            webhook.send(
                _digest("SUN-1"), {"url": server.url + "?token=t0k3n", "secret_var": "HOOK_SECRET"}
            )
        assert str(failed.value) == (
            f"webhook {server.url.rsplit('/hooks', 1)[0]} answered HTTP 503 Service Unavailable"
        )
        assert "t0k3n" not in str(failed.value)


def test_a_failed_digest_is_kept_audited_and_sent_by_the_next_run(
    tmp_path: Path,
    plugin_manager: PluginManager,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_SECRET", WEBHOOK_SECRET)
    _send(ledger, "SUN-1")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.REJECTED, detail="999 rejected (IK5 5)")
    said: list[str] = []
    with webhook_server() as server:
        config = _config(
            tmp_path,
            plugin_manager,
            {"ops": {"type": "webhook", "url": server.url, "secret_var": "HOOK_SECRET"}},
            {"ops": ["claim_rejected"]},
        )
        server.fail_with.append(500)
        collect(ledger, config, config.account(ACCOUNT), datetime.now(UTC))
        (failed,) = deliver(plugin_manager, ledger, config, ACCOUNT, said.append)
        assert not failed.delivered and "HTTP 500" in (failed.error or "")
        assert said == [
            f"sunrise: alert digest to ops not delivered, kept for the next fetch: {failed.error}"
        ]
        (row,) = _stored(ledger)
        assert row["delivered_at"] is None and row["attempts"] == 1

        (sent,) = deliver(plugin_manager, ledger, config, ACCOUNT, said.append)
        assert sent.delivered and sent.digest == failed.digest
        assert [r.headers["x-claimferry-delivery"] for r in server.verified()] == [
            failed.digest,
            failed.digest,
        ]
        assert deliver(plugin_manager, ledger, config, ACCOUNT, said.append) == []
    actions = [(e.action, e.detail) for e in ledger.audit_entries(ACCOUNT)]
    assert [a for a, _ in actions if a.startswith("alert-")] == [ALERT_FAILED, ALERT_SENT]
    assert all(WEBHOOK_SECRET not in (d or "") for _, d in actions)


def test_a_failed_notifier_is_not_tried_again_in_the_run_and_its_backlog_goes_as_one(
    tmp_path: Path,
    plugin_manager: PluginManager,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unreachable destination costs one attempt per run, however many accounts
    (`failing` is shared by the accounts of one `fetch --all`); the next run sends
    everything kept for it in one delivery, under an id a retry would repeat."""
    monkeypatch.setenv("HOOK_SECRET", WEBHOOK_SECRET)
    said: list[str] = []
    with webhook_server() as server:
        config = _webhook_config(tmp_path, plugin_manager, server.url)
        failing: set[str] = set()
        server.fail_with.append(503)
        for claim in ("SUN-1", "SUN-2", "SUN-3"):
            _send(ledger, claim, name=f"{claim}.837")
            ledger.update_claim(ACCOUNT, claim, ClaimState.REJECTED, detail="999 rejected (IK5 5)")
            collect(ledger, config, config.account(ACCOUNT), datetime.now(UTC))
            deliver(plugin_manager, ledger, config, ACCOUNT, said.append, failing)
        assert failing == {"ops"}
        assert len(server.verified()) == 1  # the first try only
        assert len(said) == 1 and "HTTP 503" in said[0]
        skipped = deliver(plugin_manager, ledger, config, ACCOUNT, said.append, failing)
        assert [d.error for d in skipped] == [
            "not tried: ops failed earlier in this run; kept for the next fetch"
        ] * 3
        assert [r["delivered_at"] for r in _stored(ledger)] == [None] * 3

        (sent,) = deliver(plugin_manager, ledger, config, ACCOUNT, said.append, set())
        assert sent.delivered and sent.alerts == 3
        requests = server.verified()
        assert len(requests) == 2
        body = json.loads(requests[-1].body)
        assert [a["claim"] for a in body["alerts"]] == ["SUN-1", "SUN-2", "SUN-3"]
        assert requests[-1].headers["x-claimferry-delivery"] == sent.digest
        assert all(r["delivered_at"] is not None for r in _stored(ledger))
    (audited,) = [e.detail for e in ledger.audit_entries(ACCOUNT) if e.action == ALERT_SENT]
    assert audited == f"ops (webhook): digest {sent.digest} (folded from 3 digests), 3 alert(s)"


def test_alerts_never_fail_the_fetch(
    tmp_path: Path,
    plugin_manager: PluginManager,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No secret set and a server that is not there: reported, kept, nothing raised."""
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    config = _webhook_config(tmp_path, plugin_manager, "https://127.0.0.1:9/x")
    _send(ledger, "SUN-1")
    ledger.update_claim(ACCOUNT, "SUN-1", ClaimState.REJECTED, detail="999 rejected (IK5 5)")
    said: list[str] = []
    account = config.account(ACCOUNT)
    collect_after_fetch(ledger, config, account, said.append)
    deliveries = deliver_after_fetch(plugin_manager, ledger, config, account, said.append)
    assert [(d.notifier, d.delivered) for d in deliveries] == [("ops", False)]
    assert "secret_var names is not set" in said[0]
    # a ledger that cannot be written or read is reported too, never raised
    ledger.close()
    collect_after_fetch(ledger, config, account, said.append)
    assert said[-1].startswith("sunrise: alerts not collected")
    assert deliver_after_fetch(plugin_manager, ledger, config, account, said.append) == []
    assert said[-1].startswith("sunrise: alerts not sent")
    assert os.environ.get("HOOK_SECRET") is None
