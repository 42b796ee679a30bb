"""What the codes in X12 responses mean, and how their element values are read.

Shared by every response reader. The tables hold the meanings an operator
needs to act on a response without the code lists at hand: the X12 internal
short lists are written out here; the long ones (CARC, RARC, claim status,
claim filing indicators) ship as data files, read on first use. An unknown code is shown as itself,
never guessed. The element readers turn text into typed values
(Decimal, date) and raise a precise error naming the file, segment and
element, never the value itself, which may be PHI. ``Person`` keeps names and
member IDs for the caller but masks them in reprs and, unless asked, in the
JSON form.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from functools import cached_property, lru_cache
from importlib.resources import files
from typing import Any, TypeVar

from claimferry.errors import Problem
from claimferry.x12.segments import Segment, X12SyntaxError

# --- TA1 interchange acknowledgment -------------------------------------------

TA1_ACK_CODES: Mapping[str, str] = {
    "A": "interchange accepted with no errors",
    "E": "interchange accepted, errors noted",
    "R": "interchange rejected because of errors",
}

TA1_NOTE_CODES: Mapping[str, str] = {
    "000": "no error",
    "001": "interchange control number in header and trailer do not match",
    "002": "this standard (control standards identifier) is not supported",
    "003": "this version of the controls is not supported",
    "004": "the segment terminator is invalid",
    "005": "invalid interchange ID qualifier for sender",
    "006": "invalid interchange sender ID",
    "007": "invalid interchange ID qualifier for receiver",
    "008": "invalid interchange receiver ID",
    "009": "unknown interchange receiver ID",
    "010": "invalid authorization information qualifier value",
    "011": "invalid authorization information value",
    "012": "invalid security information qualifier value",
    "013": "invalid security information value",
    "014": "invalid interchange date value",
    "015": "invalid interchange time value",
    "016": "invalid interchange standards identifier value",
    "017": "invalid interchange version ID value",
    "018": "invalid interchange control number value",
    "019": "invalid acknowledgment requested value",
    "020": "invalid test indicator value",
    "021": "invalid number of included groups value",
    "022": "invalid control structure",
    "023": "improper (premature) end of file",
    "024": "invalid interchange content (e.g. invalid GS segment)",
    "025": "duplicate interchange control number",
    "026": "invalid data element separator",
    "027": "invalid component element separator",
    "028": "invalid delivery date in deferred delivery request",
    "029": "invalid delivery time in deferred delivery request",
    "030": "invalid delivery time code in deferred delivery request",
    "031": "invalid grade of service code",
}

# --- 999 implementation acknowledgment ----------------------------------------

IK5_STATUS_CODES: Mapping[str, str] = {
    "A": "accepted",
    "E": "accepted, but errors were noted",
    "M": "rejected, message authentication code failed",
    "R": "rejected",
    "W": "rejected, assurance failed validity tests",
    "X": "rejected, content after decryption could not be analyzed",
}

AK9_STATUS_CODES: Mapping[str, str] = {
    **IK5_STATUS_CODES,
    "P": "partially accepted, at least one transaction set was rejected",
}

IK5_SYNTAX_ERROR_CODES: Mapping[str, str] = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "I5": "implementation: one or more segments in error",
    "I6": "implementation convention not supported",
}

AK9_SYNTAX_ERROR_CODES: Mapping[str, str] = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "19": "functional group control number not unique within interchange",
}

IK3_SEGMENT_ERROR_CODES: Mapping[str, str] = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}

IK4_ELEMENT_ERROR_CODES: Mapping[str, str] = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
}

# --- code lists shipped as data files ------------------------------------------


_ABBREVIATION_END = re.compile(r"\b[A-Z][a-z]\.$")


@dataclass(frozen=True)
class CodeEntry:
    """One code of a code list, as its data file records it."""

    code: str
    description: str
    usage: str
    status: str
    """'active', or 'deactivated': no longer to be sent, but old responses still carry it."""
    start: str
    stop: str
    """ISO date the code was deactivated; empty when active or when no source records it."""

    @property
    def deactivated(self) -> bool:
        return self.status == "deactivated"

    @property
    def meaning(self) -> str:
        """The description as a phrase for a status line, marked when the code is deactivated.

        The lists end most descriptions with a full stop; it is dropped unless it
        closes an abbreviation ('Commercial Insurance Co.').
        """
        text = self.description
        if text.endswith(".") and not _ABBREVIATION_END.search(text):
            text = text[:-1]
        if not self.deactivated:
            return text
        since = f" since {self.stop}" if self.stop else ""
        return f"{text} (code deactivated{since})"


class CodeList(Mapping[str, str]):
    """A code list from ``claimferry/data/codes``: code to meaning.

    The file is read on the first lookup, not at import, so start-up does not
    pay for lists a command never shows. Lines starting with '#' record where
    the list comes from; docs/codes.md says how to update it.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename

    @cached_property
    def _entries(self) -> dict[str, CodeEntry]:
        text = (files("claimferry") / "data" / "codes" / self.filename).read_text(encoding="utf-8")
        rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
        return {row["code"]: CodeEntry(**row) for row in rows}

    @cached_property
    def _meanings(self) -> dict[str, str]:
        return {code: entry.meaning for code, entry in self._entries.items()}

    def entry(self, code: str) -> CodeEntry | None:
        return self._entries.get(code)

    def __getitem__(self, code: str) -> str:
        return self._meanings[code]

    def __contains__(self, code: object) -> bool:
        return code in self._meanings

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"CodeList({self.filename!r})"


CLAIM_STATUS_CATEGORIES = CodeList("claim-status-category-codes.csv")
"""277 STC01-1 (X12 external code source 507)."""

CLAIM_STATUS_CODES = CodeList("claim-status-codes.csv")
"""277 STC01-2 (X12 external code source 508)."""

ADJUSTMENT_REASONS = CodeList("claim-adjustment-reason-codes.csv")
"""CARC: CAS02/05/08... (X12 external code source 139)."""

REMARK_CODES = CodeList("remittance-advice-remark-codes.csv")
"""RARC: LQ*HE, MOA and MIA remarks (X12 external code source 411)."""

CLAIM_FILING_CODES = CodeList("claim-filing-indicator-codes.csv")
"""835 CLP06 / 837 SBR09 (X12 element 1032)."""

# --- 277CA claim acknowledgment -----------------------------------------------

ENTITY_CODES: Mapping[str, str] = {
    "03": "dependent",
    "1P": "provider",
    "40": "receiver",
    "41": "submitter",
    "74": "corrected insured",
    "77": "service location",
    "82": "rendering provider",
    "85": "billing provider",
    "87": "pay-to provider",
    "DN": "referring provider",
    "GB": "other insured",
    "IL": "insured or subscriber",
    "PE": "payee",
    "PR": "payer",
    "QC": "patient",
    "TT": "transfer to (crossover carrier)",
}

HL_LEVEL_CODES: Mapping[str, str] = {
    "20": "information source (payer)",
    "21": "information receiver (submitter)",
    "19": "provider of service",
    "PT": "patient",
}

# --- 835 remittance advice ----------------------------------------------------

CLAIM_PAYMENT_STATUS: Mapping[str, str] = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded to additional payer(s)",
    "20": "processed as secondary, forwarded to additional payer(s)",
    "21": "processed as tertiary, forwarded to additional payer(s)",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded to additional payer(s)",
    "25": "predetermination pricing only, no payment",
}

ADJUSTMENT_GROUPS: Mapping[str, str] = {
    "CO": "contractual obligations",
    "CR": "corrections and reversals",
    "OA": "other adjustments",
    "PI": "payer initiated reductions",
    "PR": "patient responsibility",
}

PAYMENT_HANDLING_CODES: Mapping[str, str] = {
    "C": "payment accompanies remittance advice",
    "D": "make payment only",
    "H": "notification only",
    "I": "remittance information only",
    "P": "prenotification of future transfers",
    "U": "split payment and remittance",
    "X": "handling party's option to split payment and remittance",
}

PAYMENT_METHODS: Mapping[str, str] = {
    "ACH": "automated clearing house (EFT)",
    "BOP": "financial institution option",
    "CHK": "check",
    "FWT": "federal reserve funds/wire transfer",
    "NON": "non-payment data",
}

CREDIT_DEBIT: Mapping[str, str] = {"C": "credit", "D": "debit"}

PROVIDER_ADJUSTMENT_REASONS: Mapping[str, str] = {
    "50": "late charge",
    "51": "interest penalty charge",
    "72": "authorized return",
    "90": "early payment allowance",
    "AH": "origination fee",
    "AM": "applied to borrower's account",
    "AP": "acceleration of benefits",
    "B2": "rebate",
    "B3": "recovery allowance",
    "BD": "bad debt adjustment",
    "BN": "bonus",
    "C5": "temporary allowance",
    "CR": "capitation interest",
    "CS": "adjustment",
    "CT": "capitation payment",
    "CV": "capital passthru",
    "CW": "certified registered nurse anesthetist passthru",
    "DM": "direct medical education passthru",
    "E3": "withholding",
    "FB": "forwarding balance",
    "FC": "fund allocation",
    "GO": "graduate medical education passthru",
    "HM": "hemophilia clotting factor supplement",
    "IP": "incentive premium payment",
    "IR": "internal revenue service withholding",
    "IS": "interim settlement",
    "J1": "nonreimbursable",
    "L3": "penalty",
    "L6": "interest owed",
    "LE": "levy",
    "LS": "lump sum",
    "OA": "organ acquisition passthru",
    "OB": "offset for affiliated providers",
    "PI": "periodic interim payment",
    "PL": "payment final",
    "RA": "retro-activity adjustment",
    "RE": "return on equity",
    "SL": "student loan repayment",
    "TL": "third party liability",
    "WO": "overpayment recovery",
    "WU": "unspecified recovery",
}


_DIGITS = re.compile(r"[0-9]+")


def is_digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '²', which ``int`` refuses)."""
    return _DIGITS.fullmatch(text) is not None


def meaning(table: Mapping[str, str], code: str) -> str:
    """The meaning of ``code``; a code the table lacks is shown as itself, never guessed."""
    if not code:
        return "no code"
    found = table.get(code)
    return f"no description on file for code {code!r}" if found is None else found


def remark_meaning(code: str) -> str:
    """A remark code's meaning. A code from another list than the RARCs (an 835 line's
    LQ01 other than HE, e.g. RX for NCPDP reject codes) is kept as ``LIST:code``."""
    qualifier, colon, own = code.rpartition(":")
    if colon:
        return f"{qualifier} code {own} (LQ01 {qualifier}: not a remittance advice remark code)"
    return meaning(REMARK_CODES, code)


def describe_remark(code: str) -> str:
    """A remark code (RARC) with its meaning, e.g. 'N130: Consult plan benefit documents...'."""
    return f"{code}: {remark_meaning(code)}"


# --- element readers ----------------------------------------------------------

_AMOUNT = re.compile(r"-?(?:[0-9]{1,15}(?:\.[0-9]{0,4})?|\.[0-9]{1,4})")
_NUMBER = re.compile(r"-?(?:[0-9]{1,15}(?:\.[0-9]{0,6})?|\.[0-9]{1,6})")
_COMPOSITE_QUALIFIER = re.compile(r"[A-Z0-9]{2}([^A-Za-z0-9 ])")


_BAD_DATE = date.min
"""``_ccyymmdd``'s answer for text that is not eight digits."""


@lru_cache(maxsize=4096)
def _ccyymmdd(value: str) -> date | None:
    """A CCYYMMDD date, ``None`` off the calendar; cached, as a remittance repeats a
    handful of dates thousands of times."""
    if len(value) != 8 or not _DIGITS.fullmatch(value):
        return _BAD_DATE
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


class ElementReader:
    """Reads typed element values for one file and collects its notices.

    Notices are problems that do not stop reading: a trailer count that does
    not match, or a date shaped right that does not exist on the calendar
    (payers send them; refusing the whole response would hide every other
    claim's answer).

    The readers run for nearly every element of a 100 MB remittance, so each
    looks its element up inline (stripped; empty when absent), and amounts
    already read are remembered by their text (a remittance repeats '0',
    '3.50' and its fee schedule thousands of times; a Decimal is immutable, so
    sharing one is safe), and so are quantities (its service units).
    """

    AMOUNT_CACHE = 2048
    """Distinct amount (and quantity) texts remembered per file: bounded, so memory
    stays flat."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.notices: list[Problem] = []
        self._amounts: dict[str, Decimal] = {}
        self._quantities: dict[str, Decimal] = {}

    def error(self, segment: Segment, index: int | None, message: str) -> X12SyntaxError:
        return X12SyntaxError(self.source, segment.where(index), message)

    def notice(self, segment: Segment, index: int | None, message: str) -> None:
        self.notices.append(Problem(self.source, segment.where(index), message))

    def required(self, segment: Segment, index: int, what: str) -> str:
        elements = segment.elements
        value = elements[index - 1].strip() if 0 < index <= len(elements) else ""
        if not value:
            raise self.error(segment, index, f"expected {what}, found nothing")
        return value

    def code(self, segment: Segment, index: int, table: Mapping[str, str], what: str) -> str:
        """A required element whose value must be one of ``table``'s codes."""
        elements = segment.elements
        value = elements[index - 1].strip() if 0 < index <= len(elements) else ""
        if value not in table:
            choices = ", ".join(table)
            raise self.error(segment, index, f"expected {what} (one of {choices})")
        return value

    def amount(self, segment: Segment, index: int) -> Decimal:
        elements = segment.elements
        text = elements[index - 1] if 0 < index <= len(elements) else ""
        found = self._amounts.get(text)
        if found is not None:
            return found
        value = text.strip()
        if not _AMOUNT.fullmatch(value):
            raise self.error(segment, index, "expected an amount (e.g. 125.50)")
        found = Decimal(value)
        if len(self._amounts) < self.AMOUNT_CACHE:
            self._amounts[text] = found
        return found

    def optional_amount(self, segment: Segment, index: int) -> Decimal | None:
        elements = segment.elements
        if 0 < index <= len(elements) and elements[index - 1].strip():
            return self.amount(segment, index)
        return None

    def quantity(self, segment: Segment, index: int) -> Decimal | None:
        elements = segment.elements
        text = elements[index - 1] if 0 < index <= len(elements) else ""
        found = self._quantities.get(text)
        if found is not None:
            return found
        value = text.strip()
        if not value:
            return None
        if not _NUMBER.fullmatch(value):
            raise self.error(segment, index, "expected a quantity (e.g. 4 or 1.5)")
        found = Decimal(value)
        if len(self._quantities) < self.AMOUNT_CACHE:
            self._quantities[text] = found
        return found

    def count(self, segment: Segment, index: int) -> int:
        value = segment.element(index).strip()
        if not _DIGITS.fullmatch(value) or len(value) > 10:
            raise self.error(segment, index, "expected a count (digits only)")
        return int(value)

    def date_of(self, segment: Segment, index: int, *, required: bool = True) -> date | None:
        """A CCYYMMDD date; None (with a notice) when it is not on the calendar."""
        elements = segment.elements
        value = elements[index - 1].strip() if 0 < index <= len(elements) else ""
        if not value and not required:
            return None
        found = _ccyymmdd(value)
        if found is _BAD_DATE:
            raise self.error(segment, index, "expected a date as CCYYMMDD")
        if found is None:
            self.notice(segment, index, "date is not on the calendar; read as unknown")
        return found

    def period(self, segment: Segment, format_index: int) -> tuple[date | None, date | None]:
        """A DTP date (D8) or range (RD8): the qualifier at ``format_index``, the value after."""
        value_index = format_index + 1
        value = segment.element(value_index).strip()
        form = segment.element(format_index).strip()
        if form == "D8":
            day = self.date_text(segment, value_index, value)
            return day, day
        if form == "RD8":
            start, dash, end = value.partition("-")
            if not dash:
                raise self.error(segment, value_index, "expected a date range as CCYYMMDD-CCYYMMDD")
            return (
                self.date_text(segment, value_index, start),
                self.date_text(segment, value_index, end),
            )
        raise self.error(segment, format_index, "expected a date format qualifier (D8 or RD8)")

    def date_text(self, segment: Segment, index: int, value: str) -> date | None:
        found = _ccyymmdd(value)
        if found is _BAD_DATE:
            raise self.error(segment, index, "expected a date as CCYYMMDD")
        if found is None:
            self.notice(segment, index, "date is not on the calendar; read as unknown")
        return found

    def short_date(self, segment: Segment, index: int) -> date | None:
        """A YYMMDD date (ISA09, TA102); years 69-99 are 1900s, as POSIX reads %y."""
        value = segment.element(index).strip()
        if len(value) != 6 or not _DIGITS.fullmatch(value):
            raise self.error(segment, index, "expected a date as YYMMDD")
        year = int(value[:2])
        year += 1900 if year >= 69 else 2000
        return self._calendar(segment, index, year, int(value[2:4]), int(value[4:]))

    def time_of(self, segment: Segment, index: int) -> time | None:
        """An HHMM[SS[D..]] time; None (with a notice) when the clock has no such time."""
        value = segment.element(index).strip()
        if len(value) not in (4, 6, 7, 8) or not _DIGITS.fullmatch(value):
            raise self.error(segment, index, "expected a time as HHMM or HHMMSS")
        hour, minute = int(value[:2]), int(value[2:4])
        second = int(value[4:6]) if len(value) >= 6 else 0
        if hour > 23 or minute > 59 or second > 59:
            self.notice(segment, index, "time is not a real time of day; read as unknown")
            return None
        return time(hour, minute, second)

    def composite(self, segment: Segment, index: int) -> list[str]:
        """Components of a composite whose qualifier is 2 letters or digits.

        Some payers use another component separator than the one ISA16
        declares (``SVC*HC>12345>26`` under ``:``). When the declared one is
        absent and the value starts with a qualifier and punctuation, that
        punctuation is taken as the separator.
        """
        value = segment.element(index)
        declared = segment.delimiters.component
        if declared not in value:
            found = _COMPOSITE_QUALIFIER.match(value)
            if found:
                return value.split(found.group(1))
        return value.split(declared)

    def _calendar(
        self, segment: Segment, index: int, year: int, month: int, day: int
    ) -> date | None:
        try:
            return date(year, month, day)
        except ValueError:
            self.notice(segment, index, "date is not on the calendar; read as unknown")
            return None


# --- result types ----------------------------------------------------------------

_Frozen = TypeVar("_Frozen")


def fast_frozen_init(cls: type[_Frozen]) -> type[_Frozen]:
    """Give a frozen dataclass an ``__init__`` that fills the instance dict directly.

    The ``__init__`` that ``dataclass(frozen=True)`` writes calls
    ``object.__setattr__`` once per field, which costs several times more
    than the assignment itself; a remittance builds a claim, a line and its
    adjustments for every CLP, and that alone was a fifth of the reading. The
    replacement takes the same parameters and leaves the same instance (same
    attributes, equality, hash, repr and pickling), and the class stays
    frozen. Only for plain classes: every field a positional parameter without
    default, no ``__post_init__``, no slots; anything else is refused here, at
    import.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    params = inspect.signature(cls.__init__).parameters
    plain = all(
        p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
        for p in list(params.values())[1:]
    )
    if (
        not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        or list(params)[1:] != names
        or not plain
        or hasattr(cls, "__post_init__")
        or "__slots__" in cls.__dict__
    ):
        raise TypeError(f"fast_frozen_init: {cls.__name__} is not a plain frozen dataclass")
    stores = "".join(f"    fields[{name!r}] = {name}\n" for name in names)
    code = f"def __init__(self, {', '.join(names)}):\n    fields = self.__dict__\n{stores}"
    namespace: dict[str, Any] = {}
    exec(code, {}, namespace)  # noqa: S102 - field names only, from the class itself
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
    return cls


# --- people and the JSON form -------------------------------------------------

MASK = "***"


@fast_frozen_init
@dataclass(frozen=True)
class Person:
    """A patient or insured named in a response (NM1). Names and IDs are PHI."""

    entity: str
    last_name: str
    first_name: str
    middle_name: str
    id_qualifier: str
    id: str

    def __repr__(self) -> str:
        return f"Person(entity={self.entity!r}, name={MASK!r}, id_qualifier={self.id_qualifier!r})"

    @property
    def display_name(self) -> str:
        return " ".join(x for x in (self.first_name, self.middle_name, self.last_name) if x)

    def to_dict(self, *, phi: bool = False) -> dict[str, str]:
        shown = {"name": self.display_name, "id": self.id} if phi else {"name": MASK, "id": MASK}
        return {"entity": self.entity, **shown, "id_qualifier": self.id_qualifier}


def person(segment: Segment) -> Person:
    """An NM1 segment as a Person (NM103 last, NM104 first, NM105 middle, NM109 id)."""
    fields = (*segment.elements, "", "", "", "", "", "", "", "", "")
    # positional: an ERA names a patient in every claim
    return Person(fields[0], fields[2], fields[3], fields[4], fields[7], fields[8])


def jsonable(value: Any, *, phi: bool = False) -> Any:
    """Dataclasses as dicts, Decimals as strings, dates ISO; PHI masked unless ``phi``."""
    if isinstance(value, Person):
        return value.to_dict(phi=phi)
    if isinstance(value, Problem):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name), phi=phi)
            for f in dataclasses.fields(value)
            if f.repr
        }
    if isinstance(value, tuple | list):
        return [jsonable(item, phi=phi) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | time):
        return value.isoformat()
    return value
