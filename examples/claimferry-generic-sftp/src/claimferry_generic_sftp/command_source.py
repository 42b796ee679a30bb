"""The ``command`` credential source: secrets from a password manager's CLI.

The account names a command (``["pass", "show", "clinic/sftp"]``,
``["op", "read", "op://clinic/sftp/password"]``, ``["vault", "kv", "get", ...]``);
it runs without a shell and without input, and what it prints is the secret.
Its output (stdout and stderr) never reaches a log or an error message: errors
say which command failed and how, and to run it by hand to see why.
"""

from __future__ import annotations

import subprocess
from typing import Any

from claimferry.api import Account, CredentialError, Credentials, CredentialSource, SecretStr

FORMATS = ("first-line", "key-value")
DEFAULT_TIMEOUT = 30.0


def _fail(account: Account, message: str) -> CredentialError:
    return CredentialError(f"account {account.name}: credentials (source command): {message}")


def _argv(account: Account, settings: dict[str, Any]) -> list[str]:
    command = settings.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str) and part for part in command)
    ):
        raise _fail(
            account,
            "'command' must be a list of words, e.g. [pass, show, clinic/sftp] "
            "(it runs without a shell)",
        )
    return command


def _timeout(account: Account, settings: dict[str, Any]) -> float:
    value = settings.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(account, "'timeout' must be a number of seconds above 0")
    return float(value)


def _run(account: Account, argv: list[str], timeout: float) -> str:
    program = argv[0]
    try:
        done = subprocess.run(  # noqa: S603 - the operator's own command, no shell
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise _fail(account, f"command {program!r} not found (installed, and on PATH?)") from None
    except PermissionError:
        raise _fail(account, f"command {program!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise _fail(
            account,
            f"command {program!r} did not finish within {timeout:g}s (is it waiting for a "
            "passphrase or a login? unlock the password manager first)",
        ) from None
    except OSError as exc:
        raise _fail(account, f"command {program!r} could not run: {exc.strerror}") from None
    if done.returncode < 0:
        raise _fail(account, f"command {program!r} was killed by signal {-done.returncode}")
    if done.returncode != 0:
        raise _fail(
            account,
            f"command {program!r} exited with status {done.returncode}; its output is not "
            "shown because it may hold secrets: run the command yourself to see why",
        )
    try:
        return done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(account, f"command {program!r} printed something that is not UTF-8") from None


def _key_values(account: Account, lines: list[str], first: int, *, strict: bool) -> dict[str, str]:
    """``key: value`` lines; blank and ``#`` lines are skipped, unknown keys unused.

    Not strict, other lines (a pass entry's notes) are skipped too.
    """
    values: dict[str, str] = {}
    for number, line in enumerate(lines[first:], first + 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            if not strict:
                continue
            raise _fail(account, f"output line {number} is not 'key: value'")
        values[key.strip().lower()] = value.strip()
    return values


def parse_output(account: Account, text: str, output_format: str) -> tuple[str | None, str]:
    """(username or None, password) from the command's output."""
    lines = text.splitlines()
    if output_format == "first-line":
        # pass(1)'s convention: the password alone on line 1, then optional key: value lines.
        password = lines[0] if lines else ""
        values = _key_values(account, lines, 1, strict=False)
    else:
        values = _key_values(account, lines, 0, strict=True)
        password = values.get("password", "")
    if not password:
        raise _fail(account, "the command printed no password")
    return values.get("username"), password


def resolve_command(account: Account) -> Credentials:
    """Run the account's command and read a username and password from its output."""
    settings = account.credentials.settings if account.credentials is not None else {}
    argv = _argv(account, settings)
    output_format = settings.get("format", "first-line")
    if output_format not in FORMATS:
        raise _fail(account, f"'format' must be one of {', '.join(FORMATS)}")
    printed_username, password = parse_output(
        account, _run(account, argv, _timeout(account, settings)), output_format
    )
    username = settings.get("username") or printed_username
    if not isinstance(username, str) or not username:
        raise _fail(account, "no username: set credentials.username, or print a 'username:' line")
    return Credentials(username=username, password=SecretStr(password))


SOURCE = CredentialSource(
    name="command",
    resolve=resolve_command,
    description="a command's output, e.g. [pass, show, clinic/sftp] (never logged)",
)
