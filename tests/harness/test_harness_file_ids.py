"""FileIDs and response names are never reused, whatever happened to the state file."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from claimferry_harness import MockOfficeAlly, ProcessingRules
from claimferry_harness.processing import STATE_FILE, Processor
from harness.harness_support import Connect, TestClaim, build_837, segments, upload
from support.x12judge import judge


def _snapshot(root: Path) -> dict[str, str]:
    """Every response in every account's outbound folder, by name, with its SHA-256."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (root / "accounts").glob("*/outbound/*")
    }


def _isa13(path: Path) -> int:
    return int(segments(path.read_bytes())[0].element(13))


def _upload(server: MockOfficeAlly, connect: Connect, user: str, claim_ids: list[str]) -> None:
    sftp = connect(server, user, password="pw-test-only")
    for n, claim_id in enumerate(claim_ids):
        upload(sftp, build_837([TestClaim(claim_id)]), f"{user}{n}_837P.txt")
    assert server.wait_idle(10)


@pytest.mark.parametrize("damage", ["corrupt", "missing", "empty", "out-of-range"])
def test_file_ids_are_rebuilt_from_every_account_after_the_state_file_is_lost(
    damage: str, tmp_path: Path, connect: Connect
) -> None:
    rules = ProcessingRules(first_file_id=999999998)  # 9 digits, then 10
    with MockOfficeAlly(tmp_path, rules=rules) as server:
        for user in ("north", "south"):
            server.add_user(user, password="pw-test-only")
        _upload(server, connect, "north", ["N1", "REVERSE-N2"])  # the reversal: a 2nd FileID
        _upload(server, connect, "south", ["S1"])
    before = _snapshot(tmp_path)
    ids_before = {int(name.split("_")[0]) for name in before}
    assert ids_before == {999999998, 999999999, 1000000000, 1000000001}
    controls_before = {
        _isa13(p) for p in (tmp_path / "accounts").glob("*/outbound/*") if p.suffix != ".txt"
    }

    state = tmp_path / STATE_FILE
    if damage == "corrupt":
        state.write_bytes(b'{"next_file_id": 1\x00garbage')
    elif damage == "missing":
        state.unlink()
    elif damage == "empty":
        state.write_bytes(b"")
    else:
        state.write_text(json.dumps({"next_file_id": 5, "next_control_number": 0}))

    with MockOfficeAlly(tmp_path, rules=rules) as server:
        server.add_user("south", password="pw-test-only")
        _upload(server, connect, "south", ["S2"])
    after = _snapshot(tmp_path)
    assert {name: after[name] for name in before} == before  # nothing overwritten
    new = sorted(set(after) - set(before))
    assert {name.split("_")[0] for name in new} == {"1000000002"}
    for name in new:
        path = next((tmp_path / "accounts").glob(f"*/outbound/{name}"))
        if path.suffix != ".txt":
            assert _isa13(path) > max(controls_before)
            assert judge(path.read_bytes())


def test_a_rolled_back_state_file_never_reuses_a_file_id(tmp_path: Path, connect: Connect) -> None:
    with MockOfficeAlly(tmp_path) as server:
        server.add_user("u", password="pw-test-only")
        _upload(server, connect, "u", ["A1", "A2"])
        before = _snapshot(tmp_path)
        (tmp_path / STATE_FILE).write_text(
            json.dumps({"next_file_id": 100000001, "next_control_number": 500})
        )
        _upload(server, connect, "u", ["A3"])
    after = _snapshot(tmp_path)
    assert {name: after[name] for name in before} == before
    assert {name.split("_")[0] for name in set(after) - set(before)} == {"100000003"}


def test_a_name_already_in_outbound_is_never_replaced(tmp_path: Path, connect: Connect) -> None:
    with MockOfficeAlly(tmp_path) as server:
        server.add_user("u", password="pw-test-only")
        stamp = datetime.now().strftime("%Y%m%d")
        squatter = server.outbound_dir("u") / f"100000001_999_{stamp}.999"
        squatter.write_bytes(b"an earlier answer\n")
        _upload(server, connect, "u", ["A1"])
        names = sorted(p.name for p in server.outbound_dir("u").iterdir())
    assert squatter.read_bytes() == b"an earlier answer\n"
    assert [n for n in names if n.startswith("100000001_")] == [squatter.name]
    assert len([n for n in names if n.startswith("100000002_")]) == 5


def test_publish_takes_back_a_half_published_set_when_a_name_is_taken(tmp_path: Path) -> None:
    """Another writer took one name between the check and the link: nothing is replaced."""
    outbound = tmp_path / "accounts" / "u" / "outbound"
    outbound.mkdir(parents=True)
    processor = Processor(tmp_path, lambda user: outbound, ProcessingRules)
    (tmp_path / "staging").mkdir()
    (outbound / "7_B").write_bytes(b"theirs")
    assert processor._publish("u", {"7_A": b"ours", "7_B": b"ours", "7_C": b"ours"}) is None
    assert sorted(p.name for p in outbound.iterdir()) == ["7_B"]
    assert (outbound / "7_B").read_bytes() == b"theirs"
    assert list((tmp_path / "staging").iterdir()) == []
    written = processor._publish("u", {"8_A": b"ours"})
    assert written == [outbound / "8_A"] and written[0].read_bytes() == b"ours"
