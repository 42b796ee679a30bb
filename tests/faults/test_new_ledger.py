"""No silent new state: a new ledger is announced, and refused to a sender
whose files were sent from another state directory (a copied config), or
whenever CLAIMFERRY_REQUIRE_LEDGER=1; ``--init`` starts one on purpose.

Real processes against the mock Office Ally, real SQLite files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.reliab_support import World, make_world

pytestmark = pytest.mark.sqlite_only(
    "a new ledger file in a copied or new state directory; a PostgreSQL ledger is the "
    "database the config names, whatever the state directory"
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def test_the_first_use_of_a_state_directory_says_so_and_reports_name_it(world: World) -> None:
    first = world.run("status")
    assert first.returncode == 0, first.stderr
    ledger = world.state_dir / "ledger.sqlite3"
    assert f"no ledger in the state directory {world.state_dir}: started a new one" in first.stderr
    assert str(ledger) in first.stderr
    again = world.run("status", "--json")
    assert "no ledger" not in again.stderr
    assert f"state directory: {world.state_dir}" in again.stderr
    assert json.loads(again.stdout) == {"ok": True, "claims": [], "batches": []}
    listed = world.run("batches", "list", "--json")
    assert f"state directory: {world.state_dir}" in listed.stderr
    assert json.loads(listed.stdout) == []


def test_a_copied_config_cannot_start_a_second_ledger_for_the_same_sender(world: World) -> None:
    claims = world.claims_file("COPY")
    assert world.run("submit", str(claims), "--account", "sunrise").returncode == 0
    elsewhere = world.tmp / "copy" / "state"

    refused = world.run(
        "submit", str(claims), "--account", "sunrise", "--json", CLAIMFERRY_STATE_DIR=str(elsewhere)
    )
    assert refused.returncode == 1, refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "ledger-refused"
    assert str(world.state_dir) in error["message"] and "SUNRISE01" in error["message"]
    assert "--init" in error["message"]
    assert not (elsewhere / "ledger.sqlite3").exists()
    assert world.inbound_claims("sunrise")["COPY-1"] == 1  # nothing sent again

    built = world.run(
        "build", str(claims), "--account", "sunrise", "-o", str(world.tmp / "x.837"),
        CLAIMFERRY_STATE_DIR=str(elsewhere),
    )  # fmt: skip
    assert built.returncode == 1 and "would send claims again" in built.stderr

    other_sender = world.run(
        "submit", str(world.claims_file("MOON")), "--account", "moonrise",
        CLAIMFERRY_STATE_DIR=str(elsewhere),
    )  # fmt: skip
    assert other_sender.returncode == 0, other_sender.stderr  # moonrise sent nothing before
    assert "no ledger in the state directory" in other_sender.stderr


def test_init_starts_the_second_ledger_on_purpose(world: World) -> None:
    assert world.run("submit", str(world.claims_file("A")), "--account", "sunrise").returncode == 0
    elsewhere = world.tmp / "fresh"
    result = world.run(
        "--init", "submit", str(world.claims_file("B")), "--account", "sunrise",
        CLAIMFERRY_STATE_DIR=str(elsewhere),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"started a new ledger {elsewhere / 'ledger.sqlite3'}" in result.stderr
    assert world.inbound_claims("sunrise")["B-1"] == 1


def test_require_ledger_refuses_any_new_ledger_until_init(world: World) -> None:
    claims = str(world.claims_file("REQ"))
    refused = world.run("submit", claims, "--account", "sunrise", CLAIMFERRY_REQUIRE_LEDGER="1")
    assert refused.returncode == 1
    assert "CLAIMFERRY_REQUIRE_LEDGER=1" in refused.stderr
    assert str(world.ledger_path) in refused.stderr
    assert not world.ledger_path.exists()
    started = world.run(
        "--init", "submit", claims, "--account", "sunrise", CLAIMFERRY_REQUIRE_LEDGER="1"
    )
    assert started.returncode == 0, started.stderr
    again = world.run("submit", claims, "--account", "sunrise", CLAIMFERRY_REQUIRE_LEDGER="1")
    assert again.returncode == 1 and "already" in again.stderr  # the ledger exists now


def test_a_ledger_that_status_started_is_still_new_to_the_copied_config(world: World) -> None:
    claims = world.claims_file("READ")
    assert world.run("submit", str(claims), "--account", "sunrise").returncode == 0
    elsewhere = world.tmp / "copy" / "state"
    for read_only in (("status",), ("batches", "list")):
        looked = world.run(*read_only, CLAIMFERRY_STATE_DIR=str(elsewhere))
        assert looked.returncode == 0, looked.stderr
    assert (elsewhere / "ledger.sqlite3").is_file()  # the read-only commands started it

    refused = world.run(
        "submit", str(claims), "--account", "sunrise", "--json", CLAIMFERRY_STATE_DIR=str(elsewhere)
    )
    assert refused.returncode == 1, refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "ledger-refused"
    assert str(world.state_dir) in error["message"]
    assert "would send claims again" in error["message"]
    assert world.inbound_claims("sunrise")["READ-1"] == 1  # nothing sent again


def test_require_ledger_refuses_a_ledger_that_status_started(world: World) -> None:
    assert world.run("status").returncode == 0
    assert world.ledger_path.is_file()
    refused = world.run(
        "submit", str(world.claims_file("REQ2")), "--account", "sunrise",
        CLAIMFERRY_REQUIRE_LEDGER="1",
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "CLAIMFERRY_REQUIRE_LEDGER=1" in refused.stderr and "--init" in refused.stderr
    assert "REQ2-1" not in world.inbound_claims("sunrise")
