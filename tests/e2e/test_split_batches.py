"""A batch over ``claims_per_interchange`` goes as several files, each its own
batch with its own control numbers, each sent exactly once (kill -9 included).

``submit`` runs as a real subprocess against the mock Office Ally on loopback,
with the limit at 3 so the four sample claims make two files.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimferry_harness import HarnessUser, MockOfficeAlly
from support import own_environment
from support.console import Run, console

CLAIMS = Path(__file__).resolve().parents[2] / "core" / "claimferry" / "data" / "sample_claims.yaml"
ACCOUNT = "sunrise"
PASSWORD = "test-only-split-password"
SAMPLE_IDS = {"SUN-1001", "SUN-1002", "SUN-1003", "SUN-1004"}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[MockOfficeAlly]:
    with MockOfficeAlly(tmp_path / "harness", {ACCOUNT: HarnessUser(password=PASSWORD)}) as server:
        yield server


def _config(tmp_path: Path, harness: MockOfficeAlly, **settings: Any) -> Path:
    account = {
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
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": {ACCOUNT: account}, **settings}))
    return path


@pytest.fixture
def run(tmp_path: Path, harness: MockOfficeAlly) -> Run:
    """The console script on a config whose top level sets ``claims_per_interchange: 3``."""
    variables = own_environment()
    variables |= {
        "CLAIMFERRY_CONFIG": str(_config(tmp_path, harness, claims_per_interchange=3)),
        "CLAIMFERRY_STATE_DIR": str(tmp_path / "state"),
        "CLAIMFERRY_SUNRISE_SFTP_USERNAME": ACCOUNT,
        "CLAIMFERRY_SUNRISE_SFTP_PASSWORD": PASSWORD,
    }

    return console(variables)


def _delivered(harness: MockOfficeAlly) -> list[Path]:
    return sorted(p for p in harness.inbound_dir(ACCOUNT).iterdir() if "837P" in p.name)


def _isa13(path: Path) -> str:
    return path.read_text().split("~")[0].split("*")[13]


def _assert_two_files_once(harness: MockOfficeAlly, run: Run) -> None:
    """Two files on the server, 3 claims and 1, each an uploaded batch with its own
    ISA13; both answered by a 999; every claim in exactly one of them."""
    delivered = _delivered(harness)
    assert len(delivered) == 2, delivered
    assert len({_isa13(p) for p in delivered}) == 2
    listed = json.loads(run("batches", "list", "--json").stdout)
    assert sorted(b["file_name"] for b in listed) == [p.name for p in delivered]
    assert {b["state"] for b in listed} == {"uploaded"}
    status = json.loads(run("status", "--json").stdout)
    by_batch: dict[int, list[str]] = {}
    for claim in status["claims"]:
        by_batch.setdefault(claim["batch"], []).append(claim["claim"])
    assert sorted(len(ids) for ids in by_batch.values()) == [1, 3]
    assert sorted(i for ids in by_batch.values() for i in ids) == sorted(SAMPLE_IDS)
    assert harness.wait_idle(30)
    answers = [p for p in harness.outbound_dir(ACCOUNT).iterdir() if "_999_" in p.name]
    assert len(answers) == 2, answers


def test_submit_splits_the_batch_and_fetch_reads_both_answers(
    harness: MockOfficeAlly, run: Run
) -> None:
    sent = run("submit", str(CLAIMS), "--account", ACCOUNT, "--json")
    assert sent.returncode == 0, sent.stderr
    rows = json.loads(sent.stdout)["delivered"]
    assert sorted(row["claims"] for row in rows) == [1, 3]
    _assert_two_files_once(harness, run)
    fetched = run("fetch", "--account", ACCOUNT)
    assert fetched.returncode == 0, fetched.stderr
    status = json.loads(run("status", "--json").stdout)
    assert {c["claim"] for c in status["claims"] if c["state"] != "uploaded"} == SAMPLE_IDS
    again = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert again.returncode == 1
    assert "already sent in batch" in again.stderr
    assert len(_delivered(harness)) == 2


@pytest.mark.parametrize("failpoint", ["after-archive", "after-record", "after-upload"])
def test_kill_then_rerun_sends_each_file_once(
    harness: MockOfficeAlly, run: Run, failpoint: str
) -> None:
    """Killed with one file sent and the other not (after-upload), or none recorded or
    sent: the rerun finishes what was recorded and sends nothing twice."""
    killed = run("submit", str(CLAIMS), "--account", ACCOUNT, failpoint=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert rerun.returncode == 0, rerun.stderr
    _assert_two_files_once(harness, run)
    again = run("submit", str(CLAIMS), "--account", ACCOUNT)
    assert again.returncode == 1
    assert "already sent in batch" in again.stderr
    assert len(_delivered(harness)) == 2


def test_build_refuses_more_claims_than_one_file_holds(tmp_path: Path, run: Run) -> None:
    output = tmp_path / "out.837"
    refused = run("build", str(CLAIMS), "--account", ACCOUNT, "-o", str(output))
    assert refused.returncode == 2, refused.stderr
    assert "4 claims are more than one 837P file holds for account sunrise" in refused.stderr
    assert "claims_per_interchange: 3" in refused.stderr
    assert "sends them as 2 files" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not output.exists()


def test_dry_run_counts_the_files(run: Run) -> None:
    dry = run("submit", str(CLAIMS), "--account", ACCOUNT, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert (report["claims"], report["files"]) == (4, 2)


def test_the_account_setting_wins_over_the_top_level(
    tmp_path: Path, harness: MockOfficeAlly, run: Run
) -> None:
    config = yaml.safe_load((tmp_path / "accounts.yaml").read_text())
    config["accounts"][ACCOUNT]["claims_per_interchange"] = 4
    (tmp_path / "accounts.yaml").write_text(yaml.safe_dump(config))
    built = run("build", str(CLAIMS), "--account", ACCOUNT, "-o", str(tmp_path / "out.837"))
    assert built.returncode == 0, built.stderr
    assert "4 claims" in built.stdout


@pytest.mark.parametrize("value", [0, -5, "many", 2.5])
def test_a_bad_limit_is_refused_naming_the_setting(
    tmp_path: Path, harness: MockOfficeAlly, run: Run, value: object
) -> None:
    config = yaml.safe_load((tmp_path / "accounts.yaml").read_text())
    config["accounts"][ACCOUNT]["claims_per_interchange"] = value
    (tmp_path / "accounts.yaml").write_text(yaml.safe_dump(config))
    refused = run("validate", str(CLAIMS), "--account", ACCOUNT)
    assert refused.returncode == 2, refused.stderr
    assert f"accounts.{ACCOUNT}.claims_per_interchange" in refused.stderr
    assert "Traceback" not in refused.stderr
