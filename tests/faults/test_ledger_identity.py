"""The ledger knows itself: an empty, missing, foreign or old ledger next to an
archive of sent files is refused or kept from reusing control numbers, and a
ledger that cannot be written says which file and why, even after an upload."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimferry.ledger import Ledger
from faults.reliab_support import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _submit(world: World, prefix: str) -> None:
    result = world.run("submit", str(world.claims_file(prefix)), "--account", "sunrise")
    assert result.returncode == 0, result.stderr


def _isa13s(world: World) -> list[int]:
    return [b["isa13"] for b in world.json("batches", "list")]


def _refused(world: World, *args: str, **env: str) -> str:
    result = world.run(*args, **env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    return result.stderr


@pytest.mark.sqlite_only("an empty or missing ledger file")
@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_an_empty_or_missing_ledger_next_to_sent_files_is_refused(
    world: World, damage: str
) -> None:
    _submit(world, "SUN")
    for suffix in ("-wal", "-shm"):
        world.ledger_path.with_name(world.ledger_path.name + suffix).unlink(missing_ok=True)
    if damage == "empty":
        world.ledger_path.write_bytes(b"")
    else:
        world.ledger_path.unlink()
    for args in (
        ("submit", str(world.claims_file("SUN")), "--account", "sunrise"),
        ("status",),
        ("fetch", "--account", "sunrise"),
    ):
        message = _refused(world, *args)
        assert str(world.ledger_path) in message
        assert str(world.state_dir / "archive") in message and "1 sent file(s)" in message
        assert "Restore" in message and "--init" in message
    assert world.inbound_claims("sunrise") == {f"SUN-{n}": 1 for n in range(1, 5)}
    if damage == "empty":
        assert world.ledger_path.stat().st_size == 0  # nothing was created over it


@pytest.mark.sqlite_only("--init replaces a ledger file")
def test_init_starts_a_new_ledger_on_purpose_above_the_archives_numbers(world: World) -> None:
    _submit(world, "SUN")
    _submit(world, "SUM")
    world.ledger_path.write_bytes(b"")
    started = world.run("--init", "status")
    assert started.returncode == 0, started.stderr
    assert "started a new ledger" in started.stderr and "kept as" in started.stderr
    assert list(world.state_dir.glob("ledger.sqlite3.replaced-*"))
    _submit(world, "NEW")
    assert _isa13s(world) == [3]  # 1 and 2 are in the archive, never reused
    # The next run opens the new ledger without --init; a repeated --init keeps it.
    assert world.run("status").returncode == 0
    again = world.run("--init", "status")
    assert again.returncode == 0 and "is in order; --init changed nothing" in again.stderr
    assert _isa13s(world) == [3]


@pytest.mark.sqlite_only("copies the ledger file to another state directory")
def test_a_ledger_from_another_state_directory_is_refused(world: World, tmp_path: Path) -> None:
    _submit(world, "SUN")
    other = tmp_path / "other-state"
    with Ledger.open(other) as foreign:
        foreign.ensure_account("sunrise", "officeally", "SUNRISE01")
    for suffix in ("", "-wal", "-shm"):
        world.ledger_path.with_name(world.ledger_path.name + suffix).unlink(missing_ok=True)
    shutil.copy(other / "ledger.sqlite3", world.ledger_path)
    message = _refused(world, "status")
    assert str(world.ledger_path) in message
    assert f"belongs to the state directory {other.resolve()}" in message
    assert str(world.state_dir / "archive") in message and "--init" in message


@pytest.mark.sqlite_only("copies the ledger file to another state directory")
def test_a_foreign_ledger_from_before_identities_is_refused_and_the_mark_kept(
    world: World, tmp_path: Path
) -> None:
    """A backup taken before ledgers recorded their identity has none: it is this
    directory's only if it knows files of this archive."""
    _submit(world, "SUN")
    mark = world.state_dir / "archive" / ".ledger-id"
    before = mark.read_bytes()
    other = tmp_path / "other-state"
    with Ledger.open(other) as foreign:
        foreign.ensure_account("sunrise", "officeally", "SUNRISE01")
        foreign.record_batch(
            account="sunrise",
            file_name="ELSEWHERE_837P_000000001.txt",
            archive_path=other / "unused",
            sha256="0" * 64,
            size=1,
            control_number=1,
            test=True,
            claims=[],
        )
        foreign.db.execute("DELETE FROM ledger_identity")  # as written before identities
    for suffix in ("", "-wal", "-shm"):
        world.ledger_path.with_name(world.ledger_path.name + suffix).unlink(missing_ok=True)
    shutil.copy(other / "ledger.sqlite3", world.ledger_path)
    message = _refused(world, "status")
    assert "knows none of the files" in message and "--init" in message
    assert mark.read_bytes() == before


@pytest.mark.sqlite_only("restores an old copy of the ledger file")
def test_a_ledger_restored_from_an_old_backup_never_reuses_a_control_number(
    world: World, tmp_path: Path
) -> None:
    _submit(world, "SUN")
    backup = tmp_path / "backup.sqlite3"
    source = sqlite3.connect(world.ledger_path)
    target = sqlite3.connect(backup)
    source.backup(target)
    source.close()
    target.close()
    _submit(world, "SUM")
    for suffix in ("-wal", "-shm"):
        world.ledger_path.with_name(world.ledger_path.name + suffix).unlink(missing_ok=True)
    shutil.copy(backup, world.ledger_path)  # the restore: batch 2 is unknown to it
    _submit(world, "NEW")
    assert _isa13s(world) == [1, 3]
    sent = sorted((world.state_dir / "archive" / "sunrise" / "sent").iterdir())
    numbers = [p.read_text(encoding="ascii").split("*")[13] for p in sent]
    assert sorted(numbers) == ["000000001", "000000002", "000000003"]


@pytest.mark.sqlite_only("damages the ledger file")
def test_a_damaged_ledger_names_the_file_and_the_missing_table(world: World) -> None:
    _submit(world, "SUN")
    db = sqlite3.connect(world.ledger_path)
    db.execute("DROP TABLE claim_events")
    db.commit()
    db.close()
    message = _refused(world, "status")
    assert f"{world.ledger_path}: the ledger is damaged: table(s) claim_events missing" in message
    assert "Restore it from a backup" in message


@pytest.mark.sqlite_only("the ledger file's folder cannot be made")
def test_a_state_directory_that_cannot_be_made_says_where_and_why(
    world: World, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    message = _refused(world, "status", CLAIMFERRY_STATE_DIR=str(blocker / "state"))
    assert f"{blocker / 'state' / 'ledger.sqlite3'}: cannot open (not a directory)" in message


def test_an_archive_that_cannot_be_written_sends_nothing(world: World) -> None:
    assert world.run("status").returncode == 0
    sent = world.state_dir / "archive" / "sunrise" / "sent"
    sent.parent.mkdir(parents=True)
    sent.write_text("")  # a file where the folder belongs
    result = world.run("submit", str(world.claims_file("SUN")), "--account", "sunrise")
    assert result.returncode == 1
    assert f"{sent}/" in result.stderr and "cannot write (file exists)" in result.stderr
    assert "Traceback" not in result.stderr
    assert world.inbound_claims("sunrise") == {}
    assert world.json("batches", "list") == []


@pytest.mark.sqlite_only("makes the ledger file read-only")
def test_a_ledger_write_failing_after_the_upload_says_so_and_the_next_run_reconciles(
    world: World,
) -> None:
    assert world.run("status").returncode == 0
    db = sqlite3.connect(world.ledger_path)
    db.execute(
        "CREATE TRIGGER disk_full BEFORE UPDATE ON batches WHEN NEW.state = 'uploaded' "
        "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END"
    )
    db.commit()
    db.close()
    claims = world.claims_file("SUN")
    failed = world.run("submit", str(claims), "--account", "sunrise")
    assert failed.returncode == 1
    assert "WAS uploaded" in failed.stderr
    assert f"{world.ledger_path}: cannot write (database or disk is full)" in failed.stderr
    assert "the next run looks for it on the server and records it" in failed.stderr
    assert "unexpected" not in failed.stderr and "Traceback" not in failed.stderr
    (batch,) = world.json("batches", "list")
    assert batch["state"] == "uploading"

    db = sqlite3.connect(world.ledger_path)
    db.execute("DROP TRIGGER disk_full")
    db.commit()
    db.close()
    rerun = world.run("submit", str(claims), "--account", "sunrise")
    assert rerun.returncode == 0, rerun.stderr
    assert "was delivered by an earlier run" in rerun.stderr
    (batch,) = world.json("batches", "list")
    assert batch["state"] == "uploaded"
    assert world.inbound_claims("sunrise") == {f"SUN-{n}": 1 for n in range(1, 5)}
