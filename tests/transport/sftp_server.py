"""A small SFTP server on loopback for the transport's unit tests.

Deliberately minimal and independent of the transport under test (a mock
that shared the client's code could share its bugs): password and public-key
logins, one root folder, the SFTP calls the transport uses, and fault knobs
for the failures the transport must survive.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED
from typing_extensions import Buffer

from claimferry.api import Account

USER = "sunrise-sftp"
PASSWORD = "Tr0ub4dor&3-not-the-portal"

AccountFactory = Callable[..., Account]


def new_ed25519_text(passphrase: str | None = None) -> str:
    """A fresh Ed25519 private key in OpenSSH form (paramiko cannot generate these)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    )
    return pem.decode("ascii")


def new_ed25519_key() -> paramiko.Ed25519Key:
    return paramiko.Ed25519Key.from_private_key(io.StringIO(new_ed25519_text()))


def private_key_text(key: paramiko.PKey, passphrase: str | None = None) -> str:
    """PEM text of an RSA or ECDSA key."""
    out = io.StringIO()
    key.write_private_key(out, password=passphrase)
    return out.getvalue()


def openssh_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


@dataclass
class Faults:
    """What the server does wrong. Counters (``*_times``) say how often; None = always."""

    drop_after_bytes: int | None = None
    """Close the connection once a connection has had this many bytes written."""
    drop_times: int | None = None
    delay: float = 0.0
    """Seconds to stall before answering open, stat and listdir."""
    fail_writes: bool = False
    posix_rename_unsupported: bool = False
    take_after_rename: bool = False
    """Move a file out of inbound the moment it is renamed (as a fast pickup would)."""
    drop_on_rename: str | None = None
    """'before' or 'after': close the connection around a rename (once)."""
    refuse_session: bool = False
    """Refuse every session channel after the login (``ChannelException`` at the client)."""
    refuse_sftp: bool = False
    """Open session channels but refuse the SFTP subsystem on them."""


@dataclass
class Stats:
    auth_attempts: int = 0
    connections: int = 0
    renames: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class SftpTestServer:
    """``SftpTestServer(root, users={"name": "password"}).start()``; ``.port``, ``.stop()``."""

    def __init__(
        self,
        root: Path,
        users: dict[str, str] | None = None,
        authorized_keys: dict[str, list[paramiko.PKey]] | None = None,
        host_keys: list[paramiko.PKey] | None = None,
    ) -> None:
        self.root = root
        self.users = dict(users or {})
        self.authorized_keys = dict(authorized_keys or {})
        self.host_keys = list(host_keys or [new_ed25519_key()])
        self.faults = Faults()
        self.stats = Stats()
        self.taken = root / "taken"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._transports: list[paramiko.Transport] = []
        self._stopping = threading.Event()

    @property
    def host_key(self) -> paramiko.PKey:
        return self.host_keys[0]

    @property
    def host_key_openssh(self) -> str:
        return openssh_line(self.host_key)

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    def start(self) -> SftpTestServer:
        (self.root / "inbound").mkdir(parents=True, exist_ok=True)
        (self.root / "outbound").mkdir(parents=True, exist_ok=True)
        self.taken.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name="sftp-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()
        for transport in self._transports:
            transport.close()

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            transport = paramiko.Transport(sock)
            for key in self.host_keys:
                transport.add_server_key(key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _RootedSftp, self)
            with self._lock:
                self.stats.connections += 1
            self._transports.append(transport)
            try:
                transport.start_server(event=threading.Event(), server=_Login(self, transport))
            except (paramiko.SSHException, OSError):
                transport.close()

    # -- faults, called from the connection threads --------------------------------

    def take_fault(self, name: str) -> bool:
        """Consume one use of a counted fault."""
        with self._lock:
            if name == "drop":
                if self.faults.drop_times is None:
                    return True
                if self.faults.drop_times > 0:
                    self.faults.drop_times -= 1
                    return True
                return False
            raise ValueError(name)

    def local(self, path: str) -> Path:
        clean = posixpath.normpath("/" + path).lstrip("/")
        return self.root / clean


class _Login(paramiko.ServerInterface):
    def __init__(self, server: SftpTestServer, transport: paramiko.Transport) -> None:
        self.server = server
        self.transport = transport
        self.written = 0

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        self.server.stats.auth_attempts += 1
        ok = self.server.users.get(username) == password
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.server.stats.auth_attempts += 1
        allowed = self.server.authorized_keys.get(username, [])
        ok = any(k.asbytes() == key.asbytes() for k in allowed)
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session" and not self.server.faults.refuse_session:
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if self.server.faults.refuse_sftp:
            return False
        return bool(super().check_channel_subsystem_request(channel, name))


class _Handle(paramiko.SFTPHandle):
    def __init__(self, login: _Login, flags: int) -> None:
        super().__init__(flags)
        self.login = login

    def write(self, offset: int, data: Buffer) -> int:
        server = self.login.server
        faults = server.faults
        if faults.fail_writes:
            return SFTP_FAILURE
        self.login.written += memoryview(data).nbytes
        if (
            faults.drop_after_bytes is not None
            and self.login.written > faults.drop_after_bytes
            and server.take_fault("drop")
        ):
            self.login.transport.close()
            return SFTP_FAILURE
        result: int = super().write(offset, data)
        return result


class _RootedSftp(paramiko.SFTPServerInterface):
    def __init__(self, login: _Login, server: SftpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(login, *args, **kwargs)
        self.login = login
        self.server = server

    def _stall(self) -> None:
        if self.server.faults.delay:
            time.sleep(self.server.faults.delay)

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> Any:
        self._stall()
        local = self.server.local(path)
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
        try:
            fh = local.open("wb" if writing else "rb")
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or errno.EIO)
        handle = _Handle(self.login, flags)
        setattr(handle, "writefile" if writing else "readfile", fh)  # paramiko's handle protocol
        return handle

    def stat(self, path: str) -> Any:
        self._stall()
        try:
            return paramiko.SFTPAttributes.from_stat(self.server.local(path).stat())
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or errno.EIO)

    lstat = stat

    def list_folder(self, path: str) -> Any:
        self._stall()
        folder = self.server.local(path)
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or errno.EIO)
        out = []
        for name in names:
            attr = paramiko.SFTPAttributes.from_stat((folder / name).stat())
            attr.filename = name
            out.append(attr)
        return out

    def remove(self, path: str) -> int:
        self.server.stats.removed.append(path)
        try:
            self.server.local(path).unlink()
        except OSError as exc:
            return int(paramiko.SFTPServer.convert_errno(exc.errno or errno.EIO))
        return SFTP_OK

    def _do_rename(self, oldpath: str, newpath: str, replace: bool) -> int:
        faults = self.server.faults
        if faults.drop_on_rename == "before":
            faults.drop_on_rename = None
            self.login.transport.close()
            return SFTP_FAILURE
        source, target = self.server.local(oldpath), self.server.local(newpath)
        if not replace and target.exists():
            return SFTP_FAILURE
        try:
            source.rename(target)
        except OSError as exc:
            return int(paramiko.SFTPServer.convert_errno(exc.errno or errno.EIO))
        self.server.stats.renames.append((oldpath, newpath))
        if faults.take_after_rename:
            shutil.move(str(target), str(self.server.taken / target.name))
        if faults.drop_on_rename == "after":
            faults.drop_on_rename = None
            self.login.transport.close()
            return SFTP_FAILURE
        return SFTP_OK

    def rename(self, oldpath: str, newpath: str) -> int:
        return self._do_rename(oldpath, newpath, replace=False)

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        if self.server.faults.posix_rename_unsupported:
            return SFTP_OP_UNSUPPORTED
        return self._do_rename(oldpath, newpath, replace=True)
