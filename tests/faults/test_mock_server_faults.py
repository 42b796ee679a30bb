"""Issue 11, "the mock does not lose or block": the faults that broke, against the real CLI.

Each test runs ``claimferry harness serve`` in a child process and starves it
of file descriptors (its RLIMIT_NOFILE lowered while it runs) the way the
fault run did, then checks that other users are still served and that the
accept loop waits instead of spinning.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest

from harness.serve_support import ServeProcess

GREEDY = ("greedy", "greedy-test-only-1")
OTHER = ("other", "other-test-only-2")


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n"
        + "".join(f'  {name}: {{password: "{password}"}}\n' for name, password in (GREEDY, OTHER))
    )
    return path


Serve = Callable[..., ServeProcess]


@pytest.fixture
def serve(tmp_path: Path, users_file: Path) -> Iterator[Serve]:
    """``serve(*options)``: a started ``claimferry harness serve``, killed after the test."""
    started: list[ServeProcess] = []

    def start(*options: str) -> ServeProcess:
        started.append(ServeProcess(tmp_path / "root", users_file, *options))
        return started[-1]

    yield start
    for process in started:
        process.close()


def _sftp(transport: paramiko.Transport) -> paramiko.SFTPClient:
    sftp = paramiko.SFTPClient.from_transport(transport)
    assert sftp is not None
    return sftp


def _hold_handles(sftp: paramiko.SFTPClient, wanted: int) -> list[paramiko.SFTPFile]:
    """Open up to ``wanted`` files, stopping at the first refusal."""
    held: list[paramiko.SFTPFile] = []
    for n in range(wanted):
        try:
            held.append(sftp.open(f"inbound/held-{n}.part", "wb"))
        except OSError:
            break
    return held


def _others_are_served(served: ServeProcess) -> None:
    transport = served.login(*OTHER, timeout=10)
    try:
        sftp = _sftp(transport)
        sftp.putfo(io.BytesIO(b"still served"), "inbound/other.txt")
        assert sftp.listdir("inbound") == ["other.txt"]
    finally:
        transport.close()


def test_a_client_holding_140_handles_under_a_low_fd_limit_locks_nobody_out(serve: Serve) -> None:
    served = serve()
    served.limit_descriptors(100)  # room for the default cap of 64, not for 140
    greedy = served.login(*GREEDY)
    try:
        held = _hold_handles(_sftp(greedy), 140)
        assert len(held) == 64
        assert served.open_descriptors() < 100
        cpu = served.cpu_seconds()
        _others_are_served(served)
        assert served.cpu_seconds() - cpu < 1.0
    finally:
        greedy.close()
    text = served.stop()
    assert "user greedy holds 64 open handles in one SFTP session, the most allowed" in text
    assert "cannot accept connections" not in text and "Traceback" not in text


def test_out_of_descriptors_the_accept_loop_waits_then_serves_the_waiting_client(
    serve: Serve,
) -> None:
    served = serve("--max-handles", "1000")
    served.limit_descriptors(40)
    greedy = served.login(*GREEDY)
    outcome: list[BaseException | None] = []

    def other_client() -> None:
        try:
            _others_are_served(served)
            outcome.append(None)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    try:
        held = _hold_handles(_sftp(greedy), 100)
        assert 10 < len(held) < 40  # every descriptor of the server is now in use
        waiting = threading.Thread(target=other_client)
        waiting.start()  # its TCP connection waits in the backlog; accept() fails with EMFILE
        served.stderr.wait_for("cannot accept connections (EMFILE)")
        cpu = served.cpu_seconds()
        time.sleep(1.0)
        assert served.cpu_seconds() - cpu < 0.3  # a spinning loop burns the whole second
        assert not outcome, "served while every descriptor was in use?"
        for handle in held:
            handle.close()  # resources are back
        waiting.join(15)
        assert outcome == [None]
        served.stderr.wait_for("accepting connections again")
    finally:
        greedy.close()
    assert "Traceback" not in served.stop()


def test_a_user_name_with_a_trailing_newline_is_refused_by_serve(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text('users:\n  "alice\\n": {password: "x-test-only"}\n')
    command = ["harness", "serve", "--root", str(tmp_path / "r"), "--users", str(users)]
    result = subprocess.run(
        [sys.executable, "-m", "claimferry", *command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "users.'alice\\n': user name 'alice\\n' must" in result.stderr
    assert "Traceback" not in result.stderr and "x-test-only" not in result.stderr
    assert not (tmp_path / "r").exists()  # refused before anything was created
