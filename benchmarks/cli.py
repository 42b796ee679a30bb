"""Benchmark: the ``claimferry`` console script as users run it, against pyx12.

Run from the repository root::

    .venv/bin/python benchmarks/cli.py                      # 1,000 claims, YAML and JSON
    .venv/bin/python benchmarks/cli.py --sizes 10000 --formats yaml,json,jsonl
    .venv/bin/python benchmarks/cli.py --sizes 1000,10000   # the issue's targets at 10,000
    .venv/bin/python benchmarks/cli.py --sizes 100000 --formats jsonl --rounds 1

For each size and format it writes the claims file with the generator of
``benchmarks/build_837.py`` (seeded, so runs compare), then, every round:

1. pyx12 validates the 837P that ``build`` wrote, as a new process;
2. each ``claimferry`` command runs as a new process, the real console script
   (``claims_per_interchange`` set to the file's size, so ``build`` and ``submit``
   make the one 837P pyx12 reads):
   ``validate --account``, ``build --account -o``, ``submit`` to a mock Office
   Ally on loopback (a fresh state directory and mock each round, so every
   round sends every claim), ``fetch`` of the mock's answers (999, 277CA, its
   EDI status report, 835), ``status`` of all the claims, ``remits export``.

The mock runs in this process and the client in its own, as in real life; both
share the machine's cores. Each figure is the best (minimum) wall time of the
rounds; memory is the child's own peak RSS (``os.wait4``), the highest of the
rounds. The ratio is pyx12's best time over the command's: how many times
faster than pyx12 validating the same file. Targets (issue 16, at 10,000
claims): ``build`` at least 15x pyx12 on YAML, 25x on JSON; ``validate`` at
least as fast as ``build``; ``submit`` within 1.5x of ``build``; ``fetch``
under 5 s. Figures for other sizes are printed without a verdict.

A command that fails stops the run with its output: a benchmark of a command
that did not do its work measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_837 import write_claims_file

from claimferry_harness import HarnessUser, MockOfficeAlly
from claimferry_harness.demo import ACCOUNT, _write_config  # the demo's own account

COMMANDS = ("validate", "build", "submit", "fetch", "status", "remits-export")
TARGET_SIZE = 10_000
BUILD_TARGET = {"yaml": 15.0, "json": 25.0, "jsonl": 25.0}
SUBMIT_OVER_BUILD = 1.5
FETCH_SECONDS = 5.0
PYX12_FLAG = "--_pyx12"


@dataclass
class Run:
    seconds: float
    rss_mb: float


@dataclass
class Figures:
    claims: int
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def add(self, name: str, run: Run) -> None:
        self.runs.setdefault(name, []).append(run)

    def best(self, name: str) -> float:
        return min(run.seconds for run in self.runs[name])

    def rss(self, name: str) -> float:
        return max(run.rss_mb for run in self.runs[name])


_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Starts the command and reports its wall time and peak RSS. Linux hands an
exec'd child the peak RSS of the process that forked it, so the command is
forked from this small launcher, not from the benchmark (with its mock server
and pyx12 loaded), whose size every child would otherwise report."""


def timed(argv: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[Run, str, str]:
    """``argv`` as a new process: its wall time, its own peak RSS and output."""
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures"
        launcher = [sys.executable, "-c", _LAUNCHER, str(figures), *argv]
        result = subprocess.run(launcher, capture_output=True, env=env, cwd=cwd, check=False)
        stdout, stderr = result.stdout.decode(), result.stderr.decode()
        if result.returncode != 0:
            raise SystemExit(
                f"{' '.join(argv)} failed (exit {result.returncode}):\n{stderr[-3000:]}"
            )
        seconds, maxrss = figures.read_text().split()
    rss = int(maxrss) / 2**20 if sys.platform == "darwin" else int(maxrss) / 1024
    return Run(float(seconds), rss), stdout, stderr


def claimferry() -> str:
    """The installed console script, beside this interpreter."""
    script = Path(sys.executable).with_name("claimferry")
    if not script.exists():
        raise SystemExit(f"no console script at {script}: pip install -e . first")
    return str(script)


def run_pyx12(path: Path) -> None:
    """The comparison, in its own process: pyx12's API (its x12valid command's exit
    code is not a verdict), with its 997 and log thrown away."""
    import io
    import logging

    import pyx12.params
    import pyx12.x12n_document

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=str(path), fd_997=io.StringIO(),
        fd_html=None, fd_json=None,
    )  # fmt: skip
    raise SystemExit(0 if ok else 1)


def one_round(
    folder: Path, claims_path: Path, x12_path: Path, figures: Figures, first: bool
) -> None:
    """pyx12 first, then every command once, on a fresh mock and state directory."""
    script = claimferry()
    work = folder / f"round-{secrets.token_hex(4)}"
    work.mkdir()
    password = secrets.token_urlsafe(18)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        f"CLAIMFERRY_{ACCOUNT.upper()}_SFTP_USERNAME": ACCOUNT,
        f"CLAIMFERRY_{ACCOUNT.upper()}_SFTP_PASSWORD": password,
        "CLAIMFERRY_CLAIMS_FILE_LIMIT_MB": "2000",
    }
    if not first:
        run, _, _ = timed([sys.executable, __file__, PYX12_FLAG, str(x12_path)], env, work)
        figures.add("pyx12", run)
    with MockOfficeAlly(work / "harness", {ACCOUNT: HarnessUser(password=password)}) as server:
        config_path = _write_config(work, server)
        with config_path.open("a", encoding="utf-8") as handle:  # one 837P, as pyx12 reads
            handle.write(f"claims_per_interchange: {figures.claims}\n")
        config = str(config_path)
        base = [script, "--config", config]
        claims = str(claims_path)
        steps: list[tuple[str, list[str]]] = [
            ("validate", ["validate", claims, "--account", ACCOUNT]),
            ("build", ["build", claims, "--account", ACCOUNT, "-o", str(work / "built.837")]),
            ("submit", ["submit", claims, "--account", ACCOUNT, "--json"]),
        ]
        for name, args in steps:
            run, stdout, _ = timed([*base, *args], env, work)
            figures.add(name, run)
        if first:  # the 837P pyx12 judges is the one build wrote
            x12_path.write_bytes((work / "built.837").read_bytes())
            run, _, _ = timed([sys.executable, __file__, PYX12_FLAG, str(x12_path)], env, work)
            figures.add("pyx12", run)
        sent = json.loads(stdout)
        if not server.wait_idle(600):
            raise SystemExit("the mock did not answer within 600 s")
        run, stdout, _ = timed([*base, "fetch", "--account", ACCOUNT, "--json"], env, work)
        figures.add("fetch", run)
        fetched = json.loads(stdout)
        later = [
            ("status", ["status", "--json"]),
            ("remits-export", ["remits", "export", "-o", str(work / "remits.csv")]),
        ]
        for name, args in later:
            run, stdout, _ = timed([*base, *args], env, work)
            figures.add(name, run)
    _check_work(sent, fetched, claims_count=figures.claims)


def _check_work(sent: Any, fetched: Any, claims_count: int) -> None:
    """Every claim was sent, and answers came back and were read: a round that
    did less measured less."""
    delivered = sum(batch["claims"] for batch in sent["delivered"])
    accounts = fetched if isinstance(fetched, list) else [fetched]
    files = [f for account in accounts for f in account["files"]]
    errors = [f["error"] for f in files if f["error"]] + [
        a["error"] for a in accounts if a.get("error")
    ]
    updated = sum(f["claims_updated"] for f in files)
    if delivered != claims_count or not files or errors or updated < claims_count:
        raise SystemExit(
            f"the round did not do the work: {delivered} of {claims_count} claims sent, "
            f"{len(files)} answers fetched, {updated} claim updates, errors: {errors}"
        )


def report(size: int, fmt: str, claims_path: Path, figures: Figures) -> list[str]:
    """One line per command; the verdicts where the issue sets a target."""
    pyx12 = figures.best("pyx12")
    print(f"{size:,} claims, {fmt} ({claims_path.stat().st_size / 1e6:.1f} MB), "
          f"best of {len(figures.runs['pyx12'])}:")  # fmt: skip
    print(f"  {'command':<14} {'wall s':>8} {'claims/s':>10} {'max RSS MB':>11} {'vs pyx12':>9}")
    for name in ("pyx12", *COMMANDS):
        best = figures.best(name)
        ratio = "" if name == "pyx12" else f"{pyx12 / best:8.1f}x"
        print(f"  {name:<14} {best:8.2f} {size / best:10,.0f} {figures.rss(name):11.0f} {ratio:>9}")
    if size != TARGET_SIZE:
        return []
    missed = []
    build, validate = figures.best("build"), figures.best("validate")
    checks = [
        (f"build {pyx12 / build:.1f}x pyx12 (target >= {BUILD_TARGET[fmt]:.0f}x)",
         pyx12 / build >= BUILD_TARGET[fmt]),
        (f"validate {validate:.2f}s vs build {build:.2f}s (target: not slower)",
         validate <= build),
        (f"submit {figures.best('submit') / build:.2f}x build (target <= {SUBMIT_OVER_BUILD}x)",
         figures.best("submit") <= SUBMIT_OVER_BUILD * build),
        (f"fetch {figures.best('fetch'):.2f}s (target < {FETCH_SECONDS:.0f}s)",
         figures.best("fetch") < FETCH_SECONDS),
    ]  # fmt: skip
    for text, met in checks:
        print(f"  {'met   ' if met else 'MISSED'} {text}")
        if not met:
            missed.append(f"{fmt}: {text}")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [PYX12_FLAG]:
        run_pyx12(Path(args[1]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000", help="claims per file, comma-separated")
    parser.add_argument("--formats", default="yaml,json", help="yaml, json, jsonl, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="alternate runs (best kept)")
    parser.add_argument("--keep", type=Path, help="keep the files here")
    options = parser.parse_args(args)
    try:
        sizes = [int(size) for size in options.sizes.split(",")]
    except ValueError:
        parser.error("--sizes takes numbers separated by commas, e.g. 1000,10000")
    formats = options.formats.split(",")
    if options.rounds < 1 or any(size < 1 for size in sizes):
        parser.error("--rounds and --sizes must be at least 1")
    if not set(formats) <= set(BUILD_TARGET):
        parser.error("--formats takes yaml, json, jsonl or several, comma-separated")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = options.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            for fmt in formats:
                claims_path = folder / f"claims-{size}.{fmt}"
                write_claims_file(claims_path, size)
                x12_path = folder / f"claims-{size}.837"
                figures = Figures(claims=size)
                for round_number in range(options.rounds):
                    one_round(folder, claims_path, x12_path, figures, round_number == 0)
                missed += report(size, fmt, claims_path, figures)
    if missed:
        print("TARGETS MISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
