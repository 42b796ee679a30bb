"""Pins on the Office Ally transport, each behaviour by more than one test (issue 11, point 8).

The same promises are tried against the small test server of this folder and
against the mock Office Ally (its own SFTP code, on loopback), and end to end
through the CLI in tests/faults/test_transport_pins.py:

(a) a host key is compared by its bytes, never accepted on its type alone;
(b) a refused login is one attempt, never retried;
(c) a failed or interrupted upload leaves no temporary file on the server.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
import pytest

from claimferry.api import (
    Account,
    AuthenticationError,
    Credentials,
    HostKeyError,
    SecretStr,
    SftpMailbox,
    SftpSettings,
    TransportError,
)
from claimferry_harness import MockOfficeAlly
from claimferry_harness.users import HarnessLogin
from claimferry_officeally.transport import RetryPolicy, make_transport
from transport.sftp_server import (
    PASSWORD,
    USER,
    SftpTestServer,
    new_ed25519_key,
    new_ed25519_text,
    openssh_line,
)

NAME = "SUNRISE01_837P_OATEST_000000321_20261202T120000.txt"
CLAIM = b"ISA*00*" + b"p" * 20_000 + b"~IEA*1*000000321~\n"


def fingerprint_of(openssh: str) -> str:
    """OpenSSH's SHA256 fingerprint, computed here independently of the transport."""
    blob = base64.b64decode(openssh.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def same_type_other_bytes(openssh: str) -> str:
    """The key line with the last byte of its key changed: same type, another key."""
    key_type, b64 = openssh.split()[:2]
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 0x01
    return f"{key_type} {base64.b64encode(bytes(blob)).decode()}"


# --- the mock Office Ally as the server --------------------------------------------


@dataclass
class Mock:
    """The mock, its user, the logins it was asked to check, and a session opener."""

    harness: MockOfficeAlly
    user: HarnessLogin
    logins: list[str]
    sleeps: list[float]

    def account(self, **sftp: object) -> Account:
        settings: dict[str, object] = {
            "host": self.harness.host,
            "port": self.harness.port,
            "host_key": self.harness.host_key_openssh,
            "connect_timeout": 10.0,
            "auth_timeout": 10.0,
            "operation_timeout": 10.0,
            "retries": 2,
        }
        settings.update(sftp)
        return Account(
            name="sunrise",
            clearinghouse="officeally",
            submitter_id="SUNRISE01",
            sftp=SftpSettings.model_validate(settings),
        )

    def credentials(self, password: str | None = None) -> Credentials:
        return Credentials(
            username=self.user.username, password=SecretStr(password or self.user.password)
        )

    def open(self, account: Account | None = None, creds: Credentials | None = None) -> SftpMailbox:
        transport = make_transport(policy=RetryPolicy(0.01, 0.05, sleep=self.sleeps.append))
        session = transport.open(account or self.account(), creds or self.credentials())
        assert isinstance(session, SftpMailbox)
        return session

    @property
    def inbound(self) -> list[str]:
        return sorted(p.name for p in self.harness.inbound_dir(self.user.username).iterdir())


@pytest.fixture
def mock(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, monkeypatch: pytest.MonkeyPatch
) -> Mock:
    logins: list[str] = []
    by_password: Callable[[str, str], bool] = oa_harness.login_password
    by_key: Callable[[str, paramiko.PKey], bool] = oa_harness.login_key

    def password_login(username: str, password: str) -> bool:
        logins.append(f"password:{username}")
        return by_password(username, password)

    def key_login(username: str, key: paramiko.PKey) -> bool:
        logins.append(f"key:{username}")
        return by_key(username, key)

    monkeypatch.setattr(oa_harness, "login_password", password_login)
    monkeypatch.setattr(oa_harness, "login_key", key_login)
    return Mock(oa_harness, oa_user, logins, [])


# (a) host keys ------------------------------------------------------------------------


def test_a_pinned_key_of_the_same_type_one_byte_apart_is_refused(mock: Mock) -> None:
    pinned = same_type_other_bytes(mock.harness.host_key_openssh)
    with pytest.raises(HostKeyError) as caught:
        mock.open(mock.account(host_key=pinned))
    message = str(caught.value)
    assert "CHANGED" in message
    assert f"ssh-ed25519 {fingerprint_of(pinned)}" in message
    assert f"ssh-ed25519 {mock.harness.fingerprint}" in message
    assert mock.harness.fingerprint == fingerprint_of(mock.harness.host_key_openssh)
    assert not caught.value.transient and mock.sleeps == []
    assert mock.logins == []  # no secret was sent to the server
    assert mock.inbound == []


def test_a_known_hosts_entry_of_the_same_type_but_another_key_is_refused(
    mock: Mock, tmp_path: Path
) -> None:
    other = openssh_line(new_ed25519_key())
    known = tmp_path / "known_hosts"
    known.write_text(f"[{mock.harness.host}]:{mock.harness.port} {other}\n")
    with pytest.raises(HostKeyError) as caught:
        mock.open(mock.account(host_key=None, known_hosts=known))
    message = str(caught.value)
    assert "CHANGED" in message and str(known) in message
    assert fingerprint_of(other) in message and mock.harness.fingerprint in message
    assert mock.logins == []


def test_a_rotated_mock_key_is_refused_for_a_session_pinned_before(mock: Mock) -> None:
    pinned = mock.harness.host_key_openssh
    with mock.open(mock.account(host_key=pinned)) as session:
        session.list_responses()
    assert len(mock.logins) == 1
    presented = mock.harness.rotate_host_key()
    with pytest.raises(HostKeyError) as caught:
        mock.open(mock.account(host_key=pinned))
    assert fingerprint_of(pinned) in str(caught.value) and presented in str(caught.value)
    assert len(mock.logins) == 1


@pytest.fixture
def multikey_server(tmp_path: Path) -> Iterator[SftpTestServer]:
    keys = [new_ed25519_key(), paramiko.ECDSAKey.generate(), paramiko.RSAKey.generate(2048)]
    server = SftpTestServer(tmp_path / "multi", users={USER: PASSWORD}, host_keys=keys).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("which", [0, 1, 2], ids=["ed25519", "ecdsa", "rsa"])
def test_every_key_type_is_compared_by_its_bytes(
    multikey_server: SftpTestServer, which: int
) -> None:
    """The server offers a key of the pinned type, so only the bytes can tell them apart."""
    presented = openssh_line(multikey_server.host_keys[which])
    pinned = same_type_other_bytes(presented)
    account = Account(
        name="sunrise",
        clearinghouse="officeally",
        submitter_id="SUNRISE01",
        sftp=SftpSettings(host="127.0.0.1", port=multikey_server.port, host_key=pinned, retries=3),
    )
    sleeps: list[float] = []
    transport = make_transport(policy=RetryPolicy(0.01, 0.05, sleep=sleeps.append))
    with pytest.raises(HostKeyError) as caught:
        transport.open(account, Credentials(username=USER, password=SecretStr(PASSWORD)))
    key_type = presented.split()[0]
    assert f"{key_type} {fingerprint_of(pinned)}" in str(caught.value)
    assert f"{key_type} {fingerprint_of(presented)}" in str(caught.value)
    assert multikey_server.stats.auth_attempts == 0 and sleeps == []


# (b) refused logins -----------------------------------------------------------------


def test_a_refused_password_is_one_login_at_the_mock_whatever_the_retries(mock: Mock) -> None:
    with pytest.raises(AuthenticationError) as caught:
        mock.open(mock.account(retries=5), mock.credentials("portal-password-not-sftp"))
    assert mock.logins == [f"password:{mock.user.username}"]
    assert not caught.value.transient and mock.sleeps == []
    assert "portal-password-not-sftp" not in str(caught.value)


def test_a_locked_account_is_one_login_at_the_mock(mock: Mock) -> None:
    """Good credentials refused (as a locked account is): still never tried twice."""
    mock.harness.faults.refuse_logins = True
    with pytest.raises(AuthenticationError):
        mock.open(mock.account(retries=5))
    assert mock.logins == [f"password:{mock.user.username}"]
    assert mock.sleeps == []


def test_a_refused_key_is_one_login_at_the_mock(mock: Mock) -> None:
    mock.harness.add_user("keyed", public_keys=[openssh_line(new_ed25519_key())])
    other_key = Credentials(username="keyed", private_key=SecretStr(new_ed25519_text()))
    with pytest.raises(AuthenticationError) as caught:
        mock.open(mock.account(retries=5), other_key)
    assert mock.logins == ["key:keyed"]
    assert not caught.value.transient and mock.sleeps == []


def test_a_refused_key_is_not_followed_by_the_password(mock: Mock) -> None:
    """Key and password both given: the refused key is the one attempt."""
    mock.harness.add_user(
        "keyed", password="keyed-password", public_keys=[openssh_line(new_ed25519_key())]
    )
    other_key = Credentials(
        username="keyed",
        private_key=SecretStr(new_ed25519_text()),
        password=SecretStr("keyed-password"),
    )
    with pytest.raises(AuthenticationError):
        mock.open(mock.account(retries=5), other_key)
    assert mock.logins == ["key:keyed"]


def test_a_drop_after_delivery_is_no_new_login_for_the_cleanup(
    mock: Mock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network drops once the file is delivered, and the account is now refused:
    the leftover cleanup never logs in again (a refused login counts toward a lock)."""
    deliver = SftpMailbox._check_after_rename

    def delivered_then_dropped(self: SftpMailbox, conn: Any, job: Any) -> None:
        deliver(self, conn, job)
        mock.harness.faults.refuse_logins = True
        conn.transport.close()

    monkeypatch.setattr(SftpMailbox, "_check_after_rename", delivered_then_dropped)
    with mock.open() as session:
        receipt = session.upload(CLAIM, NAME)
    assert receipt.remote_name == NAME and mock.inbound == [NAME]
    assert mock.logins == [f"password:{mock.user.username}"]


@pytest.mark.parametrize("refused", ["refuse_session", "refuse_sftp"])
def test_a_refused_sftp_channel_is_not_retried_with_a_new_login(
    server: SftpTestServer,
    open_session: Callable[..., SftpMailbox],
    sleeps: list[float],
    make_account: Callable[..., Account],
    refused: str,
) -> None:
    """The server's refusal after a good login is its answer, not the network's."""
    setattr(server.faults, refused, True)
    with pytest.raises(TransportError) as caught:
        open_session(make_account(retries=3))
    assert "refused an SFTP session for account sunrise" in str(caught.value)
    assert not caught.value.transient
    assert server.stats.auth_attempts == 1 and server.stats.connections == 1
    assert sleeps == []


def test_a_refused_login_on_the_test_server_is_one_attempt_on_one_connection(
    multikey_server: SftpTestServer,
) -> None:
    account = Account(
        name="sunrise",
        clearinghouse="officeally",
        submitter_id="SUNRISE01",
        sftp=SftpSettings(
            host="127.0.0.1",
            port=multikey_server.port,
            host_key=openssh_line(multikey_server.host_keys[0]),
            retries=4,
        ),
    )
    sleeps: list[float] = []
    transport = make_transport(policy=RetryPolicy(0.01, 0.05, sleep=sleeps.append))
    for _ in range(2):  # a second run is a second attempt, not a loop of retries
        with pytest.raises(AuthenticationError):
            transport.open(account, Credentials(username=USER, password=SecretStr("wrong-pw")))
    assert multikey_server.stats.auth_attempts == 2
    assert multikey_server.stats.connections == 2
    assert sleeps == []


# (c) no temporary file left behind ----------------------------------------------


def test_a_refused_write_leaves_nothing_in_the_mock_inbound(mock: Mock) -> None:
    mock.harness.faults.fail_writes = True
    with mock.open() as session, pytest.raises(TransportError) as caught:
        session.upload(CLAIM, NAME)
    assert not caught.value.transient
    assert mock.inbound == []


def test_interrupted_attempts_leave_only_the_final_file_once_delivered(mock: Mock) -> None:
    """Every attempt dropped mid-write; the next run delivers, and no attempt's file stays."""
    mock.harness.faults.drop_after_bytes = 5_000  # per connection: every attempt is cut
    with mock.open(mock.account(retries=2)) as session, pytest.raises(TransportError) as caught:
        session.upload(CLAIM, NAME)
    assert caught.value.transient and len(mock.sleeps) == 2
    assert NAME not in mock.inbound
    mock.harness.faults.clear()
    with mock.open() as session:
        receipt = session.upload(CLAIM, NAME)
    assert receipt.size == len(CLAIM)
    assert mock.inbound == [NAME]
    assert (mock.harness.inbound_dir(mock.user.username) / NAME).read_bytes() == CLAIM
    assert mock.harness.wait_idle(10)
    answers = sorted(p.name for p in mock.harness.outbound_dir(mock.user.username).iterdir())
    # processed once: a TA1 (in a 999) and Office Ally's File Summary for this non-X12 body
    assert len(answers) == 2 and answers[1].startswith("FS_HCFA_"), answers


def test_a_taken_final_name_leaves_no_temporary_file(mock: Mock) -> None:
    inbound = mock.harness.inbound_dir(mock.user.username)
    (inbound / NAME).mkdir()  # something already holds the name, and cannot be replaced
    with mock.open() as session, pytest.raises(TransportError):
        session.upload(CLAIM, NAME)
    assert mock.inbound == [NAME] and (inbound / NAME).is_dir()


def test_a_refused_write_on_the_test_server_leaves_nothing_after_retries(
    server: SftpTestServer, open_session: Callable[..., SftpMailbox]
) -> None:
    server.faults.fail_writes = True
    for _ in range(2):
        with open_session() as session, pytest.raises(TransportError):
            session.upload(CLAIM, NAME)
    assert sorted(p.name for p in (server.root / "inbound").iterdir()) == []
    server.faults.fail_writes = False
    with open_session() as session:
        session.upload(CLAIM, NAME)
    assert sorted(p.name for p in (server.root / "inbound").iterdir()) == [NAME]
