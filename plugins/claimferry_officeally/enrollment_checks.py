"""Enrollment checks: will Office Ally and the payer take these claims from this provider?

They read Office Ally's payer list (imported with ``claimferry payers import``)
and the account's enrollment records (``claimferry enrollment``), both in the
state directory, so they need an account: without one, or for an account on
another clearinghouse, they find nothing. See docs/enrollment.md for what each
finding means and what to do about it.

Messages name payers, payer IDs and billing NPIs (public identifiers an
operator needs to act), never patients, members or tax IDs (a sole
practitioner's tax ID can be a social security number).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from claimferry.api import (
    Claim,
    Enrollment,
    EnrollmentStatus,
    EnrollmentTransaction,
    Finding,
    Severity,
    ValidationContext,
    read_enrollments,
)
from claimferry_officeally.payers import CLAIMS, REMITS, Listing, PayerList, name_key, payer_key
from claimferry_officeally.profile import PROFILE_NAME

VALIDATOR = "officeally-enrollment"
PAYER_LIST_MISSING = "PAYER-LIST-MISSING"
PAYER_UNKNOWN = "PAYER-UNKNOWN"
PAYER_ID_TRANSACTION = "PAYER-ID-TRANSACTION"
EDI_ENROLLMENT = "EDI-ENROLLMENT"
ERA_ENROLLMENT = "ERA-ENROLLMENT"
NON_PAR = "NON-PAR"
SECONDARY_NOT_ELECTRONIC = "SECONDARY-NOT-ELECTRONIC"


def is_secondary(claim: Claim) -> bool:
    """Whether the claim goes to a payer after the primary (SBR01 ``S`` or ``T``).

    Every rule below then applies to that payer, the claim's ``payer``: its
    listing, its EDI and ERA enrollment and its SECONDARY column.
    """
    return claim.payer_responsibility != "primary"


def _error(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(Severity.ERROR, code, message, claim.id, field, VALIDATOR)


def _warning(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(Severity.WARNING, code, message, claim.id, field, VALIDATOR)


def check_enrollment(claims: Sequence[Claim], context: ValidationContext) -> Iterator[Finding]:
    """Every rule over every claim; one finding in all when no payer list was imported.

    Without the list nothing can be checked: a warning in test mode, an error
    in production, where unchecked enrollment means claims the payer rejects.
    """
    account = context.account
    if account is None or context.state_dir is None or account.clearinghouse != PROFILE_NAME:
        return
    payer_list = PayerList.open_existing(context.state_dir, context.database)
    if payer_list is None:
        yield Finding(
            Severity.ERROR if account.is_production else Severity.WARNING,
            PAYER_LIST_MISSING,
            "no Office Ally payer list imported, so payer IDs and enrollment were not "
            "checked: download the payer list from Office Ally's portal (CSV) and run "
            "`claimferry payers import FILE`",
            validator=VALIDATOR,
        )
        return
    enrollments = read_enrollments(context.state_dir, account.name, context.database)
    with payer_list:
        for claim in claims:
            yield from check_claim(claim, payer_list, enrollments)


def check_claim(
    claim: Claim, payers: PayerList, enrollments: Sequence[Enrollment]
) -> Iterator[Finding]:
    """The rules for one claim against the payer list and the account's records."""
    listings = payers.listings(claim.payer.id, CLAIMS)
    if not listings:
        yield _unlisted_payer(claim, payers)
        return
    same_name = [item for item in listings if name_key(item.name) == name_key(claim.payer.name)]
    plans = same_name or listings
    payer = f"{claim.payer.name} ({claim.payer.id})"
    provider = claim.provider()
    npi, tax_id = provider.npi, provider.tax_id.replace("-", "")
    if any(item.enrollment for item in plans):
        record = _best(enrollments, npi, tax_id, {claim.payer.id}, EnrollmentTransaction.CLAIMS)
        if record is None or record.status != EnrollmentStatus.APPROVED:
            yield _error(
                EDI_ENROLLMENT, _edi_message(payer, npi, record), claim, "billing_provider.npi"
            )
    remits = payers.listings(claim.payer.id, REMITS) or payers.listings_named(
        {item.name for item in plans}, REMITS
    )
    if any(item.enrollment for item in remits):
        era_ids = {claim.payer.id} | {item.payer_id for item in remits}
        record = _best(enrollments, npi, tax_id, era_ids, EnrollmentTransaction.ERA)
        if record is None or record.status != EnrollmentStatus.APPROVED:
            yield _warning(
                ERA_ENROLLMENT,
                _era_message(payer, npi, sorted(era_ids - {claim.payer.id}), record),
                claim,
                "billing_provider.npi",
            )
    if any(item.non_par for item in plans):
        yield _warning(
            NON_PAR,
            f"{payer} is non-par on Office Ally's payer list: each claim to it costs a "
            "fee (see your Office Ally agreement); send it anyway, or bill the payer directly",
            claim,
            "payer.id",
        )
    if is_secondary(claim) and not all(item.secondary for item in plans):
        yield _error(
            SECONDARY_NOT_ELECTRONIC,
            f"this is a {claim.payer_responsibility} claim and {payer} takes no secondary "
            "claims electronically "
            "through Office Ally: send it on paper (CMS-1500 with the primary payer's EOB) "
            "or directly to the payer",
            claim,
            "payer.id",
        )


def _unlisted_payer(claim: Claim, payers: PayerList) -> Finding:
    """Unknown for 837P: suggest the payer's claims ID when the ID is one of its others."""
    others = payers.listings(claim.payer.id)
    if others:
        uses = ", ".join(sorted({item.transaction_label for item in others}))
        claim_ids = _claim_ids(payers.listings_named({item.name for item in others}, CLAIMS))
        fix = (
            f"use its 837P payer ID {' or '.join(claim_ids)}"
            if claim_ids
            else "it takes no claims through Office Ally; bill it directly"
        )
        return _error(
            PAYER_ID_TRANSACTION,
            f"payer ID {claim.payer.id} is on Office Ally's payer list only for {uses}, "
            f"not for professional claims (837P): {fix}",
            claim,
            "payer.id",
        )
    by_name = _claim_ids(payers.listings_named({claim.payer.name}, CLAIMS))
    hint = (
        f"Office Ally lists {claim.payer.name} for 837P as {' or '.join(by_name)}"
        if by_name
        else "find the payer's 837P ID with `claimferry payers search NAME`"
    )
    return _error(
        PAYER_UNKNOWN,
        f"payer ID {claim.payer.id} is not on Office Ally's payer list for professional "
        f"claims (837P), so the claim would come back unprocessable: {hint}",
        claim,
        "payer.id",
    )


def _claim_ids(listings: Sequence[Listing]) -> list[str]:
    return sorted({item.payer_id for item in listings})


_PREFERENCE = [
    EnrollmentStatus.APPROVED,
    EnrollmentStatus.SUBMITTED,
    EnrollmentStatus.REJECTED,
    EnrollmentStatus.NOT_STARTED,
]


def _best(
    enrollments: Sequence[Enrollment],
    npi: str,
    tax_id: str,
    payer_ids: set[str],
    transaction: EnrollmentTransaction,
) -> Enrollment | None:
    """The provider's most advanced record for any of the payer's IDs."""
    keys = {payer_key(p) for p in payer_ids}
    found = [
        r
        for r in enrollments
        if r.npi == npi
        and r.tax_id == tax_id
        and r.transaction == transaction
        and payer_key(r.payer_id) in keys
    ]
    return min(found, key=lambda r: _PREFERENCE.index(r.status), default=None)


def _edi_message(payer: str, npi: str, record: Enrollment | None) -> str:
    required = f"{payer} requires EDI enrollment before it accepts claims"
    record_it = "then record it with `claimferry enrollment set --transaction 837P`"
    if record is None or record.status == EnrollmentStatus.NOT_STARTED:
        return (
            f"{required}, and billing NPI {npi} with this tax ID is not enrolled: submit the "
            f"payer's EDI enrollment form through Office Ally, {record_it}"
        )
    if record.status == EnrollmentStatus.SUBMITTED:
        since = f" on {record.submitted_on}" if record.submitted_on else ""
        return (
            f"{required}; enrollment of billing NPI {npi} was submitted{since} and is not "
            "approved yet, so the payer would reject the claim: hold it until the payer "
            "approves, then record the approval with `claimferry enrollment set --status approved`"
        )
    on = f" on {record.decided_on}" if record.decided_on else ""
    return (
        f"{required}; enrollment of billing NPI {npi} was rejected{on}: correct and resubmit "
        f"the payer's EDI enrollment form (see the record's notes), {record_it}"
    )


def _era_message(payer: str, npi: str, era_ids: list[str], record: Enrollment | None) -> str:
    ids = f" (its 835 payer ID: {', '.join(era_ids)})" if era_ids else ""
    state = {
        None: "has no ERA enrollment",
        EnrollmentStatus.NOT_STARTED: "has no ERA enrollment",
        EnrollmentStatus.SUBMITTED: "has ERA enrollment submitted but not approved",
        EnrollmentStatus.REJECTED: "had its ERA enrollment rejected",
    }[record.status if record is not None else None]
    return (
        f"billing NPI {npi} {state} with {payer}{ids}: the claim can go, but payment "
        "comes on paper until ERA enrollment is approved. Submit the payer's ERA (835) "
        "enrollment form (separate from EDI enrollment, about 30 days; ERAs go to one "
        "clearinghouse at a time), then record it with `claimferry enrollment set "
        "--transaction 835`"
    )
