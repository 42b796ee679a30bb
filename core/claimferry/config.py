"""The accounts config file: one section per clinic account.

Secrets are never read from here; ``credentials`` only names a credential
source and that source's settings. The file is found through ``--config`` or
``CLAIMFERRY_CONFIG``.
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from claimferry.documents import parse_yaml, read_text
from claimferry.errors import ConfigError, InputError, Problem
from claimferry.storage import ArchiveStorage
from claimferry.types import AlertKind
from claimferry.validation import problems_from_validation_error

if TYPE_CHECKING:
    from claimferry.types import Notifier

CONFIG_ENV = "CLAIMFERRY_CONFIG"
STATE_ENV = "CLAIMFERRY_STATE_DIR"

_SUBMITTER_ID = re.compile(r"^[A-Za-z0-9 \-]{2,15}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ENVELOPE_ID = re.compile(r"^[A-Za-z0-9 \-]+$")
_X12_TEXT = re.compile(r"^[^*:^~]+$")


class ReceiverSettings(_Strict):
    """The account's own values for the receiver identifiers of the 837P envelope.

    They replace the clearinghouse profile's: some are unconfirmed or differ by
    account (Office Ally's GS03 is seen as ``330897513`` and as ``OA``, its
    ISA07 as ``ZZ``, ``01`` and ``30``), and a correction must not wait for a
    release.
    """

    isa_qualifier: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    """ISA07."""
    isa_id: Annotated[str, Field(min_length=1, max_length=15)] | None = None
    """ISA08."""
    gs_id: Annotated[str, Field(min_length=2, max_length=15)] | None = None
    """GS03."""
    name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    """Loop 1000B NM103."""
    id: Annotated[str, Field(min_length=2, max_length=80)] | None = None
    """Loop 1000B NM109 (qualifier 46)."""

    @field_validator("isa_qualifier", "isa_id", "gs_id")
    @classmethod
    def _envelope_id(cls, value: str | None) -> str | None:
        if value is not None and not _ENVELOPE_ID.match(value):
            raise ValueError("letters, digits, spaces or dashes only (an ISA/GS identifier)")
        return value

    @field_validator("name", "id")
    @classmethod
    def _x12_text(cls, value: str | None) -> str | None:
        if value is not None and not (value.isascii() and value.isprintable()):
            raise ValueError("printable ASCII only")
        if value is not None and not _X12_TEXT.match(value):
            raise ValueError("must not contain the X12 delimiters * : ^ ~")
        return value


class SftpSettings(_Strict):
    """Where and how to reach the clearinghouse's SFTP server."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    host_key: str | None = None
    """Pinned public key, ``"<type> <base64>"`` as in known_hosts or ``ssh-keyscan``."""
    known_hosts: Path | None = None
    """A known_hosts file to verify against when no key is pinned."""
    inbound: str = "inbound"
    outbound: str = "outbound"
    connect_timeout: Annotated[float, Field(gt=0)] = 15.0
    auth_timeout: Annotated[float, Field(gt=0)] = 30.0
    operation_timeout: Annotated[float, Field(gt=0)] = 60.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3

    @field_validator("host_key")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        """Checked here, not at connect time: a key cut short when pasted is a
        config error to fix, not a connection that fails."""
        if value is not None:
            _check_host_key(value)
        return value

    @model_validator(mode="after")
    def _inbound_is_not_outbound(self) -> SftpSettings:
        """Claims uploaded where responses are written are never processed, and
        could be taken for responses."""
        problem = inbound_in_outbound(self.inbound, self.outbound)
        if problem:
            raise ValueError(problem)
        return self


def inbound_in_outbound(inbound: str, outbound: str) -> str | None:
    """What is wrong when the upload folder is the response folder or inside it, else None.

    Shared by the config check and the SFTP mailbox, which checks again once a
    clearinghouse profile's default folders fill in what the account leaves out.
    """
    upload, responses = _folder(inbound), _folder(outbound)
    if upload == responses or (responses != "/" and upload.startswith(responses + "/")):
        return (
            f"inbound '{inbound}' is the outbound folder '{outbound}' (or in it), where the "
            "clearinghouse writes its responses; claims are uploaded to inbound, never to "
            "outbound"
        )
    return None


HOST_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    }
)
"""The SSH host key types that can be pinned (``ssh-keyscan`` prints these)."""
_COPY_IT = "copy the whole line that `claimferry hostkey ACCOUNT` prints"


def _check_host_key(value: str) -> None:
    """``"<type> <base64>"``, the base64 whole, and the key inside of the type named.

    An SSH public key blob starts with its own type name (RFC 4253 6.6), so a
    key pasted under the wrong type, or cut short, is caught here.
    """
    parts = value.split()
    if len(parts) < 2:
        raise ValueError(
            f"expected '<key type> <base64 key>', e.g. 'ssh-ed25519 AAAA...'; {_COPY_IT}"
        )
    key_type, encoded = parts[:2]
    if key_type not in HOST_KEY_TYPES:
        known = ", ".join(sorted(HOST_KEY_TYPES))
        raise ValueError(f"unknown key type '{key_type}' (known: {known}); {_COPY_IT}")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError(f"the key is not valid base64 (cut short?); {_COPY_IT}") from None
    size = int.from_bytes(blob[:4], "big")
    named = blob[4 : 4 + size] if len(blob) >= 4 + size else b""
    if named != key_type.encode():
        raise ValueError(f"the key is not an {key_type} key (wrong type, or cut short); {_COPY_IT}")


def _folder(path: str) -> str:
    """A remote folder as the server resolves it, from the login's root: ``./outbound/``,
    ``/outbound`` and ``inbound/../outbound`` are all ``/outbound``. Case is folded:
    some servers ignore it."""
    return posixpath.normpath("/" + path.strip().lstrip("/")).casefold()


class Contact(_Strict):
    """The person the clearinghouse calls about a file (837P loop 1000A PER)."""

    name: str
    phone: Annotated[str | None, Field(pattern=r"^\d{10}$")] = None
    email: str | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.phone is None and self.email is None:
            raise ValueError("needs a 10-digit 'phone' or an 'email' (loop 1000A PER)")
        return self


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise ValueError("expected an e-mail address, e.g. billing@clinic.example")
    return value


class OnboardingSettings(_Strict):
    """What ``claimferry onboard`` needs to know of a clinic (docs/onboarding.md).

    ``portal_username`` is the clinic's Office Ally login (the web portal's), which
    Office Ally asks for in an SFTP request; it is not the SFTP username, and no
    password goes here.
    """

    portal_username: Annotated[str, Field(pattern=r"^[^\s]{1,80}$")] | None = None
    registered_email: str | None = None
    """The address the clinic registered with Office Ally: the SFTP request comes from it."""
    software_name: Annotated[str, Field(min_length=1, max_length=80)] = "claimferry"
    """The billing software named in the SFTP request (the vendor's)."""
    sftp_request_to: str = "support@officeally.com"
    """Where the clinic sends its SFTP request."""
    payers: tuple[Annotated[str, Field(pattern=r"^[^\s*~:^]{1,80}$")], ...] = ()
    """Payer IDs (837P) the clinic will bill, before any claim shows them."""

    _emails = field_validator("registered_email", "sftp_request_to")(_email)


_SECRET_WORDS = frozenset(
    {"password", "passwd", "pass", "pwd", "pw", "passphrase", "secret", "token"}
)
_SECRET_COMPOUNDS = ("privatekey", "apikey")
_REFERENCE_WORDS = frozenset({"var", "file", "path", "name"})
"""A key ending in one of these names where a secret is kept, not the secret."""
_MASK = "**********"
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _holds_secret(key: str) -> bool:
    """``password``, ``pwd``, ``SFTP-Pass``, ``clientSecret``, ``api_key``; not
    ``password_var`` or ``password_file``, which say where a secret is."""
    words = [w.lower() for w in _WORD.findall(key)]
    if not words or words[-1] in _REFERENCE_WORDS:
        return False
    joined = "".join(words)
    return any(w in _SECRET_WORDS for w in words) or any(c in joined for c in _SECRET_COMPOUNDS)


def _secret_in_config(key: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(
            "secret_in_config",
            "holds a secret; secrets never go in the config file. Keep it where the "
            "plugin reads it (credential sources: environment variables, a private 0600 "
            "file or the system keyring, see docs/credentials.md; notifiers: a *_var or "
            "*_file setting, see docs/alerts.md)",
        ),
        loc=(key,),
        input=None,  # never the secret itself
    )


def _not_a_variable_name(key: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(
            "not_a_variable_name",
            "must name an environment variable (letters, digits and _, not starting "
            "with a digit), e.g. SUNRISE_SFTP_PASSWORD; the value is not shown, in "
            "case it is the secret itself",
        ),
        loc=(key,),
        input=None,
    )


def _refuse_inline_secrets(model: str, data: Any) -> Any:
    """A secret's key is refused; so is a ``*_var`` whose value cannot be a
    variable's name (a password typed where its variable's name goes)."""
    if not isinstance(data, dict):
        return data
    errors = []
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if _holds_secret(key):
            errors.append(_secret_in_config(key))
        elif key.lower().endswith("_var") and not (
            isinstance(value, str) and _ENV_NAME.match(value)
        ):
            errors.append(_not_a_variable_name(key))
    if errors:
        # one error per key, located at the key, so the report names its full path
        raise ValidationError.from_exception_data(model, errors)
    return data


class _PluginSettings(BaseModel):
    """A key naming a plugin, and that plugin's own settings beside it.

    The settings are the plugin's, so any key is allowed, but a key that
    holds a secret is refused (secrets belong where the plugin reads them,
    not in the config) and the repr masks every setting's value.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    _plugin_key: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        return _refuse_inline_secrets(cls.__name__, data)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Setting names only: a plugin's settings may hold anything."""
        yield self._plugin_key, getattr(self, self._plugin_key)
        for key in self.model_extra or {}:
            yield key, _MASK

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CredentialSettings(_PluginSettings):
    """``source`` names a credential-source plugin; other keys are its settings."""

    _plugin_key = "source"
    source: str


class NotifierSettings(_PluginSettings):
    """One alert destination: ``type`` names a notifier plugin; other keys are its settings.

    A notifier reads its secrets from ``*_var`` (an environment variable) or
    ``*_file`` (a 0600 file). ``include_details`` lets free text that may hold
    PHI (a 277CA's STC12, a report's comment) into the alerts; off by default.
    """

    _plugin_key = "type"
    type: str
    include_details: bool = False


def _alert_events(value: Any) -> Any:
    """``{notifier: all | [event, ...]}`` to ``{notifier: (AlertKind, ...)}``, each
    mistake named by its notifier and the events there are."""
    if not isinstance(value, dict):
        return value
    events = ", ".join(kind.value for kind in AlertKind)
    chosen: dict[Any, tuple[AlertKind, ...]] = {}
    for name, wanted in value.items():
        if wanted == "all":
            chosen[name] = tuple(AlertKind)
            continue
        if not isinstance(wanted, list) or not wanted:
            raise ValueError(f"{name}: expected 'all' or a list of events ({events})")
        unknown = [str(w) for w in wanted if w not in set(AlertKind)]
        if unknown:
            raise ValueError(f"{name}: unknown event {', '.join(unknown)} (events: {events})")
        chosen[name] = tuple(AlertKind(w) for w in dict.fromkeys(wanted))
    return chosen


CLAIMS_PER_INTERCHANGE = 5_000
"""Claims in one 837P file unless the config says otherwise: clearinghouses limit
a file's size, and a bigger batch is split into several files."""
ClaimsPerInterchange = Annotated[int, Field(ge=1, le=1_000_000)]


class Account(_Strict):
    """One clinic's clearinghouse account."""

    name: str = ""
    clearinghouse: str
    submitter_id: str
    submitter_name: str | None = None
    """Loop 1000A name; the billing provider's name when not given."""
    contact: Contact | None = None
    mode: Literal["test", "production"] = "test"
    sftp: SftpSettings | None = None
    credentials: CredentialSettings | None = None
    receiver: ReceiverSettings | None = None
    """Overrides of the clearinghouse profile's receiver identifiers."""
    overdue_after_hours: Annotated[float, Field(gt=0)] = 24.0
    """A claim with no acknowledgment this long after its last step is flagged overdue."""
    overdue_after_days: Annotated[int, Field(gt=0)] = 30
    """A claim with no final answer (no 835, no rejection) this long after it was
    sent is overdue in the A/R aging."""
    onboarding: OnboardingSettings = Field(default_factory=OnboardingSettings)
    """The clinic's onboarding facts: the SFTP request's fields, the payers it bills."""
    alerts: dict[str, tuple[AlertKind, ...]] = Field(default_factory=dict)
    """Per notifier (a name under the top-level ``notifiers:``), the events it is sent
    (``all`` in the file)."""

    claims_per_interchange: ClaimsPerInterchange | None = None
    """At most this many claims in one 837P file; ``None`` takes the config's
    top-level ``claims_per_interchange``."""
    fetch_schedule: CronSchedule | None = None
    """When workers fetch this account (cron, UTC); else the config's ``fetch_schedule``."""

    _events = field_validator("alerts", mode="before")(_alert_events)

    @field_validator("submitter_id")
    @classmethod
    def _submitter_shape(cls, value: str) -> str:
        if not _SUBMITTER_ID.match(value):
            raise ValueError("expected 2 to 15 letters, digits, spaces or dashes (ISA06)")
        return value

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def interchange_limit(self) -> int:
        """Claims one 837P file of this account may hold."""
        return self.claims_per_interchange or CLAIMS_PER_INTERCHANGE


DEFAULT_FETCH_SCHEDULE = "*/15 * * * *"
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


def _cron(value: str) -> str:
    """Five cron fields (minute hour day month weekday), or six with seconds last."""
    fields = value.split()
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            "expected a cron schedule of 5 fields, minute hour day month weekday "
            "(e.g. '*/15 * * * *')"
        )
    return " ".join(fields)


CronSchedule = Annotated[str, AfterValidator(_cron)]


def check_database_url(value: str) -> str:
    """A ``database`` the ledger can open, with no password written into the config."""
    if value.startswith("sqlite:///"):
        return value
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected sqlite:///PATH or postgresql://[user@]host[:port]/dbname")
    if re.match(r"^\w+://[^/@]*:[^/@]*@", value):
        raise ValueError(
            "a password in the URL would be a secret in the config: leave it out and "
            "give it in ~/.pgpass or PGPASSWORD (libpq reads both)"
        )
    return value


DatabaseUrl = Annotated[str, AfterValidator(check_database_url)]


class Config(_Strict):
    accounts: dict[str, Account]
    state_dir: Path | None = None
    database: DatabaseUrl | None = None
    """Where the ledger lives: ``sqlite:///path`` or ``postgresql://...`` (docs/scale.md);
    by default a SQLite file in the state directory."""
    archive: ArchiveStorage = "directory"
    """Where the files sent and received are kept: ``directory`` (``archive/`` in the
    state directory) or ``database`` (in the state database, for machines that share
    it and no directory; docs/scale.md)."""
    claims_file_limit_mb: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """Claims files bigger than this are refused unread (default 200 MB)."""
    notifiers: dict[str, NotifierSettings] = Field(default_factory=dict)
    """Alert destinations, by a name the accounts' ``alerts:`` use (docs/alerts.md)."""
    payer_list_max_age_days: Annotated[int, Field(gt=0)] = 90
    """A clearinghouse payer list imported longer ago than this is stale (``onboard status``)."""
    claims_per_interchange: ClaimsPerInterchange = CLAIMS_PER_INTERCHANGE
    """Claims in one 837P file for every account that does not set its own."""
    fetch_schedule: CronSchedule = DEFAULT_FETCH_SCHEDULE
    """When workers fetch every account that sets none (cron, UTC; docs/scale.md)."""

    @model_validator(mode="after")
    def _submitter_ids_distinct(self) -> Config:
        """Submitter IDs that differ only in case build one remote file name on a
        shared login: one batch would overwrite the other."""
        first: dict[tuple[str, str], tuple[str, str]] = {}
        clashes = []
        for name, account in self.accounts.items():
            key = (account.clearinghouse, account.submitter_id.casefold())
            other_name, other_id = first.setdefault(key, (name, account.submitter_id))
            if other_id != account.submitter_id:
                clashes.append(
                    f"accounts {other_name} and {name} have submitter IDs "
                    f"'{other_id}' and '{account.submitter_id}' for clearinghouse "
                    f"{account.clearinghouse}, which differ only in case: their files "
                    "would get the same remote names. Use one spelling"
                )
        if clashes:
            raise ValueError("; ".join(clashes))
        return self

    def account(self, name: str) -> Account:
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "none"
            raise ConfigError(
                [Problem("config", f"accounts.{name}", f"no such account (known: {known})")]
            ) from None


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "claimferry"


def state_dir_for(config: Config | None) -> Path:
    """``CLAIMFERRY_STATE_DIR`` wins, then the config's ``state_dir``, then XDG."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env)
    if config is not None and config.state_dir is not None:
        return config.state_dir
    return default_state_dir()


def claims_file_limit(config: Config | None) -> int:
    """Bytes. ``CLAIMFERRY_CLAIMS_FILE_LIMIT_MB`` wins, then ``claims_file_limit_mb``,
    then 200 MB."""
    from claimferry.claims import (
        CLAIMS_FILE_LIMIT,
        CLAIMS_FILE_LIMIT_ENV,
    )  # the model: not for status

    env = os.environ.get(CLAIMS_FILE_LIMIT_ENV)
    if env:
        try:
            megabytes = float(env)
        except ValueError:
            megabytes = 0.0
        if not 0 < megabytes < float("inf"):
            raise ConfigError(
                [Problem(CLAIMS_FILE_LIMIT_ENV, "", "expected a number of megabytes above 0")]
            )
        return int(megabytes * 1_000_000)
    if config is not None and config.claims_file_limit_mb is not None:
        return int(config.claims_file_limit_mb * 1_000_000)
    return CLAIMS_FILE_LIMIT


def load_config(
    path: Path,
    *,
    clearinghouses: Collection[str] | None = None,
    credential_sources: Collection[str] | None = None,
    notifiers: Mapping[str, Notifier] | None = None,
) -> Config:
    """Read and check the accounts config; every problem is reported at once.

    ``clearinghouses`` and ``credential_sources`` are the installed plugins'
    names: an account naming another is refused now, not when it connects.
    ``notifiers`` are the installed notifiers: each destination's ``type``
    and settings are checked against its plugin now, not when an alert fails.
    """
    source = str(path)
    try:
        data = parse_yaml(read_text(path, what="config file"), source)
    except InputError as exc:
        raise ConfigError(exc.problems) from None
    config = check_config(
        data,
        source,
        clearinghouses=clearinghouses,
        credential_sources=credential_sources,
        notifiers=notifiers,
    )
    if config.state_dir is not None and not config.state_dir.is_absolute():
        config = config.model_copy(update={"state_dir": path.parent / config.state_dir})
    named = {
        k: v.model_copy(
            update={
                "name": k,
                "claims_per_interchange": v.claims_per_interchange or config.claims_per_interchange,
            }
        )
        for k, v in config.accounts.items()
    }
    return config.model_copy(update={"accounts": named})


def check_config(
    data: object,
    source: str,
    *,
    clearinghouses: Collection[str] | None = None,
    credential_sources: Collection[str] | None = None,
    notifiers: Mapping[str, Notifier] | None = None,
) -> Config:
    """The parsed config checked whole, as :func:`load_config` checks a file (and
    ``accounts add`` checks what it is about to write)."""
    if not isinstance(data, dict):
        raise ConfigError([Problem(source, "", "expected a mapping with an 'accounts' section")])
    problems = _unknown_plugins(data, source, "clearinghouse", "clearinghouse", clearinghouses)
    problems += _unknown_plugins(
        data, source, "credentials.source", "credential source", credential_sources
    )
    problems += _notifier_problems(data, source, notifiers)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, source) + problems
    if problems:
        raise ConfigError(problems)
    return config


def _unknown_plugins(
    data: dict[Any, Any], source: str, key: str, what: str, installed: Collection[str] | None
) -> list[Problem]:
    """Accounts whose ``key`` (a dotted path) names no installed plugin."""
    accounts = data.get("accounts")
    if installed is None or not isinstance(accounts, dict):
        return []
    problems = []
    for name, account in accounts.items():
        value: Any = account
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value not in installed:
            known = ", ".join(sorted(installed)) or "none"
            problems.append(
                Problem(
                    source,
                    f"accounts.{name}.{key}",
                    f"no {what} '{value}' is installed (known: {known})",
                )
            )
    return problems


def _notifier_problems(
    data: dict[Any, Any], source: str, installed: Mapping[str, Notifier] | None
) -> list[Problem]:
    """Each account's alerts name a destination, whose ``type`` names an installed
    notifier, whose settings it fits. Checked on the raw data, so that every mistake
    is reported at once, beside the model's."""
    section = data.get("notifiers")
    section = section if isinstance(section, dict) else {}
    accounts = data.get("accounts")
    found = [
        Problem(
            source,
            f"accounts.{account_name}.alerts.{name}",
            f"no notifier named '{name}' under the top-level 'notifiers:' "
            f"(defined: {', '.join(sorted(map(str, section))) or 'none'})",
        )
        for account_name, account in (accounts.items() if isinstance(accounts, dict) else ())
        if isinstance(account, dict) and isinstance(account.get("alerts"), dict)
        for name in account["alerts"]
        if name not in section
    ]
    if installed is None:
        return found
    for name, entry in section.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            continue  # the model reports the shape
        where = f"notifiers.{name}"
        notifier = installed.get(entry["type"])
        problems: list[Problem] = []
        if notifier is None:
            known = ", ".join(sorted(installed)) or "none"
            found.append(
                Problem(
                    source,
                    f"{where}.type",
                    f"no notifier '{entry['type']}' is installed (known: {known})",
                )
            )
            continue
        settings = {k: v for k, v in entry.items() if k not in ("type", "include_details")}
        if notifier.settings is not None:
            allowed = ", ".join(notifier.settings) or "none"
            problems += [
                Problem(
                    source,
                    f"{where}.{key}",
                    f"not a setting of notifier '{notifier.name}' (its settings: {allowed})",
                )
                for key in settings
                if key not in notifier.settings
            ]
        problems += [
            Problem(source, f"{where}.{key}", f"required by notifier '{notifier.name}'")
            for key in notifier.required
            if key not in settings
        ]
        if notifier.check is not None and not problems:
            problems += [
                Problem(source, f"{where}.{key}", message)
                for key, message in notifier.check(settings)
            ]
        found += problems
    return found


def find_config(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None
