"""The Office Ally SFTP transport against a real SSH server on loopback.

Each test tries to break one promise: atomic delivery (1), host keys checked
(4), honest failures and no login retries (5), nothing secret in logs (6).
"""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from pydantic import ValidationError

from claimferry.api import (
    AuthenticationError,
    CredentialError,
    Credentials,
    DeliveryState,
    HostKeyError,
    SecretStr,
    TransportError,
    TransportSession,
)
from claimferry.manager import PluginManager
from claimferry_officeally.transport import (
    OfficeAllySession,
    RetryPolicy,
    probe_host_key,
    temporary_name,
)
from transport.sftp_server import (
    PASSWORD,
    USER,
    AccountFactory,
    SftpTestServer,
    new_ed25519_key,
    new_ed25519_text,
    openssh_line,
    private_key_text,
)

Opener = Callable[..., OfficeAllySession]

CLAIM = b"ISA*00*" + b"x" * 5000 + b"~IEA*1*000000123~\n"
NAME = "SUNRISE01_837P_OATEST_000000123_20261128T180500.txt"


def inbound_names(server: SftpTestServer) -> list[str]:
    return sorted(p.name for p in (server.root / "inbound").iterdir())


# --- delivery -----------------------------------------------------------------


def test_upload_with_pinned_key_delivers_under_final_name(
    server: SftpTestServer, open_session: Opener
) -> None:
    with open_session() as session:
        assert isinstance(session, TransportSession)
        receipt = session.upload(CLAIM, NAME)
    assert (server.root / "inbound" / NAME).read_bytes() == CLAIM
    assert inbound_names(server) == [NAME]
    assert receipt.remote_name == NAME
    assert receipt.size == len(CLAIM)
    assert receipt.sha256 == hashlib.sha256(CLAIM).hexdigest()
    assert receipt.host_fingerprint == server.host_key.fingerprint
    assert session.host_fingerprint == server.host_key.fingerprint
    (old, new) = server.stats.renames[0]
    assert new == f"inbound/{NAME}" and old.startswith("inbound/.") and "837P" not in old


def test_large_upload_is_intact(server: SftpTestServer, open_session: Opener) -> None:
    data = bytes(range(256)) * 40_000 + b"tail"  # ~10 MB, not a multiple of the request size
    with open_session() as session:
        session.upload(data, NAME)
    assert (server.root / "inbound" / NAME).read_bytes() == data


def test_upload_never_goes_into_outbound(
    make_account: AccountFactory, open_session: Opener
) -> None:
    with pytest.raises(ValidationError, match="is the outbound folder"):
        make_account(inbound="outbound/", outbound="outbound")  # the config refuses it
    account = make_account()  # and the transport, for an account built unchecked in code
    assert account.sftp is not None
    unchecked = account.model_copy(
        update={"sftp": account.sftp.model_copy(update={"inbound": "outbound/"})}
    )
    with pytest.raises(TransportError, match=r"is the outbound folder .outbound. \(or in it\)"):
        open_session(unchecked)


@pytest.mark.parametrize("bad", ["../outbound/x.txt", "outbound/x.txt", "..", "", " x.txt"])
def test_upload_refuses_paths(server: SftpTestServer, open_session: Opener, bad: str) -> None:
    with open_session() as session, pytest.raises(TransportError, match="plain file name"):
        session.upload(CLAIM, bad)
    assert list((server.root / "outbound").iterdir()) == []


def test_delivery_state_tells_delivered_partial_and_absent(
    server: SftpTestServer, open_session: Opener
) -> None:
    digest = hashlib.sha256(CLAIM).hexdigest()
    with open_session() as session:
        assert session.delivery_state(NAME, len(CLAIM), digest) is DeliveryState.ABSENT
        (server.root / "inbound" / temporary_name(digest)).write_bytes(CLAIM[:10])
        assert session.delivery_state(NAME, len(CLAIM), digest) is DeliveryState.PARTIAL
        session.upload(CLAIM, NAME)
        assert session.delivery_state(NAME, len(CLAIM), digest) is DeliveryState.DELIVERED
        assert session.delivery_state(NAME, len(CLAIM) + 1, digest) is DeliveryState.ABSENT


def test_server_that_takes_the_file_at_once_is_not_an_error(
    server: SftpTestServer, open_session: Opener
) -> None:
    server.faults.take_after_rename = True
    with open_session() as session:
        receipt = session.upload(CLAIM, NAME)
    assert receipt.size == len(CLAIM)
    assert (server.taken / NAME).read_bytes() == CLAIM
    assert inbound_names(server) == []


def test_falls_back_to_plain_rename(server: SftpTestServer, open_session: Opener) -> None:
    server.faults.posix_rename_unsupported = True
    with open_session() as session:
        session.upload(CLAIM, NAME)
    assert inbound_names(server) == [NAME]


def test_refused_writes_fail_without_a_final_file(
    server: SftpTestServer, open_session: Opener, sleeps: list[float]
) -> None:
    server.faults.fail_writes = True
    with open_session() as session, pytest.raises(TransportError) as caught:
        session.upload(CLAIM, NAME)
    assert not caught.value.transient
    assert sleeps == []
    assert inbound_names(server) == []  # the temporary file was removed too


# --- interrupted uploads and retries --------------------------------------------


def test_drop_mid_upload_is_retried_and_delivers_once(
    server: SftpTestServer, open_session: Opener, sleeps: list[float]
) -> None:
    data = b"y" * 1_000_000
    with open_session() as session:
        server.faults.drop_after_bytes = 200_000
        server.faults.drop_times = 1
        receipt = session.upload(data, NAME)
    assert len(sleeps) == 1
    assert receipt.size == len(data)
    assert (server.root / "inbound" / NAME).read_bytes() == data
    assert inbound_names(server) == [NAME]
    assert len(server.stats.renames) == 1


def test_interrupted_upload_leaves_no_final_file(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory
) -> None:
    with open_session(make_account(retries=0)) as session:
        server.faults.drop_after_bytes = 100_000
        with pytest.raises(TransportError) as caught:
            session.upload(b"z" * 1_000_000, NAME)
    assert caught.value.transient
    assert NAME not in inbound_names(server)
    assert server.stats.renames == []


def test_retry_budget_exhausted_is_transient(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, sleeps: list[float]
) -> None:
    with open_session(make_account(retries=3)) as session:
        server.faults.drop_after_bytes = 100_000
        with pytest.raises(TransportError, match="after 4 attempts") as caught:
            session.upload(b"z" * 1_000_000, NAME)
    assert caught.value.transient
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps) or max(sleeps) <= 0.05  # backoff grows up to its cap
    assert NAME not in inbound_names(server)


def test_drop_before_rename_redoes_the_upload(server: SftpTestServer, open_session: Opener) -> None:
    server.faults.drop_on_rename = "before"
    with open_session() as session:
        session.upload(CLAIM, NAME)
    assert inbound_names(server) == [NAME]
    assert len(server.stats.renames) == 1


def test_drop_after_rename_is_recognised_as_delivered(
    server: SftpTestServer, open_session: Opener
) -> None:
    server.faults.drop_on_rename = "after"
    with open_session() as session:
        receipt = session.upload(CLAIM, NAME)
    assert receipt.remote_name == NAME
    assert inbound_names(server) == [NAME]
    assert len(server.stats.renames) == 1


def test_drop_after_rename_and_file_gone_is_uncertain_not_resent(
    server: SftpTestServer, open_session: Opener
) -> None:
    server.faults.drop_on_rename = "after"
    server.faults.take_after_rename = True
    with open_session() as session, pytest.raises(TransportError, match="uncertain") as caught:
        session.upload(CLAIM, NAME)
    assert not caught.value.transient
    assert len(server.stats.renames) == 1  # never sent a second copy


def test_connection_refused_is_retried_then_transient(
    make_account: AccountFactory, open_session: Opener, sleeps: list[float]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(TransportError) as caught:
        open_session(make_account(port=free_port, retries=2))
    assert caught.value.transient
    assert len(sleeps) == 2


def test_backoff_is_bounded_exponential_with_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=lambda: 1.0)
    assert [policy.delay(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    low = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=lambda: 0.0)
    assert [low.delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]


# --- timeouts -------------------------------------------------------------------


def test_operation_timeout_fires(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory
) -> None:
    with open_session(make_account(operation_timeout=0.5, retries=0)) as session:
        server.faults.delay = 3.0
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out") as caught:
            session.list_responses()
    assert caught.value.transient
    assert time.monotonic() - started < 2.5


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_negotiation_timeout_fires(
    silent_port: int, make_account: AccountFactory, open_session: Opener, sleeps: list[float]
) -> None:
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out") as caught:
        open_session(make_account(port=silent_port, auth_timeout=0.5, retries=1))
    assert caught.value.transient
    assert len(sleeps) == 1
    assert time.monotonic() - started < 4


# --- host keys ------------------------------------------------------------------


def test_known_hosts_entry_is_accepted(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{server.port} {server.host_key_openssh}\n")
    with open_session(make_account(host_key=None, known_hosts=known)) as session:
        assert session.host_fingerprint == server.host_key.fingerprint


def test_hashed_known_hosts_entry_is_accepted(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, tmp_path: Path
) -> None:
    hashed = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{server.port}")
    known = tmp_path / "known_hosts"
    known.write_text(f"{hashed} {server.host_key_openssh}\n")
    with open_session(make_account(host_key=None, known_hosts=known)) as session:
        session.list_responses()


def test_unknown_host_fails_closed_before_login(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"otherhost {openssh_line(new_ed25519_key())}\n")
    with pytest.raises(HostKeyError) as caught:
        open_session(make_account(host_key=None, known_hosts=known))
    message = str(caught.value)
    assert "unknown" in message
    assert server.host_key.fingerprint in message
    assert "claimferry hostkey sunrise" in message and "sftp.host_key" in message
    assert server.stats.auth_attempts == 0  # no secret was sent to an unverified server


def test_missing_known_hosts_file_fails_closed(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, tmp_path: Path
) -> None:
    with pytest.raises(HostKeyError, match="missing"):
        open_session(make_account(host_key=None, known_hosts=tmp_path / "nope"))
    assert server.stats.auth_attempts == 0


def test_changed_host_key_shows_both_fingerprints(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, sleeps: list[float]
) -> None:
    old = new_ed25519_key()
    with pytest.raises(HostKeyError) as caught:
        open_session(make_account(host_key=openssh_line(old)))
    message = str(caught.value)
    assert "CHANGED" in message
    assert f"expected:  ssh-ed25519 {old.fingerprint}" in message
    assert f"presented: ssh-ed25519 {server.host_key.fingerprint}" in message
    assert not caught.value.transient and sleeps == []
    assert server.stats.auth_attempts == 0


def test_revoked_known_hosts_key_is_refused(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    entry = f"[127.0.0.1]:{server.port} {server.host_key_openssh}"
    known.write_text(f"{entry}\n@revoked {entry}\n")
    with pytest.raises(HostKeyError, match="revoked"):
        open_session(make_account(host_key=None, known_hosts=known))


@pytest.fixture
def multikey_server(tmp_path: Path) -> Iterator[SftpTestServer]:
    keys = [new_ed25519_key(), paramiko.ECDSAKey.generate(), paramiko.RSAKey.generate(2048)]
    srv = SftpTestServer(tmp_path / "multi", users={USER: PASSWORD}, host_keys=keys).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("which", [1, 2])
def test_pinned_key_type_is_the_one_negotiated(
    multikey_server: SftpTestServer, make_account: AccountFactory, open_session: Opener, which: int
) -> None:
    key = multikey_server.host_keys[which]
    account = make_account(port=multikey_server.port, host_key=openssh_line(key))
    with open_session(account) as session:
        assert session.host_fingerprint == key.fingerprint


def test_probe_prefers_the_pinned_key_type(
    multikey_server: SftpTestServer, make_account: AccountFactory
) -> None:
    ecdsa = openssh_line(multikey_server.host_keys[1])
    port = multikey_server.port
    assert probe_host_key(make_account(port=port, host_key=ecdsa)).openssh == ecdsa
    unpinned = probe_host_key(make_account(port=port, host_key=None))
    assert unpinned.openssh == openssh_line(multikey_server.host_keys[0])
    other = openssh_line(new_ed25519_key())
    assert probe_host_key(make_account(port=port, host_key=other)).key_type == "ssh-ed25519"


def test_server_without_the_pinned_key_type_fails_closed(
    server: SftpTestServer, make_account: AccountFactory, open_session: Opener
) -> None:
    other = paramiko.ECDSAKey.generate()
    with pytest.raises(HostKeyError, match="no key of the expected type"):
        open_session(make_account(host_key=openssh_line(other)))


def test_probe_returns_the_presented_key(
    server: SftpTestServer, make_account: AccountFactory
) -> None:
    key = probe_host_key(make_account(host_key=None))
    assert key.openssh == server.host_key_openssh
    assert key.fingerprint == server.host_key.fingerprint  # paramiko computes it on its own
    assert server.stats.auth_attempts == 0


# --- logins ---------------------------------------------------------------------


def test_wrong_password_is_one_attempt_never_retried(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory, sleeps: list[float]
) -> None:
    wrong = Credentials(username=USER, password=SecretStr("portal-password-123"))
    with pytest.raises(AuthenticationError) as caught:
        open_session(make_account(retries=5), wrong)
    assert server.stats.auth_attempts == 1
    assert server.stats.connections == 1
    assert sleeps == []
    assert not caught.value.transient
    message = str(caught.value)
    assert "not the web portal login" in message
    assert "portal-password-123" not in message


def test_private_key_login(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory
) -> None:
    text = new_ed25519_text()
    server.authorized_keys[USER] = [paramiko.Ed25519Key.from_private_key(io.StringIO(text))]
    creds = Credentials(username=USER, private_key=SecretStr(text))
    with open_session(make_account(), creds) as session:
        session.upload(CLAIM, NAME)
    assert server.stats.auth_attempts == 1


def test_encrypted_private_key_with_passphrase(
    server: SftpTestServer, open_session: Opener, make_account: AccountFactory
) -> None:
    key = paramiko.RSAKey.generate(2048)
    server.authorized_keys[USER] = [key]
    text = private_key_text(key, passphrase="horse battery")
    with pytest.raises(CredentialError, match="passphrase") as caught:
        open_session(make_account(), Credentials(username=USER, private_key=SecretStr(text)))
    assert "PRIVATE KEY" not in str(caught.value)
    assert server.stats.connections == 1 and server.stats.auth_attempts == 0
    creds = Credentials(
        username=USER, private_key=SecretStr(text), passphrase=SecretStr("horse battery")
    )
    with open_session(make_account(), creds) as session:
        session.list_responses()


# --- responses ------------------------------------------------------------------


def test_list_and_download_never_delete(server: SftpTestServer, open_session: Opener) -> None:
    outbound = server.root / "outbound"
    (outbound / "123456789_EDI_STATUS_20261128.txt").write_bytes(b"status report\n")
    (outbound / "1234567890_ERA_STATUS_5010_20261128.zip").write_bytes(b"PK\x03\x04" + b"0" * 100)
    (outbound / "archive").mkdir()
    with open_session() as session:
        listed = session.list_responses()
        assert {(f.name, f.size) for f in listed} == {
            ("123456789_EDI_STATUS_20261128.txt", 14),
            ("1234567890_ERA_STATUS_5010_20261128.zip", 104),
        }
        assert all(f.modified for f in listed)
        for _ in range(2):
            assert session.download("123456789_EDI_STATUS_20261128.txt") == b"status report\n"
        with pytest.raises(TransportError, match="plain file name"):
            session.download("../inbound/x")
        with pytest.raises(TransportError) as missing:
            session.download("nope.txt")
        assert not missing.value.transient
    assert server.stats.removed == []
    assert len(list(outbound.iterdir())) == 3


# --- secrets --------------------------------------------------------------------


def test_debug_logs_hold_no_password_and_no_file_content(
    server: SftpTestServer,
    open_session: Opener,
    make_account: AccountFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_content = b"PATIENT*DOE*JANE*PHI-MARKER"
    caplog.set_level(logging.DEBUG)
    with open_session() as session:
        server.faults.drop_after_bytes = 10
        server.faults.drop_times = 1
        session.upload(secret_content, NAME)
        session.list_responses()
    wrong = Credentials(username=USER, password=SecretStr("Wr0ng-" + PASSWORD))
    with pytest.raises(AuthenticationError):
        open_session(make_account(), wrong)
    assert "claimferry.officeally" in {r.name for r in caplog.records}
    assert PASSWORD not in caplog.text
    assert "PHI-MARKER" not in caplog.text
    assert PASSWORD not in repr(session)


def test_registered_through_the_plugin_manager(
    plugin_manager: PluginManager, make_account: AccountFactory
) -> None:
    transport = plugin_manager.get_transport("officeally-sftp")
    account = make_account()
    assert transport.probe_host_key(account) == probe_host_key(account)
    assert plugin_manager.get_clearinghouse("officeally").transport == "officeally-sftp"
