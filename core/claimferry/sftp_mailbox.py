"""The SFTP mailbox: how claimferry talks to any clearinghouse that takes claims over SFTP.

A clearinghouse plugin describes its mailbox in its :class:`Clearinghouse`
profile (folders, response names, what to tell people) and registers
:func:`mailbox_transport`; it writes no SFTP code of its own. What every
session guarantees, and why:

- The host key is checked before any secret is sent, against the key pinned in
  ``sftp.host_key`` or else a known_hosts file; an unknown or changed key fails
  closed and shows both fingerprints (design promise 4).
- A rejected login is raised at once and never retried: clearinghouses lock
  accounts after a few failures (promise 5).
- A claim file is written under a temporary name with pipelined writes whose
  every reply is checked, its size checked, then renamed to its final name,
  so the clearinghouse never picks up half a file (promise 1). The temporary
  name is new for every attempt, so two writers never share one; the rename
  never replaces a file already under the final name. A drop before the
  rename is retried from scratch; a drop while the rename was in flight is
  resolved by looking, or reported as uncertain, never silently retried (a
  second copy would bill twice).
- Only network failures are retried, with bounded exponential backoff.
- Listing and downloading never delete anything.

The rename is SFTP's plain ``rename``, never the ``posix-rename@openssh.com``
extension, which silently replaces a file under the target name. Plain rename
refuses an existing target on OpenSSH; on a server whose plain rename does
replace (some small servers call ``os.rename``), the look for the final name
just before renaming is the guard.

paramiko's ``Transport`` is used directly rather than ``SSHClient``: there is
then no agent, no ``~/.ssh/id_*`` lookup and no missing-host-key policy to
switch off, and the one login attempt is visible in this module.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import logging
import posixpath
import random
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar, cast

import paramiko
from paramiko.sftp import CMD_STATUS, CMD_WRITE, SFTP_OK, int64

from claimferry.config import Account, SftpSettings, inbound_in_outbound
from claimferry.credentials import Credentials
from claimferry.errors import AuthenticationError, CredentialError, HostKeyError, TransportError
from claimferry.types import (
    ClaimTransport,
    Clearinghouse,
    DeliveryState,
    HostKey,
    RemoteFile,
    UploadReceipt,
)

log = logging.getLogger("claimferry.sftp_mailbox")

T = TypeVar("T")

# Host key algorithms that can carry a key of each type (RSA keys are offered
# through their SHA-2 signature algorithms; paramiko no longer speaks ssh-rsa/SHA-1).
_ALGORITHMS_FOR_KEY_TYPE: dict[str, tuple[str, ...]] = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}

# Errno values that mean the network, not the server, failed.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.ENETRESET,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
    }
)

_REPIN_ADVICE = (
    "Refusing to connect. If {clearinghouse} confirms the key (compare the fingerprint "
    "out of band), run `claimferry hostkey {account}` and put the key it prints in "
    "the config as accounts.{account}.sftp.host_key. Never switch host key checking off."
)


# --- settings -------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; ``sleep`` is injectable for tests."""

    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (0-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**retry)
        return ceiling / 2 + ceiling / 2 * self.jitter()


@dataclass(frozen=True)
class Tuning:
    """Throughput knobs, chosen by benchmarks/upload.py against OpenSSH's sftp.

    ``request_size`` keeps each SFTP write request inside one SSH packet
    (OpenSSH's 32 KiB maximum, less paramiko's 64-byte margin and the request
    header); ``outstanding`` is how many writes are in flight at once.
    """

    request_size: int = 32768 - 64 - 64
    outstanding: int = 128
    window_size: int = 8 * 1024 * 1024
    max_packet_size: int = 32768
    ciphers: tuple[str, ...] = (
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
        "aes256-ctr",
    )


# --- host keys ------------------------------------------------------------------


def _host_key(key: paramiko.PKey) -> HostKey:
    return HostKey.from_openssh(f"{key.get_name()} {key.get_base64()}")


@dataclass(frozen=True)
class _ExpectedKeys:
    """The keys a server may present, and where that expectation came from."""

    source: str
    keys: tuple[HostKey, ...]
    revoked: frozenset[bytes] = frozenset()

    @property
    def algorithms(self) -> list[str]:
        """Host key algorithms to offer, so a server with several keys shows a known one."""
        names: list[str] = []
        for key in self.keys:
            for name in _ALGORITHMS_FOR_KEY_TYPE.get(key.key_type, (key.key_type,)):
                if name not in names:
                    names.append(name)
        return names

    def describe(self) -> str:
        if not self.keys:
            return "(none)"
        return ", ".join(f"{k.key_type} {k.fingerprint}" for k in self.keys)


def _known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _expected_keys(settings: SftpSettings) -> _ExpectedKeys:
    if settings.host_key:
        try:
            pinned = HostKey.from_openssh(settings.host_key)
        except ValueError:
            raise HostKeyError(
                "sftp.host_key is not valid base64; copy the whole line that "
                "`claimferry hostkey ACCOUNT` prints"
            ) from None
        return _ExpectedKeys(source="the key pinned in sftp.host_key", keys=(pinned,))
    path = settings.known_hosts or Path.home() / ".ssh" / "known_hosts"
    source = f"known_hosts file {path}"
    if not path.is_file():
        return _ExpectedKeys(source=f"{source} (missing)", keys=())
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HostKeyError(f"cannot read {source}: {exc.__class__.__name__}") from None
    known, revoked = _parse_known_hosts(lines)
    entry = known.lookup(_known_hosts_name(settings.host, settings.port))
    keys = tuple(_host_key(k) for k in entry.values()) if entry is not None else ()
    return _ExpectedKeys(source=source, keys=keys, revoked=revoked)


def _parse_known_hosts(lines: list[str]) -> tuple[paramiko.HostKeys, frozenset[bytes]]:
    """Host entries (plain or hashed) and ``@revoked`` key blobs.

    paramiko's own loader gives up on the whole file at the first marker line
    (``@revoked``, ``@cert-authority``), so markers are sorted out here first.
    """
    known = paramiko.HostKeys()
    revoked: set[bytes] = set()
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if fields[0].startswith("@"):
            if fields[0] == "@revoked" and len(fields) >= 4:
                try:
                    revoked.add(base64.b64decode(fields[3], validate=True))
                except ValueError:
                    log.debug("known_hosts line %d: unreadable @revoked key", number)
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
        except (paramiko.SSHException, ValueError):
            entry = None
        if entry is None or entry.key is None:
            log.debug("known_hosts line %d skipped (unsupported or damaged)", number)
            continue
        for name in entry.hostnames:
            known.add(name, entry.key.get_name(), entry.key)
    return known, frozenset(revoked)


def _verify_host_key(
    presented: paramiko.PKey, expected: _ExpectedKeys, who: _Who, where: str
) -> HostKey:
    seen = _host_key(presented)
    blob = presented.asbytes()
    if blob in expected.revoked:
        problem = f"host key of {where} is marked @revoked in {expected.source}"
    elif any(base64.b64decode(k.base64) == blob for k in expected.keys):
        return seen
    elif not expected.keys:
        problem = f"host key of {where} is unknown: nothing in {expected.source} matches it"
    else:
        problem = f"host key of {where} has CHANGED: it does not match {expected.source}"
    raise HostKeyError(
        f"{problem} (account {who.account or '?'}).\n"
        f"  expected:  {expected.describe()}\n"
        f"  presented: {seen.key_type} {seen.fingerprint}\n" + who.repin_advice
    )


@dataclass(frozen=True)
class _Who:
    """Whose mailbox this is, for messages: the account and its clearinghouse."""

    account: str
    clearinghouse: Clearinghouse

    @property
    def repin_advice(self) -> str:
        return _REPIN_ADVICE.format(
            clearinghouse=self.clearinghouse.display_name, account=self.account or "ACCOUNT"
        )


# --- errors ---------------------------------------------------------------------


def _is_network_failure(exc: BaseException, alive: bool) -> bool:
    """Whether trying again on a fresh connection may help."""
    if isinstance(exc, (paramiko.ssh_exception.IncompatiblePeer, paramiko.ChannelException)):
        return False  # the server's answer, the same on a fresh connection
    if isinstance(exc, (TimeoutError, EOFError, ConnectionError, socket.gaierror)):
        return True
    if isinstance(exc, paramiko.SSHException):
        # paramiko wraps a dropped channel ("Server connection dropped") around
        # the EOFError, possibly before the transport marks itself inactive. On
        # a live connection anything else is the server refusing something: a
        # fresh login would be refused the same.
        return not alive or _caused_by(exc, (EOFError, ConnectionError, TimeoutError))
    if isinstance(exc, OSError):
        # The SFTP server's own refusals (no such file, permission denied, failure)
        # arrive as OSError on a live connection; a dead connection means the network.
        return exc.errno in _NETWORK_ERRNOS or not alive
    return False


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``exc`` or what it was raised from is one of ``kinds`` (paramiko re-raises
    timeouts and dropped channels as ``SSHException``)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if _caused_by(exc, (TimeoutError,)):
        return f"timed out ({exc})"
    if isinstance(exc, EOFError):
        return "connection closed by the server"
    text = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
    text = text.strip().rstrip(":").strip()  # paramiko: "Server connection dropped: "
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def _check_remote_name(name: str) -> None:
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or name != name.strip()
    ):
        raise TransportError(f"not a plain file name: {name!r} (no folders, no '..')")


# --- connecting -----------------------------------------------------------------


def _load_private_key(credentials: Credentials) -> paramiko.PKey | None:
    if credentials.private_key is None:
        return None
    text = credentials.private_key.get_secret_value()
    passphrase = credentials.passphrase.get_secret_value() if credentials.passphrase else None
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise CredentialError(
                "the SFTP private key is encrypted and no passphrase was given"
            ) from None
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise CredentialError(
        "the SFTP private key could not be read: expected an Ed25519, ECDSA or RSA key "
        "in OpenSSH or PEM form (or the passphrase is wrong)"
    )


def _open_transport(
    settings: SftpSettings, tuning: Tuning, host_key_algorithms: list[str] | None
) -> paramiko.Transport:
    """TCP connect and SSH negotiation, bounded by the connect and auth timeouts."""
    sock = socket.create_connection(
        (settings.host, settings.port), timeout=settings.connect_timeout
    )
    try:
        transport = paramiko.Transport(
            sock,
            default_window_size=tuning.window_size,
            default_max_packet_size=tuning.max_packet_size,
        )
    except BaseException:
        sock.close()
        raise
    transport.banner_timeout = settings.auth_timeout
    transport.handshake_timeout = settings.auth_timeout
    transport.auth_timeout = settings.auth_timeout
    transport.channel_timeout = settings.operation_timeout
    options = transport.get_security_options()
    offered = set(options.ciphers)
    options.ciphers = tuple(c for c in tuning.ciphers if c in offered) + tuple(
        c for c in options.ciphers if c not in tuning.ciphers
    )
    if host_key_algorithms:
        options.key_types = tuple(host_key_algorithms)
    done = threading.Event()
    try:
        transport.start_client(event=done)
        if not done.wait(settings.auth_timeout):
            raise TimeoutError("SSH negotiation timed out")
        if not transport.is_active():
            raise transport.get_exception() or paramiko.SSHException("SSH negotiation failed")
    except BaseException:
        transport.close()
        raise
    return transport


def _authenticate(transport: paramiko.Transport, credentials: Credentials, who: _Who) -> None:
    """Log in once: one credential offered. A refusal is final: no loop, no other guesses.

    With a key and a password, the key is the login; the password is sent only
    when the server accepted the key and asks for it as a second step. A refused
    key is never followed by the password: that would be two failed logins
    toward the account's lockout for one run.
    """
    key = _load_private_key(credentials)
    password = credentials.password.get_secret_value() if credentials.password else None
    user = credentials.username
    try:
        remaining: list[str] = []
        if key is not None:
            remaining = transport.auth_publickey(user, key)
            if remaining and password is not None and "password" in remaining:
                remaining = transport.auth_password(user, password)
        elif password is not None:
            remaining = transport.auth_password(user, password)
    except paramiko.BadAuthenticationType as exc:
        raise AuthenticationError(
            f"the server for account {who.account} does not accept this kind of login "
            f"(it accepts: {', '.join(exc.allowed_types) or 'nothing'}). Not retried."
        ) from None
    except paramiko.AuthenticationException as exc:
        if "timeout" in str(exc).lower():
            raise TransportError(
                f"no answer to the login for account {who.account} within "
                f"{transport.auth_timeout:g}s. Not retried automatically, so that a slow "
                "server cannot lead to the account being locked; try again later."
            ) from None
        hint = who.clearinghouse.mailbox.login_hint
        raise AuthenticationError(
            f"{who.clearinghouse.display_name} refused the SFTP login for account "
            f"{who.account} (user {user!r}). Not retried: repeated failures lock the "
            "account." + (f" {hint}" if hint else "")
        ) from None
    if remaining or not transport.is_authenticated():
        raise AuthenticationError(
            f"the server for account {who.account} wants a further login step "
            f"({', '.join(remaining) or 'unknown'}) that claimferry cannot provide"
        )


class _Connection:
    """One authenticated SSH connection with its SFTP channel."""

    def __init__(self, transport: paramiko.Transport, sftp: paramiko.SFTPClient, key: HostKey):
        self.transport = transport
        self.sftp = sftp
        self.host_key = key

    @property
    def alive(self) -> bool:
        return self.transport.is_active()

    def close(self) -> None:
        """Close quietly: on a dropped connection, saying goodbye fails too."""
        try:
            self.sftp.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("closing the SFTP channel: %s", _describe(exc))
        finally:
            self.transport.close()


def _connect(
    who: _Who, settings: SftpSettings, credentials: Credentials, tuning: Tuning
) -> _Connection:
    expected = _expected_keys(settings)
    where = f"{settings.host}:{settings.port}"
    try:
        transport = _open_transport(settings, tuning, expected.algorithms)
    except paramiko.ssh_exception.IncompatiblePeer as exc:
        if "host key" not in str(exc):
            raise
        raise HostKeyError(
            f"host key of {where} is unknown: the server offers no key of the expected "
            f"type (account {who.account}).\n"
            f"  expected:  {expected.describe()}\n"
            f"  presented: (no key of that type)\n" + who.repin_advice
        ) from None
    try:
        key = _verify_host_key(transport.get_remote_server_key(), expected, who, where)
        log.debug("host key of %s verified: %s", where, key.fingerprint)
        _authenticate(transport, credentials, who)
        log.debug("logged in to %s as %s", where, credentials.username)
        sftp = _open_sftp(transport, who, where)
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(settings.operation_timeout)
    except BaseException:
        transport.close()
        raise
    return _Connection(transport, sftp, key)


def _open_sftp(transport: paramiko.Transport, who: _Who, where: str) -> paramiko.SFTPClient:
    """The SFTP channel; a server that refuses it will refuse it on every login."""
    try:
        sftp = paramiko.SFTPClient.from_transport(transport)
    except paramiko.SSHException as exc:
        if not transport.is_active():
            raise  # the network: a fresh connection may do
        sftp = None
        log.debug("SFTP subsystem on %s: %s", where, _describe(exc))
    if sftp is None:
        raise TransportError(
            f"{where} refused an SFTP session for account {who.account} after the "
            "login succeeded: the account may not be enabled for SFTP. Not retried."
        )
    return sftp


def probe_host_key(settings: SftpSettings) -> HostKey:
    """The key the server presents, fetched without logging in (for ``claimferry hostkey``).

    With a key pinned, the server is asked for a key of the pinned type first,
    so that the answer can be compared with the pin; if it has none of that
    type, for the key it prefers.
    """
    pinned_type = _expected_keys(settings).algorithms if settings.host_key else []
    for algorithms in ([pinned_type] if pinned_type else []) + [None]:
        try:
            transport = _open_transport(settings, Tuning(), host_key_algorithms=algorithms)
        except paramiko.ssh_exception.IncompatiblePeer:
            if algorithms is None:
                raise
            continue
        except Exception as exc:
            raise TransportError(
                f"cannot reach {settings.host}:{settings.port}: {_describe(exc)}",
                transient=_is_network_failure(exc, alive=False),
            ) from None
        try:
            return _host_key(transport.get_remote_server_key())
        finally:
            transport.close()
    raise TransportError(f"{settings.host}:{settings.port} presented no host key")


def account_sftp_settings(account: Account) -> SftpSettings:
    """The account's own ``sftp:`` section: where most clearinghouses' accounts keep it."""
    if account.sftp is None:
        raise TransportError(f"account {account.name} has no sftp section in the config")
    return account.sftp


# --- pipelined writes -----------------------------------------------------------


class _SftpInternals(Protocol):
    """The two paramiko ``SFTPClient`` methods the pipelined writer needs.

    paramiko's own pipelined ``SFTPFile.write`` discards the status of writes
    still in flight when the file is closed, so a failed write could go unseen;
    this writer checks every one, and keeps a steady window instead of
    paramiko's drain-everything-every-100-requests.
    """

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...

    def _read_response(self, waitfor: int | None = None) -> tuple[object, object]: ...


class _WriteReplies:
    """Collects the server's answers to pipelined writes (paramiko calls ``_async_response``)."""

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.failure: str | None = None

    def _async_response(self, kind: int, msg: paramiko.Message, num: int) -> None:
        self.pending.discard(num)
        if kind != CMD_STATUS:
            self.failure = self.failure or f"unexpected SFTP reply type {kind}"
            return
        code = msg.get_int()
        if code != SFTP_OK and self.failure is None:
            self.failure = msg.get_text() or f"SFTP status {code}"


def _write_pipelined(sftp: paramiko.SFTPClient, handle: bytes, data: bytes, tuning: Tuning) -> None:
    client = cast(_SftpInternals, sftp)
    replies = _WriteReplies()
    view = memoryview(data)
    for offset in range(0, len(data), tuning.request_size):
        chunk = bytes(view[offset : offset + tuning.request_size])
        num = client._async_request(replies, CMD_WRITE, handle, int64(offset), chunk)
        replies.pending.add(num)
        while len(replies.pending) >= tuning.outstanding:
            client._read_response()
        if replies.failure:
            break
    while replies.pending:
        client._read_response()
    if replies.failure:
        raise OSError(f"the server refused a write: {replies.failure}")


# --- the session ----------------------------------------------------------------


@dataclass
class _Upload:
    """One upload's progress across retries: was the rename already sent?"""

    final: str
    temporary: str
    size: int
    sha256: str
    rename_sent: bool = False


class SftpMailbox:
    """An authenticated SFTP session to one account's mailbox; reconnects on network failures.

    ``settings`` defaults to the account's ``sftp:`` section; folders it does
    not name come from ``clearinghouse.mailbox``. Log records go to
    ``claimferry.<clearinghouse name>`` and never hold a secret or file content.
    """

    def __init__(
        self,
        account: Account,
        credentials: Credentials,
        clearinghouse: Clearinghouse,
        *,
        settings: SftpSettings | None = None,
        policy: RetryPolicy | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self._account = account
        self._who = _Who(account.name, clearinghouse)
        self._mailbox = clearinghouse.mailbox
        self._settings = settings or account_sftp_settings(account)
        self._credentials = credentials
        self._policy = policy or RetryPolicy()
        self._tuning = tuning or Tuning()
        self._log = logging.getLogger(f"claimferry.{clearinghouse.name}")
        self._conn: _Connection | None = None
        self._last_fingerprint = ""
        inbound, outbound = self._folder("inbound"), self._folder("outbound")
        nested = inbound_in_outbound(inbound, outbound)
        if nested:
            # The account's folders may pass the config check alone and still
            # land in the profile's default outbound (or the other way round).
            raise TransportError(f"account {account.name}: sftp.{nested}")
        self._inbound = posixpath.normpath(inbound)
        self._outbound = posixpath.normpath(outbound)

    def _folder(self, which: str) -> str:
        """The account's setting when it names one, else the clearinghouse's default."""
        if which in self._settings.model_fields_set:
            return str(getattr(self._settings, which))
        return str(getattr(self._mailbox, which))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(account={self._account.name!r}, host={self._settings.host!r})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def host_fingerprint(self) -> str:
        return self._last_fingerprint

    def connect(self) -> None:
        """Connect now (with retries), so that login and host key problems show early."""
        self._retrying("connect", lambda conn: None)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    # -- retries -----------------------------------------------------------------

    def _connection(self) -> _Connection:
        if self._conn is None or not self._conn.alive:
            self.close()
            self._conn = _connect(self._who, self._settings, self._credentials, self._tuning)
            self._last_fingerprint = self._conn.host_key.fingerprint
        return self._conn

    def _retrying(self, what: str, operation: Callable[[_Connection], T]) -> T:
        where = f"{self._settings.host}:{self._settings.port}"
        retry = 0
        while True:
            try:
                return operation(self._connection())
            except (TransportError, CredentialError):
                raise
            except Exception as exc:
                alive = self._conn is not None and self._conn.alive
                if not _is_network_failure(exc, alive):
                    raise TransportError(f"{what} on {where} failed: {_describe(exc)}") from None
                self.close()
                if retry >= self._settings.retries:
                    attempts = retry + 1
                    raise TransportError(
                        f"{what} on {where} failed after {attempts} attempt"
                        f"{'s' if attempts > 1 else ''}: {_describe(exc)}",
                        transient=True,
                    ) from None
                delay = self._policy.delay(retry)
                self._log.info(
                    "%s on %s: %s; retry %d of %d in %.1fs",
                    what,
                    where,
                    _describe(exc),
                    retry + 1,
                    self._settings.retries,
                    delay,
                )
                self._policy.sleep(delay)
                retry += 1

    # -- operations --------------------------------------------------------------

    def upload(self, data: bytes, remote_name: str) -> UploadReceipt:
        _check_remote_name(remote_name)
        digest = hashlib.sha256(data).hexdigest()
        job = _Upload(
            final=f"{self._inbound}/{remote_name}",
            temporary=f"{self._inbound}/{temporary_name(digest)}",
            size=len(data),
            sha256=digest,
        )
        self._log.debug("uploading %s (%d bytes)", remote_name, len(data))
        try:
            receipt = self._retrying(
                f"upload of {remote_name}", lambda conn: self._upload_once(conn, job, data)
            )
        except TransportError as exc:
            if not job.rename_sent:
                exc.delivered = False  # the final name was never asked for
            raise
        self._clear_leftovers(job)
        return receipt

    def _clear_leftovers(self, job: _Upload) -> None:
        """Remove temporary files that interrupted attempts at these bytes left.

        Called once the bytes are delivered: any other copy of them (the same
        batch, control number included) is an attempt that can only fail. Only
        on the live connection: a leftover is never picked up, so it is not
        worth a new login (a refused one counts toward the account's lockout).
        """
        conn = self._conn
        if conn is None or not conn.alive:
            self._log.debug("connection gone after %s; leftovers stay", job.final)
            return
        prefix = _temporary_prefix(job.sha256)
        try:
            names = conn.sftp.listdir(self._inbound)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._log.debug("could not list %s for leftovers: %s", self._inbound, _describe(exc))
            return
        for name in names:
            if name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX):
                self._remove_quietly(conn, f"{self._inbound}/{name}")

    def _upload_once(self, conn: _Connection, job: _Upload, data: bytes) -> UploadReceipt:
        if job.rename_sent and self._rename_already_done(conn, job):
            return self._receipt(conn, job)
        try:
            self._write_temporary(conn, job, data)
            self._refuse_taken_name(conn, job)
        except Exception:
            if conn.alive:
                self._remove_quietly(conn, job.temporary)
            raise
        job.rename_sent = True
        try:
            self._rename(conn, job)
        except OSError as exc:
            if conn.alive and not _is_network_failure(exc, alive=True):
                job.rename_sent = False
                self._remove_quietly(conn, job.temporary)
                self._refuse_taken_name(conn, job)
            raise
        job.rename_sent = False
        self._check_after_rename(conn, job)
        return self._receipt(conn, job)

    def _write_temporary(self, conn: _Connection, job: _Upload, data: bytes) -> None:
        started = time.monotonic()
        with conn.sftp.open(job.temporary, "wb") as handle:
            _write_pipelined(conn.sftp, cast(bytes, handle.handle), data, self._tuning)
        size = conn.sftp.stat(job.temporary).st_size
        if size != job.size:
            raise TransportError(
                f"upload check failed: the server holds {size} bytes of {job.size}; "
                "the file was not renamed to its final name"
            )
        elapsed = time.monotonic() - started
        self._log.debug("wrote %d bytes in %.2fs, size verified", job.size, elapsed)

    def _refuse_taken_name(self, conn: _Connection, job: _Upload) -> None:
        """Never replace a file under the final name: it is another batch's."""
        if self._exists(conn, job.final):
            who = self._who.clearinghouse.display_name
            raise TransportError(
                f"{posixpath.basename(job.final)} is already in {self._inbound}, and claimferry "
                "never replaces a file there: not delivered. The batch stays recorded and is "
                f"sent at the next run, once that name is free ({who} takes files from "
                f"{self._inbound}); ask {who} about the file under that name",
                delivered=False,
            )

    @staticmethod
    def _rename(conn: _Connection, job: _Upload) -> None:
        """SFTP's plain rename, which refuses an existing target (OpenSSH, the mock).

        Never ``posix-rename``: it silently replaces whatever holds the name.
        A server whose plain rename replaces too (sftpserver's stub) is guarded
        by ``_refuse_taken_name`` just before.
        """
        conn.sftp.rename(job.temporary, job.final)

    def _check_after_rename(self, conn: _Connection, job: _Upload) -> None:
        """Confirm the final name, tolerating a server that takes the file at once."""
        try:
            size = conn.sftp.stat(job.final).st_size
        except FileNotFoundError:
            self._log.debug("%s already taken by the server", job.final)
            return
        except Exception as exc:  # the rename succeeded; a later hiccup changes nothing
            self._log.debug("could not stat %s after the rename: %s", job.final, _describe(exc))
            return
        if size != job.size:
            self._log.warning(
                "%s holds %s bytes after the rename, %d were verified before it "
                "(is the server already processing it?)",
                job.final,
                size,
                job.size,
            )

    def _rename_already_done(self, conn: _Connection, job: _Upload) -> bool:
        """After a drop mid-rename: True if delivered, False if safe to redo; else uncertain."""
        if self._exists(conn, job.temporary):
            job.rename_sent = False
            return False
        if self._exists(conn, job.final):
            return True
        who = self._who.clearinghouse.display_name
        raise TransportError(
            f"delivery of {posixpath.basename(job.final)} is uncertain: the connection "
            "dropped while renaming it, and neither the temporary nor the final file is "
            f"in {self._inbound} ({who} may already have taken it). Not sent again: check "
            f"{who}'s reports before resubmitting this batch."
        )

    @staticmethod
    def _exists(conn: _Connection, path: str) -> bool:
        try:
            conn.sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    def _remove_quietly(self, conn: _Connection, path: str) -> None:
        try:
            conn.sftp.remove(path)
        except Exception as exc:  # best effort: the temporary name is never picked up
            self._log.debug("could not remove %s: %s", path, _describe(exc))

    def _receipt(self, conn: _Connection, job: _Upload) -> UploadReceipt:
        self._log.debug("delivered %s (%d bytes)", job.final, job.size)
        return UploadReceipt(
            remote_name=posixpath.basename(job.final),
            size=job.size,
            sha256=job.sha256,
            host_fingerprint=conn.host_key.fingerprint,
        )

    def delivery_state(self, remote_name: str, size: int, sha256: str) -> DeliveryState:
        """Final name at ``size``: delivered; only our temporary file: partial; else absent.

        Absent only means "not there now": a server that takes files from
        inbound at once leaves nothing to find after a delivery.
        """
        _check_remote_name(remote_name)
        final = f"{self._inbound}/{remote_name}"
        prefix = _temporary_prefix(sha256)

        def look(conn: _Connection) -> DeliveryState:
            try:
                if conn.sftp.stat(final).st_size == size:
                    return DeliveryState.DELIVERED
            except FileNotFoundError:
                pass
            if any(
                name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX)
                for name in conn.sftp.listdir(self._inbound)
            ):
                return DeliveryState.PARTIAL
            return DeliveryState.ABSENT

        return self._retrying(f"looking for {remote_name}", look)

    def list_responses(self) -> list[RemoteFile]:
        def listing(conn: _Connection) -> list[RemoteFile]:
            files = []
            for entry in conn.sftp.listdir_attr(self._outbound):
                if entry.st_mode is not None and not stat.S_ISREG(entry.st_mode):
                    continue
                if not self._mailbox.is_response(entry.filename):
                    continue
                files.append(
                    RemoteFile(
                        name=entry.filename,
                        size=entry.st_size or 0,
                        modified=float(entry.st_mtime) if entry.st_mtime is not None else None,
                    )
                )
            return sorted(files, key=lambda f: f.name)

        return self._retrying("listing responses", listing)

    def download(self, name: str) -> bytes:
        _check_remote_name(name)
        path = f"{self._outbound}/{name}"

        def fetch(conn: _Connection) -> bytes:
            size = conn.sftp.stat(path).st_size
            buffer = io.BytesIO()
            conn.sftp.getfo(path, buffer)
            data = buffer.getvalue()
            if size is not None and len(data) < size:
                raise EOFError(f"got {len(data)} of {size} bytes")
            return data

        data = self._retrying(f"download of {name}", fetch)
        self._log.debug("downloaded %s (%d bytes)", name, len(data))
        return data


_TEMPORARY_SUFFIX = ".part"


def _temporary_prefix(sha256_hex: str) -> str:
    return f".claimferry-{sha256_hex[:16]}-"


def temporary_name(sha256_hex: str) -> str:
    """A hidden name for a file still being written, new for every attempt.

    It holds neither ``837P`` nor the final name, and is hidden, so that no
    name-matching pickup at a clearinghouse can take it for a claim file. It starts with the
    content's hash, so a later run can find an interrupted attempt; it ends
    with a random part, so two writers never open (and truncate) one file.
    """
    return f"{_temporary_prefix(sha256_hex)}{secrets.token_hex(8)}{_TEMPORARY_SUFFIX}"


def mailbox_transport(
    name: str,
    clearinghouse: Clearinghouse | Callable[[Account], Clearinghouse],
    *,
    settings: Callable[[Account], SftpSettings] = account_sftp_settings,
    policy: RetryPolicy | None = None,
    tuning: Tuning | None = None,
    description: str = "",
) -> ClaimTransport:
    """A transport registration for a clearinghouse's SFTP mailbox.

    ``clearinghouse`` is the profile, or a function giving an account's
    profile (a plugin that registers several); ``settings`` says where an
    account's ``SftpSettings`` are. Tests pass a ``policy`` that does not sleep.
    """

    def profile(account: Account) -> Clearinghouse:
        if isinstance(clearinghouse, Clearinghouse):
            return clearinghouse
        return clearinghouse(account)

    def open_session(account: Account, credentials: Credentials) -> SftpMailbox:
        opened = SftpMailbox(
            account,
            credentials,
            profile(account),
            settings=settings(account),
            policy=policy,
            tuning=tuning,
        )
        opened.connect()
        return opened

    return ClaimTransport(
        name=name,
        open=open_session,
        probe_host_key=lambda account: probe_host_key(settings(account)),
        description=description,
    )
