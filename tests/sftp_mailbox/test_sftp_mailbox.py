"""The shared SFTP mailbox on a profile that is not Office Ally's, against the mock
told ACME's folder names and claim-file rule (``answer_pattern``)."""

from __future__ import annotations

import hashlib
import logging
from contextlib import closing

import paramiko
import pytest

from claimferry.api import (
    AuthenticationError,
    Credentials,
    DeliveryState,
    HostKeyError,
    PluginManager,
    SecretStr,
    TransportError,
)
from claimferry.sftp_mailbox import _is_network_failure
from claimferry_harness import MockOfficeAlly, PinnedHostKey, ResponseWaiter
from claimferry_harness.users import HarnessLogin
from harness.harness_support import TestClaim, build_837
from sftp_mailbox.support import (
    ANSWER_PATTERN,
    INBOUND,
    OUTBOUND,
    acme_account,
    acme_name,
    acme_transport,
)

pytestmark = pytest.mark.oa_harness(
    inbound=INBOUND, outbound=OUTBOUND, answer_pattern=ANSWER_PATTERN
)

CLAIMS = build_837([TestClaim("ACME-1")])


def _credentials(login: HarnessLogin) -> Credentials:
    return Credentials(login.username, SecretStr(login.password))


def test_upload_state_list_download_with_the_profiles_folders_and_names(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    oa_host_key: PinnedHostKey,
    wait_for_responses: ResponseWaiter,
) -> None:
    account = acme_account(oa_harness.host, oa_harness.port, oa_host_key.openssh)
    name = acme_name(101)
    with closing(acme_transport().open(account, _credentials(oa_user))) as session:
        receipt = session.upload(CLAIMS, name)
        assert receipt.host_fingerprint == oa_host_key.fingerprint
        assert [p.name for p in oa_harness.inbound_dir(oa_user.username).iterdir()] == [name]
        state = session.delivery_state(name, len(CLAIMS), receipt.sha256)
        assert state is DeliveryState.DELIVERED

        # the mock publishes its answers one by one, the ERA last
        answered = wait_for_responses(predicate=lambda files: any(".835" in p.name for p in files))
        on_server = {p.name for p in answered}
        assert any("_EDI_STATUS_" in n for n in on_server)  # Office Ally's report, not ACME's
        listed = session.list_responses()
        assert {f.name for f in listed} == {n for n in on_server if "_EDI_STATUS_" not in n}
        first = next(p for p in answered if p.name == listed[0].name)
        assert session.download(first.name) == first.read_bytes()
        assert {p.name for p in oa_harness.outbound_dir(oa_user.username).iterdir()} >= on_server


def test_an_upload_the_mock_does_not_answer_is_logged_with_the_reason(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    oa_host_key: PinnedHostKey,
    wait_for_responses: ResponseWaiter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="claimferry_harness")
    account = acme_account(oa_harness.host, oa_harness.port, oa_host_key.openssh)
    with closing(acme_transport().open(account, _credentials(oa_user))) as session:
        session.upload(CLAIMS, "SUNRISE01_837P_000000102.txt")  # Office Ally's naming
        session.upload(CLAIMS, acme_name(103))
    answered = wait_for_responses(predicate=lambda files: len(files) >= 4)
    assert len({p.name.split("_")[0] for p in answered}) == 1  # one file answered
    ignored = [r.getMessage() for r in caplog.records if "not answered" in r.getMessage()]
    assert ignored == [
        f"upload SUNRISE01_837P_000000102.txt in {INBOUND} not answered: the answer "
        f"pattern {ANSWER_PATTERN!r} is not found in its name"
    ]


def test_interrupted_upload_is_partial_then_delivered(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, oa_host_key: PinnedHostKey
) -> None:
    account = acme_account(oa_harness.host, oa_harness.port, oa_host_key.openssh, retries=0)
    data = CLAIMS * 200
    name = acme_name(104)
    digest = hashlib.sha256(data).hexdigest()
    oa_harness.faults.drop_after_bytes = len(data) // 2
    transport = acme_transport()
    with closing(transport.open(account, _credentials(oa_user))) as session:
        with pytest.raises(TransportError) as caught:
            session.upload(data, name)
        assert caught.value.transient and caught.value.delivered is False
    oa_harness.faults.clear()
    with closing(transport.open(account, _credentials(oa_user))) as session:
        assert session.delivery_state(name, len(data), digest) is DeliveryState.PARTIAL
        session.upload(data, name)
        assert session.delivery_state(name, len(data), digest) is DeliveryState.DELIVERED
    assert [p.name for p in oa_harness.inbound_dir(oa_user.username).iterdir()] == [name]


def test_messages_name_the_accounts_clearinghouse(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, oa_host_key: PinnedHostKey
) -> None:
    account = acme_account(oa_harness.host, oa_harness.port, oa_host_key.openssh)
    wrong = Credentials(oa_user.username, SecretStr("not-" + oa_user.password))
    with pytest.raises(AuthenticationError) as refused:
        acme_transport().open(account, wrong)
    message = str(refused.value)
    assert message.startswith("ACME Claims refused the SFTP login for account sunrise")
    assert message.endswith("ACME sends the SFTP password by letter.")
    assert "Office Ally" not in message and oa_user.password not in message

    oa_harness.rotate_host_key()
    with pytest.raises(HostKeyError) as changed:
        acme_transport().open(account, _credentials(oa_user))
    assert "If ACME Claims confirms the key" in str(changed.value)
    assert "Office Ally" not in str(changed.value)


def test_response_readers_are_scoped_to_their_clearinghouse(
    plugin_manager: PluginManager,
) -> None:
    officeally = {r.name for r in plugin_manager.response_readers("officeally")}
    acme = {r.name for r in plugin_manager.response_readers("acme")}
    assert "officeally-edi-status" in officeally
    assert not any(name.startswith("officeally-") for name in acme)
    assert {r.name for r in plugin_manager.response_readers()} >= officeally


def test_an_account_inbound_inside_the_profiles_outbound_is_refused(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, oa_host_key: PinnedHostKey
) -> None:
    """The account's folder passes the config check alone (its outbound defaults to
    ``outbound``) but sits inside ACME's response folder once the profile fills it in."""
    account = acme_account(
        oa_harness.host, oa_harness.port, oa_host_key.openssh, inbound=f"{OUTBOUND}/claims"
    )
    with pytest.raises(TransportError) as caught:
        acme_transport().open(account, _credentials(oa_user))
    assert str(caught.value) == (
        f"account sunrise: sftp.inbound '{OUTBOUND}/claims' is the outbound folder "
        f"'{OUTBOUND}' (or in it), where the clearinghouse writes its responses; claims "
        "are uploaded to inbound, never to outbound"
    )


def test_a_taken_name_is_reported_in_the_profiles_folder(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, oa_host_key: PinnedHostKey
) -> None:
    account = acme_account(oa_harness.host, oa_harness.port, oa_host_key.openssh)
    name = acme_name(105)
    (oa_harness.inbound_dir(oa_user.username) / name).write_bytes(b"another batch")
    session = acme_transport().open(account, _credentials(oa_user))
    with closing(session), pytest.raises(TransportError) as caught:
        session.upload(CLAIMS, name)
    message = str(caught.value)
    assert f"{name} is already in {INBOUND}, and claimferry never replaces" in message
    assert f"ACME Claims takes files from {INBOUND})" in message and "inbound" not in message


def _dropped_channel() -> paramiko.SSHException:
    """What paramiko raises when the SFTP channel hits EOF: an SSHException from an EOFError."""
    try:
        try:
            raise EOFError
        except EOFError as exc:
            raise paramiko.SSHException(f"Server connection dropped: {exc}")  # noqa: B904
    except paramiko.SSHException as dropped:
        return dropped


@pytest.mark.parametrize(
    ("exc", "alive", "network"),
    [
        (paramiko.ChannelException(1, "Administratively prohibited"), True, False),
        (paramiko.ChannelException(1, "Administratively prohibited"), False, False),
        (paramiko.SSHException("Channel closed."), True, False),  # a refused subsystem
        (paramiko.SSHException("Error reading SSH protocol banner"), False, True),
        (_dropped_channel(), True, True),  # the transport may not know yet
    ],
)
def test_which_ssh_errors_count_as_the_network(
    exc: BaseException, alive: bool, network: bool
) -> None:
    assert _is_network_failure(exc, alive) is network
