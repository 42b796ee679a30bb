"""The stress test of issue 11: 8 ``submit`` and 8 ``fetch`` processes at once on
2 accounts, round after round. The mock processes each claim exactly once and
no answer is recorded twice.

Each run is a process of its own, forked from a forkserver that has claimferry
imported already, so that a round costs the runs' work rather than sixteen
interpreter start-ups; each holds its own descriptors and locks, as separate
runs on one machine do. It runs the issue's 20 rounds (about a minute on two
busy cores); ``CLAIMFERRY_STRESS_ROUNDS`` sets another number.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.reliab_support import (
    ACCOUNTS,
    ANSWERS_PER_FILE,
    World,
    make_world,
    report_cli_run,
)

ROUNDS = int(os.environ.get("CLAIMFERRY_STRESS_ROUNDS", "20"))
PER_ACCOUNT = 4
"""Submits (and fetches) per account per round: 8 of each on 2 accounts."""
ROUND_BUDGET = 60.0
"""Seconds for one round: a hang fails the test instead of stalling the run."""
PRELOAD = [
    "claimferry.cli.app",
    "claimferry.cli.commands",
    "claimferry.submission",
    "claimferry_checks.plugin",
    "claimferry_credentials.plugin",
    "claimferry_officeally.plugin",
    "claimferry_officeally.payers_plugin",
    "claimferry_officeally.transport",
    "faults.reliab_support",
]
"""Imported once, in the forkserver, before any run forks from it."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _round(
    world: World, number: int, context: multiprocessing.context.BaseContext
) -> Counter[tuple[str, str, int]]:
    """Start every run of one round at once; wait for all; count their outcomes."""
    results = context.Queue()
    processes = []
    for account in ACCOUNTS:
        claims = world.claims_file(f"{account[0].upper()}{number:02d}")
        runs = {
            "submit": ["submit", str(claims), "--account", account, "--wait", "120"],
            "fetch": ["fetch", "--account", account, "--wait", "120"],
        }
        for _ in range(PER_ACCOUNT):
            for command, args in runs.items():
                process = context.Process(  # type: ignore[attr-defined]
                    target=report_cli_run, args=(args, world.env, results, (command, account))
                )
                process.start()
                processes.append(process)
    deadline = time.monotonic() + ROUND_BUDGET
    outcomes: Counter[tuple[str, str, int]] = Counter()
    try:
        for _ in processes:
            try:
                (command, account), code, err = results.get(
                    timeout=max(0.1, deadline - time.monotonic())
                )
            except queue.Empty:
                pytest.fail(f"round {number} did not finish in {ROUND_BUDGET:g}s")
            assert "Traceback" not in err and "unexpected" not in err, err
            if code == 1:
                assert command == "submit" and "already sent in batch" in err, err
            outcomes[(command, account, code)] += 1
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return outcomes


@pytest.mark.slow
def test_8_submits_and_8_fetches_at_once_on_2_accounts(world: World) -> None:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    for number in range(ROUNDS):
        outcomes = _round(world, number, context)
        for account in ACCOUNTS:
            # One submit sent the round's claims; the others found them sent.
            assert outcomes[("submit", account, 0)] == 1, (number, outcomes)
            assert outcomes[("submit", account, 1)] == PER_ACCOUNT - 1, (number, outcomes)
            assert outcomes[("fetch", account, 0)] == PER_ACCOUNT, (number, outcomes)

    assert world.harness.wait_idle(60)
    for account in ACCOUNTS:
        world.wait_for(f"{account}'s answers", lambda a=account: len(world.answers(a)) == ROUNDS)
        assert world.harness.wait_idle(60)
        final = world.run("fetch", "--account", account)
        assert final.returncode == 0, final.stderr
        prefix = account[0].upper()
        sent = {f"{prefix}{r:02d}-{n}" for r in range(ROUNDS) for n in range(1, 5)}
        assert world.inbound_claims(account) == dict.fromkeys(sent, 1)  # each claim once
        assert world.temporary_files(account) == []
        audit = world.json("audit")
        fetched = [
            a["file_name"] for a in audit if a["action"] == "fetch" and a["account"] == account
        ]
        assert (
            len(fetched) == len(set(fetched)) == ANSWERS_PER_FILE * ROUNDS
        )  # each answer fetched once
    assert world.duplicate_answers() == []  # and recorded once
    batches = world.json("batches", "list")
    assert len(batches) == 2 * ROUNDS and {b["state"] for b in batches} == {"uploaded"}
    claims = world.json("status")["claims"]
    assert len(claims) == 2 * ROUNDS * 4 and {c["state"] for c in claims} == {"paid"}
    assert world.lock_holders() == []
