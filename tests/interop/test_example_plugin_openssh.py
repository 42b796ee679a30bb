"""The example third-party plugin (examples/claimferry-generic-sftp) as an operator runs
it: its profiles YAML, with folder names of its own, loaded through the plugin manager,
against a real OpenSSH sshd (key login, pinned host key)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from claimferry.api import (
    Account,
    Credentials,
    DeliveryState,
    FileNaming,
    PluginManager,
    SecretStr,
)
from interop.openssh import LocalSshd

pytestmark = pytest.mark.interop

EXAMPLE_SOURCE = Path(__file__).parents[2] / "examples" / "claimferry-generic-sftp" / "src"
INBOUND, OUTBOUND = "drop/claims", "pickup"
"""Not Office Ally's folders, and the upload folder one level down."""

PROFILES = """\
clearinghouses:
  northwind:
    label: Northwind Exchange
    receiver: {{isa_qualifier: ZZ, isa_id: NORTHWIND, gs_id: NORTHWIND,
                name: NORTHWIND EXCHANGE, id: NORTHWIND}}
    file_name: "NW_{{submitter_id}}_{{control_number:09d}}_{{mode}}.edi"
    responses: 'NW_RESP_\\d+\\.x12'
    sftp:
      host: 127.0.0.1
      port: {port}
      host_key: {host_key}
      inbound: {inbound}
      outbound: {outbound}
      retries: 0
"""


@pytest.fixture
def northwind(
    sshd: LocalSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PluginManager]:
    """The example plugin alone, loaded from its source, on a profiles file for this sshd."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SOURCE))
    from claimferry_generic_sftp import plugin
    from claimferry_generic_sftp.profiles import CONFIG_ENV

    profiles = tmp_path / "clearinghouses.yaml"
    profiles.write_text(
        PROFILES.format(
            port=sshd.port, host_key=sshd.host_key_line, inbound=INBOUND, outbound=OUTBOUND
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv(CONFIG_ENV, str(profiles))
    for folder in (INBOUND, OUTBOUND):
        (sshd.home / folder).mkdir(parents=True)
    manager = PluginManager().load("none")
    manager.register_plugin(plugin, name="generic-sftp")
    yield manager  # pytest runs what follows whatever the test's outcome
    manager.unregister(plugin, name="generic-sftp")
    for folder in (INBOUND, OUTBOUND, "drop"):
        for entry in (sshd.home / folder).iterdir():
            if entry.is_file():
                entry.unlink()
        (sshd.home / folder).rmdir()


def test_the_example_plugin_uploads_lists_and_downloads_with_its_own_folders(
    sshd: LocalSshd, northwind: PluginManager
) -> None:
    clearinghouse = northwind.get_clearinghouse("northwind")
    transport = northwind.get_transport(clearinghouse.transport)
    account = Account.model_validate(
        {"name": "sunrise", "clearinghouse": "northwind", "submitter_id": "SUNRISE01"}
    )
    name = clearinghouse.claim_file_name(FileNaming("sunrise", "SUNRISE01", True, 42))
    assert name == "NW_SUNRISE01_000000042_test.edi"
    data = b"ISA*00*" + bytes(range(256)) * 500 + b"~IEA*1*000000042~"
    outbound = sshd.home / OUTBOUND
    (outbound / "NW_RESP_1.x12").write_bytes(b"ISA*999~")
    (outbound / "EDI_STATUS_20261207.txt").write_bytes(b"another clearinghouse's report")
    credentials = Credentials(username=sshd.user, private_key=SecretStr(sshd.client_key_text))

    with closing(transport.open(account, credentials)) as session:
        receipt = session.upload(data, name)
        assert receipt.sha256 == hashlib.sha256(data).hexdigest()
        assert session.delivery_state(name, len(data), receipt.sha256) is DeliveryState.DELIVERED
        listed = session.list_responses()
        assert [f.name for f in listed] == ["NW_RESP_1.x12"]
        assert session.download("NW_RESP_1.x12") == b"ISA*999~"

    assert [p.name for p in (sshd.home / INBOUND).iterdir()] == [name]
    assert (sshd.home / INBOUND / name).read_bytes() == data
    assert sorted(p.name for p in outbound.iterdir()) == [
        "EDI_STATUS_20261207.txt",
        "NW_RESP_1.x12",
    ]  # nothing deleted
