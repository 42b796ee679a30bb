"""Workers on the task queue, against the mock and a real PostgreSQL server: what is
queued is sent and read once, across worker processes killed with kill -9."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from claimferry.postgres import PostgresConnection
from faults.reliab_support import ACCOUNTS, ANSWERS_PER_FILE, World, make_world

STALLED_AFTER = "4"
"""Seconds without a heartbeat before a job goes back to the queue (60 in production)."""
SETTLE = 240.0


@pytest.fixture
def world(tmp_path: Path, postgres_url: str) -> Iterator[World]:
    yield from _world(tmp_path, postgres_url, ACCOUNTS)


def _world(
    tmp_path: Path, database: str, accounts: dict[str, str], **settings: Any
) -> Iterator[World]:
    for world in make_world(tmp_path, accounts, database=database, **settings):
        world.env["CLAIMFERRY_DATABASE"] = database  # the config's, whatever the test run's
        upgraded = world.run("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        yield world


def _worker(world: World, *args: str) -> subprocess.Popen[str]:
    """A worker process, its output in a file of its own (a pipe nobody reads would
    stop it once full)."""
    log = world.tmp / f"worker-{len(list(world.tmp.glob('worker-*.log')))}.log"
    with log.open("w") as out:
        return subprocess.Popen(
            world.command("worker", "--concurrency", "2", "--stalled-after", STALLED_AFTER, *args),
            env=world.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _stop(world: World, workers: list[subprocess.Popen[str]]) -> str:
    """SIGTERM: each finishes the jobs in hand and ends; returns what they all wrote."""
    for process in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in workers:
        process.wait(timeout=120)
    return "".join(log.read_text() for log in sorted(world.tmp.glob("worker-*.log")))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _claims(world: World) -> list[dict[str, Any]]:
    claims: list[dict[str, Any]] = world.json("status")["claims"]
    return claims


def _queue_until_paid(world: World) -> None:
    """Each account's claims queued, sent, answered and, with fetches queued, read: paid."""
    for account in ACCOUNTS:
        queued = world.json(
            "enqueue", "submit", str(world.claims_file(account.upper())), "--account", account
        )
        assert queued["ok"] and isinstance(queued["job"], int)
    for account in ACCOUNTS:
        world.wait_for(f"{account}'s claims", lambda a=account: len(world.inbound_claims(a)) == 4)
    assert world.harness.wait_idle(60)

    def all_paid() -> bool:
        world.json("enqueue", "fetch", "--all")
        time.sleep(0.5)
        claims = _claims(world)
        return len(claims) == 8 and {c["state"] for c in claims} == {"paid"}

    world.wait_for("every claim paid", all_paid, timeout=120)


def test_a_worker_sends_and_fetches_what_is_queued(world: World) -> None:
    port = _free_port()
    workers = [_worker(world, "--metrics-port", str(port))]
    try:
        _queue_until_paid(world)
        status = world.json("queue", "status")
        assert [a["account"] for a in status["accounts"]] == sorted(ACCOUNTS)
        assert all(a["last_fetch"] and not a["login_on_hold"] for a in status["accounts"])
        assert len(status["workers"]) == 1
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        text = metrics.read().decode()
        assert "claimferry_workers_alive 1.0" in text
        assert 'claimferry_claims{batch_state="uploaded"} 8.0' in text
        assert 'claimferry_login_on_hold{account="sunrise"} 0.0' in text
        assert 'claimferry_last_successful_fetch_timestamp_seconds{account="moonrise"}' in text
        queued_files = list((world.state_dir / "queued").iterdir())
        assert queued_files == []  # each queued claims file is removed once sent
    finally:
        output = _stop(world, workers)
    assert [w.returncode for w in workers] == [0], output
    assert "Traceback" not in output
    assert world.lock_holders() == []


@pytest.fixture
def archived_in_database(tmp_path: Path, postgres_url: str) -> Iterator[World]:
    yield from _world(tmp_path, postgres_url, ACCOUNTS, archive="database")


def test_with_the_archive_in_the_database_workers_share_no_directory(
    archived_in_database: World,
) -> None:
    """The worker's state directory is not the one ``enqueue`` ran in: the queued claims,
    the files sent and the answers all pass through the database."""
    world = archived_in_database
    other = world.tmp / "worker-state"
    workers = [_worker(replace(world, env=world.env | {"CLAIMFERRY_STATE_DIR": str(other)}))]
    try:
        _queue_until_paid(world)
    finally:
        output = _stop(world, workers)
    assert [w.returncode for w in workers] == [0], output
    assert "Traceback" not in output
    kept = Counter(r[0] for r in world.ledger_rows("SELECT direction FROM archive_files"))
    assert kept == Counter({"sent": 2, "received": 2 * ANSWERS_PER_FILE})  # none queued still
    files = [
        p
        for state in (world.state_dir, other)
        for folder in ("archive", "queued")
        for p in (state / folder).rglob("*")
        if p.is_file() and p.name != ".ledger-id"
    ]
    assert files == []


def test_queueing_needs_postgresql_and_a_queue(tmp_path: Path) -> None:
    for world in make_world(tmp_path):
        world.env.pop("CLAIMFERRY_DATABASE", None)
        refused = world.run("enqueue", "fetch", "--all", "--json")
        assert refused.returncode == 1
        error = json.loads(refused.stdout)["error"]
        assert error["code"] == "queue" and "PostgreSQL" in error["message"]


FLEET = {f"clinic{n:02d}": f"CLINIC{n:02d}" for n in range(50)}


def _holder(world: World, command: str, pids: set[int]) -> int | None:
    """The pid of a worker of ours that holds a sender lock for ``command`` now."""
    database = world.env["CLAIMFERRY_DATABASE"]
    db = PostgresConnection(database)
    try:
        rows = db.execute("SELECT pid, command FROM sender_locks").fetchall()
        uploading = db.execute("SELECT 1 FROM batches WHERE state = 'uploading'").fetchone()
    finally:
        db.close()
    for pid, held_for in rows:
        if held_for == command and pid in pids and (command != "submit" or uploading):
            return int(pid)
    return None


@pytest.fixture
def fleet(tmp_path: Path, postgres_url: str) -> Iterator[World]:
    yield from _world(tmp_path, postgres_url, FLEET, fetch_schedule="* * * * * */5")


def _enqueue_all(world: World, wave: str) -> None:
    for account in FLEET:
        claims = world.claims_file(f"{account.upper()}{wave}", name=f"{account}-{wave}.yaml")
        queued = world.run("enqueue", "submit", str(claims), "--account", account)
        assert queued.returncode == 0, queued.stderr


def _kill_one_at(world: World, command: str, pids: set[int]) -> int:
    """kill -9 a worker of ours while it holds a sender lock for ``command``."""
    world.wait_for(f"a {command} in flight", lambda: _holder(world, command, pids), 120)
    pid = _holder(world, command, pids)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    pids.discard(pid)
    return pid


@pytest.mark.slow
def test_three_workers_50_accounts_two_killed_mid_job_nothing_twice_nothing_lost(
    fleet: World,
) -> None:
    world = fleet
    workers = [_worker(world) for _ in range(3)]
    try:
        world.harness.faults.latency = 0.05  # an upload spans several seconds
        _enqueue_all(world, "A")
        pids = {w.pid for w in workers}
        _kill_one_at(world, "submit", pids)
        world.harness.faults.latency = 0.0
        _kill_one_at(world, "fetch", pids)
        workers.append(_worker(world))  # the fleet goes on with a new one
        _enqueue_all(world, "B")  # and the stream of submits with it

        states: Counter[str] = Counter()

        def settled() -> bool:
            if not world.harness.wait_idle(1):
                return False
            states.clear()
            states.update(c["state"] for c in _claims(world))
            return states == Counter({"paid": 8 * len(FLEET)})

        try:
            world.wait_for("every claim sent, answered and read", settled, SETTLE)
        except AssertionError:
            queue = world.json("queue", "status")
            raise AssertionError(f"claims: {dict(states)}; queue: {queue['queues']}") from None
    finally:
        output = _stop(world, workers)
    assert "Traceback" not in output, output[-5000:]
    for account in FLEET:
        prefix = account.upper()
        sent = {f"{prefix}{wave}-{n}" for wave in "AB" for n in range(1, 5)}
        assert world.inbound_claims(account) == dict.fromkeys(sent, 1)  # each claim once
        assert world.temporary_files(account) == []
    audit = world.json("audit")
    fetched = [(a["account"], a["file_name"]) for a in audit if a["action"] == "fetch"]
    assert len(fetched) == len(set(fetched)) == 2 * ANSWERS_PER_FILE * len(FLEET)
    assert world.duplicate_answers() == []  # every answer recorded once
    batches = world.json("batches", "list")
    assert len(batches) == 2 * len(FLEET) and {b["state"] for b in batches} == {"uploaded"}
    assert world.lock_holders() == []
