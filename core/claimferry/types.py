"""Registration types: what each hook returns.

One frozen dataclass per hook, each with a validated ``name`` (in the manner
of conda's plugin types). Plugins construct these; the plugin manager checks
that names are unique across all plugins.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import click

    from claimferry.claims import Claim
    from claimferry.config import Account
    from claimferry.credentials import Credentials
    from claimferry.database import Connection
    from claimferry.findings import Finding

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} must be lowercase letters and digits, "
            "joined by '-' or '_' (e.g. 'officeally-sftp')"
        )


class _Named:
    name: str

    def __post_init__(self) -> None:
        _check_name(type(self).__name__, self.name)


# --- credential sources -------------------------------------------------------


@dataclass(frozen=True)
class CredentialSource(_Named):
    """Resolves an account's secrets: ``resolve(account) -> Credentials``.

    ``account.credentials.settings`` holds this source's own settings from the
    config (everything under ``credentials:`` except ``source``).
    """

    name: str
    resolve: Callable[[Account], Credentials]
    description: str = ""
    settings: tuple[str, ...] | None = None
    """The setting names this source reads. Any other is refused, so that a
    misspelt ``pasword_var`` is not silently ignored; ``None`` leaves them unchecked."""
    resolve_stored: Callable[[Account, Connection], Credentials] | None = None
    """For a source that keeps its secrets in the state database (the built-in
    ``store``): claimferry calls it with the ledger's connection in place of
    ``resolve``, which then serves only callers that have no state database."""
    present: Callable[[Account], str] | None = None
    """Whether the source holds the account's credentials, found without reading
    a secret (a variable is set, a file exists): says where, or raises
    CredentialError naming what is missing. ``onboard status`` uses it; a source
    without it is resolved instead, and that read is audited as a use."""


# --- enrollment validators ----------------------------------------------------


@dataclass(frozen=True)
class ValidationContext:
    """What a validator may consult besides the claims themselves."""

    account: Account | None
    today: date
    state_dir: Path | None = None
    database: str | None = None
    """The config's ``database`` (None: the ledger file in ``state_dir``)."""


@dataclass(frozen=True)
class EnrollmentValidator(_Named):
    """Checks claims before anything is written: ``check(claims, context) -> findings``.

    Every validator runs; their findings are shown together. Errors block
    build and submit, warnings do not (unless ``--strict``).
    """

    name: str
    check: Callable[[Sequence[Claim], ValidationContext], Iterable[Finding]]
    description: str = ""
    kind: Literal["content", "enrollment"] = "enrollment"
    """``content`` checks always run; ``enrollment`` checks can be bypassed in test
    mode with ``--no-enrollment-check`` (never in production)."""
    partial_claims: bool = False
    """Whether ``check`` also takes the claims that failed their schema, as far as
    they parsed (``is_partial``): their failed values raise ``UnparsedError`` when
    used, so run each rule through ``findings_of_parsed``. One pass then reports
    the schema's problems and the content's together."""


# --- claim transports ---------------------------------------------------------


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    modified: float | None = None


@dataclass(frozen=True)
class UploadReceipt:
    """Proof of one delivered file, for the audit trail."""

    remote_name: str
    size: int
    sha256: str
    host_fingerprint: str


class DeliveryState(StrEnum):
    DELIVERED = "delivered"
    PARTIAL = "partial"
    ABSENT = "absent"


@runtime_checkable
class TransportSession(Protocol):
    """An open, authenticated connection to one account's clearinghouse mailbox."""

    @property
    def host_fingerprint(self) -> str:
        """SHA256 fingerprint of the verified host key, e.g. ``SHA256:abc...``."""
        ...

    def upload(self, data: bytes, remote_name: str) -> UploadReceipt:
        """Deliver atomically: a temporary name, a size check, then the final name."""
        ...

    def delivery_state(self, remote_name: str, size: int, sha256: str) -> DeliveryState:
        """Where an upload of these bytes stands on the server, after a crash.

        ``DELIVERED``: ``remote_name`` is there at ``size`` bytes.
        ``PARTIAL``: only the transport's temporary file is there, so the
        final rename never happened and sending again is safe. ``ABSENT``:
        neither; the clearinghouse may have taken the file already, so
        claimferry does not send again on its own.
        """
        ...

    def list_responses(self) -> list[RemoteFile]:
        """Files waiting in the response folder. Never deletes anything."""
        ...

    def download(self, name: str) -> bytes:
        """One response file's bytes. Never deletes it."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class HostKey:
    """A server's public host key as seen on the wire."""

    key_type: str
    base64: str
    fingerprint: str

    @property
    def openssh(self) -> str:
        return f"{self.key_type} {self.base64}"

    @classmethod
    def from_openssh(cls, text: str) -> HostKey:
        """A key written ``"<type> <base64>"`` (known_hosts, ``sftp.host_key``), with its
        OpenSSH ``SHA256:`` fingerprint; ValueError when the base64 is not."""
        key_type, b64 = text.split()[:2]
        digest = hashlib.sha256(base64.b64decode(b64, validate=True)).digest()
        return cls(key_type, b64, "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("="))


@dataclass(frozen=True)
class ClaimTransport(_Named):
    """Moves files to and from a clearinghouse.

    ``open(account, credentials)`` returns a :class:`TransportSession`;
    ``probe_host_key(account)`` fetches the server's key without logging in,
    so that an operator can pin it.
    """

    name: str
    open: Callable[[Account, Credentials], TransportSession]
    probe_host_key: Callable[[Account], HostKey] | None = None
    description: str = ""


# --- clearinghouse profiles ---------------------------------------------------


@dataclass(frozen=True)
class Receiver:
    """The clearinghouse's identifiers in the 837P envelope."""

    isa_qualifier: str
    """ISA07, e.g. ``ZZ``."""
    isa_id: str
    """ISA08, e.g. Office Ally's ``330897513``."""
    gs_id: str
    """GS03."""
    name: str
    """Loop 1000B NM103."""
    id: str
    """Loop 1000B NM109 (qualifier ``46``)."""


@dataclass(frozen=True)
class FileNaming:
    """What a clearinghouse's file name for one batch is made from."""

    account: str
    submitter_id: str
    test: bool
    interchange_control_number: int


@dataclass(frozen=True)
class PayerIdCheck:
    """What a clearinghouse's payer list says of one payer ID for one transaction."""

    listed: bool | None
    """``None`` when there is no list to check against (none imported yet)."""
    detail: str = ""
    """When not listed or not checked: why, and how to find the right ID."""


@dataclass(frozen=True)
class Mailbox:
    """A clearinghouse's SFTP mailbox, as :mod:`claimferry.sftp_mailbox` uses it.

    ``inbound`` and ``outbound`` are the folders an account gets when its
    ``sftp:`` section names none. ``responses`` is a regular expression for
    the whole name of a file in outbound that is one of the clearinghouse's
    responses (case-blind); other files there are never listed, so never
    downloaded. ``login_hint`` ends the message for a refused login: where
    the right SFTP credentials come from.
    """

    inbound: str = "inbound"
    outbound: str = "outbound"
    responses: str = r"[^.].*"
    login_hint: str = ""

    def __post_init__(self) -> None:
        re.compile(self.responses)  # a bad pattern fails at registration, not at fetch

    def is_response(self, file_name: str) -> bool:
        return re.fullmatch(self.responses, file_name, re.IGNORECASE) is not None


def payer_list_call(call: Callable[..., Any], *args: Any, database: str | None) -> Any:
    """Call one of a clearinghouse's payer-list callables, giving ``database`` only
    to one that takes it: a profile written before it was added still works."""
    import inspect

    try:
        parameters = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):  # a callable Python cannot look into: assume the new form
        return call(*args, database=database)
    if any(p.name == "database" or p.kind is p.VAR_KEYWORD for p in parameters):
        return call(*args, database=database)
    return call(*args)


class PayerIdLookup(Protocol):
    def __call__(
        self, state_dir: Path, payer_id: str, transaction: str, *, database: str | None = None
    ) -> PayerIdCheck: ...


class PayerListAge(Protocol):
    def __call__(self, state_dir: Path, *, database: str | None = None) -> datetime | None: ...


class EnrollmentRequirement(Protocol):
    def __call__(
        self, state_dir: Path, payer_id: str, transaction: str, *, database: str | None = None
    ) -> bool | None: ...


@dataclass(frozen=True)
class Clearinghouse(_Named):
    """A clearinghouse profile: envelope IDs, file naming, its mailbox and the transport.

    ``claim_file_name`` builds a batch's file name, test or production
    (``FileNaming.test``), with the clearinghouse's own markers.
    ``check_payer_id(state_dir, payer_id, transaction, database=)`` looks a
    payer ID up in the clearinghouse's payer list (``enrollment set`` refuses
    one it does not list); ``None`` when the clearinghouse keeps no list.
    ``payer_list_imported(state_dir, database=)`` says when that list was last
    imported (``None``: never), and ``requires_enrollment(state_dir, payer_id,
    transaction, database=)`` whether it marks the payer as requiring
    enrollment for the transaction (``None``: not listed, or no list):
    ``onboard status`` reads both. ``database`` is the config's (see
    :func:`claimferry.database.state_database`): a list kept in the state
    database lives where the ledger does.
    ``label`` is the name people know it by, used in messages (``Office Ally``).
    """

    name: str
    receiver: Receiver
    transport: str
    claim_file_name: Callable[[FileNaming], str]
    isa_submitter_qualifier: str = "ZZ"
    description: str = ""
    check_payer_id: PayerIdLookup | None = None
    payer_list_imported: PayerListAge | None = None
    requires_enrollment: EnrollmentRequirement | None = None
    label: str = ""
    mailbox: Mailbox = field(default_factory=Mailbox)

    @property
    def display_name(self) -> str:
        """``label``, or the registration name when there is none."""
        return self.label or self.name


# --- response readers ---------------------------------------------------------


@dataclass(frozen=True)
class ClaimUpdate:
    """What one response file says about one claim, in ledger terms.

    ``state`` is a :class:`claimferry.ledger.ClaimState` value (a clearinghouse
    report's are ``accepted``, ``rejected`` and ``clearinghouse_accepted``;
    docs/lifecycle.md lists them all). ``control_number`` is the ISA13/ST02 of the batch it
    answers, when the response names it. ``detail`` is the reason, never PHI.
    """

    claim_id: str
    state: str
    detail: str | None = None
    amount: Decimal | None = None
    payer_claim_number: str | None = None
    control_number: int | None = None


@dataclass(frozen=True)
class BatchUpdate:
    """What a response says about a whole file we sent: every claim in it moves.

    A clearinghouse that refuses a file before creating any claim (Office
    Ally's File Summary for a "failed file", a 999 rejecting a functional
    group) names the file, not its claims. The batch is found by
    ``control_number`` (our ISA13/GS06) or by ``file_name`` (the name we
    uploaded it under). ``state`` is a claim state, as in :class:`ClaimUpdate`.
    """

    state: str
    detail: str | None = None
    control_number: int | None = None
    file_name: str | None = None


@runtime_checkable
class ResponseDocument(Protocol):
    """A parsed response file."""

    @property
    def kind(self) -> str:
        """``TA1``, ``999``, ``277CA``, ``835`` or a clearinghouse report's name."""
        ...

    def claim_updates(self) -> list[ClaimUpdate]: ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, without PHI."""
        ...

    def render(self) -> str:
        """A summary for a person, without PHI."""
        ...


@runtime_checkable
class FileResponseDocument(ResponseDocument, Protocol):
    """A response document that can also answer for whole files (see :class:`BatchUpdate`)."""

    def batch_updates(self) -> list[BatchUpdate]: ...


@dataclass(frozen=True)
class ResponseReader(_Named):
    """Reads a clearinghouse's own (non-X12) response files, e.g. Office Ally's reports.

    ``matches(file_name, head)`` says whether a file is this reader's, from
    its name and first bytes; ``read(path)`` parses it or raises
    :class:`claimferry.errors.InputError` naming the file and line.
    """

    name: str
    matches: Callable[[str, bytes], bool]
    read: Callable[[Path], ResponseDocument]
    description: str = ""
    clearinghouse: str | None = None
    """The clearinghouse whose reports this reads: it is tried only on that
    clearinghouse's accounts' files. ``None``: on every account's files."""


# --- CLI commands -------------------------------------------------------------


@dataclass(frozen=True)
class CliCommand(_Named):
    """A subcommand added to ``claimferry`` (the harness adds ``harness`` and ``demo``)."""

    name: str
    command: click.Command
    description: str = field(default="")


# --- notifiers ------------------------------------------------------------------


class AlertKind(StrEnum):
    """What an alert is about; an account chooses which ones each notifier gets."""

    CLAIM_REJECTED = "claim_rejected"
    """A 999, 277CA (the clearinghouse's or the payer's) or clearinghouse report refused it."""
    CLAIM_DENIED = "claim_denied"
    """An 835 adjudicated it with nothing paid and nothing on the patient."""
    BATCH_UNCERTAIN = "batch_uncertain"
    """An interrupted upload was not found on the server: an operator must decide."""
    LOGIN_ON_HOLD = "login_on_hold"
    """The clearinghouse refused the login; nothing connects until ``credentials test``."""
    CLAIMS_OVERDUE = "claims_overdue"
    """No acknowledgment or final answer in the account's ``overdue_after_*`` time."""
    ONBOARDING_COMPLETE = "onboarding_complete"
    """The clinic finished onboarding and may send claims in production."""


@dataclass(frozen=True)
class Alert:
    """One thing to tell people, in ids and codes: never PHI.

    ``codes`` are X12 and clearinghouse codes (``A7:21``, ``CO-50``, ``IK5 5``);
    ``detail`` is the free text behind them (a 277CA's STC12, a report's
    comment), which may hold PHI: it is ``None`` unless the notifier's config
    sets ``include_details: true``.
    """

    kind: AlertKind
    account: str
    at: str
    claim_id: str | None = None
    batch_id: int | None = None
    state: str | None = None
    source: str | None = None
    """What said it: ``999``, ``277CA``, ``835``, a report's kind, ``sftp``, ``status``."""
    codes: tuple[str, ...] = ()
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "at": self.at,
            "claim": self.claim_id,
            "batch": self.batch_id,
            "state": self.state,
            "source": self.source,
            "codes": list(self.codes),
        }
        if self.detail is not None:
            data["detail"] = self.detail
        return data

    @classmethod
    def from_dict(cls, account: str, data: Mapping[str, Any]) -> Alert:
        return cls(
            kind=AlertKind(data["kind"]),
            account=account,
            at=data["at"],
            claim_id=data.get("claim"),
            batch_id=data.get("batch"),
            state=data.get("state"),
            source=data.get("source"),
            codes=tuple(data.get("codes", ())),
            detail=data.get("detail"),
        )


_SAID = {
    AlertKind.CLAIM_REJECTED: ("claim rejected", "claims rejected"),
    AlertKind.CLAIM_DENIED: ("claim denied", "claims denied"),
    AlertKind.BATCH_UNCERTAIN: ("batch uncertain", "batches uncertain"),
    AlertKind.LOGIN_ON_HOLD: ("login on hold", "logins on hold"),
    AlertKind.CLAIMS_OVERDUE: ("claim overdue", "claims overdue"),
    AlertKind.ONBOARDING_COMPLETE: ("onboarding complete", "onboarding complete"),
}


@dataclass(frozen=True)
class Digest:
    """Everything one ``fetch`` of one account has to tell one notifier.

    ``id`` stays the same when a failed delivery is retried, so a receiver
    can drop a digest it has already had.
    """

    id: str
    account: str
    created_at: str
    alerts: tuple[Alert, ...]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for alert in self.alerts:
            found[alert.kind.value] = found.get(alert.kind.value, 0) + 1
        return found

    @property
    def subject(self) -> str:
        """``claimferry sunrise: 2 claims rejected, 1 claim denied``."""
        parts = []
        for kind, count in self.counts().items():
            one, many = _SAID[AlertKind(kind)]
            parts.append(f"{count} {one if count == 1 else many}")
        return f"claimferry {self.account}: {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "created_at": self.created_at,
            "counts": self.counts(),
            "alerts": [alert.to_dict() for alert in self.alerts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Digest:
        account = data["account"]
        return cls(
            id=data["id"],
            account=account,
            created_at=data["created_at"],
            alerts=tuple(Alert.from_dict(account, a) for a in data["alerts"]),
        )

    def render(self) -> str:
        """The digest for a person: one line per alert, ids and codes only."""
        lines = [self.subject, ""]
        for alert in self.alerts:
            what = _SAID[alert.kind][0]
            subject = (
                f"claim {alert.claim_id}"
                if alert.claim_id
                else f"batch {alert.batch_id}"
                if alert.batch_id is not None
                else f"account {alert.account}"
            )
            line = f"- {what}: {subject}"
            if alert.state:
                line += f" ({alert.state})"
            if alert.source:
                line += f" by {alert.source}"
            if alert.codes:
                line += f"; codes {', '.join(alert.codes)}"
            lines.append(line)
            if alert.detail:
                lines.append(f"    {alert.detail}")
        lines += [
            "",
            f"digest {self.id}, {self.created_at}. See: claimferry status --account {self.account}",
        ]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Notifier(_Named):
    """Delivers digests somewhere: ``send(digest, settings)``.

    ``settings`` is the notifier section of the config (without ``type`` and
    ``include_details``). ``send`` raises to have the digest kept and tried
    again at the next ``fetch``; the message must name no secret.
    The names in ``settings`` (``None``: unchecked) and ``required`` are
    checked when the config is loaded, and ``check(settings)`` yields
    ``(key, message)`` for values that cannot work, so a mistake is exit 2
    before anything is fetched.
    """

    name: str
    send: Callable[[Digest, Mapping[str, Any]], None]
    settings: tuple[str, ...] | None = None
    required: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], Iterable[tuple[str, str]]] | None = None
    description: str = ""
