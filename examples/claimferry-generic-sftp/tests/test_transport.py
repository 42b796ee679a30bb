"""The transport against the mock server, with this clearinghouse's own folder names.

Everything goes through the plugin manager, as claimferry itself does it:
profile -> transport name -> session, secrets from the command source.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from claimferry.api import (
    Account,
    AuthenticationError,
    Credentials,
    DeliveryState,
    FileNaming,
    HostKeyError,
    PluginManager,
    SecretStr,
    TransportError,
    TransportSession,
)

from conftest import ANSWER_PATTERN, INBOUND, OUTBOUND, RESPONSES

if TYPE_CHECKING:
    from claimferry_harness import MockOfficeAlly, PinnedHostKey, ResponseWaiter
    from claimferry_harness.users import HarnessLogin

    from conftest import SecretCommand

# The clearinghouse's folder names and claim-file rule, not Office Ally's.
pytestmark = pytest.mark.oa_harness(
    inbound=INBOUND, outbound=OUTBOUND, answer_pattern=ANSWER_PATTERN
)

NOT_X12 = b"not an interchange: the mock answers it with a rejecting TA1\n"


def _open(pm: PluginManager, account: Account) -> TransportSession:
    """What ``claimferry submit`` does: credentials from the source, transport from the profile."""
    assert account.credentials is not None
    credentials = pm.get_credential_source(account.credentials.source).resolve(account)
    transport = pm.get_transport(pm.get_clearinghouse(account.clearinghouse).transport)
    return transport.open(account, credentials)


@pytest.fixture
def account(
    profiles: Path,
    oa_user: HarnessLogin,
    secret_command: SecretCommand,
    account_for: Callable[..., Account],
) -> Account:
    return account_for({"command": secret_command(f"{oa_user.password}\nusername: clinic\n")})


def test_upload_list_download(
    pm: PluginManager,
    account: Account,
    oa_harness: MockOfficeAlly,
    oa_host_key: PinnedHostKey,
    wait_for_responses: ResponseWaiter,
) -> None:
    clearinghouse = pm.get_clearinghouse("acme")
    name = clearinghouse.claim_file_name(FileNaming("sunrise", "SUNRISE01", True, 42))
    assert name == "SUNRISE01_000000042_test.x12"

    session = _open(pm, account)
    try:
        receipt = session.upload(NOT_X12, name)
        assert receipt.remote_name == name
        assert receipt.size == len(NOT_X12)
        assert receipt.host_fingerprint == oa_host_key.fingerprint == session.host_fingerprint
        inbound = oa_harness.inbound_dir("clinic")
        assert [p.name for p in inbound.iterdir()] == [name]  # no temporary file left
        assert (inbound / name).read_bytes() == NOT_X12
        digest = receipt.sha256
        assert session.delivery_state(name, len(NOT_X12), digest) is DeliveryState.DELIVERED
        other = "SUNRISE01_000000043_test.x12"
        assert session.delivery_state(other, 10, "0" * 64) is DeliveryState.ABSENT

        on_server = wait_for_responses(2)  # a TA1 in a .999 file, and a File Summary
        # Only the profile's responses are listed: the File Summary is Office Ally's.
        answered = [p for p in on_server if re.fullmatch(RESPONSES, p.name)]
        assert len(answered) == 1
        listed = session.list_responses()
        assert [f.name for f in listed] == [p.name for p in answered]
        assert [f.size for f in listed] == [p.stat().st_size for p in answered]
        assert session.download(listed[0].name) == answered[0].read_bytes()
        assert session.list_responses() == listed  # nothing deleted
    finally:
        session.close()


def test_interrupted_upload_is_partial(
    pm: PluginManager, account: Account, oa_harness: MockOfficeAlly
) -> None:
    """Only the temporary file on the server: the rename never happened, so resend."""
    name = "SUNRISE01_000000044_test.x12"
    data = NOT_X12 * 1000
    digest = hashlib.sha256(data).hexdigest()
    oa_harness.faults.drop_after_bytes = len(data) // 2
    session = _open(pm, account)
    try:
        with pytest.raises(TransportError) as caught:
            session.upload(data, name)
        assert caught.value.transient
    finally:
        session.close()
    oa_harness.faults.clear()
    session = _open(pm, account)
    try:
        assert session.delivery_state(name, len(data), digest) is DeliveryState.PARTIAL
        session.upload(data, name)
        assert session.delivery_state(name, len(data), digest) is DeliveryState.DELIVERED
        assert [p.name for p in oa_harness.inbound_dir("clinic").iterdir()] == [name]
    finally:
        session.close()


def test_changed_host_key_fails_closed(
    pm: PluginManager, account: Account, oa_harness: MockOfficeAlly, oa_host_key: PinnedHostKey
) -> None:
    new_fingerprint = oa_harness.rotate_host_key()
    with pytest.raises(HostKeyError) as caught:
        _open(pm, account)
    assert oa_host_key.fingerprint in str(caught.value)
    assert new_fingerprint in str(caught.value)
    assert "If ACME Claims confirms the key" in str(caught.value)


def test_refused_login_is_not_retried(
    pm: PluginManager, account: Account, oa_user: HarnessLogin
) -> None:
    transport = pm.get_transport("generic-sftp")
    wrong = Credentials(username=oa_user.username, password=SecretStr("not-the-password"))
    with pytest.raises(AuthenticationError) as caught:
        transport.open(account, wrong)
    message = str(caught.value)
    assert message.startswith("ACME Claims refused the SFTP login for account sunrise")
    assert message.endswith("ACME mails the SFTP password in a letter.")
    assert "not-the-password" not in message and "Office Ally" not in message


def test_probe_shows_the_key_to_pin(
    pm: PluginManager, account: Account, oa_host_key: PinnedHostKey
) -> None:
    probe = pm.get_transport("generic-sftp").probe_host_key
    assert probe is not None
    key = probe(account)
    assert (key.openssh, key.fingerprint) == (oa_host_key.openssh, oa_host_key.fingerprint)
