"""Upload throughput: the shared SFTP mailbox (Office Ally profile) against OpenSSH's ``sftp``.

Starts a throwaway local sshd (the interop tests' ``LocalSshd``), then uploads
the same file several times with each client and prints MB/s and the ratio.
The target is at least 0.8x OpenSSH.

    .venv/bin/python benchmarks/upload.py [--size-mib 64] [--rounds 3]

Our figure includes everything an upload does: the temporary name, the size
check and the rename; OpenSSH's is a plain ``put``. Both run over loopback on
one machine, so both are CPU-bound: the ratio is what to read, not the MB/s.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import paramiko

from claimferry.api import Account, Credentials, SecretStr, SftpSettings
from claimferry_officeally.transport import Tuning, make_transport
from interop.openssh import LocalSshd, unavailable_reason

MIB = 1024 * 1024


def _account(sshd: LocalSshd) -> Account:
    settings = SftpSettings(
        host="127.0.0.1", port=sshd.port, host_key=sshd.host_key_line, operation_timeout=120
    )
    return Account(name="bench", clearinghouse="officeally", submitter_id="BENCH", sftp=settings)


def _sftp_command(sshd: LocalSshd, batch: Path, known: Path) -> list[str]:
    return [
        "sftp", "-q", "-b", str(batch), "-P", str(sshd.port), "-i", str(sshd.client_key),
        "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        f"{sshd.user}@127.0.0.1",
    ]  # fmt: skip


def _timed_sftp(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _stock_paramiko(sshd: LocalSshd, data: bytes, name: str) -> float:
    """paramiko's own ``putfo`` (pipelined ``SFTPFile``, default settings), for reference."""
    key = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))
    with paramiko.Transport(("127.0.0.1", sshd.port)) as transport:
        transport.connect(username=sshd.user, pkey=key)
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        started = time.perf_counter()
        sftp.putfo(io.BytesIO(data), f"inbound/{name}")
        return time.perf_counter() - started


def measure(
    sshd: LocalSshd, data: bytes, source: Path, rounds: int, tuning: Tuning, workdir: Path
) -> dict[str, list[float]]:
    """Seconds per upload for each client, rounds interleaved so they share the noise.

    OpenSSH's connection setup (a ``pwd``-only batch) is timed apart and
    subtracted, since our session is opened once outside the timing.
    """
    known = workdir / "known_hosts"
    known.write_text(sshd.known_hosts_line() + "\n")
    setup_batch, put_batch = workdir / "setup.batch", workdir / "put.batch"
    setup_batch.write_text("pwd\n")
    creds = Credentials(username=sshd.user, private_key=SecretStr(sshd.client_key_text))
    times: dict[str, list[float]] = {"ours": [], "openssh": [], "stock": []}
    setup: list[float] = []
    with closing(make_transport(tuning=tuning).open(_account(sshd), creds)) as session:
        for n in range(rounds):
            started = time.perf_counter()
            session.upload(data, f"BENCH_837P_{n:09d}.txt")
            times["ours"].append(time.perf_counter() - started)
            put_batch.write_text(f"put {source} inbound/OPENSSH_{n:09d}.txt\n")
            times["openssh"].append(_timed_sftp(_sftp_command(sshd, put_batch, known)))
            setup.append(_timed_sftp(_sftp_command(sshd, setup_batch, known)))
            times["stock"].append(_stock_paramiko(sshd, data, f"STOCK_{n:09d}.txt"))
    overhead = statistics.median(setup)
    times["openssh"] = [max(s - overhead, 1e-9) for s in times["openssh"]]
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--outstanding", type=int, default=Tuning.outstanding)
    parser.add_argument("--request-size", type=int, default=Tuning.request_size)
    parser.add_argument("--cipher", action="append", help="preferred cipher (repeatable)")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return 2
    tuning = Tuning(
        outstanding=args.outstanding,
        request_size=args.request_size,
        ciphers=tuple(args.cipher) if args.cipher else Tuning.ciphers,
    )
    size = args.size_mib * MIB
    data = os.urandom(size)
    with tempfile.TemporaryDirectory(prefix="claimferry-bench-") as tmp:
        workdir = Path(tmp)
        source = workdir / "payload.bin"
        source.write_bytes(data)
        with LocalSshd(workdir / "sshd") as sshd:
            times = measure(sshd, data, source, args.rounds, tuning, workdir)
            delivered = (sshd.home / "inbound" / "BENCH_837P_000000000.txt").read_bytes()
            assert hashlib.sha256(delivered).digest() == hashlib.sha256(data).digest()
    rate = {client: size / MIB / statistics.median(s) for client, s in times.items()}
    print(f"file: {args.size_mib} MiB, rounds: {args.rounds} (median), {tuning}")
    print(f"claimferry transport:     {rate['ours']:7.1f} MiB/s  runs: {_fmt(times['ours'])}")
    print(f"OpenSSH sftp -b put:      {rate['openssh']:7.1f} MiB/s  runs: {_fmt(times['openssh'])}")
    print(f"paramiko putfo (stock):   {rate['stock']:7.1f} MiB/s  runs: {_fmt(times['stock'])}")
    print(f"ratio: {rate['ours'] / rate['openssh']:.2f}x OpenSSH (target >= 0.80x)")
    return 0


def _fmt(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}s" for s in seconds)


if __name__ == "__main__":
    raise SystemExit(main())
