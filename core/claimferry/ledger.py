"""The ledger: one SQLite file (WAL) in the state directory.

It owns control numbers, batches, each claim's state history, the response
files already fetched, and the append-only audit trail. It stores no PHI:
claims are known by their id, payer, charge and a hash of their content.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from claimferry.database import (
    Connection,
    DatabaseError,
    RecordLocks,
    connect_database,
    insert_rows,
    inserted_id,
    is_database_url,
    migrate_schema,
    next_ids,
    schema_version,
    select_in,
    state_database,
    table_names,
    write_transaction,
)
from claimferry.errors import ClaimferryError
from claimferry.postgres import AdvisoryLocks, PostgresConnection, has_schema, redacted
from claimferry.storage import (
    ARCHIVE,
    SENT,
    Archive,
    ArchiveStorage,
    atomic_write,
    interchange_header,
    sent_files,
)

LEDGER_FILE = "ledger.sqlite3"
LEDGER_MARK = ".ledger-id"
"""In the archive folder: the id of the ledger that wrote it."""
REQUIRE_LEDGER_ENV = "CLAIMFERRY_REQUIRE_LEDGER"
"""``1``: never start a new ledger without ``--init`` (for cron jobs and servers)."""
KNOWN_STATE_DIRS = "state-directories"
"""In the default state directory: every state directory this user's claimferry
sent from (``submit``, ``build``), one per line, so that a new ledger can see
a sender's files sent from another."""
MAX_CONTROL_NUMBER = 999_999_999
SENDER_LOCK_BYTES = 1 << 40
"""Where sender locks live in the ledger file: far past SQLite's own lock
bytes (at 1 GiB) and past any real ledger's size; locks need no data there."""


class BatchState(StrEnum):
    BUILT = "built"
    """Recorded, not yet sent: the file is in the archive."""
    UPLOADING = "uploading"
    """An upload started; a crash here is resolved by checking the remote side."""
    UPLOADED = "uploaded"
    FAILED = "failed"
    """Abandoned by an operator: never delivered, its claims may be sent again."""
    UNCERTAIN = "uncertain"
    """Interrupted after the upload began, and not found on the server: the
    clearinghouse may have taken it. Never sent again without an operator."""


class ClaimState(StrEnum):
    """Where a claim stands; docs/lifecycle.md gives each state's TR3 reasoning.

    The adjudicated states come from what the payer did (CLP02 with the paid
    amount and the CAS groups), never from a code's name: CLP02 1 means
    "processed as primary", which can be a denial.
    """

    BUILT = "built"
    UPLOADED = "uploaded"
    ACCEPTED = "accepted"
    """The 999 accepted its transaction set (IK5 A, or E: accepted with errors noted)."""
    REJECTED = "rejected"
    """The clearinghouse refused it: a TA1 or 999 rejection of its file or group, its
    own 277CA, or its File Summary of a failed file."""
    CLEARINGHOUSE_ACCEPTED = "clearinghouse_accepted"
    """The clearinghouse's own 277CA (2100A NM1*AY) accepted it and sent it on."""
    ACKNOWLEDGED = "acknowledged"
    """The payer's 277CA accepted it into adjudication."""
    PAYER_REJECTED = "payer_rejected"
    PAID = "paid"
    """Adjudicated with money paid (CLP04 > 0), in full or in part."""
    PATIENT_RESPONSIBILITY = "patient_responsibility"
    """Adjudicated, nothing paid, the amount put on the patient (PR: deductible,
    coinsurance, co-payment): bill the patient."""
    DENIED = "denied"
    """Adjudicated, nothing paid and nothing on the patient (CO/OA/PI only), or
    CLP02 4 (the payer does not know the patient): correct or appeal."""
    REVERSED = "reversed"
    """CLP02 22: the payer took back its earlier decision and payment; its
    correction has not come yet."""
    FORWARDED = "forwarded"
    """CLP02 19/20/21: processed and sent on to the next payer (crossover, NM1*TT)."""
    NOT_OUR_CLAIM = "not_our_claim"
    """CLP02 23: the payer says it is not its claim (forwarded, if NM1*TT names where)."""
    PREDETERMINATION = "predetermination"
    """CLP02 25: pricing only, no payment: nothing was adjudicated for payment."""
    FAILED = "failed"
    """Its batch was never delivered."""
    UNKNOWN = "unknown"
    """Seen in a response, but never sent from this ledger."""


ADJUDICATED = frozenset(
    {
        ClaimState.PAID,
        ClaimState.PATIENT_RESPONSIBILITY,
        ClaimState.DENIED,
        ClaimState.REVERSED,
        ClaimState.FORWARDED,
        ClaimState.NOT_OUR_CLAIM,
        ClaimState.PREDETERMINATION,
    }
)
"""States an 835 sets. Among them the latest remittance read wins: a reversal
and its correction follow the payment they change."""

_RANK = {
    ClaimState.UNKNOWN: -1,
    ClaimState.BUILT: 0,
    ClaimState.FAILED: 0,
    ClaimState.UPLOADED: 1,
    ClaimState.ACCEPTED: 2,
    ClaimState.REJECTED: 2,
    ClaimState.CLEARINGHOUSE_ACCEPTED: 2,
    ClaimState.ACKNOWLEDGED: 4,
    ClaimState.PAYER_REJECTED: 4,
    **dict.fromkeys(ADJUDICATED, 5),
}
"""How far along its lifecycle a state is. A late 999 arriving after the 277CA
is recorded in the history but does not move the claim back. The clearinghouse's
answers (its TA1, 999, own 277CA and reports) are one step, so any rejection
among them stands over its acceptances."""

_LAST_USED_BY_SENDER = """
    WITH sender(name) AS (
        SELECT :account
        UNION
        SELECT other.name FROM accounts this JOIN accounts other
            ON other.clearinghouse = this.clearinghouse
            AND other.submitter_id = this.submitter_id
        WHERE this.name = :account
    )
    SELECT COALESCE(MAX(used), 0) FROM (
        SELECT last AS used FROM control_numbers WHERE account IN (SELECT name FROM sender)
        UNION ALL
        SELECT isa13 FROM batches WHERE account IN (SELECT name FROM sender)
    ) AS numbers
"""
"""The highest control number the account's sender (clearinghouse and
submitter ID, whatever the account's name) has used."""

LOGIN_REFUSED = "login-refused"
LOGIN_OK = "login-ok"
"""Audit actions; the latest of the two says whether logins are on hold."""
CREDENTIALS_USED = "credentials-used"
CREDENTIALS_STORED = "credentials-stored"
CREDENTIALS_REMOVED = "credentials-removed"
MASTER_KEY_ROTATED = "master-key-rotated"
MASTER_KEY_FORGOTTEN = "master-key-forgotten"
"""Audit actions of secrets: each use, and each change to the credential store."""

REJECTIONS = frozenset({ClaimState.REJECTED, ClaimState.PAYER_REJECTED})
"""Refused by the clearinghouse or the payer's front end: never adjudicated."""


_STATE_OF = {str(state): state for state in ClaimState}
"""A stored state to its ClaimState: a lookup costs a tenth of calling the enum,
once per claim of a large ERA."""


def _moves_to(current: ClaimState, state: ClaimState) -> bool:
    """Whether an answer moves a claim on. At the same step a rejection stands:
    Office Ally's report can reject a claim whose 999 accepted it, in either
    order, and nothing may fall through to success."""
    if _RANK[state] != _RANK[current]:
        return _RANK[state] > _RANK[current]
    return state in REJECTIONS or current not in REJECTIONS


_MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        clearinghouse TEXT NOT NULL,
        submitter_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE control_numbers (
        account TEXT PRIMARY KEY REFERENCES accounts(name),
        last INTEGER NOT NULL
    );
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(name),
        file_name TEXT NOT NULL,
        archive_path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        isa13 INTEGER NOT NULL,
        gs06 INTEGER NOT NULL,
        st02 INTEGER NOT NULL,
        test INTEGER NOT NULL,
        state TEXT NOT NULL,
        remote_name TEXT,
        host_fingerprint TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (account, isa13),
        UNIQUE (account, file_name)
    );
    CREATE TABLE claims (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        batch_id INTEGER REFERENCES batches(id),
        payer_id TEXT,
        charge TEXT,
        content_sha256 TEXT,
        frequency TEXT,
        payer_claim_number TEXT,
        state TEXT NOT NULL,
        detail TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX claims_by_id ON claims (account, claim_id);
    CREATE INDEX claims_by_batch ON claims (batch_id);
    CREATE TABLE claim_events (
        id INTEGER PRIMARY KEY,
        claim_row INTEGER NOT NULL REFERENCES claims(id),
        state TEXT NOT NULL,
        detail TEXT,
        amount TEXT,
        source_file TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX events_by_claim ON claim_events (claim_row);
    CREATE TABLE response_files (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        remote_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        archive_path TEXT NOT NULL,
        kind TEXT,
        parsed INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        fetched_at TEXT NOT NULL,
        UNIQUE (account, remote_name, sha256)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        account TEXT,
        action TEXT NOT NULL,
        host_fingerprint TEXT,
        file_name TEXT,
        size INTEGER,
        sha256 TEXT,
        detail TEXT
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    """,
    # 2: per-account payer enrollment (EDI claims and ERA), with history
    """
    CREATE TABLE enrollments (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        npi TEXT NOT NULL,
        tax_id TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        transaction_type TEXT NOT NULL CHECK (transaction_type IN ('837P', '835')),
        status TEXT NOT NULL
            CHECK (status IN ('not-started', 'submitted', 'approved', 'rejected')),
        submitted_on TEXT,
        decided_on TEXT,
        notes TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (account, npi, tax_id, payer_id, transaction_type)
    );
    CREATE TABLE enrollment_history (
        id INTEGER PRIMARY KEY,
        enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
        status TEXT NOT NULL,
        submitted_on TEXT,
        decided_on TEXT,
        notes TEXT,
        actor TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE INDEX enrollment_history_by_enrollment ON enrollment_history (enrollment_id);
    """,
    # 3: what the payers did, line by line (835s), and the lines we sent, to match them
    """
    -- earlier releases read 835s by CLP02's name: put their answers in today's states,
    -- from the detail they wrote ("835 <what>: paid <amount>; <CAS>...")
    UPDATE claims SET state = CASE
        WHEN detail LIKE '835 correction%' THEN 'paid'
        WHEN detail LIKE '835 processed as % forwarded%' THEN 'forwarded'
        WHEN detail LIKE '835 not our claim%' THEN 'not_our_claim'
        WHEN detail LIKE '835 predetermination%' THEN 'predetermination'
        ELSE 'reversed' END
    WHERE state = 'adjusted';
    UPDATE claim_events SET state = CASE
        WHEN detail LIKE '835 correction%' THEN 'paid'
        WHEN detail LIKE '835 processed as % forwarded%' THEN 'forwarded'
        WHEN detail LIKE '835 not our claim%' THEN 'not_our_claim'
        WHEN detail LIKE '835 predetermination%' THEN 'predetermination'
        ELSE 'reversed' END
    WHERE state = 'adjusted';
    UPDATE claims SET state = CASE WHEN detail LIKE '%; PR-%' THEN 'patient_responsibility'
        ELSE 'denied' END
    WHERE state = 'paid' AND detail LIKE '835 paid 0.00 of %';
    UPDATE claim_events SET state = CASE WHEN detail LIKE '%; PR-%' THEN 'patient_responsibility'
        ELSE 'denied' END
    WHERE state = 'paid' AND detail LIKE '835 paid 0.00 of %';
    CREATE INDEX claims_by_payer_claim_number ON claims (account, payer_claim_number);
    CREATE TABLE claim_lines (
        claim_row INTEGER NOT NULL REFERENCES claims(id),
        line_number INTEGER NOT NULL,
        control_number TEXT NOT NULL,
        procedure TEXT NOT NULL,
        charge TEXT NOT NULL,
        PRIMARY KEY (claim_row, line_number)
    );
    CREATE INDEX claim_lines_by_control_number ON claim_lines (control_number);
    CREATE TABLE remit_payments (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        source_file TEXT NOT NULL,
        transaction_control_number TEXT NOT NULL,
        trace_number TEXT NOT NULL,
        trace_originator TEXT NOT NULL,
        payer_name TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        payee_id TEXT NOT NULL,
        method TEXT NOT NULL,
        credit_debit TEXT NOT NULL,
        amount TEXT NOT NULL,
        payment_date TEXT,
        provider_adjustment_total TEXT NOT NULL DEFAULT '0',
        claim_count INTEGER NOT NULL DEFAULT 0,
        imbalance TEXT,
        recorded_at TEXT NOT NULL
    );
    -- one payment, however often it is delivered (an .835 and again in a zip, or
    -- re-sent in a new envelope): the payer's trace, amount and date name it
    CREATE UNIQUE INDEX remit_payments_once ON remit_payments
        (account, trace_originator, trace_number, amount, COALESCE(payment_date, ''));
    CREATE TABLE remit_claims (
        id INTEGER PRIMARY KEY,
        payment_id INTEGER NOT NULL REFERENCES remit_payments(id),
        claim_row INTEGER REFERENCES claims(id),
        patient_control_number TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        charge TEXT NOT NULL,
        paid TEXT NOT NULL,
        patient_responsibility TEXT NOT NULL,
        filing_code TEXT NOT NULL,
        payer_claim_number TEXT NOT NULL,
        crossover_payer TEXT,
        adjustments TEXT NOT NULL,
        remark_codes TEXT NOT NULL,
        segment_position INTEGER NOT NULL
    );
    CREATE INDEX remit_claims_by_claim ON remit_claims (claim_row);
    CREATE INDEX remit_claims_by_payment ON remit_claims (payment_id);
    CREATE TABLE remit_lines (
        id INTEGER PRIMARY KEY,
        remit_claim_id INTEGER NOT NULL REFERENCES remit_claims(id),
        line_number INTEGER NOT NULL,
        sent_line INTEGER,
        control_number TEXT NOT NULL,
        procedure TEXT NOT NULL,
        modifiers TEXT NOT NULL,
        charge TEXT NOT NULL,
        paid TEXT NOT NULL,
        allowed TEXT,
        units TEXT NOT NULL,
        service_from TEXT,
        service_to TEXT,
        adjustments TEXT NOT NULL,
        remark_codes TEXT NOT NULL
    );
    CREATE INDEX remit_lines_by_claim ON remit_lines (remit_claim_id);
    CREATE TABLE remit_provider_adjustments (
        id INTEGER PRIMARY KEY,
        payment_id INTEGER NOT NULL REFERENCES remit_payments(id),
        claim_row INTEGER REFERENCES claims(id),
        provider_id TEXT NOT NULL,
        fiscal_period_end TEXT,
        reason TEXT NOT NULL,
        reference TEXT NOT NULL,
        amount TEXT NOT NULL
    );
    CREATE INDEX remit_plb_by_payment ON remit_provider_adjustments (payment_id);
    CREATE INDEX remit_plb_by_claim ON remit_provider_adjustments (claim_row);
    """,
    # 4: who holds each sender's lock, the ledger's identity, response files' times
    """
    CREATE TABLE sender_locks (
        sender TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        command TEXT NOT NULL,
        since TEXT NOT NULL
    );
    CREATE TABLE ledger_identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        ledger_id TEXT NOT NULL,
        state_dir TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    ALTER TABLE response_files ADD COLUMN modified REAL;
    """,
    # 5: enrollment records can be deleted; the record and its history stay, marked
    """
    ALTER TABLE enrollments ADD COLUMN deleted_at TEXT;
    ALTER TABLE enrollment_history ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: alerts: how far each account's events were told, digests not yet delivered,
    # and the claims already alerted as overdue
    """
    CREATE TABLE alert_cursors (
        account TEXT PRIMARY KEY,
        claim_event INTEGER NOT NULL,
        audit INTEGER NOT NULL
    );
    -- accounts of an existing ledger start now: their history is not sent as news
    INSERT INTO alert_cursors (account, claim_event, audit)
        SELECT name, (SELECT COALESCE(MAX(id), 0) FROM claim_events),
            (SELECT COALESCE(MAX(id), 0) FROM audit)
        FROM accounts;
    CREATE TABLE alert_digests (
        id INTEGER PRIMARY KEY,
        digest_id TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        notifier TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        leased_until REAL,
        delivered_at TEXT
    );
    CREATE INDEX alert_digests_pending ON alert_digests (account, delivered_at);
    CREATE TABLE alerted_overdue (
        claim_row INTEGER PRIMARY KEY REFERENCES claims(id),
        at TEXT NOT NULL
    );
    """,
    # 7: the vendor's credential store (credstore.py): secrets sealed under a per-account data
    # key, the data key wrapped by a master key that is never stored here
    """
    CREATE TABLE stored_credentials (
        account TEXT PRIMARY KEY,
        wrapped_key BLOB NOT NULL,
        master_key_id TEXT NOT NULL,
        sealed BLOB NOT NULL,
        username_fingerprint TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL,
        rewrapped_at TEXT
    );
    """,
    # 8: secondary and tertiary claims built from a claim's remittance, by their own id
    """
    CREATE TABLE next_payer_claims (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        original_row INTEGER NOT NULL REFERENCES claims(id),
        claim_id TEXT NOT NULL,
        responsibility TEXT NOT NULL,
        built_at TEXT NOT NULL,
        UNIQUE (account, claim_id)
    );
    CREATE INDEX next_payer_claims_by_original ON next_payer_claims (original_row);
    """,
    # 9: onboarding reads each clinic's latest audit facts (logins, marks, promotion)
    """
    CREATE INDEX audit_by_account_action ON audit (account, action);
    """,
    # 10: the credential store's settings: the id of the one master key it takes, recorded
    # when a secret is first stored, so another key is refused even while the store is empty
    """
    CREATE TABLE credential_store_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 11: each account's last fetch that ended well, and its last failure, for the
    # operators watching thousands of accounts (``queue status``, the workers' metrics)
    """
    CREATE TABLE fetch_runs (
        account TEXT PRIMARY KEY,
        succeeded_at TEXT,
        failed_at TEXT,
        error TEXT
    );
    """,
    # 12: the archive in the state database (``archive: database``): every machine that
    # shares the database reads what was sent and received, with no shared directory
    """
    CREATE TABLE archive_files (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        direction TEXT NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL,
        stored_at TEXT NOT NULL,
        UNIQUE (account, direction, name)
    );
    """,
    # 13: an 835's production date (DTM*405), the remittance date a secondary claim
    # carries (DTP*573) when the payer left the payment date (BPR16) empty
    """
    ALTER TABLE remit_payments ADD COLUMN production_date TEXT;
    """,
]

_POSTGRES_MIGRATIONS: list[str] = [
    *[""] * 9,
    # 10: the schema SQLite's migrations 1-10 reach. A PostgreSQL ledger starts here;
    # each later migration adds its script to both lists.
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        clearinghouse TEXT NOT NULL,
        submitter_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE control_numbers (
        account TEXT PRIMARY KEY REFERENCES accounts(name),
        last INTEGER NOT NULL
    );
    CREATE TABLE batches (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(name),
        file_name TEXT NOT NULL,
        archive_path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        isa13 INTEGER NOT NULL,
        gs06 INTEGER NOT NULL,
        st02 INTEGER NOT NULL,
        test INTEGER NOT NULL,
        state TEXT NOT NULL,
        remote_name TEXT,
        host_fingerprint TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (account, isa13),
        UNIQUE (account, file_name)
    );
    CREATE TABLE claims (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        batch_id BIGINT REFERENCES batches(id),
        payer_id TEXT,
        charge TEXT,
        content_sha256 TEXT,
        frequency TEXT,
        payer_claim_number TEXT,
        state TEXT NOT NULL,
        detail TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX claims_by_id ON claims (account, claim_id);
    CREATE INDEX claims_by_batch ON claims (batch_id);
    CREATE TABLE claim_events (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        claim_row BIGINT NOT NULL REFERENCES claims(id),
        state TEXT NOT NULL,
        detail TEXT,
        amount TEXT,
        source_file TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX events_by_claim ON claim_events (claim_row);
    CREATE TABLE response_files (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        remote_name TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        archive_path TEXT NOT NULL,
        kind TEXT,
        parsed INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        fetched_at TEXT NOT NULL,
        modified DOUBLE PRECISION,
        UNIQUE (account, remote_name, sha256)
    );
    CREATE TABLE audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        account TEXT,
        action TEXT NOT NULL,
        host_fingerprint TEXT,
        file_name TEXT,
        size BIGINT,
        sha256 TEXT,
        detail TEXT
    );
    CREATE TABLE enrollments (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        npi TEXT NOT NULL,
        tax_id TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        transaction_type TEXT NOT NULL CHECK (transaction_type IN ('837P', '835')),
        status TEXT NOT NULL
        CHECK (status IN ('not-started', 'submitted', 'approved', 'rejected')),
        submitted_on TEXT,
        decided_on TEXT,
        notes TEXT,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        UNIQUE (account, npi, tax_id, payer_id, transaction_type)
    );
    CREATE TABLE enrollment_history (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        enrollment_id BIGINT NOT NULL REFERENCES enrollments(id),
        status TEXT NOT NULL,
        submitted_on TEXT,
        decided_on TEXT,
        notes TEXT,
        actor TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX enrollment_history_by_enrollment ON enrollment_history (enrollment_id);
    CREATE INDEX claims_by_payer_claim_number ON claims (account, payer_claim_number);
    CREATE TABLE claim_lines (
        claim_row BIGINT NOT NULL REFERENCES claims(id),
        line_number INTEGER NOT NULL,
        control_number TEXT NOT NULL,
        procedure TEXT NOT NULL,
        charge TEXT NOT NULL,
        PRIMARY KEY (claim_row, line_number)
    );
    CREATE INDEX claim_lines_by_control_number ON claim_lines (control_number);
    CREATE TABLE remit_payments (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        source_file TEXT NOT NULL,
        transaction_control_number TEXT NOT NULL,
        trace_number TEXT NOT NULL,
        trace_originator TEXT NOT NULL,
        payer_name TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        payee_id TEXT NOT NULL,
        method TEXT NOT NULL,
        credit_debit TEXT NOT NULL,
        amount TEXT NOT NULL,
        payment_date TEXT,
        provider_adjustment_total TEXT NOT NULL DEFAULT '0',
        claim_count INTEGER NOT NULL DEFAULT 0,
        imbalance TEXT,
        recorded_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX remit_payments_once ON remit_payments (
        account, trace_originator, trace_number, amount, COALESCE(payment_date, '')
    );
    CREATE TABLE remit_claims (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        payment_id BIGINT NOT NULL REFERENCES remit_payments(id),
        claim_row BIGINT REFERENCES claims(id),
        patient_control_number TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        charge TEXT NOT NULL,
        paid TEXT NOT NULL,
        patient_responsibility TEXT NOT NULL,
        filing_code TEXT NOT NULL,
        payer_claim_number TEXT NOT NULL,
        crossover_payer TEXT,
        adjustments TEXT NOT NULL,
        remark_codes TEXT NOT NULL,
        segment_position INTEGER NOT NULL
    );
    CREATE INDEX remit_claims_by_claim ON remit_claims (claim_row);
    CREATE INDEX remit_claims_by_payment ON remit_claims (payment_id);
    CREATE TABLE remit_lines (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        remit_claim_id BIGINT NOT NULL REFERENCES remit_claims(id),
        line_number INTEGER NOT NULL,
        sent_line BIGINT,
        control_number TEXT NOT NULL,
        procedure TEXT NOT NULL,
        modifiers TEXT NOT NULL,
        charge TEXT NOT NULL,
        paid TEXT NOT NULL,
        allowed TEXT,
        units TEXT NOT NULL,
        service_from TEXT,
        service_to TEXT,
        adjustments TEXT NOT NULL,
        remark_codes TEXT NOT NULL
    );
    CREATE INDEX remit_lines_by_claim ON remit_lines (remit_claim_id);
    CREATE TABLE remit_provider_adjustments (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        payment_id BIGINT NOT NULL REFERENCES remit_payments(id),
        claim_row BIGINT REFERENCES claims(id),
        provider_id TEXT NOT NULL,
        fiscal_period_end TEXT,
        reason TEXT NOT NULL,
        reference TEXT NOT NULL,
        amount TEXT NOT NULL
    );
    CREATE INDEX remit_plb_by_payment ON remit_provider_adjustments (payment_id);
    CREATE INDEX remit_plb_by_claim ON remit_provider_adjustments (claim_row);
    CREATE TABLE sender_locks (
        sender TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        command TEXT NOT NULL,
        since TEXT NOT NULL
    );
    CREATE TABLE ledger_identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        ledger_id TEXT NOT NULL,
        state_dir TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE alert_cursors (
        account TEXT PRIMARY KEY,
        claim_event BIGINT NOT NULL,
        audit BIGINT NOT NULL
    );
    CREATE TABLE alert_digests (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        digest_id TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        notifier TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        leased_until DOUBLE PRECISION,
        delivered_at TEXT
    );
    CREATE INDEX alert_digests_pending ON alert_digests (account, delivered_at);
    CREATE TABLE alerted_overdue (
        claim_row BIGINT PRIMARY KEY REFERENCES claims(id),
        at TEXT NOT NULL
    );
    CREATE TABLE stored_credentials (
        account TEXT PRIMARY KEY,
        wrapped_key BYTEA NOT NULL,
        master_key_id TEXT NOT NULL,
        sealed BYTEA NOT NULL,
        username_fingerprint TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL,
        rewrapped_at TEXT
    );
    CREATE TABLE next_payer_claims (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        original_row BIGINT NOT NULL REFERENCES claims(id),
        claim_id TEXT NOT NULL,
        responsibility TEXT NOT NULL,
        built_at TEXT NOT NULL,
        UNIQUE (account, claim_id)
    );
    CREATE INDEX next_payer_claims_by_original ON next_payer_claims (original_row);
    CREATE INDEX audit_by_account_action ON audit (account, action);
    CREATE TABLE credential_store_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit trail is append-only';
    END $$;
    CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    """,
    # 11: as SQLite's 11
    """
    CREATE TABLE fetch_runs (
        account TEXT PRIMARY KEY,
        succeeded_at TEXT,
        failed_at TEXT,
        error TEXT
    );
    """,
    # 12: as SQLite's 12
    """
    CREATE TABLE archive_files (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        direction TEXT NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        data BYTEA NOT NULL,
        stored_at TEXT NOT NULL,
        UNIQUE (account, direction, name)
    );
    """,
    # 13: as SQLite's 13
    """
    ALTER TABLE remit_payments ADD COLUMN production_date TEXT;
    """,
]
assert len(_POSTGRES_MIGRATIONS) == len(_MIGRATIONS)

LEDGER_TABLES = tuple(
    dict.fromkeys(
        name for script in _MIGRATIONS for name in re.findall(r"CREATE TABLE (\w+)", script)
    )
)
"""In the order they were created: a table's references come before it."""


def ledger_migrations(db: Connection) -> list[str]:
    """The migration scripts for this engine (both lists end at the same version)."""
    return _MIGRATIONS if isinstance(db, sqlite3.Connection) else _POSTGRES_MIGRATIONS


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FetchRun:
    """How an account's fetches last ended (ISO times, UTC)."""

    account: str
    succeeded_at: str | None
    failed_at: str | None
    error: str | None


@dataclass(frozen=True)
class Batch:
    id: int
    account: str
    file_name: str
    archive_path: str
    """The file's path, or its ``db:`` reference in the database's archive (storage.py)."""
    sha256: str
    size: int
    isa13: int
    gs06: int
    st02: int
    test: bool
    state: BatchState
    remote_name: str | None
    host_fingerprint: str | None
    error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ClaimRecord:
    """What the ledger keeps of a claim: no PHI, only what tracks its fate."""

    row: int
    account: str
    claim_id: str
    batch_id: int | None
    payer_id: str | None
    charge: Decimal | None
    content_sha256: str | None
    frequency: str | None
    payer_claim_number: str | None
    state: ClaimState
    detail: str | None
    updated_at: str


@dataclass(frozen=True)
class ClaimEvent:
    state: ClaimState
    detail: str | None
    amount: Decimal | None
    source_file: str | None
    at: str


@dataclass(frozen=True)
class SentLine:
    """A service line as sent: its line control number (REF*6R) matches the 835's."""

    control_number: str
    procedure: str
    charge: Decimal


@dataclass(frozen=True)
class NewClaim:
    claim_id: str
    payer_id: str
    charge: Decimal
    content_sha256: str
    frequency: str
    payer_claim_number: str | None
    lines: tuple[SentLine, ...] = ()


class Answer(NamedTuple):
    """What one response says of one claim (ledger row), for :meth:`Ledger.answer_claims`.

    A named tuple, not a frozen dataclass: an ERA makes one per claim, and a
    tuple is made in a third of the time.
    """

    row: int
    state: ClaimState
    detail: str | None
    amount: Decimal | None
    source_file: str | None
    payer_claim_number: str | None
    current: bool = True
    """False for an answer older than one the claim has (an ERA fetched late):
    it goes into the claim's history only."""


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    account: str | None
    action: str
    host_fingerprint: str | None
    file_name: str | None
    size: int | None
    sha256: str | None
    detail: str | None


class LedgerError(ClaimferryError):
    """The ledger cannot be opened or is in a state it cannot handle."""

    code = "ledger"


class SenderBusy(LedgerError):
    """Another run holds the lock of the account's sender."""

    code = "sender-busy"


class LedgerRefused(LedgerError):
    """The ledger does not belong to the archive beside it (empty, missing or foreign)."""

    code = "ledger-refused"


_RESTORE = (
    "Restore this state directory's ledger from a backup to {path}, or, to start a new "
    "ledger on purpose, run claimferry with --init (control numbers then continue above "
    "the archive's; claims the old ledger sent are not known to a new one)."
)


_log = logging.getLogger("claimferry.ledger")


def _known_state_dirs() -> Path:
    from claimferry.config import default_state_dir  # config (pydantic) only when needed

    return default_state_dir() / KNOWN_STATE_DIRS


def _remember_state_dir(state_dir: Path) -> None:
    """Add the state directory to the user's list, once. Best effort: a list
    that cannot be written only makes the new-ledger check see less."""
    known = _known_state_dirs()
    here = str(state_dir.resolve())
    try:
        if here in _read_lines(known):
            return
        known.parent.mkdir(parents=True, exist_ok=True)
        with known.open("a", encoding="utf-8") as handle:  # one short append: atomic
            handle.write(here + "\n")
    except OSError as exc:
        _log.debug("cannot record %s in %s: %s", here, known, exc)


def _read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []


def _refuse_lost_ledger(state_dir: Path, path: Path, database: str | None) -> None:
    """A ledger missing, empty or new next to an archive of sent files is refused:
    the ledger that sent them is elsewhere, and a new one would send them again."""
    sent = sum(1 for _ in sent_files(state_dir))
    if sent and database:
        raise LedgerRefused(
            f"the database {redacted(database)} holds no ledger, but the archive "
            f"{state_dir / ARCHIVE} holds {sent} sent file(s): the ledger that sent "
            "them is elsewhere. Check the config's database (or CLAIMFERRY_DATABASE) "
            "and state_dir; to move a SQLite ledger there, see `claimferry db copy`"
        )
    if sent:
        what = "is empty (0 bytes)" if path.is_file() else "is missing"
        raise LedgerRefused(
            f"the ledger {path} {what}, but the archive {state_dir / ARCHIVE} holds "
            f"{sent} sent file(s): the ledger that sent them is gone. " + _RESTORE.format(path=path)
        )


def _refuse_new_ledger(
    state_dir: Path, clearinghouse: str, submitter_id: str, *, empty: bool, where: str = ""
) -> None:
    """Before a new ledger is started to send for this sender: is one expected?

    ``empty``: the ledger is missing or has sent nothing at all, which
    ``CLAIMFERRY_REQUIRE_LEDGER=1`` forbids as it forbids a missing one.
    ``where`` names the ledger (a database) when it is not the state directory's file.
    """
    where = where or str(state_dir / LEDGER_FILE)
    if empty and os.environ.get(REQUIRE_LEDGER_ENV) == "1":
        raise LedgerRefused(
            f"there is no ledger {where} that has sent anything, and {REQUIRE_LEDGER_ENV}=1 "
            "forbids starting one: "
            "check the state directory (CLAIMFERRY_STATE_DIR or the config's state_dir; "
            "a relative one is relative to the config file). " + _RESTORE.format(path=where)
        )
    here = state_dir.resolve()
    for other in map(Path, _read_lines(_known_state_dirs())):
        if other == here:
            continue
        sent = _files_sent_for(other, clearinghouse, submitter_id)
        if sent:
            raise LedgerRefused(
                f"the ledger {where} has sent nothing for this sender, but {other} holds "
                f"{sent} file(s) sent for "
                f"{clearinghouse} submitter ID {submitter_id}: a new ledger here would not "
                "know what those sent, and would send claims again. Point "
                f"CLAIMFERRY_STATE_DIR or the config's state_dir at {other} (a relative "
                "state_dir is relative to the config file), or, to start a new ledger for "
                "this sender on purpose, run claimferry with --init"
            )


def ledger_location(state_dir: Path, database: str | None) -> tuple[Path, str | None]:
    """The ledger's SQLite file, and its PostgreSQL URL when it lives there instead.

    ``database`` is the config's; ``CLAIMFERRY_DATABASE`` wins over it. A
    ``sqlite:///`` one moves the file out of the state directory.
    """
    database = state_database(database)
    if database is None:
        return state_dir / LEDGER_FILE, None
    if not is_database_url(database):
        return Path(database.removeprefix("sqlite://")), None
    return state_dir / LEDGER_FILE, database


def ledger_exists(state_dir: Path, database: str | None = None) -> bool:
    """Whether there is a ledger yet (opening one creates it)."""
    path, url = ledger_location(state_dir, database)
    return has_schema(url, "ledger") if url else path.is_file()


def _files_sent_for(state_dir: Path, clearinghouse: str, submitter_id: str) -> int:
    """How many files the state directory's archive holds sent for this sender,
    going by its ledger's accounts (read only; an unreadable one counts none)."""
    path = state_dir / LEDGER_FILE
    if not path.is_file():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute(
                "SELECT name FROM accounts WHERE clearinghouse = ? AND upper(submitter_id) = ?",
                (clearinghouse, submitter_id.upper()),
            ).fetchall()
            names = [name for (name,) in rows]
            in_database = _sent_in_database(db, names)
        finally:
            db.close()
    except sqlite3.Error:
        return 0
    return in_database + sum(
        1
        for name in names
        for file in (state_dir / ARCHIVE / name / SENT).glob("*")
        if file.is_file() and not file.name.startswith(".")
    )


def _sent_in_database(db: sqlite3.Connection, accounts: Sequence[str]) -> int:
    """Files the ledger file's own archive (``archive: database``) holds sent for these
    accounts; none in a ledger from before that table."""
    if not accounts:
        return 0
    try:
        row = db.execute(
            "SELECT COUNT(*) FROM archive_files "  # noqa: S608 (placeholders only)
            f"WHERE direction = ? AND account IN ({', '.join('?' * len(accounts))})",
            (SENT, *accounts),
        ).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0])


class Ledger:
    """Access to the ledger (a SQLite file, or a PostgreSQL database); use as a
    context manager."""

    def __init__(
        self,
        path: Path,
        database: str | None = None,
        connection: Connection | None = None,
        *,
        state_dir: Path | None = None,
        archive: ArchiveStorage = "directory",
        version: int | None = None,
    ) -> None:
        """``path`` is the SQLite file; ``database``, a ``postgresql://`` URL, replaces it;
        ``connection``, one already open to it, is taken over. ``archive`` is the
        config's: where the files sent and received are kept (in ``state_dir``, by
        default the ledger file's folder, or in the database). ``version``: the
        schema version the caller just read on ``connection``."""
        self.path = path
        self.where = redacted(database) if database else str(path)
        self._db: Connection = connection or connect_database(database or path)
        try:
            migrate_schema(self._db, ledger_migrations(self._db), self.where, version=version)
            missing = set(LEDGER_TABLES) - table_names(self._db)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise LedgerError(f"{self.where}: cannot open the ledger ({exc})") from None
        except DatabaseError as exc:
            self._db.close()
            raise LedgerError(str(exc)) from None
        if missing:
            self._db.close()
            raise LedgerError(
                f"{self.where}: the ledger is damaged: table(s) {', '.join(sorted(missing))} "
                "missing. Restore it from a backup"
            )
        self._locks: RecordLocks | AdvisoryLocks = (
            AdvisoryLocks(self._db)
            if isinstance(self._db, PostgresConnection)
            else RecordLocks(path)
        )
        self._held: set[str] = set()
        self._senders: dict[str, str] = {}  # account -> sender, as recorded
        self._archive_floor: dict[str, int] = {}
        self.archive = Archive(state_dir or path.parent, self._db, archive)

    @classmethod
    def open(
        cls,
        state_dir: Path,
        *,
        sender: tuple[str, str] | None = None,
        fresh: bool = False,
        database: str | None = None,
        archive: ArchiveStorage = "directory",
    ) -> Ledger:
        """Open the state directory's ledger, refusing one that is not the archive's.

        An empty or missing ledger next to sent files, or a ledger that another
        state directory's archive belongs to, would send claims again and
        reuse control numbers; it is refused, never silently started afresh.
        A command about to send for ``sender`` (clearinghouse, submitter ID)
        is also refused a new ledger when that sender's files were sent from
        another state directory, or when ``CLAIMFERRY_REQUIRE_LEDGER=1``; a
        ledger with no batch for the sender counts as new, whoever created it.
        ``fresh`` (``--init``) starts one for the sender on purpose.
        ``database`` is the config's ``database``: a ``postgresql://`` URL, or a
        ``sqlite:///`` one for a ledger file outside the state directory;
        ``archive`` its ``archive`` (:class:`claimferry.storage.Archive`).

        The checks look at the state directory's archive folder. Files kept in the
        database (``archive: database``) need none: they are in the ledger's own
        database, so a ledger cannot be lost, replaced or foreign to them; the
        folder's files from before the switch are still checked.
        """
        path, database = ledger_location(state_dir, database)
        # one connection to a server serves the look and the ledger: a worker opens
        # the ledger for every job
        server = PostgresConnection(database) if database else None
        version = None if server is None else schema_version(server)
        new = not path.is_file() if server is None else version == 0
        try:
            if new or (server is None and path.stat().st_size == 0):
                _refuse_lost_ledger(state_dir, path, database)
            if new and sender is not None and not fresh:
                _refuse_new_ledger(
                    state_dir, *sender, empty=True, where=redacted(database) if database else ""
                )
        except BaseException:
            if server is not None:
                server.close()
            raise
        ledger = cls(path, database, server, state_dir=state_dir, archive=archive, version=version)
        try:
            ledger._check_identity(state_dir)
            if not new and sender is not None and not fresh:
                # A ledger a read-only command (status, batches list) started is
                # as new to this sender as a missing one.
                ledger._refuse_unknown_sender(state_dir, sender)
        except BaseException:
            ledger.close()
            raise
        if new:
            _log.warning(
                "no ledger in the state directory %s: started a new one, %s",
                state_dir,
                ledger.where,
            )
        if sender is not None:
            _remember_state_dir(state_dir)
        return ledger

    @classmethod
    def initialize(cls, state_dir: Path, database: str | None = None) -> str:
        """Start a new ledger on purpose (``--init``) where the old one is lost.

        Only a ledger that would be refused (empty, missing, foreign or
        damaged) is replaced, and it is kept aside; a ledger in order is left
        alone, so a repeated ``--init`` cannot throw away what a new ledger
        learnt. Returns what was done, for the operator.
        """
        path, url = ledger_location(state_dir, database)
        if url is not None:
            # a database holds every state directory's history: never set aside by a flag
            with cls.open(state_dir, database=url) as ledger:
                return f"the ledger {ledger.where} is in order; --init changed nothing"
        if path.is_file():
            try:
                with cls.open(state_dir, database=database):
                    return f"the ledger {path} is in order; --init changed nothing"
            except LedgerError:
                pass
        kept = None
        if path.exists():
            kept = path.with_name(f"{LEDGER_FILE}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            for suffix in ("", "-wal", "-shm"):
                old = path.with_name(path.name + suffix)
                if old.exists():
                    old.rename(kept.with_name(kept.name + suffix))
        (state_dir / ARCHIVE / LEDGER_MARK).unlink(missing_ok=True)
        with cls(path) as ledger:
            ledger._check_identity(state_dir)
        return f"started a new ledger {path}" + (f"; the old one is kept as {kept}" if kept else "")

    def _refuse_unknown_sender(self, state_dir: Path, sender: tuple[str, str]) -> None:
        """Refuse as for a new ledger when this one never sent a batch for ``sender``."""
        clearinghouse, submitter_id = sender
        known = self._db.execute(
            "SELECT 1 FROM batches JOIN accounts ON accounts.name = batches.account "
            "WHERE accounts.clearinghouse = ? AND upper(accounts.submitter_id) = ? LIMIT 1",
            (clearinghouse, submitter_id.upper()),
        ).fetchone()
        if known is None:
            empty = self._db.execute("SELECT 1 FROM batches LIMIT 1").fetchone() is None
            where = self.where if isinstance(self._db, PostgresConnection) else ""
            _refuse_new_ledger(state_dir, clearinghouse, submitter_id, empty=empty, where=where)

    def _check_identity(self, state_dir: Path) -> None:
        """Record which state directory this ledger belongs to, or refuse a foreign one."""
        mark = state_dir / ARCHIVE / LEDGER_MARK
        row = self._db.execute("SELECT ledger_id FROM ledger_identity").fetchone()
        if row is not None and _read_mark(mark) == row[0]:
            return  # the usual case, settled without a write
        with self.transaction() as db:
            row = db.execute("SELECT ledger_id, state_dir FROM ledger_identity").fetchone()
            archived = _read_mark(mark)
            if row is None:
                sent = {p.name for p in sent_files(state_dir)}
                if archived is not None and sent:
                    # a ledger from before identities were recorded (an old backup)
                    # is this directory's only if it recorded files of this archive
                    recorded = {r[0] for r in db.execute("SELECT file_name FROM batches")}
                    if not recorded & sent:
                        what = "knows none of the files that" if recorded else "is new, but"
                        raise LedgerRefused(
                            f"the ledger {self.path} {what} the archive {state_dir / ARCHIVE} "
                            f"holds (sent by ledger {archived}). " + _RESTORE.format(path=self.path)
                        )
                ledger_id = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO ledger_identity (id, ledger_id, state_dir, created_at) "
                    "VALUES (1, ?, ?, ?)",
                    (ledger_id, str(state_dir.resolve()), _now()),
                )
            else:
                ledger_id = row["ledger_id"]
                if archived is not None and archived != ledger_id:
                    raise LedgerRefused(
                        f"the ledger {self.path} (id {ledger_id}) belongs to the state directory "
                        f"{row['state_dir']}, not to the archive {state_dir / ARCHIVE} "
                        f"(written by ledger {archived}). " + _RESTORE.format(path=self.path)
                    )
            if archived != ledger_id:
                atomic_write(mark, ledger_id.encode("ascii") + b"\n")

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._locks.close()  # on PostgreSQL they are the connection's: first
        self._db.close()

    # -- one writer per sender -------------------------------------------------

    @contextmanager
    def sender_lock(self, account: str, *, command: str, wait: float = 0.0) -> Iterator[None]:
        """Hold the account's sender (clearinghouse and submitter ID) for one run.

        Every account of the sender shares the lock, in every process and on
        every machine that shares the state directory. A second taker waits up
        to ``wait`` seconds, then gets :class:`SenderBusy` naming the holder.
        The operating system frees the lock when the holder ends, however it
        ends, so no age is ever guessed. (On PostgreSQL this would be
        ``pg_advisory_lock`` on the same key.)
        """
        sender = self._sender(account)
        offset = SENDER_LOCK_BYTES + int.from_bytes(
            hashlib.sha256(sender.encode("utf-8")).digest()[:4], "big"
        )
        deadline = time.monotonic() + wait
        while not self._locks.try_lock(offset):
            if time.monotonic() >= deadline:
                raise SenderBusy(self._busy(account, sender))
            time.sleep(0.05)
        host, pid = socket.gethostname(), os.getpid()
        self._held.add(sender)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO sender_locks (sender, pid, host, command, since) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sender) DO UPDATE SET pid = excluded.pid, "
                    "host = excluded.host, command = excluded.command, since = excluded.since",
                    (sender, pid, host, command, _now()),
                )
            yield
        finally:
            # The lock itself is freed below, whatever happens to this row.
            with suppress(DatabaseError), self.transaction() as db:
                db.execute(
                    "DELETE FROM sender_locks WHERE sender = ? AND pid = ? AND host = ?",
                    (sender, pid, host),
                )
            self._held.discard(sender)
            self._locks.unlock(offset)

    def require_sender_lock(self, account: str) -> None:
        """For steps that are only safe under the lock (recovery, upload, reading answers)."""
        if self._sender(account) not in self._held:
            raise LedgerError(f"account {account}: this step needs the sender lock; none is held")

    def _sender(self, account: str) -> str:
        """The account's sender; read once (a fetch asks at every step under the lock),
        and again after ``ensure_account`` records it anew."""
        found = self._senders.get(account)
        if found is None:
            row = self._db.execute(
                "SELECT clearinghouse, submitter_id FROM accounts WHERE name = ?", (account,)
            ).fetchone()
            if row is None:
                raise LedgerError(f"account {account} is not in the ledger yet")
            found = self._senders[account] = f"{row['clearinghouse']} {row['submitter_id']}"
        return found

    def clearinghouse_of(self, account: str) -> str | None:
        """The clearinghouse the account sends to, as recorded at its first connection."""
        row = self._db.execute(
            "SELECT clearinghouse FROM accounts WHERE name = ?", (account,)
        ).fetchone()
        return None if row is None else str(row["clearinghouse"])

    def _busy(self, account: str, sender: str) -> str:
        row = self._db.execute("SELECT * FROM sender_locks WHERE sender = ?", (sender,)).fetchone()
        holder = (
            f"pid {row['pid']} on host {row['host']}, running '{row['command']}' "
            f"since {row['since']}"
            if row is not None
            else "a run that is still starting"
        )
        return (
            f"account {account}: another claimferry run is working for sender {sender} "
            f"({holder}). One run at a time per sender: try again when it ends, or wait "
            "for it with --wait SECONDS"
        )

    def transaction(self, *, shared: bool = False) -> AbstractContextManager[Connection]:
        """An IMMEDIATE transaction: writers queue instead of failing mid-way.

        While this ledger holds a sender lock its writes are that sender's, so
        on PostgreSQL they run beside other senders' (``write_transaction``'s
        ``shared``); everything else writes alone, as on SQLite.
        """
        return write_transaction(self._db, shared=shared or bool(self._held))

    @property
    def db(self) -> Connection:
        """The connection, for modules that own tables of their own (enrollment)."""
        return self._db

    @property
    def schema_version(self) -> int:
        return schema_version(self._db)

    # -- accounts and control numbers -----------------------------------------

    def ensure_account(self, name: str, clearinghouse: str, submitter_id: str) -> None:
        """Record the account as the config has it; every login and run asks, so an
        account already recorded so is settled by one read (once per ledger opened),
        without a write."""
        sender = f"{clearinghouse} {submitter_id}"
        if self._senders.get(name) == sender:
            return
        row = self._db.execute(
            "SELECT clearinghouse, submitter_id FROM accounts WHERE name = ?", (name,)
        ).fetchone()
        if row is None or (row[0], row[1]) != (clearinghouse, submitter_id):
            self._senders.pop(name, None)
            with self.transaction(shared=True) as db:  # one row's upsert
                db.execute(
                    "INSERT INTO accounts (name, clearinghouse, submitter_id, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                    "clearinghouse = excluded.clearinghouse, submitter_id = excluded.submitter_id",
                    (name, clearinghouse, submitter_id, _now()),
                )
        self._senders[name] = sender

    def account_names(self) -> set[str]:
        """Every account this ledger has sent for or recorded an action of."""
        rows = self._db.execute(
            "SELECT name FROM accounts UNION SELECT account FROM audit WHERE account IS NOT NULL"
        )
        return {row[0] for row in rows}

    def next_control_number(self, account: str) -> int:
        """A number its sender never used before (ISA13, GS06, ST02).

        Unique per sender, not per account name: accounts that send as the
        same submitter ID to the same clearinghouse (one renamed, or one
        login configured twice) share the sequence, as the envelope rules
        require. It is committed before it is returned, so a crash after this
        call burns the number rather than risking its reuse.
        """
        with self.transaction() as db:
            lock = "SELECT 1 FROM accounts WHERE name = ?" + self._for_update  # noqa: S608
            db.execute(lock, (account,))
            used = db.execute(_LAST_USED_BY_SENDER, {"account": account}).fetchone()[0]
            number = max(int(used), self._highest_archived(account)) + 1
            if number > MAX_CONTROL_NUMBER:
                raise LedgerError(f"account {account}: interchange control numbers exhausted")
            db.execute(
                "INSERT INTO control_numbers (account, last) VALUES (?, ?) "
                "ON CONFLICT (account) DO UPDATE SET last = excluded.last",
                (account, number),
            )
        return number

    def _highest_archived(self, account: str) -> int:
        """The highest ISA13 in the archive's sent files of the account's submitter ID.

        A ledger restored from an older backup, or started with ``--init``,
        would otherwise hand out numbers the clearinghouse has seen. Files
        the ledger knows are skipped (their numbers are in the ledger); the
        rest are read once per ledger opened. Files kept in the database need
        no look: each was written in its batch's transaction.
        """
        row = self._db.execute(
            "SELECT submitter_id FROM accounts WHERE name = ?", (account,)
        ).fetchone()
        submitter = (row["submitter_id"] if row else "").upper()
        if submitter not in self._archive_floor:
            known = {r[0] for r in self._db.execute("SELECT archive_path FROM batches")}
            numbers = [
                header[1]
                for path in sent_files(self.archive.state_dir)
                if str(path) not in known
                and (header := interchange_header(path)) is not None
                and header[0].upper() == submitter
            ]
            self._archive_floor[submitter] = max(numbers, default=0)
        return self._archive_floor[submitter]

    # -- batches and claims ----------------------------------------------------

    def record_batch(
        self,
        *,
        account: str,
        file_name: str,
        archive_path: str | Path,
        sha256: str,
        size: int,
        control_number: int,
        test: bool,
        claims: Sequence[NewClaim],
    ) -> Batch:
        """Record a built batch and its claims, before anything is uploaded."""
        now = _now()
        with self.transaction() as db:
            batch_id = inserted_id(
                db,
                "INSERT INTO batches (account, file_name, archive_path, sha256, size, isa13, "
                "gs06, st02, test, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account,
                    file_name,
                    str(archive_path),
                    sha256,
                    size,
                    control_number,
                    control_number,
                    control_number,
                    int(test),
                    BatchState.BUILT,
                    now,
                    now,
                ),
            )
            assert batch_id is not None  # a plain INSERT: it inserted, or raised
            # ids taken first, so the three tables go in as three statements, not three per claim
            rows = next_ids(db, "claims", len(claims))
            built = str(ClaimState.BUILT)
            db.executemany(
                "INSERT INTO claims (id, account, claim_id, batch_id, payer_id, charge, "
                "content_sha256, frequency, payer_claim_number, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        row,
                        account,
                        claim.claim_id,
                        batch_id,
                        claim.payer_id,
                        str(claim.charge),
                        claim.content_sha256,
                        claim.frequency,
                        claim.payer_claim_number,
                        built,
                        now,
                    )
                    for row, claim in zip(rows, claims, strict=True)
                ],
            )
            db.executemany(
                "INSERT INTO claim_events (claim_row, state, detail, source_file, at) "
                "VALUES (?, ?, NULL, ?, ?)",
                [(row, built, file_name, now) for row in rows],
            )
            db.executemany(
                "INSERT INTO claim_lines (claim_row, line_number, control_number, procedure, "
                "charge) VALUES (?, ?, ?, ?, ?)",
                [
                    (row, number, line.control_number, line.procedure, str(line.charge))
                    for row, claim in zip(rows, claims, strict=True)
                    for number, line in enumerate(claim.lines, 1)
                ],
            )
        return self.batch(batch_id)

    def batch(self, batch_id: int) -> Batch:
        row = self._db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no batch {batch_id}")
        return _batch(row)

    def batches(
        self, account: str | None = None, states: Iterable[BatchState] | None = None
    ) -> list[Batch]:
        sql, args = "SELECT * FROM batches WHERE 1=1", []
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            args.extend(wanted)
        return [_batch(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def set_batch_state(
        self,
        batch_id: int,
        state: BatchState,
        *,
        remote_name: str | None = None,
        host_fingerprint: str | None = None,
        error: str | None = None,
    ) -> None:
        """Move a batch (and, on upload or failure, its claims) to a new state."""
        now = _now()
        claim_state = {
            BatchState.UPLOADED: ClaimState.UPLOADED,
            BatchState.FAILED: ClaimState.FAILED,
        }.get(state)
        with self.transaction() as db:
            db.execute(
                "UPDATE batches SET state = ?, remote_name = COALESCE(?, remote_name), "
                "host_fingerprint = COALESCE(?, host_fingerprint), error = ?, updated_at = ? "
                "WHERE id = ?",
                (state, remote_name, host_fingerprint, error, now, batch_id),
            )
            if claim_state is not None:
                rows = [
                    r["id"]
                    for r in db.execute("SELECT id FROM claims WHERE batch_id = ?", (batch_id,))
                ]
                for row in rows:
                    _set_claim_state(db, row, claim_state, error, None, remote_name, now)

    def submissions(
        self, account: str, claim_ids: Iterable[str]
    ) -> dict[str, list[tuple[ClaimRecord, Batch | None]]]:
        """Each claim id's submissions, oldest first, with their batches.

        A failed batch never left: its claims are not listed. A claim known
        only from a response (sent by another system) is listed without a
        batch.
        """
        found: dict[str, list[tuple[ClaimRecord, Batch | None]]] = {}
        batches: dict[int, Batch] = {}  # a file's claims mostly share their batches
        for row in select_in(
            self._db,
            "SELECT c.* FROM claims c LEFT JOIN batches b ON b.id = c.batch_id "
            "WHERE c.account = ? AND (b.state IS NULL OR b.state != ?) "
            "AND c.claim_id IN ({marks}) ORDER BY c.id",
            claim_ids,
            account,
            BatchState.FAILED,
        ):
            batch_id = row["batch_id"]
            if batch_id is not None and batch_id not in batches:
                batches[batch_id] = self.batch(batch_id)
            found.setdefault(row["claim_id"], []).append(
                (_claim(row), batches.get(batch_id) if batch_id is not None else None)
            )
        return found

    def claims(
        self,
        *,
        account: str | None = None,
        batch_id: int | None = None,
        claim_id: str | None = None,
    ) -> list[ClaimRecord]:
        sql, args = "SELECT * FROM claims WHERE 1=1", []
        for column, value in (("account", account), ("batch_id", batch_id), ("claim_id", claim_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        return [_claim(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def claim_events(self, row: int) -> list[ClaimEvent]:
        return [
            ClaimEvent(
                ClaimState(r["state"]),
                r["detail"],
                Decimal(r["amount"]) if r["amount"] is not None else None,
                r["source_file"],
                r["at"],
            )
            for r in self._db.execute(
                "SELECT * FROM claim_events WHERE claim_row = ? ORDER BY id", (row,)
            )
        ]

    def link_next_payer_claim(
        self, account: str, original_row: int, claim_id: str, responsibility: str
    ) -> None:
        """Record that ``claim_id`` bills the next payer for the claim at ``original_row``;
        built again (from a later 835), the link follows the latest."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO next_payer_claims (account, original_row, claim_id, responsibility, "
                "built_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, claim_id) DO UPDATE SET "
                "original_row = excluded.original_row, responsibility = excluded.responsibility, "
                "built_at = excluded.built_at",
                (account, original_row, claim_id, responsibility, _now()),
            )

    def next_payer_links(self, account: str, claim_id: str) -> tuple[str | None, list[str]]:
        """The claim ``claim_id`` was built from (it bills the next payer), and the
        claims built from it, as ``responsibility claim_id``."""
        db = self._db
        found = db.execute(
            "SELECT c.claim_id FROM next_payer_claims n JOIN claims c ON c.id = n.original_row "
            "WHERE n.account = ? AND n.claim_id = ?",
            (account, claim_id),
        ).fetchone()
        built = [
            f"{r[0]} {r[1]}"
            for r in db.execute(
                "SELECT n.responsibility, n.claim_id FROM next_payer_claims n "
                "JOIN claims c ON c.id = n.original_row "
                "WHERE c.account = ? AND c.claim_id = ? ORDER BY n.id",
                (account, claim_id),
            )
        ]
        return (found[0] if found is not None else None), built

    def latest_claim(self, account: str, claim_id: str) -> ClaimRecord | None:
        row = self._db.execute(
            "SELECT * FROM claims WHERE account = ? AND claim_id = ? ORDER BY id DESC LIMIT 1",
            (account, claim_id),
        ).fetchone()
        return _claim(row) if row else None

    def update_claim(
        self,
        account: str,
        claim_id: str,
        state: ClaimState,
        *,
        detail: str | None = None,
        amount: Decimal | None = None,
        source_file: str | None = None,
        payer_claim_number: str | None = None,
        batch_control_number: int | None = None,
    ) -> ClaimRecord:
        """Move a claim to a new state; a claim never sent is recorded as unknown first.

        With ``batch_control_number`` (a 999's GS06/ST02) the claim is looked
        up in that batch; otherwise its latest submission is used.
        """
        with self.transaction():
            row = self.find_claim(account, claim_id, batch_control_number=batch_control_number)
            if row is None:
                row = self.unknown_claim(account, claim_id)
            self.answer_claim(
                row,
                state,
                detail=detail,
                amount=amount,
                source_file=source_file,
                payer_claim_number=payer_claim_number,
            )
        return self.claim_record(row)

    def find_claim(
        self,
        account: str,
        claim_id: str,
        *,
        batch_control_number: int | None = None,
        payer_claim_number: str = "",
        line_control_numbers: Sequence[str] = (),
    ) -> int | None:
        """The ledger row a response's claim answers, or ``None`` for a claim never sent.

        By its id (CLM01) in the named batch, else its latest submission;
        then by the payer's claim number; then by the line control numbers
        (REF*6R) we sent; last, a 20-character id as the start of a longer
        one we sent (receivers need return only 20 characters, X12 RFI 525),
        when exactly one claim starts so.
        """
        db = self._db
        if batch_control_number is not None:
            found = db.execute(
                "SELECT c.id FROM claims c JOIN batches b ON b.id = c.batch_id "
                "WHERE c.account = ? AND c.claim_id = ? AND b.isa13 = ? "
                "ORDER BY c.id DESC LIMIT 1",
                (account, claim_id, batch_control_number),
            ).fetchone()
            if found is not None:
                return int(found[0])
        found = db.execute(
            "SELECT id FROM claims WHERE account = ? AND claim_id = ? ORDER BY id DESC LIMIT 1",
            (account, claim_id),
        ).fetchone()
        if found is None and payer_claim_number:
            found = db.execute(
                "SELECT id FROM claims WHERE account = ? AND payer_claim_number = ? "
                "ORDER BY id DESC LIMIT 1",
                (account, payer_claim_number),
            ).fetchone()
        if found is None and line_control_numbers:
            marks = ",".join("?" * len(line_control_numbers))
            found = db.execute(
                f"SELECT c.id FROM claim_lines l JOIN claims c ON c.id = l.claim_row "  # noqa: S608
                f"WHERE c.account = ? AND l.control_number IN ({marks}) "
                "ORDER BY c.id DESC LIMIT 1",
                (account, *line_control_numbers),
            ).fetchone()
        from claimferry.claims import MAX_CLAIM_ID  # the model: not for every ledger user

        if found is None and len(claim_id) == MAX_CLAIM_ID:
            rows = db.execute(
                "SELECT claim_id, MAX(id) FROM claims WHERE account = ? "
                "AND substr(claim_id, 1, ?) = ? GROUP BY claim_id LIMIT 2",
                (account, MAX_CLAIM_ID, claim_id),
            ).fetchall()
            found = rows[0][1:] if len(rows) == 1 else None
        return int(found[0]) if found is not None else None

    def unknown_claim(self, account: str, claim_id: str) -> int:
        """Record a claim seen only in a response (sent by another system)."""
        with self.transaction() as db:
            row = inserted_id(
                db,
                "INSERT INTO claims (account, claim_id, state, updated_at) VALUES (?, ?, ?, ?)",
                (account, claim_id, ClaimState.UNKNOWN, _now()),
            )
        assert row is not None  # a plain INSERT: it inserted, or raised
        return row

    def answer_claim(
        self,
        row: int,
        state: ClaimState,
        *,
        detail: str | None = None,
        amount: Decimal | None = None,
        source_file: str | None = None,
        payer_claim_number: str | None = None,
    ) -> None:
        """Record what a response says of one claim; it moves only forward (see ``_RANK``)."""
        self.answer_claims(
            [Answer(row, state, detail, amount, source_file, payer_claim_number or None)]
        )

    def answer_claims(
        self, answers: Sequence[Answer], states: Mapping[int, ClaimState] | None = None
    ) -> None:
        """Record many answers in order, in a few statements (a big ERA has thousands).

        ``states``: the rows' states as the caller read them in this transaction
        (``find_claims``), so they are not read again; rows it lacks are read here.
        """
        if not answers:
            return
        now = _now()
        with self.transaction() as db:
            current = dict(states or {})
            current.update(
                (r[0], _STATE_OF[r[1]])
                for r in select_in(
                    db,
                    "SELECT id, state FROM claims WHERE id IN ({marks})",
                    [a.row for a in answers if a.row not in current],
                )
            )
            moves, events = [], []
            numbers: dict[int, str] = {}  # set after the moves: the last number given wins
            for row, claim_state, detail, amount, source_file, number, latest in answers:
                state = str(claim_state)  # a plain str binds faster than the enum
                if latest and _moves_to(current[row], claim_state):
                    current[row] = claim_state
                    moves.append((state, detail, now, number, row))
                    if number:
                        numbers.pop(row, None)
                elif number:
                    numbers[row] = number
                money = None if amount is None else str(amount)
                events.append((row, state, detail, money, source_file, now))
            db.executemany(
                "UPDATE claims SET state = ?, detail = ?, updated_at = ?, "
                "payer_claim_number = COALESCE(?, payer_claim_number) WHERE id = ?",
                moves,
            )
            insert_rows(
                db,
                "INSERT INTO claim_events (claim_row, state, detail, amount, source_file, at)",
                "(?, ?, ?, ?, ?, ?)",
                events,
            )
            db.executemany(
                "UPDATE claims SET payer_claim_number = ? WHERE id = ?",
                [(number, row) for row, number in numbers.items()],
            )

    def find_claims(
        self, account: str, claim_ids: Sequence[str]
    ) -> dict[str, tuple[int, ClaimState]]:
        """The latest submission (row and state) of each claim id that was sent, in a
        few statements. Every submission is read and the last kept: a claim is sent
        once or twice, and no GROUP BY can bring the latest one's state on PostgreSQL.
        The order is the index's (claims_by_id): SQLite sorts nothing."""
        return {
            r[0]: (r[1], _STATE_OF[r[2]])
            for r in select_in(
                self._db,
                "SELECT claim_id, id, state FROM claims WHERE account = ? "
                "AND claim_id IN ({marks}) ORDER BY claim_id, id",
                claim_ids,
                account,
            )
        }

    def claim_record(self, row: int) -> ClaimRecord:
        return _claim(self._db.execute("SELECT * FROM claims WHERE id = ?", (row,)).fetchone())

    def response_known(
        self, account: str, remote_name: str, size: int, modified: float | None = None
    ) -> bool:
        """Whether a remote file of this name, size and modification time was archived.

        A file replaced under the same name shows a new size or time, so it is
        downloaded again; its hash then says whether it is new.
        """
        sql = "SELECT 1 FROM response_files WHERE account = ? AND remote_name = ? AND size = ?"
        parameters: tuple[object, ...] = (account, remote_name, size)
        if modified is not None:
            sql, parameters = f"{sql} AND modified = ?", (*parameters, modified)
        return self._db.execute(sql, parameters).fetchone() is not None

    def record_response(
        self,
        *,
        account: str,
        remote_name: str,
        size: int,
        sha256: str,
        archive_path: str | Path,
        kind: str | None,
        modified: float | None = None,
    ) -> int | None:
        """Record an archived response; ``None`` when the same bytes were recorded before
        (then only the remote file's time is updated, so it is not downloaded again)."""
        with self.transaction() as db:
            response_id = inserted_id(
                db,
                "INSERT INTO response_files (account, remote_name, size, sha256, "
                "archive_path, kind, fetched_at, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (account, remote_name, size, sha256, str(archive_path), kind, _now(), modified),
            )
            if response_id is None:
                db.execute(
                    "UPDATE response_files SET modified = ? "
                    "WHERE account = ? AND remote_name = ? AND sha256 = ?",
                    (modified, account, remote_name, sha256),
                )
        return response_id

    def response_unread(self, response_id: int) -> bool:
        """Whether an archived response still waits to be read. Asked inside the
        transaction that applies it, so that two readers cannot both apply it."""
        row = self._db.execute(
            "SELECT parsed, error FROM response_files WHERE id = ?" + self._for_update,  # noqa: S608
            (response_id,),
        ).fetchone()
        return row is not None and not row["parsed"] and row["error"] is None

    @property
    def _for_update(self) -> str:
        """Locks the rows a check reads until the transaction ends, on PostgreSQL. Its
        sender lock keeps a sender's runs apart, but an account whose submitter ID
        changes under a rolling config update is two senders for a moment; SQLite
        has one writer anyway."""
        return "" if isinstance(self._db, sqlite3.Connection) else " FOR UPDATE"

    def mark_response_parsed(
        self, response_id: int, *, kind: str | None = None, error: str | None = None
    ) -> None:
        """Record that a response was read (with its kind), or why it could not be."""
        with self.transaction() as db:
            db.execute(
                "UPDATE response_files SET parsed = ?, kind = COALESCE(?, kind), error = ? "
                "WHERE id = ?",
                (0 if error else 1, kind, error, response_id),
            )

    def unparsed_responses(self, account: str) -> list[sqlite3.Row]:
        return list(
            self._db.execute(
                "SELECT * FROM response_files WHERE account = ? AND parsed = 0 AND error IS NULL "
                "ORDER BY id",
                (account,),
            )
        )

    # -- audit -----------------------------------------------------------------

    def audit(
        self,
        action: str,
        *,
        account: str | None = None,
        host_fingerprint: str | None = None,
        file_name: str | None = None,
        size: int | None = None,
        sha256: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append to the audit trail. Callers pass no PHI and no secrets."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audit (at, actor, account, action, host_fingerprint, file_name, "
                "size, sha256, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    current_actor(),
                    account,
                    action,
                    host_fingerprint,
                    file_name,
                    size,
                    sha256,
                    detail,
                ),
            )

    def record_fetch(self, account: str, error: str | None = None) -> None:
        """The end of one account's fetch: when it last went well, or failed and why."""
        with self.transaction(shared=True) as db:  # one row's upsert
            if error is None:
                db.execute(
                    "INSERT INTO fetch_runs (account, succeeded_at) VALUES (?, ?) "
                    "ON CONFLICT (account) DO UPDATE SET succeeded_at = excluded.succeeded_at",
                    (account, _now()),
                )
            else:
                db.execute(
                    "INSERT INTO fetch_runs (account, failed_at, error) VALUES (?, ?, ?) "
                    "ON CONFLICT (account) DO UPDATE SET failed_at = excluded.failed_at, "
                    "error = excluded.error",
                    (account, _now(), error),
                )

    def fetch_runs(self) -> dict[str, FetchRun]:
        """Every account's last good and last failed fetch."""
        return {
            row["account"]: FetchRun(
                row["account"], row["succeeded_at"], row["failed_at"], row["error"]
            )
            for row in self._db.execute("SELECT * FROM fetch_runs ORDER BY account")
        }

    def refused_login(self, account: str) -> AuditEntry | None:
        """The refused login that no successful ``credentials test`` has cleared yet."""
        row = self._db.execute(
            "SELECT * FROM audit WHERE account = ? AND action IN (?, ?) ORDER BY id DESC LIMIT 1",
            (account, LOGIN_REFUSED, LOGIN_OK),
        ).fetchone()
        return _audit_entry(row) if row is not None and row["action"] == LOGIN_REFUSED else None

    def latest_audit(self, account: str, actions: Sequence[str]) -> AuditEntry | None:
        """The account's most recent audit entry with one of ``actions``."""
        marks = ",".join("?" * len(actions))
        row = self._db.execute(
            f"SELECT * FROM audit WHERE account = ? AND action IN ({marks}) "  # noqa: S608
            "ORDER BY id DESC LIMIT 1",
            (account, *actions),
        ).fetchone()
        return _audit_entry(row) if row is not None else None

    def audit_entries(self, account: str | None = None) -> list[AuditEntry]:
        sql, args = "SELECT * FROM audit", []
        if account is not None:
            sql += " WHERE account = ?"
            args.append(account)
        return [_audit_entry(r) for r in self._db.execute(sql + " ORDER BY id", args)]


def _read_mark(mark: Path) -> str | None:
    """The ledger id the archive was written by; ``None`` before any ledger marked it."""
    try:
        return mark.read_bytes().decode("ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(f"{mark}: cannot read ({exc.strerror or exc})") from None


def _audit_entry(r: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        r["at"],
        r["actor"],
        r["account"],
        r["action"],
        r["host_fingerprint"],
        r["file_name"],
        r["size"],
        r["sha256"],
        r["detail"],
    )


def _set_claim_state(
    db: Connection,
    row: int,
    state: ClaimState,
    detail: str | None,
    amount: Decimal | None,
    source_file: str | None,
    now: str,
) -> None:
    current = db.execute("SELECT state FROM claims WHERE id = ?", (row,)).fetchone()
    if current is None or _moves_to(ClaimState(current[0]), state):
        db.execute(
            "UPDATE claims SET state = ?, detail = ?, updated_at = ? WHERE id = ?",
            (state, detail, now, row),
        )
    db.execute(
        "INSERT INTO claim_events (claim_row, state, detail, amount, source_file, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (row, state, detail, str(amount) if amount is not None else None, source_file, now),
    )


def current_actor() -> str:
    """The operating-system user, for the audit trail and history rows."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        id=row["id"],
        account=row["account"],
        file_name=row["file_name"],
        archive_path=row["archive_path"],
        sha256=row["sha256"],
        size=row["size"],
        isa13=row["isa13"],
        gs06=row["gs06"],
        st02=row["st02"],
        test=bool(row["test"]),
        state=BatchState(row["state"]),
        remote_name=row["remote_name"],
        host_fingerprint=row["host_fingerprint"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _claim(row: Any) -> ClaimRecord:
    return ClaimRecord(
        row=row["id"],
        account=row["account"],
        claim_id=row["claim_id"],
        batch_id=row["batch_id"],
        payer_id=row["payer_id"],
        charge=Decimal(row["charge"]) if row["charge"] is not None else None,
        content_sha256=row["content_sha256"],
        frequency=row["frequency"],
        payer_claim_number=row["payer_claim_number"],
        state=ClaimState(row["state"]),
        detail=row["detail"],
        updated_at=row["updated_at"],
    )
