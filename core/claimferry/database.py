"""SQLite files in the state directory: how they are opened, written and migrated.

The ledger and any plugin that keeps data of its own (Office Ally's payer
list) open their files the same way: WAL, full sync, writers queueing on
``BEGIN IMMEDIATE``, owner-only permissions, and schema migrations that
several processes opening a new file at once cannot run twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from claimferry.errors import ClaimferryError

BUSY_TIMEOUT = 30.0


class DatabaseError(ClaimferryError):
    """A state file cannot be opened, or was written by a newer claimferry."""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a state database, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        db.row_factory = sqlite3.Row
        _use_wal(db)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: cannot open ({exc})") from None
    path.chmod(0o600)
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch a new file to WAL. The switch needs the file to itself and SQLite
    answers "locked" at once, without waiting, when several processes create
    the file together; so wait here, as long as any other write would."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """An IMMEDIATE transaction: writers queue instead of failing mid-way.

    Inside another one it joins it: the outer transaction commits or rolls
    back everything, so a caller can make several steps one (a response
    file's claim updates and its "read" mark, say).
    """
    if db.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def migrate_schema(db: sqlite3.Connection, migrations: Sequence[str], source: str) -> None:
    """Bring the schema up to ``len(migrations)``, one script per version.

    The version is read inside the write transaction, so when several
    processes open a new file at once, one migrates and the others find it
    done.
    """
    with write_transaction(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(migrations):
            raise DatabaseError(
                f"{source}: written by a newer claimferry (schema {version}); upgrade"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            for statement in _statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out
