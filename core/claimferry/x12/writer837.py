"""The 837P writer: X12 5010 005010X222A1 for professional claims.

Claims are grouped the way the TR3 nests them: billing provider (2000A), then
subscriber and payer (2000B), then the patient when not the subscriber
(2000C), then the claims (2300) with the other payers' adjudication (2320,
2330A/B) and their lines (2400, with 2430 for the other payers' line
adjudication). The writer assumes
claims that passed the schema; content rules (NPI check digits, code shapes)
belong to the validators, but anything that would break the file's syntax
(a delimiter inside an identifier, a name with nothing printable) is refused
here so a malformed file is never produced.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache, partial

from claimferry.claims import (
    ASSIGNMENT_CODES,
    BENEFITS_ASSIGNMENT_CODES,
    RELATIONSHIP_CODES,
    RELEASE_CODES,
    RESPONSIBILITY_CODES,
    Address,
    Adjustment,
    BillingProvider,
    Claim,
    LineAdjudication,
    OtherPayer,
    Patient,
    Payer,
    Provider,
    ServiceLine,
    Subscriber,
    cas_groups,
)
from claimferry.config import Contact
from claimferry.errors import InputError, Problem
from claimferry.types import Receiver

IMPLEMENTATION = "005010X222A1"
MAX_CLAIMS_PER_SUBSCRIBER_HL = 100
"""The TR3 limits the 2300 loop to 100 repeats under one subscriber HL."""

SEGMENT_TERMINATOR = "~\n"

# Names and addresses: what payers' front-end edits accept from the X12 basic
# character set, minus the delimiters. Anything else becomes a space.
_NOT_NAME_CHARACTER = re.compile(r"[^A-Z0-9 &',\-./]")
# Identifiers are never rewritten (a changed member ID is a denial), only refused.
_BAD_IDENTIFIER = re.compile(r"[*:^~]|[^\x20-\x7e]")
_ISA_VALUE = re.compile(r"^[A-Za-z0-9 \-]+$")

# Element maximum lengths (TR3) for the free-text elements we fill.
_ORG_NAME = 60  # NM103
_FIRST_NAME = 35  # NM104
_ADDRESS_LINE = 55  # N301, N302
_CITY = 30  # N401
_CONTACT_NAME = 60  # PER02
_NOTE = 80  # NTE02


@dataclass(frozen=True)
class Envelope:
    """Everything about one interchange that does not come from the claims."""

    sender_qualifier: str
    sender_id: str
    receiver: Receiver
    submitter_name: str
    contact: Contact
    test: bool
    interchange_control_number: int
    group_control_number: int
    transaction_set_control_number: int
    created: datetime


class _Unwritable(Exception):
    """A value that cannot go into X12 as is; becomes a Problem with its claim."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@lru_cache(maxsize=65536)
def _ascii_upper(value: str) -> str:
    """Uppercase ASCII, accents folded (JOSÉ -> JOSE), other characters as spaces."""
    if not value.isascii():
        value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return " ".join(_NOT_NAME_CHARACTER.sub(" ", value.upper()).split())


def _text(value: str, limit: int, field: str) -> str:
    cleaned = _ascii_upper(value)[:limit].rstrip()
    if not cleaned:
        raise _Unwritable(field, "has no letters or digits that X12 can carry")
    return cleaned


@lru_cache(maxsize=65536)
def unfit_identifier(value: str) -> bool:
    """Whether X12 cannot carry an identifier as it is (a delimiter or non-ASCII in it).

    Identifiers are never rewritten (a changed member ID is a denial), only
    refused: the writer and the content checks both ask here.
    """
    return _BAD_IDENTIFIER.search(value) is not None


_UNFIT_IDENTIFIER = "contains an X12 delimiter (* : ^ ~) or a non-ASCII character"


def _identifier(value: str, field: str) -> str:
    if unfit_identifier(value):
        raise _Unwritable(field, _UNFIT_IDENTIFIER)
    return value


@lru_cache(maxsize=4096)
def _service_dates(start: date, end: date | None) -> str:
    """DTP*472's format qualifier and date or range."""
    if end is None or end == start:
        return f"D8*{_d8(start)}"
    return f"RD8*{_d8(start)}-{_d8(end)}"


def _pointers(pointers: tuple[int, ...]) -> str:
    return ":".join(map(str, pointers))


@lru_cache(maxsize=4096)
def _amount(value: Decimal) -> str:
    """X12 R type: no exponent, no trailing zeros beyond need (680, 680.5, 12.34)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@lru_cache(maxsize=4096)
def _d8(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _zip(value: str) -> str:
    return value.replace("-", "").replace(" ", "")


def _address(address: Address, field: str) -> list[str]:
    """N3 and N4."""
    n3 = f"N3*{_text(address.line1, _ADDRESS_LINE, f'{field}.line1')}"
    if address.line2 is not None:
        n3 += f"*{_text(address.line2, _ADDRESS_LINE, f'{field}.line2')}"
    city = _text(address.city, _CITY, f"{field}.city")
    state = _identifier(address.state, f"{field}.state")
    return [n3, f"N4*{city}*{state}*{_identifier(_zip(address.zip), f'{field}.zip')}"]


def _person(entity: str, last: str, first: str, field: str) -> str:
    """NM1 for a person, without an identifier."""
    last_name = _text(last, _ORG_NAME, f"{field}.last_name")
    first_name = _text(first, _FIRST_NAME, f"{field}.first_name")
    return f"NM1*{entity}*1*{last_name}*{first_name}"


def _provider(entity: str, provider: Provider, field: str) -> str:
    """NM1 for a person with an NPI (referring, rendering, supervising)."""
    npi = _identifier(provider.npi, f"{field}.npi")
    return f"{_person(entity, provider.last_name, provider.first_name, field)}****XX*{npi}"


def _billing_provider(provider: BillingProvider) -> list[str]:
    """2000A's PRV, loop 2010AA and loop 2010AB (the HL itself is written by the caller)."""
    field = "billing_provider"
    out: list[str] = []
    if provider.taxonomy is not None:
        out.append(f"PRV*BI*PXC*{_identifier(provider.taxonomy, f'{field}.taxonomy')}")
    npi = _identifier(provider.npi, f"{field}.npi")
    if provider.organization is not None:
        name = _text(provider.organization, _ORG_NAME, f"{field}.organization")
        out.append(f"NM1*85*2*{name}*****XX*{npi}")
    else:
        person = _person("85", provider.last_name or "", provider.first_name or "", field)
        out.append(f"{person}****XX*{npi}")
    out += _address(provider.address, f"{field}.address")
    qualifier = "SY" if provider.tax_id_type == "ssn" else "EI"
    out.append(f"REF*{qualifier}*{_identifier(provider.tax_id, f'{field}.tax_id')}")
    if provider.pay_to_address is not None:
        out.append("NM1*87*2")
        out += _address(provider.pay_to_address, f"{field}.pay_to_address")
    return out


def _sbr(
    responsibility: str, relationship: str, group: str, insurance_type: str | None, filing: str
) -> str:
    """SBR: SBR04 (group name) is never sent; SBR05 only when the claim gives it."""
    kind = _identifier(insurance_type, "insurance_type") if insurance_type is not None else ""
    return f"SBR*{responsibility}*{relationship}*{group}**{kind}****{filing}"


def _subscriber(
    payer: Payer,
    subscriber: Subscriber,
    is_patient: bool,
    responsibility: str,
    insurance_type: str | None,
) -> list[str]:
    """SBR, loop 2010BA (subscriber) and loop 2010BB (payer)."""
    field = "subscriber"
    group = (
        _identifier(subscriber.group_number, f"{field}.group_number")
        if subscriber.group_number is not None
        else ""
    )
    filing = _identifier(subscriber.filing_code, f"{field}.filing_code")
    member = _identifier(subscriber.member_id, f"{field}.member_id")
    out = [
        _sbr(responsibility, "18" if is_patient else "", group, insurance_type, filing),
        f"{_person('IL', subscriber.last_name, subscriber.first_name, field)}****MI*{member}",
    ]
    if subscriber.address is not None:
        out += _address(subscriber.address, f"{field}.address")
    out.append(f"DMG*D8*{_d8(subscriber.birth_date)}*{subscriber.gender}")
    payer_name = _text(payer.name, _ORG_NAME, "payer.name")
    out.append(f"NM1*PR*2*{payer_name}*****PI*{_identifier(payer.id, 'payer.id')}")
    return out


def _patient(patient: Patient) -> list[str]:
    """PAT and loop 2010CA (the HL itself is written by the caller)."""
    field = "patient"
    out = [
        f"PAT*{RELATIONSHIP_CODES[patient.relationship]}",
        _person("QC", patient.last_name, patient.first_name, field),
    ]
    out += _address(patient.address, f"{field}.address")
    out.append(f"DMG*D8*{_d8(patient.birth_date)}*{patient.gender}")
    return out


def line_control_number(claim_id: str, number: int, line: ServiceLine) -> str:
    """REF*6R: the line's own id, or the claim id and the line's number; the 835
    returns it, so remittance lines are matched to what was sent."""
    return line.id if line.id is not None else f"{claim_id}-{number}"


def _cas(adjustments: tuple[Adjustment, ...]) -> list[str]:
    """CAS segments: one per group, six reason/amount pairs at most each (quantity empty)."""
    out = []
    for group, items in cas_groups(adjustments):
        pairs = (f"{_identifier(a.reason, 'reason')}*{_amount(a.amount)}" for a in items)
        triplets = "**".join(pairs)
        out.append(f"CAS*{group}*{triplets}")
    return out


def _line_adjudication(
    line: ServiceLine, payer_id: str, adjudicated: LineAdjudication
) -> list[str]:
    """Loop 2430: SVD, CAS, DTP*573, AMT*EAF."""
    procedure = adjudicated.procedure or line.procedure
    modifiers = adjudicated.modifiers if adjudicated.modifiers is not None else line.modifiers
    units = adjudicated.units if adjudicated.units is not None else line.units
    composite = ":".join(("HC", _identifier(procedure, "procedure"), *modifiers))
    if any(unfit_identifier(m) for m in modifiers):
        raise _Unwritable("modifiers", _UNFIT_IDENTIFIER)
    out = [
        f"SVD*{payer_id}*{_amount(adjudicated.paid)}*{composite}**{_amount(units)}",
        *_cas(adjudicated.adjustments),
        f"DTP*573*D8*{_d8(adjudicated.date)}",
    ]
    if adjudicated.remaining_patient_liability is not None:
        out.append(f"AMT*EAF*{_amount(adjudicated.remaining_patient_liability)}")
    return out


def _line_loops(claim: Claim, number: int, line: ServiceLine) -> list[str]:
    """Loops 2420A, 2420F and 2430 of one line: only claims that have them come here.

    A line's provider that is the claim's (2310B, 2310A) is not repeated: the TR3 sends
    2420A/2420F only when the line's differs."""
    out: list[str] = []
    if line.rendering_provider is not None and line.rendering_provider != claim.rendering_provider:
        field = f"lines[{number - 1}].rendering_provider"
        out.append(_provider("82", line.rendering_provider, field))
        if line.rendering_provider.taxonomy is not None:
            out.append(f"PRV*PE*PXC*{_identifier(line.rendering_provider.taxonomy, field)}")
    if line.referring_provider is not None and line.referring_provider != claim.referring_provider:
        field = f"lines[{number - 1}].referring_provider"
        out.append(_provider("DN", line.referring_provider, field))
    for index, other in enumerate(claim.other_payers):
        for adjudicated in other.lines:
            if adjudicated.line == number:
                try:
                    out += _line_adjudication(line, other.payer.id, adjudicated)
                except _Unwritable as exc:
                    field = f"other_payers[{index}].lines[{other.lines.index(adjudicated)}]"
                    raise _Unwritable(f"{field}.{exc.field}", exc.message) from None
    return out


def _service_line(claim_id: str, number: int, line: ServiceLine) -> list[str]:
    """Loop 2400: LX, SV1, DTP*472, REF*6R.

    The hot loop of a big file: field names are spelled out only for a problem.
    """
    try:
        sv1 = _sv1(line.procedure, line.modifiers, line.charge, line.units, line.diagnosis_pointers)
    except _Unwritable as exc:
        raise _Unwritable(f"lines[{number - 1}].{exc.field}", exc.message) from None
    if line.id is not None and unfit_identifier(line.id):
        raise _Unwritable(f"lines[{number - 1}].id", _UNFIT_IDENTIFIER)
    line_id = line_control_number(claim_id, number, line)
    return [
        f"LX*{number}",
        sv1,
        f"DTP*472*{_service_dates(line.service_date, line.service_end_date)}",
        f"REF*6R*{line_id}",
    ]


@lru_cache(maxsize=65536)
def _sv1(
    procedure: str,
    modifiers: tuple[str, ...],
    charge: Decimal,
    units: Decimal,
    pointers: tuple[int, ...],
) -> str:
    """SV1, by value: a practice bills the same code, units and charge again and again."""
    if unfit_identifier(procedure):
        raise _Unwritable("procedure", _UNFIT_IDENTIFIER)
    for modifier in modifiers:
        if unfit_identifier(modifier):
            raise _Unwritable("modifiers", _UNFIT_IDENTIFIER)
    composite = ":".join(("HC", procedure, *modifiers))
    return f"SV1*{composite}*{_amount(charge)}*UN*{_amount(units)}***{_pointers(pointers)}"


@lru_cache(maxsize=256)
def _clm_indicators(assignment: str, benefits: str, release: str, delay_reason: str | None) -> str:
    """CLM07 to CLM09 (A, Y, Y unless the claim says otherwise) and CLM20 when late."""
    codes = (
        f"*{ASSIGNMENT_CODES[assignment]}*{BENEFITS_ASSIGNMENT_CODES[benefits]}"
        f"*{RELEASE_CODES[release]}"
    )
    return codes if delay_reason is None else codes + "*" * 11 + delay_reason


def _other_payer(claim: Claim, index: int, other: OtherPayer) -> list[str]:
    """Loops 2320 (SBR, CAS, AMT, OI, MOA), 2330A (other subscriber) and 2330B (other payer)."""
    field = f"other_payers[{index}]"
    subscriber = other.subscriber
    group = (
        _identifier(subscriber.group_number, f"{field}.subscriber.group_number")
        if subscriber.group_number is not None
        else ""
    )
    relationship = "18" if other.relationship == "self" else RELATIONSHIP_CODES[other.relationship]
    filing = _identifier(other.filing_code, f"{field}.filing_code")
    try:
        sbr = _sbr(
            RESPONSIBILITY_CODES[other.responsibility],
            relationship,
            group,
            other.insurance_type,
            filing,
        )
    except _Unwritable as exc:
        raise _Unwritable(f"{field}.{exc.field}", exc.message) from None
    out = [sbr]
    try:
        out += _cas(other.adjustments)
    except _Unwritable as exc:
        raise _Unwritable(f"{field}.adjustments.{exc.field}", exc.message) from None
    if other.paid is not None:
        out.append(f"AMT*D*{_amount(other.paid)}")
    if other.remaining_patient_liability is not None:
        out.append(f"AMT*EAF*{_amount(other.remaining_patient_liability)}")
    benefits = BENEFITS_ASSIGNMENT_CODES[claim.benefits_assignment]
    out.append(f"OI***{benefits}***{RELEASE_CODES[claim.release_of_information]}")
    if other.remark_codes:
        out.append("MOA***" + "*".join(other.remark_codes))
    member = _identifier(subscriber.member_id, f"{field}.subscriber.member_id")
    person = _person("IL", subscriber.last_name, subscriber.first_name, f"{field}.subscriber")
    out.append(f"{person}****MI*{member}")
    if subscriber.address is not None:
        out += _address(subscriber.address, f"{field}.subscriber.address")
    payer_name = _text(other.payer.name, _ORG_NAME, f"{field}.payer.name")
    payer_id = _identifier(other.payer.id, f"{field}.payer.id")
    out.append(f"NM1*PR*2*{payer_name}*****PI*{payer_id}")
    if other.adjudication_date is not None:
        out.append(f"DTP*573*D8*{_d8(other.adjudication_date)}")
    if other.payer_claim_number is not None:
        number = _identifier(other.payer_claim_number, f"{field}.payer_claim_number")
        out.append(f"REF*F8*{number}")
    return out


def _claim(claim: Claim) -> list[str]:
    """Loop 2300 with its 2310A-D provider loops, its 2320/2330 other payers and its
    2400 lines, in TR3 order."""
    pos = _identifier(claim.place_of_service, "place_of_service")
    claim_id = _identifier(claim.id, "id")
    indicators = _clm_indicators(
        claim.assignment,
        claim.benefits_assignment,
        claim.release_of_information,
        claim.delay_reason,
    )
    total = _amount(claim.total_charge)
    out = [f"CLM*{claim_id}*{total}***{pos}:B:{claim.frequency_code}*Y{indicators}"]
    # REF (position 1800) after any DTP (1350) and before HI (2310).
    if claim.prior_authorization is not None:
        auth = _identifier(claim.prior_authorization, "prior_authorization")
        out.append(f"REF*G1*{auth}")
    if claim.frequency != "original" and claim.payer_claim_number is not None:
        payer_number = _identifier(claim.payer_claim_number, "payer_claim_number")
        out.append(f"REF*F8*{payer_number}")
    if claim.note is not None:
        out.append(f"NTE*ADD*{_text(claim.note, _NOTE, 'note')}")
    for index, code in enumerate(claim.diagnoses):
        if unfit_identifier(code):
            raise _Unwritable(f"diagnoses[{index}]", _UNFIT_IDENTIFIER)
    out.append("HI*ABK:" + "*ABF:".join(claim.diagnoses).replace(".", ""))
    if claim.referring_provider is not None:
        out.append(_provider("DN", claim.referring_provider, "referring_provider"))
    if claim.rendering_provider is not None:
        ren = claim.rendering_provider
        out.append(_provider("82", ren, "rendering_provider"))
        if ren.taxonomy is not None:
            taxonomy = _identifier(ren.taxonomy, "rendering_provider.taxonomy")
            out.append(f"PRV*PE*PXC*{taxonomy}")
    if claim.service_facility is not None:
        facility = claim.service_facility
        name = _text(facility.name, _ORG_NAME, "service_facility.name")
        if facility.npi is not None:
            npi = _identifier(facility.npi, "service_facility.npi")
            out.append(f"NM1*77*2*{name}*****XX*{npi}")
        else:
            out.append(f"NM1*77*2*{name}")
        out += _address(facility.address, "service_facility.address")
    if claim.supervising_provider is not None:
        out.append(_provider("DQ", claim.supervising_provider, "supervising_provider"))
    for index, other in enumerate(claim.other_payers):
        out += _other_payer(claim, index, other)
    other_payers = claim.other_payers
    for number, line in enumerate(claim.lines, start=1):
        out += _service_line(claim_id, number, line)
        if (
            other_payers
            or line.rendering_provider is not None
            or line.referring_provider is not None
        ):
            out += _line_loops(claim, number, line)
    return out


_Items = list[tuple[Patient | None, Claim]]
_Subscriber = tuple[Payer, Subscriber, bool, str, str | None, _Items]
"""Payer, subscriber, whether the subscriber is the patient, the payer's
responsibility code (SBR01) and insurance type (SBR05): one 2000B each."""


def _grouped(claims: Sequence[Claim]) -> list[tuple[BillingProvider, list[_Subscriber]]]:
    """Claims by billing provider, then subscriber, patients kept together, input order.

    Grouped by the models' own equality. A group is written from its first
    model (the dict key), and that very object is what each of its claims is
    listed with, so ``is`` tells groups apart afterwards. Claims mostly share
    one billing provider object: it is found by ``id()`` before by value.
    """
    SubscriberKey = tuple[Payer, Subscriber, bool, str, str | None]
    Subscribers = dict[SubscriberKey, dict[Patient | None, list[Claim]]]
    tree: dict[BillingProvider, Subscribers] = {}
    by_id: dict[int, Subscribers] = {}  # the claims keep the objects (and ids) alive
    for claim in claims:
        provider = claim.provider()
        subscribers = by_id.get(id(provider))
        if subscribers is None:
            subscribers = by_id[id(provider)] = tree.setdefault(provider, {})
        key = (
            claim.payer,
            claim.subscriber,
            claim.patient is None,
            claim.payer_responsibility,
            claim.insurance_type,
        )
        subscribers.setdefault(key, {}).setdefault(claim.patient, []).append(claim)
    return [
        (
            provider,
            [
                (
                    payer,
                    subscriber,
                    is_patient,
                    RESPONSIBILITY_CODES[responsibility],
                    insurance_type,
                    [(p, c) for p, batch in patients.items() for c in batch],
                )
                for (
                    payer,
                    subscriber,
                    is_patient,
                    responsibility,
                    insurance_type,
                ), patients in subscribers.items()
            ],
        )
        for provider, subscribers in tree.items()
    ]


def _chunks(
    items: list[tuple[Patient | None, Claim]], size: int
) -> Iterator[list[tuple[Patient | None, Claim]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Body:
    """The transaction's segments as encoded blocks, counted as they come.

    Blocks of bytes instead of one string per segment keep a 10,000-claim
    file's memory near the size of the file itself.
    """

    def __init__(self) -> None:
        self.blocks: list[bytes] = []
        self.count = 0
        self.problems: list[Problem] = []

    def add(self, segments: list[str]) -> None:
        self.count += len(segments)
        self.blocks.append((SEGMENT_TERMINATOR.join(segments) + SEGMENT_TERMINATOR).encode("ascii"))

    def add_for(self, claim: Claim, build: Callable[[], list[str]], head: str = "") -> None:
        """Add ``head`` and what ``build`` makes, or note the problem against ``claim``."""
        try:
            segments = build()
        except _Unwritable as exc:
            self.problems.append(Problem("claims", f"claim {claim.id}: {exc.field}", exc.message))
            return
        self.add([head, *segments] if head else segments)


def _transaction_body(claims: Sequence[Claim]) -> _Body:
    """Segments from the first HL to the last claim line, and every problem met."""
    body = _Body()
    hl = 0
    for provider, subscribers in _grouped(claims):
        hl += 1
        provider_hl = hl
        first_claim = subscribers[0][5][0][1]
        body.add_for(first_claim, partial(_billing_provider, provider), f"HL*{hl}**20*1")
        for payer, subscriber, is_patient, responsibility, insurance_type, items in subscribers:
            for chunk in _chunks(items, MAX_CLAIMS_PER_SUBSCRIBER_HL):
                hl += 1
                subscriber_hl = hl
                body.add_for(
                    chunk[0][1],
                    partial(
                        _subscriber, payer, subscriber, is_patient, responsibility, insurance_type
                    ),
                    f"HL*{hl}*{provider_hl}*22*{0 if is_patient else 1}",
                )
                current: Patient | None = None
                for patient, claim in chunk:
                    if patient is not None and patient is not current:  # one object per value
                        hl += 1
                        body.add_for(
                            claim, partial(_patient, patient), f"HL*{hl}*{subscriber_hl}*23*0"
                        )
                        current = patient
                    body.add_for(claim, partial(_claim, claim))
    return body


def _isa_value(value: str, what: str) -> str:
    if not _ISA_VALUE.match(value) or len(value) > 15:
        raise ValueError(f"{what} must be 1 to 15 letters, digits, spaces or dashes")
    return value


def _control_number(value: int, digits: int, what: str) -> int:
    if not 0 < value < 10**digits:
        raise ValueError(f"{what} must be between 1 and {10**digits - 1}")
    return value


def _contact(contact: Contact) -> str:
    name = _ascii_upper(contact.name)[:_CONTACT_NAME].rstrip()
    if not name:
        raise ValueError("the contact name has no letters or digits that X12 can carry")
    parts = [f"PER*IC*{name}"]
    if contact.phone is not None:
        parts.append(f"TE*{contact.phone}")
    if contact.email is not None:
        if _BAD_IDENTIFIER.search(contact.email):
            raise ValueError("the contact email contains an X12 delimiter or non-ASCII text")
        parts.append(f"EM*{contact.email}")
    if len(parts) == 1:
        raise ValueError("the contact needs a phone number or an email address (PER)")
    return "*".join(parts)


def _header(envelope: Envelope) -> tuple[list[str], list[str]]:
    """ISA and GS (outside the transaction set), then ST to loop 1000B."""
    receiver = envelope.receiver
    sender = _isa_value(envelope.sender_id, "the submitter ID (ISA06)")
    receiver_isa = _isa_value(receiver.isa_id, "the receiver ID (ISA08)")
    for value, what in (
        (envelope.sender_qualifier, "ISA05"),
        (receiver.isa_qualifier, "ISA07"),
        (receiver.gs_id, "GS03"),
    ):
        _isa_value(value, what)
    if _BAD_IDENTIFIER.search(receiver.id) or not receiver.id:
        raise ValueError("the receiver's 1000B ID must be printable ASCII without delimiters")
    isa13 = _control_number(envelope.interchange_control_number, 9, "ISA13")
    gs06 = _control_number(envelope.group_control_number, 9, "GS06")
    st02 = _control_number(envelope.transaction_set_control_number, 9, "ST02")
    created = envelope.created
    submitter = _ascii_upper(envelope.submitter_name)[:_ORG_NAME].rstrip()
    receiver_name = _ascii_upper(receiver.name)[:_ORG_NAME].rstrip()
    if not submitter or not receiver_name:
        raise ValueError("the submitter and receiver names need letters or digits")
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*{envelope.sender_qualifier:<2}*{sender:<15}"
        f"*{receiver.isa_qualifier:<2}*{receiver_isa:<15}*{created:%y%m%d}*{created:%H%M}"
        f"*^*00501*{isa13:09d}*0*{'T' if envelope.test else 'P'}*:"
    )
    gs = (
        f"GS*HC*{sender}*{receiver.gs_id}*{created:%Y%m%d}*{created:%H%M}*{gs06}*X*{IMPLEMENTATION}"
    )
    transaction = [
        f"ST*837*{st02:04d}*{IMPLEMENTATION}",
        f"BHT*0019*00*{st02:04d}*{created:%Y%m%d}*{created:%H%M}*CH",
        f"NM1*41*2*{submitter}*****46*{sender}",
        _contact(envelope.contact),
        f"NM1*40*2*{receiver_name}*****46*{receiver.id}",
    ]
    return [isa, gs], transaction


def write_837p(claims: Sequence[Claim], envelope: Envelope) -> bytes:
    """One interchange, one group, one 837P transaction holding every claim.

    Raises :class:`InputError` naming each claim and field that cannot be
    written (nothing is returned half-written), and ``ValueError`` for an
    envelope that cannot be (bad IDs or control numbers: a setup mistake).
    """
    if not claims:
        raise ValueError("an 837P needs at least one claim")
    outer, header = _header(envelope)
    body = _transaction_body(claims)
    if body.problems:
        raise InputError(body.problems)
    st02 = f"{envelope.transaction_set_control_number:04d}"
    trailer = [
        f"SE*{len(header) + body.count + 1}*{st02}",
        f"GE*1*{envelope.group_control_number}",
        f"IEA*1*{envelope.interchange_control_number:09d}",
    ]
    head = (SEGMENT_TERMINATOR.join(outer + header) + SEGMENT_TERMINATOR).encode("ascii")
    tail = (SEGMENT_TERMINATOR.join(trailer) + SEGMENT_TERMINATOR).encode("ascii")
    return b"".join([head, *body.blocks, tail])
