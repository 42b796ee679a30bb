"""The claim model and its schema checks; below every reader of claims.

Reading a claims file of any kind (YAML, JSON, 837P) is
:mod:`claimferry.claims_input`, which sits above this module and
:mod:`claimferry.x12.read837` both: the model never imports a reader of it.

The schema checks structure and types (required fields, dates that exist,
numbers that are numbers) and the 837P's element maximums, so that no value
overflows its element even with every validator blocked. Content rules (NPI
check digits, code shapes, service dates in the future...) are findings of
validator plugins, so that a third party can add to them through the same hook.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass as plain_dataclass
from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from claimferry.documents import (
    check_json,
    gc_paused,
    parse_claims_yaml,
    parse_json,
    parse_json_line,
    read_lines,
)
from claimferry.errors import InputError, Problem
from claimferry.findings import Finding, Severity, claim_label
from claimferry.validation import (
    Unparsed,
    UnparsedError,
    dotted,
    findings_from_validation_error,
    problems_from_validation_error,
    salvage,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
"""X12 element 127, Reference Identification (REF02, SBR03, PRV03): the TR3 allows 1 to 50
characters, so a longer value is refused here rather than written into a file the clearinghouse
rejects."""
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
"""NTE02: 80 characters."""
REMARK_CODE_PATTERN = r"^[A-Za-z0-9]{1,5}$"
RemarkCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=REMARK_CODE_PATTERN)
]
"""A remittance advice remark code (RARC), e.g. N130 or MA18 (MOA03-MOA07)."""
MAX_MOA_REMARKS = 5
"""MOA03 to MOA07."""
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
"""X12 element 67, Identification Code (NM109): 2 to 80 characters, for the same reason."""
MAX_AMOUNT_DIGITS = 18
Amount = Annotated[Decimal, Field(max_digits=MAX_AMOUNT_DIGITS)]
"""X12 R 1/18, a monetary amount (SV102, CLM02): at most 18 digits."""
Quantity = Annotated[Decimal, Field(max_digits=15)]
"""X12 R 1/15, a quantity (SV104 units): at most 15 digits."""


def _date_text(value: Any) -> Any:
    """A date written as a number (``19840215``) would be taken for seconds since 1970."""
    if isinstance(value, int | float | Decimal):
        raise PydanticCustomError("date_number", "a number, not a date")
    return value


Day = Annotated[date, BeforeValidator(_date_text)]
"""A calendar date, written ``YYYY-MM-DD``."""


def _zip_text(value: Any) -> Any:
    """A ZIP read as a number has lost what a leading zero said (JSON ``02134`` is
    refused, PyYAML reads it as the octal 1116): only text keeps the digits written."""
    if isinstance(value, int | float | Decimal):
        raise PydanticCustomError(
            "zip_number",
            'read as a number, which may drop leading zeros; quote it: zip: "02134"',
        )
    return value


Gender = Literal["F", "M", "U"]
Frequency = Literal["original", "replacement", "void"]
Relationship = Literal["spouse", "child", "employee", "life_partner", "other", "unknown"]
Responsibility = Literal["primary", "secondary", "tertiary"]
Assignment = Literal["assigned", "lab_services_only", "not_assigned"]
BenefitsAssignment = Literal["assigned", "not_assigned", "not_applicable"]
ReleaseOfInformation = Literal["signed", "informed_consent"]
AdjustmentGroup = Literal["CO", "CR", "OA", "PI", "PR"]
DelayReason = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "15"]
TaxIdKind = Literal["ein", "ssn"]
InsuranceType = Literal["12", "13", "14", "15", "16", "41", "42", "43", "47"]
"""SBR05, X12 element 1336: the Medicare secondary payer type (12 working aged, 43 disabled
under 65 with a large group plan, 47 other liability insurance is primary...), the only
codes 005010X222A1 allows in 2000B and 2320 SBR05."""

FREQUENCY_CODES: dict[str, str] = {"original": "1", "replacement": "7", "void": "8"}
RELATIONSHIP_CODES: dict[str, str] = {
    "spouse": "01",
    "child": "19",
    "employee": "20",
    "unknown": "21",
    "life_partner": "53",
    "other": "G8",
}
RESPONSIBILITY_CODES: dict[str, str] = {"primary": "P", "secondary": "S", "tertiary": "T"}
ASSIGNMENT_CODES: dict[str, str] = {"assigned": "A", "lab_services_only": "B", "not_assigned": "C"}
BENEFITS_ASSIGNMENT_CODES: dict[str, str] = {
    "assigned": "Y",
    "not_assigned": "N",
    "not_applicable": "W",
}
RELEASE_CODES: dict[str, str] = {"signed": "Y", "informed_consent": "I"}

_UNFIT_CLAIM_ID = re.compile(r"[*~:^]|[^\x20-\x7e]")
MAX_CLAIM_ID = 20
"""CLM01 holds 38 characters, but a payer need store and return only 20 of them
in the 835's CLP01 and the 277CA's TRN02 (X12 RFI 525): a longer id comes back
cut and cannot be matched to its claim."""
MAX_DIAGNOSES = 12
MAX_LINES = 50
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_OTHER_PAYERS = 10
"""Loop 2320 repeats at most 10 times."""
MAX_CAS_SEGMENTS = 5
"""CAS repeats at most 5 times in 2320 and in 2430, each with at most 6 adjustments of one group."""
ADJUSTMENTS_PER_CAS = 6


def _is_none(value: object) -> bool:
    return value is None


def _is_empty(value: tuple[object, ...]) -> bool:
    return not value


def _unless(default: object) -> Callable[[object], bool]:
    """``exclude_if`` for a field added after claims were first hashed: at its default
    it stays out of the content JSON, so a claim written before it hashes the same."""
    return lambda value: value == default


_CONFIG = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
"""The claim types are frozen, slotted pydantic dataclasses rather than models:
a claims file makes a dozen of them per claim, and a model's per-object
``__dict__`` and fields-set bookkeeping doubled the memory of a 10,000-claim
file and the time the garbage collector spends walking it. Frozen and made of
tuples, they are immutable and hashable, which the 837P writer groups by.
Change one with :func:`dataclasses.replace`, which validates again."""


class _Model(BaseModel):
    model_config = ConfigDict(**_CONFIG, frozen=True)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Address:
    """Street lines and ZIP are PHI for a patient: kept out of reprs (as are names,
    member ids and birth dates below), so a log line or traceback cannot leak them."""

    line1: Text = Field(repr=False)
    line2: Text | None = Field(default=None, repr=False)
    city: Text
    state: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=2)]
    zip: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=15), BeforeValidator(_zip_text)
    ] = Field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class BillingProvider:
    """An organisation (``organization``) or a person (``first_name``/``last_name``)."""

    organization: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    npi: Identifier
    tax_id: Reference
    tax_id_type: TaxIdKind = Field(default="ein", exclude_if=_unless("ein"))
    """``ssn`` for a person billing under a social security number (REF*SY, not REF*EI)."""
    taxonomy: Reference | None = None
    address: Address
    pay_to_address: Address | None = Field(default=None, exclude_if=_is_none)
    """Loop 2010AB: where payment goes, when not to the billing provider's address."""

    @model_validator(mode="after")
    def _one_kind_of_name(self) -> BillingProvider:
        person = self.first_name is not None or self.last_name is not None
        if self.organization is None and not person:
            raise ValueError("give either 'organization' or 'first_name' and 'last_name'")
        if self.organization is not None and person:
            raise ValueError("give 'organization' or a person's name, not both")
        if person and (self.first_name is None or self.last_name is None):
            raise ValueError("a person needs both 'first_name' and 'last_name'")
        if self.organization is not None and self.tax_id_type == "ssn":
            raise ValueError(
                "tax_id_type 'ssn' is for a person billing under a social security number; "
                "an organization bills under its EIN (REF*EI): tax_id_type 'ein'"
            )
        return self

    @property
    def is_organization(self) -> bool:
        return self.organization is not None

    @property
    def display_name(self) -> str:
        return self.organization or f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Payer:
    name: Text
    id: Identifier


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Subscriber:
    member_id: Identifier = Field(repr=False)
    first_name: Text = Field(repr=False)
    last_name: Text = Field(repr=False)
    birth_date: Day = Field(repr=False)
    gender: Gender
    group_number: Reference | None = Field(default=None, repr=False)
    filing_code: Annotated[
        str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=2)
    ]
    address: Address | None = Field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Patient:
    """The patient, when not the subscriber (837P loop 2000C)."""

    relationship: Relationship
    first_name: Text = Field(repr=False)
    last_name: Text = Field(repr=False)
    birth_date: Day = Field(repr=False)
    gender: Gender
    address: Address = Field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Provider:
    """A referring (2310A) or rendering (2310B) provider: a person with an NPI."""

    first_name: Text
    last_name: Text
    npi: Identifier
    taxonomy: Reference | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class ServiceFacility:
    name: Text
    npi: Identifier | None = None
    address: Address


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class ServiceLine:
    service_date: Day
    service_end_date: Day | None = None
    procedure: Annotated[
        str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=48)
    ]
    modifiers: Annotated[
        tuple[Annotated[str, StringConstraints(to_upper=True, max_length=2)], ...],
        Field(max_length=MAX_MODIFIERS),
    ] = ()
    units: Quantity
    charge: Amount
    diagnosis_pointers: Annotated[tuple[int, ...], Field(min_length=1, max_length=MAX_POINTERS)]
    id: Reference | None = None
    """Line item control number (REF*6R); the claim id and line number when not given."""
    rendering_provider: Provider | None = Field(default=None, exclude_if=_is_none)
    """Loop 2420A: when this line's clinician is not the claim's rendering provider."""
    referring_provider: Provider | None = Field(default=None, exclude_if=_is_none)
    """Loop 2420F: when this line's referral differs from the claim's."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Adjustment:
    """One CAS triplet: the group (who owes it), the reason code and the amount."""

    group: AdjustmentGroup
    reason: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=5)]
    amount: Amount


Adjustments = Annotated[tuple[Adjustment, ...], Field(max_length=MAX_CAS_SEGMENTS * 6)]


def cas_groups(adjustments: tuple[Adjustment, ...]) -> list[tuple[str, list[Adjustment]]]:
    """The CAS segments the adjustments make: one per group, six triplets at most each."""
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        by_group.setdefault(adjustment.group, []).append(adjustment)
    return [
        (group, items[start : start + ADJUSTMENTS_PER_CAS])
        for group, items in by_group.items()
        for start in range(0, len(items), ADJUSTMENTS_PER_CAS)
    ]


def _fits_cas(adjustments: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
    if len(cas_groups(adjustments)) > MAX_CAS_SEGMENTS:
        raise ValueError(
            f"these adjustments need more than {MAX_CAS_SEGMENTS} CAS segments "
            f"(one per group, {ADJUSTMENTS_PER_CAS} adjustments each)"
        )
    return adjustments


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class LineAdjudication:
    """Loop 2430: what another payer did with one of the claim's lines."""

    line: Annotated[int, Field(ge=1, le=MAX_LINES)]
    """The claim line's number, from 1."""
    paid: Amount
    procedure: (
        Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=48)]
        | None
    ) = None
    """As the payer adjudicated it, when it differs from the line's (SVD03)."""
    modifiers: (
        Annotated[
            tuple[Annotated[str, StringConstraints(to_upper=True, max_length=2)], ...],
            Field(max_length=MAX_MODIFIERS),
        ]
        | None
    ) = None
    units: Quantity | None = None
    """Units paid (SVD05); the line's units when not given."""
    adjustments: Adjustments = ()
    date: Day
    """Adjudication or payment date (DTP*573)."""
    remaining_patient_liability: Amount | None = Field(default=None, exclude_if=_is_none)
    """2430 AMT*EAF: what the patient still owes on the line after this payer."""

    @field_validator("adjustments")
    @classmethod
    def _cas(cls, value: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
        return _fits_cas(value)


OtherRelationship = Literal[
    "self", "spouse", "child", "employee", "life_partner", "other", "unknown"
]
"""The patient's relationship to the other payer's subscriber (2320 SBR02)."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class OtherSubscriber:
    """Loop 2330A: the subscriber of the other payer's plan."""

    member_id: Identifier = Field(repr=False)
    first_name: Text = Field(repr=False)
    last_name: Text = Field(repr=False)
    group_number: Reference | None = Field(default=None, repr=False)
    address: Address | None = Field(default=None, repr=False)
    birth_date: Day | None = Field(default=None, repr=False)
    """Not sent in 2330A: ``secondary build`` needs it to bill this plan when its
    subscriber is not the patient."""
    gender: Gender | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class OtherPayer:
    """Loops 2320, 2330A/B and 2430: another payer of this claim and its adjudication."""

    responsibility: Responsibility
    """The other payer's place in the order of payment (2320 SBR01)."""
    payer: Payer
    subscriber: OtherSubscriber
    relationship: OtherRelationship
    filing_code: Annotated[
        str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=2)
    ]
    paid: Amount | None = None
    """What it paid on the claim (AMT*D); given once it has adjudicated."""
    adjustments: Adjustments = ()
    """Claim-level adjustments (2320 CAS)."""
    remaining_patient_liability: Amount | None = None
    """AMT*EAF: what the patient still owes after this payer."""
    adjudication_date: Day | None = None
    """Claim adjudication or payment date (2330B DTP*573)."""
    payer_claim_number: Reference | None = None
    """The other payer's claim control number (2330B REF*F8)."""
    remark_codes: Annotated[tuple[RemarkCode, ...], Field(max_length=MAX_MOA_REMARKS)] = Field(
        default=(), exclude_if=_is_empty
    )
    """Its claim-level remark codes (2320 MOA03-07), from its 835's MOA."""
    lines: Annotated[tuple[LineAdjudication, ...], Field(max_length=MAX_LINES * 5)] = ()
    insurance_type: InsuranceType | None = Field(default=None, exclude_if=_is_none)
    """2320 SBR05: that plan's insurance type, e.g. the Medicare secondary payer type."""

    @field_validator("adjustments")
    @classmethod
    def _cas(cls, value: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
        return _fits_cas(value)

    @model_validator(mode="after")
    def _adjudicated_lines_are_paid_claims(self) -> OtherPayer:
        if self.lines and self.paid is None:
            raise ValueError("'paid' (AMT*D) is required when 'lines' give the adjudication")
        by_line = any(line.remaining_patient_liability is not None for line in self.lines)
        if by_line and self.remaining_patient_liability is not None:
            raise ValueError(
                "give 'remaining_patient_liability' for the claim (2320 AMT*EAF) or for its "
                "lines (2430 AMT*EAF), not both (X12 RFIs 1391, 1517)"
            )
        return self


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Claim:
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    """The patient control number (CLM01), at most :data:`MAX_CLAIM_ID` characters."""
    billing_provider: BillingProvider | None = None
    """Overrides the file's ``billing_provider`` for this claim."""
    payer: Payer
    subscriber: Subscriber
    patient: Patient | None = None
    place_of_service: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2)]
    frequency: Frequency = "original"
    payer_claim_number: Reference | None = None
    prior_authorization: Reference | None = None
    diagnoses: Annotated[
        tuple[
            Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=30)],
            ...,
        ],
        Field(min_length=1, max_length=MAX_DIAGNOSES),
    ]
    referring_provider: Provider | None = None
    rendering_provider: Provider | None = None
    service_facility: ServiceFacility | None = None
    lines: Annotated[tuple[ServiceLine, ...], Field(min_length=1, max_length=MAX_LINES)]
    payer_responsibility: Responsibility = Field(default="primary", exclude_if=_unless("primary"))
    """The destination payer's place in the order of payment (2000B SBR01)."""
    other_payers: Annotated[
        tuple[OtherPayer, ...], Field(max_length=MAX_OTHER_PAYERS, exclude_if=_is_empty)
    ] = ()
    supervising_provider: Provider | None = Field(default=None, exclude_if=_is_none)
    """Loop 2310D, for a clinician billing under a supervisor."""
    assignment: Assignment = Field(default="assigned", exclude_if=_unless("assigned"))
    """CLM07: whether the provider accepts assignment."""
    benefits_assignment: BenefitsAssignment = Field(
        default="assigned", exclude_if=_unless("assigned")
    )
    """CLM08 and OI03: whether the payer pays the provider (``not_assigned``: the patient)."""
    release_of_information: ReleaseOfInformation = Field(
        default="signed", exclude_if=_unless("signed")
    )
    """CLM09 and OI06."""
    delay_reason: DelayReason | None = Field(default=None, exclude_if=_is_none)
    """CLM20, for a claim sent after the payer's filing limit."""
    note: Note | None = Field(default=None, exclude_if=_is_none, repr=False)
    """Claim note (NTE*ADD): free text for the payer, 80 characters at most."""
    insurance_type: InsuranceType | None = Field(default=None, exclude_if=_is_none)
    """2000B SBR05: the Medicare secondary payer type when Medicare is billed after another
    payer (12, 13, 14, 15, 16, 41, 42, 43, 47)."""

    @field_validator("id")
    @classmethod
    def _matchable(cls, value: str) -> str:
        """The id is what every answer is matched by: it must come back whole."""
        if len(value) > MAX_CLAIM_ID:
            raise ValueError(
                f"at most {MAX_CLAIM_ID} characters, not {len(value)}: payers need return "
                f"only the first {MAX_CLAIM_ID} (X12 RFI 525), so the 277CA and 835 answers "
                "to a longer id could not be matched to its claim"
            )
        if _UNFIT_CLAIM_ID.search(value):
            raise ValueError(
                "printable ASCII only, without the X12 delimiters * ~ : ^ "
                "(it goes into CLM01 as it is)"
            )
        return value

    @model_validator(mode="after")
    def _replacement_needs_number(self) -> Claim:
        if self.frequency != "original" and self.payer_claim_number is None:
            raise ValueError(f"'payer_claim_number' is required when frequency is {self.frequency}")
        return self

    @model_validator(mode="after")
    def _other_payers_fit(self) -> Claim:
        if self.payer_responsibility != "primary" and not self.other_payers:
            raise ValueError(
                f"a {self.payer_responsibility} claim needs 'other_payers' with the "
                "adjudication of the payers before it (loop 2320)"
            )
        ids = [other.payer.id for other in self.other_payers]
        if len(set(ids)) != len(ids):
            raise ValueError("each of 'other_payers' needs its own payer id (SVD01 names it)")
        places = [self.payer_responsibility, *(other.responsibility for other in self.other_payers)]
        if len(set(places)) != len(places):
            raise ValueError(
                "the payer and each of 'other_payers' need their own responsibility "
                "(primary, secondary, tertiary): SBR01 may not repeat within a claim"
            )
        for index, other in enumerate(self.other_payers):
            _adjudication_fits(self, index, other)
            numbers = [adjudicated.line for adjudicated in other.lines]
            beyond = [n for n in numbers if n > len(self.lines)]
            if beyond:
                raise ValueError(
                    f"other_payers[{index}].lines: line {beyond[0]} is not one of the "
                    f"claim's {len(self.lines)} lines"
                )
        return self

    @model_validator(mode="after")
    def _earlier_payers_adjudicated(self) -> Claim:
        """A secondary claim carries the primary's decision, a tertiary both: the payer
        billed pays from what they left (TR3 2320), and has nothing to go by without it."""
        order = list(RESPONSIBILITY_CODES)
        by_place = {other.responsibility: other for other in self.other_payers}
        for place in order[: order.index(self.payer_responsibility)]:
            other = by_place.get(place)  # type: ignore[call-overload]
            if other is None:
                raise ValueError(
                    f"a {self.payer_responsibility} claim needs the {place} payer in "
                    "'other_payers' with its adjudication (paid, adjudication_date)"
                )
            index = self.other_payers.index(other)
            if other.paid is None:
                raise ValueError(
                    f"other_payers[{index}]: the {place} payer needs 'paid' (AMT*D): a "
                    f"{self.payer_responsibility} claim is billed after it adjudicated"
                )
            if other.adjudication_date is None and not other.lines:
                raise ValueError(
                    f"other_payers[{index}]: the {place} payer needs 'adjudication_date' "
                    "(2330B DTP*573), or 'lines' with their dates (2430 DTP*573)"
                )
        return self

    @model_validator(mode="after")
    def _total_fits(self) -> Claim:
        digits = _digits(self.total_charge)
        if digits > MAX_AMOUNT_DIGITS:
            raise ValueError(
                f"the lines' charges add up to a total of {digits} digits; CLM02 holds at "
                f"most {MAX_AMOUNT_DIGITS}"
            )
        return self

    @property
    def total_charge(self) -> Decimal:
        """CLM02: always the sum of the lines, never taken as input."""
        return sum((line.charge for line in self.lines), Decimal(0))

    @property
    def frequency_code(self) -> str:
        return FREQUENCY_CODES[self.frequency]

    def provider(self) -> BillingProvider:
        if self.billing_provider is None:
            raise ValueError(f"claim {self.id} has no billing provider")
        return self.billing_provider


def _adjudication_fits(claim: Claim, index: int, other: OtherPayer) -> None:
    """A payer after the one billed has not adjudicated the claim yet; claim-level
    adjustments (2320 CAS) come only with the amount paid (AMT*D) they adjust."""
    order = list(RESPONSIBILITY_CODES)
    later = order.index(other.responsibility) > order.index(claim.payer_responsibility)
    decided = (
        other.paid is not None
        or other.adjustments
        or other.lines
        or other.adjudication_date is not None
        or other.remaining_patient_liability is not None
        or other.remark_codes
    )
    if later and decided:
        raise ValueError(
            f"other_payers[{index}]: the {other.responsibility} payer comes after this "
            f"{claim.payer_responsibility} claim's payer and cannot have adjudicated it yet: "
            "give only its payer, subscriber, relationship and filing_code"
        )
    if other.adjustments and other.paid is None:
        raise ValueError(
            f"other_payers[{index}]: 'adjustments' (2320 CAS) need 'paid' (AMT*D), what the "
            "payer paid after them"
        )
    if other.remark_codes and other.paid is None:
        raise ValueError(
            f"other_payers[{index}]: 'remark_codes' (2320 MOA) need 'paid' (AMT*D): they "
            "come with the payer's adjudication"
        )


def _digits(amount: Decimal) -> int:
    """Digits an R element needs for ``amount`` (sign and decimal point not counted)."""
    _, digits, exponent = amount.normalize().as_tuple()
    if not isinstance(exponent, int):  # NaN, infinity: refused by the schema already
        return 0
    return len(digits) + exponent if exponent >= 0 else max(len(digits), -exponent)


class ClaimsFile(BaseModel):
    """A loaded claims file: every claim carries its billing provider."""

    model_config = ConfigDict(frozen=True)

    source: str
    claims: list[Claim]

    def __iter__(self) -> Iterator[Claim]:  # type: ignore[override]
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)


class _FileShape(_Model):
    billing_provider: BillingProvider | None = None
    claims: Annotated[list[dict[str, Any]], Field(min_length=1)]


class _JsonDocument(_Model):
    """The whole file in one pass, for valid JSON files: no intermediate dicts."""

    billing_provider: BillingProvider | None = None
    claims: Annotated[list[Claim], Field(min_length=1)]


def _attach_provider(claim: Claim, provider: BillingProvider) -> None:
    """What ``dataclasses.replace(claim, billing_provider=provider)`` returns, in place.

    Only for a claim this module has just built from text or dicts, before
    anyone else sees it: frozen means frozen once returned, and no copy of every
    claim (time, and old and new claims both held) is needed to get there.
    """
    object.__setattr__(claim, "billing_provider", provider)


def _fast_json(text: str, source: str) -> ClaimsFile | None:
    """A valid JSON file, parsed straight into models; ``None`` sends it the careful way."""
    try:
        with gc_paused():
            document = _JsonDocument.model_validate_json(text)
    except ValidationError:
        return None
    provider = document.billing_provider
    claims = document.claims
    if provider is None and any(c.billing_provider is None for c in claims):
        return None
    if len({c.id for c in claims}) != len(claims):
        return None
    if provider is not None:
        for claim in claims:
            if claim.billing_provider is None:
                _attach_provider(claim, provider)
    # the claims were validated just now: building the file must not validate them again
    return ClaimsFile.model_construct(source=source, claims=claims)


_CLAIM_LIST = TypeAdapter(list[Claim])
_CLAIM = TypeAdapter(Claim)
_PROVIDER = TypeAdapter(BillingProvider)


def claim_json(claim: Claim) -> bytes:
    """The claim as JSON, fields in schema order: the form its content hash is taken of.

    Serialised as its own class, so the fields a subclass adds count too.
    """
    kind = type(claim)
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter.dump_json(claim)


_ADAPTERS: dict[type[Claim], TypeAdapter[Claim]] = {Claim: _CLAIM}


def revised(claim: Claim, source: str, **changes: Any) -> Claim:
    """``dataclasses.replace`` that fails as loading does: an :class:`InputError`
    naming the claim and field, never the value."""
    try:
        return replace(claim, **changes)
    except ValidationError as exc:
        raise InputError(
            problems_from_validation_error(
                exc, source, lambda loc: _location(claim.id, dotted(loc))
            )
        ) from None


class PartialClaim(Claim):
    """A claim that failed its schema, as far as it parsed: for the content
    checks only (see :func:`claimferry.validation.salvage`), never written."""

    __slots__ = ()


def is_partial(claim: Claim) -> bool:
    """Whether a check may meet :class:`~claimferry.validation.Unparsed` values in ``claim``."""
    return isinstance(claim, PartialClaim)


@plain_dataclass(frozen=True)
class CheckedClaims:
    """A claims file read without stopping at the first problem.

    ``claims`` passed the schema; ``partial`` did not, and hold what parsed,
    for the content checks; ``findings`` are the schema and duplicate-id
    errors. Only a file without findings may be built from.
    """

    source: str
    claims: list[Claim]
    partial: list[Claim]
    findings: list[Finding]
    order: dict[str, int]
    """Each claim id's position in the file, to report findings in file order."""
    count: int
    """Claims in the file, whether they parsed or not."""
    payers: dict[str, str]
    """Each claim id's payer id, where it parsed (the first claim's, for a repeated id)."""

    def raise_findings(self) -> ClaimsFile:
        """The file, or :class:`InputError` with every finding as a problem."""
        if self.findings:
            raise InputError(
                Problem(self.source, _location(f.claim_id, f.field), f.message)
                for f in self.findings
            )
        return ClaimsFile(source=self.source, claims=self.claims)


def _location(claim_id: str | None, field: str | None) -> str:
    if claim_id is None:
        return field or ""
    return f"{claim_label(claim_id)}: {field or '(claim)'}"


def _claim_key(raw: Any, place: str) -> str:
    """The claim id as written, or the claim's place when it has none worth showing."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str | int):
        return str(raw["id"]).strip() or place
    return place


def _claim_or_partial(
    item: Any, key: str, findings: list[Finding]
) -> tuple[Claim | None, Claim | None]:
    """The claim, or what parsed of it; its schema errors go to ``findings``."""
    if not isinstance(item, dict):
        findings.append(
            Finding(Severity.ERROR, "CLAIM-SHAPE", "expected a mapping", key, None, "schema")
        )
        return None, None
    try:
        return _CLAIM.validate_python(item), None
    except ValidationError as exc:
        findings += findings_from_validation_error(exc, key)
        partial: Claim = salvage(PartialClaim, item, exc, _CONFIG)
        object.__setattr__(partial, "id", key)  # an id that failed is still its label
        return None, partial


def _provider_or_partial(data: dict[str, Any]) -> tuple[Any, bool]:
    """The file's billing provider (or what parsed of it, or ``None`` when not
    given), and whether it passed its schema."""
    raw = data.get("billing_provider")
    if raw is None:
        return None, True
    if not isinstance(raw, dict):
        return Unparsed("billing_provider"), False
    try:
        return _PROVIDER.validate_python(raw), True
    except ValidationError as exc:
        return salvage(BillingProvider, raw, exc, _CONFIG), False


def check_claims_data(data: Any, source: str) -> CheckedClaims:
    """Check a parsed document; every problem becomes a finding, none stops the rest."""
    if not isinstance(data, dict):
        finding = Finding(
            Severity.ERROR,
            "FILE-SHAPE",
            "expected a mapping with 'claims'",
            validator="schema",
            fix="see docs/claims.md for the file's layout",
        )
        return CheckedClaims(source, [], [], [finding], {}, 0, {})
    findings: list[Finding] = []
    try:
        shape: _FileShape | None = _FileShape.model_validate(data)
    except ValidationError as exc:
        # Claims are checked one by one below; report file-level problems with theirs.
        findings += [
            f
            for f in findings_from_validation_error(exc, None)
            if not (f.field or "").startswith("claims[")
        ]
        shape = None
    raw = data.get("claims")
    raw_claims: list[Any] = raw if isinstance(raw, list) else []
    keys = [_claim_key(item, f"claims[{index}]") for index, item in enumerate(raw_claims)]
    try:
        with gc_paused():
            parsed: list[tuple[Claim | None, Claim | None]] = [
                (claim, None) for claim in _CLAIM_LIST.validate_python(raw_claims)
            ]
    except ValidationError:
        # Check claims one by one so every problem is labelled with its claim id.
        parsed = [
            _claim_or_partial(item, key, findings)
            for item, key in zip(raw_claims, keys, strict=True)
        ]
    # the file's shape fails with any claim that is not a mapping: its provider may still pass
    default, whole = (shape.billing_provider, True) if shape else _provider_or_partial(data)
    gathered = _Gathered(source, default, whole, findings)
    for index, (claim, salvaged) in enumerate(parsed):
        gathered.add(keys[index], f"claims[{index}]", raw_claims[index], claim, salvaged)
    return gathered.checked()


class _Gathered:
    """Claims as they are checked, one by one, into a :class:`CheckedClaims`:
    the file's provider given to those without one, repeated ids found."""

    def __init__(self, source: str, default: Any, whole: bool, findings: list[Finding]) -> None:
        self.source = source
        self.default = default
        """The file's billing provider, or what parsed of it; ``None`` when not given."""
        self.whole = whole
        """Whether the file's provider passed its schema."""
        self.findings = findings
        self.claims: list[Claim] = []
        self.partial: list[Claim] = []
        self.seen: dict[str, int] = {}
        self.places: dict[str, str] = {}
        self.payers: dict[str, str] = {}
        self.count = 0

    def add(
        self, key: str, place: str, raw: Any, claim: Claim | None, salvaged: Claim | None
    ) -> None:
        """One claim as parsed (``claim``) or as far as it parsed (``salvaged``)
        from ``raw``, labelled ``key``, found at ``place`` in the file."""
        default = self.default
        if claim is not None and claim.billing_provider is None:
            if default is not None and self.whole:
                if isinstance(raw, dict):  # built here from the dict: ours alone
                    _attach_provider(claim, default)
                else:
                    claim = replace(claim, billing_provider=default)
            else:  # the file's provider failed its schema, or is missing
                salvaged, claim = _as_partial(claim), None
        if salvaged is not None and salvaged.billing_provider is None:
            object.__setattr__(
                salvaged,
                "billing_provider",
                default if default is not None else Unparsed("billing_provider"),
            )
        if default is None and _lacks_provider(raw):
            self.findings.append(_no_provider(key))
        if isinstance(raw, dict) and key in self.seen:
            self.findings.append(
                Finding(
                    Severity.ERROR,
                    "CLAIM-ID-DUPLICATE",
                    f"duplicate claim id (also {self.places[key]})",
                    key,
                    "id",
                    "schema",
                    fix="give each claim its own id; a correction of a sent claim is a "
                    "replacement (frequency: replacement)",
                )
            )
        self.seen.setdefault(key, self.count)
        self.places.setdefault(key, place)
        self.count += 1
        if key not in self.payers:
            payer_id = _payer_id(claim or salvaged)
            if payer_id is not None:
                self.payers[key] = payer_id
        if claim is not None:
            self.claims.append(claim)
        elif salvaged is not None:
            self.partial.append(salvaged)

    def checked(self) -> CheckedClaims:
        return CheckedClaims(
            self.source,
            self.claims,
            self.partial,
            self.findings,
            self.seen,
            self.count,
            self.payers,
        )


class _Header(_Model):
    billing_provider: BillingProvider


def check_claims_lines(path: Path, *, max_bytes: int | None = None) -> CheckedClaims:
    """Read a JSON Lines claims file, one claim per line, as a stream: only the
    claims are kept, never the text or the parsed lines.

    A first line holding only ``billing_provider`` is the provider of every
    claim that has none. A line that is not JSON is an :class:`InputError`
    naming it (after every line was read); schema problems are findings.
    """
    source = str(path)
    findings: list[Finding] = []
    unreadable: list[Problem] = []
    gathered: _Gathered | None = None
    lines = read_lines(path, what="claims file", max_bytes=max_bytes, raise_limit=_RAISE_LIMIT)
    with gc_paused():
        for number, line in lines:
            if not line.strip():
                continue
            try:
                item = parse_json_line(line, source, number)
            except InputError as exc:
                unreadable += exc.problems
                continue
            if gathered is None:
                if isinstance(item, dict) and item.keys() == {"billing_provider"}:
                    try:
                        _Header.model_validate(item)
                    except ValidationError as exc:
                        findings += findings_from_validation_error(exc, None)
                    gathered = _Gathered(source, *_provider_or_partial(item), findings)
                    continue
                gathered = _Gathered(source, None, True, findings)
            key = _claim_key(item, f"line {number}")
            claim, salvaged = _claim_or_partial(item, key, findings)
            gathered.add(key, f"line {number}", item, claim, salvaged)
    if unreadable:
        raise InputError(unreadable)
    if gathered is None or not gathered.count:
        findings.append(
            Finding(
                Severity.ERROR,
                "FILE-SHAPE",
                "no claims: expected one claim per line",
                validator="schema",
                fix="see docs/claims.md for JSON Lines",
            )
        )
    return (gathered or _Gathered(source, None, True, findings)).checked()


def _no_provider(key: str) -> Finding:
    return Finding(
        Severity.ERROR,
        "FIELD-MISSING",
        "required here or at the top of the file",
        key,
        "billing_provider",
        "schema",
        fix="give the claim a billing_provider, or one at the top of the file for all claims",
    )


def _payer_id(claim: Claim | None) -> str | None:
    """The claim's payer id, when it parsed."""
    try:
        payer_id = claim.payer.id if claim is not None else None
    except UnparsedError:
        return None
    return payer_id if isinstance(payer_id, str) else None


def _lacks_provider(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("billing_provider") is None


_CLAIM_FIELDS = tuple(field.name for field in fields(Claim))


def _as_partial(claim: Claim) -> Claim:
    """A valid claim as a :class:`PartialClaim`, to take a provider that failed its schema."""
    partial = object.__new__(PartialClaim)
    for name in _CLAIM_FIELDS:
        object.__setattr__(partial, name, getattr(claim, name))
    return partial


def parse_claims(data: Any, source: str) -> ClaimsFile:
    """Check a parsed document; raise :class:`InputError` with every problem found."""
    return check_claims_data(data, source).raise_findings()


CLAIMS_FILE_LIMIT = 200 * 1_000_000
"""Bytes; a bigger claims file is refused unread (the config or environment may move it)."""
CLAIMS_FILE_LIMIT_ENV = "CLAIMFERRY_CLAIMS_FILE_LIMIT_MB"
_RAISE_LIMIT = (
    f"raise it with {CLAIMS_FILE_LIMIT_ENV} or the config's claims_file_limit_mb, or split the file"
)


def check_claims_text(text: str, source: str, *, json: bool) -> CheckedClaims:
    """A YAML or JSON claims document, every schema problem a finding (an 837P is
    :mod:`claimferry.claims_input`'s to route to its reader)."""
    if json:
        check_json(text, source)  # pydantic's own parser lets a duplicate key's last value win
        fast = _fast_json(text, source)
        if fast is not None:
            return checked_whole(source, fast.claims)
        return check_claims_data(parse_json(text, source), source)
    return check_claims_data(parse_claims_yaml(text, source), source)


def checked_whole(source: str, claims: list[Claim]) -> CheckedClaims:
    """Claims that passed their schema whole (a fast JSON read, an 837P)."""
    order = {claim.id: index for index, claim in enumerate(claims)}
    payers = {claim.id: claim.payer.id for claim in claims}
    return CheckedClaims(source, claims, [], [], order, len(claims), payers)
