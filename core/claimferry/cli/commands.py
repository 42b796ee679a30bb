"""The built-in commands."""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from claimferry import submission
from claimferry.claims import Claim
from claimferry.claims_input import check_claims_file
from claimferry.cli.app import WAIT_OPTION, App, BadInput, emit_json, json_option, pass_app
from claimferry.cli.findings import FindingsReport
from claimferry.cli.output import Display, examples, plural, progress
from claimferry.config import Account, find_config
from claimferry.errors import ClaimferryError
from claimferry.findings import has_errors
from claimferry.storage import atomic_write, sha256_hex
from claimferry.types import HostKey, ValidationContext

CLAIMS_ARG = click.argument(
    "claims_path", metavar="CLAIMS", type=click.Path(path_type=Path, dir_okay=False)
)


# -- findings ------------------------------------------------------------------------


_SHOWN = "claimferry.findings."
SHOWN_IMBALANCES = 5
"""An 835 whose every claim is off would print thousands of lines: these, then a count."""


def _shown(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Kept for :func:`_check`, the one place findings print: commands never see them."""
    ctx.meta[f"{_SHOWN}{param.name}"] = value
    return value


FINDINGS_OPTIONS = (
    click.option(
        "--all-findings",
        is_flag=True,
        expose_value=False,
        callback=_shown,
        help="Show every finding on its own line (as `claimferry -v validate ...` does: -v "
        "goes before the command); by default repeated ones are grouped.",
    ),
    click.option(
        "--max-findings",
        type=click.IntRange(1),
        metavar="N",
        expose_value=False,
        callback=_shown,
        help="Print at most N finding lines (--json always lists every finding).",
    ),
)


def findings_options(func: Any) -> Any:
    for option in reversed(FINDINGS_OPTIONS):
        func = option(func)
    return func


@dataclass(frozen=True)
class Checked:
    """A claims file that passed: its claims, and the findings (warnings) to report."""

    claims: list[Claim]
    report: FindingsReport

    def json(self) -> dict[str, Any]:
        """The findings part of a command's JSON document."""
        return {"findings": self.report.as_json(), "summary": self.report.summary()}


def _check(
    app: App,
    claims_path: Path,
    account_name: str | None,
    strict: bool,
    as_json: bool,
    *,
    report_ok: bool,
    skip_enrollment: bool = False,
) -> Checked:
    """Load and validate in one pass: schema, duplicate ids and every validator.

    Findings go to stdout with a summary line (in --json, into the command's
    document); when they block, exit code 2 and nothing is written or sent.
    With ``report_ok`` the caller prints the summary of a file that passed.
    """
    account = app.account(account_name) if account_name else None
    if skip_enrollment and account is not None and account.is_production:
        raise click.UsageError(
            f"--no-enrollment-check is refused for account {account.name}: it is in "
            "production mode, where an unenrolled claim is rejected days later"
        )
    with progress(as_json) as display:
        with display.step(f"reading {claims_path.name}"):
            checked = check_claims_file(claims_path, max_bytes=app.claims_file_limit)
        context = ValidationContext(
            account=account, today=app.today, state_dir=app.state_dir, database=app.database
        )
        validators = len(app.pm.enrollment_validators())
        what = f"validating {plural(checked.count, 'claim')}"
        with display.step(what, total=validators) as step:
            found = checked.findings + submission.validate_claims(
                app.pm,
                checked.claims,
                context,
                skip_enrollment=skip_enrollment,
                partial=checked.partial,
                started=lambda name: step.advance(f"{what}: {name}"),
            )
    unplaced = len(checked.order)
    found.sort(key=lambda f: -1 if f.claim_id is None else checked.order.get(f.claim_id, unplaced))
    report = FindingsReport(str(claims_path), checked.count, found, checked.payers)
    blocked = has_errors(found, strict=strict)
    if as_json and blocked:  # the findings, in the error document the group makes
        emit_json(Checked([], report).json())
    if not as_json:
        ctx = click.get_current_context()
        each = ctx.meta.get(f"{_SHOWN}all_findings") or ctx.find_root().params.get("verbose")
        for line in report.lines(each=bool(each), limit=ctx.meta.get(f"{_SHOWN}max_findings")):
            click.echo(line)
        if found and (blocked or not report_ok):
            click.echo(report.summary_line())
    if blocked:
        message = _blocked_message(report, strict)
        raise BadInput(message, code="invalid-claims", file=str(claims_path))
    return Checked(checked.claims, report)


def _blocked_message(report: FindingsReport, strict: bool) -> str:
    return f"{report.blocking(strict=strict)}: nothing was written or sent"


# -- validate / build ----------------------------------------------------------------


def _note_skipped_enrollment(app: App, claims_path: Path) -> None:
    """Say which checks did not run, so a clean result is not mistaken for a full one."""
    skipped = [v.name for v in app.pm.enrollment_validators() if v.kind == "enrollment"]
    if skipped:
        click.echo(
            f"note: payer and enrollment checks were skipped ({', '.join(skipped)}): they need "
            f"the account; run `claimferry validate {claims_path} --account NAME`",
            err=True,
        )


@click.command(
    epilog=examples(
        "claimferry validate claims.yaml",
        "claimferry validate claims.yaml --account sunrise --strict",
    )
)
@CLAIMS_ARG
@click.option("--account", "account_name", help="Also run checks that need the account.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@findings_options
@json_option
@pass_app
def validate(
    app: App, claims_path: Path, account_name: str | None, strict: bool, as_json: bool
) -> None:
    """Check a claims file: schema, content checks and every validator plugin.

    Payer and enrollment checks need the account: without --account they are
    skipped, and a note on stderr says so.
    """
    try:
        checked = _check(app, claims_path, account_name, strict, as_json, report_ok=True)
    except BadInput as exc:
        # Only a file that was read had checks to skip; an unreadable one has none.
        if account_name is None and exc.code == "invalid-claims":
            _note_skipped_enrollment(app, claims_path)
        raise
    if account_name is None:
        _note_skipped_enrollment(app, claims_path)
    if as_json:
        emit_json(checked.json())
    else:
        click.echo(f"{checked.report.summary_line()}: ok")


@click.command(epilog=examples("claimferry build claims.yaml --account sunrise -o out.837"))
@CLAIMS_ARG
@click.option("--account", "account_name", required=True, help="Account whose envelope to use.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the 837P (written atomically).",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--control-number",
    type=click.IntRange(1, 999_999_999),
    help=(
        "Use this ISA13 instead of taking the next one from the ledger (for a file you "
        "send yourself: the ledger neither checks nor records it, so it may repeat one)."
    ),
)
@findings_options
@json_option
@pass_app
def build(
    app: App,
    claims_path: Path,
    account_name: str,
    output: Path,
    strict: bool,
    control_number: int | None,
    as_json: bool,
) -> None:
    """Write an 837P file without sending it.

    Control numbers come from the ledger, so a built file never reuses one,
    unless --control-number overrides it.
    """
    checked = _check(app, claims_path, account_name, strict, as_json, report_ok=False)
    claims = checked.claims
    account = app.account(account_name)
    if len(claims) > account.interchange_limit:
        # one file, one control number: submit is what splits a batch into several
        raise BadInput(
            f"{claims_path}: {len(claims):,} claims are more than one 837P file holds for "
            f"account {account.name} (claims_per_interchange: {account.interchange_limit:,}); "
            f"'claimferry submit' sends them as "
            f"{len(submission.interchanges(claims, account.interchange_limit))} files, or split "
            "the claims file"
        )
    clearinghouse = app.pm.get_clearinghouse(account.clearinghouse)
    if control_number is None:
        sender = (clearinghouse.name, account.submitter_id)
        with app.open_ledger(sender=sender, fresh=app.init_ledger) as ledger:
            ledger.ensure_account(account.name, clearinghouse.name, account.submitter_id)
            control_number = ledger.next_control_number(account.name)
    with progress(as_json) as display, display.step(f"writing {plural(len(claims), 'claim')}"):
        data = submission.build_interchange(
            account, clearinghouse, claims, control_number, datetime.now(UTC).astimezone()
        )
    atomic_write(output, data, mode=0o600)
    result = {
        "file": str(output),
        "claims": len(claims),
        "size": len(data),
        "sha256": sha256_hex(data),
        "interchange_control_number": control_number,
    }
    if as_json:
        emit_json({**result, **checked.json()})
    else:
        click.echo(
            f"wrote {output}: {plural(len(claims), 'claim')}, {len(data)} bytes, "
            f"ISA13 {control_number:09d}, sha256 {result['sha256']}"
        )


# -- submit / fetch ------------------------------------------------------------------


@click.command(
    epilog=examples(
        "claimferry submit claims.yaml --account sunrise --dry-run",
        "claimferry submit claims.yaml --account sunrise",
    )
)
@CLAIMS_ARG
@click.option(
    "--account",
    "account_name",
    required=True,
    help="The clinic account whose envelope, credentials and ledger to use.",
)
@click.option("--dry-run", is_flag=True, help="Validate and build, but record and send nothing.")
@click.option(
    "--resubmit", is_flag=True, help="Send claims already sent, as replacements (frequency 7)."
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--no-enrollment-check",
    "skip_enrollment",
    is_flag=True,
    help="Skip enrollment validators (test mode only; refused in production).",
)
@WAIT_OPTION
@findings_options
@json_option
@pass_app
def submit(
    app: App,
    claims_path: Path,
    account_name: str,
    dry_run: bool,
    resubmit: bool,
    strict: bool,
    skip_enrollment: bool,
    wait: float,
    as_json: bool,
) -> None:
    """Validate, build, record and upload claims, exactly once.

    Batches an earlier run left pending are finished first. A claim id the
    payer may already hold (sent before and not rejected) is refused unless
    --resubmit is given or the file marks it a replacement or void.
    """
    _warn_unpromoted(app, app.account(account_name))
    checked = _check(
        app,
        claims_path,
        account_name,
        strict,
        as_json,
        report_ok=False,
        skip_enrollment=skip_enrollment,
    )
    if as_json:  # a refusal below (claims sent before) still carries the findings
        emit_json(checked.json())
    claims = checked.claims
    account = app.account(account_name)
    now = datetime.now(UTC).astimezone()
    clearinghouse = app.pm.get_clearinghouse(account.clearinghouse)
    if dry_run:
        sizes = [
            len(submission.build_interchange(account, clearinghouse, part, 1, now))
            for part in submission.interchanges(claims, account.interchange_limit)
        ]
        if as_json:
            emit_json(
                {
                    "dry_run": True,
                    "claims": len(claims),
                    "files": len(sizes),
                    "size": sum(sizes),
                    **checked.json(),
                }
            )
        else:
            click.echo(
                f"dry run: {plural(len(claims), 'claim')} would be sent "
                f"({plural(len(sizes), 'file')}, {sum(sizes)} bytes); nothing recorded or sent"
            )
        return
    sending = f"sending {plural(len(claims), 'claim')} for {account.name}"
    with (
        app.open_ledger(
            sender=(clearinghouse.name, account.submitter_id), fresh=app.init_ledger
        ) as ledger,
        progress(as_json) as display,
        display.step(sending),
    ):
        outcome = submission.submit_claims(
            app.pm,
            ledger,
            account,
            claims,
            now=now,
            resubmit=resubmit,
            progress=display.messages,
            wait=wait,
            on_interrupt=_say if as_json else display.say,
        )
        rows: list[dict[str, Any]] = [
            {
                "batch": b.id,
                "remote_name": b.remote_name,
                "size": b.size,
                "sha256": b.sha256,
                "host_fingerprint": b.host_fingerprint,
                "claims": len(ledger.claims(batch_id=b.id)),
            }
            for b in outcome.delivered
        ]
    if as_json:
        emit_json({"delivered": rows, **checked.json()})
        return
    for row in rows:
        click.echo(
            f"uploaded {row['remote_name']}  {row['size']} bytes  sha256 {row['sha256']}  "
            f"(batch {row['batch']}, {plural(row['claims'], 'claim')})"
        )


def _say(message: str) -> None:
    """For the operator even under --json: the answer to their Ctrl-C."""
    click.echo(message, err=True)


def _warn_unpromoted(app: App, account: Account) -> None:
    """Production mode set by hand skips the onboarding checks of ``onboard promote``."""
    if not account.is_production:
        return
    from claimferry import onboarding  # production accounts only

    with app.open_ledger() as ledger:
        promoted = onboarding.was_promoted(ledger, account.name)
    if not promoted:
        click.echo(
            f"warning: {account.name} is in production mode but was never promoted: "
            f"see `claimferry onboard status {account.name}`",
            err=True,
        )


@click.command(
    epilog=examples("claimferry fetch --account sunrise", "claimferry fetch --all --jobs 8")
)
@click.option("--account", "account_name", help="The account to fetch for.")
@click.option("--all", "all_accounts", is_flag=True, help="Every account in the config.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Accounts fetched at once with --all.",
)
@WAIT_OPTION
@json_option
@pass_app
def fetch(
    app: App,
    account_name: str | None,
    all_accounts: bool,
    jobs: int,
    wait: float,
    as_json: bool,
) -> None:
    """Download new response files into the archive. Running it twice is harmless."""
    if bool(account_name) == all_accounts:
        raise click.UsageError("give --account NAME or --all")
    from claimferry import fetching, notify  # the response readers: fetch only

    config = app.config()
    names = sorted(config.accounts) if all_accounts else [app.account(account_name or "").name]

    def warn(message: str) -> None:
        click.echo(message, err=True)

    failing: set[str] = set()  # notifiers that failed in this run: not tried again until the next

    def one(name: str, display: Display) -> dict[str, Any]:
        account = config.account(name)
        alerts: list[notify.Delivery] = []
        try:
            with app.open_ledger() as ledger:
                try:
                    files = fetching.fetch_account(
                        app.pm,
                        ledger,
                        account,
                        display.messages,
                        wait,
                        # after the fetch, failed or not (a login put on hold is news too)
                        after=lambda locked: notify.collect_after_fetch(
                            locked, config, account, warn
                        ),
                    )
                except Exception:  # failed: its alerts still go (Ctrl-C stops at once)
                    alerts = notify.deliver_after_fetch(
                        app.pm, ledger, config, account, warn, failing
                    )
                    raise
                alerts = notify.deliver_after_fetch(app.pm, ledger, config, account, warn, failing)
        except ClaimferryError as exc:
            return _with_alerts({"account": name, "error": str(exc), "files": []}, alerts)
        except Exception as exc:  # one account's bug must not hide the others' results
            logging.getLogger("claimferry").debug("fetch of %s failed", name, exc_info=True)
            error = f"unexpected internal error ({exc.__class__.__name__}); rerun with -vv"
            return _with_alerts({"account": name, "error": error, "files": []}, alerts)
        return _with_alerts(
            {
                "account": name,
                "files": [
                    {
                        "name": f.remote_name,
                        "size": f.size,
                        "sha256": f.sha256,
                        "archive": str(f.archive_path) if f.archive_path else None,
                        "kind": f.kind,
                        "claims_updated": f.claims,
                        "error": f.error,
                    }
                    | ({"imbalances": list(f.imbalances)} if f.imbalances else {})
                    for f in files
                ],
            },
            alerts,
        )

    def _with_alerts(result: dict[str, Any], alerts: list[notify.Delivery]) -> dict[str, Any]:
        if alerts:  # absent when no digest was due: the output stays as it was
            result["alerts"] = [delivery.to_dict() for delivery in alerts]
        return result

    # Accounts of one sender share its lock: they take turns in one worker
    # rather than finding each other holding it.
    senders: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in names:
        account = config.account(name)
        senders[(account.clearinghouse, account.submitter_id)].append(name)
    with (
        progress(as_json) as display,
        display.step(f"fetching for {plural(len(names), 'account')}", total=len(names)) as step,
        ThreadPoolExecutor(max_workers=min(jobs, len(senders))) as pool,
    ):

        def turns(group: list[str]) -> list[dict[str, Any]]:
            results = []
            for name in group:
                results.append(one(name, display))
                step.advance()
            return results

        by_name = {r["account"]: r for group in pool.map(turns, senders.values()) for r in group}
    results = [by_name[name] for name in names]
    if as_json:
        emit_json(results)
    else:
        for result in results:
            if "error" in result:
                click.echo(f"{result['account']}: error: {result['error']}", err=True)
                continue
            click.echo(f"{result['account']}: {len(result['files'])} new file(s)")
            for f in result["files"]:
                if not f["error"]:
                    read = f"{f['kind']}, {f['claims_updated']} claim update(s)"
                elif f["archive"] is None:
                    read = f"SKIPPED: {f['error']}"
                else:
                    read = f"UNREADABLE: {f['error']}"
                click.echo(f"  {f['name']}  {f['size']} bytes  {read}")
                imbalances = f.get("imbalances", [])
                for imbalance in imbalances[:SHOWN_IMBALANCES]:
                    click.echo(f"    NOT BALANCED (recorded as sent): {imbalance}")
                if len(imbalances) > SHOWN_IMBALANCES:
                    more = len(imbalances) - SHOWN_IMBALANCES
                    click.echo(f"    ... and {more} more (see 'claimferry remits list --json')")
            for alert in result.get("alerts", []):
                if alert["delivered"]:
                    click.echo(f"  alerts: {alert['alerts']} sent to {alert['notifier']}")
    failed = [r for r in results if "error" in r]
    files = [f for r in results for f in r["files"] if f["error"]]
    skipped = sum(1 for f in files if f["archive"] is None)
    unreadable = len(files) - skipped
    problems = []
    if failed:
        problems.append(f"{len(failed)} of {len(results)} account(s) failed")
    if skipped:
        problems.append(
            f"{skipped} response file(s) could not be downloaded (the next fetch tries again)"
        )
    if unreadable:
        problems.append(
            f"{unreadable} response file(s) could not be read (kept in the archive; "
            "see 'claimferry show FILE')"
        )
    if problems:
        raise ClaimferryError("; ".join(problems))


# -- plugins -------------------------------------------------------------------------


@click.command(epilog=examples("claimferry plugins", "claimferry plugins --json"))
@json_option
@pass_app
def plugins(app: App, as_json: bool) -> None:
    """List every plugin with what it registers, and plugins that failed to load."""
    table, hook_failures = app.pm.registrations()
    rows: list[dict[str, Any]] = []
    for name, hooks in sorted(table.items()):
        info = app.pm.plugin_info(name)
        rows.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "registers": {
                    hook.removeprefix("claimferry_"): names for hook, names in sorted(hooks.items())
                },
            }
        )
    failures = [asdict(f) for f in app.pm.load_failures]
    hook_errors = [asdict(f) for f in hook_failures]
    if as_json:
        emit_json({"plugins": rows, "failed": failures, "hook_errors": hook_errors})
        return
    for row in rows:
        origin = f"{row['distribution']} {row['version']}" if row["distribution"] else "local"
        click.echo(f"{row['name']}  ({origin}{', built-in' if row['builtin'] else ''})")
        registers: dict[str, list[str]] = row["registers"]
        for hook, names in registers.items():
            click.echo(f"    {hook}: {', '.join(names)}")
    for failure in failures:
        click.echo(
            f"{failure['name']}  FAILED TO LOAD ({failure['distribution']}): {failure['error']}"
        )
    for error in hook_errors:
        click.echo(f"{error['plugin']}  FAILED in {error['hook']}: {error['error']}")


# -- hostkey -----------------------------------------------------------------------


@click.command(epilog=examples("claimferry hostkey sunrise", "claimferry hostkey sunrise --pin"))
@click.argument("account_name", metavar="ACCOUNT")
@click.option(
    "--pin",
    is_flag=True,
    help="Write the server's key into the accounts config as sftp.host_key (asks first).",
)
@click.option("--yes", is_flag=True, help="With --pin: pin without asking.")
@json_option
@pass_app
def hostkey(app: App, account_name: str, pin: bool, yes: bool, as_json: bool) -> None:
    """Show the server's host key; exit 1 when it differs from the pinned one.

    It does not log in. Compare the fingerprint with one the clearinghouse
    gave you out of band before pinning it. --pin writes it as sftp.host_key,
    for this account and every other account that pinned the same old key for
    the same server, keeping the config's comments and layout.
    """
    account = app.account(account_name)
    transport = app.pm.get_transport(app.pm.get_clearinghouse(account.clearinghouse).transport)
    if transport.probe_host_key is None:
        raise ClaimferryError(f"transport {transport.name} cannot show host keys")
    config_path = find_config(app.config_path)
    assert config_path is not None  # the account came from it
    pinned = _pinned_key(account)
    key = transport.probe_host_key(account)
    matches = pinned is not None and pinned.openssh == key.openssh
    to_pin = [] if matches or not pin else _accounts_pinning(app, account, pinned)
    if to_pin and not yes:
        _show_key(account.name, key, pinned, err=True)
        names = ", ".join(to_pin)
        try:
            agreed = click.confirm(
                f"Pin {key.key_type} {key.fingerprint} for {names} in {config_path}?",
                err=True,
            )
        except click.Abort:
            agreed = False
        if not agreed:
            raise ClaimferryError("nothing pinned; pass --yes to pin without asking")
    if to_pin:
        from claimferry.config_edit import pin_host_key  # ruamel.yaml: only to edit the config

        pin_host_key(config_path, to_pin, key.openssh)
    if as_json:
        emit_json(
            {
                "account": account.name,
                "key_type": key.key_type,
                "fingerprint": key.fingerprint,
                "host_key": key.openssh,
                "pinned": pinned is not None,
                "pinned_fingerprint": pinned.fingerprint if pinned else None,
                "matches_pinned": matches,
                "pinned_now": to_pin,
            }
        )
    else:
        _show_key(account.name, key, pinned, err=False)
        if to_pin:
            click.echo(f"  pinned in {config_path} for {', '.join(to_pin)}")
        elif not matches:
            click.echo(f"  pin with:  claimferry hostkey {account.name} --pin")
    if pinned is not None and not matches and not to_pin:
        raise ClaimferryError(
            f"the server's host key differs from the one pinned for {account.name}: "
            f"check {key.fingerprint} with the clearinghouse out of band, then run "
            f"`claimferry hostkey {account.name} --pin`"
        )


def _pinned_key(account: Account) -> HostKey | None:
    """The pinned key; the config checked it whole when it was loaded."""
    text = account.sftp.host_key if account.sftp else None
    return HostKey.from_openssh(text) if text is not None else None


def _accounts_pinning(app: App, account: Account, old: HostKey | None) -> list[str]:
    """The account, and the others that pinned ``old`` for its server: the same
    server's key changed for all of them."""
    names = [account.name]
    if old is None or account.sftp is None:
        return names
    for other in app.config().accounts.values():
        sftp = other.sftp
        if (
            other.name != account.name
            and sftp is not None
            and (sftp.host, sftp.port) == (account.sftp.host, account.sftp.port)
            and sftp.host_key is not None
            and sftp.host_key.split()[:2] == old.openssh.split()
        ):
            names.append(other.name)
    return names


def _show_key(name: str, key: HostKey, pinned: HostKey | None, *, err: bool) -> None:
    click.echo(f"{name}: {key.key_type} {key.fingerprint}", err=err)
    if pinned is None:
        click.echo("  nothing pinned (sftp.host_key)", err=err)
        return
    click.echo(f"  pinned:    {pinned.key_type} {pinned.fingerprint}", err=err)
    if pinned.openssh == key.openssh:
        click.echo("  matches the pinned key", err=err)
    else:
        click.echo("  DIFFERS from the pinned key", err=err)
