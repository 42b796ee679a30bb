"""Building the click group. No hook runs at import time: plugins load in ``create_cli``.

Start-up is paid by every command, a shell completion and a script that asks
``claimferry status`` per account: this module imports click and little else,
and a command's module (with the claim model, the ledger, paramiko...) is
imported only when that command runs (:class:`LazyCommand`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from claimferry import __version__
from claimferry.cli.output import examples
from claimferry.errors import ClaimferryError, ConfigError, InputError, Interrupted, Problem

if TYPE_CHECKING:
    from claimferry.config import Account, Config
    from claimferry.ledger import Ledger
    from claimferry.manager import PluginManager
    from claimferry.types import Notifier

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Failure(click.ClickException):
    """A failure as claimferry writes it on stderr: ``error: ...``, the prefix its
    findings use too (click's own is ``Error:``); each problem on its own line,
    then the message. Exit code 1 unless a subclass says otherwise."""

    def __init__(
        self, message: str, problems: Sequence[Problem] = (), *, exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.problems = list(problems)
        if exit_code is not None:
            self.exit_code = exit_code  # type: ignore[misc]  # click's own, kept

    def show(self, file: Any = None) -> None:
        for problem in self.problems:
            click.echo(f"error: {problem}", err=True)
        if self.message:
            click.echo(f"error: {self.format_message()}", err=True)


class InputProblem(Failure):
    """Bad input: every problem on its own line, exit code 2."""

    exit_code = 2

    def __init__(self, error: InputError) -> None:
        super().__init__("", error.problems)

    def format_message(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class BadInput(Failure):
    """Bad input found after argument parsing: exit code 2, like click's usage errors.

    ``code`` and ``file`` go into the ``--json`` error document.
    """

    exit_code = 2

    def __init__(self, message: str, *, code: str = "input", file: str | None = None) -> None:
        super().__init__(message)
        self.code, self.file = code, file


def command_error(message: str, exit_code: int) -> click.ClickException:
    return BadInput(message) if exit_code == 2 else Failure(message)


@dataclass
class App:
    """What every command needs, made on first use."""

    pm: PluginManager
    config_path: Path | None
    today: date = field(default_factory=date.today)
    state_dir_override: Path | None = None
    """A state directory that wins over every other setting (the demo's own)."""
    init_ledger: bool = False
    """``--init``: this run may start a ledger for a sender on purpose."""
    _config: Config | None = None
    _config_file: Path | None = None

    def config(self) -> Config:
        if self._config is None:
            from claimferry.config import find_config, load_config

            path = find_config(self.config_path)
            if path is None:
                raise ConfigError(
                    [
                        Problem(
                            "config",
                            "",
                            "no accounts config: pass --config FILE or set CLAIMFERRY_CONFIG",
                        )
                    ]
                )
            names = self._plugin_names()  # hook order: clearinghouses, sources, notifiers
            self._config_file = path
            self._config = load_config(path, notifiers=self._notifiers(), **names)
        return self._config

    def check_config(self, data: object, source: str) -> Config:
        """A config about to be written, checked as one read from a file is."""
        from claimferry.config import check_config

        names = self._plugin_names()
        return check_config(data, source, notifiers=self._notifiers(), **names)

    def _plugin_names(self) -> dict[str, set[str] | None]:
        return {
            "clearinghouses": self._installed(self.pm.clearinghouses),
            "credential_sources": self._installed(self.pm.credential_sources),
        }

    @staticmethod
    def _installed(listing: Callable[[], list[Any]]) -> set[str] | None:
        """The plugins' names; ``None`` (not checked) when a plugin's hook fails:
        ``claimferry plugins`` reports that, and a command that needs none runs."""
        try:
            return {item.name for item in listing()}
        except ClaimferryError:
            return None

    def _notifiers(self) -> dict[str, Notifier] | None:
        """The installed notifiers by name; ``None`` (not checked) when a hook fails."""
        try:
            return {notifier.name: notifier for notifier in self.pm.notifiers()}
        except ClaimferryError:
            return None

    def account(self, name: str) -> Account:
        """The config's account; an unknown name is bad input naming the config file."""
        config = self.config()
        if name not in config.accounts:
            known = ", ".join(sorted(config.accounts)) or "none"
            raise ConfigError(
                [
                    Problem(
                        str(self._config_file),
                        f"accounts.{name}",
                        f"no such account (known: {known})",
                    )
                ]
            )
        return config.accounts[name]

    def account_filter(self, name: str | None, ledger: Ledger) -> str | None:
        """An ``--account`` filter: an unknown name is a mistake (a typo), not
        "nothing found". Known are the config's accounts and the ledger's."""
        if name is None:
            return None
        config = self._config_if_any()
        known = ledger.account_names() | set(config.accounts if config is not None else ())
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            ledger_at = f"the ledger in {self.state_dir}"
            where = f"the config or {ledger_at}" if config else f"{ledger_at} (no config given)"
            raise InputError(
                [Problem("--account", name, f"no such account in {where} (known: {listed})")]
            )
        return name

    def say_state_dir(self) -> None:
        """On stderr, which state directory a report reads: a copied config or a
        changed CLAIMFERRY_STATE_DIR shows at once, never as an empty report."""
        click.echo(f"state directory: {self.state_dir}", err=True)

    @property
    def state_dir(self) -> Path:
        if self.state_dir_override is not None:
            return self.state_dir_override
        from claimferry.config import state_dir_for

        return state_dir_for(self._config_if_any())

    @property
    def database(self) -> str | None:
        """The config's ``database`` (``CLAIMFERRY_DATABASE`` wins; see Ledger.open)."""
        config = self._config_if_any()
        return config.database if config is not None else None

    def open_ledger(self, *, sender: tuple[str, str] | None = None, fresh: bool = False) -> Ledger:
        """The ledger of this run's state directory and database."""
        from claimferry.ledger import Ledger

        config = self._config_if_any()
        return Ledger.open(
            self.state_dir,
            sender=sender,
            fresh=fresh,
            database=self.database,
            archive=config.archive if config is not None else "directory",
        )

    @property
    def claims_file_limit(self) -> int:
        """Bytes; from the environment, or the config when there is one."""
        from claimferry.config import claims_file_limit

        return claims_file_limit(self._config_if_any())

    def _config_if_any(self) -> Config | None:
        """Commands such as ``validate`` run without a config; settings then come
        from the environment or their defaults."""
        from claimferry.config import find_config

        if self._config is not None or find_config(self.config_path) is not None:
            return self.config()
        return None


pass_app = click.make_pass_decorator(App)


JSON_REQUESTED = "claimferry.json"
"""``ctx.meta`` key: the command's ``--json`` flag was given (read when it fails)."""
DOCUMENT = "claimferry.document"
"""``ctx.meta`` key: the JSON document the command made, printed once it ends."""


class Interrupt(Failure):
    """Ctrl-C: the message says where the work stopped; exit code 130."""

    exit_code = Interrupted.exit_code


def error_document(exc: click.ClickException, code: str, problems: list[Problem]) -> dict[str, Any]:
    """``{"ok": false, "error": {...}}``, the shape docs/configuration.md gives."""
    listed = [_problem_json(p) for p in problems]
    where = listed[0] if listed else {"file": getattr(exc, "file", None), "path": None}
    param = getattr(exc, "param", None)
    if isinstance(exc, click.UsageError) and param is not None:
        option = isinstance(param, click.Option) and param.opts
        where = {"file": None, "path": param.opts[0] if option else param.human_readable_name}
    return {
        "ok": False,
        "error": {
            "code": code,
            "message": exc.format_message(),
            "file": where["file"],
            "path": where["path"],
            "problems": listed,
        },
    }


def _problem_json(problem: Problem) -> dict[str, str | None]:
    """A problem's file and path; a command-line option (``--account``) is a path."""
    if problem.source.startswith("-"):
        return {"file": None, "path": problem.source, "message": problem.message}
    return {"file": problem.source, "path": problem.location or None, "message": problem.message}


class LazyCommand(click.Command):
    """A command listed by ``--help`` with its summary, and imported only when it
    runs (or its own help is asked for).

    ``target`` is ``"module:name"``: a click command, or a function that makes one.
    A plugin may register one of these in ``claimferry_cli_commands`` too, so that
    its command's imports are not paid by every other command.
    """

    def __init__(self, name: str, target: str, summary: str) -> None:
        super().__init__(name, help=summary)
        self.target = target

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        found = getattr(import_module(module), attribute)
        command = found if isinstance(found, click.Command) else found()
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """In a group that does not load it first (any click group): the real
        command parses the arguments and runs."""
        return self.load().make_context(info_name, args, parent=parent, **extra)


BUILT_IN = [
    LazyCommand(name, f"claimferry.cli.{module}:{name}", summary)
    for name, module, summary in [
        ("validate", "commands", "Check a claims file: schema, content checks and every "
         "validator plugin."),
        ("build", "commands", "Write an 837P file without sending it."),
        ("submit", "commands", "Validate, build, record and upload claims, exactly once."),
        ("fetch", "commands", "Download new response files into the archive."),
        ("status", "lifecycle", "Each claim's lifecycle: uploaded, acknowledged, paid or "
         "denied, with reasons."),
        ("remits", "remits", "Payments received (835s): list them, export them line by line "
         "for posting."),
        ("secondary", "secondary", "Secondary and tertiary claims (coordination of benefits)."),
        ("convert", "convert", "Write the claims of an 837P file as a claims file to read, edit "
         "and submit."),
        ("batches", "batches", "List batches; resend or abandon one whose delivery is "
         "uncertain."),
        ("show", "lifecycle", "Render a response file (TA1, 999, 277CA, 835, clearinghouse "
         "reports) or an 837P we sent (claims, lines, totals, envelope) for a person."),
        ("audit", "lifecycle", "The append-only audit trail: who, when, which account, host, "
         "file, size, SHA-256."),
        ("enrollment", "enrollment", "Payer enrollment records per account: EDI enrollment "
         "for claims (837P), ERA (835)."),
        ("plugins", "commands", "List every plugin with what it registers, and plugins that "
         "failed to load."),
        ("plugin", "scaffold", "Start a plugin of your own (see docs/plugins.md)."),
        ("hostkey", "commands", "Show the server's host key; exit 1 when it differs from the "
         "pinned one."),
        ("credentials", "credentials", "Test an account's login; keep SFTP secrets in the "
         "encrypted credential store."),
        ("accounts", "accounts", "List, show, add and remove clinic accounts in the accounts "
         "config."),
        ("onboard", "onboard", "Take clinics from a new Office Ally account to production, "
         "step by step."),
        ("db", "db", "The state database: where the ledger is, its schema version, moving it "
         "to PostgreSQL."),
        ("worker", "queue", "Run jobs from the task queue until stopped (SIGTERM or Ctrl-C finish "
         "the jobs in hand first)."),
        ("enqueue", "queue", "Queue a submit or a fetch for the workers; prints each job's id."),
        ("queue", "queue", "The task queue: jobs by state, workers alive, each account's last "
         "fetch."),
    ]
]  # fmt: skip
"""The built-in commands, by module; each summary is its docstring's first
paragraph (a test holds them equal)."""


class ClaimferryGroup(click.Group):
    """Turns claimferry's errors into messages and exit codes, never tracebacks.

    Under ``--json`` the failure is a JSON document on stdout instead; the
    document a command made is printed here, after it ends, so that a command
    failing after it reported still writes exactly one document.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """A listed :class:`LazyCommand` is imported here, when it is about to run."""
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, LazyCommand) and name is not None:
            command = self.commands[name] = command.load()
        return name, command, rest

    def load_all(self) -> None:
        """Import every listed command, for what walks the whole tree (the checks
        that every option has help, that the docs name real commands)."""
        for name, command in list(self.commands.items()):
            if isinstance(command, LazyCommand):
                self.commands[name] = command.load()

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is None:
            # Failures before the command's own options are read (``--init``, an
            # unknown command) are JSON too when its arguments ask for it.
            args = ctx.args[: ctx.args.index("--")] if "--" in ctx.args else ctx.args
            if "--json" in args:
                ctx.meta[JSON_REQUESTED] = True
        try:
            result = super().invoke(ctx)
        except click.exceptions.Exit:
            _print_document(ctx)
            raise
        except BrokenPipeError:
            # `claimferry status | head`: the reader has all it wanted. Quiet, and
            # stdout pointed away so that Python's exit-time flush cannot complain.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(1) from None
        except (Exception, KeyboardInterrupt) as exc:
            failure, code, problems = _failure(exc)
            if not ctx.meta.get(JSON_REQUESTED):
                raise failure from None
            failure.show()  # the same text on stderr, for the person reading the job's log
            document = error_document(failure, code, problems)
            made = ctx.meta.pop(DOCUMENT, None)
            if isinstance(made, dict):
                document |= {k: v for k, v in made.items() if k not in document}
            elif made is not None:
                document["results"] = made
            _echo_json(document)
            raise click.exceptions.Exit(failure.exit_code) from None
        _print_document(ctx)
        return result


def _failure(exc: BaseException) -> tuple[click.ClickException, str, list[Problem]]:
    """The click exception that shows ``exc`` as text, its ``code`` and its problems."""
    if isinstance(exc, InputError):
        return InputProblem(exc), exc.code, exc.problems
    if isinstance(exc, ClaimferryError):
        if exc.exit_code == 2:
            return BadInput(str(exc)), exc.code, []
        problems: list[Problem] = getattr(exc, "problems", [])
        return Failure(str(exc), problems), exc.code, problems
    if isinstance(exc, BadInput):
        return exc, exc.code, []
    if isinstance(exc, click.UsageError):
        return exc, "usage", []
    if isinstance(exc, Failure):
        return exc, "failed", []
    if isinstance(exc, click.ClickException):
        return Failure(exc.format_message(), exit_code=exc.exit_code), "failed", []
    if isinstance(exc, click.Abort):
        return Failure("aborted: nothing more was done"), "aborted", []
    if isinstance(exc, KeyboardInterrupt):
        message = str(exc) or "interrupted (Ctrl-C)"
        return Interrupt(message), Interrupted.code, []
    # A bug, not bad input: the traceback goes to the debug log (-vv),
    # the operator gets one line to report.
    logging.getLogger("claimferry").debug("unexpected error", exc_info=exc)
    return (
        Failure(
            f"unexpected internal error ({exc.__class__.__name__}). What was recorded "
            "before it stands ('claimferry batches list'); the next run picks up from "
            "there. Rerun with -vv for the details and report it"
        ),
        "internal",
        [],
    )


def _print_document(ctx: click.Context) -> None:
    """A success: an object document says ``"ok": true`` first, as a failure says
    false; a list (``payers search``, ``fetch``) stays a list."""
    if DOCUMENT in ctx.meta:
        made = ctx.meta.pop(DOCUMENT)
        _echo_json({"ok": True} | made if isinstance(made, dict) else made)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _json_requested(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_REQUESTED] = True
    return value


def json_option(func: F) -> F:
    """``--json``; eager, so that even a usage error in the other options is a
    JSON document."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        callback=_json_requested,
        help="Print the result, or the error, as one JSON document on stdout.",
    )(func)


WAIT_OPTION = click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait while another run works for the same sender (one at a time).",
)


def emit_json(data: Any) -> None:
    """The command's one JSON document; under claimferry's group it is printed
    when the command ends (merged into the error document if it then fails)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.find_root().command, ClaimferryGroup):
        ctx.meta[DOCUMENT] = data
    else:
        _echo_json(data)


def create_cli(pm: PluginManager | None = None) -> click.Group:
    """Build the CLI; ``pm`` lets tests pass a fresh plugin manager."""
    if pm is None:
        from claimferry.manager import PluginManager

        pm = PluginManager().load()
    manager = pm

    @click.group(
        cls=ClaimferryGroup,
        context_settings=CONTEXT_SETTINGS,
        epilog=examples(
            "claimferry demo",
            "claimferry --config accounts.yaml submit claims.yaml --account sunrise",
        ),
    )
    @click.version_option(__version__, "--version", prog_name="claimferry")
    @click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="CLAIMFERRY_CONFIG",
        help="Accounts config file (or CLAIMFERRY_CONFIG).",
    )
    @click.option(
        "-v",
        "--verbose",
        count=True,
        help="More logging on stderr (-vv for debug, -vvv adds SSH-level debug).",
    )
    @click.option(
        "--init",
        "init_ledger",
        is_flag=True,
        help=(
            "Start a new ledger on purpose where the state directory's archive holds files "
            "sent by a ledger that is lost (the old file is kept aside)."
        ),
    )
    @click.pass_context
    def cli(ctx: click.Context, config_path: Path | None, verbose: int, init_ledger: bool) -> None:
        """Send professional claims (X12 837P) through a clearinghouse and track their fate."""
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
        # paramiko logs every reset connection as an ERROR; claimferry reports
        # failures itself, so paramiko stays quiet without -v, shows warnings up
        # to -vv (claimferry's own debug log), and its packet-level debug at -vvv.
        paramiko = {0: logging.CRITICAL, 1: logging.WARNING, 2: logging.WARNING}
        logging.getLogger("paramiko").setLevel(paramiko.get(verbose, logging.DEBUG))
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        ctx.obj = app = App(manager, config_path, init_ledger=init_ledger)
        if init_ledger:
            from claimferry.ledger import Ledger

            click.echo(Ledger.initialize(app.state_dir, app.database), err=True)

    for built_in in BUILT_IN:
        cli.add_command(built_in)
    for failure in manager.load_failures:
        click.echo(
            f"warning: plugin {failure.name} ({failure.distribution}) failed to load: "
            f"{failure.error}",
            err=True,
        )
    try:
        extra = manager.cli_commands()
    except ClaimferryError as exc:
        click.echo(f"warning: {exc}", err=True)
        extra = []
    for command in extra:
        if command.name in cli.commands:
            click.echo(
                f"warning: plugin command {command.name!r} clashes with a built-in; ignored",
                err=True,
            )
            continue
        cli.add_command(command.command, command.name)
    return cli


def main() -> None:
    try:
        cli = create_cli()
    except ClaimferryError as exc:
        # Loading plugins failed (a misspelt hook): no command can run, not even --help.
        command_error(str(exc), exc.exit_code).show()
        sys.exit(exc.exit_code)
    cli(prog_name="claimferry")
