"""Clinic onboarding: the ten steps from a new Office Ally account to production.

Only the first two steps are the operator's word (``onboard mark``, kept in the
audit trail): the clinic opened an Office Ally account, and asked for an SFTP
account. Every other step is read from facts that already exist: the config,
the credential store or source, the audit trail (logins, promotions), the
clearinghouse's payer list, the enrollment records and the ledger's batches.
A step can therefore never be "done" while the fact behind it is missing, and
it stops being done when the fact goes (a refused login puts step 5 back).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from claimferry.config import Account
from claimferry.credentials import username_fingerprint
from claimferry.credstore import STORE_SOURCE, CredentialStore
from claimferry.database import Connection
from claimferry.enrollment import EnrollmentStatus, EnrollmentTransaction, list_enrollments
from claimferry.errors import ClaimferryError, ConfigError, Problem
from claimferry.ledger import CREDENTIALS_USED, LOGIN_OK, AuditEntry, ClaimState, Ledger
from claimferry.manager import PluginManager
from claimferry.notify import ONBOARDING_COMPLETE
from claimferry.types import payer_list_call

ONBOARD_MARKED = "onboard-marked"
"""Audit actions of ``onboard mark`` are ``onboard-marked:<step>``; the detail is the date."""
PROMOTED = "promoted-to-production"
"""Audit action of ``onboard promote``, written before the config is changed; a forced
promotion says so, and what was missing."""
PROMOTION_FAILED = "promotion-failed"
"""The config change after a ``promoted-to-production`` entry failed: that promotion
did not happen."""

MARKED_STEPS = ("oa-account", "sftp-requested")
"""The steps only the clinic knows of: marked by hand."""
STEPS: tuple[tuple[str, str], ...] = (
    ("oa-account", "Office Ally account"),
    ("sftp-requested", "SFTP requested"),
    ("credentials", "credentials stored"),
    ("host-key", "host key pinned"),
    ("login", "login tested"),
    ("payer-list", "payer list imported and fresh"),
    ("edi-enrollment", "EDI enrollment approved"),
    ("era-enrollment", "ERA enrollment approved"),
    ("test-file", "test file accepted"),
    ("production", "production"),
)
PROMOTION_STEPS = range(3, 10)
"""Steps 3 to 9 must hold before ``onboard promote`` sets ``mode: production``."""
_LOGGED_IN = (LOGIN_OK, "upload", "fetch")
"""Audit actions written only after a login worked."""


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    title: str
    done: bool
    detail: str
    """What the facts say (dates, fingerprints, payer IDs; never a secret)."""
    action: str | None = None
    """What to do next when the step does not hold."""

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "key": self.key,
            "title": self.title,
            "done": self.done,
            "detail": self.detail,
            "action": self.action,
        }


@dataclass(frozen=True)
class ClinicOnboarding:
    account: str
    steps: tuple[Step, ...]
    promoted_at: str | None
    """When ``onboard promote`` last promoted the account; ``None``: never."""

    @property
    def next_step(self) -> Step | None:
        """The first step that does not hold; ``None`` once all ten do."""
        return next((step for step in self.steps if not step.done), None)

    @property
    def in_production(self) -> bool:
        """The account's mode is production (step 10), whether every step holds or not."""
        return self.steps[-1].done

    @property
    def missing_for_production(self) -> list[Step]:
        return [s for s in self.steps if s.number in PROMOTION_STEPS and not s.done]

    def as_json(self) -> dict[str, Any]:
        following = self.next_step
        return {
            "account": self.account,
            "done": sum(step.done for step in self.steps),
            "complete": following is None,
            "in_production": self.in_production,
            "blocked_at": following.number if following else None,
            "next_action": following.action if following else None,
            "promoted_at": self.promoted_at,
            "steps": [step.as_json() for step in self.steps],
        }


def summarize(clinics: Sequence[ClinicOnboarding]) -> dict[str, Any]:
    """How many clinics send in production mode, how many hold all ten steps, and
    how many are blocked at each step. The first two differ: production mode set
    by hand (or ``promote --force``) skips steps that may still be missing."""
    blocked = Counter(c.next_step.number for c in clinics if c.next_step is not None)
    return {
        "clinics": len(clinics),
        "in_production": sum(c.in_production for c in clinics),
        "complete": sum(c.next_step is None for c in clinics),
        "blocked_at": [
            {"step": number, "title": title, "clinics": blocked[number]}
            for number, (_, title) in enumerate(STEPS, 1)
            if blocked[number]
        ],
    }


def onboarding_status(
    pm: PluginManager,
    ledger: Ledger,
    state_dir: Path,
    accounts: Iterable[Account],
    *,
    now: datetime,
    payer_list_max_age_days: int,
    database: str | None = None,
) -> list[ClinicOnboarding]:
    """The ten steps of each clinic, each from its facts; the payer list is read
    once per payer, whatever the number of clinics. ``database``: the config's."""
    payer_lists = _PayerLists(pm, state_dir, database)
    return [
        _clinic(pm, ledger, payer_lists, account, now, payer_list_max_age_days)
        for account in accounts
    ]


class _PayerLists:
    """What the clearinghouses' payer lists say, asked once in a run (each
    question opens the list)."""

    def __init__(self, pm: PluginManager, state_dir: Path, database: str | None) -> None:
        self._pm, self._state_dir, self._database = pm, state_dir, database
        self._imported: dict[str, tuple[bool, datetime | None]] = {}
        self._required: dict[tuple[str, str, str], bool | None] = {}

    def imported(self, clearinghouse: str) -> tuple[bool, datetime | None]:
        """Whether the clearinghouse keeps a list, and when it was last imported."""
        if clearinghouse not in self._imported:
            read = self._pm.get_clearinghouse(clearinghouse).payer_list_imported
            when = (
                payer_list_call(read, self._state_dir, database=self._database)
                if read is not None
                else None
            )
            self._imported[clearinghouse] = (read is not None, when)
        return self._imported[clearinghouse]

    def requires_enrollment(self, clearinghouse: str, payer: str, transaction: str) -> bool:
        """As the list says; a payer it does not list (or no list) is taken to need it."""
        key = (clearinghouse, payer, transaction)
        if key not in self._required:
            read = self._pm.get_clearinghouse(clearinghouse).requires_enrollment
            found = (
                payer_list_call(read, self._state_dir, payer, transaction, database=self._database)
                if read is not None
                else None
            )
            self._required[key] = found
        return self._required[key] is not False


def _clinic(
    pm: PluginManager,
    ledger: Ledger,
    payer_lists: _PayerLists,
    account: Account,
    now: datetime,
    max_age: int,
) -> ClinicOnboarding:
    name = account.name
    login = _login(ledger, account)
    logged_in = login[0]
    billed = _billed_payers(ledger.db, account)
    marks = {key: ledger.latest_audit(name, [_mark_action(key)]) for key in MARKED_STEPS}
    found = [
        _marked(
            marks["oa-account"],
            logged_in,
            f"the clinic opens an Office Ally account, then: claimferry onboard mark {name} "
            "oa-account",
        ),
        _marked(marks["sftp-requested"], logged_in, f"claimferry onboard request-sftp {name}"),
        _credentials(pm, ledger, account),
        _host_key(account),
        login,
        _payer_list(payer_lists, account, now, max_age),
        _enrollment(payer_lists, ledger, account, billed, EnrollmentTransaction.CLAIMS),
        _enrollment(payer_lists, ledger, account, billed, EnrollmentTransaction.ERA),
        _test_file(ledger.db, account),
    ]
    promoted_at = _promoted_at(ledger, name)
    found.append(_production(account, promoted_at))
    facts = enumerate(zip(STEPS, found, strict=True), 1)
    steps = tuple(
        Step(number, key, title, done, detail, None if done else action)
        for number, ((key, title), (done, detail, action)) in facts
    )
    return ClinicOnboarding(name, steps, promoted_at)


_Fact = tuple[bool, str, str | None]
"""Whether a step holds, what the facts say, and the next action if it does not."""


def _mark_action(key: str) -> str:
    """``onboard-marked:oa-account``: one audit action per marked step, so that the
    latest mark of each is one indexed look-up."""
    return f"{ONBOARD_MARKED}:{key}"


def _marked(mark: AuditEntry | None, logged_in: bool, action: str) -> _Fact:
    """A hand-marked step; a login that worked shows it happened, marked or not."""
    if mark is not None:
        return True, f"{mark.detail} (marked by {mark.actor})", action
    if logged_in:
        return True, "implied: an SFTP login worked", action
    return False, "not marked", action


def _credentials(pm: PluginManager, ledger: Ledger, account: Account) -> _Fact:
    name = account.name
    set_them = f"claimferry credentials set {name}"
    source = account.credentials.source if account.credentials else None
    if source is None:
        return (
            False,
            "no credential source in the config",
            f"set accounts.{name}.credentials to {{source: store}}, then: {set_them}",
        )
    if source == STORE_SOURCE:
        info = CredentialStore(ledger.db).info(name)
        if info is None:
            return False, "nothing in the credential store", set_them
        return True, f"stored by {info.set_by} {info.set_at:%Y-%m-%d}", set_them
    give = f"give source {source} the SFTP credentials"
    found = pm.get_credential_source(source)
    try:
        if found.present is not None:  # asked without reading a secret
            return True, f"source {source}: {found.present(account)}", None
        credentials = found.resolve(account)  # read: a use like any other, audited
    except ClaimferryError as exc:
        return False, f"source {source}: {exc}", give
    ledger.audit(
        CREDENTIALS_USED,
        account=name,
        detail=f"source {source}, username {username_fingerprint(credentials.username)}, "
        "read by onboard status (no login)",
    )
    return True, f"source {source} has them", None


def _host_key(account: Account) -> _Fact:
    pin = f"claimferry hostkey {account.name} --pin"
    sftp = account.sftp
    if sftp is None:
        return False, "no sftp section in the config", f"set accounts.{account.name}.sftp.host"
    if sftp.host_key:
        key_type = sftp.host_key.split()[0]
        return True, f"{key_type} pinned for {sftp.host}", pin
    if sftp.known_hosts is not None:
        return True, f"checked against {sftp.known_hosts}", pin
    return False, f"nothing pinned for {sftp.host}", pin


def _login(ledger: Ledger, account: Account) -> _Fact:
    test = f"claimferry credentials test {account.name}"
    refused = ledger.refused_login(account.name)
    if refused is not None:
        return False, f"on hold: a login was refused {refused.at[:16]}", test
    worked = ledger.latest_audit(account.name, _LOGGED_IN)
    if worked is not None:
        return True, f"last login ok {worked.at[:16]}", test
    return False, "never logged in", test


def _payer_list(payer_lists: _PayerLists, account: Account, now: datetime, max_age: int) -> _Fact:
    kept, when = payer_lists.imported(account.clearinghouse)
    if not kept:
        return True, f"{account.clearinghouse} keeps no payer list", None
    action = "download the payer list (CSV) from the portal, then: claimferry payers import FILE"
    if when is None:
        return False, "never imported", action
    age = (now - when).days
    if age > max_age:
        return False, f"imported {when:%Y-%m-%d}, {age} days ago (over {max_age})", action
    return True, f"imported {when:%Y-%m-%d}", action


def _billed_payers(db: Connection, account: Account) -> list[str]:
    """The payer IDs in the config's list and on the clinic's claims, once each."""
    sent = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT payer_id FROM claims WHERE account = ? AND payer_id IS NOT NULL",
            (account.name,),
        )
    ]
    return list(dict.fromkeys(p.upper() for p in (*account.onboarding.payers, *sent)))


def _enrollment(
    payer_lists: _PayerLists,
    ledger: Ledger,
    account: Account,
    payers: Sequence[str],
    transaction: EnrollmentTransaction,
) -> _Fact:
    """Approved for every payer billed that needs it (the payer list says which;
    a payer it does not list is taken to need it)."""
    what = "EDI" if transaction is EnrollmentTransaction.CLAIMS else "ERA"
    name = account.name
    if not payers:
        return (
            False,
            "no payers known: no claims yet and none declared",
            f"list the payer IDs the clinic bills in accounts.{name}.onboarding.payers",
        )
    approved = {
        record.payer_id.upper()
        for record in list_enrollments(
            ledger.db, name, transaction=transaction, status=EnrollmentStatus.APPROVED
        )
    }
    waiting = [
        payer
        for payer in payers
        if payer not in approved
        and payer_lists.requires_enrollment(account.clearinghouse, payer, transaction.value)
    ]
    if waiting:
        return (
            False,
            f"not approved for {', '.join(waiting)}",
            f"enroll with each payer ({what}), then record it: claimferry enrollment set "
            f"--account {name} --payer-id ID --transaction {transaction.value} ... "
            "--status approved",
        )
    return True, f"approved or not needed for {', '.join(payers)}", None


def _test_file(db: Connection, account: Account) -> _Fact:
    """A test-mode batch (OATEST: not sent on to payers) whose 999 accepted it."""
    accepted = db.execute(
        "SELECT b.file_name, e.at FROM batches b JOIN claims c ON c.batch_id = b.id "
        "JOIN claim_events e ON e.claim_row = c.id "
        "WHERE b.account = ? AND b.test = 1 AND e.state = ? ORDER BY e.id LIMIT 1",
        (account.name, ClaimState.ACCEPTED),
    ).fetchone()
    if accepted is not None:
        return True, f"{accepted[0]} accepted {accepted[1][:10]}", None
    sent = db.execute(
        "SELECT file_name FROM batches WHERE account = ? AND test = 1 AND remote_name IS NOT NULL "
        "ORDER BY id DESC LIMIT 1",
        (account.name,),
    ).fetchone()
    if sent is not None:
        return (
            False,
            f"{sent[0]} sent, no accepted 999 yet",
            f"claimferry fetch --account {account.name} (once Office Ally has answered)",
        )
    if account.is_production:
        return False, "no test file was sent", "set mode: test and send a test file first"
    return (
        False,
        "no test file sent",
        f"claimferry submit CLAIMS --account {account.name} (test mode: marked OATEST)",
    )


def _production(account: Account, promoted_at: str | None) -> _Fact:
    promote = f"claimferry onboard promote {account.name}"
    if not account.is_production:
        return False, "test mode", promote
    if promoted_at is None:
        return True, "production mode, set by hand (never promoted)", None
    return True, f"promoted {promoted_at[:10]}", None


# -- the operator's side -------------------------------------------------------------


def mark_step(ledger: Ledger, account: str, key: str, on: date) -> None:
    """Record a hand-marked step (``oa-account`` or ``sftp-requested``) in the audit trail."""
    if key not in MARKED_STEPS:
        raise ValueError(f"only {', '.join(MARKED_STEPS)} are marked by hand")
    ledger.audit(_mark_action(key), account=account, detail=on.isoformat())


def record_promotion(
    ledger: Ledger, account: str, missing: Iterable[Step], *, forced: bool
) -> None:
    """The promotion, recorded before the config says production: a failure after
    it leaves a record (and ``promotion_failed`` says so); the reverse order could
    leave a clinic in production with none."""
    gaps = ", ".join(f"{s.number} {s.title}" for s in missing)
    detail = f"forced; missing: {gaps or 'none'}" if forced else "steps 3-9 held"
    ledger.audit(PROMOTED, account=account, detail=detail)


def promotion_done(ledger: Ledger, account: str, *, forced: bool) -> None:
    """The config says production now; with every step held, the clinic's completed
    onboarding (an alert)."""
    if not forced:
        ledger.audit(ONBOARDING_COMPLETE, account=account)


def promotion_failed(ledger: Ledger, account: str, error: str) -> None:
    """The config could not be changed after the promotion was recorded."""
    ledger.audit(PROMOTION_FAILED, account=account, detail=f"config not changed: {error}")


def _promoted_at(ledger: Ledger, account: str) -> str | None:
    """When the last promotion that was not followed by its failure was recorded."""
    latest = ledger.latest_audit(account, [PROMOTED, PROMOTION_FAILED])
    return latest.at if latest is not None and latest.action == PROMOTED else None


def was_promoted(ledger: Ledger, account: str) -> bool:
    return _promoted_at(ledger, account) is not None


def sftp_request(account: Account) -> EmailMessage:
    """The e-mail the clinic sends Office Ally from its registered address to ask
    for an SFTP account; every setting it needs missing is named at once."""
    settings = account.onboarding
    where = f"accounts.{account.name}"
    problems = [
        Problem("config", f"{where}.onboarding.{key}", "required for the SFTP request")
        for key in ("portal_username", "registered_email")
        if getattr(settings, key) is None
    ]
    if account.contact is None:
        problems.append(Problem("config", f"{where}.contact.name", "required for the SFTP request"))
    if problems:
        raise ConfigError(problems)
    assert account.contact is not None and settings.registered_email is not None
    message = EmailMessage()
    message["From"] = settings.registered_email
    message["To"] = settings.sftp_request_to
    message["Subject"] = f"SFTP account request: {settings.portal_username}"
    message.set_content(  # 8bit: a person reads and sends it, not quoted-printable
        "Hello Office Ally Support,\n\n"
        "Please open an SFTP account for our Office Ally account, to send\n"
        "professional claims (837P) from our billing software:\n\n"
        f"Username: {settings.portal_username}\n"
        f"Contact Name: {account.contact.name}\n"
        f"Software Name: {settings.software_name}\n"
        "Type: HCFA\n\n"
        "Please send the SFTP username and password to this address.\n\n"
        f"Thank you,\n{account.contact.name}\n",
        cte="8bit",
    )
    return message
