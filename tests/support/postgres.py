"""A real PostgreSQL server for the tests, and a fresh database on it for each test.

Fixtures (registered in tests/conftest.py):

``postgres_server`` (session)
    The server, as a :class:`PostgresServer` whose ``url`` is a superuser's. It is
    the server named by ``CLAIMFERRY_TEST_POSTGRES`` (a ``postgresql://`` URL of a
    superuser) when that is set; otherwise a throwaway cluster that this module
    starts once per test session from the ``initdb`` and ``pg_ctl`` on the PATH or
    in /usr/lib/postgresql/*/bin: a temporary directory, 127.0.0.1 on a free port,
    trust authentication from loopback only, no Unix socket, run as the
    ``postgres`` user when the tests run as root (PostgreSQL refuses root), and
    stopped and deleted when the session ends. Without either, the tests that
    use it are skipped with the reason; when ``CI`` is set (``true`` or ``1``)
    they fail with it instead, so CI never passes by skipping them.

``postgres_url`` (function)
    A ``postgresql://`` URL of a new, uniquely named, empty database on that
    server, dropped (``WITH (FORCE)``, so a test's leftover connections do not
    keep it) after the test.

``database_url`` (function, parametrised ``sqlite`` / ``postgresql``)
    Runs a test once on each backend: ``sqlite:///<tmp_path>/ledger.sqlite3``
    (``sqlite://`` then the absolute path), or ``postgres_url``. Ask for it
    instead of a path to make a ledger test a both-backends test::

        def test_records_a_batch(database_url: str) -> None:
            ledger = open_ledger(database_url)
            ...

    The test ids end in ``[sqlite]`` and ``[postgresql]``, so ``-k postgresql``
    selects the PostgreSQL half.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

SERVER_VARIABLE = "CLAIMFERRY_TEST_POSTGRES"
NOT_FOUND = "PostgreSQL not found: set CLAIMFERRY_TEST_POSTGRES or install postgresql"
BIN_DIRS = "/usr/lib/postgresql/*/bin"
"""Where Debian and Ubuntu keep each installed version's server programs (not on the PATH)."""
SUPERUSER = "postgres"
CLUSTER_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
"""
"""A server for tests only: loopback TCP only, and no waiting on the disk."""
DURABLE_SETTINGS = """
fsync = on
synchronous_commit = on
full_page_writes = on
"""
"""Put back what a production server does for every commit (the later line wins):
for benchmarks, which must not compare a ledger that fsyncs against one that does not."""
LOOPBACK_TRUST = "host all all 127.0.0.1/32 trust\n"
PORT_ATTEMPTS = 5


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be had for the tests; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create and drop databases on, as its superuser."""

    url: str

    def database_url(self, name: str) -> str:
        """The superuser's URL for the database ``name`` on this server."""
        return urlunsplit(urlsplit(self.url)._replace(path="/" + name))

    def create_database(self, name: str) -> str:
        """Create the empty database ``name`` and return its URL."""
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any sessions still connected to it."""
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def in_ci() -> bool:
    """Whether these tests run in CI, where a missing server is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def where(url: str) -> str:
    """A server's URL as host:port/database, without the user's password, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def server_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: the PATH's, else the newest installed."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    versions = [d for d in Path("/").glob(BIN_DIRS.lstrip("/")) if (d / "initdb").is_file()]
    if not versions:
        return None
    return max(versions, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def throwaway_cluster(bindir: Path, *, durable: bool = False) -> Iterator[str]:
    """Start a new cluster in a temporary directory; yield its superuser URL; stop and delete it.

    ``durable``: commits wait for the disk, as on a production server."""
    as_postgres: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                "running as root, and there is no 'postgres' user to run PostgreSQL as"
            ) from None
        as_postgres = ["runuser", "-u", SUPERUSER, "--"]
    home = Path(tempfile.mkdtemp(prefix="claimferry-pg-"))
    if owner is not None:
        os.chown(home, owner.pw_uid, owner.pw_gid)
    data, log = home / "data", home / "server.log"

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_postgres, *command],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    started = False
    try:
        init = run(
            str(bindir / "initdb"),
            f"--pgdata={data}",
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--no-locale",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(init.stderr or init.stdout).strip()}")
        # PostgreSQL owns these files; root writes them without changing their owner.
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(CLUSTER_SETTINGS + (DURABLE_SETTINGS if durable else ""))
        (data / "pg_hba.conf").write_text(LOOPBACK_TRUST, encoding="utf-8")
        for _ in range(PORT_ATTEMPTS):
            port = _free_port()
            start = run(
                str(bindir / "pg_ctl"), "start", "-w", "-t", "60",
                f"--pgdata={data}", f"--log={log}", f"--options=-p {port}",
            )  # fmt: skip
            if start.returncode == 0:
                started = True
                break
            server_log = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            if "could not bind" not in server_log:  # anything but a port taken meanwhile
                raise PostgresUnavailable(
                    f"pg_ctl start failed: {start.stderr.strip()}\n{server_log[-2000:]}"
                )
        if not started:
            raise PostgresUnavailable(f"no free port for PostgreSQL in {PORT_ATTEMPTS} tries")
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "stop", "-w", "-m", "immediate", f"--pgdata={data}")
        shutil.rmtree(home)


@contextmanager
def server_url() -> Iterator[str]:
    """A superuser URL of the server the tests use, as the module docstring tells."""
    given = os.environ.get(SERVER_VARIABLE, "").strip()
    if given:
        if urlsplit(given).scheme not in {"postgresql", "postgres"}:
            raise PostgresUnavailable(f"{SERVER_VARIABLE} must be a postgresql:// URL")
        try:
            psycopg.connect(given, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise PostgresUnavailable(
                f"{SERVER_VARIABLE} ({where(given)}): cannot connect: {exc}"
            ) from None
        yield given
        return
    bindir = server_bindir()
    if bindir is None:
        raise PostgresUnavailable(NOT_FOUND)
    with throwaway_cluster(bindir) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server; skipped (failed in CI) when there is none."""
    try:
        with server_url() as url:
            yield PostgresServer(url)
    except PostgresUnavailable as exc:
        # A server named by the variable but not answering is a mistake to fix, never a skip.
        if in_ci() or os.environ.get(SERVER_VARIABLE, "").strip():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for this test alone, dropped after it."""
    label = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"cf_{label}_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on each backend: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'ledger.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# -- the whole suite on PostgreSQL -------------------------------------------------------

DATABASE_OPTION = "--database"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        DATABASE_OPTION,
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="Where every test's ledger lives: SQLite files (the default) or, with "
        "postgresql, a fresh database per test on the test server (CLAIMFERRY_DATABASE).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(why): about the SQLite file itself; skipped with --database=postgresql",
    )


def on_postgresql(config: pytest.Config) -> bool:
    return bool(config.getoption(DATABASE_OPTION) == "postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not on_postgresql(config):
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            why = marker.args[0] if marker.args else "about the SQLite file itself"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {why}"))


@pytest.fixture(scope="session")
def _suite_database(postgres_server: PostgresServer) -> Iterator[str]:
    """One database for a ``--database=postgresql`` run; each test gets a schema in it."""
    name = f"cf_suite_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(autouse=True)
def _ledger_database(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """With ``--database=postgresql``, every ledger a test opens (in this process or in a
    command it starts) is in a fresh PostgreSQL schema of its own: the test's own
    empty database, as far as claimferry can tell, made in a millisecond rather
    than the tenth of a second a new database takes."""
    monkeypatch.delenv("CLAIMFERRY_DATABASE", raising=False)  # never the developer's own
    if not on_postgresql(request.config) or "database_url" in request.fixturenames:
        yield
        return
    suite: str = request.getfixturevalue("_suite_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(suite, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    parts = urlsplit(suite)
    options = f"options=-csearch_path%3D{schema}"
    monkeypatch.setenv("CLAIMFERRY_DATABASE", urlunsplit(parts._replace(query=options)))
    try:
        yield
    finally:
        with psycopg.connect(suite, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
