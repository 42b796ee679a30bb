"""The state database: how it is opened, written and migrated.

By default it is SQLite files in the state directory. The ledger and any
plugin that keeps data of its own (Office Ally's payer list) open their files
the same way: WAL, full sync, writers queueing on ``BEGIN IMMEDIATE``,
owner-only permissions, and schema migrations that several processes opening
a new file at once cannot run twice. With ``database: postgresql://...`` in
the config the same tables live in one PostgreSQL database
(:mod:`claimferry.postgres`), writers queueing on a transaction-level
advisory lock, so that every rule written for SQLite holds there unchanged.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimferry.errors import ClaimferryError
from claimferry.postgres import PostgresConnection, redacted

Connection = sqlite3.Connection | PostgresConnection
"""A state database connection of either engine."""

BUSY_TIMEOUT = 30.0
WRITER_LOCK = 0x636C_6169_6D66
"""The advisory lock PostgreSQL writers queue on, as SQLite's serialise on the file."""


class DatabaseError(ClaimferryError):
    """A state file cannot be opened, or was written by a newer claimferry."""

    code = "database"


DATABASE_ENV = "CLAIMFERRY_DATABASE"
"""Names the state database, over the config's ``database`` (as CLAIMFERRY_STATE_DIR
names the state directory)."""


def state_database(configured: str | None = None) -> str | None:
    """The state database a run uses: ``CLAIMFERRY_DATABASE``, else the config's
    ``database``; ``None`` for the default, SQLite files in the state directory."""
    return os.environ.get(DATABASE_ENV) or configured or None


def state_server(configured: str | None = None) -> str | None:
    """The PostgreSQL database a run's state lives in (see ``state_database``), or
    ``None`` when it is SQLite files: where a plugin keeps tables of its own."""
    location = state_database(configured)
    return location if location is not None and is_database_url(location) else None


def is_database_url(location: str) -> bool:
    """Whether a configured ``database`` names a server rather than a file."""
    return location.startswith(("postgresql://", "postgres://"))


def connect_database(location: str | Path) -> Connection:
    """A ``postgresql://`` URL or a SQLite file path (``sqlite:///path`` too)."""
    text = str(location)
    if is_database_url(text):
        return PostgresConnection(text)
    return open_database(Path(text.removeprefix("sqlite://")))


def redacted_location(location: str | Path) -> str:
    """A database as messages name it: a SQLite file's full path, a server's URL
    without its password."""
    text = str(location)
    if is_database_url(text):
        return redacted(text)
    return str(Path(text.removeprefix("sqlite://")).resolve())


CACHE_KIB = 32 * 1024
"""Each SQLite connection's page cache, at most (taken only as pages are read). SQLite's
2 MiB default is smaller than one large ERA's claims and their indexes: applying it then
reads the same pages from the file again and again (a tenth of the apply's CPU)."""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a state database, readable by its owner only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"{path}: cannot open ({_cause(exc)})") from None
    try:
        db.row_factory = sqlite3.Row
        _use_wal(db)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        path.chmod(0o600)
    except (OSError, sqlite3.Error) as exc:
        db.close()
        raise DatabaseError(f"{path}: cannot open ({_cause(exc)})") from None
    return db


def _cause(exc: BaseException) -> str:
    """An OS or SQLite error in its own words, without Python's decoration."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def database_path(db: Connection) -> str:
    """The file a connection has open (or its server, without a password), for messages."""
    if not isinstance(db, sqlite3.Connection):
        return redacted(db.url)
    try:
        return str(db.execute("PRAGMA database_list").fetchone()[2]) or "(memory)"
    except sqlite3.Error:
        return "(state database)"


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


IN_LIMIT = 500
"""Values per ``IN (...)`` list: well under SQLite's limit on bound parameters."""


def select_in(
    db: Connection, sql: str, values: Iterable[Any], *before: Any
) -> Iterator[sqlite3.Row]:
    """The rows of ``sql`` for every value, a chunk at a time: ``sql`` has one
    ``{marks}`` where the ``IN`` list goes, after the ``before`` parameters."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), IN_LIMIT):
        chunk = unique[start : start + IN_LIMIT]
        yield from db.execute(sql.format(marks=",".join("?" * len(chunk))), (*before, *chunk))


def inserted_id(db: Connection, sql: str, parameters: Sequence[Any]) -> int | None:
    """Run one ``INSERT`` and give the id its row drew; ``None`` when it inserted
    nothing (``ON CONFLICT DO NOTHING``). SQLite has it at hand (``lastrowid``);
    PostgreSQL returns it from the statement itself rather than in a second round
    trip (``lastval()``)."""
    if isinstance(db, sqlite3.Connection):
        cursor = db.execute(sql, parameters)
        return cursor.lastrowid if cursor.rowcount > 0 else None
    row = db.execute(f"{sql} RETURNING id", parameters).fetchone()
    return int(row[0]) if row is not None else None


def stream_rows(db: Connection, sql: str, rows_at_a_time: int) -> Iterator[Any]:
    """A large result's rows without holding them all at once (a table copied whole,
    files kept in the database): SQLite's cursor already reads as it goes; on
    PostgreSQL a server-side cursor sends ``rows_at_a_time`` per round trip."""
    if isinstance(db, sqlite3.Connection):
        return iter(db.execute(sql))
    return db.stream(sql, rows_at_a_time)


VARIABLES_LIMIT = 999
"""Bound parameters one statement may take on any SQLite (3.32 and later take more)."""


def insert_rows(db: Connection, insert: str, values: str, rows: Sequence[Sequence[Any]]) -> None:
    """``executemany`` of ``{insert} VALUES {values}``, but with as many rows per
    statement as ``VARIABLES_LIMIT`` allows: SQLite then runs one statement per
    few dozen rows instead of one per row, a fifth less CPU for an ERA's
    thousands of claims and lines (and on PostgreSQL fewer round trips).
    ``values`` is one row's ``(?, ...)``, taking the row's items in order."""
    per_statement = max(1, VARIABLES_LIMIT // values.count("?"))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        db.execute(
            f"{insert} VALUES {','.join([values] * len(chunk))}",
            [value for row in chunk for value in row],
        )


@contextmanager
def write_transaction(db: Connection, *, shared: bool = False) -> Iterator[Connection]:
    """An IMMEDIATE transaction: writers queue instead of failing mid-way.

    On PostgreSQL every writer takes one advisory lock first, so writers run
    one after another there too: the ledger's rules (control numbers, "read
    once", the next free id) were written for SQLite's single writer.
    ``shared`` writers take that lock shared: they run beside each other and
    only exclude the others. That is for writes a sender lock already keeps
    to one run (every row they read or change is that sender's), and for
    single statements that settle their own races (an upsert of one row).
    SQLite has one writer at a time either way.

    Inside another one it joins it: the outer transaction commits or rolls
    back everything, so a caller can make several steps one (a response
    file's claim updates and its "read" mark, say).
    """
    if db.in_transaction:
        yield db
        return
    try:
        if isinstance(db, sqlite3.Connection):
            db.execute("BEGIN IMMEDIATE")
        else:
            take = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            db.execute(f"BEGIN; SELECT {take}(?)", (WRITER_LOCK,))  # one round trip
        try:
            yield db
        except BaseException:
            _roll_back(db)
            raise
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        # A read-only file or folder, a full disk, a damaged schema: say which file and why.
        _roll_back(db)
        raise DatabaseError(f"{database_path(db)}: cannot write ({exc})") from None


def _roll_back(db: Connection) -> None:
    with suppress(sqlite3.Error):  # a failed write may have ended the transaction already
        if db.in_transaction:
            db.execute("ROLLBACK")


def migrate_schema(
    db: Connection,
    migrations: Sequence[str],
    source: str,
    name: str = "ledger",
    *,
    version: int | None = None,
) -> None:
    """Bring the schema up to ``len(migrations)``, one script per version.

    The version is read inside the write transaction, so when several
    processes open a new file at once, one migrates and the others find it
    done. SQLite keeps it in the file's ``user_version``; PostgreSQL, where
    several schemas share one database, in ``schema_versions`` under ``name``.
    ``version``: the one the caller has just read (each read is two round trips
    to a server, and a worker opens the ledger for every job).
    """
    if version is None:
        version = schema_version(db, name)
    if version == len(migrations):
        return  # the usual case, settled without taking the writers' lock
    with write_transaction(db):
        version = schema_version(db, name)
        if version > len(migrations):
            raise DatabaseError(
                f"{source}: written by a newer claimferry (schema {version}); upgrade"
            )
        if not isinstance(db, sqlite3.Connection):
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions "
                "(name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            if isinstance(db, sqlite3.Connection):
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            else:
                if script.strip():
                    db.executescript(script)
                db.execute(
                    "INSERT INTO schema_versions (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (name, number),
                )


def schema_version(db: Connection, name: str = "ledger") -> int:
    """The schema version a database is at (0: new)."""
    if isinstance(db, sqlite3.Connection):
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    if db.execute("SELECT to_regclass('schema_versions')").fetchone()[0] is None:
        return 0
    row = db.execute("SELECT version FROM schema_versions WHERE name = ?", (name,)).fetchone()
    return 0 if row is None else int(row[0])


def next_ids(db: Connection, table: str, count: int) -> list[int]:
    """Ids for ``count`` rows of ``table`` inserted together in the current write
    transaction: the rows go in by ``executemany`` and their ids are known before.
    On PostgreSQL they come from the table's identity sequence, so rows inserted
    later without an id never collide with them."""
    if count <= 0:
        return []
    if isinstance(db, sqlite3.Connection):
        # the writer holds the file: nobody else can take ids until it commits
        first = int(db.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])  # noqa: S608 (a table name)
        return list(range(first, first + count))
    rows = db.execute(
        "SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)",
        (table, count),
    )
    return [int(row[0]) for row in rows]


def table_names(db: Connection) -> set[str]:
    """The tables a database holds, to tell a damaged one."""
    if isinstance(db, sqlite3.Connection):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        # the catalog itself: information_schema's views cost a worker's every job
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {str(row[0]) for row in db.execute(sql)}


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


# -- record locks ------------------------------------------------------------------

_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", None)
_FLOCK = "hhqqi4x"
"""Linux's ``struct flock``: type, whence, start, length, pid (0 for OFD locks)."""


@dataclass
class _LockFile:
    """The one descriptor this process locks a file's bytes through."""

    fd: int
    held: dict[int, threading.Lock] = field(default_factory=dict)


_lock_files: dict[tuple[int, int], _LockFile] = {}
_lock_files_guard = threading.Lock()


class RecordLocks:
    """Exclusive locks on single bytes of a file, across processes and machines.

    They are open-file-description locks (``F_OFD_SETLK``): the operating
    system frees them when the holder dies, and, unlike classic POSIX locks,
    SQLite closing its own descriptors of the same file does not drop them.
    Every ``RecordLocks`` of one file in a process shares one descriptor,
    kept open for the life of the process: closing any descriptor of a file
    drops the process's POSIX locks on it, SQLite's included, and a connection
    another thread is opening at that moment may not be counted yet. A thread lock per
    byte keeps threads of one process apart, since one description never
    conflicts with itself. Where the platform has no OFD locks, classic POSIX
    locks (``lockf``) are used, and these hold only while no other connection
    to the file is closed in the process.
    """

    def __init__(self, path: Path) -> None:
        info = path.stat()
        key = (info.st_dev, info.st_ino)
        with _lock_files_guard:
            entry = _lock_files.get(key)
            if entry is not None and os.fstat(entry.fd).st_nlink == 0:
                # the file it was opened on is deleted, and a new one got its inode
                os.close(entry.fd)
                entry = None
            if entry is None:
                entry = _LockFile(os.open(path, os.O_RDWR | os.O_CLOEXEC))
                _lock_files[key] = entry
        self._entry = entry
        self._mine: set[int] = set()

    def try_lock(self, offset: int) -> bool:
        """Take the byte at ``offset`` if free; ``False`` when another holds it."""
        with _lock_files_guard:
            thread_lock = self._entry.held.setdefault(offset, threading.Lock())
        if not thread_lock.acquire(blocking=False):
            return False
        try:
            if _set_lock(self._entry.fd, offset, fcntl.F_WRLCK):
                self._mine.add(offset)
                return True
        except BaseException:
            thread_lock.release()
            raise
        thread_lock.release()
        return False

    def unlock(self, offset: int) -> None:
        if offset in self._mine:
            _set_lock(self._entry.fd, offset, fcntl.F_UNLCK)
            self._mine.discard(offset)
            self._entry.held[offset].release()

    def close(self) -> None:
        """Free every byte held (the shared descriptor stays open: see the class)."""
        for offset in list(self._mine):
            self.unlock(offset)


def _set_lock(fd: int, offset: int, kind: int) -> bool:
    if _OFD_SETLK is None:
        operation = fcntl.LOCK_UN if kind == fcntl.F_UNLCK else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.lockf(fd, operation, 1, offset, os.SEEK_SET)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        return True
    request = struct.pack(_FLOCK, kind, os.SEEK_SET, offset, 1, 0)
    try:
        fcntl.fcntl(fd, _OFD_SETLK, request)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True
