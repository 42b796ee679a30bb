"""The Office Ally transport against a real OpenSSH sshd (internal-sftp)."""

from __future__ import annotations

import io
import subprocess
from contextlib import closing
from pathlib import Path

import paramiko
import pytest

from claimferry.api import (
    Account,
    AuthenticationError,
    Credentials,
    DeliveryState,
    HostKeyError,
    SecretStr,
    SftpSettings,
)
from claimferry_officeally.transport import RetryPolicy, make_transport, probe_host_key
from interop.openssh import LocalSshd

pytestmark = pytest.mark.interop

NAME = "SUNRISE01_837P_OATEST_000000001_20261128T180500.txt"


def account(sshd: LocalSshd, **sftp: object) -> Account:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": sshd.port,
        "host_key": sshd.host_key_line,
        "connect_timeout": 5.0,
        "auth_timeout": 10.0,
        "operation_timeout": 30.0,
        "retries": 1,
    }
    settings.update(sftp)
    return Account(
        name="sunrise",
        clearinghouse="officeally",
        submitter_id="SUNRISE01",
        sftp=SftpSettings.model_validate(settings),
    )


def credentials(sshd: LocalSshd) -> Credentials:
    return Credentials(username=sshd.user, private_key=SecretStr(sshd.client_key_text))


TRANSPORT = make_transport(policy=RetryPolicy(base_delay=0.01, max_delay=0.02))


def test_upload_list_download_with_pinned_key(sshd: LocalSshd, sshd_home: Path) -> None:
    data = b"ISA*00*" + bytes(range(256)) * 4000 + b"~IEA*1*000000001~"
    (sshd_home / "outbound" / "999_RESPONSE.txt").write_bytes(b"ISA*999~")
    with closing(TRANSPORT.open(account(sshd), credentials(sshd))) as session:
        receipt = session.upload(data, NAME)
        assert session.delivery_state(NAME, len(data), receipt.sha256) is DeliveryState.DELIVERED
        listed = session.list_responses()
        assert [(f.name, f.size) for f in listed] == [("999_RESPONSE.txt", 8)]
        assert session.download("999_RESPONSE.txt") == b"ISA*999~"
    assert (sshd_home / "inbound" / NAME).read_bytes() == data
    assert sorted(p.name for p in (sshd_home / "inbound").iterdir()) == [NAME]
    assert (sshd_home / "outbound" / "999_RESPONSE.txt").exists()
    assert receipt.size == len(data)


def test_fingerprint_matches_ssh_keygen(sshd: LocalSshd) -> None:
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(sshd.host_key.with_suffix(".pub"))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    probed = probe_host_key(account(sshd, host_key=None))
    assert probed.fingerprint == shown
    assert probed.openssh == sshd.host_key_line
    with closing(TRANSPORT.open(account(sshd), credentials(sshd))) as session:
        assert session.host_fingerprint == shown


def test_hashed_known_hosts_from_ssh_keyscan(sshd: LocalSshd, tmp_path: Path) -> None:
    scanned = subprocess.run(
        ["ssh-keyscan", "-H", "-t", "ed25519", "-p", str(sshd.port), "127.0.0.1"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    known = tmp_path / "known_hosts"
    known.write_text("@cert-authority *.example.com ssh-ed25519 AAAAC3Nz\n" + scanned)
    acct = account(sshd, host_key=None, known_hosts=known)
    with closing(TRANSPORT.open(acct, credentials(sshd))) as session:
        session.list_responses()


def test_changed_key_fails_closed(sshd: LocalSshd, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
        check=True,
        capture_output=True,
    )
    pinned = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    with pytest.raises(HostKeyError, match="CHANGED"):
        TRANSPORT.open(account(sshd, host_key=pinned), credentials(sshd))


def test_refused_key_is_an_authentication_error(sshd: LocalSshd) -> None:
    out = io.StringIO()
    paramiko.RSAKey.generate(2048).write_private_key(out)
    stranger = Credentials(username=sshd.user, private_key=SecretStr(out.getvalue()))
    with pytest.raises(AuthenticationError, match="not the web portal login"):
        TRANSPORT.open(account(sshd), stranger)
