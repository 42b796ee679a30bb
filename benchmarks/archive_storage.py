"""The archive in the database against the archive in the state directory
(``archive: database`` / ``directory``): one ``fetch --all`` cycle and one large
``submit``, on each engine, side by side in one run.

Starts one mock Office Ally on loopback with ``--accounts`` accounts, each with
``--files`` response files the harness wrote (999, 277CA, EDI_STATUS report, 835)
in its outbound folder. For SQLite and PostgreSQL, for each ``archive:``, with a
fresh state directory and a fresh ledger each time, it runs the console script:

    claimferry fetch --all --jobs J --json            # every account's files
    claimferry submit claims.yaml --account acct000   # --claims claims, one account

and prints the wall times and, per engine, the database archive's time over the
directory's. Every fetch must have read every file, and each submit must have sent
its claims, or the benchmark fails.

    .venv/bin/python benchmarks/archive_storage.py [--accounts 200] [--files 4]
        [--claims 5000] [--jobs 8] [--postgres postgresql://postgres@127.0.0.1/postgres]

The PostgreSQL server is found as ``benchmarks/fetch_fleet.py`` finds it. The
mock and the client share the machine's cores: read the ratios.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from build_837 import write_claims_file
from fetch_all import (
    account_names,
    fill_fleet,
    make_responses,
    set_credentials,
    write_config,
)
from fetch_fleet import (
    drop_database,
    fresh_database,
    postgres_server,
    read_files,
    run,
    script,
)

from claimferry.database import connect_database

ARCHIVES = ("directory", "database")
ENGINES = ("sqlite", "pg")
SENDERS = {
    run: f"send{number}" for number, run in enumerate((e, a) for e in ENGINES for a in ARCHIVES)
}
"""The mock accounts the submits go to, one sender per run; the fleet's accounts only fetch."""


def _config(base: Path, target: Path, database: str | None, archive: str) -> Path:
    data = yaml.safe_load(base.read_text())
    data["archive"] = archive
    if database:
        data["database"] = database
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    run(command, env)
    return time.perf_counter() - started


def _sent_claims(database: str | None, state: Path) -> int:
    """Claims in uploaded batches, in the run's ledger."""
    db = connect_database(database or state / "ledger.sqlite3")
    try:
        return int(
            db.execute(
                "SELECT COUNT(*) FROM claims JOIN batches ON batches.id = claims.batch_id "
                "WHERE batches.state = 'uploaded'"
            ).fetchone()[0]
        )
    finally:
        db.close()


def one_engine(
    bases: tuple[Path, Path], work: Path, server: str | None, claims: Path, args: argparse.Namespace
) -> dict[str, tuple[float, float]]:
    """Per ``archive:``, the fetch cycle's and the submit's wall seconds. The submit goes
    to an account of its own (``bases[1]``), so that its answers are not fetched."""
    engine = "pg" if server else "sqlite"
    times = {}
    for archive in ARCHIVES:
        database = fresh_database(server) if server else None
        try:
            state = work / f"state-{engine}-{archive}"
            fleet, senders = (
                _config(base, work / f"{engine}-{archive}-{n}.yaml", database, archive)
                for n, base in enumerate(bases)
            )
            # the user's list of state directories (submit adds to it) is the benchmark's own
            env = {
                **os.environ,
                "CLAIMFERRY_STATE_DIR": str(state),
                "XDG_STATE_HOME": str(work / "xdg"),
            }
            env.pop("CLAIMFERRY_DATABASE", None)
            cli = [script(), "--config", str(fleet)]
            fetch = _timed([*cli, "fetch", "--all", "--jobs", str(args.jobs), "--json"], env)
            if read_files(database, state) != args.accounts * args.files:
                raise SystemExit(f"{engine}, archive {archive}: not every file was read")
            cli = [script(), "--config", str(senders)]
            sender = SENDERS[engine, archive]
            submit = _timed([*cli, "submit", str(claims), "--account", sender], env)
            if _sent_claims(database, state) != args.claims:
                raise SystemExit(f"{engine}, archive {archive}: not every claim was sent")
            times[archive] = (fetch, submit)
        finally:
            if server and database:
                drop_database(server, database)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--claims", type=int, default=5000, help="in the one submit")
    parser.add_argument("--jobs", type=int, default=8, help="fetch --all --jobs")
    parser.add_argument("--postgres", help="a superuser's URL (default: a throwaway cluster)")
    args = parser.parse_args()
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import HarnessUser

    print(f"machine: {os.uname().machine}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    with (
        tempfile.TemporaryDirectory(prefix="claimferry-archive-") as tmp,
        postgres_server(args.postgres) as server,
    ):
        work = Path(tmp)
        names = account_names(args.accounts)
        passwords = {name: secrets.token_urlsafe(12) for name in names}
        responses = make_responses(work, args.files)
        claims = work / "claims.yaml"
        write_claims_file(claims, args.claims)
        sending = {name: secrets.token_urlsafe(12) for name in SENDERS.values()}
        users = {name: HarnessUser(password=p) for name, p in (passwords | sending).items()}
        results = {}
        with MockOfficeAlly(work / "harness", users) as mock:
            bases = work / "fleet.yaml", work / "sender.yaml"
            fill_fleet(mock, passwords, responses, bases[0])
            write_config(bases[1], list(sending), mock.host, mock.port, mock.host_key_openssh)
            set_credentials(sending)
            for label, engine in (("SQLite", None), ("PostgreSQL", server)):
                results[label] = one_engine(bases, work, engine, claims, args)
                print(f"  {label}: done", flush=True)
    print(
        f"\nfetch --all --jobs {args.jobs}: {args.accounts} accounts x {args.files} files; "
        f"submit: {args.claims} claims"
    )
    print(f"  {'engine':11} {'archive':10} {'fetch s':>8} {'submit s':>9}")
    for label, times in results.items():
        for archive, (fetch, submit) in times.items():
            print(f"  {label:11} {archive:10} {fetch:8.2f} {submit:9.2f}")
        (fetch_dir, submit_dir), (fetch_db, submit_db) = times["directory"], times["database"]
        ratios = f"{fetch_db / fetch_dir:7.2f}x {submit_db / submit_dir:8.2f}x"
        print(f"  {label:11} {'db / dir':10} {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
