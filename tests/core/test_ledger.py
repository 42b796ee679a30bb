"""The ledger on a real SQLite file: control numbers, batches, history, audit."""

from __future__ import annotations

import multiprocessing
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from claimferry.database import VARIABLES_LIMIT, DatabaseError
from claimferry.ledger import (
    _MIGRATIONS,
    Answer,
    BatchState,
    ClaimState,
    Ledger,
    LedgerError,
    NewClaim,
)


def _claims(*ids: str) -> list[NewClaim]:
    return [NewClaim(i, "00621", Decimal("680.00"), f"hash-{i}", "original", None) for i in ids]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path)
    led.ensure_account("sunrise", "officeally", "SUNRISE01")
    return led


@pytest.mark.sqlite_only("WAL mode and the file's permissions")
def test_wal_mode_and_private_file(ledger: Ledger) -> None:
    mode = ledger._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert ledger.path.stat().st_mode & 0o077 == 0
    assert ledger.schema_version == len(_MIGRATIONS)


def test_control_numbers_unique_per_account_and_survive_reopen(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as led:
        led.ensure_account("a", "officeally", "A1")
        led.ensure_account("b", "officeally", "B1")
        assert [led.next_control_number("a") for _ in range(3)] == [1, 2, 3]
        assert led.next_control_number("b") == 1
    with Ledger.open(tmp_path) as led:
        assert led.next_control_number("a") == 4


def _take_numbers(path: str, count: int, queue: multiprocessing.Queue[list[int]]) -> None:
    with Ledger.open(Path(path)) as led:
        queue.put([led.next_control_number("a") for _ in range(count)])


def test_control_numbers_are_unique_per_sender_not_per_account_name(tmp_path: Path) -> None:
    """A renamed account, or one login configured twice, sends as the same submitter."""
    with Ledger.open(tmp_path) as led:
        led.ensure_account("sunrise", "officeally", "SUNRISE01")
        assert [led.next_control_number("sunrise") for _ in range(2)] == [1, 2]
        led.ensure_account("sunrise-aba", "officeally", "SUNRISE01")
        assert led.next_control_number("sunrise-aba") == 3
        assert led.next_control_number("sunrise") == 4
        led.ensure_account("elsewhere", "otherhouse", "SUNRISE01")
        assert led.next_control_number("elsewhere") == 1


def test_control_numbers_never_repeat_across_processes(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as led:
        led.ensure_account("a", "officeally", "A1")
    queue: multiprocessing.Queue[list[int]] = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_take_numbers, args=(str(tmp_path), 25, queue))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    numbers = [n for _ in procs for n in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(numbers) == list(range(1, 101))


def test_batch_lifecycle_and_history(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.record_batch(
        account="sunrise",
        file_name="f.837",
        archive_path=tmp_path / "f",
        sha256="ab" * 32,
        size=10,
        control_number=7,
        test=True,
        claims=_claims("C1", "C2"),
    )
    assert batch.state is BatchState.BUILT and batch.isa13 == 7
    assert [c.state for c in ledger.claims(batch_id=batch.id)] == [ClaimState.BUILT] * 2
    ledger.set_batch_state(
        batch.id, BatchState.UPLOADED, remote_name="R.837", host_fingerprint="SHA256:x"
    )
    assert ledger.batch(batch.id).remote_name == "R.837"
    record = ledger.update_claim(
        "sunrise",
        "C1",
        ClaimState.PAID,
        amount=Decimal("544.00"),
        detail="paid",
        source_file="x.835",
        payer_claim_number="PCN1",
    )
    assert record.state is ClaimState.PAID and record.payer_claim_number == "PCN1"
    states = [e.state for e in ledger.claim_events(record.row)]
    assert states == [ClaimState.BUILT, ClaimState.UPLOADED, ClaimState.PAID]


def test_unknown_claims_in_responses_are_recorded(ledger: Ledger) -> None:
    record = ledger.update_claim("sunrise", "NEVER-SENT", ClaimState.DENIED, detail="835")
    assert record.batch_id is None
    events = [e.state for e in ledger.claim_events(record.row)]
    assert events == [ClaimState.DENIED]
    assert ledger.claims(claim_id="NEVER-SENT")[0].state is ClaimState.DENIED


def test_latest_submission_ignores_failed_batches(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.record_batch(
        account="sunrise",
        file_name="f1",
        archive_path=tmp_path,
        sha256="0" * 64,
        size=1,
        control_number=1,
        test=True,
        claims=_claims("C1"),
    )
    ledger.update_claim("sunrise", "SEEN-ONLY", ClaimState.PAID, source_file="x.835")
    found = ledger.submissions("sunrise", ["C1", "C2", "SEEN-ONLY"])
    assert list(found) == ["C1", "SEEN-ONLY"]
    ((record, in_batch),) = found["C1"]
    assert in_batch is not None
    assert (record.content_sha256, in_batch.id) == ("hash-C1", batch.id)
    assert [b for _, b in found["SEEN-ONLY"]] == [None]  # known from a response only
    ledger.set_batch_state(batch.id, BatchState.FAILED, error="never delivered")
    assert ledger.submissions("sunrise", ["C1"]) == {}


def _sent(ledger: Ledger, tmp_path: Path, control_number: int, *ids: str) -> None:
    ledger.record_batch(
        account="sunrise",
        file_name=f"f{control_number}",
        archive_path=tmp_path,
        sha256=f"{control_number}" * 64,
        size=1,
        control_number=control_number,
        test=True,
        claims=_claims(*ids),
    )


def test_find_claims_gives_each_ids_latest_submission_and_its_state(
    ledger: Ledger, tmp_path: Path
) -> None:
    _sent(ledger, tmp_path, 1, "C1", "C2")
    _sent(ledger, tmp_path, 2, "C1")  # C1 sent again: the answer is the new one's
    rows = {r.claim_id: r.row for r in ledger.claims() if r.batch_id is not None}
    latest = max(r.row for r in ledger.claims(claim_id="C1"))
    ledger.answer_claim(latest, ClaimState.ACCEPTED, detail="999 A")
    found = ledger.find_claims("sunrise", ["C2", "C1", "NEVER-SENT"])
    assert found == {"C1": (latest, ClaimState.ACCEPTED), "C2": (rows["C2"], ClaimState.BUILT)}
    assert ledger.find_claims("other-account", ["C1"]) == {}


def test_many_answers_are_recorded_in_order_across_statements(
    ledger: Ledger, tmp_path: Path
) -> None:
    """More events than one INSERT takes: each claim's history keeps the answers'
    order, and the state read by the caller moves the claim as a fresh read would."""
    ids = [f"C{n}" for n in range(150)]
    _sent(ledger, tmp_path, 1, *ids)
    found = ledger.find_claims("sunrise", ids)
    answers = [
        Answer(found[i][0], state, f"{state} {i}", Decimal(n), "r.835", None)
        for n, state in enumerate((ClaimState.ACCEPTED, ClaimState.PAID, ClaimState.ACCEPTED))
        for i in ids
    ]
    assert len(answers) > VARIABLES_LIMIT // 6  # claim_events takes 6 values a row
    ledger.answer_claims(answers, dict(found.values()))
    for claim_id in ("C0", "C77", "C149"):
        row = found[claim_id][0]
        history = ledger.claim_events(row)[1:]  # after "built"
        assert [(e.state, e.detail, e.amount) for e in history] == [
            (ClaimState.ACCEPTED, f"accepted {claim_id}", Decimal(0)),
            (ClaimState.PAID, f"paid {claim_id}", Decimal(1)),
            (ClaimState.ACCEPTED, f"accepted {claim_id}", Decimal(2)),
        ]
        record = ledger.claim_record(row)
        assert (record.state, record.detail) == (ClaimState.PAID, f"paid {claim_id}")


def test_answers_written_together_keep_the_last_payer_claim_number_given(
    ledger: Ledger, tmp_path: Path
) -> None:
    """As if written one by one: a later answer's number wins whether it moved the
    claim or not (one 277CA file may carry both for a claim)."""
    _sent(ledger, tmp_path, 1, "C1", "C2")
    found = ledger.find_claims("sunrise", ["C1", "C2"])
    one, two = found["C1"][0], found["C2"][0]
    ledger.answer_claim(one, ClaimState.PAYER_REJECTED, detail="277CA A7")
    ledger.answer_claims(
        [
            Answer(one, ClaimState.ACKNOWLEDGED, "277CA A1", None, "a.277", "N1"),  # no move
            Answer(one, ClaimState.ACKNOWLEDGED, "277CA A2", None, "a.277", "N2"),  # no move
            Answer(two, ClaimState.BUILT, "report", None, "a.277", "M1"),  # no move
            Answer(two, ClaimState.ACKNOWLEDGED, "277CA A2", None, "a.277", "M2"),  # moves
        ]
    )
    assert ledger.claim_record(one).payer_claim_number == "N2"
    assert ledger.claim_record(two).payer_claim_number == "M2"
    assert ledger.claim_record(two).state is ClaimState.ACKNOWLEDGED


def test_control_number_and_file_name_are_unique(ledger: Ledger, tmp_path: Path) -> None:
    kwargs = dict(
        account="sunrise",
        archive_path=tmp_path,
        sha256="0" * 64,
        size=1,
        test=True,
        claims=_claims("C1"),
    )
    ledger.record_batch(file_name="f1", control_number=5, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DatabaseError, match=r"(?i)cannot write \(.*unique"):
        ledger.record_batch(file_name="f2", control_number=5, **kwargs)  # type: ignore[arg-type]
    assert ledger.next_control_number("sunrise") == 6


def test_audit_trail_is_append_only(ledger: Ledger) -> None:
    ledger.audit(
        "upload", account="sunrise", file_name="f", size=3, sha256="ab", host_fingerprint="SHA256:x"
    )
    entries = ledger.audit_entries("sunrise")
    assert entries[0].action == "upload" and entries[0].actor
    for statement in ("UPDATE audit SET action = 'x'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            ledger._db.execute(statement)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:  # a ledger that a later release then migrated
        if isinstance(ledger.db, sqlite3.Connection):
            ledger.db.execute("PRAGMA user_version = 99")
        else:
            ledger.db.execute("UPDATE schema_versions SET version = 99 WHERE name = 'ledger'")
    with pytest.raises(LedgerError, match="newer claimferry"):
        Ledger.open(tmp_path)


def test_responses_are_recorded_once(ledger: Ledger, tmp_path: Path) -> None:
    first = ledger.record_response(
        account="sunrise",
        remote_name="a_999.txt",
        size=5,
        sha256="1" * 64,
        archive_path=tmp_path,
        kind="999",
    )
    again = ledger.record_response(
        account="sunrise",
        remote_name="a_999.txt",
        size=5,
        sha256="1" * 64,
        archive_path=tmp_path,
        kind="999",
    )
    assert first is not None and again is None
    assert ledger.response_known("sunrise", "a_999.txt", 5)
    assert not ledger.response_known("sunrise", "a_999.txt", 6)


def test_many_threads_opening_a_new_ledger_at_once(tmp_path: Path) -> None:
    """The first fetch --all of an install opens a new ledger from several threads."""
    import threading

    for trial in range(20):
        folder = tmp_path / str(trial)
        errors: list[BaseException] = []

        def open_it(folder: Path = folder, errors: list[BaseException] = errors) -> None:
            try:
                with Ledger.open(folder) as led:
                    assert led.schema_version == len(_MIGRATIONS)
            except BaseException as exc:  # reported below, with the trial
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], (trial, errors)


def test_steps_in_one_transaction_roll_back_together(ledger: Ledger) -> None:
    """Writes inside ``ledger.transaction()`` join it: a failure undoes all of them."""
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.update_claim("sunrise", "GHOST-1", ClaimState.ACCEPTED, source_file="a.999")
        ledger.audit("fetch", account="sunrise", file_name="a.999")
        raise RuntimeError("crash half-way")
    assert ledger.claims(account="sunrise") == []
    assert ledger.audit_entries("sunrise") == []
    with ledger.transaction():
        ledger.update_claim("sunrise", "GHOST-1", ClaimState.ACCEPTED, source_file="a.999")
        ledger.audit("fetch", account="sunrise", file_name="a.999")
    assert [c.claim_id for c in ledger.claims(account="sunrise")] == ["GHOST-1"]
    assert len(ledger.audit_entries("sunrise")) == 1
    assert not ledger.db.in_transaction


@pytest.mark.parametrize(
    ("first", "then", "stays"),
    [
        (ClaimState.REJECTED, ClaimState.ACCEPTED, ClaimState.REJECTED),
        (ClaimState.ACCEPTED, ClaimState.REJECTED, ClaimState.REJECTED),
        (ClaimState.PAYER_REJECTED, ClaimState.ACKNOWLEDGED, ClaimState.PAYER_REJECTED),
        (ClaimState.ACKNOWLEDGED, ClaimState.PAYER_REJECTED, ClaimState.PAYER_REJECTED),
        (ClaimState.REJECTED, ClaimState.PAID, ClaimState.PAID),
        (ClaimState.DENIED, ClaimState.PAID, ClaimState.PAID),
    ],
)
def test_at_the_same_step_a_rejection_stands(
    ledger: Ledger, first: ClaimState, then: ClaimState, stays: ClaimState
) -> None:
    """The 999 and Office Ally's report can arrive in either order (separate fetches)."""
    ledger.update_claim("sunrise", "C1", first, source_file="one")
    record = ledger.update_claim("sunrise", "C1", then, source_file="two")
    assert record.state is stays
    assert [e.state for e in ledger.claim_events(record.row)] == [first, then]


def test_answers_read_by_an_earlier_release_move_to_what_the_payer_did(tmp_path: Path) -> None:
    """Ledgers of schema 2 read 835s by CLP02's name: their states are put right."""
    from claimferry.database import migrate_schema, open_database

    path = tmp_path / "ledger.sqlite3"
    old = open_database(path)
    migrate_schema(old, _MIGRATIONS[:2], str(path))
    details = {
        "DEN": ("paid", "835 paid 0.00 of 150.00 (processed as primary); CO-97 150: x"),
        "DED": ("paid", "835 paid 0.00 of 150.00 (processed as primary); PR-1 150: x"),
        "PAY": ("paid", "835 paid 80.00 of 100.00 (processed as primary); CO-45 20: x"),
        "REV": ("adjusted", "835 reversal: paid -80.00; CO-45 -20: x"),
        "COR": ("adjusted", "835 correction: paid 60.00; CO-45 40: x"),
        "FWD": ("adjusted", "835 processed as primary, forwarded to additional payer(s): paid 80"),
    }
    for claim_id, (state, detail) in details.items():
        row = old.execute(
            "INSERT INTO claims (account, claim_id, state, detail, updated_at) "
            "VALUES ('a', ?, ?, ?, 'now')",
            (claim_id, state, detail),
        ).lastrowid
        old.execute(
            "INSERT INTO claim_events (claim_row, state, detail, at) VALUES (?, ?, ?, 'now')",
            (row, state, detail),
        )
    old.close()
    with Ledger(path) as ledger:
        states = {c.claim_id: c.state.value for c in ledger.claims()}
        events = {c.claim_id: ledger.claim_events(c.row)[-1].state.value for c in ledger.claims()}
    expected = {
        "DEN": "denied",
        "DED": "patient_responsibility",
        "PAY": "paid",
        "REV": "reversed",
        "COR": "paid",
        "FWD": "forwarded",
    }
    assert states == expected and events == expected
