"""837P files as claims input: every loop the claim model covers, read into it.

``claimferry validate/build/submit`` take an 837P a practice-management system
wrote as they take a YAML claims file: its claims are read into the same model
(COB loops 2320/2330A/2330B/2430 included), checked the same way, then written
again by our writer with the account's own envelope. ``show`` lists a file
with :mod:`claimferry.x12.claims837`, which reads past loops it does not list;
this reader may not, since what it reads is sent on.

Anything the model cannot carry (a middle name, a payer address, a drug loop,
an ICD-9 code...) would be lost on the way out, so each is a problem naming the
segment, its position and its loop. ``strict`` (the input commands) refuses
the file with every such problem; otherwise (``convert --drop-unsupported``)
they are returned as notes with the claims, for a person to review.

The envelope (ISA/GS/ST, BHT, the submitter and receiver of loops 1000A/B and
their contact) is the sender's: our writer makes its own, so it is read for
structure only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from claimferry.claims import (
    ASSIGNMENT_CODES,
    BENEFITS_ASSIGNMENT_CODES,
    FREQUENCY_CODES,
    RELATIONSHIP_CODES,
    RELEASE_CODES,
    RESPONSIBILITY_CODES,
    BillingProvider,
    Claim,
    ClaimsFile,
    Patient,
    Payer,
    Subscriber,
    _attach_provider,
)
from claimferry.documents import gc_paused
from claimferry.errors import InputError, Problem
from claimferry.validation import dotted, problems_from_validation_error
from claimferry.x12.segments import Segment, X12SyntaxError, read_segments
from claimferry.x12.ta1 import EnvelopedStream

IMPLEMENTATION_837P = "005010X222"

CACHE = 4096
"""Distinct amounts, dates and SV1s remembered per file: bounded, so memory stays flat."""
MAX_PROBLEMS = 100
"""A file with an unsupported segment in every claim would list thousands: the
first hundred say what to fix."""

_RESPONSIBILITY = {code: word for word, code in RESPONSIBILITY_CODES.items()}
_RELATIONSHIP = {code: word for word, code in RELATIONSHIP_CODES.items()}
_OTHER_RELATIONSHIP = {**_RELATIONSHIP, "18": "self"}
_ASSIGNMENT = {code: word for word, code in ASSIGNMENT_CODES.items()}
_BENEFITS = {code: word for word, code in BENEFITS_ASSIGNMENT_CODES.items()}
_RELEASE = {code: word for word, code in RELEASE_CODES.items()}
_FREQUENCY = {code: word for word, code in FREQUENCY_CODES.items()}

_PROVIDER = TypeAdapter(BillingProvider)
_SUBSCRIBER = TypeAdapter(Subscriber)
_PAYER = TypeAdapter(Payer)
_PATIENT = TypeAdapter(Patient)
_CLAIM = TypeAdapter(Claim)


@dataclass
class Read837:
    """The claims of an 837P and, unless read strictly, what was left out of them."""

    claims: ClaimsFile
    dropped: list[Problem] = field(default_factory=list)


class _Unsupported(Exception):
    """Raised in strict mode once :data:`MAX_PROBLEMS` are found."""


def _address(n3: Segment, n4: Segment) -> dict[str, Any]:
    """N3 and N4 as an address; the schema says what is missing."""
    address: dict[str, Any] = {"line1": n3.element(1)}
    if n3.element(2).strip():
        address["line2"] = n3.element(2)
    address.update(city=n4.element(1), state=n4.element(2), zip=n4.element(3))
    return address


_LINE_ENDS = frozenset({"LX", "HL", "CLM"})
"""What ends a service line (2400 and its 2420/2430 loops); anything else stays in it."""


class _Reader:
    """Walks one file's transactions, loop by loop, building claim dicts.

    ``loop`` is the TR3 loop the last segment opened; each segment is taken by
    the loop it stands in or noted as left out.
    """

    def __init__(self, source: str, strict: bool) -> None:
        self.source = source
        self.strict = strict
        self.dropped: list[Problem] = []
        self.claims: list[Claim] = []
        self.seen: dict[str, int] = {}
        self.loop = "1000"
        self.provider: dict[str, Any] | None = None
        self.provider_model: BillingProvider | None = None
        self.subscriber: dict[str, Any] | None = None
        self.payer: dict[str, Any] | None = None
        self.responsibility = "primary"
        self.insurance_type: str | None = None
        """The subscriber's SBR05, for each claim under it (the claim's ``insurance_type``)."""
        self.patient: dict[str, Any] | None = None
        self.level_models: dict[str, Any] = {}
        self.party: dict[str, Any] | None = None
        """The name (NM1) being read: its N3/N4/DMG/PRV/REF go to it."""
        self.claim: dict[str, Any] | None = None
        self.clm: Segment | None = None
        self.total = Decimal(0)
        self.line: dict[str, Any] | None = None
        self.other: dict[str, Any] | None = None
        self.adjudicated: dict[str, Any] | None = None
        self.pending_n3: Segment | None = None
        self.amounts: dict[str, Decimal] = {}
        self.days: dict[str, date] = {}
        self.periods: dict[tuple[str, ...], tuple[date, date | None]] = {}
        self.payers: dict[tuple[Any, Any], Payer] = {}
        self.service: dict[tuple[str, ...], dict[str, Any]] = {}
        """SV1 read before, by its elements: a practice bills the same codes again and again."""

    # -- problems -----------------------------------------------------------

    def error(self, segment: Segment, index: int | None, message: str) -> X12SyntaxError:
        return X12SyntaxError(self.source, f"{segment.where(index)} in loop {self.loop}", message)

    def drop(self, segment: Segment, message: str, index: int | None = None) -> None:
        """Note what the model cannot carry; strictly read, it refuses the file."""
        where = f"{segment.where(index)} in loop {self.loop}"
        self.dropped.append(Problem(self.source, where, message))
        if self.strict and len(self.dropped) >= MAX_PROBLEMS:
            raise _Unsupported

    def unplaced(self, segment: Segment) -> None:
        qualifier = segment.element(1).strip()
        name = f"{segment.id}*{qualifier}" if qualifier and len(qualifier) <= 3 else segment.id
        self.drop(segment, f"{name}: the claim model has no place for it here")

    def beyond(self, segment: Segment, after: int, what: str) -> None:
        """Elements past ``after`` that the model has no field for."""
        for index in range(after + 1, len(segment.elements) + 1):
            if segment.element(index).strip():
                self.drop(segment, f"{what}: the claim model has no field for it", index)

    def required(self, segment: Segment, index: int, what: str) -> str:
        elements = segment.elements
        value = elements[index - 1].strip() if index <= len(elements) else ""
        if not value:
            raise self.error(segment, index, f"expected {what}, found nothing")
        return value

    def amount(self, segment: Segment, index: int) -> Decimal:
        value = self.required(segment, index, "an amount")
        found = self.amounts.get(value)
        if found is None:
            try:
                found = Decimal(value)
            except ArithmeticError:
                raise self.error(segment, index, "expected an amount (e.g. 125.50)") from None
            if not found.is_finite():
                raise self.error(segment, index, "expected an amount (e.g. 125.50)")
            if len(self.amounts) < CACHE:
                self.amounts[value] = found
        return found

    def day(self, text: str, segment: Segment, index: int) -> date:
        found = self.days.get(text)
        if found is None:
            if len(text) != 8 or not text.isdigit():
                raise self.error(segment, index, "expected a date as CCYYMMDD")
            try:
                found = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
            except ValueError:
                raise self.error(segment, index, "expected a date as CCYYMMDD") from None
            if len(self.days) < CACHE:
                self.days[text] = found
        return found

    def dated(self, segment: Segment) -> tuple[date, date | None]:
        elements = segment.elements
        if len(elements) < 3:
            raise self.error(segment, 3, "expected a date (D8) or range (RD8)")
        form, value = elements[1].strip(), elements[2].strip()
        if form == "D8" and len(value) == 8:
            return self.day(value, segment, 3), None
        if form == "RD8" and len(value) == 17 and value[8] == "-":
            start, end = self.day(value[:8], segment, 3), self.day(value[9:], segment, 3)
            return start, (None if end == start else end)
        raise self.error(segment, 2, "expected a date (D8) or range (RD8)")

    def code(self, segment: Segment, index: int, table: dict[str, str], what: str) -> str:
        elements = segment.elements
        value = elements[index - 1].strip() if index <= len(elements) else ""
        if value not in table:
            raise self.error(segment, index, f"expected {what} (one of {', '.join(table)})")
        return table[value]

    def address(self, segment: Segment) -> dict[str, Any] | None:
        """An N3 is kept until its N4 comes; then the two are the address."""
        if segment.id == "N3":
            self.pending_n3 = segment
            self.beyond(segment, 2, "a third address line")
            return None
        n3, self.pending_n3 = self.pending_n3, None
        if n3 is None:
            raise self.error(segment, None, "expected N3 before N4")
        self.beyond(segment, 3, "a country or location code")
        return _address(n3, segment)

    # -- names --------------------------------------------------------------

    def person(self, nm1: Segment) -> dict[str, Any]:
        """NM1 of a person: last and first name (the caller takes the identifier)."""
        elements = nm1.elements
        if len(elements) < 4 or elements[1] != "1":
            self.drop(nm1, "expected a person's last and first name (NM102 1)", 2)
            return {}
        if "".join(elements[4:7]).strip():
            for index, what in ((5, "a middle name"), (6, "a name prefix"), (7, "a name suffix")):
                if nm1.element(index).strip():
                    self.drop(nm1, f"{what}: the claim model has no field for it", index)
        return {"last_name": elements[2], "first_name": elements[3]}

    def identifier(self, nm1: Segment, qualifier: str) -> str | None:
        found = nm1.elements[7:9]
        if not found or found[0].strip() != qualifier:
            if "".join(found).strip():
                self.drop(nm1, f"an identifier other than {qualifier}", 8)
            return None
        if len(found) < 2:
            return None
        return found[1].strip() or None

    # -- the walk -----------------------------------------------------------

    def feed(self, segment: Segment) -> None:
        seg_id = segment.id
        if seg_id == "HL":
            self.level(segment)
        elif self.loop == "1000":
            if seg_id not in ("BHT", "NM1", "PER", "REF"):
                raise self.error(segment, None, "expected BHT, NM1 or PER before the first HL")
        elif seg_id == "CLM":
            self.open_claim(segment)
        elif self.claim is not None:
            self.in_claim(segment)
        else:
            self.in_level(segment)

    def start(self, st: Segment, group_version: str) -> None:
        version = st.element(3).strip() or group_version
        if not version.startswith(IMPLEMENTATION_837P):
            raise self.error(st, 3, f"expected an 837P ({IMPLEMENTATION_837P}A1) transaction")
        self.close_claim()
        self.loop = "1000"
        self.provider = self.subscriber = self.payer = self.patient = None

    def end(self, se: Segment) -> None:
        if self.loop == "1000":
            raise self.error(se, None, "expected at least one HL level in the transaction")
        self.close_claim()

    def level(self, hl: Segment) -> None:
        self.close_claim()
        code = hl.element(3).strip()
        if code == "20":
            self.loop, self.provider = "2000A", {}
            self.provider_model = None
            self.subscriber = self.payer = self.patient = None
        elif code == "22":
            if self.provider is None:
                raise self.error(hl, None, "expected a billing provider (HL*20) first")
            self.loop, self.subscriber, self.payer, self.patient = "2000B", None, None, None
            self.responsibility, self.insurance_type = "primary", None
            self.level_models = {}
        elif code == "23":
            if self.subscriber is None:
                raise self.error(hl, None, "expected a subscriber (HL*22) before HL*23")
            self.loop, self.patient = "2000C", {}
            self.level_models.pop("patient", None)
        else:
            raise self.error(hl, 3, "expected an 837P level code (20, 22 or 23)")
        self.party = None

    def in_level(self, segment: Segment) -> None:
        seg_id, loop = segment.id, self.loop
        if seg_id == "NM1":
            self.level_name(segment)
        elif seg_id == "PRV" and loop == "2000A":
            if segment.element(1) != "BI":
                self.drop(segment, "a provider code other than BI", 1)
            assert self.provider is not None
            self.provider["taxonomy"] = self.required(segment, 3, "a taxonomy code")
        elif seg_id == "SBR" and loop == "2000B":
            self.sbr(segment)
        elif seg_id == "PAT" and loop == "2000C":
            assert self.patient is not None
            self.patient["relationship"] = self.code(
                segment, 1, _RELATIONSHIP, "a relationship code"
            )
            self.beyond(segment, 1, "patient death or pregnancy details")
        elif seg_id in ("N3", "N4", "DMG", "REF") and self.party is not None:
            self.party_detail(segment, self.party)
        else:
            self.unplaced(segment)

    def sbr(self, segment: Segment) -> None:
        self.responsibility = self.code(segment, 1, _RESPONSIBILITY, "P, S or T")
        self.subscriber = {"filing_code": self.required(segment, 9, "a claim filing code")}
        if segment.element(3).strip():
            self.subscriber["group_number"] = segment.element(3)
        self.insurance_type = segment.element(5).strip() or None
        if segment.element(4).strip():
            self.drop(segment, "a group name: the claim model has no field for it", 4)

    def level_name(self, nm1: Segment) -> None:
        entity, loop = nm1.element(1), self.loop
        self.party = None
        if loop in ("2000A", "2010AA", "2010AB") and entity == "85":
            assert self.provider is not None
            self.loop = "2010AA"
            if nm1.element(2) == "2":
                self.provider["organization"] = nm1.element(3)
            else:
                self.provider.update(self.person(nm1))
            self.provider["npi"] = self.identifier(nm1, "XX")
            self.party = self.provider
        elif loop in ("2010AA", "2010AB") and entity == "87":
            assert self.provider is not None
            self.loop = "2010AB"
            self.beyond(nm1, 2, "a pay-to name or id")
            self.party = self.provider["pay_to"] = {}
        elif loop in ("2000B", "2010BA") and entity == "IL":
            self.loop = "2010BA"
            if self.subscriber is None:
                raise self.error(nm1, None, "expected SBR before the subscriber")
            self.subscriber.update(self.person(nm1))
            self.subscriber["member_id"] = self.identifier(nm1, "MI")
            self.party = self.subscriber
        elif loop in ("2000B", "2010BA", "2010BB") and entity == "PR":
            self.loop = "2010BB"
            self.payer = {"name": nm1.element(3), "id": self.identifier(nm1, "PI")}
            self.party = {}  # the payer's address and ids have no place in the model
        elif loop in ("2000C", "2010CA") and entity == "QC":
            self.loop = "2010CA"
            assert self.patient is not None
            self.patient.update(self.person(nm1))
            self.party = self.patient
        else:
            self.drop(nm1, f"a name (NM1*{entity}) the claim model has no place for here")

    def party_detail(self, segment: Segment, party: dict[str, Any]) -> None:
        seg_id = segment.id
        if seg_id in ("N3", "N4"):
            if self.loop == "2010BB":
                self.drop(segment, "the payer's address: the claim model has no field for it")
                return
            built = self.address(segment)
            if built is not None and self.loop == "2010AB":
                party.update(built)  # the pay-to loop is an address alone
            elif built is not None:
                party["address"] = built
        elif seg_id == "DMG" and self.loop in ("2010BA", "2010CA"):
            if segment.element(1) != "D8":
                raise self.error(segment, 1, "expected D8")
            party["birth_date"] = self.day(segment.element(2).strip(), segment, 2)
            party["gender"] = segment.element(3).strip()
            self.beyond(segment, 3, "marital status, race or citizenship")
        elif seg_id == "REF" and self.loop == "2010AA" and segment.element(1) in ("EI", "SY"):
            party["tax_id"] = self.required(segment, 2, "the tax id")
            if segment.element(1) == "SY":
                party["tax_id_type"] = "ssn"
        else:
            self.unplaced(segment)

    # -- the claim ----------------------------------------------------------

    def level_model(self, key: str, adapter: TypeAdapter[Any], data: dict[str, Any]) -> Any:
        """The level's party as a model, built once for all the claims under it."""
        found = self.level_models.get(key)
        if found is None:
            found = self.level_models[key] = adapter.validate_python(data)
        return found

    def open_claim(self, clm: Segment) -> None:
        self.close_claim()
        if self.subscriber is None or self.payer is None:
            raise self.error(clm, None, "expected CLM under a subscriber and payer (HL*22)")
        assert self.provider is not None
        self.loop = "2300"
        claim_id = self.required(clm, 1, "the claim id (CLM01)")
        facility = clm.components(5)
        if len(facility) < 3 or not facility[0] or facility[1] != "B":
            raise self.error(clm, 5, "expected place of service and frequency as code:B:frequency")
        self.total = self.amount(clm, 2)
        self.clm = clm
        self.claim = {
            "id": claim_id,
            "place_of_service": facility[0],
            "frequency": self.code_of(clm, 5, facility[2], _FREQUENCY, "a frequency code"),
            "lines": [],
            "other_payers": [],
            "payer_responsibility": self.responsibility,
        }
        if self.insurance_type is not None:
            self.claim["insurance_type"] = self.insurance_type
        if clm.element(6).strip() != "Y":
            self.drop(clm, "a provider signature other than Y", 6)
        self.claim["assignment"] = self.code(clm, 7, _ASSIGNMENT, "an assignment code")
        self.claim["benefits_assignment"] = self.code(clm, 8, _BENEFITS, "a benefits code")
        self.claim["release_of_information"] = self.code(clm, 9, _RELEASE, "a release code")
        for index in range(10, len(clm.elements) + 1):
            value = clm.element(index).strip()
            if index == 20 and value:
                self.claim["delay_reason"] = value
            elif value:
                self.drop(clm, "the claim model has no field for this element", index)
        self.line = self.other = self.adjudicated = self.party = None

    def code_of(
        self, seg: Segment, index: int, value: str, table: dict[str, str], what: str
    ) -> str:
        if value not in table:
            raise self.error(seg, index, f"expected {what} (one of {', '.join(table)})")
        return table[value]

    def in_claim(self, segment: Segment) -> None:
        claim, seg_id = self.claim, segment.id
        assert claim is not None
        if seg_id == "LX":
            self.close_line()
            self.loop, self.party, self.other = "2400", None, None
            self.line = {}
        elif self.line is not None:
            self.in_line(segment, self.line)
        elif seg_id == "SBR":
            self.other_payer(segment, claim)
        elif self.other is not None:
            self.in_other_payer(segment, self.other)
        elif seg_id == "NM1":
            self.claim_name(segment, claim)
        elif self.party is not None and seg_id in ("N3", "N4", "PRV", "REF"):
            self.provider_detail(segment, self.party)
        elif seg_id == "REF" and segment.element(1) in ("G1", "F8"):
            key = "prior_authorization" if segment.element(1) == "G1" else "payer_claim_number"
            claim[key] = self.required(segment, 2, "a reference number")
            if key == "payer_claim_number" and claim["frequency"] == "original":
                self.drop(segment, "a payer claim number on an original claim is not sent again")
        elif seg_id == "NTE" and segment.element(1) == "ADD" and "note" not in claim:
            claim["note"] = self.required(segment, 2, "the note")
        elif seg_id == "HI":
            self.diagnoses(segment, claim)
        elif seg_id == "SV1":
            raise self.error(segment, None, "expected LX before SV1")
        else:
            self.unplaced(segment)

    def diagnoses(self, hi: Segment, claim: dict[str, Any]) -> None:
        codes = claim.setdefault("diagnoses", [])
        for index in range(1, len(hi.elements) + 1):
            parts = hi.components(index)
            if not parts[0]:
                continue
            qualifier = parts[0]
            expected = "ABK" if not codes else "ABF"
            if qualifier in ("BK", "BF"):
                self.drop(hi, "an ICD-9 code: the writer sends ICD-10 (ABK/ABF)", index)
            elif qualifier != expected:
                self.drop(hi, f"code list {qualifier}: the claim model has diagnoses only", index)
                continue
            if len(parts) < 2 or not parts[1]:
                raise self.error(hi, index, "expected a diagnosis as qualifier:code")
            codes.append(parts[1])

    def claim_name(self, nm1: Segment, claim: dict[str, Any]) -> None:
        entity = nm1.element(1)
        loops = {"DN": "2310A", "82": "2310B", "77": "2310C", "DQ": "2310D"}
        keys = {
            "DN": "referring_provider",
            "82": "rendering_provider",
            "77": "service_facility",
            "DQ": "supervising_provider",
        }
        if entity not in loops:
            self.drop(nm1, f"a name (NM1*{entity}) the claim model has no place for")
            self.party = {}
            return
        self.loop = loops[entity]
        if entity == "77":
            party: dict[str, Any] = {"name": nm1.element(3)}
            npi = self.identifier(nm1, "XX")
            if npi:
                party["npi"] = npi
        else:
            party = self.person(nm1)
            party["npi"] = self.identifier(nm1, "XX")
            if party["npi"] is None:
                self.drop(nm1, "a provider without an NPI: the claim model needs one", 9)
                self.party = {}
                return
        claim[keys[entity]] = self.party = party

    def provider_detail(self, segment: Segment, party: dict[str, Any]) -> None:
        seg_id = segment.id
        if seg_id == "PRV" and self.loop in ("2310B", "2420A") and party:
            party["taxonomy"] = self.required(segment, 3, "a taxonomy code")
        elif seg_id in ("N3", "N4") and self.loop == "2310C" and party:
            built = self.address(segment)
            if built is not None:
                party["address"] = built
        else:
            self.unplaced(segment)

    def other_payer(self, sbr: Segment, claim: dict[str, Any]) -> None:
        self.loop, self.party = "2320", None
        other: dict[str, Any] = {
            "responsibility": self.code(sbr, 1, _RESPONSIBILITY, "P, S or T"),
            "relationship": self.code(sbr, 2, _OTHER_RELATIONSHIP, "a relationship code"),
            "filing_code": self.required(sbr, 9, "a claim filing code"),
            "subscriber": {},
            "adjustments": [],
            "lines": [],
        }
        if sbr.element(3).strip():
            other["subscriber"]["group_number"] = sbr.element(3)
        if sbr.element(5).strip():
            other["insurance_type"] = sbr.element(5).strip()
        if sbr.element(4).strip():
            self.drop(sbr, "a group name: the claim model has no field for it", 4)
        claim["other_payers"].append(other)
        self.other = other

    def cas(self, segment: Segment, into: list[dict[str, Any]]) -> None:
        group = segment.element(1).strip()
        for index in range(2, len(segment.elements) + 1, 3):
            reason = segment.element(index).strip()
            if not reason:
                continue
            into.append(
                {"group": group, "reason": reason, "amount": self.amount(segment, index + 1)}
            )
            if segment.element(index + 2).strip():
                self.drop(segment, "an adjustment quantity: the model has none", index + 2)

    def in_other_payer(self, segment: Segment, other: dict[str, Any]) -> None:
        seg_id, loop, elements = segment.id, self.loop, segment.elements
        element1 = elements[0] if elements else ""
        claim = self.claim
        assert claim is not None
        if seg_id == "CAS" and loop == "2320":
            self.cas(segment, other["adjustments"])
        elif seg_id == "AMT" and loop == "2320" and element1 in ("D", "EAF"):
            key = "paid" if element1 == "D" else "remaining_patient_liability"
            other[key] = self.amount(segment, 2)
        elif seg_id == "OI" and loop == "2320":
            benefits = self.code(segment, 3, _BENEFITS, "a benefits code")
            release = self.code(segment, 6, _RELEASE, "a release code")
            if (benefits, release) != (
                claim["benefits_assignment"],
                claim["release_of_information"],
            ):
                self.drop(segment, "OI03/OI06 differ from CLM08/CLM09: the writer sends CLM's")
            for index in (1, 2, 4, 5):
                if segment.element(index).strip():
                    self.drop(segment, "the claim model has no field for this element", index)
        elif seg_id == "MOA" and loop == "2320":
            other["remark_codes"] = [code for code in elements[2:7] if code.strip()]
            for index in (1, 2, 8, 9):
                if segment.element(index).strip():
                    self.drop(segment, "the claim model has no field for this element", index)
        elif seg_id == "NM1" and element1 == "IL" and loop == "2320":
            self.loop = "2330A"
            other["subscriber"].update(self.person(segment))
            other["subscriber"]["member_id"] = self.identifier(segment, "MI")
        elif seg_id in ("N3", "N4") and loop == "2330A":
            built = self.address(segment)
            if built is not None:
                other["subscriber"]["address"] = built
        elif seg_id == "NM1" and element1 == "PR" and loop in ("2320", "2330A"):
            self.loop = "2330B"
            other["payer"] = {"name": segment.element(3), "id": self.identifier(segment, "PI")}
        elif seg_id == "DTP" and element1 == "573" and loop == "2330B":
            other["adjudication_date"], _ = self.dated(segment)
        elif seg_id == "REF" and element1 == "F8" and loop == "2330B":
            other["payer_claim_number"] = self.required(segment, 2, "the payer's claim number")
        else:
            self.unplaced(segment)

    # -- lines --------------------------------------------------------------

    def in_line(self, segment: Segment, line: dict[str, Any]) -> None:
        seg_id, elements = segment.id, segment.elements
        element1 = elements[0] if elements else ""
        if seg_id == "SV1":
            self.sv1(segment, line)
        elif seg_id == "DTP" and element1 == "472" and self.loop == "2400":
            period = self.periods.get(elements)
            if period is None:
                period = self.dated(segment)
                if len(self.periods) < CACHE:
                    self.periods[elements] = period
            line["service_date"] = period[0]
            if period[1] is not None:
                line["service_end_date"] = period[1]
        elif seg_id == "REF" and element1 == "6R" and self.loop == "2400":
            line["id"] = self.required(segment, 2, "the line control number")
        elif seg_id == "NM1" and element1 in ("82", "DN"):
            self.loop = "2420A" if element1 == "82" else "2420F"
            party = self.person(segment)
            party["npi"] = self.identifier(segment, "XX")
            key = "rendering_provider" if element1 == "82" else "referring_provider"
            line[key] = self.party = party
        elif seg_id == "PRV" and self.loop == "2420A" and self.party is not None:
            self.party["taxonomy"] = self.required(segment, 3, "a taxonomy code")
        elif seg_id == "SVD":
            self.svd(segment, line)
        elif seg_id == "CAS" and self.loop == "2430" and self.adjudicated is not None:
            self.cas(segment, self.adjudicated["adjustments"])
        elif seg_id == "DTP" and element1 == "573" and self.adjudicated is not None:
            self.adjudicated["date"], _ = self.dated(segment)
        elif seg_id == "AMT" and element1 == "EAF" and self.adjudicated is not None:
            self.adjudicated["remaining_patient_liability"] = self.amount(segment, 2)
        else:
            self.unplaced(segment)

    def sv1(self, sv1: Segment, line: dict[str, Any]) -> None:
        if "procedure" in line:
            raise self.error(sv1, None, "expected one SV1 per service line (LX)")
        known = self.service.get(sv1.elements)
        if known is not None:
            line.update(known)
            return
        dropped = len(self.dropped)
        procedure = sv1.components(1)
        if len(procedure) < 2 or procedure[0] != "HC" or not procedure[1]:
            raise self.error(sv1, 1, "expected a procedure as HC:code")
        if len(procedure) > 6 and any(procedure[6:]):
            self.drop(sv1, "a procedure description: the model has none", 1)
        line["procedure"] = procedure[1]
        line["modifiers"] = tuple(m for m in procedure[2:6] if m)
        line["charge"] = self.amount(sv1, 2)
        if sv1.element(3) != "UN":
            self.drop(sv1, "units other than UN: the writer sends UN", 3)
        line["units"] = self.amount(sv1, 4)
        pointers = sv1.components(7)
        try:
            line["diagnosis_pointers"] = tuple(int(p) for p in pointers if p)
        except ValueError:
            raise self.error(sv1, 7, "expected diagnosis pointers as numbers") from None
        for index in (5, 6, *range(8, len(sv1.elements) + 1)):
            if sv1.element(index).strip():
                self.drop(sv1, "the claim model has no field for this element", index)
        if len(self.dropped) == dropped and len(self.service) < CACHE:
            self.service[sv1.elements] = dict(line)

    def svd(self, svd: Segment, line: dict[str, Any]) -> None:
        claim = self.claim
        assert claim is not None
        self.loop, self.party = "2430", None
        payer_id = self.required(svd, 1, "the other payer's id")
        others = [o for o in claim["other_payers"] if o.get("payer", {}).get("id") == payer_id]
        if not others:
            raise self.error(svd, 1, "expected the id of an other payer (2330B) of this claim")
        procedure = svd.components(3)
        if len(procedure) < 2 or not procedure[1]:
            raise self.error(svd, 3, "expected a procedure as HC:code")
        adjudicated: dict[str, Any] = {
            "line": len(claim["lines"]) + 1,
            "paid": self.amount(svd, 2),
            "adjustments": [],
        }
        if procedure[1] != line.get("procedure"):
            adjudicated["procedure"] = procedure[1]
        modifiers = tuple(m for m in procedure[2:6] if m)
        if modifiers != line.get("modifiers"):
            adjudicated["modifiers"] = modifiers
        units = self.amount(svd, 5) if svd.element(5).strip() else None
        if units is not None and units != line.get("units"):
            adjudicated["units"] = units
        if svd.element(6).strip():
            self.drop(svd, "a bundled line number: the model has none", 6)
        others[0]["lines"].append(adjudicated)
        self.adjudicated = adjudicated

    def close_line(self) -> None:
        line, self.line, self.adjudicated = self.line, None, None
        if line is None:
            return
        claim, clm = self.claim, self.clm
        assert claim is not None and clm is not None
        if "procedure" not in line or "service_date" not in line:
            raise self.error(
                clm, None, f"expected SV1 and DTP*472 in line {len(claim['lines']) + 1}"
            )
        line_id = line.get("id")
        if line_id is not None and line_id == f"{claim['id']}-{len(claim['lines']) + 1}":
            del line["id"]  # what our writer sends for a line without one
        claim["lines"].append(line)

    def close_claim(self) -> None:
        self.close_line()
        claim, clm, self.claim = self.claim, self.clm, None
        if claim is None:
            return
        assert clm is not None and self.provider is not None and self.subscriber is not None
        part = "billing_provider"  # the model being built, for the problem's field path
        try:
            provider = self.provider_model
            if provider is None:
                data = dict(self.provider)
                pay_to = data.pop("pay_to", None)
                if pay_to:
                    data["pay_to_address"] = pay_to
                provider = self.provider_model = _PROVIDER.validate_python(data)
            part = "subscriber"
            claim["subscriber"] = self.level_model(part, _SUBSCRIBER, self.subscriber)
            part = "payer"
            payer = self.payer or {}
            key = (payer.get("name"), payer.get("id"))
            found = self.payers.get(key)  # a few payers, named again under every subscriber
            if found is None:
                found = self.payers[key] = _PAYER.validate_python(payer)
            claim["payer"] = found
            if self.patient is not None:
                part = "patient"
                claim["patient"] = self.level_model(part, _PATIENT, self.patient)
            part = ""
            built = _CLAIM.validate_python(claim)
        except ValidationError as exc:
            where = f"claim {claim['id']} ({clm.where()}): {part + '.' if part else ''}"
            problems = problems_from_validation_error(
                exc, self.source, lambda loc: where + dotted(loc)
            )
            raise InputError([*self.dropped, *problems]) from None
        if built.total_charge != self.total:
            raise self.error(clm, 2, "CLM02 differs from the sum of the lines' charges")
        _attach_provider(built, provider)
        if built.id in self.seen:
            raise self.error(clm, 1, "duplicate claim id in the file")
        self.seen[built.id] = clm.position
        self.claims.append(built)


class _Stream(EnvelopedStream):
    TRANSACTION = "837"
    GROUP = "HC"

    def read(self, reader: _Reader) -> None:
        envelope, group_version, last = self.envelope, "", None
        check, feed, in_line = envelope.check, reader.feed, reader.in_line
        for segment in self.segments:
            last = segment
            if not check(segment):
                line = reader.line
                if line is not None and segment.id not in _LINE_ENDS:  # half the file
                    in_line(segment, line)
                else:
                    feed(segment)
            elif segment.id == "GS":
                group_version = segment.element(8).strip()
            elif segment.id == "ST":
                reader.start(segment, group_version)
            elif segment.id == "SE":
                reader.end(segment)
        envelope.finish(last)


def read_837p_claims(segments: Iterable[Segment], source: str, *, strict: bool = True) -> Read837:
    """The claims of an 837P file; raises :class:`InputError` naming file and segment."""
    reader = _Reader(source, strict)
    try:
        with gc_paused():
            _Stream(segments, source).read(reader)
    except _Unsupported:
        more = f"only the first {MAX_PROBLEMS} segments the claim model cannot carry are listed"
        reader.dropped.append(Problem(source, "", more))
    if strict and reader.dropped:
        raise InputError(reader.dropped)
    if not reader.claims:
        raise X12SyntaxError(source, "", "expected at least one claim (CLM)")
    return Read837(ClaimsFile.model_construct(source=source, claims=reader.claims), reader.dropped)


def load_837p(path: Path, *, strict: bool = True) -> Read837:
    return read_837p_claims(read_segments(path), str(path), strict=strict)
