"""The SFTP side of the mock: logins, the per-user jail, file operations, faults.

Written on paramiko's server interfaces directly. Every path a client sends is
read as a path inside the user's jail (``/`` is the jail root), normalised,
then resolved on disk by :meth:`Jail.real` and refused unless it is still
inside the jail. Operations on a name itself (lstat, remove, rename, mkdir,
rmdir) resolve every folder on the way and leave only the last name as it is,
so a symlinked folder cannot lead them out either. The outbound folder is
read-only to clients.
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from paramiko.sftp import (
    SFTP_FAILURE,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
)

from claimferry_harness.faults import Faults
from claimferry_harness.processing import why_not_answered
from claimferry_harness.rules import ANSWER_FILES
from claimferry_harness.transport import ServerTransport

log = logging.getLogger(__name__)

T = TypeVar("T")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class Backend(Protocol):
    """What the SFTP layer needs from the server that owns it."""

    @property
    def faults(self) -> Faults: ...

    @property
    def max_handles(self) -> int: ...

    @property
    def stopping(self) -> threading.Event: ...

    def login_password(self, username: str, password: str) -> bool: ...

    def login_key(self, username: str, key: paramiko.PKey) -> bool: ...

    def jail_for(self, username: str) -> Jail: ...

    def arrived(self, username: str, path: Path) -> None: ...

    def track(self, thread: threading.Thread) -> None: ...


class _Denied(Exception):
    """A path outside the jail, or a write where clients may not write."""


class Jail:
    """One user's folder; maps client paths to real paths inside it, or refuses."""

    def __init__(
        self, home: Path, inbound: str, outbound: str, answer_files: str = ANSWER_FILES
    ) -> None:
        self.answer_files = answer_files
        self.home = home.resolve()
        self.inbound = (self.home / inbound).resolve()
        self.outbound = (self.home / outbound).resolve()

    @staticmethod
    def virtual(path: str) -> str:
        """The client's path as an absolute path in the jail; ``..`` stops at ``/``."""
        return posixpath.normpath("/" + path.lstrip("/"))

    def real(self, path: str, *, follow: bool = True) -> Path:
        """The path on disk; ``follow=False`` leaves a final symlink unresolved (lstat, remove)."""
        parts = [p for p in self.virtual(path).split("/") if p]
        candidate = self.home.joinpath(*parts)
        if not parts:
            resolved = self.home
        elif follow:
            resolved = candidate.resolve()
        else:
            resolved = candidate.parent.resolve() / candidate.name
        if resolved != self.home and self.home not in resolved.parents:
            raise _Denied(path)
        return resolved

    def read_only(self, real: Path) -> bool:
        """Outbound and everything in it, and the jail's own folders, are not the client's."""
        return (
            real == self.outbound
            or self.outbound in real.parents
            or real in (self.home, self.inbound)
        )

    def is_arrival(self, real: Path) -> bool:
        """A regular file under a name the mock answers, directly in inbound.

        Never a symlink: processing reads the file, and a link (one left in the
        account, then renamed) could lead it to a file outside the jail. An
        upload ignored for its name is logged with the reason.
        """
        if real.parent != self.inbound:
            return False
        try:
            if not stat.S_ISREG(os.lstat(real).st_mode):
                return False
        except OSError:
            return False
        reason = why_not_answered(real.name, self.answer_files)
        if reason is None:
            return True
        level = logging.DEBUG if reason.startswith("a temporary") else logging.INFO
        log.log(level, "upload %s in %s not answered: %s", real.name, self.inbound.name, reason)
        return False


class Connection(paramiko.ServerInterface):
    """One SSH connection: its login and the bytes its client has written."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.username: str | None = None
        self.transport: ServerTransport | None = None
        self._lock = threading.Lock()
        self._bytes_written = 0

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        return AUTH_SUCCESSFUL if self.backend.login_password(username, password) else AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        # Called before paramiko verifies the signature, so this alone logs nobody in.
        return AUTH_SUCCESSFUL if self.backend.login_key(username, key) else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        """Sessions only, and only once paramiko has completed a login."""
        transport = self.transport
        if kind == "session" and transport is not None and transport.is_authenticated():
            self.username = transport.get_username()
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def allow_write(self, size: int) -> int:
        """How many of ``size`` bytes may still be written before the drop fault fires."""
        limit = self.backend.faults.drop_after_bytes
        with self._lock:
            if limit is None:
                self._bytes_written += size
                return size
            allowed = max(0, min(size, limit - self._bytes_written))
            self._bytes_written += allowed
            return allowed

    def drop(self) -> None:
        """Cut the connection, as a network failure would (the transport thread winds down)."""
        if self.transport is not None:
            log.info("fault: dropping an SFTP connection after %d bytes", self._bytes_written)
            self.transport.disconnect()


class SessionSFTPServer(paramiko.SFTPServer):
    """paramiko's SFTP subsystem with our file layer, registered so stop() can join it."""

    def __init__(
        self,
        channel: paramiko.Channel,
        name: str,
        server: paramiko.ServerInterface,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            channel, name, server, JailedSFTP, *args, open_handles=self.open_handles, **kwargs
        )
        if isinstance(server, Connection):
            server.backend.track(self)

    def open_handles(self) -> int:
        """Files and folders this session's client holds open (paramiko's handle tables)."""
        return len(self.file_table) + len(self.folder_table)


class _FileHandle(paramiko.SFTPHandle):
    """An open file: positional reads and writes on a raw descriptor."""

    def __init__(self, owner: JailedSFTP, fd: int, real: Path, flags: int) -> None:
        super().__init__(flags)
        self._owner = owner
        self._fd: int | None = fd
        self._real = real
        self._writable = bool(flags & (os.O_WRONLY | os.O_RDWR))
        self._changed = bool(flags & (os.O_CREAT | os.O_TRUNC))
        self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> bytes | int:
        return self._owner.guard(lambda: os.pread(self._descriptor(), length, offset))

    def write(self, offset: int, data: Any) -> int:
        return self._owner.guard(lambda: self._write(offset, bytes(data)))

    def _write(self, offset: int, data: bytes) -> int:
        connection = self._owner.connection
        if not self._writable:
            return SFTP_PERMISSION_DENIED
        if connection.backend.faults.fail_writes:
            return SFTP_FAILURE
        allowed = connection.allow_write(len(data))
        if allowed:
            os.pwrite(self._descriptor(), data[:allowed], offset)
            self._changed = True
        if allowed < len(data):
            connection.drop()
            return SFTP_FAILURE
        return SFTP_OK

    def stat(self) -> int | paramiko.SFTPAttributes:
        return self._owner.guard(
            lambda: paramiko.SFTPAttributes.from_stat(os.fstat(self._descriptor()))
        )

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        if not self._writable:
            return SFTP_PERMISSION_DENIED
        return self._owner.guard(lambda: _apply_attributes(self._descriptor(), attr))

    def _descriptor(self) -> int:
        if self._fd is None:
            raise OSError("handle is closed")
        return self._fd

    def close(self) -> None:
        """Close once; a changed file under a final claim-file name in inbound has arrived."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        os.close(fd)
        owner = self._owner
        if self._changed and owner.jail.is_arrival(self._real) and owner.username is not None:
            owner.connection.backend.arrived(owner.username, self._real)


def _apply_attributes(target: int | Path, attr: paramiko.SFTPAttributes) -> int:
    """Size and times only; ownership and modes stay the server's."""
    if attr.st_size is not None:
        if isinstance(target, int):
            os.ftruncate(target, attr.st_size)
        else:
            os.truncate(target, attr.st_size)
    if attr.st_atime is not None and attr.st_mtime is not None:
        os.utime(target, (attr.st_atime, attr.st_mtime))
    return SFTP_OK


class JailedSFTP(paramiko.SFTPServerInterface):
    """File operations for one SFTP session, all inside the logged-in user's jail."""

    def __init__(
        self,
        server: paramiko.ServerInterface,
        *args: Any,
        open_handles: Callable[[], int],
        **kwargs: Any,
    ) -> None:
        super().__init__(server, *args, **kwargs)
        if not isinstance(server, Connection) or server.username is None:
            raise RuntimeError("SFTP session without an authenticated connection")
        self.connection = server
        self.username: str | None = server.username
        self.jail = server.backend.jail_for(server.username)
        self._open_handles = open_handles
        self._at_limit = False

    def _may_open_handle(self) -> bool:
        """Below the per-session cap on open files and folders.

        Each open file holds a descriptor: without a cap, one client could use
        them all and lock every other user out. Past the cap an open fails
        with an SFTP failure status until the client closes some handles.
        """
        limit = self.connection.backend.max_handles
        at_limit = self._open_handles() >= limit
        if at_limit and not self._at_limit:
            log.info(
                "user %s holds %d open handles in one SFTP session, the most allowed; "
                "further opens fail until some are closed",
                self.username,
                limit,
            )
        self._at_limit = at_limit
        return not at_limit

    def guard(self, action: Callable[[], T]) -> T | int:
        """Apply the latency fault, then run ``action``; errors become SFTP status codes."""
        backend = self.connection.backend
        latency = backend.faults.latency
        if latency > 0:
            backend.stopping.wait(latency)
        try:
            return action()
        except _Denied:
            return SFTP_PERMISSION_DENIED
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        except ValueError:  # e.g. a NUL byte in a path
            return SFTP_NO_SUCH_FILE

    def _writable(self, path: str, *, follow: bool) -> Path:
        real = self.jail.real(path, follow=follow)
        if self.jail.read_only(real):
            raise _Denied(path)
        return real

    # -- paramiko's interface ----------------------------------------------------

    def open(
        self, path: str, flags: int, attr: paramiko.SFTPAttributes
    ) -> paramiko.SFTPHandle | int:
        def action() -> paramiko.SFTPHandle | int:
            if not self._may_open_handle():
                return SFTP_FAILURE
            writing = bool(flags & _WRITE_FLAGS)
            real = self._writable(path, follow=True) if writing else self.jail.real(path)
            fd = os.open(real, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            return _FileHandle(self, fd, real, flags)

        return self.guard(action)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        def action() -> list[paramiko.SFTPAttributes] | int:
            if not self._may_open_handle():
                return SFTP_FAILURE
            real = self.jail.real(path)
            with os.scandir(real) as entries:
                return [
                    paramiko.SFTPAttributes.from_stat(e.stat(follow_symlinks=False), e.name)
                    for e in entries
                ]

        return self.guard(action)

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        return self.guard(lambda: paramiko.SFTPAttributes.from_stat(self.jail.real(path).stat()))

    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        return self.guard(
            lambda: paramiko.SFTPAttributes.from_stat(os.lstat(self.jail.real(path, follow=False)))
        )

    def remove(self, path: str) -> int:
        def action() -> int:
            self._writable(path, follow=False).unlink()
            return SFTP_OK

        return self.guard(action)

    def rename(self, oldpath: str, newpath: str) -> int:
        """SFTP v3 rename: refuses to overwrite an existing file."""
        return self.guard(lambda: self._rename(oldpath, newpath, overwrite=False))

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        """posix-rename@openssh.com: atomically replaces an existing file."""
        return self.guard(lambda: self._rename(oldpath, newpath, overwrite=True))

    def _rename(self, oldpath: str, newpath: str, *, overwrite: bool) -> int:
        source = self._writable(oldpath, follow=False)
        target = self._writable(newpath, follow=False)
        if overwrite:
            source.replace(target)
        else:
            if target.is_symlink() or target.exists():
                return SFTP_FAILURE
            source.rename(target)
        if self.jail.is_arrival(target) and self.username is not None:
            self.connection.backend.arrived(self.username, target)
        if self.connection.backend.faults.drop_after_rename:
            self.connection.drop()
        return SFTP_OK

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        def action() -> int:
            self._writable(path, follow=False).mkdir(0o755)
            return SFTP_OK

        return self.guard(action)

    def rmdir(self, path: str) -> int:
        def action() -> int:
            self._writable(path, follow=False).rmdir()
            return SFTP_OK

        return self.guard(action)

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return self.guard(lambda: _apply_attributes(self._writable(path, follow=True), attr))

    def canonicalize(self, path: str) -> str:
        return Jail.virtual(path)

    def readlink(self, path: str) -> str | int:
        return SFTP_OP_UNSUPPORTED

    def symlink(self, target_path: str, path: str) -> int:
        return SFTP_PERMISSION_DENIED
