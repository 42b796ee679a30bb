"""``claimferry fetch --all``: sequential against concurrent, over a slow link.

Starts one mock Office Ally on loopback with ``--accounts`` accounts, puts
``--files`` small response files (a real 999, 277CA, EDI_STATUS report and
835 made by the harness, then more 999s) straight into each account's
outbound folder, writes an accounts config that pins the mock's host key and
takes credentials from the environment, sets the mock's injected latency
(seconds per SFTP request), then runs the real console script:

    claimferry --config accounts.yaml fetch --all --jobs J --json

once with ``--jobs 1`` and once for each ``--jobs N``, every run with a
fresh state directory so that every run downloads everything. It prints the
wall time of each run and its speed-up over the sequential run (target at
least 5x), and fails loudly unless every run fetched and read every file.

    .venv/bin/python benchmarks/fetch_all.py [--accounts 100] [--files 5]
        [--latency 0.05] [--jobs 8 --jobs 16 --jobs 32] [--explain]

The client runs as a subprocess so that it does not share this process's
GIL with the mock server, as in real life; both share the machine's cores,
so read the ratios rather than the seconds. ``--explain`` adds one more run
at the largest ``--jobs``, instrumented from inside the client process, and
prints where the accounts' time went: connecting and logging in, SFTP
round trips, waiting for the ledger's write lock, committing, reading
responses, and how busy each process kept the CPUs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import yaml

TARGET = 5.0
DEFAULT_JOBS = (8, 16, 32)
CHILD_FLAG = "--_instrumented-child"


# -- the mock server and its files ------------------------------------------------


def account_names(count: int) -> list[str]:
    return [f"acct{n:03d}" for n in range(count)]


def make_responses(workdir: Path, count: int) -> list[Path]:
    """``count`` response files the harness itself wrote for the bundled sample claims.

    Each upload is answered with a 999, 277CA, EDI_STATUS report and 835; as
    many uploads are processed as ``count`` needs, in that order.
    """
    from claimferry.claims_input import load_claims
    from claimferry.config import Account, Contact
    from claimferry.manager import PluginManager
    from claimferry.submission import build_interchange
    from claimferry_harness.processing import Processor
    from claimferry_harness.rules import ProcessingRules

    root, out = workdir / "templates", workdir / "templates" / "outbound"
    (root / "staging").mkdir(parents=True)
    out.mkdir()
    account = Account(
        name="bench",
        clearinghouse="officeally",
        submitter_id="BENCH01",
        contact=Contact(name="Billing Office", phone="2175550100"),
    )
    clearinghouse = PluginManager().load().get_clearinghouse("officeally")
    with as_file(files("claimferry") / "data" / "sample_claims.yaml") as sample:
        claims = load_claims(sample).claims
    processor = Processor(root, lambda _user: out, ProcessingRules)
    made: list[Path] = []
    for number in range(1, math.ceil(count / 4) + 1):
        data = build_interchange(account, clearinghouse, claims, number, datetime.now(UTC))
        upload = root / f"BENCH01_837P_{number:09d}.txt"
        upload.write_bytes(data)
        made.extend(processor.process("bench", upload))
    if len(made) < count:
        raise SystemExit(f"the harness wrote {len(made)} responses, {count} were wanted")
    return made[:count]


def write_config(path: Path, names: list[str], host: str, port: int, host_key: str) -> None:
    accounts = {
        name: {
            "clearinghouse": "officeally",
            "submitter_id": f"S{name.upper()}",
            "mode": "test",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": {"host": host, "port": port, "host_key": host_key, "retries": 1},
            "credentials": {"source": "env"},
        }
        for name in names
    }
    path.write_text(yaml.safe_dump({"accounts": accounts}, sort_keys=False))


def set_credentials(passwords: dict[str, str]) -> None:
    """The env credential source's variables, in this process and so in every child."""
    for name, password in passwords.items():
        prefix = f"CLAIMFERRY_{name.upper()}_SFTP"
        os.environ[f"{prefix}_USERNAME"] = name
        os.environ[f"{prefix}_PASSWORD"] = password


def fill_fleet(server: Any, passwords: dict[str, str], responses: list[Path], config: Path) -> None:
    """Every account of ``passwords`` finds ``responses`` in its outbound folder on the
    mock ``server``; ``config`` names the accounts, their passwords in the environment."""
    for name in passwords:
        for response in responses:
            shutil.copyfile(response, server.outbound_dir(name) / response.name)
    write_config(config, list(passwords), server.host, server.port, server.host_key_openssh)
    set_credentials(passwords)


# -- one run ----------------------------------------------------------------------


@dataclass
class Run:
    jobs: int
    wall: float
    files: int
    unreadable: int
    ledger_rows: int
    archived: int
    failed_accounts: list[str]
    server_cpu: float
    client_cpu: float
    stats: dict[str, Any] = field(default_factory=dict)

    def ok(self, expected: int) -> bool:
        return (
            not self.failed_accounts
            and self.files == self.ledger_rows == self.archived == expected
            and self.unreadable == 0
        )


def client_command(config: Path, jobs: int, stats_out: Path | None) -> list[str]:
    cli = ["--config", str(config), "fetch", "--all", "--jobs", str(jobs), "--json"]
    if stats_out is not None:
        return [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG, str(stats_out), *cli]
    script = Path(sys.executable).with_name("claimferry")
    if not script.exists():
        found = shutil.which("claimferry")
        if found is None:
            raise SystemExit("the claimferry console script is not installed")
        script = Path(found)
    return [str(script), *cli]


def cli_startup() -> float:
    """Seconds for the console script to start, load its plugins and exit (best of 3)."""
    command = [client_command(Path("unused"), 1, None)[0], "--version"]
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def run_fetch(
    config: Path, state: Path, jobs: int, *, instrument: bool = False, init_ledger: bool = False
) -> Run:
    """One ``fetch --all`` in a fresh state directory."""
    stats_out = state.with_suffix(".stats.json") if instrument else None
    if init_ledger:
        # Before c2f0c97 the ledger's migration read user_version outside its write
        # transaction, so threads opening a brand-new ledger at once all ran migration 1
        # and all but one failed ("table accounts already exists"). This lets older
        # builds be measured; by default claimferry creates the ledger itself.
        from claimferry.ledger import Ledger

        Ledger.open(state).close()
    env = {**os.environ, "CLAIMFERRY_STATE_DIR": str(state)}
    command = client_command(config, jobs, stats_out)
    server_before = time.process_time()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = time.process_time() - server_before
    client_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    try:
        results = json.loads(done.stdout)
    except ValueError:
        results = []
    if not results:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"--jobs {jobs}: claimferry fetch exited {done.returncode}, no output")
    errors = sorted({r["error"] for r in results if "error" in r})
    for error in errors[:3]:
        print(f"  --jobs {jobs}: account error: {error}", file=sys.stderr)
    fetched = [f for r in results for f in r["files"]]
    with closing(sqlite3.connect(state / "ledger.sqlite3")) as db:
        rows = db.execute("SELECT COUNT(*) FROM response_files").fetchone()[0]
    archived = sum(1 for p in (state / "archive").glob("*/received/*") if p.is_file())
    return Run(
        jobs=jobs,
        wall=wall,
        files=len(fetched),
        unreadable=sum(1 for f in fetched if f["error"]),
        ledger_rows=int(rows),
        archived=archived,
        failed_accounts=[r["account"] for r in results if "error" in r],
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        stats=json.loads(stats_out.read_text()) if stats_out is not None else {},
    )


# -- the instrumented client (--explain) ------------------------------------------


class Clock:
    """Per-thread, per-phase seconds, and when each account's fetch began and ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.spans: list[tuple[float, float]] = []
        self.maxima: dict[str, float] = defaultdict(float)

    def add(self, phase: str, seconds: float) -> None:
        with self.lock:
            self.seconds[phase] += seconds
            self.counts[phase] += 1
            self.maxima[phase] = max(self.maxima[phase], seconds)

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - started)

    def wrap(self, owner: Any, attribute: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(phase):
                return original(*args, **kwargs)

        setattr(owner, attribute, timed)


def instrument(clock: Clock) -> None:
    """Time the phases of ``fetch`` from outside the code under test (this process only)."""
    import sqlite3 as sqlite

    from claimferry import connection, fetching, ledger
    from claimferry.sftp_mailbox import SftpMailbox

    clock.wrap(connection, "open_session", "connect + handshake + login")
    clock.wrap(SftpMailbox, "list_responses", "sftp: list outbound")
    clock.wrap(SftpMailbox, "download", "sftp: download (stat+open+read+close)")
    clock.wrap(SftpMailbox, "close", "sftp: close session")
    clock.wrap(fetching, "apply_response", "read response (parse + ledger writes)")
    clock.wrap(fetching, "atomic_write", "archive write (atomic_write)")
    original_init = ledger.Ledger.__init__

    def timed_init(self: Any, path: Path) -> None:
        with clock.timing("ledger: open + migrate"):
            original_init(self, path)

    ledger.Ledger.__init__ = timed_init  # type: ignore[method-assign]

    original_transaction = ledger.Ledger.transaction

    @contextmanager
    def transaction(self: Any) -> Iterator[sqlite.Connection]:
        started = time.perf_counter()
        inner = original_transaction(self)
        db = inner.__enter__()  # BEGIN IMMEDIATE: waits for the write lock
        locked = time.perf_counter()
        clock.add("ledger: wait for write lock (BEGIN IMMEDIATE)", locked - started)
        try:
            yield db
        except BaseException:
            if not inner.__exit__(*sys.exc_info()):
                raise
            return
        committing = time.perf_counter()
        inner.__exit__(None, None, None)  # COMMIT
        done = time.perf_counter()
        clock.add("ledger: COMMIT (WAL fsync, lock held)", done - committing)
        clock.add("ledger: write lock held (BEGIN..COMMIT)", done - locked)

    ledger.Ledger.transaction = transaction  # type: ignore[method-assign]
    clock.wrap(fetching, "fetch_responses", "fetch_responses (whole, after login)")
    original_open = connection.open_session

    def open_session(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        session = original_open(*args, **kwargs)
        original_close = session.close

        def close() -> None:
            original_close()
            with clock.lock:
                clock.spans.append((started, time.perf_counter()))

        session.close = close  # type: ignore[method-assign]
        return session

    connection.open_session = open_session


@contextmanager
def count_server_requests() -> Iterator[dict[str, int]]:
    """SFTP requests the mock answers, by type, and how many paid the injected latency."""
    from paramiko.sftp import CMD_NAMES

    from claimferry_harness.sftp import JailedSFTP, SessionSFTPServer

    counts: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    process, guard = getattr(SessionSFTPServer, "_process"), JailedSFTP.guard  # noqa: B009

    def counted(self: Any, kind: int, *args: Any) -> Any:
        with lock:
            counts[CMD_NAMES.get(kind, str(kind))] += 1
        return process(self, kind, *args)

    def guarded(self: Any, action: Callable[[], Any]) -> Any:
        with lock:
            counts["(latency applied)"] += 1
        return guard(self, action)

    setattr(SessionSFTPServer, "_process", counted)  # noqa: B010
    JailedSFTP.guard = guarded  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        setattr(SessionSFTPServer, "_process", process)  # noqa: B010
        JailedSFTP.guard = guard  # type: ignore[method-assign]


def instrumented_child(stats_out: Path, cli_args: list[str]) -> int:
    clock = Clock()
    instrument(clock)
    from claimferry.cli import create_cli

    started = time.perf_counter()
    cpu = time.process_time()
    code = 0
    try:
        create_cli()(cli_args, prog_name="claimferry")
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        wall = time.perf_counter() - started
        spans = sorted(clock.spans)
        stats = {
            "wall": wall,
            "cpu": time.process_time() - cpu,
            "seconds": dict(clock.seconds),
            "counts": dict(clock.counts),
            "maxima": dict(clock.maxima),
            "accounts": len(spans),
            "first_start": spans[0][0] - started if spans else 0.0,
            "busy": sum(e - s for s, e in spans),
            "active": (max(e for _, e in spans) - spans[0][0]) if spans else 0.0,
        }
        stats_out.write_text(json.dumps(stats))
    return code


# -- reporting ----------------------------------------------------------------------


def report(runs: list[Run], expected: int, cores: int) -> bool:
    base = runs[0].wall
    print(f"\n{'jobs':>5} {'wall s':>8} {'speed-up':>9} {'files':>6} {'client cpu':>11}"
          f" {'server cpu':>11} {'cpu/wall':>9}  check")  # fmt: skip
    all_ok = True
    for run in runs:
        ok = run.ok(expected)
        all_ok &= ok
        load = (run.client_cpu + run.server_cpu) / run.wall
        verdict = "ok" if ok else (
            f"FAILED: {run.files} fetched, {run.ledger_rows} in ledger, {run.archived} archived, "
            f"{run.unreadable} unreadable, accounts failed: {run.failed_accounts[:5]}"
        )  # fmt: skip
        print(
            f"{run.jobs:>5} {run.wall:>8.2f} {base / run.wall:>8.2f}x {run.files:>6} "
            f"{run.client_cpu:>10.2f}s {run.server_cpu:>10.2f}s {load:>6.2f}/{cores}  {verdict}"
        )
    best = max(runs[1:], key=lambda r: base / r.wall, default=None)
    if best is not None:
        ratio = base / best.wall
        met = "met" if ratio >= TARGET else "MISSED"
        print(
            f"\nbest: --jobs {best.jobs}, {ratio:.2f}x sequential (target >= {TARGET:.0f}x: {met})"
        )
    return all_ok


def explain(
    run: Run,
    accounts: int,
    requests: dict[str, int],
    latency: float,
    sequential: float,
    startup: float,
) -> None:
    stats = run.stats
    wall = stats["wall"]
    print(f"\nwhere the time went, --jobs {run.jobs} (instrumented run, {run.wall:.2f}s wall):")
    print(f"  client process: {wall:.2f}s inside the CLI, first account started after "
          f"{stats['first_start']:.2f}s (imports, plugins, config)")  # fmt: skip
    parallel = stats["busy"] / stats["active"] if stats["active"] else 0.0
    print(f"  accounts: {stats['accounts']}, session-seconds {stats['busy']:.1f} over "
          f"{stats['active']:.2f}s, i.e. {parallel:.1f} accounts in flight on average "
          f"(--jobs {run.jobs})")  # fmt: skip
    client, server = run.client_cpu / run.wall, run.server_cpu / run.wall
    print(f"  cpu: client {run.client_cpu:.2f}s ({client:.0%} of one core), "
          f"server {run.server_cpu:.2f}s ({server:.0%} of one core)")  # fmt: skip
    print(f"  {'phase (summed over threads)':<52} {'total s':>8} {'calls':>6} {'avg ms':>8} "
          f"{'max ms':>8} {'per account s':>14}")  # fmt: skip
    for phase, seconds in sorted(stats["seconds"].items(), key=lambda kv: -kv[1]):
        calls = stats["counts"][phase]
        print(
            f"  {phase:<52} {seconds:>8.2f} {calls:>6} {1000 * seconds / calls:>8.1f} "
            f"{1000 * stats['maxima'][phase]:>8.1f} {seconds / accounts:>14.3f}"
        )
    gated = requests.pop("(latency applied)", 0)
    total = sum(requests.values())
    by_count = sorted(requests.items(), key=lambda kv: -kv[1])
    kinds = ", ".join(f"{kind} {count / accounts:g}" for kind, count in by_count)
    print(f"  server: {total / accounts:g} SFTP requests per account ({kinds});")
    floor = gated / accounts * latency
    print(f"          {gated / accounts:g} of them pay the latency: a floor of {floor:.2f}s "
          f"per account, {gated * latency:.1f}s for all in sequence")  # fmt: skip
    seconds = stats["seconds"]
    per_account_seq = max(sequential - startup, 0.0) / accounts
    per_account_now = stats["busy"] / max(stats["accounts"], 1)
    held = seconds.get("ledger: write lock held (BEGIN..COMMIT)", 0.0)
    waited = seconds.get("ledger: wait for write lock (BEGIN IMMEDIATE)", 0.0)
    ideal = startup + accounts / run.jobs * per_account_seq
    print(f"  per account: {per_account_seq:.2f}s in the sequential run, {per_account_now:.2f}s "
          f"here (+{per_account_now - per_account_seq:.2f}s; waiting for the ledger's write "
          f"lock {waited / accounts:.2f}s of it)")  # fmt: skip
    print(f"  ledger write lock held {held:.2f}s of {stats['active']:.2f}s "
          f"({held / stats['active']:.0%} busy), waited for {waited:.1f}s in all over "
          f"{stats['counts'].get('ledger: COMMIT (WAL fsync, lock held)', 0) / accounts:g} "
          "transactions per account")  # fmt: skip
    print(f"  no-contention model: start-up {startup:.2f}s + {accounts}/{run.jobs} x "
          f"{per_account_seq:.2f}s = {ideal:.2f}s, {sequential / ideal:.1f}x; measured "
          f"{run.wall:.2f}s, {sequential / run.wall:.1f}x")  # fmt: skip


# -- main ----------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == CHILD_FLAG:
        return instrumented_child(Path(sys.argv[2]), sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--files", type=int, default=5, help="response files per account")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per SFTP request")
    parser.add_argument(
        "--jobs",
        type=int,
        action="append",
        help=f"concurrent run(s) to compare with --jobs 1 (repeatable; default {DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="one more, instrumented run at the largest --jobs: where the time goes",
    )
    parser.add_argument(
        "--pre-create-ledger",
        dest="init_ledger",
        action="store_true",
        help="create each run's empty ledger first (builds before c2f0c97 raced on a new one)",
    )
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir)")
    args = parser.parse_args()
    jobs = sorted(set(args.jobs or DEFAULT_JOBS) - {1})
    if any(not 1 <= j <= 64 for j in jobs) or args.accounts < 1 or args.files < 1:
        parser.error("--jobs must be 2..64; --accounts and --files at least 1")

    import logging

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    from claimferry_harness.faults import Faults
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import HarnessUser

    cores = os.cpu_count() or 1
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="claimferry-fetch-bench-", dir=args.workdir)
    workdir = Path(tmp)
    names = account_names(args.accounts)
    passwords = {name: secrets.token_urlsafe(12) for name in names}
    expected = args.accounts * args.files
    try:
        responses = make_responses(workdir, args.files)
        users = {name: HarnessUser(password=passwords[name]) for name in names}
        with MockOfficeAlly(workdir / "harness", users, faults=Faults()) as server:
            config = workdir / "accounts.yaml"
            fill_fleet(server, passwords, responses, config)
            server.faults.latency = args.latency
            size = sum(p.stat().st_size for p in responses)
            print(
                f"mock Office Ally on {server.host}:{server.port}: {args.accounts} accounts x "
                f"{args.files} files ({size} bytes per account) = {expected} files; "
                f"latency {args.latency * 1000:g} ms per SFTP request; {cores} cores"
            )
            print(f"workdir: {workdir}")
            startup = cli_startup()
            print(f"CLI start-up (claimferry --version, imports + plugins): {startup:.2f}s")
            runs: list[Run] = []
            for n in [1, *jobs]:
                run = run_fetch(config, workdir / f"state-jobs{n}", n, init_ledger=args.init_ledger)
                print(f"  --jobs {n:<3} {run.wall:7.2f}s  {run.files} files", flush=True)
                runs.append(run)
            ok = report(runs, expected, cores)
            if args.explain:
                n = jobs[-1] if jobs else 1
                with count_server_requests() as requests:
                    extra = run_fetch(config, workdir / f"state-explain{n}", n, instrument=True)
                ok &= extra.ok(expected)
                explain(extra, args.accounts, dict(requests), args.latency, runs[0].wall, startup)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        print(f"\nFAILED: not every run fetched and read all {expected} files", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
