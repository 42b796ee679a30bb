"""Responses into claim states, on a real ledger: samples, unknown claims, order, overdue."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from claimferry import lifecycle
from claimferry.cli import create_cli
from claimferry.errors import InputError
from claimferry.ledger import BatchState, ClaimState, Ledger, NewClaim
from claimferry.lifecycle import apply_response
from claimferry.manager import PluginManager


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "state")
    led.ensure_account("sunrise", "officeally", "SUNRISE01")
    return led


def _batch(ledger: Ledger, control_number: int, *claim_ids: str) -> int:
    batch = ledger.record_batch(
        account="sunrise",
        file_name=f"F{control_number}.txt",
        archive_path=Path("unused"),
        sha256="0" * 64,
        size=1,
        control_number=control_number,
        test=True,
        claims=[
            NewClaim(c, "00621", Decimal("100.00"), f"h-{c}", "original", None) for c in claim_ids
        ],
    )
    ledger.set_batch_state(batch.id, BatchState.UPLOADED, remote_name=batch.file_name)
    return batch.id


def test_835_claims_never_sent_are_recorded_not_dropped(
    ledger: Ledger, samples_dir: Path, plugin_manager: PluginManager
) -> None:
    path = samples_dir / "835_02_two_claims_cas_managed_care.835"
    applied = apply_response(ledger, "sunrise", path, plugin_manager.response_readers(), path.name)
    assert (applied.kind, applied.claims, applied.unknown) == ("835", 2, 2)
    claims = {c.claim_id: c for c in ledger.claims(account="sunrise")}
    assert claims["5554555444"].state is ClaimState.PAID
    assert claims["5554555444"].batch_id is None  # known only from the response
    assert claims["5554555444"].payer_claim_number == "94060555410000"
    events = ledger.claim_events(claims["8765432112"].row)
    assert events[-1].amount == Decimal("495.00")
    assert "PR-1" in (events[-1].detail or "") and "CO-45" in (events[-1].detail or "")


def test_999_rejection_reaches_every_claim_of_its_batch(
    ledger: Ledger, samples_dir: Path, plugin_manager: PluginManager
) -> None:
    # 999_04 rejects transaction set 101 (Office Ally's TA1 inside accepts the interchange)
    _batch(ledger, 101, "C1", "C2")
    _batch(ledger, 102, "C3")
    path = samples_dir / "999_04_officeally_TA1_after_ISA_rejected.txt"
    applied = apply_response(ledger, "sunrise", path, plugin_manager.response_readers(), path.name)
    assert (applied.kind, applied.claims, applied.unknown) == ("999", 2, 0)
    states = {c.claim_id: c.state for c in ledger.claims(account="sunrise")}
    assert states == {
        "C1": ClaimState.REJECTED,
        "C2": ClaimState.REJECTED,
        "C3": ClaimState.UPLOADED,
    }
    detail = ledger.claims(claim_id="C1")[0].detail or ""
    assert "segment not in defined transaction set" in detail


def test_a_late_answer_is_history_only(ledger: Ledger) -> None:
    _batch(ledger, 7, "C1")
    ledger.update_claim("sunrise", "C1", ClaimState.PAID, amount=Decimal("80.00"))
    ledger.update_claim("sunrise", "C1", ClaimState.ACCEPTED, detail="999 read late")
    (claim,) = ledger.claims(claim_id="C1")
    assert claim.state is ClaimState.PAID
    assert [e.state for e in ledger.claim_events(claim.row)][-1] is ClaimState.ACCEPTED


def test_unreadable_response_is_a_precise_error(
    ledger: Ledger, tmp_path: Path, plugin_manager: PluginManager
) -> None:
    junk = tmp_path / "123_STATUS.txt"
    junk.write_text("nothing anyone reads\n")
    with pytest.raises(Exception, match="not a response any installed reader knows"):
        apply_response(ledger, "sunrise", junk, plugin_manager.response_readers(), junk.name)


def test_status_flags_overdue_claims(
    plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    with Ledger.open(state) as led:
        led.ensure_account("sunrise", "officeally", "SUNRISE01")
        _batch(led, 1, "OLD", "NEW")
        led.db.execute(
            "UPDATE claims SET updated_at = '2020-01-01T00:00:00+00:00' WHERE claim_id = 'OLD'"
        )
    config = tmp_path / "accounts.yaml"
    account = {"clearinghouse": "officeally", "submitter_id": "SUNRISE01",
               "overdue_after_hours": 48}  # fmt: skip
    config.write_text(yaml.safe_dump({"accounts": {"sunrise": account}}))
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(state))
    cli = create_cli(plugin_manager)
    result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    overdue = {c["claim"]: c["overdue"] for c in json.loads(result.stdout)["claims"]}
    assert overdue == {"OLD": True, "NEW": False}
    table = CliRunner().invoke(cli, ["--config", str(config), "status"]).stdout
    assert "uploaded OVERDUE" in table
    unknown = CliRunner().invoke(cli, ["--config", str(config), "status", "--account", "nope"])
    assert unknown.exit_code == 2 and "--account: nope: no such account" in unknown.stderr


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_zipped_era_is_read_like_the_835s_in_it(
    ledger: Ledger, samples_dir: Path, plugin_manager: PluginManager, tmp_path: Path
) -> None:
    """Office Ally's ``*_ERA_STATUS_5010_<date>.zip``: 835s plus a summary for people."""
    remit = (samples_dir / "835_02_two_claims_cas_managed_care.835").read_bytes()
    path = _zip(
        tmp_path / "100000123_ERA_STATUS_5010_20261128.zip",
        {"summary.txt": b"ERA SUMMARY FOR PEOPLE\n", "era/one.835": remit},
    )
    readers = plugin_manager.response_readers()
    applied = apply_response(ledger, "sunrise", path, readers, path.name)
    assert (applied.kind, applied.claims, applied.unknown) == ("835", 2, 2)
    claim = ledger.claims(claim_id="5554555444")[0]
    assert claim.state is ClaimState.PAID
    assert ledger.claim_events(claim.row)[-1].source_file == f"{path.name}!era/one.835"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"summary.txt": b"nothing here\n"}, "a zip with no X12 response in it"),
        ({"bad.835": b"ISA*00*garbage~"}, "!bad.835: segment 1 (ISA)"),
    ],
)
def test_a_zip_that_cannot_be_read_is_a_precise_error(
    ledger: Ledger,
    plugin_manager: PluginManager,
    tmp_path: Path,
    members: dict[str, bytes],
    message: str,
) -> None:
    path = _zip(tmp_path / "1_ERA_STATUS_5010_20261128.zip", members)
    with pytest.raises(InputError, match=re.escape(message)):
        apply_response(ledger, "sunrise", path, plugin_manager.response_readers(), path.name)
    assert ledger.claims(account="sunrise") == []


def _encrypted_flag(path: Path) -> Path:
    """A member flagged as encrypted: Python writes no encrypted zips, so set the flag
    (general purpose bit 0) in the local header and the central directory by hand."""
    _zip(path, {"era.835": b"ISA*"})
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + flags_at] |= 0x1
    path.write_bytes(bytes(data))
    return path


def _corrupt(path: Path, remit: bytes) -> Path:
    _zip(path, {"era.835": remit})
    data = bytearray(path.read_bytes())
    start = data.index(b"era.835") + len("era.835")  # the local header's name, then the data
    data[start + 10 : start + 40] = bytes(30)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path, remit: _encrypted_flag(path), "!era.835: encrypted: cannot be read"),
        (_corrupt, "not a zip that can be read"),
        (
            lambda path, remit: _zip(
                path, {"inner.zip": _zip(path.with_suffix(".in"), {"a.835": remit}).read_bytes()}
            ),
            "!inner.zip: a zip inside the zip is not read",
        ),
    ],
)
def test_an_encrypted_corrupt_or_nested_zip_is_an_error_not_a_crash(
    ledger: Ledger,
    samples_dir: Path,
    plugin_manager: PluginManager,
    tmp_path: Path,
    make: Callable[[Path, bytes], Path],
    message: str,
) -> None:
    remit = (samples_dir / "835_02_two_claims_cas_managed_care.835").read_bytes()
    path = make(tmp_path / "1_ERA_STATUS_5010_20261128.zip", remit)
    with pytest.raises(InputError, match=re.escape(message)):
        apply_response(ledger, "sunrise", path, plugin_manager.response_readers(), path.name)
    assert ledger.claims(account="sunrise") == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".unzip-")] == []


def test_too_many_members_are_refused(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "ZIP_MEMBERS_MAX", 2)
    path = _zip(tmp_path / "many.zip", {f"{n}.txt": b"x" for n in range(3)})
    with pytest.raises(InputError, match="more than 2 files in the zip"):
        apply_response(ledger, "sunrise", path, plugin_manager.response_readers(), path.name)


def test_a_zip_bomb_stops_at_the_limit(
    ledger: Ledger, plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "ZIP_UNPACKED_MAX", 1000)
    path = _zip(tmp_path / "bomb.zip", {"big.txt": b"0" * 100_000})
    with pytest.raises(InputError, match="unpacks to more than"):
        apply_response(ledger, "sunrise", path, plugin_manager.response_readers(), path.name)
