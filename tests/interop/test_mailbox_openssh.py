"""The shared mailbox on a profile of its own (ACME: other folders, other names, its own
response rule) against a real OpenSSH sshd, with a key login and a pinned host key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from claimferry.api import Credentials, DeliveryState, SecretStr, TransportError
from interop.openssh import LocalSshd
from sftp_mailbox.support import INBOUND, OUTBOUND, acme_account, acme_name, acme_transport

pytestmark = pytest.mark.interop


@pytest.fixture
def acme_home(sshd: LocalSshd) -> Iterator[Path]:
    """ACME's folders in the SFTP start folder, removed after the test."""
    for folder in (INBOUND, OUTBOUND):
        (sshd.home / folder).mkdir()
    yield sshd.home
    for folder in (INBOUND, OUTBOUND):
        for entry in (sshd.home / folder).iterdir():
            entry.unlink()
        (sshd.home / folder).rmdir()


def _credentials(sshd: LocalSshd) -> Credentials:
    return Credentials(username=sshd.user, private_key=SecretStr(sshd.client_key_text))


def test_profile_folders_names_and_responses(sshd: LocalSshd, acme_home: Path) -> None:
    account = acme_account("127.0.0.1", sshd.port, sshd.host_key_line)
    data = b"ISA*00*" + bytes(range(256)) * 2000 + b"~IEA*1*000000301~"
    name = acme_name(301)
    (acme_home / OUTBOUND / "100000001_277CA_20261207.277").write_bytes(b"ISA*277~")
    (acme_home / OUTBOUND / "README.txt").write_bytes(b"not a response")
    with closing(acme_transport().open(account, _credentials(sshd))) as session:
        receipt = session.upload(data, name)
        assert receipt.sha256 == hashlib.sha256(data).hexdigest()
        assert session.delivery_state(name, len(data), receipt.sha256) is DeliveryState.DELIVERED
        listed = session.list_responses()
        assert [f.name for f in listed] == ["100000001_277CA_20261207.277"]
        assert session.download(listed[0].name) == b"ISA*277~"
        # OpenSSH's plain rename refuses a taken name; the look before it says why
        with pytest.raises(TransportError, match=f"is already in {INBOUND},") as caught:
            session.upload(b"ISA*another batch~", name)
        assert caught.value.delivered is False
    assert sorted(p.name for p in (acme_home / INBOUND).iterdir()) == [name]
    assert (acme_home / INBOUND / name).read_bytes() == data
    assert len(list((acme_home / OUTBOUND).iterdir())) == 2  # nothing deleted
