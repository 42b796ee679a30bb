"""Claim work on a distributed task queue: Procrastinate, in the ledger's PostgreSQL database.

Submits and fetches become jobs that any worker on any machine may run. Each
job holds a Procrastinate lock keyed by its sender (clearinghouse and
submitter ID), so one sender's jobs run one at a time across all machines,
and inside the job the ledger's own sender lock and recovery rules apply as
in any run. Exactly-once rests on the ledger, never on the queue alone: a
worker killed mid-upload leaves its batch ``uploading``; the job is given back
to the queue by ``claimferry.retry_stalled`` and the next run of it finds the
batch and recovers it (asks the clearinghouse whether the file arrived)
before sending anything.

Tasks are plain (sync) functions: Procrastinate runs them in threads, so a
long upload never stops the worker's heartbeat (a blocked heartbeat would let
a second worker take the same job while it still runs).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import procrastinate

from claimferry.config import Config, claims_file_limit
from claimferry.errors import ClaimferryError
from claimferry.manager import PluginManager
from claimferry.storage import Archive, atomic_write, sha256_hex

SUBMIT_QUEUE = "submit"
FETCH_QUEUE = "fetch"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (SUBMIT_QUEUE, FETCH_QUEUE, MAINTENANCE_QUEUE)
STALLED_AFTER = 60.0
"""Seconds without a heartbeat after which a worker counts as gone and its running
jobs go back to the queue; a live worker beats six times in that while."""


def heartbeat_interval(stalled_after: float) -> float:
    """Often enough that a live worker is never taken for gone."""
    return max(0.5, stalled_after / 6)


QUEUE_SCHEMA = 30400
"""Procrastinate's schema level that ``db upgrade`` applies (its migrations 03.04.00:
unchanged from Procrastinate 3.4 to 3.10)."""
LOCK_WAIT = 600.0
"""How long a job waits for a sender lock an operator's own run holds."""
QUEUED_CLAIMS = "queued"
"""Where ``enqueue submit`` keeps the claims files it queues, so that a worker on any
machine reads the same bytes: this folder of the shared state directory, or with
``archive: database`` the database's archive (as direction ``queued``)."""

_log = logging.getLogger(__name__)

app = procrastinate.App(connector=procrastinate.PsycopgConnector())
"""The tasks, on a connector without a server: :func:`queue_app` gives the one to use."""


class WorkerRefused(ClaimferryError):
    """A task run outside a worker process, which has no settings to run with."""

    code = "queue"


@dataclass(frozen=True)
class Setting:
    """What every job of this worker process works with: set once, at its start."""

    pm: PluginManager
    config: Config
    state_dir: Path
    database: str
    stalled_after: float = STALLED_AFTER


_setting: Setting | None = None
_setting_guard = threading.Lock()


def use_setting(setting: Setting) -> None:
    global _setting
    with _setting_guard:
        _setting = setting


def _current() -> Setting:
    if _setting is None:
        raise WorkerRefused("this process is not a claimferry worker: run `claimferry worker`")
    return _setting


@contextmanager
def queue_app(database: str) -> Iterator[procrastinate.App]:
    """The tasks' app on the ledger's database (its ``search_path`` included), for this
    block; open it (``open()``, or ``open_async()`` to run workers) inside."""
    connector = procrastinate.PsycopgConnector(conninfo=database)
    with app.replace_connector(connector) as queue:
        yield queue


def queue_schema_applied(database: str) -> bool:
    """Whether Procrastinate's tables are in the database (its schema has no version
    of its own: ``schema_versions`` keeps ``procrastinate`` once claimferry applied it)."""
    from claimferry.postgres import PostgresConnection

    connection = PostgresConnection(database)
    try:
        found = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        return found is not None and found[0] is not None
    finally:
        connection.close()


def apply_queue_schema(database: str) -> bool:
    """Create Procrastinate's tables once (``db upgrade``); True when this call did.

    Its schema script fails when run twice, so concurrent upgrades take turns
    on an advisory lock and look again before applying.
    """
    from claimferry.database import WRITER_LOCK
    from claimferry.postgres import PostgresConnection

    guard = PostgresConnection(database)
    try:
        guard.execute("SELECT pg_advisory_lock(?)", (WRITER_LOCK + 1,))
        if queue_schema_applied(database):
            return False
        with queue_app(database) as queue, queue.open():
            queue.schema_manager.apply_schema()
        guard.execute(
            "INSERT INTO schema_versions (name, version) VALUES ('procrastinate', ?) "
            "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            (QUEUE_SCHEMA,),
        )
        return True
    finally:
        guard.close()  # and with it the advisory lock


def sender_key(clearinghouse: str, submitter_id: str) -> str:
    """The job lock of a sender: the same key the ledger's sender lock is taken by."""
    return f"{clearinghouse} {submitter_id.upper()}"


def fetch_lock(account: str) -> str:
    """At most one fetch of an account waiting: a slow account never piles up jobs."""
    return f"fetch {account}"


def queue_claims_file(archive: Archive, account: str, source: Path) -> str:
    """A copy of ``source``, named by its content, where every worker reads it; returns
    the path or ``db:`` reference a submit job takes."""
    data = source.read_bytes()
    name = f"{sha256_hex(data)}{source.suffix.lower()}"
    if archive.in_database:
        return archive.store(account, QUEUED_CLAIMS, name, data)
    target = archive.state_dir / QUEUED_CLAIMS / name  # owner-only, as every file written
    if not target.exists():
        atomic_write(target, data)
    return str(target)


# -- the tasks -------------------------------------------------------------------------


@app.task(name="claimferry.submit", queue=SUBMIT_QUEUE)
def submit_job(account: str, claims_file: str, resubmit: bool = False) -> dict[str, Any]:
    """Validate and send a queued claims file, exactly once, as ``claimferry submit``."""
    from claimferry.claims_input import check_claims_file
    from claimferry.findings import has_errors
    from claimferry.ledger import Ledger
    from claimferry.submission import submit_claims, validate_claims
    from claimferry.types import ValidationContext

    setting = _current()
    configured = setting.config.account(account)
    clearinghouse = setting.pm.get_clearinghouse(configured.clearinghouse)
    with (
        Ledger.open(
            setting.state_dir,
            sender=(clearinghouse.name, configured.submitter_id),
            database=setting.database,
            archive=setting.config.archive,
        ) as ledger,
        ledger.archive.local(claims_file) as path,
    ):
        checked = check_claims_file(path, max_bytes=claims_file_limit(setting.config))
        context = ValidationContext(
            account=configured,
            today=date.today(),
            state_dir=setting.state_dir,
            database=setting.database,
        )
        found = checked.findings + validate_claims(
            setting.pm, checked.claims, context, partial=checked.partial
        )
        if has_errors(found, strict=False):
            errors = sum(1 for f in found if f.severity.value == "error")
            queued = f"`claimferry validate {path} --account {account}`"
            if path != Path(claims_file):  # a copy out of the database: gone once this ends
                queued = f"`claimferry validate FILE --account {account}` on the file queued"
            raise ClaimferryError(
                f"{Path(claims_file).name}: {errors} error(s) in the claims; nothing sent. "
                f"See them with {queued}"
            )
        outcome = submit_claims(
            setting.pm,
            ledger,
            configured,
            checked.claims,
            now=datetime.now(UTC).astimezone(),
            resubmit=resubmit,
            wait=LOCK_WAIT,
        )
        ledger.archive.discard(claims_file)  # sent and recorded: the ledger and archive hold it
    batches = [b.id for b in outcome.delivered]
    _log.info("submit for %s: %d claims in batch(es) %s", account, len(checked.claims), batches)
    return {"account": account, "claims": len(checked.claims), "batches": batches}


@app.task(name="claimferry.fetch", queue=FETCH_QUEUE)
def fetch_job(account: str) -> dict[str, Any]:
    """Fetch and read one account's answers, as ``claimferry fetch``, then its alerts."""
    from claimferry.fetching import fetch_account
    from claimferry.ledger import Ledger
    from claimferry.notify import collect_after_fetch, deliver_after_fetch

    setting = _current()
    configured = setting.config.account(account)
    with Ledger.open(
        setting.state_dir, database=setting.database, archive=setting.config.archive
    ) as ledger:
        try:
            files = fetch_account(
                setting.pm,
                ledger,
                configured,
                wait=LOCK_WAIT,
                after=lambda locked: collect_after_fetch(
                    locked, setting.config, configured, _log.warning
                ),
            )
        finally:
            deliver_after_fetch(setting.pm, ledger, setting.config, configured, _log.warning)
    unreadable = sum(1 for f in files if f.error)
    _log.info("fetch for %s: %d new file(s), %d unreadable", account, len(files), unreadable)
    return {"account": account, "files": len(files), "unreadable": unreadable}


@app.task(name="claimferry.scheduled_fetch", queue=FETCH_QUEUE)
def scheduled_fetch(timestamp: int, account: str) -> dict[str, Any]:
    """An account's fetch on its schedule (``timestamp``: the tick, Unix time)."""
    return fetch_job(account)


@app.periodic(cron="* * * * * */10", periodic_id="retry-stalled")
@app.task(
    name="claimferry.retry_stalled",
    queue=MAINTENANCE_QUEUE,
    queueing_lock="retry-stalled",
    pass_context=True,
)
async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Give the jobs of workers that stopped beating (killed, host gone) back to the
    queue; their next run meets the ledger's recovery rules."""
    manager = context.app.job_manager
    stalled_after = _current().stalled_after
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
    for job in stalled:
        try:
            await manager.retry_job(job)
        except procrastinate.exceptions.UniqueViolation:
            # the same fetch already waits (its queueing lock): that one does the work
            await manager.finish_job(job, procrastinate.jobs.Status.ABORTED, delete_job=False)
            _log.warning(
                "job %s (%s) of a worker gone: its twin waits; dropped", job.id, job.task_name
            )
            continue
        _log.warning("job %s (%s) of a worker gone: queued again", job.id, job.task_name)
    return len(stalled)


def schedule_fetches(queue: procrastinate.App, config: Config) -> int:
    """Every account's periodic fetch, on its cron schedule; returns how many."""
    for name, account in sorted(config.accounts.items()):
        queue.periodic(
            cron=account.fetch_schedule or config.fetch_schedule,
            periodic_id=f"fetch:{name}",
            task_kwargs={"account": name},
            lock=sender_key(account.clearinghouse, account.submitter_id),
            queueing_lock=fetch_lock(name),
        )(scheduled_fetch)
    return len(config.accounts)


def worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"
