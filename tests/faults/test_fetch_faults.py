"""fetch survives one bad file, fetches a replaced file again, and never
applies one answer twice, even when two readers race for it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimferry.ledger import Ledger
from claimferry.lifecycle import apply_response
from claimferry.manager import PluginManager
from claimferry.storage import sha256_hex
from faults.reliab_support import ANSWERS_PER_FILE, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _answered(world: World) -> dict[str, Path]:
    """Submit the sample claims and wait for the mock's answers, by kind."""
    sent = world.run("submit", str(world.claims_file("SUN")), "--account", "sunrise")
    assert sent.returncode == 0, sent.stderr
    outbound = world.harness.outbound_dir("sunrise")
    world.wait_for("the answers", lambda: len(list(outbound.iterdir())) >= ANSWERS_PER_FILE)
    assert world.harness.wait_idle(60)
    kinds = ("_PAYER_277CA_", "_999_", "_277CA_", "_EDI_STATUS_", "_ERA_835_")
    files = {next(k for k in kinds if k in path.name): path for path in outbound.iterdir()}
    assert len(files) == ANSWERS_PER_FILE, files
    return files


def test_odd_names_are_skipped_and_every_other_answer_is_read(world: World) -> None:
    answers = _answered(world)
    outbound = world.harness.outbound_dir("sunrise")
    odd = [" 0001_999_20261202.999", "0001\\999.999"]  # sort before every real answer
    for name in odd:
        shutil.copy(answers["_999_"], outbound / name)

    first = world.run("fetch", "--account", "sunrise")
    assert first.returncode == 1
    for name in odd:
        assert f"skipped {name!r}" in first.stderr and "not a plain file name" in first.stderr
    assert "2 response file(s) could not be downloaded (the next fetch tries again)" in (
        first.stderr
    )
    assert (
        f"sunrise: {ANSWERS_PER_FILE + 2} new file(s)" in first.stdout and "SKIPPED" in first.stdout
    )
    assert "Traceback" not in first.stderr
    states = {c["claim"]: c["state"] for c in world.json("status")["claims"]}
    assert set(states.values()) == {"paid"}  # the answers after the odd files were read

    again = world.run("fetch", "--account", "sunrise")
    assert again.returncode == 1
    assert all(f"skipped {name!r}" in again.stderr for name in odd)  # tried again
    assert "sunrise: 2 new file(s)" in again.stdout
    assert world.duplicate_answers() == []


def test_a_replaced_answer_is_fetched_again_and_its_hash_decides(world: World) -> None:
    answers = _answered(world)
    assert world.run("fetch", "--account", "sunrise").returncode == 0

    ack = answers["_999_"]
    text = ack.read_bytes()
    changed = text[:96] + b"9" + text[97:]  # ISA13's first digit: same size, new bytes
    assert len(changed) == len(text) and changed != text
    ack.write_bytes(changed)
    stamp = ack.stat().st_mtime + 100
    os.utime(ack, (stamp, stamp))
    report = answers["_EDI_STATUS_"]
    stamp = report.stat().st_mtime + 100
    os.utime(report, (stamp, stamp))  # touched, same bytes

    refetch = world.run("-vv", "fetch", "--account", "sunrise")
    assert refetch.returncode == 0, refetch.stderr
    assert "sunrise: 1 new file(s)" in refetch.stdout and ack.name in refetch.stdout
    downloaded = [line for line in refetch.stderr.splitlines() if " downloaded " in line]
    assert len(downloaded) == 2  # both looked at again
    received = world.state_dir / "archive" / "sunrise" / "received"
    copies = sorted(p.name for p in received.iterdir() if p.name.startswith(ack.name))
    assert copies == sorted([ack.name, f"{ack.name}.{sha256_hex(changed)[:12]}"])
    fetched = [a["file_name"] for a in world.json("audit") if a["action"] == "fetch"]
    assert sorted(fetched).count(ack.name) == 2 and fetched.count(report.name) == 1

    quiet = world.run("-vv", "fetch", "--account", "sunrise")
    assert quiet.returncode == 0, quiet.stderr
    assert "sunrise: 0 new file(s)" in quiet.stdout
    assert not [line for line in quiet.stderr.splitlines() if " downloaded " in line]


def test_two_readers_of_one_response_apply_it_once(world: World) -> None:
    """The unread check is inside the applying transaction, so a reader whose
    list of unread files is stale applies nothing, lock or no lock."""
    answers = _answered(world)
    ack = answers["_999_"]
    archived = world.tmp / ack.name
    shutil.copy(ack, archived)
    readers = PluginManager().load().response_readers()
    with Ledger.open(world.state_dir) as first, Ledger.open(world.state_dir) as second:
        response_id = first.record_response(
            account="sunrise",
            remote_name=ack.name,
            size=archived.stat().st_size,
            sha256=sha256_hex(archived.read_bytes()),
            archive_path=archived,
            kind=None,
        )
        assert response_id is not None
        assert [r["id"] for r in second.unparsed_responses("sunrise")] == [response_id]
        applied = apply_response(first, "sunrise", archived, readers, ack.name, response_id)
        late = apply_response(second, "sunrise", archived, readers, ack.name, response_id)
    assert applied.claims == 4 and late.claims == 0
    assert world.duplicate_answers() == []
    accepted = [
        e for c in world.json("status")["claims"] for e in c["history"] if e["file"] == ack.name
    ]
    assert len(accepted) == 4
