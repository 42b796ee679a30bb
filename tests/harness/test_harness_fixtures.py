"""The pytest plugin's fixtures, used as a plugin author would use them."""

from __future__ import annotations

import io
import threading

import pytest

from claimferry_harness import HarnessLogin, MockOfficeAlly, ProcessingRules
from claimferry_harness.pytest_plugin import HarnessFactory, PinnedHostKey, ResponseWaiter
from harness.harness_support import Connect, TestClaim, build_837, upload


def test_fixtures_give_a_running_server_a_user_and_the_key_to_pin(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    oa_host_key: PinnedHostKey,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    assert oa_harness.running and oa_harness.host == "127.0.0.1" and oa_harness.port > 0
    assert oa_host_key.openssh == oa_harness.host_key_openssh
    assert oa_host_key.fingerprint == oa_harness.fingerprint
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    upload(sftp, build_837([TestClaim("C1")]), "sunrise_837P.txt")
    files = wait_for_responses(predicate=lambda fs: any("_ERA_835_" in f.name for f in fs))
    assert any("_999_" in f.name for f in files)


@pytest.mark.oa_harness(inbound="to_ch", outbound="from_ch")
def test_marker_renames_the_folders(
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    connect: Connect,
    wait_for_responses: ResponseWaiter,
) -> None:
    sftp = connect(oa_harness, oa_user.username, password=oa_user.password)
    assert sorted(sftp.listdir("/")) == ["from_ch", "to_ch"]
    upload(sftp, build_837([TestClaim("C1")]), "x_837P.txt", folder="to_ch")
    assert len(wait_for_responses(5)) == 5
    with pytest.raises(PermissionError):
        sftp.putfo(io.BytesIO(b"x"), "from_ch/nope")


def test_factory_builds_independent_servers(
    oa_harness_factory: HarnessFactory, connect: Connect
) -> None:
    before = set(threading.enumerate())
    first = oa_harness_factory(rules=ProcessingRules(delay=0.1))
    second = oa_harness_factory(inbound="up", outbound="down")
    assert first.port != second.port and first.root != second.root
    second.add_user("x", password="pw-test-only")
    assert sorted(connect(second, "x", password="pw-test-only").listdir("/")) == ["down", "up"]
    assert first.rules.delay == 0.1
    assert set(threading.enumerate()) - before  # running until the fixture ends


def test_wait_for_responses_fails_with_a_clear_message(
    oa_harness: MockOfficeAlly, oa_user: HarnessLogin, wait_for_responses: ResponseWaiter
) -> None:
    (oa_harness.outbound_dir(oa_user.username) / "123456789_999_20240101.999").write_text("x")
    with pytest.raises(pytest.fail.Exception) as info:
        wait_for_responses(3, timeout=0.2)
    message = str(info.value)
    assert "3 file(s)" in message and "found 1: 123456789_999_20240101.999" in message
    assert str(oa_harness.outbound_dir(oa_user.username)) in message
    assert wait_for_responses(1, timeout=0.2) == [
        oa_harness.outbound_dir(oa_user.username) / "123456789_999_20240101.999"
    ]


def test_root_of_the_fixture_server_is_fresh(oa_harness: MockOfficeAlly) -> None:
    assert sorted(p.name for p in oa_harness.root.iterdir()) == ["accounts", "host_key", "staging"]
