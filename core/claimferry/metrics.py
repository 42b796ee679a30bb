"""What the fleet is doing, from the database: ``queue status`` for a person, Prometheus
metrics for a machine (``worker --metrics-port``). Both read the same facts, at the
moment they are asked, so every worker serves the whole fleet's figures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from claimferry.ledger import LOGIN_OK, LOGIN_REFUSED
from claimferry.postgres import PostgresConnection


@dataclass(frozen=True)
class QueueFigures:
    queue: str
    todo: int
    doing: int
    failed: int
    succeeded: int
    oldest_waiting: str | None
    """When the oldest job still waiting was queued (ISO, UTC)."""
    oldest_waiting_seconds: float


@dataclass(frozen=True)
class AccountFigures:
    account: str
    last_fetch: str | None
    last_failure: str | None
    login_on_hold: bool


@dataclass(frozen=True)
class QueueStatus:
    queues: list[QueueFigures]
    workers: list[str]
    accounts: list[AccountFigures]
    failed_by_task: dict[str, int]
    claims_by_batch_state: dict[str, int]
    responses_read: dict[str, int]
    responses_unreadable: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_QUEUES = """
    SELECT j.queue_name,
        COUNT(*) FILTER (WHERE j.status = 'todo'),
        COUNT(*) FILTER (WHERE j.status = 'doing'),
        COUNT(*) FILTER (WHERE j.status = 'failed'),
        COUNT(*) FILTER (WHERE j.status = 'succeeded'),
        MIN(e.at) FILTER (WHERE j.status = 'todo'),
        EXTRACT(EPOCH FROM now() - MIN(e.at) FILTER (WHERE j.status = 'todo'))
    FROM procrastinate_jobs j
    LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
    GROUP BY j.queue_name ORDER BY j.queue_name
"""

_LOGINS = """
    SELECT a.account, a.action FROM audit a
    WHERE a.action IN (?, ?) AND a.id = (
        SELECT MAX(b.id) FROM audit b WHERE b.account = a.account AND b.action IN (?, ?)
    )
"""


def read_status(database: str, state_dir: Path, accounts: Sequence[str]) -> QueueStatus:
    """The queue's and the accounts' figures now (``state_dir`` is for the archive,
    which the figures do not read; the ledger is in ``database``)."""
    db = PostgresConnection(database)
    try:
        queues = [
            QueueFigures(
                str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]),
                _iso(r[5]), float(r[6] or 0),
            )
            for r in db.execute(_QUEUES)
        ]  # fmt: skip
        workers = [
            str(r[0])
            for r in db.execute(
                "SELECT id FROM procrastinate_workers WHERE last_heartbeat > now() - "
                "interval '1 minute' ORDER BY id"
            )
        ]
        runs = {
            str(r[0]): (r[1], r[2])
            for r in db.execute("SELECT account, succeeded_at, failed_at FROM fetch_runs")
        }
        refused = {
            str(r[0])
            for r in db.execute(_LOGINS, (LOGIN_REFUSED, LOGIN_OK, LOGIN_REFUSED, LOGIN_OK))
            if r[1] == LOGIN_REFUSED
        }
        failed = {
            str(r[0]): int(r[1])
            for r in db.execute(
                "SELECT task_name, COUNT(*) FROM procrastinate_jobs WHERE status = 'failed' "
                "GROUP BY task_name ORDER BY task_name"
            )
        }
        claims = {
            str(r[0]): int(r[1])
            for r in db.execute(
                "SELECT b.state, COUNT(*) FROM claims c JOIN batches b ON b.id = c.batch_id "
                "GROUP BY b.state ORDER BY b.state"
            )
        }
        read = {
            str(r[0] or "unknown"): int(r[1])
            for r in db.execute(
                "SELECT kind, COUNT(*) FROM response_files WHERE parsed = 1 AND error IS NULL "
                "GROUP BY kind ORDER BY kind"
            )
        }
        unreadable = int(
            db.execute("SELECT COUNT(*) FROM response_files WHERE error IS NOT NULL").fetchone()[0]
        )
    finally:
        db.close()
    return QueueStatus(
        queues,
        workers,
        [AccountFigures(name, *runs.get(name, (None, None)), name in refused) for name in accounts],
        failed,
        claims,
        read,
        unreadable,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _timestamp(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


class FleetCollector:
    """Prometheus metrics read from the database at each scrape."""

    def __init__(self, database: str, state_dir: Path, accounts: Sequence[str]) -> None:
        self.database = database
        self.state_dir = state_dir
        self.accounts = list(accounts)

    def describe(self) -> Iterable[Any]:
        return []  # figures are read at scrape time; nothing to declare up front

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        status = read_status(self.database, self.state_dir, self.accounts)
        jobs = GaugeMetricFamily(
            "claimferry_jobs",
            "Jobs in the task queue by queue and state",
            labels=["queue", "state"],
        )
        waiting = GaugeMetricFamily(
            "claimferry_oldest_waiting_job_seconds",
            "Age of the oldest job waiting in each queue",
            labels=["queue"],
        )
        for q in status.queues:
            for state, count in (("todo", q.todo), ("doing", q.doing), ("failed", q.failed),
                                 ("succeeded", q.succeeded)):  # fmt: skip
                jobs.add_metric([q.queue, state], count)
            waiting.add_metric([q.queue], q.oldest_waiting_seconds)
        yield jobs
        yield waiting
        yield GaugeMetricFamily(
            "claimferry_workers_alive", "Workers that beat in the last minute",
            value=len(status.workers),
        )  # fmt: skip
        failures = CounterMetricFamily(
            "claimferry_job_failures", "Jobs that failed, by task", labels=["task"]
        )
        for task, count in status.failed_by_task.items():
            failures.add_metric([task], count)
        yield failures
        claims = GaugeMetricFamily(
            "claimferry_claims",
            "Claims recorded, by the state of their batch",
            labels=["batch_state"],
        )
        for state, count in status.claims_by_batch_state.items():
            claims.add_metric([state], count)
        yield claims
        read = CounterMetricFamily(
            "claimferry_responses_read", "Response files read, by kind", labels=["kind"]
        )
        for kind, count in status.responses_read.items():
            read.add_metric([kind], count)
        yield read
        yield GaugeMetricFamily(
            "claimferry_responses_unreadable", "Response files kept with an error",
            value=status.responses_unreadable,
        )  # fmt: skip
        fetched = GaugeMetricFamily(
            "claimferry_last_successful_fetch_timestamp_seconds",
            "When each account's last fetch ended well (Unix time)",
            labels=["account"],
        )
        on_hold = GaugeMetricFamily(
            "claimferry_login_on_hold",
            "1 while an account's logins are held after a refused password",
            labels=["account"],
        )
        for account in status.accounts:
            when = _timestamp(account.last_fetch)
            if when is not None:
                fetched.add_metric([account.account], when)
            on_hold.add_metric([account.account], 1 if account.login_on_hold else 0)
        yield fetched
        yield on_hold


def serve_metrics(
    database: str, state_dir: Path, accounts: Sequence[str], address: str, port: int
) -> None:
    """Serve the fleet's metrics over HTTP in a background thread of this process."""
    from prometheus_client import start_http_server
    from prometheus_client.core import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(database, state_dir, accounts))
    start_http_server(port, addr=address, registry=registry)
