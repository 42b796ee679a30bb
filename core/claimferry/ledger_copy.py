"""Moving a ledger to another database (``claimferry db copy``), proven by counts and checksums.

Every table is copied with its ids, so batches, claims, control numbers,
events and the audit trail are the same rows in the new database, and the
archive's ledger mark still names it. Files kept in the database (``archive:
database``) are rows of ``archive_files`` and move with it, checked the same
way. The source is held with a write transaction for the whole copy: nobody
can write to it meanwhile, so the copy is one moment's ledger. The target must
hold no ledger rows yet; nothing in it is ever overwritten.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimferry.database import (
    Connection,
    connect_database,
    is_database_url,
    migrate_schema,
    redacted_location,
    stream_rows,
    write_transaction,
)
from claimferry.errors import ClaimferryError
from claimferry.ledger import LEDGER_TABLES, ledger_migrations
from claimferry.postgres import has_schema

CHUNK = 2000
"""Rows per INSERT batch: large enough to be quick, small enough to stay flat in memory."""
FILE_CHUNK = 4
"""Rows read and inserted at a time from ``archive_files``, whose rows are whole files
(an ERA can be 100 MB): memory holds a few files, never the table."""


class CopyRefused(ClaimferryError):
    """The copy cannot start: a target that already holds a ledger, or one place twice."""

    code = "copy-refused"


@dataclass(frozen=True)
class TableCopy:
    """One table's rows on both sides after the copy."""

    table: str
    rows: int
    checksum: str
    target_rows: int
    target_checksum: str

    @property
    def matches(self) -> bool:
        return (self.rows, self.checksum) == (self.target_rows, self.target_checksum)


def holds_ledger(location: str) -> bool:
    """Whether ``location`` (a path or URL) already holds a ledger to copy."""
    if is_database_url(location):
        return has_schema(location, "ledger")
    return Path(location.removeprefix("sqlite://")).is_file()


def copy_ledger(source: str, target: str) -> list[TableCopy]:
    """Copy the ledger at ``source`` into the empty ledger at ``target`` (paths or URLs).

    Returns every table's counts and checksums on both sides; the caller
    reports a mismatch as a failure.
    """
    if redacted_location(source) == redacted_location(target):
        raise CopyRefused("--from and --to name the same database")
    src = connect_database(source)
    try:
        migrate_schema(src, ledger_migrations(src), redacted_location(source))
        dst = connect_database(target)
        try:
            migrate_schema(dst, ledger_migrations(dst), redacted_location(target))
            with write_transaction(src), write_transaction(dst):
                held = [t for t in LEDGER_TABLES if _count(dst, t)]
                if held:
                    raise CopyRefused(
                        f"{redacted_location(target)} already holds ledger rows (in "
                        f"{', '.join(held)}): copy into a new, empty database"
                    )
                for table in LEDGER_TABLES:
                    _copy_table(src, dst, table)
                _advance_identities(dst)
            return [
                TableCopy(table, *_fingerprint(src, table), *_fingerprint(dst, table))
                for table in LEDGER_TABLES
            ]
        finally:
            dst.close()
    finally:
        src.close()


def _count(db: Connection, table: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 (ours)


def table_columns(db: Connection, table: str) -> list[str]:
    """The table's columns, in the order of its definition."""
    if isinstance(db, sqlite3.Connection):
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [str(row[0]) for row in rows]


def _rows_at_a_time(table: str) -> int:
    return FILE_CHUNK if table == "archive_files" else CHUNK


def _copy_table(src: Connection, dst: Connection, table: str) -> None:
    columns = table_columns(src, table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (our own table names)
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    chunk: list[tuple[Any, ...]] = []
    size = _rows_at_a_time(table)
    select = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 (our own table names)
    for row in stream_rows(src, select, size):
        chunk.append(tuple(row))
        if len(chunk) == size:
            dst.executemany(sql, chunk)
            chunk = []
    if chunk:
        dst.executemany(sql, chunk)


def _advance_identities(db: Connection) -> None:
    """After rows came with their ids, PostgreSQL's sequences must start past them."""
    if isinstance(db, sqlite3.Connection):
        return  # SQLite takes the next id from the rows themselves
    identities = db.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND column_name = 'id' AND is_identity = 'YES'"
    )
    for table in [str(row[0]) for row in identities if row[0] in LEDGER_TABLES]:
        db.execute(
            f"SELECT setval(pg_get_serial_sequence(?, 'id'), "  # noqa: S608 (our own table names)
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)",
            (table,),
        )


def _fingerprint(db: Connection, table: str) -> tuple[int, str]:
    """Rows, and the sum of every row's SHA-256 (values written the same way whatever
    the engine): a sum, so that the engines' different text orderings do not count."""
    columns = sorted(table_columns(db, table))
    total = rows = 0
    select = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 (our own table names)
    for row in stream_rows(db, select, _rows_at_a_time(table)):
        rows += 1
        line = "\x1e".join(map(_canonical, row)).encode("utf-8")
        total = (total + int.from_bytes(hashlib.sha256(line).digest(), "big")) % 2**256
    return rows, f"{total:064x}"


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)
