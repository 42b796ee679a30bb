"""Writers on PostgreSQL: different senders' runs write side by side, every other write
runs alone, and a worker's pooled connection comes back as a new one would be."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from claimferry.ledger import Ledger
from claimferry.postgres import PostgresConnection, pooled_connections

WAIT = 10.0
"""Seconds a write that must not block gets; one that must block is watched for 1 s."""


def _in_thread(write: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_senders_write_side_by_side_and_other_writes_wait(
    tmp_path: Path, postgres_url: str
) -> None:
    state = tmp_path / "state"
    opened = [Ledger.open(state, database=postgres_url) for _ in range(3)]
    first, second, third = opened
    try:
        first.ensure_account("sunrise", "officeally", "SUNRISE01")
        first.ensure_account("harbor", "officeally", "HARBOR01")
        with first.sender_lock("sunrise", command="fetch"):
            transaction = first.transaction()
            transaction.__enter__()  # sunrise's write, left open
            first.audit("fetch", account="sunrise", file_name="a.999")

            def other_sender() -> None:
                with second.sender_lock("harbor", command="fetch"):
                    second.audit("fetch", account="harbor", file_name="b.999")

            beside = _in_thread(other_sender)
            beside.join(WAIT)
            assert not beside.is_alive(), "another sender's write waited for sunrise's"

            alone = _in_thread(lambda: third.audit("credentials-set", account="sunrise"))
            alone.join(1.0)
            assert alone.is_alive(), "a write outside any sender lock ran beside sunrise's"
            transaction.__exit__(None, None, None)  # commit
            alone.join(WAIT)
            assert not alone.is_alive()
        actions = [(e.account, e.action) for e in first.audit_entries()]
        assert ("sunrise", "fetch") in actions and ("harbor", "fetch") in actions
        assert actions[-1] == ("sunrise", "credentials-set")
    finally:
        for ledger in opened:
            ledger.close()


def test_a_pooled_connection_comes_back_as_a_new_one(postgres_url: str) -> None:
    with pooled_connections(postgres_url, 1):
        borrowed = PostgresConnection(postgres_url)
        backend = borrowed.execute("SELECT pg_backend_pid()").fetchone()[0]
        borrowed.execute("SELECT pg_advisory_lock(4242)")
        borrowed.execute("BEGIN")
        borrowed.execute("CREATE TABLE left_open (id integer)")
        borrowed.close()

        again = PostgresConnection(postgres_url)
        try:
            assert again.execute("SELECT pg_backend_pid()").fetchone()[0] == backend  # reused
            assert not again.in_transaction
            assert again.execute("SELECT to_regclass('left_open')").fetchone()[0] is None
        finally:
            again.close()
    outside = PostgresConnection(postgres_url)  # no pool now: a connection of its own
    try:
        assert outside.execute("SELECT pg_try_advisory_lock(4242)").fetchone()[0] is True
    finally:
        outside.close()


def test_a_pooled_connection_the_server_ended_is_replaced(postgres_url: str) -> None:
    """After a server restart or failover, a worker's next job gets a live connection."""
    import psycopg

    with pooled_connections(postgres_url, 1):
        borrowed = PostgresConnection(postgres_url)
        backend = borrowed.execute("SELECT pg_backend_pid()").fetchone()[0]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        with pytest.raises(sqlite3.Error):
            borrowed.execute("SELECT 1")
        borrowed.close()
        borrowed.close()  # twice is harmless
        again = PostgresConnection(postgres_url)
        try:
            assert again.execute("SELECT pg_backend_pid()").fetchone()[0] != backend
        finally:
            again.close()
