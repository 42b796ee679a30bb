"""One accepted SSH connection: its socket and paramiko's transport thread.

paramiko leaves three things to a server that starts and stops its own
transports, and the harness does them here:

- Ending a connection from another thread. ``Transport.close()`` closes the
  socket while the transport thread may still be in ``recv()`` on it: the
  thread then fails with EBADF (logged as an ERROR with a traceback), and the
  descriptor it is polling may already belong to a new socket.
  :meth:`ServerTransport.disconnect` shuts the socket down instead: the peer
  gets a FIN, the transport thread reads EOF, unlinks its channels (which ends
  the SFTP session threads) and closes the socket itself. The lock in
  :class:`ConnectionSocket` keeps that shutdown and paramiko's own close from
  overlapping, so a shutdown never reaches a reused descriptor.
- The handshake timer. paramiko starts a ``threading.Timer`` per handshake and
  only cancels it when the handshake completes, so a connection that dies
  during key exchange leaves a thread behind for ``handshake_timeout``
  seconds. The transport thread here cancels and joins it before it ends, so
  joining the transport joins everything it started except SFTP sessions.
- Expected disconnects. paramiko logs an ERROR, often with a traceback, when a
  client resets its connection or closes it before sending an SSH banner (a
  port probe, a health check, a test's bare TCP connect). Those, and a client
  that goes away before logging in (which paramiko logs only at DEBUG), are
  logged here as one INFO line naming the client's address; a connection the
  harness ended itself (``stop()``, the drop fault) gets one DEBUG line.
  Every other error is left exactly as paramiko logs it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from typing import Any, Self

import paramiko

log = logging.getLogger(__name__)


class ConnectionSocket(socket.socket):
    """An accepted socket whose ``close()`` and :meth:`shut_down` never overlap."""

    __slots__ = ("_guard", "_shut_down")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = threading.Lock()
        self._shut_down = False

    @classmethod
    def adopt(cls, sock: socket.socket) -> Self:
        """Take over the descriptor of a socket returned by ``accept()``."""
        return cls(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def close(self) -> None:
        with self._guard:
            super().close()

    def shut_down(self) -> None:
        """End the connection both ways; the descriptor stays open until ``close()``."""
        with self._guard:
            if self.fileno() < 0:
                return
            self._shut_down = True
            with contextlib.suppress(OSError):  # ENOTCONN: the peer is already gone
                self.shutdown(socket.SHUT_RDWR)

    @property
    def was_shut_down(self) -> bool:
        """True once this side ended the connection (``stop()`` or the drop fault)."""
        return self._shut_down


def _disconnect_cause(exc: BaseException | None, *, shut_down: bool) -> BaseException | None:
    """The EOF, reset or timeout that ``exc`` is, or was raised while handling.

    Once the harness has shut the socket down, any socket error counts (e.g. a
    channel's "Socket is closed").
    """
    expected = (EOFError, OSError) if shut_down else (EOFError, ConnectionError, TimeoutError)
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, expected):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


class ServerTransport(paramiko.Transport):
    """paramiko's transport for one accepted connection, stoppable from another thread."""

    def __init__(self, sock: ConnectionSocket, peer: str) -> None:
        super().__init__(sock)
        self.connection_socket = sock
        self.peer = peer
        self._end_logged = False

    def disconnect(self) -> None:
        """End the connection; the transport thread notices at once and winds down."""
        self.connection_socket.shut_down()

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._end_handshake_timer()

    def _end_handshake_timer(self) -> None:
        """Cancel and join the timer paramiko started for this connection's handshake."""
        owner = self.packetizer
        for thread in threading.enumerate():
            if (
                isinstance(thread, threading.Timer)
                and getattr(thread.function, "__self__", None) is owner
            ):
                thread.cancel()
                thread.join()

    def logged_in_user(self) -> str | None:
        """The user once a login succeeded (also after the connection ended)."""
        handler = self.auth_handler
        if handler is None or not handler.is_authenticated():
            return None
        return handler.get_username()

    # paramiko's Transport and its helpers all log through this method. It is
    # called inside the ``except`` block that caught the connection's end.
    def _log(self, level: int, msg: Any, *args: Any) -> None:
        if level >= logging.ERROR or self.logged_in_user() is None:
            shut_down = self.connection_socket.was_shut_down
            cause = _disconnect_cause(sys.exc_info()[1], shut_down=shut_down)
            if cause is not None:
                self._log_end(cause)
                if level >= logging.ERROR:
                    return
        super()._log(level, msg, *args)  # type: ignore[misc]

    def _log_end(self, cause: BaseException) -> None:
        """One line for a connection the client (or the harness) ended; at most once."""
        if self._end_logged:
            return
        self._end_logged = True
        if self.connection_socket.was_shut_down:
            log.debug("SSH connection from %s closed by the harness", self.peer)
            return
        user = self.logged_in_user()
        if not self.remote_version:
            when = "before sending an SSH banner"
        elif user is None:
            when = "before logging in"
        else:
            when = f"(user {user})"
        if isinstance(cause, TimeoutError):
            what = "timed out"
        elif isinstance(cause, EOFError):
            what = "closed the connection"
        else:
            what = f"reset the connection ({type(cause).__name__})"
        log.info("SSH client %s %s %s", self.peer, what, when)
