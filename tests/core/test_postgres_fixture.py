"""The PostgreSQL fixtures of tests/support/postgres.py: a real server, a fresh
database per test that is gone after it, a throwaway cluster that leaves nothing
behind, and a missing server that skips locally but fails in CI."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from support.postgres import (
    NOT_FOUND,
    SERVER_VARIABLE,
    PostgresServer,
    in_ci,
    server_bindir,
    throwaway_cluster,
)

TESTS = Path(__file__).resolve().parents[1]

NO_BINARIES = """
import support.postgres

support.postgres.BIN_DIRS = "/nonexistent/postgresql/*/bin"
"""
"""An inner conftest line that hides the installed PostgreSQL from the fixtures."""


def run_inner_pytest(
    tmp_path: Path, test_source: str, variables: dict[str, str], *, hide_binaries: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``test_source`` in its own pytest with the fixtures registered, in ``variables``
    (on top of a PATH without PostgreSQL, and neither CI nor the server variable set)."""
    project = tmp_path / "inner"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    conftest = 'pytest_plugins = ["support.postgres"]\n'
    (project / "conftest.py").write_text(
        (NO_BINARIES if hide_binaries else "") + conftest, encoding="utf-8"
    )
    (project / "test_inner.py").write_text(textwrap.dedent(test_source), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"CI", SERVER_VARIABLE}}
    env |= {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", str(project)],
        cwd=project,
        env=env | variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def database_names(server: PostgresServer) -> set[str]:
    with psycopg.connect(server.url) as admin:
        return {row[0] for row in admin.execute("SELECT datname FROM pg_database")}


def test_the_server_answers_in_the_test_s_own_database(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")
    with psycopg.connect(postgres_url) as db:
        row = db.execute("SELECT version(), current_database()").fetchone()
        tables = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert row is not None
    version, database = row
    assert version.startswith("PostgreSQL ")
    assert postgres_url.endswith("/" + database)
    assert tables == (0,)


def test_database_url_is_a_sqlite_file_or_a_postgres_database(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite://"):
        assert Path(database_url.removeprefix("sqlite://")) == tmp_path / "ledger.sqlite3"
    else:
        with psycopg.connect(database_url) as db:
            assert db.execute("SELECT 1").fetchone() == (1,)


def test_each_test_has_its_own_database_gone_after_it(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """Two tests run by the server named in the variable (no binaries to start another):
    each sees an empty database of its own, and neither database outlives its test."""
    seen = tmp_path / "seen"
    seen.mkdir()
    result = run_inner_pytest(
        tmp_path,
        f"""
        import psycopg
        from pathlib import Path

        def record(url, test):
            with psycopg.connect(url) as db:
                tables = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                assert tables.fetchone() == (0,)
                db.execute("CREATE TABLE claims (id int)")
                name = db.execute("SELECT current_database()").fetchone()[0]
            (Path({str(seen)!r}) / test).write_text(name)

        def test_one(postgres_url):
            record(postgres_url, "one")

        def test_two(postgres_url):
            record(postgres_url, "two")
        """,
        {SERVER_VARIABLE: postgres_server.url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    one, two = ((seen / test).read_text() for test in ("one", "two"))
    assert one != two
    assert not {one, two} & database_names(postgres_server)


def test_without_a_server_the_tests_skip_with_the_reason(tmp_path: Path) -> None:
    result = run_inner_pytest(tmp_path, "def test_needs_it(postgres_url):\n    pass\n", {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert NOT_FOUND in result.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_server_fails_instead_of_skipping(tmp_path: Path, ci: str) -> None:
    result = run_inner_pytest(tmp_path, "def test_needs_it(postgres_url):\n    pass\n", {"CI": ci})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "skipped" not in result.stdout
    assert NOT_FOUND in result.stdout


def test_a_named_server_that_does_not_answer_fails_without_its_password(tmp_path: Path) -> None:
    result = run_inner_pytest(
        tmp_path,
        "def test_needs_it(postgres_url):\n    pass\n",
        {SERVER_VARIABLE: "postgresql://tester:S3cretPass@127.0.0.1:1/claims"},
        hide_binaries=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{SERVER_VARIABLE} (127.0.0.1:1/claims): cannot connect" in result.stdout
    assert "S3cretPass" not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_throwaway_cluster_listens_on_loopback_only_and_leaves_nothing(tmp_path: Path) -> None:
    bindir = server_bindir()
    if bindir is None:
        if in_ci():
            pytest.fail(NOT_FOUND, pytrace=False)
        pytest.skip(NOT_FOUND)
    with throwaway_cluster(bindir) as url, psycopg.connect(url) as db:
        settings = db.execute(
            "SELECT current_setting('listen_addresses'),"
            " current_setting('unix_socket_directories'),"
            " current_setting('data_directory'), current_user"
        ).fetchone()
        rules = db.execute("SELECT type, address, auth_method FROM pg_hba_file_rules").fetchall()
        assert settings is not None
        listen, sockets, data, superuser = settings
        owner = Path(data).stat().st_uid
    assert (listen, sockets, superuser) == ("127.0.0.1", "", "postgres")
    assert rules == [("host", "127.0.0.1", "trust")]
    assert owner == (pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid())
    assert not Path(data).parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)


@pytest.mark.slow
@pytest.mark.parametrize(("durable", "expected"), [(False, "off"), (True, "on")])
def test_a_throwaway_cluster_waits_for_the_disk_only_when_asked(
    durable: bool, expected: str
) -> None:
    """The tests' server skips the disk; the benchmarks' (``durable``) must not."""
    bindir = server_bindir()
    if bindir is None:
        if in_ci():
            pytest.fail(NOT_FOUND, pytrace=False)
        pytest.skip(NOT_FOUND)
    with throwaway_cluster(bindir, durable=durable) as url, psycopg.connect(url) as db:
        found = db.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
            " current_setting('full_page_writes')"
        ).fetchone()
    assert found == (expected, expected, expected)
