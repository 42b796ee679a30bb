"""Office Ally's clearinghouse profile: receiver IDs and claim file names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from claimferry.api import FileNaming, InputError
from claimferry.manager import PluginManager
from claimferry_officeally.profile import RECEIVER, make_claim_file_name

WHEN = datetime(2026, 11, 28, 18, 5, 0, tzinfo=UTC)
name_file = make_claim_file_name(clock=lambda: WHEN, token=lambda: "5eed")


def naming(test: bool = True, icn: int = 123, submitter: str = "SUNRISE01") -> FileNaming:
    return FileNaming(
        account="sunrise", submitter_id=submitter, test=test, interchange_control_number=icn
    )


def test_test_mode_name() -> None:
    assert name_file(naming()) == "SUNRISE01_837P_OATEST_000000123_20261128T180500_5eed.txt"


def test_production_name_has_no_test_mark() -> None:
    name = name_file(naming(test=False))
    assert name == "SUNRISE01_837P_000000123_20261128T180500_5eed.txt"
    assert "OATEST" not in name


def test_names_are_unique_per_control_number_and_safe() -> None:
    names = {name_file(naming(icn=n, submitter="sun rise/01")) for n in range(1, 200)}
    assert len(names) == 199
    assert all("/" not in n and " " not in n and "837P" in n for n in names)


def test_timestamp_is_utc() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=-7)))
    assert "_20261128T180500_" in make_claim_file_name(clock=lambda: local)(naming())


def test_production_submitter_containing_the_test_mark_is_refused() -> None:
    with pytest.raises(InputError, match="submitter_id"):
        name_file(naming(test=False, submitter="OATEST01"))


def test_registered_profile(plugin_manager: PluginManager) -> None:
    profile = plugin_manager.get_clearinghouse("officeally")
    assert profile.receiver == RECEIVER
    assert profile.receiver.isa_id == "330897513" and profile.receiver.isa_qualifier == "ZZ"
    assert profile.transport == "officeally-sftp"
    assert "837P" in profile.claim_file_name(naming())
