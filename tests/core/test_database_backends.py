"""The ledger's two engines: the config's ``database``, ``db status|upgrade|copy``, and
the SQL that both must read the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.config import load_config
from claimferry.database import connect_database, migrate_schema
from claimferry.errors import ConfigError
from claimferry.ledger import LEDGER_FILE, LEDGER_TABLES, Ledger, ledger_migrations
from claimferry.manager import PluginManager
from claimferry.postgres import has_schema, redacted, translate

CLAIMFERRY = str(Path(sys.executable).with_name("claimferry"))


def test_placeholders_are_translated_for_psycopg_and_literals_kept() -> None:
    sql, order = translate("SELECT ? FROM t WHERE a LIKE '50%?' AND b = ? AND c = '12:30'")
    assert sql == "SELECT %s FROM t WHERE a LIKE '50%%?' AND b = %s AND c = '12:30'"
    assert order is None
    sql, order = translate("VALUES (?1, (SELECT x WHERE y = ?2), ?2, 100 % 7)")
    assert sql == "VALUES (%s, (SELECT x WHERE y = %s), %s, 100 %% 7)"
    assert order == (0, 1, 1)  # ?2 twice: its value bound twice
    sql, _ = translate("SELECT * FROM e WHERE (:account IS NULL OR account = :account)")
    assert sql == "SELECT * FROM e WHERE (%(account)s IS NULL OR account = %(account)s)"


def test_a_password_never_shows_in_messages() -> None:
    assert redacted("postgresql://billing:s3cret@db:5432/ledger") == (
        "postgresql://billing:***@db:5432/ledger"
    )
    assert redacted("postgresql://billing@db/ledger") == "postgresql://billing@db/ledger"


def _config(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "accounts.yaml"
    account = {"clearinghouse": "officeally", "submitter_id": "SUNRISE01", "mode": "test"}
    path.write_text(yaml.safe_dump({"database": database, "accounts": {"sunrise": account}}))
    return path


@pytest.mark.parametrize(
    ("database", "why"),
    [
        ("postgresql://billing:s3cret@db/ledger", "~/.pgpass or PGPASSWORD"),
        ("mysql://db/ledger", "expected sqlite:///PATH or postgresql://"),
        ("ledger.sqlite3", "expected sqlite:///PATH or postgresql://"),
    ],
)
def test_a_database_setting_is_checked(tmp_path: Path, database: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, database))
    message = str(caught.value)
    assert "database" in message and why in message
    assert "s3cret" not in message


def _demo(folder: Path) -> Path:
    """A ledger with a real history: the demo's submit, answers and 835s."""
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_DATABASE"}
    done = subprocess.run(
        [CLAIMFERRY, "demo", "--dir", str(folder)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return folder / "state"


def _status(state: Path, database: str | None) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_DATABASE"}
    env["CLAIMFERRY_STATE_DIR"] = str(state)
    if database:
        env["CLAIMFERRY_DATABASE"] = database
    done = subprocess.run(
        [CLAIMFERRY, "status", "--json"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    claims: list[dict[str, object]] = json.loads(done.stdout)["claims"]
    return claims


def _copy(source: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLAIMFERRY, "db", "copy", "--from", source, "--to", target, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_ledger_moves_to_postgresql_and_back_with_all_its_history(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _demo(tmp_path / "demo")
    before = _status(state, None)
    assert {c["state"] for c in before} == {"paid"}

    copied = _copy(f"sqlite://{state / LEDGER_FILE}", postgres_url)
    assert copied.returncode == 0, copied.stderr
    report = json.loads(copied.stdout)
    tables = {t["table"]: t for t in report["tables"]}
    assert report["ok"] and all(
        (t["rows"], t["checksum"]) == (t["target_rows"], t["target_checksum"])
        for t in tables.values()
    )
    assert tables["claims"]["rows"] == 4 and tables["audit"]["rows"] > 0
    assert tables["remit_lines"]["rows"] > 0 and tables["claim_events"]["rows"] > 4
    # the same claims, states and histories, read from PostgreSQL
    assert _status(state, postgres_url) == before

    # a new row on PostgreSQL takes an id past the copied ones
    monkeypatch.setenv("CLAIMFERRY_DATABASE", postgres_url)
    with Ledger.open(state) as ledger:
        row = ledger.unknown_claim("sunrise", "NEW-ONE")
        assert row > max(r.row for r in ledger.claims(account="sunrise") if r.claim_id != "NEW-ONE")

    # and back into a new SQLite file, proven the same way
    back = tmp_path / "back.sqlite3"
    returned = _copy(postgres_url, f"sqlite://{back}")
    assert returned.returncode == 0, returned.stderr
    assert json.loads(returned.stdout)["ok"]


def test_a_copy_never_overwrites(tmp_path: Path, postgres_url: str) -> None:
    state = _demo(tmp_path / "demo")
    source = f"sqlite://{state / LEDGER_FILE}"
    assert _copy(source, postgres_url).returncode == 0
    again = _copy(source, postgres_url)
    assert again.returncode == 1
    error = json.loads(again.stdout)["error"]
    assert "already holds ledger rows" in error["message"]
    same = _copy(source, str(state / LEDGER_FILE))
    assert same.returncode == 1 and "the same database" in same.stderr


def test_db_status_creates_nothing_and_upgrade_creates_the_schema(
    plugin_manager: PluginManager, tmp_path: Path, database_url: str
) -> None:
    config = _config(tmp_path, database_url)
    cli = create_cli(plugin_manager)
    runner = CliRunner()
    args = ["--config", str(config), "db"]
    status = runner.invoke(cli, [*args, "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["exists"] is False
    upgraded = runner.invoke(cli, [*args, "upgrade", "--json"])
    assert upgraded.exit_code == 0, upgraded.output
    engine = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert json.loads(upgraded.stdout) == {
        "ok": True,
        "database": json.loads(status.stdout)["database"],
        "from": 0,
        "to": json.loads(upgraded.stdout)["to"],
        "queue": "created" if engine == "postgresql" else None,  # the task queue's tables
    }
    now = json.loads(runner.invoke(cli, [*args, "status", "--json"]).stdout)
    assert now["exists"] and now["version"] == now["latest"] and not now["upgrade_due"]
    assert now["engine"] == engine


def test_the_demo_never_writes_into_a_database_the_environment_names(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_DATABASE"}
    env["CLAIMFERRY_DATABASE"] = postgres_url
    done = subprocess.run(
        [CLAIMFERRY, "demo", "--dir", str(tmp_path / "demo")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not has_schema(postgres_url, "ledger")
    assert (tmp_path / "demo" / "state" / LEDGER_FILE).is_file()
    assert "look again with: CLAIMFERRY_DATABASE= claimferry --config " in done.stdout


def test_an_empty_database_next_to_an_archive_of_sent_files_is_refused(
    tmp_path: Path, postgres_url: str
) -> None:
    """A config pointed at the wrong (empty) database would send claims again."""
    state = _demo(tmp_path / "demo")
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_DATABASE"}
    env |= {"CLAIMFERRY_STATE_DIR": str(state), "CLAIMFERRY_DATABASE": postgres_url}
    done = subprocess.run(
        [CLAIMFERRY, "status"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "holds no ledger, but the archive" in done.stderr and "db copy" in done.stderr
    assert not has_schema(postgres_url, "ledger")  # nothing created there


def test_both_engines_build_the_same_tables_and_columns(tmp_path: Path, postgres_url: str) -> None:
    """The PostgreSQL baseline repeats what SQLite's migrations build: nothing may drift."""
    from claimferry.ledger_copy import table_columns

    shapes = []
    for location in (str(tmp_path / LEDGER_FILE), postgres_url):
        db = connect_database(location)
        try:
            migrate_schema(db, ledger_migrations(db), location)
            shapes.append({t: sorted(table_columns(db, t)) for t in LEDGER_TABLES})
        finally:
            db.close()
    assert shapes[0] == shapes[1]


WITHOUT_EXTRA = (
    "import sys; sys.modules['psycopg'] = None; sys.modules['procrastinate'] = None; "
    "from claimferry.cli import main; main()"
)
"""The console script as it runs where the postgresql extra is not installed."""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["db", "status", "--database", "postgresql://billing@127.0.0.1:1/ledger"], "driver"),
        (["queue", "status"], "task queue needs the postgresql extra"),
    ],
)
def test_without_the_postgresql_extra_the_error_says_what_to_install(
    tmp_path: Path, args: list[str], says: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFERRY_DATABASE"}
    env |= {
        "CLAIMFERRY_DATABASE": "postgresql://billing@127.0.0.1:1/ledger",
        "CLAIMFERRY_CONFIG": str(_config(tmp_path, "sqlite:///ledger.sqlite3")),
    }
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, *args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert says in done.stderr and "pip install 'claimferry[postgresql]'" in done.stderr
    assert "Traceback" not in done.stderr
