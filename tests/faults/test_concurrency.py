"""One writer per sender: concurrent runs, a killed holder, and the lock itself.

The runs are real ``python -m claimferry`` processes against the mock Office
Ally on loopback; the lock tests take it from other processes, since it is
the operating system that must keep them apart.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimferry import database
from claimferry.ledger import Ledger, SenderBusy
from faults.reliab_support import ANSWERS_PER_FILE, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _try_lock_elsewhere(
    state_dir: Path, account: str = "sunrise"
) -> subprocess.CompletedProcess[str]:
    """Another process asks for the sender lock once, without waiting."""
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from claimferry.ledger import Ledger, SenderBusy
        with Ledger.open(Path({str(state_dir)!r})) as ledger:
            try:
                with ledger.sender_lock({account!r}, command="probe"):
                    print("got it")
            except SenderBusy as exc:
                print("busy:", exc)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    opened = Ledger.open(tmp_path)
    opened.ensure_account("sunrise", "officeally", "SUNRISE01")
    opened.ensure_account("sunset", "officeally", "SUNRISE01")  # the same sender, renamed
    opened.ensure_account("moonrise", "officeally", "MOONRISE01")
    return opened


def test_the_lock_keeps_other_processes_out_and_names_the_holder(
    ledger: Ledger, tmp_path: Path
) -> None:
    with ledger.sender_lock("sunrise", command="submit"):
        busy = _try_lock_elsewhere(tmp_path).stdout
        assert busy.startswith("busy:"), busy
        assert "account sunrise" in busy and "officeally SUNRISE01" in busy
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in busy
        assert "'submit'" in busy and "--wait" in busy
        # Every account of the sender shares it; another sender does not.
        assert _try_lock_elsewhere(tmp_path, "sunset").stdout.startswith("busy:")
        assert _try_lock_elsewhere(tmp_path, "moonrise").stdout.startswith("got it")
    assert _try_lock_elsewhere(tmp_path).stdout.startswith("got it")
    assert ledger.db.execute("SELECT COUNT(*) FROM sender_locks").fetchone()[0] == 0
    ledger.close()


@pytest.mark.sqlite_only("SQLite closing its descriptors of the ledger file")
def test_closing_other_connections_to_the_ledger_keeps_the_lock(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Classic POSIX locks vanish when the process closes any descriptor of the
    file; SQLite opens and closes the ledger file all the time."""
    with ledger.sender_lock("sunrise", command="submit"):
        for _ in range(3):
            Ledger.open(tmp_path).close()
            other = sqlite3.connect(tmp_path / "ledger.sqlite3")
            other.execute("SELECT COUNT(*) FROM batches").fetchone()
            other.close()
            with open(tmp_path / "ledger.sqlite3", "rb") as handle:
                handle.read(100)
        assert _try_lock_elsewhere(tmp_path).stdout.startswith("busy:")
    ledger.close()


def test_threads_of_one_process_are_kept_apart_too(ledger: Ledger, tmp_path: Path) -> None:
    seen: list[str] = []
    with ledger.sender_lock("sunrise", command="fetch"):

        def other_thread() -> None:
            with Ledger.open(tmp_path) as mine:
                try:
                    with mine.sender_lock("sunrise", command="fetch"):
                        seen.append("got it")
                except SenderBusy:
                    seen.append("busy")

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen == ["busy"]
    with Ledger.open(tmp_path) as again, again.sender_lock("sunrise", command="fetch", wait=1):
        pass
    ledger.close()


def test_a_waiting_taker_gets_the_lock_when_the_holder_ends(ledger: Ledger, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from claimferry.ledger import Ledger
        with Ledger.open(Path({str(tmp_path)!r})) as ledger:
            with ledger.sender_lock("sunrise", command="submit"):
                print("holding", flush=True)
                time.sleep(1.0)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    with (
        pytest.raises(SenderBusy, match="running 'submit'"),
        ledger.sender_lock("sunrise", command="fetch"),
    ):
        pass
    started = time.monotonic()
    with ledger.sender_lock("sunrise", command="fetch", wait=30):
        assert time.monotonic() - started > 0.3  # it waited for the holder
    holder.wait(timeout=30)
    ledger.close()


def test_sigkill_of_a_holder_frees_its_lock(ledger: Ledger, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from claimferry.ledger import Ledger
        ledger = Ledger.open(Path({str(tmp_path)!r}))
        with ledger.sender_lock("sunrise", command="submit"):
            print("holding", flush=True)
            time.sleep(600)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    with (
        pytest.raises(SenderBusy, match=f"pid {holder.pid} "),
        ledger.sender_lock("sunrise", command="fetch"),
    ):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with ledger.sender_lock("sunrise", command="fetch", wait=10):
        holders = ledger.db.execute("SELECT pid, command FROM sender_locks").fetchall()
        assert [tuple(h) for h in holders] == [(os.getpid(), "fetch")]
    ledger.close()


# -- the CLI, end to end --------------------------------------------------------------


def test_two_submits_at_once_send_each_claim_once(world: World) -> None:
    claims = world.claims_file("SUN")
    runs = [
        world.start("submit", str(claims), "--account", "sunrise", "--wait", "120")
        for _ in range(2)
    ]
    results = [(p.wait(timeout=180), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    (refused,) = [err for code, _, err in results if code == 1]
    assert "already sent in batch" in refused and "Traceback" not in refused
    assert world.inbound_claims("sunrise") == {f"SUN-{n}": 1 for n in range(1, 5)}
    assert world.harness.wait_idle(60)
    assert len(world.answers("sunrise")) == 1
    assert world.temporary_files("sunrise") == []
    batches = world.json("batches", "list")
    assert [b["state"] for b in batches] == ["uploaded"]
    assert "upload-uncertain" not in [a["action"] for a in world.json("audit")]


def test_a_second_submit_names_the_holder_and_sends_nothing(world: World) -> None:
    # slow enough that the first run still holds the lock while a second process
    # starts on a loaded machine; the latency is lifted once the second has answered
    world.harness.faults.latency = 1.0
    first = world.start("submit", str(world.claims_file("SUN")), "--account", "sunrise")
    try:
        world.wait_for("the first run to hold the lock", lambda: world.lock_holders())
        second = world.run("submit", str(world.claims_file("SUX")), "--account", "sunrise")
        assert second.returncode == 1, second.stderr
        assert f"pid {first.pid} on host {socket.gethostname()}" in second.stderr
        assert "running 'submit' since" in second.stderr and "--wait SECONDS" in second.stderr
        assert "Traceback" not in second.stderr
        world.harness.faults.latency = 0.0
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert set(world.inbound_claims("sunrise")) == {f"SUN-{n}" for n in range(1, 5)}
    assert world.lock_holders() == []


def test_sigkill_of_a_submit_mid_upload_frees_the_lock_for_the_next_run(world: World) -> None:
    world.harness.faults.latency = 0.4
    claims = world.claims_file("SUN")
    killed = world.start("submit", str(claims), "--account", "sunrise")
    try:
        world.wait_for("a temporary file", lambda: world.temporary_files("sunrise"))
        killed.send_signal(signal.SIGKILL)
    finally:
        killed.wait(timeout=30)
    assert [h[1] for h in world.lock_holders()] == [killed.pid]  # its row stays; its lock does not
    world.harness.faults.latency = 0.0
    rerun = world.run("submit", str(claims), "--account", "sunrise")
    assert rerun.returncode == 0, rerun.stderr
    assert "stopped half-way" in rerun.stderr
    assert world.inbound_claims("sunrise") == {f"SUN-{n}": 1 for n in range(1, 5)}
    assert world.temporary_files("sunrise") == []
    assert world.lock_holders() == []


def test_concurrent_fetches_record_each_answer_once(world: World) -> None:
    assert (
        world.run("submit", str(world.claims_file("SUN")), "--account", "sunrise").returncode == 0
    )
    assert world.harness.wait_idle(60)
    world.wait_for(
        "the mock's answers",
        lambda: len(list(world.harness.outbound_dir("sunrise").iterdir())) >= ANSWERS_PER_FILE,
    )
    fetches = [world.start("fetch", "--account", "sunrise", "--wait", "120") for _ in range(6)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in fetches]
    assert [code for code, _, _ in results] == [0] * 6, results
    new_files = sum(int(out.split(": ")[1].split()[0]) for _, out, _ in results)
    assert new_files == ANSWERS_PER_FILE  # each answer fetched by exactly one of them
    assert world.duplicate_answers() == []
    states = {c["claim"]: c["state"] for c in world.json("status")["claims"]}
    assert set(states.values()) == {"paid"}
    fetched = [a["file_name"] for a in world.json("audit") if a["action"] == "fetch"]
    assert len(fetched) == len(set(fetched)) == ANSWERS_PER_FILE


def test_where_there_are_no_ofd_locks_posix_locks_still_keep_processes_apart(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS and the BSDs have no OFD locks: the fallback must still exclude."""
    monkeypatch.setattr(database, "_OFD_SETLK", None)
    with ledger.sender_lock("sunrise", command="submit"):
        assert _try_lock_elsewhere(tmp_path).stdout.startswith("busy:")
    assert _try_lock_elsewhere(tmp_path).stdout.startswith("got it")
    ledger.close()


def test_resend_and_abandon_wait_for_the_sender_too(world: World) -> None:
    sent = world.run("submit", str(world.claims_file("SUN")), "--account", "sunrise")
    assert sent.returncode == 0, sent.stderr
    with Ledger.open(world.state_dir) as ledger, ledger.sender_lock("sunrise", command="fetch"):
        for args in (("batches", "resend", "1"), ("batches", "abandon", "1", "--yes")):
            busy = world.run(*args)
            assert busy.returncode == 1, busy.stderr
            assert f"pid {os.getpid()}" in busy.stderr and "running 'fetch'" in busy.stderr
    (batch,) = world.json("batches", "list")
    assert batch["state"] == "uploaded"
    audit = [a["action"] for a in world.json("audit")]
    assert "batch-resend" not in audit and "batch-abandoned" not in audit
