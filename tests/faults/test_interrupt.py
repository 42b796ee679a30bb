"""Ctrl-C during a real ``claimferry submit`` against the mock Office Ally.

The first SIGINT lets the upload in flight finish and stops with exit code
130; a second stops at once. Either way the ledger says where the batch is,
and the next submit finishes it without sending a claim twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults.reliab_support import World, make_world

LATENCY = 0.6
"""Seconds the mock adds to every SFTP request: an upload then takes seconds."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _batches(world: World) -> list[Any]:
    return world.ledger_rows("SELECT id, state, error FROM batches ORDER BY id")


def _start_upload(world: World, claims: Path) -> subprocess.Popen[str]:
    """A submit that is uploading (the ledger says so) over the slowed mock."""
    world.harness.faults.latency = LATENCY
    process = world.start("submit", str(claims), "--account", "sunrise")
    world.wait_for(
        "the upload to start",
        lambda: (
            any(b["state"] == "uploading" for b in _batches(world)) or process.poll() is not None
        ),
    )
    assert process.poll() is None, process.communicate()
    return process


def test_first_ctrl_c_finishes_the_upload_and_exits_130(world: World) -> None:
    claims = world.claims_file("INT")
    process = _start_upload(world, claims)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    world.harness.faults.latency = 0.0

    assert process.returncode == 130, err
    assert "finishing the upload in flight; Ctrl-C again to stop now" in err
    assert "do not submit them again" in err
    assert "Traceback" not in err and "Aborted!" not in err
    assert [(b["state"], b["error"]) for b in _batches(world)] == [("uploaded", None)]
    assert set(world.inbound_claims("sunrise").values()) == {1}

    again = world.run("submit", str(claims), "--account", "sunrise")
    assert again.returncode == 1 and "already" in again.stderr
    assert set(world.inbound_claims("sunrise").values()) == {1}


def test_second_ctrl_c_stops_at_once_and_the_next_submit_finishes_the_batch(
    world: World,
) -> None:
    claims = world.claims_file("TWICE")
    process = _start_upload(world, claims)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)  # the first one taken, the upload still going (each request takes 0.6 s)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    world.harness.faults.latency = 0.0

    assert process.returncode == 130, err
    assert "Traceback" not in err and "Aborted!" not in err
    assert "stopped during the upload of batch 1" in err
    [batch] = _batches(world)
    assert batch["state"] == "uploading"
    assert "claimferry submit --account sunrise" in batch["error"]
    assert not world.inbound_claims("sunrise")  # the rename never happened

    listed = world.run("batches", "list")
    assert "uploading" in listed.stdout and "interrupted" in listed.stdout

    resend = world.run("batches", "resend", "1", "--json")
    assert resend.returncode == 1
    error = json.loads(resend.stdout)["error"]
    assert error["code"] == "failed" and "claimferry submit CLAIMS" in error["message"]

    finished = world.run("submit", str(claims), "--account", "sunrise")
    assert finished.returncode == 0, finished.stderr
    assert "sending it again" in finished.stderr or "delivered by an earlier run" in (
        finished.stderr
    )
    assert [b["state"] for b in _batches(world)] == ["uploaded"]
    assert set(world.inbound_claims("sunrise").values()) == {1}


def test_ctrl_c_in_any_other_command_exits_130_with_a_json_document(world: World) -> None:
    world.harness.faults.latency = LATENCY
    process = world.start("fetch", "--account", "sunrise", "--json")
    world.wait_for("the login", world.ledger_exists)
    time.sleep(LATENCY)  # inside the session, listing the response folder
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    world.harness.faults.latency = 0.0
    assert process.returncode == 130, err
    assert json.loads(out)["error"]["code"] == "interrupted"
    assert "Traceback" not in err and "Aborted!" not in err
