"""Simulated clearinghouse processing: a queue of arrived files and one worker.

Arrivals are queued by the SFTP layer (so a client's rename returns at once)
and answered after ``rules.delay`` seconds. Responses are written to a staging
folder under the root and renamed into the user's outbound folder, so a
client never lists a half-written response.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from claimferry_harness.adjudication import Outcome, adjudicate
from claimferry_harness.reader import EnvelopeError, Interchange, read_interchange
from claimferry_harness.responses import (
    Envelope,
    PayerRemit,
    acknowledgment_999,
    claim_acknowledgment_277ca,
    edi_status_report,
    rejected_envelope,
    remittance_835,
)
from claimferry_harness.rules import ProcessingRules

log = logging.getLogger(__name__)

STATE_FILE = "harness_state.json"
STAGING = "staging"


def is_claim_file_name(name: str) -> bool:
    """A final (not temporary) name that contains ``837P``: the files the mock answers.

    Office Ally's naming rule, kept strictly, so that a client whose names lack
    ``837P`` gets no answer in its tests either.
    """
    lowered = name.lower()
    temporary = name.startswith(".") or lowered.endswith((".part", ".tmp"))
    return "837P" in name and not temporary


@dataclass(order=True, frozen=True)
class _Arrival:
    due: float
    sequence: int
    user: str
    path: Path


class Processor:
    """Answers arrived 837 files; ``outbound_for(user)`` says where responses go."""

    def __init__(
        self, root: Path, outbound_for: Callable[[str], Path], rules: Callable[[], ProcessingRules]
    ) -> None:
        self._root = root
        self._outbound_for = outbound_for
        self._rules = rules
        self._state_path = root / STATE_FILE
        self._staging = root / STAGING
        self._queue: list[_Arrival] = []
        self._sequence = 0
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._staging.mkdir(parents=True, exist_ok=True)
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="oa-harness-processing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the worker; files still waiting are dropped (use ``wait_idle`` first)."""
        with self._cond:
            self._stopping = True
            if self._queue:
                log.info("harness stopping with %d file(s) not processed", len(self._queue))
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def submit(self, user: str, path: Path) -> None:
        """Queue a file that arrived under its final name (called from SFTP threads)."""
        with self._cond:
            self._sequence += 1
            due = time.monotonic() + self._rules().delay
            heapq.heappush(self._queue, _Arrival(due, self._sequence, user, path))
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or being processed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._queue:
                        wait = self._queue[0].due - time.monotonic()
                        if wait <= 0:
                            arrival = heapq.heappop(self._queue)
                            self._busy = True
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                self.process(arrival.user, arrival.path)
            except Exception:  # one bad file must not stop the worker
                log.exception("harness failed to process an uploaded file")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    # -- one file --------------------------------------------------------------

    def _next_numbers(self, first_file_id: int) -> tuple[int, int]:
        """A new FileID and a block of interchange control numbers, kept across restarts."""
        try:
            state = json.loads(self._state_path.read_text(encoding="utf-8"))
            file_id, control = int(state["next_file_id"]), int(state["next_control_number"])
        except (OSError, ValueError, KeyError, TypeError):
            file_id, control = first_file_id, 1
        data = {
            "next_file_id": file_id + 1 if file_id + 1 < 10**10 else 10**8,
            "next_control_number": control + 3 if control + 3 < 10**9 else 1,
        }
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self._state_path)
        return file_id, control

    def process(self, user: str, path: Path) -> list[Path]:
        """Read one uploaded file and write its responses; returns the files written."""
        if not path.is_file():
            log.warning("uploaded file vanished before processing: %s", path.name)
            return []
        rules = self._rules()
        file_id_number, control = self._next_numbers(rules.first_file_id)
        file_id = str(file_id_number)
        now = datetime.now()
        stamp = now.strftime("%Y%m%d")
        outputs: dict[str, bytes] = {}
        try:
            interchange = read_interchange(path)
        except EnvelopeError as exc:
            env = Envelope("ZZ", _receiver_id(exc, user), control, _usage(exc), now)
            outputs[f"{file_id}_999_{stamp}.999"] = rejected_envelope(env, exc)
            log.info(
                "file %s (%s): envelope rejected, TA1 note %s", file_id, path.name, exc.note_code
            )
            return self._publish(user, outputs)
        env = Envelope(
            interchange.sender_qualifier or "ZZ",
            interchange.sender_id or user,
            control,
            interchange.usage,
            now,
        )
        sender = interchange.groups[0].sender if interchange.groups else interchange.sender_id
        outputs[f"{file_id}_999_{stamp}.999"] = acknowledgment_999(env, interchange, sender)
        outcomes: list[Outcome] = []
        answered = []
        for group in interchange.groups:
            for txn in group.accepted_transactions:
                txn_outcomes = [adjudicate(c, rules, file_id) for c in txn.claims]
                if txn_outcomes:
                    outcomes.extend(txn_outcomes)
                    answered.append((txn, txn_outcomes))
        if answered:
            outputs[f"{file_id}_277CA_{stamp}.277"] = claim_acknowledgment_277ca(
                _with_control(env, control + 1), file_id, answered, sender
            )
            outputs[f"{file_id}_EDI_STATUS_{stamp}.txt"] = edi_status_report(
                file_id, path.name, now, outcomes
            )
            remits = _payer_remits(outcomes, rules)
            if remits and (rules.remit_test_files or not _is_test(interchange, path)):
                outputs[f"{file_id}_ERA_835_5010_{stamp}.835"] = remittance_835(
                    _with_control(env, control + 2), file_id, remits, sender
                )
        accepted = sum(1 for o in outcomes if o.accepted)
        log.info(
            "file %s (%s): %d claim(s), %d accepted, %d response file(s)",
            file_id,
            path.name,
            len(outcomes),
            accepted,
            len(outputs),
        )
        return self._publish(user, outputs)

    def _publish(self, user: str, outputs: dict[str, bytes]) -> list[Path]:
        outbound = self._outbound_for(user)
        written = []
        for name, data in outputs.items():
            staged = self._staging / name
            staged.write_bytes(data)
            target = outbound / name
            staged.replace(target)
            written.append(target)
        return written


def _with_control(env: Envelope, control: int) -> Envelope:
    return Envelope(env.receiver_qualifier, env.receiver_id, control, env.usage, env.now)


def _receiver_id(error: EnvelopeError, user: str) -> str:
    sender = error.isa.element(6).strip() if error.isa is not None else ""
    return sender or user.upper()[:15]


def _usage(error: EnvelopeError) -> str:
    usage = error.isa.element(15) if error.isa is not None else ""
    return usage if usage in ("T", "P") else "P"


def _is_test(interchange: Interchange, path: Path) -> bool:
    return interchange.usage == "T" or "OATEST" in path.name.upper()


def _payer_remits(outcomes: list[Outcome], rules: ProcessingRules) -> list[PayerRemit]:
    """Accepted claims grouped by 835 payer ID and billing provider, in file order."""
    groups: dict[tuple[str, str], list[Outcome]] = {}
    names: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.remit is None:
            continue
        payer = rules.payers.get(outcome.claim.payer_id)
        remit_id = payer.remit_id if payer is not None else outcome.claim.payer_id
        names[remit_id] = payer.name if payer is not None else outcome.claim.payer_name
        groups.setdefault((remit_id, outcome.claim.billing_npi), []).append(outcome)
    return [PayerRemit(pid, names[pid], tuple(group)) for (pid, _), group in groups.items()]
