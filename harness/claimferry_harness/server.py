"""MockOfficeAlly: the server object tests and the CLI start and stop.

Threads: one accept loop; per connection paramiko's transport thread and one
thread per SFTP session; one processing worker. ``stop()`` ends them in the
order they depend on each other and joins every one:

1. the accept loop, woken through a socket pair; it owns the listener and
   closes it on its way out, so no ``accept()`` ever races the close and no
   connection is registered after the next step has looked;
2. every connection, by shutting its socket down (see
   :mod:`claimferry_harness.transport`): each transport thread reads EOF,
   closes its channels and then its own socket, and is joined;
3. the SFTP session threads, which end when their channels close (they can
   still hand a file to the processor as they close its handle);
4. the processing worker.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Self

import paramiko

from claimferry_harness import hostkey
from claimferry_harness.faults import Faults
from claimferry_harness.processing import Processor
from claimferry_harness.rules import ProcessingRules
from claimferry_harness.sftp import Connection, Jail, SessionSFTPServer
from claimferry_harness.transport import ConnectionSocket, ServerTransport
from claimferry_harness.users import (
    HarnessUser,
    check_user_name,
    is_user_name,
    password_matches_nobody,
)

log = logging.getLogger(__name__)

ACCOUNTS = "accounts"
MAX_HANDLES = 64
"""Open files and folders one SFTP session may hold at once (``max_handles``)."""
_JOIN_TIMEOUT = 5.0
_ACCEPT_PAUSES = (0.01, 1.0)
"""First and longest pause after a failed ``accept()``; each failure in a row doubles it."""


def _check_folder_name(kind: str, name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{kind} folder must be one plain folder name, not {name!r}")
    return name


class MockOfficeAlly:
    """A mock Office Ally SFTP server with simulated claim processing.

    Layout under ``root``: ``host_key`` (Ed25519, 0600, reused across
    restarts), ``accounts/<user>/{inbound,outbound}/``, ``harness_state.json``
    (FileID and control-number counters) and ``staging/``.
    """

    def __init__(
        self,
        root: Path,
        users: Mapping[str, HarnessUser] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        rules: ProcessingRules | None = None,
        inbound: str = "inbound",
        outbound: str = "outbound",
        max_handles: int = MAX_HANDLES,
    ) -> None:
        if max_handles < 1:
            raise ValueError("max_handles must be at least 1")
        self.max_handles = max_handles
        self.root = Path(root)
        (self.root / ACCOUNTS).mkdir(parents=True, exist_ok=True)
        self.inbound = _check_folder_name("inbound", inbound)
        self.outbound = _check_folder_name("outbound", outbound)
        if self.inbound == self.outbound:
            raise ValueError("inbound and outbound must be different folders")
        self._host = host
        self._port = port
        self._faults = faults if faults is not None else Faults()
        self._rules = rules if rules is not None else ProcessingRules()
        self._lock = threading.Lock()
        self._users: dict[str, HarnessUser] = {}
        self._host_key = hostkey.load_or_create(self.root)
        self._stopping = threading.Event()
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._accept_thread: threading.Thread | None = None
        self._transports: set[ServerTransport] = set()
        self._sessions: set[threading.Thread] = set()
        self._processor = Processor(self.root, self.outbound_dir, lambda: self.rules)
        for name, user in (users or {}).items():
            self._install_user(name, user)

    # -- users -----------------------------------------------------------------

    def _install_user(self, name: str, user: HarnessUser) -> None:
        check_user_name(name)
        home = self.user_dir(name)
        for folder in (self.inbound, self.outbound):
            (home / folder).mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._users[name] = user

    def add_user(
        self, name: str, password: str | None = None, public_keys: Iterable[str] = ()
    ) -> HarnessUser:
        """Add (or replace) an account; its folders are created at once."""
        user = HarnessUser(password=password, public_keys=tuple(public_keys))
        self._install_user(name, user)
        return user

    def user_dir(self, name: str) -> Path:
        """``<root>/accounts/<name>``: the folder the user sees as ``/``."""
        return self.root / ACCOUNTS / check_user_name(name)

    def inbound_dir(self, name: str) -> Path:
        return self.user_dir(name) / self.inbound

    def outbound_dir(self, name: str) -> Path:
        return self.user_dir(name) / self.outbound

    def _user(self, name: str) -> HarnessUser | None:
        """The account a login names; None for an unknown or malformed name."""
        if not is_user_name(name):
            return None
        with self._lock:
            return self._users.get(name)

    # -- settings --------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value

    @property
    def rules(self) -> ProcessingRules:
        with self._lock:
            return self._rules

    @rules.setter
    def rules(self, value: ProcessingRules) -> None:
        with self._lock:
            self._rules = value

    def set_delay(self, seconds: float) -> None:
        """Shortcut for replacing ``rules`` with another processing delay."""
        self.rules = replace(self.rules, delay=seconds)

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port once started (the configured one before)."""
        return self._port

    @property
    def host_key_openssh(self) -> str:
        with self._lock:
            return hostkey.openssh_public(self._host_key)

    @property
    def fingerprint(self) -> str:
        with self._lock:
            return hostkey.fingerprint(self._host_key)

    def rotate_host_key(self) -> str:
        """Replace the host key (stored in the root too); new connections see the new one.

        Returns the new fingerprint.
        """
        key = hostkey.rotate(self.root)
        with self._lock:
            self._host_key = key
        log.info("host key rotated, now %s", hostkey.fingerprint(key))
        return hostkey.fingerprint(key)

    # -- the Backend protocol used by the SFTP layer ---------------------------

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def login_password(self, username: str, password: str) -> bool:
        user = self._user(username)
        if user is None:
            return password_matches_nobody(password)
        matched = user.password_matches(password)
        return matched and not self._faults.refuse_logins

    def login_key(self, username: str, key: paramiko.PKey) -> bool:
        user = self._user(username)
        return user is not None and user.key_matches(key) and not self._faults.refuse_logins

    def jail_for(self, username: str) -> Jail:
        return Jail(self.user_dir(username), self.inbound, self.outbound, self.rules.answer_files)

    def arrived(self, username: str, path: Path) -> None:
        self._processor.submit(username, path)

    def track(self, thread: threading.Thread) -> None:
        """Remember a session thread; called before it is started, from its transport thread."""
        with self._lock:
            # Forget finished threads only: one not started yet is not alive either.
            self._sessions = {t for t in self._sessions if t.ident is None or t.is_alive()}
            self._sessions.add(thread)

    # -- lifecycle -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._accept_thread is not None

    def start(self) -> Self:
        """Bind, start accepting and processing; returns self."""
        if self.running:
            raise RuntimeError("the harness is already running")
        self._stopping.clear()
        listener = socket.create_server((self._host, self._port), backlog=128)
        listener.setblocking(False)  # a client that gave up after select() must not block accept()
        self._port = listener.getsockname()[1]
        self._wake = wake = socket.socketpair()
        self._processor.start()
        self._accept_thread = threading.Thread(
            target=self._accept_loop,
            args=(listener, wake[0]),
            name=f"oa-harness-accept-{self._port}",
            daemon=True,
        )
        self._accept_thread.start()
        log.info(
            "mock Office Ally listening on %s:%d, host key %s",
            self._host,
            self._port,
            self.fingerprint,
        )
        return self

    def stop(self) -> None:
        """End every connection and join every thread (see the module's docstring).

        Safe to call twice. A client still connected sees its connection closed.
        """
        if not self.running:
            return
        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):  # the accept loop already ended
                self._wake[1].send(b"x")
        if self._accept_thread is not None:
            _join(self._accept_thread)
        self._accept_thread = None
        if self._wake is not None:
            self._wake[1].close()
        self._wake = None
        with self._lock:
            transports = [t for t in self._transports if t.is_alive()]
            self._transports.clear()
        for transport in transports:
            transport.disconnect()
        for transport in transports:
            _join(transport)
        with self._lock:
            sessions = list(self._sessions)
            self._sessions.clear()
        for session in sessions:
            if session.ident is not None:  # never started: its transport ended first
                _join(session)
        self._processor.stop()
        log.info(
            "mock Office Ally on port %d stopped (%d connection(s) closed)",
            self._port,
            len(transports),
        )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every arrived file has been answered; False on timeout."""
        return self._processor.wait_idle(timeout)

    def __enter__(self) -> Self:
        return self.start() if not self.running else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MockOfficeAlly {self._host}:{self._port} {state} root={self.root}>"

    def _accept_loop(self, listener: socket.socket, wake: socket.socket) -> None:
        """Accept until ``stop()`` writes to ``wake``; then close the listener and ``wake``."""
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(listener, selectors.EVENT_READ)
                selector.register(wake, selectors.EVENT_READ)
                pause = 0.0
                while not self._stopping.is_set():
                    for key, _ in selector.select():
                        if key.fileobj is listener and not self._stopping.is_set():
                            pause = self._accept(listener, pause)
        finally:
            listener.close()
            wake.close()

    def _accept(self, listener: socket.socket, pause: float) -> float:
        """Accept one connection; returns the pause waited after it failed (0 once one worked).

        When ``accept()`` fails for want of resources (EMFILE, ENFILE,
        ENOBUFS...), the connection stays in the backlog and the listener stays
        readable: the loop waits, longer after each failure in a row, instead
        of spinning, and serves the connection once resources are back.
        """
        try:
            accepted, peer = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):  # the client went away first
            return pause
        except OSError as exc:
            first, longest = _ACCEPT_PAUSES
            if pause == 0:
                log.warning(
                    "cannot accept connections (%s); retrying with pauses of up to %gs",
                    errno.errorcode.get(exc.errno or 0, exc.strerror),
                    longest,
                )
            pause = min(longest, pause * 2) if pause else first
            self._stopping.wait(pause)
            return pause
        if pause:
            log.info("accepting connections again")
        sock = ConnectionSocket.adopt(accepted)
        try:
            self._serve(sock, f"{peer[0]}:{peer[1]}")
        except Exception:  # a broken client must never stop the accept loop
            log.exception("could not start an SSH session")
            sock.close()
        return 0.0

    def _serve(self, sock: ConnectionSocket, peer: str) -> None:
        """Start a transport thread for ``sock`` (called only from the accept thread)."""
        transport = ServerTransport(sock, peer)
        connection = Connection(self)
        connection.transport = transport
        with self._lock:
            transport.add_server_key(self._host_key)
        transport.set_subsystem_handler("sftp", SessionSFTPServer)
        transport.start_server(event=threading.Event(), server=connection)
        # Registered once started: stop() looks only after joining this thread.
        with self._lock:
            self._transports = {t for t in self._transports if t.is_alive()}
            self._transports.add(transport)


def _join(thread: threading.Thread) -> None:
    thread.join(_JOIN_TIMEOUT)
    if thread.is_alive():
        log.warning("thread %s did not end within %gs of stop()", thread.name, _JOIN_TIMEOUT)
