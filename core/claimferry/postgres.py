"""The state database on PostgreSQL, spoken to as the ledger speaks to SQLite.

The ledger, enrollment, credential store and alerts write plain SQL that both
engines accept. What differs is handled here, in one place:

- placeholders: ``?``, ``?NNN`` and ``:name`` become psycopg's ``%s`` and
  ``%(name)s`` (and ``%`` is escaped). Values are bound on the server, so each
  statement is parsed once and, from its fifth run on a connection, planned once
  (prepared): a job runs a hundred of them. The SQL must therefore give the server a
  parameter's type where nothing else does (``CAST(? AS TEXT) IS NULL``, not
  ``? IS NULL``). Several statements with parameters in one text (``BEGIN; SELECT
  ...``) are bound on the client, the one way to send them in one round trip;
- the id an ``INSERT`` drew: ``database.inserted_id`` asks for it in the statement
  (``RETURNING id``), as this has no ``lastrowid``;
- errors: psycopg's become the DB-API classes the callers already catch,
  as the ``sqlite3`` module names them (``IntegrityError``, ``OperationalError``);
- rows: by position and by column name, as ``sqlite3.Row`` gives them;
- connections: a one-shot command opens its own; a worker, which opens the
  ledger for every job, borrows them from a pool (``pooled_connections``), so
  neither side pays a new server process and its cold caches per job.

psycopg is imported only when a ``postgresql://`` database is opened.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from claimferry.errors import ClaimferryError

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?(\d*)|(?<![:\w]):([A-Za-z_]\w*)|%")
"""A quoted literal (kept whole), a placeholder, or a percent sign to escape."""

Parameters = Sequence[Any] | Mapping[str, Any]

_TRANSLATED: dict[str, tuple[str, tuple[int, ...] | None]] = {}


def translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """``sql`` with psycopg's placeholders, and for ``?NNN`` the parameter each one takes.

    Statements are constants of the code, so each is translated once.
    """
    found = _TRANSLATED.get(sql)
    if found is not None:
        return found
    order: list[int] = []
    numbered = False

    def placeholder(match: re.Match[str]) -> str:
        nonlocal numbered
        text = match.group(0)
        if text == "%":
            return "%%"
        if text.startswith("'"):
            return text.replace("%", "%%")
        if match.group(2):
            return f"%({match.group(2)})s"
        if match.group(1):
            numbered = True
            order.append(int(match.group(1)) - 1)
        else:
            order.append(len(order))
        return "%s"

    result = (_PLACEHOLDER.sub(placeholder, sql), tuple(order) if numbered else None)
    _TRANSLATED[sql] = result
    return result


def _bound(order: tuple[int, ...] | None, parameters: Parameters) -> Parameters:
    if order is None or isinstance(parameters, Mapping):
        return parameters
    return [parameters[index] for index in order]


class Row(tuple[Any, ...]):
    """A row by position or by column name, like ``sqlite3.Row``. Each set of column
    names has its own subclass (``_row_factory``), which holds them."""

    __slots__ = ()
    _names: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                key = self._names[key]
            except KeyError:
                raise IndexError(f"no column {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    """The row class for a result's columns. psycopg asks for it after every statement:
    names are read from the result itself and the class made once per set of names
    (``cursor.description`` builds a column object of each, every time)."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple
    key = tuple(result.fname(index) for index in range(result.nfields))
    row_type = _ROW_TYPES.get(key)
    if row_type is None:
        names = {name.decode(): index for index, name in enumerate(key)}
        row_type = _ROW_TYPES[key] = type("Row", (Row,), {"__slots__": (), "_names": names})
    return row_type


_ROW_TYPES: dict[tuple[bytes, ...], type[Row]] = {}


def _as_dbapi(exc: Exception) -> sqlite3.Error:
    """psycopg's error as the DB-API class callers catch for either engine."""
    import psycopg

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(message)
    if isinstance(exc, psycopg.OperationalError):
        return sqlite3.OperationalError(message)
    return sqlite3.DatabaseError(message)


class CannotConnect(ClaimferryError):
    """The PostgreSQL server named for the state database does not answer or refuses us."""

    code = "database"


class Cursor:
    """The part of ``sqlite3.Cursor`` the state modules use."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class PostgresConnection:
    """A psycopg connection in autocommit mode: each statement outside
    ``BEGIN``/``COMMIT`` stands alone, as with ``sqlite3``'s ``isolation_level=None``."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise CannotConnect(
                f"the state database {redacted(url)} is PostgreSQL, and its driver is not "
                "installed: pip install 'claimferry[postgresql]'"
            ) from None

        self._pool = _POOLS.get(url)
        try:
            self._conn = (
                psycopg.connect(url, **_connection_settings())
                if self._pool is None
                else self._pool.getconn()
            )
        except psycopg.Error as exc:
            raise CannotConnect(
                f"cannot connect to the state database at {redacted(url)} ({_as_dbapi(exc)})"
            ) from None
        self._error = psycopg.Error
        self._client_cursor = psycopg.ClientCursor
        self._closed = False
        self._idle = psycopg.pq.TransactionStatus.IDLE
        self.url = url

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        query, order = translate(sql)
        # bound on the server (parsed once, planned once from the fifth run on this
        # connection), but several statements with parameters only go as one text
        cursor = self._client_cursor(self._conn) if ";" in query else self._conn.cursor()
        try:
            cursor.execute(query, _bound(order, parameters) if parameters else None)
        except self._error as exc:
            raise _as_dbapi(exc) from None
        return Cursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> Cursor:
        query, order = translate(sql)
        cursor = self._conn.cursor()
        try:
            cursor.executemany(query, [_bound(order, row) for row in rows])
        except self._error as exc:
            raise _as_dbapi(exc) from None
        return Cursor(cursor)

    def stream(self, sql: str, rows_at_a_time: int) -> Iterator[Any]:
        """A query's rows through a server-side cursor, ``rows_at_a_time`` per round
        trip: psycopg's default cursor would hold the whole result in memory. The
        cursor lives in a transaction (a savepoint inside the caller's)."""
        query, _ = translate(sql)
        try:
            with (
                self._conn.transaction(),
                self._conn.cursor(name=f"stream_{next(_STREAMS)}") as cursor,
            ):
                cursor.itersize = rows_at_a_time
                cursor.execute(query)
                yield from cursor
        except self._error as exc:
            raise _as_dbapi(exc) from None

    def executescript(self, script: str) -> None:
        """A migration: several statements, no parameters."""
        try:
            self._conn.execute(script.encode("utf-8"))
        except self._error as exc:
            raise _as_dbapi(exc) from None

    @property
    def in_transaction(self) -> bool:
        return bool(self._conn.info.transaction_status != self._idle)

    def close(self) -> None:
        """Closed, or given back to the pool as a new connection would be; once only,
        since a connection given back may be another thread's by then."""
        if self._closed:
            return
        self._closed = True
        if self._pool is None:
            self._conn.close()
            return
        try:
            if not self._conn.closed:
                if self.in_transaction:
                    self._conn.rollback()
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        except self._error:
            self._conn.close()
        self._pool.putconn(self._conn)  # a broken or closed one is dropped and replaced


_STREAMS = itertools.count()
"""Names for ``stream``'s server-side cursors, unique in this process."""

_POOLS: dict[str, Any] = {}
"""The pools of ``pooled_connections``, by database URL."""


def _connection_settings() -> dict[str, Any]:
    return {"autocommit": True, "row_factory": _row_factory}


@contextmanager
def pooled_connections(url: str, size: int) -> Iterator[None]:
    """While open, connections to ``url`` in this process are borrowed from a pool of
    up to ``size`` and given back on ``close``; for a long-running process (a worker)."""
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs=_connection_settings(),
        open=False,
        name="ledger",
        check=ConnectionPool.check_connection,  # none dead after a server restart
    )
    try:
        pool.open(wait=True)
    except Exception as exc:  # the pool's PoolTimeout hides the server's refusal
        pool.close()
        raise CannotConnect(f"cannot connect to the state database at {redacted(url)}") from exc
    _POOLS[url] = pool
    try:
        yield
    finally:
        del _POOLS[url]
        pool.close()


def redacted(url: str) -> str:
    """A database URL fit for messages and logs: no password."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


def has_schema(url: str, name: str) -> bool:
    """Whether the database at ``url`` holds the schema ``name`` (the ledger, a plugin's)."""
    connection = PostgresConnection(url)
    try:
        found = connection.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = 'schema_versions'"
        ).fetchone()
        if found is None:
            return False
        row = connection.execute(
            "SELECT version FROM schema_versions WHERE name = ?", (name,)
        ).fetchone()
        return row is not None and int(row[0]) > 0
    finally:
        connection.close()


class AdvisoryLocks:
    """Session advisory locks: what :class:`~claimferry.database.RecordLocks` are
    to a SQLite file, for every machine using the database. The server frees them
    when the holder's connection ends, however it ends."""

    def __init__(self, connection: PostgresConnection) -> None:
        self._connection = connection
        self._mine: set[int] = set()

    def try_lock(self, key: int) -> bool:
        taken = bool(
            self._connection.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]
        )
        if taken:
            self._mine.add(key)
        return taken

    def unlock(self, key: int) -> None:
        if key in self._mine:
            self._connection.execute("SELECT pg_advisory_unlock(?)", (key,))
            self._mine.discard(key)

    def close(self) -> None:
        for key in list(self._mine):
            self.unlock(key)
