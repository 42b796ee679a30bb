"""The errors claimferry shows to people.

Every failure an operator can meet is one of these, so the CLI can print it
without a traceback and exit with the right code: 2 for bad input (claims,
config, response files, arguments), 1 for everything else, 130 when the
operator interrupted it. ``code`` names the kind of failure in ``--json``
error documents, for scripts that branch on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what was expected.

    ``source`` is the file (or other origin), ``location`` the claim id, field
    path or segment, ``message`` what is wrong. Messages never quote PHI or
    secrets; they name fields, not their values.
    """

    source: str
    location: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.location}" if self.location else self.source
        return f"{where}: {self.message}"


class ClaimferryError(Exception):
    """A failure to report to the operator as one line, exit code 1."""

    exit_code = 1
    code = "failed"


def safe_message(exc: BaseException) -> str:
    """A failure as it may be kept and shown (ledger, alerts, reports): ours in full,
    written to be shown; anything else by its class only, since a library's text
    may carry a secret or a patient's data."""
    return str(exc) if isinstance(exc, ClaimferryError) else exc.__class__.__name__


class InputError(ClaimferryError):
    """Bad input: carries every problem found, so all are reported at once."""

    exit_code = 2
    code = "input"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(InputError):
    """The accounts config file is missing, unreadable or invalid."""

    code = "config"


class PluginError(ClaimferryError):
    """A plugin could not be used: duplicate names, unknown names, bad registrations."""

    code = "plugin"


class TransportError(ClaimferryError):
    """Delivery failed. ``transient`` says whether trying again may help.

    ``delivered`` is ``False`` when the transport knows the file never reached
    its final name (the next run may simply send it), ``None`` when it cannot
    tell (claimferry then asks the server before sending again).
    """

    code = "transport"

    def __init__(
        self, message: str, *, transient: bool = False, delivered: bool | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.delivered = delivered


class AuthenticationError(TransportError):
    """The server refused the login. Never retried: clearinghouses lock accounts."""

    code = "login-refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class HostKeyError(TransportError):
    """The server's host key is unknown or changed. Fails closed."""

    code = "host-key"

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class CredentialError(ClaimferryError):
    """An account's secrets could not be resolved (missing, or stored unsafely)."""

    code = "credentials"


class Interrupted(KeyboardInterrupt):
    """The operator pressed Ctrl-C; the message says where the work stopped.

    A ``KeyboardInterrupt``, so no ``except Exception`` on the way up can
    swallow it; the CLI exits 130.
    """

    exit_code = 130
    code = "interrupted"


class NotifierError(ClaimferryError):
    """An alert could not be delivered; its digest is kept and sent at the next fetch."""
