"""Alerts: after each ``fetch`` of an account, one digest per notifier of what is new.

What is new comes from the ledger, not from callbacks threaded through the
pipeline: each account keeps a cursor over the claim events and audit
entries already told. Collecting moves the cursor and stores the digests in
one transaction; delivering happens after, outside it. A digest a notifier
could not take stays in the ledger and is sent again by the next ``fetch``
(at least once: a receiver drops a digest id it has had), folded with any
newer ones for the same notifier into one delivery; a notifier that failed
is not tried again in the same run. Nothing here stops
a fetch or changes its exit code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from claimferry.aging import AWAITING, FINAL, overdue_reason, replaced_submissions
from claimferry.config import Account, Config
from claimferry.credentials import read_private_file
from claimferry.database import Connection
from claimferry.errors import ClaimferryError, CredentialError, safe_message
from claimferry.ledger import LOGIN_REFUSED, REJECTIONS, ClaimState, Ledger
from claimferry.manager import PluginManager
from claimferry.types import Alert, AlertKind, Digest

ONBOARDING_COMPLETE = "onboarding-complete"
"""The audit action that says a clinic finished onboarding; it becomes an alert."""
UPLOAD_UNCERTAIN = "upload-uncertain"
ALERT_SENT = "alert-sent"
ALERT_FAILED = "alert-failed"
ALERT_DROPPED = "alert-dropped"
LEASE_SECONDS = 600.0
"""A digest being sent is not sent by another run for this long (one run, one sender)."""
FOLD_AT_MOST = 100
"""Pending digests of one account for one notifier sent as one delivery in a run; the
rest of a longer backlog goes in the next runs."""

_AUDIT_KINDS = {
    UPLOAD_UNCERTAIN: AlertKind.BATCH_UNCERTAIN,
    LOGIN_REFUSED: AlertKind.LOGIN_ON_HOLD,
    ONBOARDING_COMPLETE: AlertKind.ONBOARDING_COMPLETE,
}
_CODES = (
    re.compile(r"\b[A-Z]\d{1,2}:\d{1,5}\b"),  # 277CA STC01: category:status
    re.compile(r"\b(?:CO|PR|OA|PI|CR)-[A-Z0-9]{1,5}\b"),  # 835 CAS group-reason
    re.compile(r"\b(?:MA|M|N)\d{1,3}(?=:)"),  # 835 remark codes (RARC)
    re.compile(r"\b(?:IK5|AK9|TA1) \w{1,3}\b"),  # 999/TA1 syntax and note codes
)
_IK4 = re.compile(r"\(code (\w{1,3})\)")
_OFFICE_ALLY = re.compile(r"Office Ally EDI status: payer (\S+) (\w+)")

Report = Callable[[str], None]


def codes_in(detail: str | None) -> tuple[str, ...]:
    """The X12 and clearinghouse codes in an answer's detail, in order, once each.

    Only codes: the detail's free text (a 277CA's STC12, a report's comment)
    may hold PHI and goes out only when a notifier asks for details.
    """
    if not detail:
        return ()
    found: list[tuple[int, str]] = []
    for pattern in _CODES:
        found += [(m.start(), m.group(0)) for m in pattern.finditer(detail)]
    found += [(m.start(), f"IK4 {m.group(1)}") for m in _IK4.finditer(detail)]
    found += [
        (m.start(), f"payer {m.group(1)} {m.group(2)}") for m in _OFFICE_ALLY.finditer(detail)
    ]
    return tuple(dict.fromkeys(code for _, code in sorted(found)))


def read_secret(settings: Mapping[str, Any], name: str, where: str) -> str | None:
    """A notifier's secret from ``<name>_var`` (an environment variable) or
    ``<name>_file`` (a 0600 file); ``None`` when neither is set.

    Errors name the setting, never the value.
    """
    variable, path = settings.get(f"{name}_var"), settings.get(f"{name}_file")
    if variable:
        value = os.environ.get(str(variable))
        if not value:
            raise CredentialError(
                f"{where}: the environment variable that {name}_var names is not set"
            )
        return value
    if path:
        text = read_private_file(Path(str(path)).expanduser(), f"{where} {name} file")
        value = text.strip()
        if not value:
            raise CredentialError(f"{where}: the {name} file {path} is empty")
        return value
    return None


# -- collecting ----------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def collect(ledger: Ledger, config: Config, account: Account, now: datetime) -> int:
    """Turn what the ledger recorded since the last run into stored digests.

    One digest per notifier the account's ``alerts:`` names (if it has news
    for it). Returns how many digests were stored. The cursor moves even for
    an account without alerts, so turning alerts on later does not send its
    history.
    """
    with ledger.transaction() as db:
        cursor = db.execute(
            "SELECT claim_event, audit FROM alert_cursors WHERE account = ?", (account.name,)
        ).fetchone()
        after_event, after_audit = (cursor[0], cursor[1]) if cursor is not None else (0, 0)
        last_event = _max_id(db, "claim_events", after_event)
        last_audit = _max_id(db, "audit", after_audit)
        # the news since the cursor goes nowhere without alerts: not read then
        news = (
            [
                *_claim_alerts(db, account.name, after_event, last_event),
                *_audit_alerts(db, account.name, after_audit, last_audit),
            ]
            if account.alerts
            else []
        )
        alerts = [*news, *_overdue_alerts(ledger, account, now)]
        db.execute(
            "INSERT INTO alert_cursors (account, claim_event, audit) VALUES (?, ?, ?) "
            "ON CONFLICT (account) DO UPDATE SET claim_event = excluded.claim_event, "
            "audit = excluded.audit",
            (account.name, last_event, last_audit),
        )
        stored = 0
        for name, events in account.alerts.items():
            details = config.notifiers[name].include_details
            chosen = tuple(
                a if details else replace(a, detail=None) for a in alerts if a.kind in events
            )
            if not chosen:
                continue
            digest = Digest(uuid.uuid4().hex, account.name, now.isoformat("T", "seconds"), chosen)
            db.execute(
                "INSERT INTO alert_digests (digest_id, account, notifier, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (digest.id, account.name, name, json.dumps(digest.to_dict()), _now()),
            )
            stored += 1
    return stored


def _max_id(db: Connection, table: str, floor: int) -> int:
    row = db.execute(f"SELECT MAX(id) FROM {table}").fetchone()  # noqa: S608 (a table name)
    return max(floor, int(row[0] or 0))


def _claim_alerts(db: Connection, account: str, after: int, upto: int) -> list[Alert]:
    """Rejections and denials recorded since ``after``, one alert per claim and kind,
    for claims that still stand so (a later acceptance outranks an early rejection)."""
    rows = db.execute(
        "SELECT e.id, e.state, e.detail, e.source_file, e.at, c.claim_id, c.batch_id, "
        "c.state AS now, (SELECT r.kind FROM response_files r WHERE r.account = c.account "
        "AND r.remote_name = e.source_file ORDER BY r.id DESC LIMIT 1) AS kind "
        "FROM claim_events e JOIN claims c ON c.id = e.claim_row "
        "WHERE c.account = ? AND e.id > ? AND e.id <= ? AND e.state IN (?, ?, ?) "
        "ORDER BY e.id",
        (account, after, upto, *REJECTIONS, ClaimState.DENIED),
    ).fetchall()
    merged: dict[tuple[str, AlertKind], Alert] = {}
    for r in rows:
        state = ClaimState(r["state"])
        current = ClaimState(r["now"])
        if state is ClaimState.DENIED:
            kind, still = AlertKind.CLAIM_DENIED, current is ClaimState.DENIED
        else:
            kind, still = AlertKind.CLAIM_REJECTED, current in REJECTIONS
        if not still:
            continue
        source = r["kind"] or _source_of(r["detail"])
        key = (r["claim_id"], kind)
        earlier = merged.get(key)
        codes = codes_in(r["detail"])
        if earlier is not None:
            sources = ", ".join(dict.fromkeys(filter(None, (earlier.source, source))))
            details = "; ".join(filter(None, (earlier.detail, r["detail"])))
            codes = tuple(dict.fromkeys((*earlier.codes, *codes)))
            source, detail = sources or None, details or None
        else:
            detail = r["detail"]
        merged[key] = Alert(
            kind,
            account,
            r["at"],
            r["claim_id"],
            r["batch_id"],
            current.value,
            source,
            codes,
            detail,
        )
    return list(merged.values())


def _source_of(detail: str | None) -> str | None:
    """What said it, from the detail's first word (``999``, ``277CA``, ``835``)."""
    word = (detail or "").split(" ", 1)[0]
    return word if word in ("999", "277CA", "835") else None


def _audit_alerts(db: Connection, account: str, after: int, upto: int) -> list[Alert]:
    rows = db.execute(
        "SELECT a.at, a.action, a.detail, a.file_name, (SELECT b.id FROM batches b "
        "WHERE b.account = a.account AND b.file_name = a.file_name) AS batch "
        "FROM audit a WHERE a.account = ? AND a.id > ? AND a.id <= ? "
        "AND a.action IN (?, ?, ?) ORDER BY a.id",
        (account, after, upto, *_AUDIT_KINDS),
    ).fetchall()
    return [
        Alert(
            _AUDIT_KINDS[r["action"]],
            account,
            r["at"],
            batch_id=r["batch"],
            state="uncertain" if r["action"] == UPLOAD_UNCERTAIN else None,
            source="sftp" if r["action"] != ONBOARDING_COMPLETE else "onboarding",
            detail=r["detail"],
        )
        for r in rows
    ]


def _overdue_alerts(ledger: Ledger, account: Account, now: datetime) -> list[Alert]:
    """Claims overdue now by the rules ``status --overdue`` uses, each told once.

    SQL keeps only claims old enough to be overdue (ISO times in UTC compare
    as text), so a fetch does not read every open claim of a large account.
    """
    hours, days = account.overdue_after_hours, account.overdue_after_days
    finals, awaiting = sorted(FINAL), sorted(AWAITING)
    candidates = ledger.db.execute(
        "SELECT c.id FROM claims c LEFT JOIN batches b ON b.id = c.batch_id "  # noqa: S608
        f"WHERE c.account = ? AND c.state NOT IN ({','.join('?' * len(finals))}) "
        "AND c.id NOT IN (SELECT claim_row FROM alerted_overdue) "
        f"AND ((c.state IN ({','.join('?' * len(awaiting))}) AND c.updated_at < ?) "
        "OR b.created_at < ?)",
        (
            account.name,
            *finals,
            *awaiting,
            (now - timedelta(hours=hours)).isoformat(timespec="seconds"),
            (now - timedelta(days=days)).isoformat(timespec="seconds"),
        ),
    ).fetchall()
    if not candidates:
        return []
    batches = {b.id: b for b in ledger.batches(account.name)}
    records = ledger.claims(account=account.name)
    superseded = replaced_submissions(records, batches)
    by_row = {r.row: r for r in records}
    alerts = []
    for (row,) in candidates:
        record = by_row[row]
        batch = batches.get(record.batch_id) if record.batch_id is not None else None
        sent_at = datetime.fromisoformat(batch.created_at) if batch is not None else None
        why = None if row in superseded else overdue_reason(record, sent_at, (hours, days), now)
        if why is None:
            continue
        ledger.db.execute(
            "INSERT INTO alerted_overdue (claim_row, at) VALUES (?, ?)", (row, _now())
        )
        alerts.append(
            Alert(
                AlertKind.CLAIMS_OVERDUE,
                account.name,
                now.isoformat(timespec="seconds"),
                record.claim_id,
                record.batch_id,
                record.state.value,
                "status",
                detail=why,
            )
        )
    return alerts


# -- delivering ----------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What became of one stored digest in this run."""

    notifier: str
    digest: str
    alerts: int
    delivered: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "notifier": self.notifier,
            "digest": self.digest,
            "alerts": self.alerts,
            "delivered": self.delivered,
            "error": self.error,
        }


def deliver(
    pm: PluginManager,
    ledger: Ledger,
    config: Config,
    account: str,
    report: Report,
    failing: set[str] | None = None,
) -> list[Delivery]:
    """Send the account's undelivered digests, one delivery per notifier; failures are kept.

    The pending digests for one notifier (up to ``FOLD_AT_MOST``) go as one
    delivery, so a backlog left by an outage costs one send, not one per
    fetch missed. ``failing`` holds the notifiers that failed earlier in this
    run (shared across the accounts of ``fetch --all``): they are not tried
    again until the next run, so an unreachable destination costs one
    timeout per run, not one per account.
    """
    failing = set() if failing is None else failing
    pending = ledger.db.execute(
        "SELECT id, digest_id, notifier, payload FROM alert_digests "
        "WHERE account = ? AND delivered_at IS NULL ORDER BY id",
        (account,),
    ).fetchall()
    by_notifier: dict[str, list[sqlite3.Row]] = {}
    for row in pending:
        by_notifier.setdefault(row["notifier"], []).append(row)
    done = []
    for name, rows in by_notifier.items():
        if name in failing:
            why = f"not tried: {name} failed earlier in this run; kept for the next fetch"
            done += [
                Delivery(name, r["digest_id"], len(json.loads(r["payload"])["alerts"]), False, why)
                for r in rows
            ]
            continue
        taken = [r for r in rows[:FOLD_AT_MOST] if _lease(ledger, r["id"])]  # others: another run
        if taken:
            done.append(_deliver_one(pm, ledger, config, account, name, taken, failing, report))
    return done


def _deliver_one(
    pm: PluginManager,
    ledger: Ledger,
    config: Config,
    account: str,
    name: str,
    rows: list[sqlite3.Row],
    failing: set[str],
    report: Report,
) -> Delivery:
    """Send the leased digests ``rows`` of one notifier as one digest, and record the outcome."""
    digest = _folded([Digest.from_dict(json.loads(r["payload"])) for r in rows])
    ids = [r["id"] for r in rows]
    told = digest.id if len(rows) == 1 else f"{digest.id} (folded from {len(rows)} digests)"
    destination = config.notifiers.get(name)
    if destination is None:
        _finish(ledger, ids, delivered=True)
        reason = f"notifier {name} is no longer in the config; digest {told} dropped"
        ledger.audit(ALERT_DROPPED, account=account, detail=reason)
        report(f"{account}: alert {reason}")
        return Delivery(name, digest.id, len(digest.alerts), False, reason)
    try:
        pm.get_notifier(destination.type).send(digest, destination.settings)
    except Exception as exc:  # any notifier's failure is kept and retried, never fatal
        error = str(exc) if isinstance(exc, ClaimferryError) else f"{exc.__class__.__name__}: {exc}"
        failing.add(name)
        _finish(ledger, ids, delivered=False, error=error)
        ledger.audit(
            ALERT_FAILED,
            account=account,
            detail=f"{name} ({destination.type}): digest {told}: {error}",
        )
        report(f"{account}: alert digest to {name} not delivered, kept for the next fetch: {error}")
        return Delivery(name, digest.id, len(digest.alerts), False, error)
    _finish(ledger, ids, delivered=True)
    ledger.audit(
        ALERT_SENT,
        account=account,
        detail=f"{name} ({destination.type}): digest {told}, {len(digest.alerts)} alert(s)",
    )
    return Delivery(name, digest.id, len(digest.alerts), True)


def _folded(digests: list[Digest]) -> Digest:
    """One digest of several, oldest alerts first. Its id is derived from theirs, so
    the same backlog retried keeps its id (a receiver drops the repeat), and a single
    digest keeps its own."""
    if len(digests) == 1:
        return digests[0]
    joined = ",".join(d.id for d in digests).encode("ascii")
    return Digest(
        hashlib.sha256(joined).hexdigest()[:32],
        digests[0].account,
        digests[-1].created_at,
        tuple(alert for d in digests for alert in d.alerts),
    )


def _lease(ledger: Ledger, digest_row: int) -> bool:
    now = time.time()
    with ledger.transaction(shared=True) as db:  # one row, taken or not by this statement
        taken = db.execute(
            "UPDATE alert_digests SET leased_until = ?, attempts = attempts + 1 "
            "WHERE id = ? AND delivered_at IS NULL AND (leased_until IS NULL OR leased_until < ?)",
            (now + LEASE_SECONDS, digest_row, now),
        ).rowcount
    return bool(taken)


def _finish(
    ledger: Ledger, digest_rows: list[int], *, delivered: bool, error: str | None = None
) -> None:
    with ledger.transaction(shared=True) as db:  # rows this run leased
        db.executemany(
            "UPDATE alert_digests SET leased_until = NULL, last_error = ?, delivered_at = ? "
            "WHERE id = ?",
            [(error, _now() if delivered else None, row) for row in digest_rows],
        )


def collect_after_fetch(ledger: Ledger, config: Config, account: Account, report: Report) -> None:
    """The alert pass's first half, which ``fetch_account`` runs under the sender
    lock: collect what the fetch (and anything before it) recorded.

    Never raises (an interrupt aside): alerts must not stop or fail a fetch.
    What went wrong is reported; the next fetch collects it.
    """
    try:
        collect(ledger, config, account, datetime.now(UTC))
    except Exception as exc:
        why = safe_message(exc)
        report(f"{account.name}: alerts not collected, tried again at the next fetch: {why}")


def deliver_after_fetch(
    pm: PluginManager,
    ledger: Ledger,
    config: Config,
    account: Account,
    report: Report,
    failing: set[str] | None = None,
) -> list[Delivery]:
    """The alert pass's second half, after the sender lock is given back (a slow
    notifier must not hold up the sender's next run): send every digest due.

    Never raises, as ``collect_after_fetch``; a digest not sent is kept for the
    next run. ``failing``: the notifiers that failed earlier in this run (see
    ``deliver``).
    """
    try:
        return deliver(pm, ledger, config, account.name, report, failing)
    except Exception as exc:
        why = safe_message(exc)
        report(f"{account.name}: alerts not sent, tried again at the next fetch: {why}")
        return []
