"""Simulated clearinghouse processing: a queue of arrived files and one worker.

Arrivals are queued by the SFTP layer (so a client's rename returns at once)
and answered after ``rules.delay`` seconds. Responses are written to a staging
folder under the root and hard-linked into the user's outbound folder, so a
client never lists a half-written response and no response ever replaces
another; FileIDs are never reused, even when the state file is lost.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from claimferry_harness.adjudication import Outcome, Remit, adjudicate, review
from claimferry_harness.reader import (
    EnvelopeError,
    Interchange,
    TransactionSet,
    read_interchange,
)
from claimferry_harness.responses import (
    CLEARINGHOUSE,
    ClaimAcknowledgments,
    Envelope,
    PayerRemit,
    acknowledgment_999,
    claim_acknowledgment_277ca,
    edi_status_report,
    failed_file_summary,
    payer_source,
    rejected_envelope,
    remittance_835,
)
from claimferry_harness.rules import ANSWER_FILES, ProcessingRules

log = logging.getLogger(__name__)

STATE_FILE = "harness_state.json"
STAGING = "staging"
FILE_ID = re.compile(r"(?:FS_[A-Z]+_)?(\d{9,10})_")
"""A response name starts with its FileID (9 or 10 digits, then ``_``); a File Summary's
follows ``FS_<type>_``."""
CONTROLS_PER_FILE = 4
"""Interchange control numbers one FileID may use: 999, two 277CAs, 835."""
ISA_LENGTH = 106
PUBLISH_ATTEMPTS = 5

_LaterRemittance = tuple[Envelope, str, list[PayerRemit]]
"""A later ERA's envelope, its GS03 and its payments."""
_Render = Callable[[str, int], tuple[dict[str, bytes], _LaterRemittance | None]]
_Answered = tuple[list[Path], _LaterRemittance | None]


def why_not_answered(name: str, answer_files: str = ANSWER_FILES) -> str | None:
    """Why an upload under this name gets no answer, or None when it does.

    Answered: a final (not temporary) name in which ``answer_files`` (a
    regular expression, :attr:`ProcessingRules.answer_files`) is found. The
    rule is kept strictly, so that a client whose names break it gets no
    answer in its tests either.
    """
    if name.startswith(".") or name.lower().endswith((".part", ".tmp")):
        return "a temporary name (answered once renamed to a final one)"
    if re.search(answer_files, name) is None:
        return f"the answer pattern {answer_files!r} is not found in its name"
    return None


def is_claim_file_name(name: str, answer_files: str = ANSWER_FILES) -> bool:
    """Whether the mock answers an upload under this name (see :func:`why_not_answered`)."""
    return why_not_answered(name, answer_files) is None


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

    # -- numbers -----------------------------------------------------------------

    def _outbound_folders(self, user: str) -> list[Path]:
        """Every account's outbound folder (accounts are the siblings of ``user``'s)."""
        own = self._outbound_for(user)
        accounts = own.parent.parent
        try:
            homes = [entry for entry in accounts.iterdir() if entry.is_dir()]
        except OSError:
            return [own]
        return [home / own.name for home in homes if (home / own.name).is_dir()]

    def _read_state(self) -> tuple[int, int] | None:
        try:
            state = json.loads(self._state_path.read_text(encoding="utf-8"))
            file_id, control = int(state["next_file_id"]), int(state["next_control_number"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not (10**8 <= file_id < 10**10 and 1 <= control < 10**9):
            return None
        return file_id, control

    def _next_numbers(self, user: str, first_file_id: int) -> tuple[int, int]:
        """A FileID no outbound folder holds, and a block of interchange control numbers.

        The state file keeps the counters across restarts. When it is missing
        or unreadable they are rebuilt from what the outbound folders hold (the
        highest FileID in the names, the highest ISA13 in the files), so a
        FileID is never used twice.
        """
        folders = self._outbound_folders(user)
        used = _file_ids(folders)
        state = self._read_state()
        if state is not None:
            file_id, control = state
        else:
            file_id = _after_file_id(max(used)) if used else first_file_id
            control = _after_control(_highest_control_number(folders))
            if used or self._state_path.exists():
                log.warning(
                    "harness state file missing or unreadable: next FileID %d and control "
                    "number %d rebuilt from the outbound folders",
                    file_id,
                    control,
                )
        while file_id in used:
            file_id = _after_file_id(file_id)
        next_control = control + CONTROLS_PER_FILE
        data = {
            "next_file_id": _after_file_id(file_id),
            "next_control_number": next_control if next_control < 10**9 else 1,
        }
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self._state_path)
        return file_id, control

    # -- one file --------------------------------------------------------------

    def process(self, user: str, path: Path) -> list[Path]:
        """Read one uploaded file and write its responses; returns the files written."""
        if not path.is_file():
            log.warning("uploaded file vanished before processing: %s", path.name)
            return []
        rules = self._rules()
        interchange: Interchange | EnvelopeError
        try:
            interchange = read_interchange(path)
        except EnvelopeError as exc:
            interchange = exc
        else:
            review(interchange, rules)
        written, later = self._answer_once(
            user,
            rules,
            lambda file_id, control: self._responses(
                user, interchange, path, rules, file_id, control
            ),
        )
        if later is not None:
            env, sender, remits = later
            written += self._answer_once(
                user,
                rules,
                lambda file_id, control: (
                    {
                        f"{file_id}_ERA_835_5010_{env.now:%Y%m%d}.835": remittance_835(
                            _with_control(env, control), file_id, remits, sender
                        )
                    },
                    None,
                ),
            )[0]
        return written

    def _answer_once(self, user: str, rules: ProcessingRules, render: _Render) -> _Answered:
        """Render under a fresh FileID and publish; a name already taken means a new FileID."""
        for _ in range(PUBLISH_ATTEMPTS):
            file_id, control = self._next_numbers(user, rules.first_file_id)
            outputs, later = render(str(file_id), control)
            written = self._publish(user, outputs)
            if written is not None:
                return written, later
            log.warning("FileID %d: a response name was already taken; using a new FileID", file_id)
        raise RuntimeError(f"no free response names after {PUBLISH_ATTEMPTS} FileIDs")

    def _responses(
        self,
        user: str,
        interchange: Interchange | EnvelopeError,
        path: Path,
        rules: ProcessingRules,
        file_id: str,
        control: int,
    ) -> tuple[dict[str, bytes], _LaterRemittance | None]:
        """The responses to one upload, and what a later ERA will carry (reversals)."""
        now = datetime.now()
        stamp = now.strftime("%Y%m%d")
        outputs: dict[str, bytes] = {}
        ack_name = f"{file_id}_999_{stamp}.999"
        if isinstance(interchange, EnvelopeError):
            exc = interchange
            env = Envelope("ZZ", _receiver_id(exc, user), control, _usage(exc), now)
            outputs[ack_name] = rejected_envelope(env, exc)
            outputs[_summary_name(file_id)] = failed_file_summary(
                file_id, user, path.name, now, f"the interchange envelope is invalid: {exc.reason}"
            )
            log.info(
                "file %s (%s): envelope rejected, TA1 note %s", file_id, path.name, exc.note_code
            )
            return outputs, None
        env = Envelope(
            interchange.sender_qualifier or "ZZ",
            interchange.sender_id or user,
            control,
            interchange.usage,
            now,
        )
        sender = interchange.groups[0].sender if interchange.groups else interchange.sender_id
        outputs[ack_name] = acknowledgment_999(env, interchange, sender)
        if not any(group.accepted_transactions for group in interchange.groups):
            reason = "no transaction set was accepted (see the 999)"
            if any(group.refused for group in interchange.groups):
                reason = "the functional group was rejected (see the 999)"
            outputs[_summary_name(file_id)] = failed_file_summary(
                file_id, user, path.name, now, reason
            )
        forwarded = rules.forward_test_files or not _is_test(interchange, path)
        answered: list[tuple[TransactionSet, list[Outcome]]] = []
        for group in interchange.groups:
            for txn in group.accepted_transactions:
                txn_outcomes = [
                    adjudicate(c, rules, file_id, forwarded=forwarded) for c in txn.claims
                ]
                if txn_outcomes:
                    answered.append((txn, txn_outcomes))
        outcomes = [o for _, txn_outcomes in answered for o in txn_outcomes]
        later = None
        if answered:
            clearinghouse = [
                ClaimAcknowledgments(txn, CLEARINGHOUSE, tuple(found)) for txn, found in answered
            ]
            outputs[f"{file_id}_277CA_{stamp}.277"] = claim_acknowledgment_277ca(
                _with_control(env, control + 1), file_id, clearinghouse, sender
            )
            payers = _payer_acknowledgments(answered, rules)
            if payers:
                outputs[f"{file_id}_PAYER_277CA_{stamp}.277"] = claim_acknowledgment_277ca(
                    _with_control(env, control + 2), file_id, payers, sender
                )
            report = edi_status_report(file_id, answered, now)
            if report is not None:
                outputs[f"{file_id}_EDI_STATUS_{stamp}.txt"] = report
            remits = _payer_remits([(o, o.remit) for o in outcomes if o.remit is not None], rules)
            if remits:
                outputs[f"{file_id}_ERA_835_5010_{stamp}.835"] = remittance_835(
                    _with_control(env, control + 3), file_id, remits, sender
                )
            reversals = _payer_remits([(o, r) for o in outcomes for r in o.later], rules)
            later = (env, sender, reversals) if reversals else None
        log.info(
            "file %s (%s): %d claim(s), %d accepted, %d response file(s)",
            file_id,
            path.name,
            len(outcomes),
            sum(1 for o in outcomes if o.accepted),
            len(outputs),
        )
        return outputs, later

    def _publish(self, user: str, outputs: dict[str, bytes]) -> list[Path] | None:
        """Put each response into outbound under its name, never replacing a file there.

        Each is written in staging and hard-linked to its final name (a link
        fails if the name exists). If one name is taken, the files of this set
        already linked are taken back and ``None`` says so.
        """
        outbound = self._outbound_for(user)
        written: list[Path] = []
        for name, data in outputs.items():
            fd, staged_name = tempfile.mkstemp(dir=self._staging, prefix=f".{name}.")
            staged = Path(staged_name)
            try:
                with os.fdopen(fd, "wb") as stream:
                    stream.write(data)
                os.link(staged, outbound / name)  # never replaces, unlike rename
            except FileExistsError:
                for path in written:
                    path.unlink(missing_ok=True)
                return None
            finally:
                staged.unlink()
            written.append(outbound / name)
        return written


def _summary_name(file_id: str) -> str:
    """Office Ally's File Summary of a professional (HCFA) claim file."""
    return f"FS_HCFA_{file_id}_IN_C.txt"


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


def _payer_remits(
    payments: list[tuple[Outcome, Remit]], rules: ProcessingRules
) -> list[PayerRemit]:
    """Payments grouped by 835 payer ID and billing provider, in file order."""
    groups: dict[tuple[str, str], list[tuple[Outcome, Remit]]] = {}
    names: dict[str, str] = {}
    for outcome, remit in payments:
        payer = rules.payers.get(outcome.claim.payer_id)
        remit_id = payer.remit_id if payer is not None else outcome.claim.payer_id
        names[remit_id] = payer.name if payer is not None else outcome.claim.payer_name
        groups.setdefault((remit_id, outcome.claim.billing_npi), []).append((outcome, remit))
    return [PayerRemit(pid, names[pid], tuple(group)) for (pid, _), group in groups.items()]


def _payer_acknowledgments(
    answered: list[tuple[TransactionSet, list[Outcome]]], rules: ProcessingRules
) -> list[ClaimAcknowledgments]:
    """The payers' 277CAs: per 837 transaction set and payer, the claims the payer received."""
    sets = []
    for txn, outcomes in answered:
        by_payer: dict[str, list[Outcome]] = {}
        for outcome in outcomes:
            if outcome.payer is not None:
                by_payer.setdefault(outcome.claim.payer_id, []).append(outcome)
        for payer_id, received in by_payer.items():
            payer = rules.payers.get(payer_id)
            name = payer.name if payer is not None else received[0].claim.payer_name
            sets.append(ClaimAcknowledgments(txn, payer_source(payer_id, name), tuple(received)))
    return sets


def _file_ids(folders: list[Path]) -> set[int]:
    """The FileIDs named by the files in ``folders`` (see :data:`FILE_ID`)."""
    found = set()
    for folder in folders:
        try:
            names = [entry.name for entry in folder.iterdir()]
        except OSError:
            continue
        for name in names:
            match = FILE_ID.match(name)
            if match:
                found.add(int(match.group(1)))
    return found


def _highest_control_number(folders: list[Path]) -> int:
    """The highest ISA13 among the X12 responses in ``folders`` (0 when none)."""
    highest = 0
    for folder in folders:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not FILE_ID.match(entry.name):
                continue
            try:
                with entry.open("rb") as stream:
                    head = stream.read(ISA_LENGTH)
            except OSError:
                continue
            if head.startswith(b"ISA") and len(head) == ISA_LENGTH:
                control = head[3:].split(head[3:4])[13]  # ISA13, split at ISA's own separator
                if control.isdigit():
                    highest = max(highest, int(control))
    return highest


def _after_file_id(file_id: int) -> int:
    """The next FileID: 9 or 10 digits, wrapping from 9999999999 to 100000000."""
    return file_id + 1 if file_id + 1 < 10**10 else 10**8


def _after_control(control: int) -> int:
    return control + 1 if control + 1 < 10**9 else 1
