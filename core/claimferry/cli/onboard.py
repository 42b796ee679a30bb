"""``claimferry onboard``: where each clinic stands on its way to production, and the
steps an operator takes (docs/onboarding.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import click

from claimferry import onboarding
from claimferry.cli.app import App, BadInput, emit_json, json_option, pass_app
from claimferry.cli.output import examples, table
from claimferry.config import Account, find_config
from claimferry.config_edit import set_mode
from claimferry.errors import ClaimferryError, safe_message
from claimferry.failpoints import failpoint
from claimferry.ledger import current_actor
from claimferry.storage import atomic_write


@click.group(
    epilog=examples("claimferry onboard status", "claimferry onboard status sunrise --json")
)
def onboard() -> None:
    """Take clinics from a new Office Ally account to production, step by step."""


def _clinics(app: App, accounts: list[Account]) -> list[onboarding.ClinicOnboarding]:
    now = datetime.now(UTC)
    max_age = app.config().payer_list_max_age_days
    with app.open_ledger() as ledger:
        return onboarding.onboarding_status(
            app.pm,
            ledger,
            app.state_dir,
            accounts,
            now=now,
            payer_list_max_age_days=max_age,
            database=app.database,
        )


@onboard.command(
    "status",
    epilog=examples("claimferry onboard status", "claimferry onboard status sunrise --json"),
)
@click.argument("account_name", metavar="[ACCOUNT]", required=False)
@json_option
@pass_app
def status(app: App, account_name: str | None, as_json: bool) -> None:
    """Each clinic's ten onboarding steps and its next action, and a summary.

    Steps 1 and 2 are marked by hand (`onboard mark`, `onboard request-sftp`);
    the others are read from the config, the credential store, the audit
    trail, the payer list, the enrollment records and the ledger.
    """
    accounts = [app.account(account_name)] if account_name else list(app.config().accounts.values())
    clinics = _clinics(app, accounts)
    summary = onboarding.summarize(clinics)
    if as_json:
        emit_json({"clinics": [c.as_json() for c in clinics], "summary": summary})
        return
    if account_name:
        _show_clinic(clinics[0])
        return
    rows = []
    for clinic in clinics:
        following = clinic.next_step
        rows.append(
            [
                clinic.account,
                f"{sum(s.done for s in clinic.steps)}/{len(clinic.steps)}",
                f"{following.number} {following.title}" if following else "done",
                (following.action or "-") if following else "-",
            ]
        )
    if rows:
        click.echo(table(rows, ["ACCOUNT", "DONE", "BLOCKED AT", "NEXT ACTION"]))
    blocked = ", ".join(f"{b['clinics']} at step {b['step']}" for b in summary["blocked_at"])
    click.echo(
        f"{summary['clinics']} clinic(s): {summary['in_production']} in production mode, "
        f"{summary['complete']} with all ten steps done"
        + (f"; blocked: {blocked}" if blocked else "")
    )


def _show_clinic(clinic: onboarding.ClinicOnboarding) -> None:
    click.echo(f"{clinic.account}:")
    width = max(len(step.title) for step in clinic.steps)
    for step in clinic.steps:
        mark = "x" if step.done else " "
        click.echo(f"  [{mark}] {step.number:>2} {step.title:<{width}}  {step.detail}")
    following = clinic.next_step
    if following is None:
        click.echo("  onboarding complete")
    else:
        click.echo(f"  next: {following.action}")


@onboard.command(
    "mark",
    epilog=examples(
        "claimferry onboard mark sunrise oa-account",
        "claimferry onboard mark sunrise sftp-requested --date 2026-12-01",
    ),
)
@click.argument("account_name", metavar="ACCOUNT")
@click.argument("step", type=click.Choice(onboarding.MARKED_STEPS))
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="When it happened, YYYY-MM-DD (default today).",
)
@json_option
@pass_app
def mark(app: App, account_name: str, step: str, on: datetime | None, as_json: bool) -> None:
    """Record a step only the clinic knows of: it opened its Office Ally account
    (oa-account) or asked Office Ally for an SFTP account (sftp-requested)."""
    account = app.account(account_name)
    day = _day(app, on)
    with app.open_ledger() as ledger:
        onboarding.mark_step(ledger, account.name, step, day)
    if as_json:
        emit_json({"account": account.name, "step": step, "date": day.isoformat()})
        return
    click.echo(f"{account.name}: {step} marked {day.isoformat()}")


def _day(app: App, on: datetime | None) -> date:
    day = on.date() if on is not None else app.today
    if day > app.today:
        raise BadInput(f"--date {day.isoformat()} is in the future")
    return day


@onboard.command(
    "request-sftp",
    epilog=examples(
        "claimferry onboard request-sftp sunrise",
        "claimferry onboard request-sftp sunrise -o sunrise-sftp-request.eml",
    ),
)
@click.argument("account_name", metavar="ACCOUNT")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the e-mail to this file (.eml) instead of printing it.",
)
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
@json_option
@pass_app
def request_sftp(
    app: App, account_name: str, output: Path | None, force: bool, as_json: bool
) -> None:
    """Write the e-mail the clinic sends Office Ally to ask for an SFTP account,
    and mark step 2 (sftp-requested) today.

    It goes from the clinic's registered address (onboarding.registered_email)
    to onboarding.sftp_request_to (support@officeally.com), with the clinic's
    Office Ally username, the contact's name, the software's name and "Type:
    HCFA". Office Ally answers with the SFTP username and the password in two
    e-mails: store them with `claimferry credentials set ACCOUNT`.
    """
    account = app.account(account_name)
    if output is not None and output.exists() and not force:
        raise BadInput(f"--output {output} exists; not overwritten (--force replaces it)")
    message = onboarding.sftp_request(account)
    text = message.as_string()
    if output is not None:
        atomic_write(output, text.encode("utf-8"), mode=0o644)
    with app.open_ledger() as ledger:
        onboarding.mark_step(ledger, account.name, "sftp-requested", app.today)
    if as_json:
        emit_json(
            {
                "account": account.name,
                "from": message["From"],
                "to": message["To"],
                "subject": message["Subject"],
                "body": message.get_content(),
                "file": str(output) if output else None,
                "marked": app.today.isoformat(),
            }
        )
        return
    if output is None:
        click.echo(text, nl=False)  # it ends its last line itself
    else:
        click.echo(f"wrote the SFTP request to {output}")
    click.echo(
        f"{account.name}: sftp-requested marked {app.today.isoformat()}; send it from "
        f"{message['From']}. Once Office Ally answers: claimferry credentials set {account.name}",
        err=True,
    )


@onboard.command(
    "promote",
    epilog=examples(
        "claimferry onboard promote sunrise", "claimferry onboard promote sunrise --force"
    ),
)
@click.argument("account_name", metavar="ACCOUNT")
@click.option(
    "--force",
    is_flag=True,
    help="Promote although steps 3-9 do not all hold; the audit trail records who did.",
)
@json_option
@pass_app
def promote(app: App, account_name: str, force: bool, as_json: bool) -> None:
    """Set the account's mode to production once steps 3 to 9 hold.

    Otherwise it lists what is missing and changes nothing (exit 1). The
    config keeps its comments and layout. A promotion with every step held
    records the clinic's completed onboarding (the onboarding_complete alert).
    """
    account = app.account(account_name)
    (clinic,) = _clinics(app, [account])
    missing = clinic.missing_for_production
    if missing and not force:
        lines = "\n".join(f"  {s.number} {s.title}: {s.detail}; {s.action}" for s in missing)
        raise ClaimferryError(
            f"{account.name} stays in test mode; missing:\n{lines}\n"
            f"(--force promotes anyway, recorded in the audit trail)"
        )
    if account.is_production and clinic.promoted_at is not None:
        raise ClaimferryError(f"{account.name} was promoted already ({clinic.promoted_at[:10]})")
    path = find_config(app.config_path)
    assert path is not None  # the account came from it
    forced = bool(missing)
    with app.open_ledger() as ledger:
        # the record first: whatever fails after it, a production clinic has one
        onboarding.record_promotion(ledger, account.name, missing, forced=forced)
        if not account.is_production:
            try:
                set_mode(path, account.name, "production", lambda d: app.check_config(d, str(path)))
            except BaseException as exc:  # interrupted too: the config was not replaced
                onboarding.promotion_failed(ledger, account.name, safe_message(exc))
                raise
        failpoint("promote-config-written")
        onboarding.promotion_done(ledger, account.name, forced=forced)
    if as_json:
        emit_json(
            {
                "account": account.name,
                "mode": "production",
                "forced": forced,
                "missing": [s.as_json() for s in missing],
                "by": current_actor(),
            }
        )
        return
    how = f"forced by {current_actor()}" if forced else "steps 3-9 hold"
    click.echo(f"{account.name}: mode production in {path} ({how})")
