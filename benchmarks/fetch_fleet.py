"""One fetch cycle of a fleet: ``fetch --all`` in one process on SQLite, against
1, 2 and 4 worker processes on PostgreSQL; and ledger write throughput on both.

Starts one mock Office Ally on loopback with ``--accounts`` accounts (1,000 by
default) and puts ``--files`` response files the harness wrote (999, 277CA,
EDI_STATUS report...) straight into each account's outbound folder. Then, each
run with a fresh state directory and a fresh ledger, so that every run
downloads and reads everything:

1. ``claimferry fetch --all --jobs 32`` on SQLite, the console script as a
   new process;
2. for 1, 2 and 4 workers: a fresh PostgreSQL database, ``claimferry db
   upgrade``, then the workers (``claimferry worker --no-schedule``, each a
   new process, ``--concurrency`` threads). Workers are services: they start
   once and then run cycle after cycle, so a cycle is timed on workers that are
   up (each registered with the queue), from ``claimferry enqueue fetch --all``
   (a new process, as cron's would be) to the last fetch job done. Their
   start-up is measured apart and printed.

Each configuration runs ``--rounds`` times, the configurations taking turns
(a busy spell of the shared machine then slows all of them), and the best
(lowest) wall time of each is the one compared.

Every run must have read every file (the ledger's ``response_files`` is
counted) or the benchmark fails. Each run's CPU time is split by part, per
account: claimferry's processes, PostgreSQL's (when the server runs on this
machine) and the mock's; with the cores all busy, that, not the wall time,
says what a fetch costs. Last, ledger write throughput: claims recorded per
second by ``record_batch`` (batches of 500 claims, one line each, the
transaction ``submit`` makes) on a SQLite file and on the PostgreSQL server,
in this process, and the ledger's size per claim once each claim was sent,
accepted, acknowledged and paid.

    .venv/bin/python benchmarks/fetch_fleet.py [--accounts 1000] [--files 3]
        [--concurrency 8] [--rounds 2]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

The PostgreSQL server is ``--postgres`` (a superuser's URL), else
``CLAIMFERRY_TEST_POSTGRES``, else a throwaway cluster started here as the
test suite does (PostgreSQL installed), but with commits waiting for the disk
as a production server's do (the SQLite ledger waits for it too). The mock
runs in this process and every claimferry process in its own; they share the
machine's cores, so read the ratios.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO

import psycopg
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from fetch_all import account_names, fill_fleet, make_responses  # noqa: E402

from claimferry.ledger import Ledger  # noqa: E402

WORKER_COUNTS = (1, 2, 4)
BATCH = 500


def postmaster(server: str) -> int | None:
    """The process id of the server's postmaster when it runs on this machine."""
    with psycopg.connect(server, autocommit=True) as db:
        row = db.execute("SELECT pg_backend_pid()").fetchone()
        try:  # a backend's parent is the postmaster; read while the backend lives
            return int(Path(f"/proc/{row[0]}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError, TypeError):
            return None  # a server elsewhere: its CPU is not counted


def _ticks(values: list[str], fields: slice) -> int:
    return sum(int(value) for value in values[fields])


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3 on)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu(pid: int | None) -> float:
    """CPU seconds used so far by the postmaster ``pid`` and its processes, ended
    backends included (their time is the postmaster's ``cutime``): the server's
    share of a run. 0 for a server on another machine."""
    if pid is None:
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            values = _stat(stat.parent.name)
            if stat.parent.name == str(pid) or values[1] == str(pid):
                ticks += _ticks(values, slice(11, 15))  # u, s, cu, cs time
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def process_cpu(pids: Iterable[int]) -> float:
    """CPU seconds used so far by these running processes (user and system)."""
    return sum(_ticks(_stat(pid), slice(11, 13)) for pid in pids) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_split(
    server_pid: int | None = None, workers: Sequence[int] = ()
) -> Iterator[dict[str, float]]:
    """CPU seconds a run cost: claimferry's processes (waited children, and the
    ``workers`` while they run), the mock (this process), and PostgreSQL."""
    split: dict[str, float] = {}
    children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(0)
    server, working = postgres_cpu(server_pid), process_cpu(workers)
    yield split
    after_children, after_own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(0)
    split["claimferry"] = (
        (after_children.ru_utime + after_children.ru_stime)
        - (children.ru_utime + children.ru_stime)
        + process_cpu(workers)
        - working
    )
    split["mock"] = (after_own.ru_utime + after_own.ru_stime) - (own.ru_utime + own.ru_stime)
    split["postgresql"] = postgres_cpu(server_pid) - server


def script() -> str:
    found = Path(sys.executable).with_name("claimferry")
    if not found.exists():
        raise SystemExit(f"no console script at {found}: pip install -e '.[postgresql]' first")
    return str(found)


@contextmanager
def postgres_server(given: str | None) -> Iterator[str]:
    url = given or os.environ.get("CLAIMFERRY_TEST_POSTGRES")
    if url:
        yield url
        return
    from support.postgres import server_bindir, throwaway_cluster

    bindir = server_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL: give --postgres URL or install postgresql")
    with throwaway_cluster(bindir, durable=True) as started:
        yield started


def fresh_database(server: str) -> str:
    name = f"fleet_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server: str, url: str) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def config_for(base: Path, target: Path, database: str | None) -> Path:
    data = yaml.safe_load(base.read_text())
    if database:
        data["database"] = database
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def read_files(database: str | None, state: Path) -> int:
    """Response files the run's ledger read (no error)."""
    sql = "SELECT COUNT(*) FROM response_files WHERE parsed = 1 AND error IS NULL"
    if database:
        with psycopg.connect(database) as db:
            row = db.execute(sql).fetchone()
    else:
        import sqlite3

        with sqlite3.connect(state / "ledger.sqlite3") as db:
            row = db.execute(sql).fetchone()
    return int(row[0]) if row else 0


def run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} failed: {done.stderr[-2000:]}")


Run = tuple[float, int, dict[str, float]]
"""Wall seconds, response files read, and CPU seconds by part (see ``cpu_split``)."""


def single_process(base: Path, work: Path, jobs: int) -> Run:
    state = work / f"state-sqlite-{jobs}"
    shutil.rmtree(state, ignore_errors=True)
    config = config_for(base, work / "sqlite.yaml", None)
    env = {**os.environ, "CLAIMFERRY_STATE_DIR": str(state)}
    env.pop("CLAIMFERRY_DATABASE", None)
    with cpu_split() as cpu:
        started = time.perf_counter()
        command = [script(), "--config", str(config), "fetch", "--all", "--jobs", str(jobs)]
        run([*command, "--json"], env)
        wall = time.perf_counter() - started
    return wall, read_files(None, state), cpu


Startup = tuple[float, float]
"""The workers' start-up: wall seconds until all were up, and their CPU seconds."""


def fleet(
    base: Path, work: Path, server: str, workers: int, concurrency: int
) -> tuple[Run, Startup]:
    database = fresh_database(server)
    try:
        state = work / f"state-pg-{workers}"
        shutil.rmtree(state, ignore_errors=True)
        config = config_for(base, work / f"pg-{workers}.yaml", database)
        env = {**os.environ, "CLAIMFERRY_STATE_DIR": str(state), "CLAIMFERRY_DATABASE": database}
        cli = [script(), "--config", str(config)]
        run([*cli, "db", "upgrade"], env)
        logs = [(work / f"worker-{workers}-{n}.log").open("w") for n in range(workers)]
        with running_workers(cli, env, database, logs, concurrency) as (processes, startup):
            pids = [process.pid for process in processes]
            with cpu_split(postmaster(server), pids) as cpu:
                started = time.perf_counter()
                run([*cli, "enqueue", "fetch", "--all", "--json"], env)
                _until_done(database, processes, logs[0].name)
                wall = time.perf_counter() - started
        return (wall, read_files(database, state), cpu), startup
    finally:
        drop_database(server, database)


@contextmanager
def running_workers(
    cli: list[str], env: dict[str, str], database: str, logs: Sequence[IO[str]], concurrency: int
) -> Iterator[tuple[list[subprocess.Popen[bytes]], Startup]]:
    """Workers started and up (each registered with the queue); stopped and waited
    for on the way out."""
    started = time.perf_counter()
    command = [*cli, "worker", "--no-schedule", "--queues", "fetch"]
    processes = [
        subprocess.Popen(
            [*command, "--concurrency", str(concurrency)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        with psycopg.connect(database, autocommit=True) as db:
            while True:
                row = db.execute("SELECT COUNT(*) FROM procrastinate_workers").fetchone()
                if row is not None and row[0] >= len(processes):
                    break
                _check_running(processes, logs[0].name)
                time.sleep(0.02)
        up = time.perf_counter() - started
        yield processes, (up, process_cpu(process.pid for process in processes))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=300)
        for log in logs:
            log.close()


def _until_done(database: str, processes: list[subprocess.Popen[bytes]], log: str) -> None:
    """Wait until no fetch job is left to do."""
    with psycopg.connect(database, autocommit=True) as db:
        while True:
            row = db.execute(
                "SELECT COUNT(*) FROM procrastinate_jobs WHERE queue_name = 'fetch' "
                "AND status IN ('todo', 'doing')"
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            _check_running(processes, log)
            time.sleep(0.05)


def _check_running(processes: list[subprocess.Popen[bytes]], log: str) -> None:
    if any(process.poll() is not None for process in processes):
        raise SystemExit(f"a worker ended early; see {log}")


def ledger_writes(location: str, claims: int) -> tuple[float, float]:
    """Claims per second recorded by ``record_batch`` (``BATCH`` claims a transaction,
    one line each), then the ledger's bytes per claim once each claim has a
    whole life: sent, accepted by a 999, acknowledged by a 277CA and paid by an
    835 (``read_835.write_835``'s: one service line, CAS, REF*6R)."""
    from read_835 import PROCEDURES, write_835

    from claimferry.ledger import Answer, BatchState, ClaimState, NewClaim, SentLine
    from claimferry.lifecycle import apply_response

    state = Path(tempfile.mkdtemp(prefix="claimferry-writes-"))
    os.environ.pop("CLAIMFERRY_DATABASE", None)
    try:
        with Ledger.open(state, database=location if location != "sqlite" else None) as ledger:
            empty = ledger_bytes(ledger)
            ledger.ensure_account("bench", "officeally", "BENCH01")
            started, batches = time.perf_counter(), []
            for number in range(claims // BATCH):
                batch = [
                    NewClaim(
                        f"CF{n:08d}", "00621", Decimal(25) * (1 + n % 8), f"h{n}", "original",
                        None, (SentLine(f"L{n:09d}", PROCEDURES[n % 4], Decimal(25) * (1 + n % 8)),)
                    )
                    for n in range(number * BATCH, (number + 1) * BATCH)
                ]  # fmt: skip
                batches.append(ledger.record_batch(
                    account="bench", file_name=f"f{number}", archive_path=state / f"f{number}",
                    sha256="0" * 64, size=1, control_number=number + 1, test=True, claims=batch,
                ))  # fmt: skip
            rate = claims // BATCH * BATCH / (time.perf_counter() - started)
            for sent in batches:
                ledger.set_batch_state(sent.id, BatchState.UPLOADED, remote_name=sent.file_name)
            rows = [record.row for record in ledger.claims(account="bench")]
            for state_, detail in (
                (ClaimState.ACCEPTED, "999"),
                (ClaimState.ACKNOWLEDGED, "277CA"),
            ):
                ledger.answer_claims([Answer(r, state_, detail, None, detail, None) for r in rows])
            era = state / "era.835"
            write_835(era, len(rows))
            apply_response(ledger, "bench", era, (), era.name)
            return rate, (ledger_bytes(ledger) - empty) / len(rows)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def ledger_bytes(ledger: Ledger) -> int:
    """What the ledger takes on disk: the SQLite file (its log checkpointed into it),
    or the PostgreSQL schema's tables with their indexes and TOAST."""
    if isinstance(ledger.db, sqlite3.Connection):
        ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(ledger.path.stat().st_size)
    row = ledger.db.execute(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
    ).fetchone()
    return int(row[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=32, help="fetch --all --jobs (SQLite run)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker")
    parser.add_argument("--claims", type=int, default=20_000, help="for the write throughput")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of each configuration, taking turns (best counts)",
    )
    parser.add_argument("--postgres", help="a superuser's URL (default: a throwaway cluster)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import HarnessUser

    print(f"machine: {os.uname().machine}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    expected = args.accounts * args.files
    with (
        tempfile.TemporaryDirectory(prefix="claimferry-fleet-") as tmp,
        postgres_server(args.postgres) as server,
    ):
        work = Path(tmp)
        names = account_names(args.accounts)
        passwords = {name: secrets.token_urlsafe(12) for name in names}
        responses = make_responses(work, args.files)
        users = {name: HarnessUser(password=passwords[name]) for name in names}
        with MockOfficeAlly(work / "harness", users) as mock:
            base = work / "accounts.yaml"
            fill_fleet(mock, passwords, responses, base)
            print(f"{args.accounts} accounts x {args.files} files = {expected} response files")
            single_label = f"fetch --all --jobs {args.jobs}, SQLite"
            labels = [single_label] + [
                f"{count} worker(s) x {args.concurrency} threads, PostgreSQL"
                for count in WORKER_COUNTS
            ]
            runs: dict[str, list[Run]] = {label: [] for label in labels}
            startups: dict[str, list[Startup]] = {label: [] for label in labels[1:]}
            for number in range(1, args.rounds + 1):
                runs[single_label].append(single_process(base, work, args.jobs))
                for count, label in zip(WORKER_COUNTS, labels[1:], strict=True):
                    done, startup = fleet(base, work, server, count, args.concurrency)
                    runs[label].append(done)
                    startups[label].append(startup)
                walls = ", ".join(f"{runs[label][-1][0]:.1f}" for label in labels)
                print(
                    f"  round {number}/{args.rounds}, wall s (single, 1, 2, 4 workers): {walls}",
                    flush=True,
                )
        results = [(label, min(runs[label], key=lambda done: done[0])) for label in labels]
        single = results[0][1][0]
        cycle = f"{args.accounts} accounts ({expected} files), best of {args.rounds}"
        print(f"\none fetch cycle of {cycle}:")
        print(f"  {'run':48} {'wall s':>7} {'accounts/s':>11} {'vs single':>10}")
        for label, found in runs.items():
            for _, read, _ in found:
                if read != expected:
                    raise SystemExit(f"{label}: read {read} files of {expected}")
        for label, (wall, _, _) in results:
            print(f"  {label:48} {wall:7.1f} {args.accounts / wall:11.1f} {single / wall:9.2f}x")
        print("\nCPU per account fetched (ms), by part (the best run's):")
        print(f"  {'run':48} {'claimferry':>10} {'PostgreSQL':>10} {'mock':>6} {'total':>6}")
        for label, (_, _, cpu) in results:
            per = {part: 1000 * seconds / args.accounts for part, seconds in cpu.items()}
            print(
                f"  {label:48} {per['claimferry']:10.1f} {per['postgresql']:10.1f} "
                f"{per['mock']:6.1f} {sum(per.values()):6.1f}"
            )
        print("\nworkers' start-up (once per worker's life, not per cycle; median):")
        for label, measured in startups.items():
            up, cpu = (statistics.median(values) for values in zip(*measured, strict=True))
            print(f"  {label:48} {up:5.1f} s until up, {cpu:5.1f} s CPU")
        database = fresh_database(server)
        try:
            sqlite_rate, sqlite_size = ledger_writes("sqlite", args.claims)
            pg_rate, pg_size = ledger_writes(database, args.claims)
        finally:
            drop_database(server, database)
        print(f"\nledger writes ({args.claims} claims, {BATCH} per transaction, in-process):")
        print(f"  SQLite     {sqlite_rate:9.0f} claims/s")
        print(f"  PostgreSQL {pg_rate:9.0f} claims/s ({pg_rate / sqlite_rate:.2f}x SQLite)")
        print("ledger size per claim, sent + 999 + 277CA + 835 (one service line):")
        print(f"  SQLite     {sqlite_size:9.0f} bytes")
        print(f"  PostgreSQL {pg_size:9.0f} bytes")
        four = results[-1][1][0]
        verdict = "beats" if four < single else "does NOT beat"
        print(f"\nthe 4-worker fleet {verdict} the single process ({single / four:.2f}x)")
    return 0 if four < single else 1


if __name__ == "__main__":
    raise SystemExit(main())
