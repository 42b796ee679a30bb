"""``claimferry worker``, ``enqueue`` and ``queue``: claim work on the task queue
(Procrastinate, in the ledger's PostgreSQL database; docs/scale.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from claimferry.cli.app import App, ClaimferryGroup, emit_json, json_option, pass_app
from claimferry.cli.output import examples, plural, table
from claimferry.errors import ClaimferryError

if TYPE_CHECKING:
    from claimferry.config import Account

_log = logging.getLogger("claimferry")


class QueueUnavailable(ClaimferryError):
    """The task queue cannot be used here: no PostgreSQL, no queue tables, no extra."""

    code = "queue"


def queue_module() -> ModuleType:
    """:mod:`claimferry.workers`, or a clear error when its extra is not installed."""
    try:
        from claimferry import workers
    except ImportError:  # procrastinate: the postgresql extra
        raise QueueUnavailable(
            "the task queue needs the postgresql extra: pip install 'claimferry[postgresql]'"
        ) from None
    return workers


def _database(app: App) -> str:
    """The ledger's PostgreSQL URL; workers and queues live nowhere else."""
    from claimferry.database import is_database_url, state_database

    database = state_database(app.database)
    if database is None or not is_database_url(database):
        raise QueueUnavailable(
            "the task queue lives in the ledger's PostgreSQL database: set `database: "
            "postgresql://...` in the config (see docs/scale.md); with SQLite, run "
            "`claimferry submit` and `claimferry fetch` directly"
        )
    return database


def _ready(app: App) -> str:
    """The database, with the ledger and queue schemas in place (or a clear refusal)."""
    from claimferry.postgres import has_schema

    database = _database(app)
    workers = queue_module()
    if not has_schema(database, "ledger") or not workers.queue_schema_applied(database):
        raise QueueUnavailable(
            "the database has no task queue yet: run `claimferry db upgrade` once"
        )
    return database


# -- worker ----------------------------------------------------------------------------


@click.command(
    epilog=examples(
        "claimferry worker --concurrency 8",
        "claimferry worker --queues submit --metrics-port 9808",
    )
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Jobs this worker runs at once (each in its own thread).",
)
@click.option(
    "--queues",
    default="submit,fetch,maintenance",
    show_default=True,
    help="The queues this worker takes jobs from, comma-separated.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus metrics on this port (http://ADDRESS:PORT/metrics).",
)
@click.option(
    "--metrics-address",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics are served on.",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(3),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Give a job back to the queue when its worker has not beaten for this long.",
)
@click.option(
    "--no-schedule",
    is_flag=True,
    help="Do not queue the accounts' periodic fetches from this worker (others still do).",
)
@pass_app
def worker(
    app: App,
    concurrency: int,
    queues: str,
    metrics_port: int | None,
    metrics_address: str,
    stalled_after: float,
    no_schedule: bool,
) -> None:
    """Run jobs from the task queue until stopped (SIGTERM or Ctrl-C finish the jobs
    in hand first).

    Every worker also queues each account's fetch on its schedule
    (`fetch_schedule`, every 15 minutes by default); the database makes sure a
    tick is queued once however many workers run. A job of a worker that died
    is queued again after a minute without its heartbeat.
    """
    from claimferry.errors import Interrupted

    database = _ready(app)
    workers = queue_module()
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(workers.QUEUES))
    if unknown or not wanted:
        raise click.BadParameter(
            f"unknown queue(s) {', '.join(unknown) or '(none)'}: "
            f"choose from {', '.join(workers.QUEUES)}",
            param_hint="--queues",
        )
    config = app.config()
    workers.use_setting(workers.Setting(app.pm, config, app.state_dir, database, stalled_after))
    from claimferry.postgres import pooled_connections

    # a job's ledger holds one connection (its sender lock too); metrics and
    # a job's second look (the payer list) may hold another
    with workers.queue_app(database) as jobs, pooled_connections(database, 2 * concurrency + 2):
        scheduled = 0 if no_schedule else workers.schedule_fetches(jobs, config)
        if metrics_port is not None:
            from claimferry.metrics import serve_metrics

            serve_metrics(
                database, app.state_dir, sorted(config.accounts), metrics_address, metrics_port
            )
            click.echo(f"metrics on http://{metrics_address}:{metrics_port}/metrics", err=True)
        click.echo(
            f"worker {workers.worker_name()}: queues {', '.join(wanted)}, concurrency "
            f"{concurrency}, {plural(scheduled, 'account')} on a fetch schedule",
            err=True,
        )
        try:
            jobs.run_worker(
                queues=wanted,
                concurrency=concurrency,
                name=workers.worker_name(),
                delete_jobs="successful",
                update_heartbeat_interval=workers.heartbeat_interval(stalled_after),
                stalled_worker_timeout=stalled_after,
            )
        except KeyboardInterrupt:
            raise Interrupted("worker stopped; jobs it had begun go back to the queue") from None


# -- enqueue ---------------------------------------------------------------------------


@click.group(
    "enqueue",
    cls=ClaimferryGroup,
    epilog=examples(
        "claimferry enqueue submit claims.yaml --account sunrise",
        "claimferry enqueue fetch --all",
    ),
)
def enqueue() -> None:
    """Queue a submit or a fetch for the workers; prints each job's id."""


@enqueue.command(
    "submit", epilog=examples("claimferry enqueue submit claims.yaml --account sunrise")
)
@click.argument("claims_path", metavar="CLAIMS", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--account", "account_name", required=True, help="The clinic account to send for.")
@click.option(
    "--resubmit", is_flag=True, help="Send claims already sent, as replacements (frequency 7)."
)
@json_option
@pass_app
def enqueue_submit(
    app: App, claims_path: Path, account_name: str, resubmit: bool, as_json: bool
) -> None:
    """Queue a claims file: it is checked here first, then kept in the state directory
    (which every worker must share) or, with ``archive: database``, in the database,
    until a worker has sent it."""
    from claimferry.cli.commands import _check

    account = app.account(account_name)
    database = _ready(app)
    workers = queue_module()
    # the same checks as submit, here, so that a bad file is told to whoever queues it
    checked = _check(app, claims_path, account_name, False, as_json, report_ok=False)
    with app.open_ledger() as ledger:
        queued = workers.queue_claims_file(ledger.archive, account.name, claims_path)
    with workers.queue_app(database) as jobs, jobs.open():
        job = jobs.configure_task(
            "claimferry.submit", lock=_sender(app, account), queue=workers.SUBMIT_QUEUE
        ).defer(account=account.name, claims_file=queued, resubmit=resubmit)
    if as_json:
        emit_json({"ok": True, "job": job, "account": account.name, **checked.json()})
    else:
        claims = plural(len(checked.claims), "claim")
        click.echo(f"queued job {job}: submit {claims} for {account.name}")


@enqueue.command(
    "fetch",
    epilog=examples("claimferry enqueue fetch --account sunrise", "claimferry enqueue fetch --all"),
)
@click.option("--account", "account_name", help="The account to fetch for.")
@click.option("--all", "all_accounts", is_flag=True, help="Every account in the config.")
@json_option
@pass_app
def enqueue_fetch(app: App, account_name: str | None, all_accounts: bool, as_json: bool) -> None:
    """Queue fetches; an account whose fetch is already waiting is not queued twice."""
    if bool(account_name) == all_accounts:
        raise click.UsageError("give --account NAME or --all")
    config = app.config()
    names = sorted(config.accounts) if all_accounts else [app.account(account_name or "").name]
    database = _ready(app)
    workers = queue_module()
    from procrastinate.exceptions import AlreadyEnqueued

    results: list[dict[str, Any]] = []
    with workers.queue_app(database) as jobs, jobs.open():
        for name in names:
            account = config.account(name)
            try:
                job = jobs.configure_task(
                    "claimferry.fetch",
                    lock=_sender(app, account),
                    queueing_lock=workers.fetch_lock(name),
                    queue=workers.FETCH_QUEUE,
                ).defer(account=name)
            except AlreadyEnqueued:
                results.append({"account": name, "job": None, "already_queued": True})
                continue
            results.append({"account": name, "job": job, "already_queued": False})
    if as_json:
        emit_json({"ok": True, "jobs": results})
        return
    for result in results:
        if result["already_queued"]:
            click.echo(f"{result['account']}: a fetch is already waiting; not queued again")
        else:
            click.echo(f"queued job {result['job']}: fetch for {result['account']}")


def _sender(app: App, account: Account) -> str:
    from claimferry.workers import sender_key

    clearinghouse = app.pm.get_clearinghouse(account.clearinghouse)
    return sender_key(clearinghouse.name, account.submitter_id)


# -- queue status ----------------------------------------------------------------------


@click.group(
    "queue",
    cls=ClaimferryGroup,
    epilog=examples("claimferry queue status", "claimferry queue status --json"),
)
def queue() -> None:
    """The task queue: jobs by state, workers alive, each account's last fetch."""


@queue.command("status", epilog=examples("claimferry queue status"))
@json_option
@pass_app
def queue_status(app: App, as_json: bool) -> None:
    """Jobs waiting, running and failed per queue, the oldest waiting, the workers
    alive, and for every account its last good fetch and whether its login is on hold."""
    from claimferry.metrics import read_status

    database = _ready(app)
    status = read_status(database, app.state_dir, sorted(app.config().accounts))
    if as_json:
        emit_json({"ok": True, **status.to_dict()})
        return
    click.echo(
        table(
            [
                [q.queue, str(q.todo), str(q.doing), str(q.failed), q.oldest_waiting or "-"]
                for q in status.queues
            ],
            ["queue", "waiting", "running", "failed", "oldest waiting"],
        )
    )
    click.echo(f"workers alive: {len(status.workers)}")
    click.echo(
        table(
            [
                [a.account, a.last_fetch or "never", a.last_failure or "-",
                 "ON HOLD" if a.login_on_hold else "ok"]
                for a in status.accounts
            ],
            ["account", "last good fetch", "last failure", "login"],
        )
    )  # fmt: skip
