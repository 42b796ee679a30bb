"""Fetching responses: download what is new into the archive (never deleting
remotely), then read each into the ledger in the order the answers were given.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from claimferry.config import Account
from claimferry.connection import connect
from claimferry.errors import (
    AuthenticationError,
    HostKeyError,
    InputError,
    TransportError,
    safe_message,
)
from claimferry.ledger import (
    Ledger,
)
from claimferry.lifecycle import apply_response
from claimferry.manager import PluginManager
from claimferry.storage import RECEIVED, Archive, ArchiveMissing, sha256_hex
from claimferry.submission import Progress, _quiet
from claimferry.types import (
    TransportSession,
)
from claimferry.x12.responses import detect_kind

# -- fetch -------------------------------------------------------------------------


@dataclass
class FetchedFile:
    remote_name: str
    size: int
    sha256: str
    archive_path: str | None
    """Its path or ``db:`` reference in the archive; ``None`` when the file could not
    be downloaded (``error`` says why)."""
    kind: str | None = None
    claims: int = 0
    error: str | None = None
    imbalances: tuple[str, ...] = ()
    """An 835's payer figures that do not add up: recorded as they came, to check."""


_KIND_ORDER = {"TA1": 0, "999": 1, "277CA": 2, "835": 4}
"""Answers are read in the order they happen, so a claim's history reads in order
whatever the file names; clearinghouse reports (3), which carry the payers'
answers as Office Ally's EDI Status Report does, come after the 277CAs."""


def _reading_order(archive: Archive, row: Any) -> tuple[int, int]:
    try:
        with archive.local(row["archive_path"]) as path:
            if zipfile.is_zipfile(path):
                return _KIND_ORDER["835"], row["id"]  # zipped answers are ERAs at Office Ally
            kind = detect_kind(path)
    except (InputError, ArchiveMissing):
        kind = None  # reported when its turn comes
    return _KIND_ORDER.get(kind or "", 3), row["id"]


def fetch_account(
    pm: PluginManager,
    ledger: Ledger,
    account: Account,
    progress: Progress = _quiet,
    wait: float = 0.0,
    after: Callable[[Ledger], object] | None = None,
) -> list[FetchedFile]:
    """One account's fetch from login to the last file read, as ``fetch`` and the
    workers run it; its outcome is kept for ``queue status`` and the metrics.

    All of it runs under the sender lock (waiting up to ``wait`` seconds), the
    login included, and so does ``after`` (the alert pass collects there), run
    once the fetch ended, well or not: no write of this sender's is half done
    then, and on PostgreSQL other senders' fetches write beside this one.
    """
    clearinghouse = pm.get_clearinghouse(account.clearinghouse)
    ledger.ensure_account(account.name, clearinghouse.name, account.submitter_id)
    with ledger.sender_lock(account.name, command="fetch", wait=wait):
        try:
            session = connect(pm, ledger, account)
            try:
                fetched = fetch_responses(pm, ledger, session, account.name, progress)
            finally:
                session.close()
        except Exception as exc:  # kept as messages show it: ours, or a bug's class only
            ledger.record_fetch(account.name, safe_message(exc))
            raise
        else:
            ledger.record_fetch(account.name)
        finally:
            if after is not None:
                after(ledger)
    return fetched


def fetch_responses(
    pm: PluginManager,
    ledger: Ledger,
    session: TransportSession,
    account: str,
    progress: Progress = _quiet,
) -> list[FetchedFile]:
    """Download, archive and read response files not fetched before.

    Nothing is deleted on the server: a file is known by name, size,
    modification time and hash, so fetching twice is harmless, and a file
    replaced under its name is fetched again. The caller holds the sender
    lock: one run per sender at a time. A file that cannot be downloaded is
    reported and tried again next time; one that cannot be read is kept in
    the archive with its error. Neither stops the others.
    """
    ledger.require_sender_lock(account)
    fetched = _download_new(ledger, session, account, progress)
    _read_unread(pm, ledger, account, fetched, progress)
    return fetched


def _download_new(
    ledger: Ledger, session: TransportSession, account: str, progress: Progress
) -> list[FetchedFile]:
    """Each new file is archived and recorded; in the database both in one transaction,
    in a directory the file first (a crash leaves a file the next fetch keeps again)."""
    fetched = []
    in_database = ledger.archive.in_database
    for remote in sorted(session.list_responses(), key=lambda r: r.name):
        if ledger.response_known(account, remote.name, remote.size, remote.modified):
            continue
        try:
            data = session.download(remote.name)
        except (AuthenticationError, HostKeyError):
            raise
        except TransportError as exc:
            error = f"not downloaded, tried again at the next fetch: {exc}"
            progress(f"skipped {remote.name!r}: {error}")
            fetched.append(FetchedFile(remote.name, remote.size, "", None, error=error))
            continue
        digest = sha256_hex(data)
        if not in_database:
            reference = ledger.archive.store(account, RECEIVED, remote.name, data)
        with ledger.transaction():  # recorded and audited together, or neither
            if in_database:
                reference = ledger.archive.store(account, RECEIVED, remote.name, data)
            response_id = ledger.record_response(
                account=account,
                remote_name=remote.name,
                size=len(data),
                sha256=digest,
                archive_path=reference,
                kind=None,
                modified=remote.modified,
            )
            if response_id is None:
                continue
            ledger.audit(
                "fetch",
                account=account,
                file_name=remote.name,
                size=len(data),
                sha256=digest,
                host_fingerprint=session.host_fingerprint,
            )
        progress(f"fetched {remote.name} ({len(data)} bytes)")
        fetched.append(FetchedFile(remote.name, len(data), digest, reference))
    return fetched


def _read_unread(
    pm: PluginManager,
    ledger: Ledger,
    account: str,
    fetched: list[FetchedFile],
    progress: Progress,
) -> None:
    readers = pm.response_readers(ledger.clearinghouse_of(account))
    order = partial(_reading_order, ledger.archive)
    for row in sorted(ledger.unparsed_responses(account), key=order):
        result = next((f for f in fetched if f.remote_name == row["remote_name"]), None)
        try:
            with ledger.archive.local(row["archive_path"]) as path:
                applied = apply_response(
                    ledger, account, path, readers, row["remote_name"], response_id=row["id"]
                )
        except (InputError, ArchiveMissing) as exc:
            ledger.mark_response_parsed(row["id"], error=str(exc))
            progress(f"could not read {row['remote_name']}: {exc}")
            if result is not None:
                result.error = str(exc)
            continue
        if result is not None:
            result.kind, result.claims = applied.kind, applied.claims
            result.imbalances = applied.imbalances
