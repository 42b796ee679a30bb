"""``--json`` failures that need the mock Office Ally: claims sent before, a
refused login, a changed host key. Stdout is one JSON document each time."""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result

from e2e.support import ACCOUNT, E2E


def _failure(result: Result, exit_code: int, code: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == exit_code, result.output
    assert document["ok"] is False and document["error"]["code"] == code
    assert "Traceback" not in result.output
    return document


def test_claims_sent_before_are_refused_as_a_document(e2e: E2E) -> None:
    claims = str(e2e.claims_file())
    sent = e2e.json("submit", claims, "--account", ACCOUNT)
    assert len(sent["delivered"]) == 1
    again = _failure(e2e.run("submit", claims, "--account", ACCOUNT, "--json"), 1, "already-sent")
    error = again["error"]
    assert "--resubmit" in error["message"] and "\n" not in error["message"]
    (batch,) = e2e.status()["batches"]
    listed = {p["path"]: p for p in error["problems"]}
    assert set(listed) == {"SUN-1001", "SUN-1002", "SUN-1003", "SUN-1004"}
    assert {p["file"] for p in listed.values()} == {batch["file_name"]}
    assert all(f"already sent in batch {batch['id']}" in p["message"] for p in listed.values())
    assert again["summary"]["errors"] == 0 and "findings" in again  # the check still reports


def test_a_refused_login_is_a_document_for_credentials_test_and_fetch(e2e: E2E) -> None:
    e2e.monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", "not-the-sftp-password-7Q")
    refused = _failure(e2e.run("credentials", "test", ACCOUNT, "--json"), 1, "login-refused")
    assert "not-the-sftp-password-7Q" not in json.dumps(refused)
    fetched = _failure(e2e.run("fetch", "--account", ACCOUNT, "--json"), 1, "failed")
    [result] = fetched["results"]  # fetch's own list of accounts, kept under "results"
    assert result["account"] == ACCOUNT and "refused" in result["error"]


def test_a_changed_host_key_keeps_the_hostkey_report_in_the_document(e2e: E2E) -> None:
    new = e2e.harness.rotate_host_key()
    document = _failure(e2e.run("hostkey", ACCOUNT, "--json"), 1, "failed")
    assert document["matches_pinned"] is False and document["fingerprint"] == new
    assert "differs from the one pinned" in document["error"]["message"]
