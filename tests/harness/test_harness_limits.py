"""The mock cannot be blocked: handles per session are capped, and a failing accept() backs off."""

from __future__ import annotations

import errno
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from claimferry_harness import HarnessUser, MockOfficeAlly
from claimferry_harness.server import MAX_HANDLES
from harness.harness_support import Connect, Session

PASSWORD = "s3cret-test-only"
OTHER_PASSWORD = "other-test-only"


def _server(tmp_path: Path, **options: Any) -> MockOfficeAlly:
    users = {
        "sunrise": HarnessUser(password=PASSWORD),
        "harbor": HarnessUser(password=OTHER_PASSWORD),
    }
    return MockOfficeAlly(tmp_path / "root", users, **options)


def _open_until_refused(sftp: paramiko.SFTPClient, attempts: int) -> list[paramiko.SFTPFile]:
    """Open files in inbound until the server refuses; the handles it granted."""
    held: list[paramiko.SFTPFile] = []
    for n in range(attempts):
        try:
            held.append(sftp.open(f"inbound/held-{n}.part", "wb"))
        except OSError as exc:
            assert not isinstance(exc, (PermissionError, FileNotFoundError)), exc
            break
    return held


def test_handles_past_the_cap_fail_and_others_are_not_locked_out(
    tmp_path: Path, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claimferry_harness")
    with _server(tmp_path, max_handles=8) as server:
        greedy = connect(server, "sunrise", password=PASSWORD)
        held = _open_until_refused(greedy, 50)
        assert len(held) == 8
        with pytest.raises(OSError, match="Failure"):
            greedy.listdir("inbound")  # a folder handle counts too
        with pytest.raises(OSError, match="Failure"):
            greedy.open("inbound/one-more.part", "wb")
        assert greedy.stat("inbound").st_mode  # what holds no handle still works
        # Another user, and another session of the same user, are served as usual.
        other = connect(server, "harbor", password=OTHER_PASSWORD)
        other.putfo(io.BytesIO(b"fine"), "inbound/other.txt")
        assert other.listdir("inbound") == ["other.txt"]
        second = connect(server, "sunrise", password=PASSWORD)
        assert len(second.listdir("inbound")) == 8
        # The handles granted work, and closing one makes room for another.
        held[0].write(b"still usable")
        held[0].close()
        with greedy.open("inbound/after.part", "wb") as stream:
            stream.write(b"room again")
        for handle in held[1:]:
            handle.close()
        assert sorted(greedy.listdir("inbound"))[0] == "after.part"
    refused = [r for r in caplog.records if "most allowed" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in refused][:1] == [
        (
            logging.INFO,
            "user sunrise holds 8 open handles in one SFTP session, the most allowed; "
            "further opens fail until some are closed",
        )
    ]


def test_the_default_cap_is_64_handles_per_session(tmp_path: Path, connect: Connect) -> None:
    assert MAX_HANDLES == 64
    with _server(tmp_path) as server:
        held = _open_until_refused(connect(server, "sunrise", password=PASSWORD), 200)
        assert len(held) == MAX_HANDLES
        for handle in held:
            handle.close()


def test_the_cap_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_handles"):
        _server(tmp_path, max_handles=0)


class _StarvedListener(socket.socket):
    """A real listening socket whose accept() fails with EMFILE while ``starved`` is set."""

    starved = threading.Event()
    attempts = 0

    def accept(self) -> tuple[socket.socket, Any]:
        if _StarvedListener.starved.is_set():
            _StarvedListener.attempts += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


@pytest.fixture
def starved_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockOfficeAlly]:
    real_create_server = socket.create_server

    def create_server(address: Any, **kwargs: Any) -> socket.socket:
        made = real_create_server(address, **kwargs)
        return _StarvedListener(made.family, made.type, made.proto, fileno=made.detach())

    monkeypatch.setattr(socket, "create_server", create_server)
    _StarvedListener.starved.clear()
    _StarvedListener.attempts = 0
    with _server(tmp_path) as server:
        assert isinstance(server, MockOfficeAlly)
        yield server


def test_a_failing_accept_backs_off_and_serves_the_client_once_it_works(
    starved_server: MockOfficeAlly, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claimferry_harness")
    _StarvedListener.starved.set()
    sessions: list[Session] = []
    failures: list[BaseException] = []

    def log_in() -> None:
        try:
            sessions.append(Session(starved_server, "harbor", password=OTHER_PASSWORD, timeout=15))
        except BaseException as exc:  # reported below
            failures.append(exc)

    client = threading.Thread(target=log_in)
    client.start()  # the TCP connection waits in the backlog: the listener stays readable
    time.sleep(1.0)
    attempts = _StarvedListener.attempts
    # Pauses of 0.01, 0.02, 0.04 ... 0.64 s: about 7 tries in a second; a spinning
    # loop makes tens of thousands.
    assert 3 <= attempts <= 10, attempts
    _StarvedListener.starved.clear()  # resources are back
    client.join(15)
    assert not client.is_alive() and not failures, failures
    try:
        assert sorted(sessions[0].sftp.listdir("/")) == ["inbound", "outbound"]
    finally:
        sessions[0].close()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if "accept" in r.getMessage()]
    assert messages == [
        (logging.WARNING, "cannot accept connections (EMFILE); retrying with pauses of up to 1s"),
        (logging.INFO, "accepting connections again"),
    ]


def test_stop_is_not_held_up_by_an_accept_pause(starved_server: MockOfficeAlly) -> None:
    _StarvedListener.starved.set()
    waiting = socket.create_connection((starved_server.host, starved_server.port), timeout=5)
    deadline = time.monotonic() + 10
    while _StarvedListener.attempts < 7 and time.monotonic() < deadline:
        time.sleep(0.02)  # now in pauses of up to a second
    started = time.monotonic()
    starved_server.stop()
    assert time.monotonic() - started < 0.5
    waiting.close()
