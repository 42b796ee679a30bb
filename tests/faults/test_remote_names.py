"""Remote names cannot collide: the final name keeps the submitter ID's case and
adds a random part, every attempt writes its own temporary file, and nothing
ever replaces a file already under a final name."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from claimferry.api import Account, Credentials, FileNaming, SecretStr, TransportError
from claimferry.claims_input import load_claims
from claimferry.config import load_config
from claimferry.ledger import Ledger
from claimferry.manager import PluginManager
from claimferry.submission import record_batches
from claimferry_officeally.profile import make_claim_file_name
from claimferry_officeally.transport import OfficeAllySession, RetryPolicy, temporary_name
from faults.reliab_support import PASSWORD, World, make_world

CLAIM = b"ISA*00*" + b"x" * 2000 + b"~"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _account(world: World, name: str = "sunrise") -> Account:
    return load_config(Path(world.env["CLAIMFERRY_CONFIG"])).account(name)


def _session(world: World, name: str = "sunrise") -> OfficeAllySession:
    credentials = Credentials(name, SecretStr(PASSWORD))
    session = OfficeAllySession(
        _account(world, name), credentials, RetryPolicy(sleep=lambda _: None)
    )
    session.connect()
    return session


def test_submitter_ids_differing_in_case_never_share_a_name() -> None:
    when = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    name = make_claim_file_name(clock=lambda: when)
    upper = name(FileNaming("a", "SUNRISE01", True, 7))
    lower = name(FileNaming("b", "sunrise01", True, 7))
    assert upper.startswith("SUNRISE01_837P_OATEST_000000007_20261202T120000_")
    assert lower.startswith("sunrise01_837P_OATEST_000000007_20261202T120000_")
    assert upper.lower() != lower.lower()  # not even on a case-blind server
    again = {name(FileNaming("a", "SUNRISE01", True, 7)) for _ in range(50)}
    assert len(again) == 50  # the random part: one ISA13 from a rebuilt ledger differs too


def test_temporary_names_are_new_for_every_attempt() -> None:
    digest = hashlib.sha256(CLAIM).hexdigest()
    names = {temporary_name(digest) for _ in range(100)}
    assert len(names) == 100
    assert all(n.startswith(f".claimferry-{digest[:16]}-") and n.endswith(".part") for n in names)
    assert not any("837P" in n for n in names)


def test_an_upload_never_replaces_a_file_under_its_final_name(world: World) -> None:
    inbound = world.harness.inbound_dir("sunrise")
    taken = inbound / "SUNRISE01_837P_OATEST_000000001_x.txt"
    taken.write_bytes(b"another batch's file")
    with _session(world) as session, pytest.raises(TransportError) as caught:
        session.upload(CLAIM, taken.name)
    assert caught.value.delivered is False  # known not delivered: the batch is sent later
    assert "already in inbound" in str(caught.value) and "never replaces" in str(caught.value)
    assert taken.read_bytes() == b"another batch's file"
    assert sorted(p.name for p in inbound.iterdir()) == [taken.name]  # no temporary left


def test_a_batch_whose_name_is_taken_stays_built_and_goes_at_the_next_run(
    world: World,
) -> None:
    """The batch is neither marked uploaded nor lost: it goes back to 'built' with
    the error, because the transport knows its file never reached the final name."""
    claims_path = world.claims_file("SUN")
    pm = PluginManager().load()
    account = _account(world)
    clearinghouse = pm.get_clearinghouse(account.clearinghouse)
    with Ledger.open(world.state_dir) as ledger:
        [batch] = record_batches(
            ledger,
            account,
            clearinghouse,
            load_claims(claims_path).claims,
            datetime.now(UTC),
        )
    squatter = world.harness.inbound_dir("sunrise") / batch.file_name
    squatter.write_bytes(b"not ours")

    blocked = world.run("submit", str(claims_path), "--account", "sunrise")
    assert blocked.returncode == 1
    assert f"{batch.file_name} is already in inbound" in blocked.stderr
    assert "Traceback" not in blocked.stderr
    assert squatter.read_bytes() == b"not ours"
    (listed,) = world.json("batches", "list")
    assert listed["state"] == "built" and "already in inbound" in listed["error"]
    assert world.temporary_files("sunrise") == []

    squatter.unlink()  # Office Ally took the other file
    sent = world.run("submit", str(claims_path), "--account", "sunrise")
    assert sent.returncode == 0, sent.stderr
    assert "recorded by an earlier run" in sent.stderr
    assert world.inbound_claims("sunrise") == {f"SUN-{n}": 1 for n in range(1, 5)}
    (listed,) = world.json("batches", "list")
    assert listed["state"] == "uploaded"


def test_two_writers_of_one_file_at_once_deliver_it_once_and_whole(world: World) -> None:
    """Without the lock (two machines, a broken mount), two uploads of the same
    bytes at once each write their own temporary file, so neither truncates
    the other's, and the second rename cannot replace the first's file."""
    inbound = world.harness.inbound_dir("sunrise")
    world.harness.faults.latency = 0.05
    name = "SUNRISE01_837P_OATEST_000000009_a.txt"
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def upload() -> None:
        with _session(world) as session:
            start.wait()
            try:
                session.upload(CLAIM, name)
                outcomes.append("delivered")
            except TransportError as exc:
                outcomes.append("refused" if "already in inbound" in str(exc) else str(exc))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["delivered", "refused"]
    assert (inbound / name).read_bytes() == CLAIM
    assert world.temporary_files("sunrise") == []
