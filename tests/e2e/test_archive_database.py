"""``archive: database``: what is sent and received is kept in the state database, so
machines that share the database need no shared directory. Real processes, the mock
Office Ally on loopback, a real SQLite file or PostgreSQL server."""

from __future__ import annotations

import json
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claimferry.database import connect_database
from faults.reliab_support import World, make_world

ACCOUNT = "sunrise"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    for world in make_world(
        tmp_path, {ACCOUNT: "SUNRISE01"}, database=database_url, archive="database"
    ):
        world.env["CLAIMFERRY_DATABASE"] = database_url  # the config's, whatever the test run's
        yield world


def _rows(world: World, sql: str, *args: Any) -> list[Any]:
    db = connect_database(world.env["CLAIMFERRY_DATABASE"])
    try:
        return list(db.execute(sql, args).fetchall())
    finally:
        db.close()


def _json(world: World, *args: str, **env: str) -> Any:
    result = world.run(*args, "--json", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _write(world: World, sql: str, *args: Any) -> None:
    db = connect_database(world.env["CLAIMFERRY_DATABASE"])
    try:
        db.execute(sql, args)
    finally:
        db.close()


def _second(world: World) -> dict[str, str]:
    """Another machine's state directory: nothing of the first one's in it."""
    return {"CLAIMFERRY_STATE_DIR": str(world.tmp / "state-b")}


def _kept_files(world: World) -> list[Path]:
    """Files either state directory holds under archive/ (the ledger's mark aside), and
    any private copy a reader left behind."""
    found = []
    for state in (world.state_dir, world.tmp / "state-b"):
        found += [p for p in (state / "archive").rglob("*") if p.is_file()]
        found += list(state.glob(".archive-*"))
    return [p for p in found if p.name != ".ledger-id"]


def _zip_the_era(world: World) -> str:
    """Office Ally zips its ERAs: the mock's 835 becomes a zip with a summary beside it."""
    outbound = world.harness.outbound_dir(ACCOUNT)
    (era,) = [p for p in outbound.iterdir() if "_ERA_835_" in p.name]
    zipped = outbound / era.name.replace("_ERA_835_", "_ERA_STATUS_").replace(".835", ".zip")
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("SUMMARY.txt", "FOR PEOPLE\n")
        archive.writestr(f"era/{era.name}", era.read_bytes())
    era.unlink()
    return zipped.name


def test_two_state_directories_share_one_database_and_no_folder(world: World) -> None:
    other = _second(world)
    sent = world.run("submit", str(world.claims_file("SUN")), "--account", ACCOUNT)
    assert sent.returncode == 0, sent.stderr
    (batch,) = _json(world, "batches", "list", **other)
    assert batch["archive_path"] == f"db:{ACCOUNT}/sent/{batch['file_name']}"
    ((data, digest),) = _rows(
        world, "SELECT data, sha256 FROM archive_files WHERE direction = ?", "sent"
    )
    delivered = world.harness.inbound_dir(ACCOUNT) / batch["file_name"]
    assert bytes(data) == delivered.read_bytes() and digest == batch["sha256"]  # the proof
    assert world.harness.wait_idle(60)
    zipped = _zip_the_era(world)

    # the machine that sent nothing reads the answers
    (fetched,) = _json(world, "fetch", "--account", ACCOUNT, **other)
    assert zipped in [f["name"] for f in fetched["files"]]
    assert all(f["archive"].startswith(f"db:{ACCOUNT}/received/") for f in fetched["files"])
    assert all(f["kind"] and not f["error"] for f in fetched["files"])
    claims = _json(world, "status")["claims"]  # and the first one sees them
    assert {c["state"] for c in claims} == {"paid"} and len(claims) == 4
    export = world.run("remits", "export", "--format", "json", "--show-phi", **other)
    assert export.returncode == 0, export.stderr
    shown = json.loads(export.stdout)
    assert {r["claim_id"] for r in shown} == {f"SUN-{n}" for n in range(1, 5)}
    assert all(r["patient_name"] for r in shown)  # from the zipped 835, read back
    received = _rows(world, "SELECT name FROM archive_files WHERE direction = ?", "received")
    assert zipped in {r[0] for r in received}
    shown = world.run("show", batch["archive_path"], **other)  # the 837P as sent, for a person
    assert shown.returncode == 0, shown.stderr
    assert all(f"SUN-{n}" in shown.stdout for n in range(1, 5))
    missing = world.run("show", f"db:{ACCOUNT}/sent/NOT-SENT.837", "--json", **other)
    assert missing.returncode == 2
    (problem,) = json.loads(missing.stdout)["error"]["problems"]
    assert problem["file"] == f"db:{ACCOUNT}/sent/NOT-SENT.837"
    assert problem["message"] == "not in the database's archive"
    assert _kept_files(world) == []  # no folder holds any of it, no private copy was left


def test_another_machine_resends_an_uncertain_batch_from_the_database(world: World) -> None:
    claims = str(world.claims_file("UNC"))
    killed = world.run(
        "submit", claims, "--account", ACCOUNT, CLAIMFERRY_FAILPOINT="after-mark-uploading"
    )
    assert killed.returncode == -signal.SIGKILL
    other = _second(world)
    asked = world.run("submit", claims, "--account", ACCOUNT, **other)
    assert asked.returncode == 1 and "delivery is uncertain" in asked.stderr
    (batch,) = _json(world, "batches", "list", **other)
    assert batch["state"] == "uncertain"
    resent = world.run("batches", "resend", str(batch["id"]), **other)
    assert resent.returncode == 0, resent.stderr
    assert world.inbound_claims(ACCOUNT) == {f"UNC-{n}": 1 for n in range(1, 5)}
    assert _kept_files(world) == []


def test_upload_refuses_a_stored_file_changed_since_it_was_built(world: World) -> None:
    claims = str(world.claims_file("TAMP"))
    killed = world.run("submit", claims, "--account", ACCOUNT, CLAIMFERRY_FAILPOINT="after-record")
    assert killed.returncode == -signal.SIGKILL
    _write(world, "UPDATE archive_files SET data = ? WHERE direction = ?", b"ISA*forged", "sent")
    refused = world.run("submit", claims, "--account", ACCOUNT, **_second(world))
    assert refused.returncode == 1
    assert "archived batch changed since it was built; not sending it" in refused.stderr
    assert world.inbound_claims(ACCOUNT) == {}
    assert [b["state"] for b in _json(world, "batches", "list")] == ["built"]


@pytest.mark.parametrize(
    "failpoint", ["after-control-number", "after-archive", "after-record", "after-upload"]
)
def test_a_crash_leaves_the_file_and_its_batch_together(world: World, failpoint: str) -> None:
    claims = str(world.claims_file("CRASH"))
    killed = world.run("submit", claims, "--account", ACCOUNT, CLAIMFERRY_FAILPOINT=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    recorded = failpoint in ("after-record", "after-upload")
    assert _pairs(world) == ([(True, True)] if recorded else [])  # never one without the other
    rerun = world.run("submit", claims, "--account", ACCOUNT, **_second(world))
    assert rerun.returncode == 0, rerun.stderr
    assert world.inbound_claims(ACCOUNT) == {f"CRASH-{n}": 1 for n in range(1, 5)}
    assert _pairs(world) == [(True, True)]
    assert _kept_files(world) == []


def _pairs(world: World) -> list[tuple[bool, bool]]:
    """For each sent file or batch: whether it has a batch, and whether it has its file."""
    batches = {r[0]: r[1] for r in _rows(world, "SELECT archive_path, sha256 FROM batches")}
    kept = {
        f"db:{r[0]}/sent/{r[1]}": r[2]
        for r in _rows(
            world, "SELECT account, name, sha256 FROM archive_files WHERE direction = ?", "sent"
        )
    }
    return [
        (ref in batches, ref in kept and kept[ref] == batches.get(ref))
        for ref in sorted(set(batches) | set(kept))
    ]


def test_db_copy_carries_the_archive(tmp_path: Path, postgres_url: str) -> None:
    ledger = f"sqlite://{tmp_path / 'ledger.sqlite3'}"
    for world in make_world(tmp_path, {ACCOUNT: "SUNRISE01"}, database=ledger, archive="database"):
        world.env["CLAIMFERRY_DATABASE"] = ledger
        claims = str(world.claims_file("COPY"))
        killed = world.run(
            "submit", claims, "--account", ACCOUNT, CLAIMFERRY_FAILPOINT="after-record"
        )
        assert killed.returncode == -signal.SIGKILL
        copied = _json(world, "db", "copy", "--from", ledger, "--to", postgres_url)
        (table,) = [t for t in copied["tables"] if t["table"] == "archive_files"]
        assert table["rows"] == table["target_rows"] == 1
        assert table["checksum"] == table["target_checksum"]
        # the server now: the batch's file is read back from its archive and sent
        sent = world.run("submit", claims, "--account", ACCOUNT, CLAIMFERRY_DATABASE=postgres_url)
        assert sent.returncode == 0, sent.stderr
        assert world.inbound_claims(ACCOUNT) == {f"COPY-{n}": 1 for n in range(1, 5)}
