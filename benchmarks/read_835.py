"""Speed and memory of reading an 835 into the ledger, against pyx12's X12ContextReader.

Run: .venv/bin/python benchmarks/read_835.py [--claims 50000] [--small 5000] [--rounds 3]

Writes a balanced 835 (CLP, CAS, NM1, DTM, SVC, DTM, CAS per claim) to a temp
file and records every claim it pays in a fresh SQLite ledger, as `fetch`
would have sent them. Ours is what `fetch` does with the file: read it
(streaming), match each claim to the one sent, classify what the payer did,
store the payment, claims, lines and adjustments, and move each claim's
state, in one transaction. pyx12 only reads (visiting every 2100 claim
loop). It prints the ratio (target: ours at least 30x faster), then the
tracemalloc peak of ours at two file sizes to show memory does not grow with
the file.

Then it measures what users run: the same 835 waits in the outbound folder
of a mock Office Ally on loopback, and the console script
``claimferry --config accounts.yaml fetch --account bench --json`` runs as
a new process (log in, download, read, store, exactly as cron would),
against a new Python process running the same pyx12 loop on the file. Both
are timed by their own CPU (the children's rusage; the mock's serving is
not counted) and by wall time.

It also splits ours (best of ``--rounds``): the reader alone, and the
SQL that the apply ran, recorded once and replayed alone on a fresh copy
of the ledger; what remains is matching, classifying and building rows.

Times are CPU seconds. On a shared machine other work only ever adds to
them, so each reader runs ``--rounds`` times, the two taking turns (a busy
spell then slows both), and the best (lowest) time of each is the one
compared.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyx12.error_handler
import pyx12.params
import pyx12.x12context
import yaml

from claimferry.database import open_database
from claimferry.ledger import LEDGER_FILE, BatchState, Ledger, NewClaim, SentLine
from claimferry.lifecycle import apply_response
from claimferry.x12.remit835 import Remit835Stream
from claimferry.x12.segments import read_segments

TARGET = 30
"""How many times faster than pyx12 our reader is meant to be."""
PYX12_CHILD = "--_pyx12-child"
ERA_NAME = "900001_ERA_835_5010_20240601.835"
"""An ERA's name in Office Ally's outbound folder (OA Processing Application guide, App. A)."""
PROCEDURES = ("97151", "97153", "97155", "97156")
MODIFIERS = ("HN", "HO", "HP")


def write_835(path: Path, claims: int) -> None:
    """A realistic, balanced 835 with ``claims`` claims, one service line each."""
    paid_total = Decimal(0)
    body: list[str] = []
    for n in range(claims):
        units = 1 + n % 8
        charge = Decimal(25) * units
        allowed = charge - Decimal("3.50")
        patient = Decimal("10.00") if n % 3 == 0 else Decimal(0)
        paid = allowed - patient
        paid_total += paid
        procedure = f"HC:{PROCEDURES[n % 4]}:{MODIFIERS[n % 3]}"
        day = f"2024{1 + n % 12:02d}{1 + n % 28:02d}"
        body += [
            f"CLP*CF{n:08d}*1*{charge}*{paid}*{patient}*12*PCN{n:010d}*11*1",
            f"NM1*QC*1*PATIENT{n % 997}*TEST****MI*M{n:09d}",
            f"DTM*232*{day}",
            f"DTM*233*{day}",
            f"SVC*{procedure}*{charge}*{paid}**{units}",
            f"DTM*472*{day}",
            "CAS*CO*45*3.50",
        ]
        if patient:
            body.append(f"CAS*PR*2*{patient}")
        body.append(f"REF*6R*L{n:09d}")
    header = [
        "ISA*00*          *00*          *ZZ*PAYERSUBMIT    *ZZ*CLAIMFERRY     *240601*1200*^*00501"
        "*000000001*0*P*:",
        "GS*HP*PAYERSUBMIT*CLAIMFERRY*20240601*1200*1*X*005010X221A1",
        "ST*835*0001",
        f"BPR*I*{paid_total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765"
        "*20240603",
        "TRN*1*12345*1512345678",
        "DTM*405*20240601",
        "N1*PR*BENCHMARK HEALTH PLAN",
        "N1*PE*BENCHMARK ABA CLINIC*XX*1234567893",
        "LX*1",
    ]
    count = len(header) - 2 + len(body) + 1
    trailer = [f"SE*{count}*0001", "GE*1*1", "IEA*1*000000001"]
    with path.open("w", encoding="latin-1") as out:
        for segment in (*header, *body, *trailer):
            out.write(segment + "~\n")


def sent_ledger(folder: Path, claims: int) -> Path:
    """A ledger that sent the claims the 835 answers (ids and line control numbers)."""
    state = folder / f"state-{claims}"
    with Ledger.open(state) as ledger:
        ledger.ensure_account("bench", "officeally", "BENCH01")
        batch = ledger.record_batch(
            account="bench",
            file_name="bench.837",
            archive_path=folder / "bench.837",
            sha256="0" * 64,
            size=1,
            control_number=1,
            test=True,
            claims=[
                NewClaim(
                    f"CF{n:08d}",
                    "00621",
                    Decimal(25) * (1 + n % 8),
                    f"h{n}",
                    "original",
                    None,
                    (SentLine(f"L{n:09d}", PROCEDURES[n % 4], Decimal(25) * (1 + n % 8)),),
                )
                for n in range(claims)
            ],
        )
        ledger.set_batch_state(batch.id, BatchState.UPLOADED, remote_name="bench.837")
    return state


def ours(path: Path) -> int:
    """Apply the 835 to a copy of the sent ledger (copying is not timed: see ``timed``)."""
    with Ledger.open(path.parent / "work") as ledger:
        return apply_response(ledger, "bench", path, (), path.name).claims


def reader_alone(path: Path) -> int:
    """Our 835 reader with nothing done with what it reads."""
    return sum(1 for _ in Remit835Stream(read_segments(path), str(path)))


class _Recorder(sqlite3.Connection):
    """A ledger connection that keeps every statement it runs, with its parameters."""

    statements: list[tuple[str, list[Any]]]

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.statements.append((sql, [parameters]))
        return super().execute(sql, parameters)

    def executemany(self, sql: str, rows: Any, /) -> sqlite3.Cursor:
        rows = list(rows)
        self.statements.append((sql, rows))
        return super().executemany(sql, rows)


def recorded_sql(path: Path) -> list[tuple[str, list[Any]]]:
    """The statements ``ours`` runs for this 835 (recorded on a copy not timed)."""
    fresh_copy(path)
    with Ledger.open(path.parent / "work") as ledger:
        ledger.db.close()
        recorder = sqlite3.connect(
            path.parent / "work" / LEDGER_FILE, isolation_level=None, factory=_Recorder
        )
        recorder.statements = []
        recorder.row_factory = sqlite3.Row
        recorder.execute("PRAGMA synchronous=FULL")
        recorder.execute("PRAGMA foreign_keys=ON")
        recorder.statements.clear()
        ledger._db = recorder  # type: ignore[assignment]  # a benchmark's look inside
        apply_response(ledger, "bench", path, (), path.name)
    return recorder.statements


def sql_alone(path: Path, statements: list[tuple[str, list[Any]]]) -> float:
    """CPU seconds of running ``statements`` alone on a fresh copy, opened as the ledger is."""
    fresh_copy(path)
    db = open_database(path.parent / "work" / LEDGER_FILE)
    start = time.process_time()
    for sql, rows in statements:
        if len(rows) == 1:
            db.execute(sql, rows[0]).fetchall()
        else:
            db.executemany(sql, rows)
    db.close()
    return time.process_time() - start


def theirs(path: Path) -> int:
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    param = pyx12.params.params()
    errh = pyx12.error_handler.errh_null()
    seen = 0
    with path.open(encoding="latin-1") as stream:
        reader = pyx12.x12context.X12ContextReader(param, errh, stream)
        for _loop in reader.iter_segments("2100"):
            seen += 1
    return seen


def fresh_copy(path: Path) -> None:
    """Put an unanswered copy of the sent ledger at ``work/`` beside the 835."""
    work = path.parent / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(path.parent / f"state-{path.stem}", work)


def timed(read: Callable[[Path], int], path: Path) -> tuple[float, int]:
    """CPU seconds of this process: steadier than wall time on a shared machine."""
    fresh_copy(path)
    start = time.process_time()
    claims = read(path)
    return time.process_time() - start, claims


def peak_memory(path: Path) -> int:
    fresh_copy(path)
    tracemalloc.start()
    ours(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """CPU and wall seconds of one new process, and what it printed."""
    cpu_before, started = children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu_before
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"{Path(command[0]).name} exited {done.returncode}")
    return cpu, wall, done.stdout


def console_script() -> str:
    script = Path(sys.executable).with_name("claimferry")
    found = str(script) if script.exists() else shutil.which("claimferry")
    if found is None:
        raise SystemExit("the claimferry console script is not installed")
    return found


def fetch_process(path: Path, config: Path, outbound: Path, claims: int) -> tuple[float, float]:
    """``claimferry fetch`` of the 835 from the mock into a fresh copy of the sent ledger."""
    fresh_copy(path)
    shutil.copyfile(path, outbound / ERA_NAME)
    env = {**os.environ, "CLAIMFERRY_STATE_DIR": str(path.parent / "work")}
    command = [console_script(), "--config", str(config), "fetch", "--account", "bench", "--json"]
    cpu, wall, out = child_run(command, env)
    files = [f for account in json.loads(out) for f in account["files"]]
    with sqlite3.connect(path.parent / "work" / LEDGER_FILE) as db:
        paid = db.execute("SELECT COUNT(*) FROM claims WHERE state = 'paid'").fetchone()[0]
    if [f["error"] for f in files] != [None] or paid != claims:
        raise SystemExit(f"claimferry fetch: {files!r}, {paid} claims paid of {claims}")
    return cpu, wall


def pyx12_process(path: Path) -> tuple[float, float]:
    cpu, wall, out = child_run([sys.executable, __file__, PYX12_CHILD, str(path)], dict(os.environ))
    if not out.strip().isdigit():
        raise SystemExit(f"the pyx12 process printed {out!r}")
    return cpu, wall


def as_users_run(path: Path, claims: int, rounds: int) -> None:
    """The console script as a new process, against a pyx12 process, ``rounds`` times each."""
    from claimferry_harness.server import MockOfficeAlly
    from claimferry_harness.users import HarnessUser

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    password = secrets.token_urlsafe(12)
    folder = path.parent
    users = {"bench": HarnessUser(password=password)}
    with MockOfficeAlly(folder / "harness", users) as server:
        config = folder / "accounts.yaml"
        sftp = {"host": server.host, "port": server.port, "host_key": server.host_key_openssh}
        account = {
            "clearinghouse": "officeally",
            "submitter_id": "BENCH01",
            "mode": "test",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": sftp,
            "credentials": {"source": "env"},
        }
        config.write_text(yaml.safe_dump({"accounts": {"bench": account}}))
        os.environ["CLAIMFERRY_BENCH_SFTP_USERNAME"] = "bench"
        os.environ["CLAIMFERRY_BENCH_SFTP_PASSWORD"] = password
        ours_runs, theirs_runs = [], []
        for number in range(1, rounds + 1):
            ours_runs.append(fetch_process(path, config, server.outbound_dir("bench"), claims))
            theirs_runs.append(pyx12_process(path))
            (ours_cpu, ours_wall), (theirs_cpu, theirs_wall) = ours_runs[-1], theirs_runs[-1]
            print(
                f"round {number}/{rounds}: claimferry fetch {ours_cpu:6.2f} s CPU "
                f"{ours_wall:6.2f} s wall, pyx12 process {theirs_cpu:7.2f} s CPU "
                f"{theirs_wall:7.2f} s wall: {theirs_cpu / ours_cpu:.1f}x CPU",
                flush=True,
            )
    ours_cpu, theirs_cpu = min(c for c, _ in ours_runs), min(c for c, _ in theirs_runs)
    ours_wall, theirs_wall = min(w for _, w in ours_runs), min(w for _, w in theirs_runs)
    ratio = theirs_cpu / ours_cpu
    print(f"claimferry fetch, a new process: {ours_cpu:8.2f} s CPU {ours_wall:7.2f} s wall (best)")
    print(
        f"pyx12, a new process:            {theirs_cpu:8.2f} s CPU {theirs_wall:7.2f} s wall (best)"
    )
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(
        f"as users run it: {ratio:.1f}x faster by CPU, {theirs_wall / ours_wall:.1f}x by wall "
        f"(target >= {TARGET}x: {verdict})"
    )


def best_of(rounds: int, path: Path, claims: int) -> tuple[float, float]:
    """Best CPU seconds of ours and of pyx12 over ``rounds`` alternating runs."""
    ours_times: list[float] = []
    theirs_times: list[float] = []
    for number in range(1, rounds + 1):
        ours_s, ours_n = timed(ours, path)
        theirs_s, theirs_n = timed(theirs, path)
        if ours_n != claims:
            raise SystemExit(f"claimferry read {ours_n} claims of {claims}")
        ours_times.append(ours_s)
        theirs_times.append(theirs_s)
        print(
            f"round {number}/{rounds}: claimferry {ours_s:6.2f} s ({ours_n} claims), "
            f"pyx12 {theirs_s:7.2f} s ({theirs_n} 2100 loops) CPU: {theirs_s / ours_s:.1f}x",
            flush=True,
        )
    return min(ours_times), min(theirs_times)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == PYX12_CHILD:
        print(theirs(Path(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each reader, alternating (best counts)"
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.claims < 1 or args.small < 1:
        parser.error("--rounds, --claims and --small must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / f"{args.claims}.835", Path(tmp) / f"{args.small}.835"
        write_835(big, args.claims)
        write_835(small, args.small)
        sent_ledger(Path(tmp), args.claims)
        sent_ledger(Path(tmp), args.small)
        size = big.stat().st_size / 1e6
        print(f"835 with {args.claims} claims: {size:.1f} MB; {args.rounds} rounds, alternating")
        ours(small)  # warm up: imports, regex and date caches are not the file's
        ours_s, theirs_s = best_of(args.rounds, big, args.claims)
        ratio = theirs_s / ours_s
        verdict = "met" if ratio >= TARGET else "MISSED"
        print(f"claimferry apply_response:  {ours_s:8.2f} s CPU (best of {args.rounds})")
        print(f"pyx12 X12ContextReader:     {theirs_s:8.2f} s CPU (best of {args.rounds})")
        print(f"ratio of bests: {ratio:.1f}x faster (target >= {TARGET}x: {verdict})")
        statements = recorded_sql(big)
        reader_s = min(timed(reader_alone, big)[0] for _ in range(args.rounds))
        sql_s = min(sql_alone(big, statements) for _ in range(args.rounds))
        print(
            f"of ours: reader alone {reader_s:.2f} s ({theirs_s / reader_s:.1f}x pyx12), "
            f"its {len(statements)} SQL statements replayed alone {sql_s:.2f} s, "
            f"the rest {ours_s - reader_s - sql_s:.2f} s"
        )
        peaks = [
            (label, peak_memory(path)) for label, path in ((args.small, small), (args.claims, big))
        ]
        for label, peak in peaks:
            print(f"peak traced memory, {label:>6} claims: {peak / 1024:8.1f} KiB")
        growth = peaks[1][1] / peaks[0][1]
        print(f"memory growth {args.small} -> {args.claims} claims: {growth:.2f}x (flat: about 1x)")
        print(f"as users run it, {args.rounds} rounds, alternating:")
        as_users_run(big, args.claims, args.rounds)


if __name__ == "__main__":
    main()
