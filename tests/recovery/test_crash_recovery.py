"""kill -9 at each step of ``submit``, then a rerun: one upload per batch, none lost.

``submit`` runs as a real subprocess against the harness on loopback and is
killed with SIGKILL, either at a named failpoint (``CLAIMFERRY_FAILPOINT``)
or, for "during the upload", from outside while its temporary file is on the
server.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from claimferry_harness import HarnessUser, MockOfficeAlly
from support import own_environment
from support.console import Run, console

CLAIMS = Path(__file__).resolve().parents[2] / "core" / "claimferry" / "data" / "sample_claims.yaml"
ACCOUNT = "sunrise"
PASSWORD = "test-only-recovery-password"


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[MockOfficeAlly]:
    with MockOfficeAlly(tmp_path / "harness", {ACCOUNT: HarnessUser(password=PASSWORD)}) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, harness: MockOfficeAlly) -> dict[str, str]:
    config = {
        "accounts": {
            ACCOUNT: {
                "clearinghouse": "officeally",
                "submitter_id": "SUNRISE01",
                "mode": "test",
                "contact": {"name": "Billing Office", "phone": "2175550100"},
                "sftp": {
                    "host": harness.host,
                    "port": harness.port,
                    "host_key": harness.host_key_openssh,
                    "retries": 0,
                },
                "credentials": {"source": "env"},
            }
        }
    }
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(config))
    variables = own_environment()
    variables |= {
        "CLAIMFERRY_CONFIG": str(path),
        "CLAIMFERRY_STATE_DIR": str(tmp_path / "state"),
        "CLAIMFERRY_SUNRISE_SFTP_USERNAME": ACCOUNT,
        "CLAIMFERRY_SUNRISE_SFTP_PASSWORD": PASSWORD,
    }
    return variables


@pytest.fixture
def run(env: dict[str, str]) -> Run:
    return console(env)


def _delivered(harness: MockOfficeAlly) -> list[str]:
    inbound = harness.inbound_dir(ACCOUNT)
    return sorted(p.name for p in inbound.iterdir() if "837P" in p.name)


def _batches(run: Run) -> list[dict[str, object]]:
    result = run("batches", "list", "--json")
    assert result.returncode == 0, result.stderr
    batches: list[dict[str, object]] = json.loads(result.stdout)
    return batches


def _assert_exactly_once(harness: MockOfficeAlly, run: Run) -> None:
    """One file on the server, one uploaded batch holding every claim, one 999 back."""
    delivered = _delivered(harness)
    assert len(delivered) == 1, delivered
    batches = [b for b in _batches(run) if b["state"] == "uploaded"]
    assert [b["file_name"] for b in batches] == delivered
    assert harness.wait_idle(30)
    answers = [p.name for p in harness.outbound_dir(ACCOUNT).iterdir() if "_999_" in p.name]
    assert len(answers) == 1, answers
    status = json.loads(run("status", "--json").stdout)
    claims = {c["claim"] for c in status["claims"] if c["batch"] == batches[0]["id"]}
    assert claims == {"SUN-1001", "SUN-1002", "SUN-1003", "SUN-1004"}
    temporary = [p.name for p in harness.inbound_dir(ACCOUNT).iterdir() if p.name.startswith(".")]
    assert temporary == []


@pytest.mark.parametrize(
    "failpoint", ["after-control-number", "after-archive", "after-record", "after-upload"]
)
def test_kill_then_rerun_sends_each_batch_once(
    harness: MockOfficeAlly, run: Run, failpoint: str
) -> None:
    killed = run("submit", str(CLAIMS), "--account", ACCOUNT, failpoint=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert rerun.returncode == 0, rerun.stderr
    _assert_exactly_once(harness, run)
    again = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert again.returncode == 1
    assert "already sent in batch" in again.stderr
    assert len(_delivered(harness)) == 1


def test_kill_after_marking_upload_leaves_batch_for_the_operator(
    harness: MockOfficeAlly, run: Run
) -> None:
    killed = run("submit", str(CLAIMS), "--account", ACCOUNT, failpoint="after-mark-uploading")
    assert killed.returncode == -signal.SIGKILL
    rerun = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert rerun.returncode == 1
    assert "may already have taken it" in rerun.stderr
    assert "delivery is uncertain" in rerun.stderr
    assert _delivered(harness) == []
    (batch,) = _batches(run)
    assert batch["state"] == "uncertain"
    status = run("status")
    assert "UNCERTAIN" in status.stderr
    refused = run("batches", "abandon", str(batch["id"]))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    resent = run("batches", "resend", str(batch["id"]))
    assert resent.returncode == 0, resent.stderr
    _assert_exactly_once(harness, run)
    assert run("batches", "resend", str(batch["id"])).returncode == 1


def test_abandoned_batch_lets_the_claims_go_again(harness: MockOfficeAlly, run: Run) -> None:
    run("submit", str(CLAIMS), "--account", ACCOUNT, failpoint="after-mark-uploading")
    run("submit", str(CLAIMS), "--account", ACCOUNT)
    (batch,) = _batches(run)
    assert run("batches", "abandon", str(batch["id"]), "--yes").returncode == 0
    sent = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert sent.returncode == 0, sent.stderr
    _assert_exactly_once(harness, run)
    audit = json.loads(run("audit", "--json").stdout)
    assert "batch-abandoned" in [entry["action"] for entry in audit]


def test_kill_during_the_upload_then_rerun(
    harness: MockOfficeAlly, run: Run, env: dict[str, str]
) -> None:
    harness.faults.latency = 0.4
    process = subprocess.Popen(
        [sys.executable, "-m", "claimferry", "submit", str(CLAIMS), "--account", ACCOUNT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    inbound = harness.inbound_dir(ACCOUNT)
    deadline = time.monotonic() + 60
    try:
        while not any(p.name.endswith(".part") for p in inbound.iterdir()):
            assert process.poll() is None, "submit finished before its upload could be cut"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert _delivered(harness) == []
    (batch,) = _batches(run)
    assert batch["state"] == "uploading"
    harness.faults.latency = 0.0
    rerun = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert rerun.returncode == 0, rerun.stderr
    assert "stopped half-way" in rerun.stderr
    _assert_exactly_once(harness, run)


def test_kill_while_reading_an_answer_then_rerun_records_it_once(
    harness: MockOfficeAlly, run: Run
) -> None:
    """A response file's claim updates land together or not at all."""
    assert run("submit", str(CLAIMS), "--account", ACCOUNT).returncode == 0
    assert harness.wait_idle(30)
    killed = run("fetch", "--account", ACCOUNT, failpoint="after-claim-update")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    claims = json.loads(run("status", "--json").stdout)["claims"]
    assert {c["state"] for c in claims} == {"uploaded"}  # the first update was rolled back

    rerun = run("fetch", "--account", ACCOUNT, "--json")
    assert rerun.returncode == 0, rerun.stderr
    claims = json.loads(run("status", "--json").stdout)["claims"]
    assert {c["state"] for c in claims} == {"paid"}
    for claim in claims:
        events = [(e["state"], e["file"], e["detail"]) for e in claim["history"]]
        assert len(events) == len(set(events)), events
        answers = {e["file"] for e in claim["history"] if "_837P_" not in (e["file"] or "_837P_")}
        assert len(answers) == 5, answers  # 999, report, both 277CAs, 835
    audit = json.loads(run("audit", "--json").stdout)
    fetched = [entry["file_name"] for entry in audit if entry["action"] == "fetch"]
    assert len(fetched) == len(set(fetched)) == 5
