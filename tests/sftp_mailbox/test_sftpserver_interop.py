"""The shared mailbox against the ``sftpserver`` package's stub server, on loopback.

That server (paramiko's stub, as the package ships it) takes any password,
serves the folder it was started in, has no ``posix-rename`` and implements
plain rename with ``os.rename``, which replaces an existing file. The mailbox
never asks for posix-rename, and looks for the final name before renaming, so
on this server too it never replaces a file under a final name.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from claimferry.api import Credentials, DeliveryState, SecretStr, TransportError
from harness.harness_support import TestClaim, build_837
from sftp_mailbox.support import INBOUND, OUTBOUND, acme_account, acme_name, acme_transport

CLAIMS = build_837([TestClaim("STUB-1")])
ANY_LOGIN = Credentials("clinic", SecretStr("the stub takes any password"))


@dataclass(frozen=True)
class StubServer:
    root: Path
    port: int
    host_key: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    """Whether a socket listens on the port (read from /proc: a probing connection
    would be taken as a client, and the stub server exits when one hangs up early)."""
    wanted = f":{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A: LISTEN
            return True
    return False


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while not _listening(port):
        if process.poll() is not None:
            raise AssertionError(f"sftpserver exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("sftpserver did not start listening within 15s")
        time.sleep(0.05)


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubServer]:
    """``sftpserver --host 127.0.0.1 -p PORT -k KEY``, serving ``tmp_path/root``."""
    key = paramiko.RSAKey.generate(2048)
    key_file = tmp_path / "host_rsa"
    key.write_private_key_file(str(key_file))
    root = tmp_path / "root"
    (root / INBOUND).mkdir(parents=True)
    (root / OUTBOUND).mkdir()
    port = _free_port()
    # Its root is the working folder it starts in; it is single-threaded: one
    # connection at a time, the next accepted once the last one closes.
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from sftpserver import main; main()"),
            *("--host", "127.0.0.1", "-p", str(port), "-k", str(key_file), "-l", "WARNING"),
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        yield StubServer(root, port, f"{key.get_name()} {key.get_base64()}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_upload_state_list_download(stub: StubServer) -> None:
    account = acme_account("127.0.0.1", stub.port, stub.host_key)
    name = acme_name(201)
    answer = b"ISA*00*...~ a response the clearinghouse left\n"
    (stub.root / OUTBOUND / "100000001_999_20261207.999").write_bytes(answer)
    (stub.root / OUTBOUND / "100000001_EDI_STATUS_20261207.txt").write_bytes(b"not ACME's")
    with closing(acme_transport().open(account, ANY_LOGIN)) as session:
        receipt = session.upload(CLAIMS, name)
        assert (receipt.remote_name, receipt.size) == (name, len(CLAIMS))
        assert receipt.sha256 == hashlib.sha256(CLAIMS).hexdigest()
        assert sorted(p.name for p in (stub.root / INBOUND).iterdir()) == [name]
        assert (stub.root / INBOUND / name).read_bytes() == CLAIMS
        assert session.delivery_state(name, len(CLAIMS), receipt.sha256) is DeliveryState.DELIVERED
        other = acme_name(202)
        assert session.delivery_state(other, 9, "0" * 64) is DeliveryState.ABSENT

        listed = session.list_responses()
        assert [(f.name, f.size) for f in listed] == [("100000001_999_20261207.999", len(answer))]
        assert session.download(listed[0].name) == answer
    assert len(list((stub.root / OUTBOUND).iterdir())) == 2  # nothing deleted


def test_a_taken_final_name_is_never_replaced(stub: StubServer) -> None:
    """This server's plain rename replaces files; the mailbox's look before it does not."""
    account = acme_account("127.0.0.1", stub.port, stub.host_key)
    name = acme_name(203)
    taken = stub.root / INBOUND / name
    taken.write_bytes(b"another batch under this name")
    with (
        closing(acme_transport().open(account, ANY_LOGIN)) as session,
        pytest.raises(TransportError) as caught,
    ):
        session.upload(CLAIMS, name)
    assert caught.value.delivered is False
    assert f"is already in {INBOUND}," in str(caught.value)
    assert "ask ACME Claims about the file under that name" in str(caught.value)
    assert taken.read_bytes() == b"another batch under this name"
    assert sorted(p.name for p in (stub.root / INBOUND).iterdir()) == [name]  # no leftover
