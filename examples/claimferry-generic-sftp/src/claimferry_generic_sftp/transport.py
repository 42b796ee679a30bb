"""A small SFTP transport on paramiko, for any clearinghouse's mailbox.

What it promises, as claimferry asks of every transport:

- the host key is checked against the pinned key before the password is
  sent; an unknown or changed key fails closed and shows both fingerprints;
- a refused login is raised at once and never retried (clearinghouses lock
  accounts);
- a claim file is written under a temporary name, its size checked, then
  renamed, so the clearinghouse never picks up half a file;
- nothing is ever deleted from the response folder.

It does not retry network failures itself: claimferry records each batch
before the upload and, on the next run, asks ``is_delivered`` before sending
it again, so a failure here is reported and finished later, never doubled.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import posixpath
import socket
import stat

import paramiko
from claimferry.api import (
    Account,
    AuthenticationError,
    ClaimTransport,
    CredentialError,
    Credentials,
    DeliveryState,
    HostKey,
    HostKeyError,
    RemoteFile,
    SftpSettings,
    TransportError,
    UploadReceipt,
)

from claimferry_generic_sftp.profiles import (
    CONFIG_ENV,
    TRANSPORT_NAME,
    configured_profiles,
    is_plain_file_name,
)

log = logging.getLogger("claimferry.generic_sftp")


# An RSA key is offered through its SHA-2 signature algorithms.
_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}

_NETWORK_ERRORS = (OSError, EOFError, paramiko.SSHException)


def fingerprint(blob: bytes) -> str:
    """OpenSSH's ``SHA256:...`` form, so it can be compared with what ssh-keygen prints."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _host_key(key: paramiko.PKey) -> HostKey:
    return HostKey(key.get_name(), key.get_base64(), fingerprint(key.asbytes()))


def settings_for(account: Account) -> SftpSettings:
    """The account's own ``sftp:`` section if it has one, else its clearinghouse profile's."""
    if account.sftp is not None:
        return account.sftp
    profile = configured_profiles().get(account.clearinghouse)
    if profile is None:
        raise TransportError(
            f"account {account.name}: no sftp settings: give the account an 'sftp' section "
            f"or define clearinghouse {account.clearinghouse!r} in the file named by {CONFIG_ENV}"
        )
    return profile.sftp


def _pinned(account: Account, settings: SftpSettings) -> HostKey:
    if not settings.host_key:
        raise HostKeyError(
            f"account {account.name}: sftp.host_key is required; this transport checks a "
            "pinned key only. Get it with `claimferry hostkey ACCOUNT`, compare it with the "
            "fingerprint the clearinghouse gave you, and pin it."
        )
    key_type, b64 = settings.host_key.split()[:2]
    try:
        blob = base64.b64decode(b64, validate=True)
    except ValueError:
        raise HostKeyError(f"account {account.name}: sftp.host_key is not valid base64") from None
    return HostKey(key_type, b64, fingerprint(blob))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, EOFError):
        return "connection closed by the server"
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__


def _handshake(settings: SftpSettings, key_types: tuple[str, ...] = ()) -> paramiko.Transport:
    """TCP and SSH negotiation only: no secret has been sent when this returns."""
    where = f"{settings.host}:{settings.port}"
    try:
        sock = socket.create_connection(
            (settings.host, settings.port), timeout=settings.connect_timeout
        )
    except OSError as exc:
        raise TransportError(f"cannot reach {where}: {_describe(exc)}", transient=True) from None
    transport = paramiko.Transport(sock)
    transport.banner_timeout = settings.auth_timeout
    transport.handshake_timeout = settings.auth_timeout
    transport.auth_timeout = settings.auth_timeout
    if key_types:
        transport.get_security_options().key_types = key_types
    try:
        transport.start_client(timeout=settings.auth_timeout)
    except (*_NETWORK_ERRORS, TimeoutError) as exc:
        transport.close()
        raise TransportError(
            f"SSH negotiation with {where} failed: {_describe(exc)}", transient=True
        ) from None
    return transport


def probe_host_key(account: Account) -> HostKey:
    """The server's key, without logging in, for an operator to compare and pin."""
    transport = _handshake(settings_for(account))
    try:
        return _host_key(transport.get_remote_server_key())
    finally:
        transport.close()


class GenericSftpSession:
    """One logged-in SFTP session to an account's mailbox (a ``TransportSession``)."""

    def __init__(self, account: Account, credentials: Credentials) -> None:
        if credentials.password is None:
            raise CredentialError(
                f"account {account.name}: the generic-sftp transport logs in with a "
                "password; the credential source gave none"
            )
        self._account = account
        self._settings = settings_for(account)
        self._inbound = posixpath.normpath(self._settings.inbound)
        self._outbound = posixpath.normpath(self._settings.outbound)
        if self._inbound == self._outbound:
            raise TransportError(
                f"account {account.name}: sftp.inbound and sftp.outbound are the same folder"
            )
        pinned = _pinned(account, self._settings)
        where = f"{self._settings.host}:{self._settings.port}"
        self._transport = _handshake(
            self._settings, _ALGORITHMS.get(pinned.key_type, (pinned.key_type,))
        )
        try:
            presented = _host_key(self._transport.get_remote_server_key())
            if presented.base64 != pinned.base64:
                raise HostKeyError(
                    f"host key of {where} does not match the pinned key "
                    f"(account {account.name}); refusing to log in.\n"
                    f"  pinned:    {pinned.key_type} {pinned.fingerprint}\n"
                    f"  presented: {presented.key_type} {presented.fingerprint}\n"
                    "Pin the new key only after the clearinghouse confirms its fingerprint."
                )
            self._fingerprint = presented.fingerprint
            self._login(credentials.username, credentials.password.get_secret_value(), where)
            sftp = paramiko.SFTPClient.from_transport(self._transport)
            channel = sftp.get_channel() if sftp is not None else None
            if sftp is None or channel is None:
                raise TransportError(f"{where} did not open an SFTP session", transient=True)
            channel.settimeout(self._settings.operation_timeout)
            self._sftp: paramiko.SFTPClient = sftp
        except BaseException:
            self._transport.close()
            raise

    def _login(self, username: str, password: str, where: str) -> None:
        try:
            self._transport.auth_password(username, password)
        except paramiko.AuthenticationException:
            raise AuthenticationError(
                f"{where} refused the password login for account {self._account.name}. "
                "Not retried: check the credentials before trying again, since repeated "
                "failures can lock the account."
            ) from None
        except _NETWORK_ERRORS as exc:
            raise TransportError(f"login to {where} failed: {_describe(exc)}") from None

    def __repr__(self) -> str:
        return f"GenericSftpSession(account={self._account.name!r})"

    @property
    def host_fingerprint(self) -> str:
        return self._fingerprint

    def _path(self, folder: str, name: str) -> str:
        if not is_plain_file_name(name):
            raise TransportError(f"not a plain file name: {name!r}")
        return f"{folder}/{name}"

    def _failed(self, what: str, exc: BaseException) -> TransportError:
        """A refusal on a live connection will happen again; a dropped one may not."""
        transient = isinstance(exc, TimeoutError | EOFError) or not self._transport.is_active()
        return TransportError(f"{what} failed: {_describe(exc)}", transient=transient)

    def upload(self, data: bytes, remote_name: str) -> UploadReceipt:
        final = self._path(self._inbound, remote_name)
        digest = hashlib.sha256(data).hexdigest()
        temporary = temporary_path(self._inbound, digest)
        try:
            self._write(temporary, data)
            size = self._sftp.stat(temporary).st_size
            if size != len(data):
                self._remove_quietly(temporary)
                raise TransportError(
                    f"upload of {remote_name}: the server holds {size} of {len(data)} bytes; "
                    "not renamed to its final name",
                    transient=True,
                )
            self._rename(temporary, final)
        except _NETWORK_ERRORS as exc:
            raise self._failed(f"upload of {remote_name}", exc) from None
        log.debug("delivered %s (%d bytes)", remote_name, len(data))
        return UploadReceipt(remote_name, len(data), digest, self._fingerprint)

    def _write(self, path: str, data: bytes) -> None:
        try:
            with self._sftp.open(path, "wb") as handle:
                handle.set_pipelined(True)
                handle.write(data)
        except _NETWORK_ERRORS:
            if self._transport.is_active():
                self._remove_quietly(path)
            raise

    def _rename(self, source: str, target: str) -> None:
        try:
            self._sftp.posix_rename(source, target)
        except OSError as exc:
            if exc.errno is not None:
                raise
            # No errno: the server lacks the posix-rename extension.
            self._sftp.rename(source, target)

    def _remove_quietly(self, path: str) -> None:
        try:
            self._sftp.remove(path)
        except _NETWORK_ERRORS as exc:  # a hidden .part file is never picked up
            log.debug("could not remove %s: %s", path, _describe(exc))

    def delivery_state(self, remote_name: str, size: int, sha256: str) -> DeliveryState:
        """After a crash: the final name at ``size`` was delivered; our temporary file
        alone means the rename never happened (safe to send again); neither is absent.
        """
        final = self._path(self._inbound, remote_name)
        try:
            if self._size(final) == size:
                return DeliveryState.DELIVERED
            if self._size(temporary_path(self._inbound, sha256)) is not None:
                return DeliveryState.PARTIAL
        except _NETWORK_ERRORS as exc:
            raise self._failed(f"looking for {remote_name}", exc) from None
        return DeliveryState.ABSENT

    def _size(self, path: str) -> int | None:
        try:
            return self._sftp.stat(path).st_size
        except FileNotFoundError:
            return None

    def list_responses(self) -> list[RemoteFile]:
        try:
            entries = self._sftp.listdir_attr(self._outbound)
        except _NETWORK_ERRORS as exc:
            raise self._failed(f"listing {self._outbound}", exc) from None
        # Hidden names are files the server is still writing; they show up again later.
        files = [
            RemoteFile(e.filename, e.st_size or 0, float(e.st_mtime) if e.st_mtime else None)
            for e in entries
            if (e.st_mode is None or stat.S_ISREG(e.st_mode)) and is_plain_file_name(e.filename)
        ]
        return sorted(files, key=lambda f: f.name)

    def download(self, name: str) -> bytes:
        path = self._path(self._outbound, name)
        buffer = io.BytesIO()
        try:
            size = self._sftp.stat(path).st_size
            self._sftp.getfo(path, buffer)
        except _NETWORK_ERRORS as exc:
            raise self._failed(f"download of {name}", exc) from None
        data = buffer.getvalue()
        if size is not None and len(data) != size:
            raise TransportError(
                f"download of {name}: got {len(data)} of {size} bytes", transient=True
            )
        return data

    def close(self) -> None:
        self._transport.close()


def temporary_path(folder: str, sha256: str) -> str:
    """Hidden, ending in ``.part``, without the final name: no pickup rule matches it.

    Made from the content, so a retry overwrites its own leftover and
    ``delivery_state`` can find it.
    """
    return f"{folder}/.upload-{sha256[:16]}.part"


def open_session(account: Account, credentials: Credentials) -> GenericSftpSession:
    return GenericSftpSession(account, credentials)


TRANSPORT = ClaimTransport(
    name=TRANSPORT_NAME,
    open=open_session,
    probe_host_key=probe_host_key,
    description="any SFTP mailbox: pinned host key, password login, atomic uploads",
)
