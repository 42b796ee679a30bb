"""The SFTP server itself: logins, the jail, operations, concurrency, lifecycle, faults."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import socket
import stat
import struct
import threading
import time
from pathlib import Path

import paramiko
import pytest

from claimferry_harness import Faults, HarnessLogin, HarnessUser, MockOfficeAlly
from claimferry_harness.sftp import SessionSFTPServer
from claimferry_harness.transport import ServerTransport
from harness.harness_support import Connect, Session, TestClaim, build_837, new_ed25519, upload

PASSWORD = "s3cret-test-only"


@pytest.fixture
def server(tmp_path: Path) -> MockOfficeAlly:
    srv = MockOfficeAlly(tmp_path / "root", {"sunrise": HarnessUser(password=PASSWORD)})
    with srv:
        yield srv  # type: ignore[misc]


# --- authentication -----------------------------------------------------------


def test_password_login_and_refusals(server: MockOfficeAlly, connect: Connect) -> None:
    sftp = connect(server, "sunrise", password=PASSWORD)
    assert sorted(sftp.listdir("/")) == ["inbound", "outbound"]
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, "sunrise", password=PASSWORD + "x")
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, "nobody", password=PASSWORD)


def test_public_key_login_and_unknown_key(server: MockOfficeAlly, connect: Connect) -> None:
    key, public, _ = new_ed25519()
    other, _, _ = new_ed25519()
    server.add_user("harbor", public_keys=[public])
    sftp = connect(server, "harbor", pkey=key)
    assert sorted(sftp.listdir(".")) == ["inbound", "outbound"]
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, "harbor", pkey=other)
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, "harbor", password="anything")  # a key-only user has no password
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, "sunrise", pkey=key)  # the key belongs to another user


def test_a_key_without_a_valid_signature_opens_nothing(server: MockOfficeAlly) -> None:
    """The server's key check runs before the signature check: it must not log anyone in."""
    _, public, pem = new_ed25519()
    forger, _, _ = new_ed25519()
    server.add_user("harbor", public_keys=[public])

    class Forged(paramiko.Ed25519Key):
        def sign_ssh_data(self, data: bytes, algorithm: str | None = None) -> paramiko.Message:
            return forger.sign_ssh_data(data, algorithm)

    forged = Forged.from_private_key(io.StringIO(pem.decode()))
    transport = paramiko.Transport((server.host, server.port))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_publickey("harbor", forged)
        with pytest.raises(paramiko.SSHException):
            transport.open_session(timeout=5)
    finally:
        transport.close()


def test_users_are_jailed_in_their_own_folders(server: MockOfficeAlly, connect: Connect) -> None:
    server.add_user("harbor", password="harbor-test-only")
    sunrise = connect(server, "sunrise", password=PASSWORD)
    harbor = connect(server, "harbor", password="harbor-test-only")
    sunrise.putfo(io.BytesIO(b"mine"), "/inbound/note.txt")
    assert harbor.listdir("/inbound") == []
    assert (server.user_dir("sunrise") / "inbound" / "note.txt").read_bytes() == b"mine"
    with pytest.raises(OSError):
        harbor.stat("/../sunrise/inbound/note.txt")


# --- the jail -------------------------------------------------------------------


def test_dot_dot_and_absolute_paths_stay_in_the_jail(
    server: MockOfficeAlly, connect: Connect
) -> None:
    sftp = connect(server, "sunrise", password=PASSWORD)
    assert sorted(sftp.listdir("../../..")) == ["inbound", "outbound"]
    assert sftp.normalize("../../inbound/../..") == "/"
    for path in ("../../host_key", "/../../host_key", "/etc/passwd", "../../../../etc/passwd"):
        with pytest.raises(FileNotFoundError):
            sftp.stat(path)
    sftp.putfo(io.BytesIO(b"x"), "/inbound/abs.txt")
    sftp.putfo(io.BytesIO(b"y"), "../inbound/rel.txt")
    assert sorted(p.name for p in server.inbound_dir("sunrise").iterdir()) == ["abs.txt", "rel.txt"]


def test_symlinks_pointing_outside_are_refused(
    server: MockOfficeAlly, connect: Connect, tmp_path: Path
) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("not yours")
    inbound = server.inbound_dir("sunrise")
    (inbound / "link.txt").symlink_to(secret)
    (inbound / "linkdir").symlink_to(tmp_path)
    sftp = connect(server, "sunrise", password=PASSWORD)
    for action in (
        lambda: sftp.open("inbound/link.txt").read(),
        lambda: sftp.stat("inbound/link.txt"),
        lambda: sftp.listdir("inbound/linkdir"),
        lambda: sftp.stat("inbound/linkdir/outside.txt"),
        lambda: sftp.open("inbound/linkdir/new.txt", "wb"),
    ):
        with pytest.raises(PermissionError):
            action()
    assert stat.S_ISLNK(sftp.lstat("inbound/link.txt").st_mode or 0)
    with pytest.raises(OSError):
        sftp.symlink("/etc/passwd", "inbound/mine")
    assert secret.read_text() == "not yours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt", "root"]


def test_outbound_is_read_only(server: MockOfficeAlly, connect: Connect) -> None:
    (server.outbound_dir("sunrise") / "123456789_999_20240101.999").write_text("ack")
    sftp = connect(server, "sunrise", password=PASSWORD)
    sftp.putfo(io.BytesIO(b"x"), "inbound/a.txt")
    attempts = {
        "write": lambda: sftp.open("outbound/new.txt", "wb"),
        "append": lambda: sftp.open("outbound/123456789_999_20240101.999", "a"),
        "rename-in": lambda: sftp.rename("inbound/a.txt", "outbound/a.txt"),
        "posix-rename-in": lambda: sftp.posix_rename("inbound/a.txt", "outbound/a.txt"),
        "rename-out": lambda: sftp.rename("outbound/123456789_999_20240101.999", "inbound/b"),
        "remove": lambda: sftp.remove("outbound/123456789_999_20240101.999"),
        "mkdir": lambda: sftp.mkdir("outbound/sub"),
        "rmdir": lambda: sftp.rmdir("outbound"),
        "chmod": lambda: sftp.chmod("outbound/123456789_999_20240101.999", 0o777),
    }
    for name, attempt in attempts.items():
        with pytest.raises(PermissionError):
            attempt()
            pytest.fail(f"{name} was allowed")
    assert sftp.open("outbound/123456789_999_20240101.999").read() == b"ack"
    assert sorted(sftp.listdir("outbound")) == ["123456789_999_20240101.999"]


def test_file_operations(server: MockOfficeAlly, connect: Connect) -> None:
    sftp = connect(server, "sunrise", password=PASSWORD)
    sftp.mkdir("inbound/sub")
    with sftp.open("inbound/sub/f.txt", "wb") as stream:
        stream.write(b"hello world")
    assert sftp.stat("inbound/sub/f.txt").st_size == 11
    assert sftp.lstat("inbound/sub/f.txt").st_size == 11
    with sftp.open("inbound/sub/f.txt", "rb") as stream:
        stream.seek(6)
        assert stream.read() == b"world"
    attrs = {a.filename: a for a in sftp.listdir_attr("inbound/sub")}
    assert attrs["f.txt"].st_size == 11 and stat.S_ISREG(attrs["f.txt"].st_mode or 0)
    sftp.putfo(io.BytesIO(b"other"), "inbound/sub/g.txt")
    with pytest.raises(OSError):
        sftp.rename("inbound/sub/f.txt", "inbound/sub/g.txt")  # v3 rename never overwrites
    sftp.posix_rename("inbound/sub/f.txt", "inbound/sub/g.txt")
    assert sftp.open("inbound/sub/g.txt").read() == b"hello world"
    sftp.rename("inbound/sub/g.txt", "inbound/sub/h.txt")
    assert sftp.listdir("inbound/sub") == ["h.txt"]
    with pytest.raises(OSError):
        sftp.rmdir("inbound/sub")  # not empty
    sftp.remove("inbound/sub/h.txt")
    sftp.rmdir("inbound/sub")
    assert sftp.listdir("inbound") == []
    with pytest.raises(FileNotFoundError):
        sftp.remove("inbound/missing")
    with pytest.raises(PermissionError):
        sftp.rmdir("inbound")  # the account's own folders stay


# --- concurrency and lifecycle ---------------------------------------------------


def test_fifty_concurrent_sessions(server: MockOfficeAlly) -> None:
    sessions: list[Session] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def open_one() -> None:
        try:
            session = Session(server, "sunrise", password=PASSWORD, timeout=30)
            with lock:
                sessions.append(session)
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors[:3]
        assert len(sessions) == 50
        for n, session in enumerate(sessions):
            session.sftp.putfo(io.BytesIO(b"x" * n), f"inbound/s{n}.txt")
        assert len(sessions[0].sftp.listdir("inbound")) == 50
    finally:
        for session in sessions:
            session.close()


def test_bare_tcp_connections_do_not_hurt(server: MockOfficeAlly, connect: Connect) -> None:
    for _ in range(5):
        socket.create_connection((server.host, server.port)).close()
    idle = socket.create_connection((server.host, server.port))  # connected, never speaks
    junk = socket.create_connection((server.host, server.port))
    junk.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        sftp = connect(server, "sunrise", password=PASSWORD)
        assert sorted(sftp.listdir("/")) == ["inbound", "outbound"]
    finally:
        idle.close()
        junk.close()


def _harness_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t is not threading.main_thread()}


def _server_threads() -> list[threading.Thread]:
    """Threads a server starts: accept loop, processing, transports, SFTP sessions."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("oa-harness") or isinstance(t, (ServerTransport, SessionSFTPServer))
    ]


def _read_until_closed(sock: socket.socket, timeout: float = 10) -> bytes:
    """What the server sent before it closed the connection (a reset counts as closed)."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


def test_stop_closes_sessions_and_leaves_no_threads_or_sockets(tmp_path: Path) -> None:
    before = _harness_threads()
    fds_before = len(os.listdir("/proc/self/fd"))
    server = MockOfficeAlly(tmp_path, {"u": HarnessUser(password=PASSWORD)}).start()
    sessions = [Session(server, "u", password=PASSWORD) for _ in range(3)]
    idle = socket.create_connection((server.host, server.port))
    sessions[0].sftp.putfo(io.BytesIO(build_837([TestClaim("A")])), "inbound/a_837P.txt")
    server.stop()
    assert _server_threads() == []  # joined by stop(), not merely on their way out
    server.stop()  # twice is harmless
    for session in sessions:  # each client's transport sees the server close the connection
        session.transport.join(10)
        assert not session.transport.is_active()
    with pytest.raises(OSError):
        sessions[1].sftp.listdir("/")
    _read_until_closed(idle)
    for session in sessions:
        session.close()
    idle.close()
    # Client-side helper threads (paramiko's cancelled handshake timers) may still be exiting.
    deadline = time.monotonic() + 5
    while _harness_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _harness_threads() - before == set()
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()


def test_stop_during_key_exchange_leaves_no_thread(server: MockOfficeAlly) -> None:
    """paramiko's handshake timer would outlive a connection that dies during key exchange."""
    before = set(threading.enumerate())
    stalled = socket.create_connection((server.host, server.port), timeout=10)
    stalled.sendall(b"SSH-2.0-stalled_client\r\n")
    _read_past_banner(stalled, extra=5)  # the server's KEXINIT: its handshake timer runs
    assert any(isinstance(t, threading.Timer) for t in set(threading.enumerate()) - before)
    server.stop()
    assert [t for t in set(threading.enumerate()) - before if t.is_alive()] == []
    _read_until_closed(stalled)
    stalled.close()


def _transport_log(caplog: pytest.LogCaptureFixture, port: int) -> list[logging.LogRecord]:
    """What the harness said, at INFO or above, about the client on ``port``."""
    return [
        r
        for r in caplog.records
        if r.name == "claimferry_harness.transport"
        and r.levelno >= logging.INFO
        and f":{port} " in r.getMessage()
    ]


def _wait_for_transport_log(
    caplog: pytest.LogCaptureFixture, port: int, timeout: float = 10
) -> list[logging.LogRecord]:
    deadline = time.monotonic() + timeout
    while not (found := _transport_log(caplog, port)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def _read_past_banner(sock: socket.socket, extra: int = 0) -> None:
    """Read the server's banner line and then ``extra`` bytes (its KEXINIT, once sent)."""
    received = b""
    while b"\n" not in received or len(received.partition(b"\n")[2]) < extra:
        received += sock.recv(4096)


def _linger_zero(sock: socket.socket) -> None:
    """Make the socket's close a TCP reset, as a crashed client or a middlebox would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_expected_disconnects_are_one_info_line_and_stop_is_quiet(
    server: MockOfficeAlly, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bare = socket.create_connection((server.host, server.port), timeout=10)
    bare_port = bare.getsockname()[1]
    _read_past_banner(bare)  # nothing left unread, so close() is a plain FIN
    bare.close()
    early = socket.create_connection((server.host, server.port), timeout=10)
    early_port = early.getsockname()[1]
    early.sendall(b"SSH-2.0-resetting_client\r\n")
    _read_past_banner(early, extra=5)  # the server is now waiting in key exchange
    _linger_zero(early)
    early.close()
    session = Session(server, "sunrise", password=PASSWORD)
    assert session.sftp.listdir("/")
    client_sock = session.transport.sock
    assert isinstance(client_sock, socket.socket)
    session_port = client_sock.getsockname()[1]
    _linger_zero(client_sock)
    session.transport.close()  # no goodbye on the channel: the server just sees the reset
    session.close()
    expected = {
        bare_port: "closed the connection before sending an SSH banner",
        early_port: "reset the connection (ConnectionResetError) before logging in",
        session_port: "reset the connection (ConnectionResetError) (user sunrise)",
    }
    for port, text in expected.items():
        assert _wait_for_transport_log(caplog, port), (text, caplog.text)
    # An orderly stop with clients still connected, one of them before its banner.
    idle = socket.create_connection((server.host, server.port))
    connect(server, "sunrise", password=PASSWORD).listdir("/")
    server.stop()
    for port, text in expected.items():
        records = _transport_log(caplog, port)
        assert [(r.levelno, r.getMessage().partition(f":{port} ")[2]) for r in records] == [
            (logging.INFO, text)
        ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in caplog.text
    _read_until_closed(idle)
    idle.close()


def test_context_manager_and_restart_keep_the_host_key(tmp_path: Path, connect: Connect) -> None:
    with MockOfficeAlly(tmp_path) as first:
        fingerprint, openssh = first.fingerprint, first.host_key_openssh
        assert fingerprint.startswith("SHA256:") and openssh.startswith("ssh-ed25519 AAAA")
    assert stat.S_IMODE((tmp_path / "host_key").stat().st_mode) == 0o600
    with MockOfficeAlly(tmp_path, {"u": HarnessUser(password=PASSWORD)}) as second:
        assert (second.fingerprint, second.host_key_openssh) == (fingerprint, openssh)
        connect(second, "u", password=PASSWORD)  # Session checks the key it is given


def test_rotate_host_key_changes_the_fingerprint_for_new_connections(
    server: MockOfficeAlly, connect: Connect
) -> None:
    old = server.fingerprint
    transport = paramiko.Transport((server.host, server.port))
    transport.start_client(timeout=10)
    old_key = transport.get_remote_server_key()
    new = server.rotate_host_key()
    assert new == server.fingerprint != old
    connect(server, "sunrise", password=PASSWORD)  # sees the new key
    transport.close()
    with MockOfficeAlly(server.root) as again:
        assert again.fingerprint == new
    assert old_key.get_base64() not in server.host_key_openssh


# --- faults -------------------------------------------------------------------------


def test_latency_fault_slows_every_request(server: MockOfficeAlly, connect: Connect) -> None:
    sftp = connect(server, "sunrise", password=PASSWORD)
    server.faults.latency = 0.2
    started = time.monotonic()
    sftp.listdir("/")
    sftp.stat("inbound")
    assert time.monotonic() - started >= 0.4
    server.faults.latency = 0
    started = time.monotonic()
    sftp.listdir("/")
    assert time.monotonic() - started < 0.2


def test_drop_after_bytes_cuts_the_connection_mid_upload(
    server: MockOfficeAlly, connect: Connect
) -> None:
    server.faults.drop_after_bytes = 1000
    sftp = connect(server, "sunrise", password=PASSWORD)
    failure = (OSError, EOFError, paramiko.SSHException)
    with pytest.raises(failure), sftp.open("inbound/big.part", "wb") as stream:
        stream.write(b"x" * 50_000)
        stream.flush()
    assert (server.inbound_dir("sunrise") / "big.part").stat().st_size == 1000
    server.faults.drop_after_bytes = None
    again = connect(server, "sunrise", password=PASSWORD)
    again.putfo(io.BytesIO(b"x" * 5000), "inbound/ok.part")
    assert again.stat("inbound/ok.part").st_size == 5000


def test_fail_writes_fault(server: MockOfficeAlly, connect: Connect) -> None:
    sftp = connect(server, "sunrise", password=PASSWORD)
    server.faults.fail_writes = True
    with pytest.raises(OSError), sftp.open("inbound/f.part", "wb") as stream:
        stream.write(b"data")
        stream.flush()
    server.faults.fail_writes = False
    sftp.putfo(io.BytesIO(b"data"), "inbound/g.part")
    assert sftp.open("inbound/g.part").read() == b"data"


def test_refuse_logins_fault_set_at_construction_and_runtime(
    tmp_path: Path, connect: Connect
) -> None:
    faults = Faults(refuse_logins=True)
    with MockOfficeAlly(tmp_path, {"u": HarnessUser(password=PASSWORD)}, faults=faults) as srv:
        with pytest.raises(paramiko.AuthenticationException):
            connect(srv, "u", password=PASSWORD)
        srv.faults.refuse_logins = False
        sftp = connect(srv, "u", password=PASSWORD)
        srv.faults.refuse_logins = True
        assert sftp.listdir("/")  # a session already open stays open
        with pytest.raises(paramiko.AuthenticationException):
            connect(srv, "u", password=PASSWORD)


def test_faults_reject_nonsense_and_clear() -> None:
    faults = Faults(latency=1, drop_after_bytes=5, fail_writes=True, refuse_logins=True)
    with pytest.raises(ValueError):
        faults.latency = -1
    with pytest.raises(ValueError):
        faults.drop_after_bytes = -1
    faults.clear()
    assert repr(faults) == (
        "Faults(latency=0.0, drop_after_bytes=None, drop_after_rename=False, "
        "fail_writes=False, refuse_logins=False)"
    )


def test_dropped_upload_under_a_final_name_is_still_picked_up(
    server: MockOfficeAlly, connect: Connect
) -> None:
    """What a real server does with a half file: the reason clients upload to a temp name."""
    data = build_837([TestClaim("A1")])
    server.faults.drop_after_bytes = len(data) // 2
    sftp = connect(server, "sunrise", password=PASSWORD)
    with pytest.raises((OSError, EOFError, paramiko.SSHException)):
        sftp.putfo(io.BytesIO(data), "inbound/half_837P.txt")
    deadline = time.monotonic() + 5
    while not list(server.outbound_dir("sunrise").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.wait_idle(5)
    names = [p.name for p in server.outbound_dir("sunrise").iterdir()]
    assert sorted(n.split("_")[1] for n in names) == ["999", "HCFA"]  # 999 and File Summary


def test_add_user_validates_names(server: MockOfficeAlly) -> None:
    for bad in ("../evil", "", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            server.add_user(bad, password="x")
    with pytest.raises(ValueError):
        server.add_user("nothing")


@pytest.mark.parametrize("name", ["alice\n", "alice\r\n", "alice\t", "\nalice", "alice\x00"])
def test_user_names_must_match_whole(server: MockOfficeAlly, connect: Connect, name: str) -> None:
    """A trailing newline must not slip through a ``$`` anchor, at add_user or at login."""
    server.add_user("alice", password=PASSWORD)
    with pytest.raises(ValueError, match="user name"):
        server.add_user(name, password=PASSWORD)
    with pytest.raises(ValueError, match="user name"):
        MockOfficeAlly(server.root / "other", {name: HarnessUser(password=PASSWORD)})
    assert not server.login_password(name, PASSWORD)
    assert not server.login_key(name, new_ed25519()[0])
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, name, password=PASSWORD)
    assert sorted(p.name for p in (server.root / "accounts").iterdir()) == ["alice", "sunrise"]
    assert connect(server, "alice", password=PASSWORD).listdir("/")


def test_login_helper_never_shows_the_password(oa_user: HarnessLogin) -> None:
    assert oa_user.password not in repr(oa_user)
    assert "s3cret" not in repr(HarnessUser(password="s3cret"))


def test_errors_are_plain_sftp_statuses(server: MockOfficeAlly, connect: Connect) -> None:
    sftp = connect(server, "sunrise", password=PASSWORD)
    with pytest.raises(OSError) as info:
        sftp.open("inbound/\0bad", "rb")
    assert info.value.errno in (errno.ENOENT, None)
    upload(sftp, b"payload", "plain.txt")
    assert sftp.open("inbound/plain.txt").read() == b"payload"
