"""Content checks: what the claim schema cannot express and payers reject.

Each check takes one claim (and the validation context) and yields findings.
Messages name the field and what is expected, never the value: names,
member IDs and birth dates are PHI, and the other values are one look away
in the claims file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from claimferry.api import (
    Address,
    Claim,
    Finding,
    Severity,
    ValidationContext,
    findings_of_parsed,
    is_partial,
    npi_problem,
    unfit_identifier,
)
from claimferry_checks.cob import check_other_payers
from claimferry_checks.tables import CLAIM_FILING_CODES, PLACES_OF_SERVICE, US_STATES

VALIDATOR = "content-checks"
TIMELY_FILING = timedelta(days=365)
"""The longest common filing limit (Medicare's); many payers allow less."""

_ICD10_CM = re.compile(r"^[A-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_CPT = re.compile(r"^\d{4}[0-9FTU]$")
_HCPCS = re.compile(r"^[A-Z]\d{4}$")
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
_ZIP = re.compile(r"^\d{5}(?:\d{4})?$")
_TAX_ID = re.compile(r"^\d{9}$")
_TAXONOMY = re.compile(r"^[0-9A-Z]{9}X$")
_PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|LOCK\s*BOX)\b", re.IGNORECASE)
_X12_NAME_CHARACTER = re.compile(r"[A-Za-z0-9]")
_CENTS = Decimal("0.01")

ClaimCheck = Callable[[Claim, ValidationContext], Iterator[Finding]]


FIXES: dict[str, str] = {
    "SERVICE-DATE-FUTURE": "correct the date, or send the claim once the service is given",
    "SERVICE-DATE-RANGE": "correct the dates: the end date is on or after the start date",
    "DIAGNOSIS-DUPLICATE": "remove the second one and renumber the lines' diagnosis_pointers",
    "BIRTH-DATE-FUTURE": "correct the date from the member's insurance card",
    "BIRTH-DATE-AFTER-SERVICE": "correct the birth date or the service dates",
    "UNITS-NOT-POSITIVE": "bill at least one unit, or remove the line",
    "CHARGE-NOT-POSITIVE": "give the line's charge, or remove the line",
    "DIAGNOSIS-POINTER-DUPLICATE": "list each pointer once",
    "SUBSCRIBER-ADDRESS": "add subscriber.address, or give 'patient' if someone else was seen",
    "LINE-ID-DUPLICATE": "give each line its own id, or leave the ids out",
    "TIMELY-FILING": "check the payer's filing limit before sending",
}
"""What to do, for the findings whose message says only what is wrong."""


def _error(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(
        Severity.ERROR, code, message, claim.id, field, VALIDATOR, fix=FIXES.get(code, "")
    )


def _warning(code: str, message: str, claim: Claim, field: str) -> Finding:
    return Finding(
        Severity.WARNING, code, message, claim.id, field, VALIDATOR, fix=FIXES.get(code, "")
    )


def _npis(claim: Claim) -> Iterator[tuple[str, str]]:
    yield "billing_provider.npi", claim.provider().npi
    if claim.rendering_provider is not None:
        yield "rendering_provider.npi", claim.rendering_provider.npi
    if claim.referring_provider is not None:
        yield "referring_provider.npi", claim.referring_provider.npi
    if claim.service_facility is not None and claim.service_facility.npi is not None:
        yield "service_facility.npi", claim.service_facility.npi
    if claim.supervising_provider is not None:
        yield "supervising_provider.npi", claim.supervising_provider.npi
    for index, line in enumerate(claim.lines):
        if line.rendering_provider is not None:
            yield f"lines[{index}].rendering_provider.npi", line.rendering_provider.npi
        if line.referring_provider is not None:
            yield f"lines[{index}].referring_provider.npi", line.referring_provider.npi


def _addresses(claim: Claim) -> Iterator[tuple[str, Address]]:
    yield "billing_provider.address", claim.provider().address
    if claim.subscriber.address is not None:
        yield "subscriber.address", claim.subscriber.address
    if claim.patient is not None:
        yield "patient.address", claim.patient.address
    if claim.service_facility is not None:
        yield "service_facility.address", claim.service_facility.address
    pay_to = claim.provider().pay_to_address
    if pay_to is not None:
        yield "billing_provider.pay_to_address", pay_to
    for index, other in enumerate(claim.other_payers):
        if other.subscriber.address is not None:
            yield f"other_payers[{index}].subscriber.address", other.subscriber.address


def check_npis(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Every NPI on the claim: 10 digits starting 1 or 2, with a valid check digit."""
    for field, npi in _npis(claim):
        problem = npi_problem(npi)
        if problem is not None:
            yield _error(*problem, claim, field)


def check_diagnoses(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """ICD-10-CM shapes (dot optional) and no code listed twice."""
    for code, message, field in _diagnosis_problems(claim.diagnoses):
        yield _error(code, message, claim, field)


@lru_cache(maxsize=4096)
def _diagnosis_problems(codes: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """Code, message and field of each problem: a practice's claims repeat a few lists."""
    found: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for index, code in enumerate(codes):
        if not _ICD10_CM.match(code):
            found.append(
                (
                    "ICD10-SHAPE",
                    "expected an ICD-10-CM code: a letter, a digit, a letter or digit, "
                    "then up to 4 more (e.g. F84.0 or F840)",
                    f"diagnoses[{index}]",
                )
            )
        bare = code.replace(".", "")
        if bare in seen:
            found.append(
                ("DIAGNOSIS-DUPLICATE", "this diagnosis is listed twice", f"diagnoses[{index}]")
            )
        seen.add(bare)
    return tuple(found)


def check_procedures(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """CPT or HCPCS Level II procedure codes and 2-character modifiers."""
    for index, line in enumerate(claim.lines):
        if not _procedure_ok(line.procedure):
            yield _error(
                "PROCEDURE-SHAPE",
                "expected a CPT code (5 digits, or 4 digits and F, T or U) "
                "or a HCPCS Level II code (a letter and 4 digits)",
                claim,
                f"lines[{index}].procedure",
            )
        for position, modifier in enumerate(line.modifiers):
            if not _modifier_ok(modifier):
                yield _error(
                    "MODIFIER-SHAPE",
                    "a modifier is 2 letters or digits (e.g. HN, 95)",
                    claim,
                    f"lines[{index}].modifiers[{position}]",
                )


@lru_cache(maxsize=4096)
def _procedure_ok(code: str) -> bool:
    return bool(_CPT.match(code) or _HCPCS.match(code))


@lru_cache(maxsize=4096)
def _modifier_ok(modifier: str) -> bool:
    return _MODIFIER.match(modifier) is not None


def check_place_of_service(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """CLM05-1 must be a code of the CMS place-of-service set."""
    if claim.place_of_service not in PLACES_OF_SERVICE:
        yield _error(
            "POS-CODE",
            "not a CMS place-of-service code (e.g. 11 office, 12 home, 02/10 telehealth)",
            claim,
            "place_of_service",
        )


def check_filing_code(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """SBR09 must come from the X12 claim filing indicator list."""
    if claim.subscriber.filing_code not in CLAIM_FILING_CODES:
        yield _error(
            "FILING-CODE",
            "not an X12 claim filing indicator (e.g. CI commercial, BL Blue Cross, "
            "MB Medicare Part B, MC Medicaid, HM HMO)",
            claim,
            "subscriber.filing_code",
        )


def check_addresses(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """US state codes and ZIP shapes on every address."""
    for field, address in _addresses(claim):
        if address.state not in US_STATES:
            yield _error(
                "STATE-CODE",
                "expected a 2-letter US state, DC or territory code",
                claim,
                f"{field}.state",
            )
        if not _zip_ok(address.zip):
            yield _error(
                "ZIP-SHAPE", "a ZIP code is 5 or 9 digits, without a dash", claim, f"{field}.zip"
            )


@lru_cache(maxsize=65536)
def _zip_ok(zip_code: str) -> bool:
    return _ZIP.match(zip_code) is not None


def check_billing_provider(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """The TR3's 2010AA rules: tax ID, taxonomy, a 9-digit ZIP and a street address."""
    provider = claim.provider()
    address = provider.address
    for code, message, field in _billing_provider_problems(
        provider.tax_id, address.zip, address.line1, address.line2 or ""
    ):
        yield _error(code, message, claim, field)


@lru_cache(maxsize=256)
def _billing_provider_problems(
    tax_id: str, zip_code: str, line1: str, line2: str
) -> tuple[tuple[str, str, str], ...]:
    """Code, message and field of each 2010AA problem: claims share their provider."""
    found: list[tuple[str, str, str]] = []
    if not _TAX_ID.match(tax_id):
        found.append(
            (
                "TAX-ID-SHAPE",
                "a tax ID (EIN or SSN) is 9 digits, without a dash",
                "billing_provider.tax_id",
            )
        )
    if _ZIP.match(zip_code) and len(zip_code) != 9:
        found.append(
            (
                "ZIP-PLUS4",
                "the billing provider's ZIP must have all 9 digits (ZIP+4)",
                "billing_provider.address.zip",
            )
        )
    if _PO_BOX.search(line1) or _PO_BOX.search(line2):
        found.append(
            (
                "BILLING-ADDRESS-PO-BOX",
                "the billing provider's address must be a street address, not a PO or lock box",
                "billing_provider.address",
            )
        )
    return tuple(found)


def check_taxonomies(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Provider taxonomy codes: 10 characters ending in X."""
    for field, person in (
        ("billing_provider.taxonomy", claim.provider()),
        ("rendering_provider.taxonomy", claim.rendering_provider),
        ("referring_provider.taxonomy", claim.referring_provider),
    ):
        taxonomy = person.taxonomy if person is not None else None
        if taxonomy is not None and not _taxonomy_ok(taxonomy):
            yield _error(
                "TAXONOMY-SHAPE",
                "a taxonomy code is 10 letters or digits ending in X (e.g. 103K00000X)",
                claim,
                field,
            )


@lru_cache(maxsize=4096)
def _taxonomy_ok(taxonomy: str) -> bool:
    return _TAXONOMY.match(taxonomy) is not None


def check_service_dates(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """No future services, ranges that run forward, and a warning past timely filing."""
    today = context.today
    oldest_allowed = today - TIMELY_FILING
    for index, line in enumerate(claim.lines):
        start, end = line.service_date, line.service_end_date
        if start > today:
            yield _error(
                "SERVICE-DATE-FUTURE",
                "services cannot be billed before they are given",
                claim,
                f"lines[{index}].service_date",
            )
        elif start < oldest_allowed:
            yield _warning(
                "TIMELY-FILING",
                "service is more than a year old; most payers will deny it as late",
                claim,
                f"lines[{index}].service_date",
            )
        if end is None:
            continue
        if end < start:
            yield _error(
                "SERVICE-DATE-RANGE",
                "the end date is before the start date",
                claim,
                f"lines[{index}].service_end_date",
            )
        elif end > today:
            yield _error(
                "SERVICE-DATE-FUTURE",
                "services cannot be billed before they are given",
                claim,
                f"lines[{index}].service_end_date",
            )


def check_birth_dates(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Birth dates in the past, and the patient born before the first service."""
    people: list[tuple[str, date]] = [("subscriber.birth_date", claim.subscriber.birth_date)]
    if claim.patient is not None:
        people.append(("patient.birth_date", claim.patient.birth_date))
    for field, born in people:
        if born > context.today:
            yield _error("BIRTH-DATE-FUTURE", "a birth date cannot be in the future", claim, field)
    patient_field, patient_born = people[-1]
    first_service = min(line.service_date for line in claim.lines)
    if context.today >= patient_born > first_service:
        yield _error(
            "BIRTH-DATE-AFTER-SERVICE",
            "the patient's birth date is after the first date of service",
            claim,
            patient_field,
        )


def check_amounts(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Units and charges above zero; charges in whole cents."""
    for index, line in enumerate(claim.lines):
        if line.units <= 0:
            yield _error(
                "UNITS-NOT-POSITIVE", "units must be above zero", claim, f"lines[{index}].units"
            )
        if line.charge <= 0:
            yield _error(
                "CHARGE-NOT-POSITIVE",
                "a charge must be above zero",
                claim,
                f"lines[{index}].charge",
            )
        elif not _whole_cents(line.charge):
            yield _error(
                "CHARGE-PRECISION",
                "a charge has at most 2 decimal places (whole cents)",
                claim,
                f"lines[{index}].charge",
            )


@lru_cache(maxsize=4096)
def _whole_cents(charge: Decimal) -> bool:
    """By value, so equal charges (12.5, 12.50) share an answer, as they must."""
    return charge == charge.quantize(_CENTS)


def check_diagnosis_pointers(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Each pointer names one of the claim's diagnoses, once."""
    count = len(claim.diagnoses)
    for index, line in enumerate(claim.lines):
        for position, code, message in _pointer_problems(line.diagnosis_pointers, count):
            yield _error(code, message, claim, f"lines[{index}].diagnosis_pointers[{position}]")


@lru_cache(maxsize=1024)
def _pointer_problems(pointers: tuple[int, ...], count: int) -> tuple[tuple[int, str, str], ...]:
    """Position, code and message of each bad pointer: lines repeat a few pointer lists."""
    found: list[tuple[int, str, str]] = []
    for position, pointer in enumerate(pointers):
        if not 1 <= pointer <= count:
            found.append(
                (
                    position,
                    "DIAGNOSIS-POINTER-RANGE",
                    f"points past the claim's diagnoses; use 1 to {count}",
                )
            )
        elif pointer in pointers[:position]:
            found.append(
                (
                    position,
                    "DIAGNOSIS-POINTER-DUPLICATE",
                    "the same diagnosis is pointed to twice on this line",
                )
            )
    return tuple(found)


def check_required_situations(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """TR3 situational rules the schema cannot see."""
    if claim.patient is None and claim.subscriber.address is None:
        yield _error(
            "SUBSCRIBER-ADDRESS",
            "the subscriber's address is required when the subscriber is the patient",
            claim,
            "subscriber.address",
        )
    if claim.frequency == "original" and claim.payer_claim_number is not None:
        yield _warning(
            "PAYER-CLAIM-NUMBER-UNUSED",
            "the payer's claim number is only sent on replacement and void claims; "
            "set frequency if this corrects an earlier claim",
            claim,
            "payer_claim_number",
        )
    patient, subscriber = claim.patient, claim.subscriber
    if (
        patient is not None
        and patient.birth_date == subscriber.birth_date
        and patient.last_name.casefold() == subscriber.last_name.casefold()
        and patient.first_name.casefold() == subscriber.first_name.casefold()
    ):
        yield _warning(
            "PATIENT-IS-SUBSCRIBER",
            "the patient looks like the subscriber; omit 'patient' when they are the same",
            claim,
            "patient",
        )


def check_provider_loops(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """The TR3 sends 2310B and 2310C only when they differ from the billing provider."""
    billing = claim.provider()
    rendering = claim.rendering_provider
    if rendering is not None and rendering.npi == billing.npi:
        yield _warning(
            "RENDERING-IS-BILLING",
            "the rendering provider is the billing provider; omit 'rendering_provider'",
            claim,
            "rendering_provider",
        )
    facility = claim.service_facility
    if facility is not None and _same_place(facility.address, billing.address):
        yield _warning(
            "FACILITY-IS-BILLING",
            "the service facility is at the billing provider's address; omit 'service_facility'",
            claim,
            "service_facility",
        )
    if facility is not None and _ZIP.match(facility.address.zip) and len(facility.address.zip) == 5:
        yield _warning(
            "ZIP-PLUS4",
            "the TR3 asks for the service facility's 9-digit ZIP (ZIP+4)",
            claim,
            "service_facility.address.zip",
        )


def _same_place(one: Address, other: Address) -> bool:
    return (one.line1.casefold(), one.zip[:5]) == (other.line1.casefold(), other.zip[:5])


def _identifiers(claim: Claim) -> Iterator[tuple[str, str]]:
    yield "payer.id", claim.payer.id
    yield "subscriber.member_id", claim.subscriber.member_id
    if claim.subscriber.group_number is not None:
        yield "subscriber.group_number", claim.subscriber.group_number
    if claim.prior_authorization is not None:
        yield "prior_authorization", claim.prior_authorization
    if claim.payer_claim_number is not None:
        yield "payer_claim_number", claim.payer_claim_number
    for index, other in enumerate(claim.other_payers):
        yield f"other_payers[{index}].payer.id", other.payer.id
        yield f"other_payers[{index}].subscriber.member_id", other.subscriber.member_id
        if other.subscriber.group_number is not None:
            yield f"other_payers[{index}].subscriber.group_number", other.subscriber.group_number
        if other.payer_claim_number is not None:
            yield f"other_payers[{index}].payer_claim_number", other.payer_claim_number


_UNFIT_IDENTIFIER = "must not contain * : ^ ~ or characters outside printable ASCII"


def check_identifiers(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Identifiers go into X12 verbatim: no delimiters, printable ASCII, unique line ids."""
    for field, value in _identifiers(claim):
        if unfit_identifier(value):
            yield _error("X12-DELIMITER", _UNFIT_IDENTIFIER, claim, field)
    given = [line.id for line in claim.lines]
    if given.count(None) == len(given):
        return  # every line is its claim id and line number: unique and fit
    for index, line_id in enumerate(given):
        if line_id is not None and unfit_identifier(line_id):
            yield _error("X12-DELIMITER", _UNFIT_IDENTIFIER, claim, f"lines[{index}].id")
    line_ids = [line_id or f"{claim.id}-{n}" for n, line_id in enumerate(given, start=1)]
    for index, line_id in enumerate(line_ids):
        if line_id in line_ids[:index]:
            yield _error(
                "LINE-ID-DUPLICATE",
                "each line's id (REF*6R) must be unique within the claim",
                claim,
                f"lines[{index}].id",
            )


def _names(claim: Claim) -> Iterator[tuple[str, str, str]]:
    """Where (a part of the claim and a field) and value of every name and address text.

    The two halves of a field path are joined only for a finding: this runs
    for every claim, findings are rare.
    """
    provider = claim.provider()
    for name, text in (
        ("organization", provider.organization),
        ("first_name", provider.first_name),
        ("last_name", provider.last_name),
    ):
        if text is not None:
            yield "billing_provider", name, text
    yield "payer", "name", claim.payer.name
    subscriber = claim.subscriber
    yield "subscriber", "first_name", subscriber.first_name
    yield "subscriber", "last_name", subscriber.last_name
    for role, person in (
        ("patient", claim.patient),
        ("referring_provider", claim.referring_provider),
        ("rendering_provider", claim.rendering_provider),
        ("supervising_provider", claim.supervising_provider),
        *(
            (f"other_payers[{index}].subscriber", other.subscriber)
            for index, other in enumerate(claim.other_payers)
        ),
        *(
            (f"lines[{index}].{role}", getattr(line, role))
            for index, line in enumerate(claim.lines)
            for role in ("rendering_provider", "referring_provider")
        ),
    ):
        if person is not None:
            yield role, "first_name", person.first_name
            yield role, "last_name", person.last_name
    for index, other in enumerate(claim.other_payers):
        yield f"other_payers[{index}].payer", "name", other.payer.name
    if claim.service_facility is not None:
        yield "service_facility", "name", claim.service_facility.name
    for part, address in _addresses(claim):
        yield part, "line1", address.line1
        if address.line2 is not None:
            yield part, "line2", address.line2
        yield part, "city", address.city


@lru_cache(maxsize=65536)
def _writable(text: str) -> bool:
    """Whether any letter or digit survives the writer's fold to X12's character set."""
    if text.isascii():
        return _X12_NAME_CHARACTER.search(text) is not None
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _X12_NAME_CHARACTER.search(folded) is not None


def check_names(claim: Claim, context: ValidationContext) -> Iterator[Finding]:
    """Names and addresses need letters or digits that X12's character set can carry."""
    for part, name, value in _names(claim):
        if not _writable(value):
            yield _error(
                "X12-TEXT",
                "has no letters or digits X12 can carry; spell it in Latin letters",
                claim,
                f"{part}.{name}",
            )


CLAIM_CHECKS: tuple[ClaimCheck, ...] = (
    check_npis,
    check_billing_provider,
    check_taxonomies,
    check_addresses,
    check_names,
    check_identifiers,
    check_filing_code,
    check_place_of_service,
    check_diagnoses,
    check_procedures,
    check_diagnosis_pointers,
    check_service_dates,
    check_birth_dates,
    check_amounts,
    check_required_situations,
    check_provider_loops,
    check_other_payers,
)


def check_claims(claims: Sequence[Claim], context: ValidationContext) -> Iterable[Finding]:
    """Every check over every claim; all findings, none stops the others.

    A claim that failed its schema is checked as far as it parsed.
    """
    for claim in claims:
        if is_partial(claim):
            for check in CLAIM_CHECKS:
                yield from findings_of_parsed(check(claim, context))
            continue
        for check in CLAIM_CHECKS:
            yield from check(claim, context)
