"""Office Ally's own text reports: the File Summary, the EDI Status Report and
the readable ERA.

The layouts are those of real files as public integrations read them (see
docs/officeally.md for what is confirmed and where from). Columns are found
where their titles start in each table's header row, never at fixed offsets:
Office Ally's FileID is 9 or 10 digits, so widths vary. No patient name,
member id, birth date or address is kept: ``show`` prints these documents
as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from claimferry.api import (
    BatchUpdate,
    ClaimUpdate,
    InputError,
    Problem,
    ResponseReader,
)
from claimferry_officeally.profile import PROFILE_NAME, ResponseNaming

Fail = Callable[[int, str], InputError]
UNKNOWN_TITLE = re.compile(r"(?:^|[ \t]{2,})(\S)")


# --- shared reading ------------------------------------------------------------


def _lines(path: Path) -> tuple[list[str], Fail]:
    """The report's lines, and a maker of errors naming this file and a line.

    Decoded as Latin-1, one character per byte, so a column is the same
    width in every row whatever the bytes in a name.
    """
    source = str(path)

    def fail(line: int, message: str) -> InputError:
        return InputError([Problem(source, f"line {line}" if line else "", message)])

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(0, f"cannot read the file: {exc.strerror}") from None
    if b"\0" in data:
        raise fail(0, "binary data, not a text report")
    return [line.rstrip("\r") for line in data.decode("latin-1").split("\n")], fail


def _is_rule(line: str, char: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 3 and stripped == char * len(stripped)


def _columns(
    header: str, titles: Mapping[str, Sequence[str]], required: Sequence[str]
) -> dict[str, int] | list[str]:
    """Where each known column starts in ``header``, or the required titles missing.

    A title counts where it stands alone (spaces or the line's ends around it);
    longer titles are placed first, so ``Payer`` never claims ``Payer Ref ID``.
    A title the reader does not know (after two spaces) still ends the column
    before it; its own column is read by no one.
    """
    upper = header.upper()
    taken = [False] * len(upper)
    starts: dict[str, int] = {}
    aliases = sorted(
        ((alias.upper(), key) for key, names in titles.items() for alias in names),
        key=lambda pair: -len(pair[0]),
    )
    for alias, key in aliases:
        if key in starts:
            continue
        at = upper.find(alias)
        while at >= 0:
            end = at + len(alias)
            alone = (at == 0 or upper[at - 1] in " \t") and (
                end == len(upper) or upper[end] in " \t"
            )
            if alone and not any(taken[at:end]):
                starts[key] = at
                taken[at:end] = [True] * len(alias)
                break
            at = upper.find(alias, at + 1)
    missing = [titles[key][0] for key in required if key not in starts]
    for unknown in UNKNOWN_TITLE.finditer(header):
        if not taken[unknown.start(1)]:
            starts[f"#{unknown.start(1)}"] = unknown.start(1)
    return missing or starts


def _cells(line: str, starts: Mapping[str, int]) -> dict[str, str]:
    """Each column's text: from its start to the next column's start."""
    order = sorted(starts.items(), key=lambda item: item[1])
    ends = [start for _, start in order[1:]] + [len(line)]
    return {key: line[start:end].strip() for (key, start), end in zip(order, ends, strict=True)}


def _amount(text: str) -> Decimal | None:
    """``1,234.50``, ``$400.00`` or ``-48.80``; None when it is not an amount."""
    try:
        value = Decimal(text.replace("$", "").replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


# --- EDI Status Report (Appendix C) ---------------------------------------------

EDI_STATUS_TITLES: Mapping[str, Sequence[str]] = {
    "file_id": ("File ID",),
    "oa_claim_id": ("OA ClaimID", "OA Claim ID", "Claim ID"),
    "claim_id": ("Accnt#", "Account#", "Acct#", "Patient Acct", "Patient Account"),
    "patient": ("Patient Name", "Last,First", "Patient"),
    "amount": ("Amount", "Billed", "Total Charge", "Charge"),
    "practice": ("Practice ID", "Practice"),
    "tax_id": ("Tax ID",),
    "payer_id": ("Payer ID", "Payer"),
    "processed": ("Payer Process Date", "Process Date", "Process Dt", "Processed"),
    "payer_reference": ("Payer Ref ID", "Payer Ref", "Ref ID"),
    "status": ("Status",),
    "response": ("Payer Response", "Response", "Message"),
}
"""Column titles the reader knows, first spelling first. Only ``File ID`` is
seen in public integrations; the rest are the fields they read (unconfirmed)."""

EDI_STATUS_REQUIRED = ("file_id", "claim_id", "status")
PAYER_STATES = {"ACCEPTED": "acknowledged", "REJECTED": "payer_rejected"}
"""The report carries the payer's answer (its process date, reference and
response), so a row moves the claim as a payer's 277CA would."""
FILE_ID = re.compile(r"\d{9,10}")
OA_CLAIM_ID = re.compile(r"\d{10}")


@dataclass(frozen=True)
class StatusRow:
    """One claim's row; the patient's name, the practice and tax ids are not kept."""

    file_id: str
    oa_claim_id: str
    claim_id: str
    billed: Decimal | None
    payer_id: str
    processed: str
    payer_reference: str
    status: str
    response: str


@dataclass(frozen=True)
class EdiStatusReport:
    source: str
    rows: tuple[StatusRow, ...]

    kind = "EDI_STATUS"

    def claim_updates(self) -> list[ClaimUpdate]:
        return [
            ClaimUpdate(
                row.claim_id,
                PAYER_STATES[row.status],
                f"Office Ally EDI status: payer {row.payer_id or '?'} {row.status}"
                + (f": {row.response}" if row.response else ""),
            )
            for row in self.rows
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "file_ids": sorted({row.file_id for row in self.rows}),
            "claims": [
                {
                    "claim_id": r.claim_id,
                    "file_id": r.file_id,
                    "oa_claim_id": r.oa_claim_id,
                    "payer_id": r.payer_id,
                    "billed": _money(r.billed),
                    "processed": r.processed,
                    "payer_reference": r.payer_reference,
                    "status": r.status,
                    "response": r.response,
                }
                for r in self.rows
            ],
        }

    def render(self) -> str:
        accepted = sum(row.status == "ACCEPTED" for row in self.rows)
        files = ", ".join(sorted({row.file_id for row in self.rows})) or "none"
        lines = [
            f"Office Ally EDI status report ({self.source})",
            f"  file(s) {files}: {len(self.rows)} claims, {accepted} accepted by the payer, "
            f"{len(self.rows) - accepted} rejected",
        ]
        lines += [
            f"    claim {r.claim_id} (OA {r.oa_claim_id or '-'}): {r.status}  "
            f"payer {r.payer_id or '-'}  {_money(r.billed)}  {r.response}".rstrip()
            for r in self.rows
        ]
        return "\n".join(lines)


def read_edi_status(path: Path) -> EdiStatusReport:
    """Parse one EDI Status Report; a malformed row is refused naming file and line."""
    lines, fail = _lines(path)
    header_at, starts = _edi_status_header(lines, fail)
    first = min(starts.values())
    rows: list[StatusRow] = []
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        lead = line[first : first + 1]
        if lead.isdigit():
            rows.append(_status_row(number, _cells(line, starts), fail))
        elif (
            rows
            and "response" in starts
            and line.strip()
            and not line[: starts["response"]].strip()
        ):
            last = rows[-1]
            rows[-1] = replace(last, response=f"{last.response} {line.strip()}".strip())
    return EdiStatusReport(str(path), tuple(rows))


def _edi_status_header(lines: Sequence[str], fail: Fail) -> tuple[int, dict[str, int]]:
    """The header row: the first line that starts with ``File ID`` and has the
    required titles (a ``FILE ID: ...`` label line is not it)."""
    missing: tuple[int, list[str]] | None = None
    for index, line in enumerate(lines):
        if not line.strip().upper().startswith("FILE ID"):
            continue
        starts = _columns(line, EDI_STATUS_TITLES, EDI_STATUS_REQUIRED)
        if isinstance(starts, dict):
            return index, starts
        missing = missing or (index + 1, starts)
    if missing is None:
        raise fail(0, "no header row (a line whose first column is 'File ID')")
    raise fail(missing[0], f"the header row lacks the columns {', '.join(missing[1])}")


def _status_row(number: int, cells: Mapping[str, str], fail: Fail) -> StatusRow:
    file_id, status = cells["file_id"], cells["status"].upper()
    oa_claim_id, billed = cells.get("oa_claim_id", ""), cells.get("amount", "")
    if not FILE_ID.fullmatch(file_id):
        raise fail(number, "File ID must be 9 or 10 digits")
    if "oa_claim_id" in cells and not OA_CLAIM_ID.fullmatch(oa_claim_id):
        raise fail(number, "OA Claim ID must be 10 digits")
    if not cells["claim_id"]:
        raise fail(number, "the patient account number (Accnt#, our claim id) is empty")
    if status not in PAYER_STATES:
        raise fail(number, "Status must be ACCEPTED or REJECTED")
    amount = _amount(billed) if billed else None
    if billed and amount is None:
        raise fail(number, "Amount is not an amount")
    return StatusRow(
        file_id,
        oa_claim_id,
        cells["claim_id"],
        amount,
        cells.get("payer_id", ""),
        cells.get("processed", ""),
        cells.get("payer_reference", ""),
        status,
        cells.get("response", ""),
    )


# --- File Summary (Appendix B) ---------------------------------------------------

SUMMARY_TITLE = "CLAIMS UPLOAD FILE SUMMARY"
SUMMARY_FIELDS = {
    "file name": "file_name",
    "date uploaded": "uploaded",
    "type of file": "file_type",
    "date processed": "processed",
}
SUMMARY_FIELD = re.compile(
    r"\s*(file name|date uploaded|type of file|date processed)\s*:(.*)", re.I
)
SUMMARY_COUNT = re.compile(r"\s*(\d+)\s*# of claims\s+(.+?)\s*", re.I)
SUMMARY_ERROR = re.compile(r"\s*\+--->\s*(\d+)\s*# errors?\s+(\S+)\s*-\s*(.*?)\s*", re.I)
MASTER_FILE = re.compile(r"master file with file\s*id\s*:\s*(\d{9,10})", re.I)
SPLIT = re.compile(r"the file (.+?) was split into (\d+) file\(s\)", re.I)
SPLIT_FILE = re.compile(r"\s*(\d{9,10})\s+(.*?)\s*\((\S+)\)\s+(\d+)\s+(\$?[\d,]+\.\d{2})\s*")
CLAIM_DETAIL = re.compile(r"-*\s*(ERROR|ACCEPTED|PENDING) CLAIM DETAIL", re.I)
CLAIM_ROW = re.compile(r"\s*\d+\)")
SUMMARY_TITLES: Mapping[str, Sequence[str]] = {
    "number": ("CLAIM#",),
    "oa_claim_id": ("OA CLAIMID", "OA CLAIM ID"),
    "patient_id": ("PATIENT ID",),
    "patient": ("LAST,FIRST",),
    "birth_date": ("DOB",),
    "from_date": ("FROM DOS",),
    "to_date": ("TO DOS",),
    "procedure": ("CPT",),
    "diagnosis": ("DIAG",),
    "tax_id": ("TAX ID",),
    "claim_id": ("ACCNT#",),
    "provider_id": ("PHYS.ID",),
    "payer_id": ("PAYER",),
    "errors": ("ERRORS",),
}
SUMMARY_REQUIRED = ("number", "oa_claim_id", "claim_id", "payer_id", "errors")


@dataclass(frozen=True)
class SummaryClaim:
    """One claim Office Ally created from the file; no patient data is kept."""

    section: str
    oa_claim_id: str
    claim_id: str
    payer_id: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class SplitFile:
    """A file Office Ally split the upload into: one per payer, with its own FileID."""

    file_id: str
    payer_id: str
    claims: int
    total: Decimal


@dataclass(frozen=True)
class SummaryError:
    code: str
    meaning: str
    count: int


@dataclass(frozen=True)
class FileSummary:
    """Office Ally's summary of one uploaded file.

    A *failed* file (not X12-compliant) has no claims at all: the summary
    names our file and the error, and every claim in that batch is rejected.
    """

    source: str
    file_id: str
    file_name: str
    uploaded_name: str
    file_type: str
    uploaded: str
    processed: str
    counts: Mapping[str, int]
    errors: tuple[SummaryError, ...]
    remarks: tuple[str, ...]
    split: tuple[SplitFile, ...]
    claims: tuple[SummaryClaim, ...]

    kind = "FILE_SUMMARY"

    @property
    def failed(self) -> bool:
        return not self.claims and not any(self.counts.values())

    @property
    def reason(self) -> str:
        """Why the file failed, in Office Ally's words."""
        said = self.remarks or tuple(f"{e.code} - {e.meaning}" for e in self.errors)
        return "; ".join(said) or "no claims were created from the file"

    def claim_updates(self) -> list[ClaimUpdate]:
        return []

    def batch_updates(self) -> list[BatchUpdate]:
        if not self.failed:
            return []
        detail = f"Office Ally failed file {self.file_id or '?'}: {self.reason}"
        return [BatchUpdate("rejected", detail, file_name=self.uploaded_name)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "file_id": self.file_id,
            "file_name": self.file_name,
            "uploaded_name": self.uploaded_name,
            "file_type": self.file_type,
            "uploaded": self.uploaded,
            "processed": self.processed,
            "failed": self.failed,
            "reason": self.reason if self.failed else None,
            "counts": dict(self.counts),
            "errors": [
                {"code": e.code, "meaning": e.meaning, "count": e.count} for e in self.errors
            ],
            "remarks": list(self.remarks),
            "split": [
                {
                    "file_id": s.file_id,
                    "payer_id": s.payer_id,
                    "claims": s.claims,
                    "total": _money(s.total),
                }
                for s in self.split
            ],
            "claims": [
                {
                    "claim_id": c.claim_id,
                    "oa_claim_id": c.oa_claim_id,
                    "section": c.section,
                    "payer_id": c.payer_id,
                    "errors": list(c.errors),
                }
                for c in self.claims
            ],
        }

    def render(self) -> str:
        lines = [
            f"Office Ally file summary ({self.source})",
            f"  file {self.file_id or '?'} = our upload {self.uploaded_name}: "
            f"type {self.file_type or '?'}, uploaded {self.uploaded or '?'}, "
            f"processed {self.processed or '?'}",
        ]
        if self.failed:
            lines.append(f"  FAILED, no claims were created: {self.reason}")
            return "\n".join(lines)
        lines.append(
            "  " + ", ".join(f"{count} {label.lower()}" for label, count in self.counts.items())
        )
        lines += [f"  error {e.code} ({e.count}): {e.meaning}" for e in self.errors]
        lines += [f"  note: {remark}" for remark in self.remarks]
        lines += [
            f"  split: file {s.file_id} to payer {s.payer_id}, {s.claims} claim(s), {s.total:.2f}"
            for s in self.split
        ]
        lines += [
            f"    claim {c.claim_id} (OA {c.oa_claim_id}): {c.section}  payer {c.payer_id}"
            + (f"  {','.join(c.errors)}" if c.errors else "")
            for c in self.claims
        ]
        return "\n".join(lines)


def read_file_summary(path: Path, naming: ResponseNaming | None = None) -> FileSummary:
    """Parse one File Summary; a malformed line is refused naming file and line."""
    lines, fail = _lines(path)
    title_at = next(
        (i for i, line in enumerate(lines) if line.strip().upper() == SUMMARY_TITLE), None
    )
    if title_at is None:
        raise fail(0, "no 'Claims Upload File Summary' section")
    fields: dict[str, str] = {}
    counts: dict[str, int] = {}
    errors: list[SummaryError] = []
    remarks: list[str] = []
    for number, line in enumerate(lines[title_at + 1 :], start=title_at + 2):
        if _is_rule(line, "="):
            break
        if not line.strip():
            continue
        if found := SUMMARY_FIELD.fullmatch(line):
            fields[SUMMARY_FIELDS[found.group(1).lower()]] = found.group(2).strip()
        elif found := SUMMARY_COUNT.fullmatch(line):
            counts[found.group(2)] = int(found.group(1))
        elif line.lstrip().startswith("+--->"):
            if not (found := SUMMARY_ERROR.fullmatch(line)):
                raise fail(number, "expected '+---> <count> # errors <code> - <meaning>'")
            errors.append(SummaryError(found.group(2), found.group(3), int(found.group(1))))
        else:
            remarks.append(" ".join(line.split()))
    file_name = fields.get("file_name", "")
    if not file_name:
        raise fail(title_at + 1, "the Claims Upload File Summary names no File Name")
    file_id = _master_file_id(lines, path, naming)
    prefix = f"{file_id}_"
    uploaded_name = (
        file_name[len(prefix) :] if file_id and file_name.startswith(prefix) else file_name
    )
    return FileSummary(
        source=str(path),
        file_id=file_id,
        file_name=file_name,
        uploaded_name=uploaded_name,
        file_type=fields.get("file_type", ""),
        uploaded=fields.get("uploaded", ""),
        processed=fields.get("processed", ""),
        counts=counts,
        errors=tuple(errors),
        remarks=tuple(remarks),
        split=tuple(_split_files(lines, fail)),
        claims=tuple(_summary_claims(lines, fail)),
    )


def _master_file_id(lines: Sequence[str], path: Path, naming: ResponseNaming | None) -> str:
    for line in lines:
        if found := MASTER_FILE.search(line):
            return found.group(1)
    named = (naming or ResponseNaming()).parse(path.name)
    return named.file_id if named else ""


def _split_files(lines: Sequence[str], fail: Fail) -> Iterator[SplitFile]:
    """The per-payer files listed after "The file ... was split into N file(s)"."""
    at = next((i for i, line in enumerate(lines) if SPLIT.search(line)), None)
    if at is None:
        return
    for number, line in enumerate(lines[at + 1 :], start=at + 2):
        if _is_rule(line, "="):
            return
        if not line[:1].isdigit():
            continue
        if not (found := SPLIT_FILE.fullmatch(line)):
            raise fail(number, "expected '<File ID> <payer> (<payer id>) <claims> <total>'")
        if (total := _amount(found.group(5))) is None:
            raise fail(number, "the file's total is not an amount")
        yield SplitFile(found.group(1), found.group(3), int(found.group(4)), total)


def _summary_claims(lines: Sequence[str], fail: Fail) -> Iterator[SummaryClaim]:
    """The rows of every ACCEPTED/ERROR CLAIM DETAIL table."""
    index = 0
    while index < len(lines):
        found = CLAIM_DETAIL.fullmatch(lines[index].strip())
        index += 1
        if not found:
            continue
        section = {"ERROR": "rejected"}.get(found.group(1).upper(), found.group(1).lower())
        header_at = next(
            (
                i
                for i in range(index, min(index + 3, len(lines)))
                if lines[i].lstrip().startswith("CLAIM#")
            ),
            None,
        )
        if header_at is None:
            raise fail(index, "no CLAIM# header row under the claim detail title")
        starts = _columns(lines[header_at], SUMMARY_TITLES, SUMMARY_REQUIRED)
        if isinstance(starts, list):
            raise fail(header_at + 1, f"the header row lacks the columns {', '.join(starts)}")
        index = header_at + 1
        rows: list[SummaryClaim] = []
        while index < len(lines) and not _is_rule(lines[index], "="):
            line, number = lines[index], index + 1
            index += 1
            if not line.strip() or _is_rule(line, "-"):
                continue
            if CLAIM_ROW.match(line):
                rows.append(_summary_claim(number, section, _cells(line, starts), fail))
            elif rows and not line[: starts["errors"]].strip():
                last = rows[-1]
                more = tuple(e.strip() for e in line.split(",") if e.strip())
                rows[-1] = replace(last, errors=last.errors + more)
            else:
                raise fail(number, "expected a claim row ('1)', '2)', ...)")
        yield from rows


def _summary_claim(number: int, section: str, cells: Mapping[str, str], fail: Fail) -> SummaryClaim:
    if not OA_CLAIM_ID.fullmatch(cells["oa_claim_id"]):
        raise fail(number, "OA CLAIMID must be 10 digits")
    if not cells["claim_id"]:
        raise fail(number, "ACCNT# (our claim id) is empty")
    errors = tuple(e.strip() for e in cells["errors"].split(",") if e.strip())
    return SummaryClaim(section, cells["oa_claim_id"], cells["claim_id"], cells["payer_id"], errors)


# --- readable ERA (ERA_STATUS ... .txt) -------------------------------------------

ERA_BANNER = "HEALTH CARE CLAIM PAYMENT/ADVICE"
CHECK_TITLES: Mapping[str, Sequence[str]] = {
    "check": ("Check#",),
    "amount": ("Amount",),
    "claims": ("# Claims",),
    "payee_id": ("NPI or Tax ID",),
    "payee": ("Payee",),
    "date": ("Date",),
}
ERA_CLAIM_TITLES: Mapping[str, Sequence[str]] = {
    "check": ("Check#",),
    "patient_id": ("Patient ID",),
    "patient": ("Last,First",),
    "charge": ("Charge Amt",),
    "paid": ("Payment Amt",),
    "claim_id": ("Accnt#",),
    "status": ("Status",),
    "payer": ("Payer",),
}
ADJUSTMENT_TITLES: Mapping[str, Sequence[str]] = {
    "date": ("Adjustment Date",),
    "provider_id": ("Provider ID",),
    "reference": ("Reference ID",),
    "amount": ("Adjustment Amt",),
    "reason": ("Reason",),
}
PAYER_CLAIM_NUMBER = re.compile(r"\s*Payer Claim Control Number:\s*(\S*)", re.I)


@dataclass(frozen=True)
class EraCheck:
    check: str
    amount: Decimal
    claims: int
    date: str


@dataclass(frozen=True)
class EraClaim:
    """One claim block; the patient's id and name are not kept."""

    check: str
    claim_id: str
    charge: Decimal
    paid: Decimal
    status: str
    payer_claim_number: str


@dataclass(frozen=True)
class EraAdjustment:
    reference: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class EraText:
    """The ERA summary written for people. It moves no claim: the 835 beside it
    is what the ledger reads; this one is archived and shown."""

    source: str
    checks: tuple[EraCheck, ...]
    claims: tuple[EraClaim, ...]
    adjustments: tuple[EraAdjustment, ...]

    kind = "ERA_STATUS"

    def claim_updates(self) -> list[ClaimUpdate]:
        return []

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "checks": [
                {"check": c.check, "amount": _money(c.amount), "claims": c.claims, "date": c.date}
                for c in self.checks
            ],
            "claims": [
                {
                    "claim_id": c.claim_id,
                    "check": c.check,
                    "charge": _money(c.charge),
                    "paid": _money(c.paid),
                    "status": c.status,
                    "payer_claim_number": c.payer_claim_number,
                }
                for c in self.claims
            ],
            "adjustments": [
                {"reference": a.reference, "amount": _money(a.amount), "reason": a.reason}
                for a in self.adjustments
            ],
        }

    def render(self) -> str:
        lines = [
            f"Office Ally ERA text ({self.source}): {len(self.checks)} payment(s), "
            f"{len(self.claims)} claim(s); read for people only, the 835 moves the claims",
        ]
        lines += [
            f"  payment {c.check}: {c.amount:.2f} on {c.date or '?'}, {c.claims} claim(s)"
            for c in self.checks
        ]
        lines += [
            f"  adjustment {a.reference}: {a.amount:.2f} {a.reason}" for a in self.adjustments
        ]
        lines += [
            f"    claim {c.claim_id}: {c.status}, charged {c.charge:.2f}, paid {c.paid:.2f}"
            + (f", payer claim {c.payer_claim_number}" if c.payer_claim_number else "")
            for c in self.claims
        ]
        return "\n".join(lines)


def read_era_text(path: Path) -> EraText:
    """Parse one readable ERA; a malformed row is refused naming file and line."""
    lines, fail = _lines(path)
    checks: list[EraCheck] = []
    claims: list[EraClaim] = []
    adjustments: list[EraAdjustment] = []
    seen_checks = False
    index = 0
    while index < len(lines):
        line, number = lines[index], index + 1
        index += 1
        head = line.strip().upper()
        if head.startswith("CHECK#") and "# CLAIMS" in head:
            seen_checks = True
            starts = _table_columns(line, CHECK_TITLES, ("check", "amount", "claims"), number, fail)
            for row_number, row in _table_rows(lines, index):
                checks.append(_era_check(row_number, _cells(row, starts), fail))
        elif head.startswith("CHECK#") and "ACCNT#" in head:
            starts = _table_columns(
                line,
                ERA_CLAIM_TITLES,
                ("check", "charge", "paid", "claim_id", "status"),
                number,
                fail,
            )
            if index >= len(lines) or not lines[index].strip():
                raise fail(number + 1, "expected the claim's row under its header")
            claims.append(
                _era_claim(number + 1, _cells(lines[index], starts), lines[index + 1 :], fail)
            )
        elif head.startswith("ADJUSTMENT DATE"):
            starts = _table_columns(
                line, ADJUSTMENT_TITLES, ("reference", "amount", "reason"), number, fail
            )
            for row_number, row in _table_rows(lines, index):
                adjustments.append(_era_adjustment(row_number, _cells(row, starts), fail))
    if not seen_checks:
        raise fail(0, "no payment table (a 'Check#' header row with '# Claims')")
    return EraText(str(path), tuple(checks), tuple(claims), tuple(adjustments))


def _table_columns(
    header: str,
    titles: Mapping[str, Sequence[str]],
    required: Sequence[str],
    number: int,
    fail: Fail,
) -> dict[str, int]:
    starts = _columns(header, titles, required)
    if isinstance(starts, list):
        raise fail(number, f"the header row lacks the columns {', '.join(starts)}")
    return starts


def _table_rows(lines: Sequence[str], start: int) -> Iterator[tuple[int, str]]:
    """A table's rows with their line numbers: after its header (and a rule under
    it), up to the next rule or blank line."""
    index = start
    while index < len(lines) and _is_rule(lines[index], "="):
        index += 1
    for number, line in enumerate(lines[index:], start=index + 1):
        if not line.strip() or _is_rule(line, "=") or _is_rule(line, "-"):
            return
        yield number, line


def _era_check(number: int, cells: Mapping[str, str], fail: Fail) -> EraCheck:
    amount = _amount(cells["amount"])
    if not cells["check"]:
        raise fail(number, "Check# is empty")
    if amount is None:
        raise fail(number, "Amount is not an amount")
    if not cells["claims"].isdigit():
        raise fail(number, "# Claims is not a count")
    return EraCheck(cells["check"], amount, int(cells["claims"]), cells.get("date", ""))


def _era_claim(number: int, cells: Mapping[str, str], after: Sequence[str], fail: Fail) -> EraClaim:
    charge, paid = _amount(cells["charge"]), _amount(cells["paid"])
    if not cells["claim_id"]:
        raise fail(number, "Accnt# (our claim id) is empty")
    if charge is None:
        raise fail(number, "Charge Amt is not an amount")
    if paid is None:
        raise fail(number, "Payment Amt is not an amount")
    payer_claim_number = ""
    for line in after:
        if _is_rule(line, "-") or line.strip().upper().startswith("CHECK#"):
            break
        if found := PAYER_CLAIM_NUMBER.match(line):
            payer_claim_number = found.group(1)
            break
    return EraClaim(
        cells["check"], cells["claim_id"], charge, paid, cells["status"], payer_claim_number
    )


def _era_adjustment(number: int, cells: Mapping[str, str], fail: Fail) -> EraAdjustment:
    amount = _amount(cells["amount"])
    if amount is None:
        raise fail(number, "Adjustment Amt is not an amount")
    return EraAdjustment(cells["reference"], amount, cells["reason"])


# --- registration ----------------------------------------------------------------


def make_readers(naming: ResponseNaming | None = None) -> list[ResponseReader]:
    """The three readers; each knows its report by name (``naming``) or by content."""
    names = naming or ResponseNaming()

    def named(report: str) -> Callable[[str], bool]:
        def check(file_name: str) -> bool:
            found = names.parse(file_name)
            return found is not None and found.report == report

        return check

    def known(report: str, content: Callable[[bytes], bool]) -> Callable[[str, bytes], bool]:
        by_name = named(report)
        return lambda file_name, head: by_name(file_name) or content(head)

    return [
        ResponseReader(
            name="officeally-file-summary",
            matches=known("FILE_SUMMARY", _looks_like_file_summary),
            read=lambda path: read_file_summary(path, names),
            description="Office Ally's File Summary (a failed file rejects its whole batch)",
            clearinghouse=PROFILE_NAME,
        ),
        ResponseReader(
            name="officeally-edi-status",
            matches=known("EDI_STATUS", _looks_like_edi_status),
            read=read_edi_status,
            description="Office Ally's EDI Status Report (the payer's ACCEPTED/REJECTED per claim)",
            clearinghouse=PROFILE_NAME,
        ),
        ResponseReader(
            name="officeally-era-text",
            matches=known("ERA_STATUS", lambda head: ERA_BANNER.encode() in head.upper()),
            read=read_era_text,
            description="Office Ally's readable ERA (archived and shown; the 835 moves claims)",
            clearinghouse=PROFILE_NAME,
        ),
    ]


def _looks_like_file_summary(head: bytes) -> bool:
    """Its summary block, or the letter's opening when a long split list pushes
    the block past the first bytes."""
    upper = head.upper()
    return SUMMARY_TITLE.encode() in upper or b"YOUR CLAIMS FILE" in upper


def _looks_like_edi_status(head: bytes) -> bool:
    """A header row that starts with ``File ID`` and has a ``Status`` column."""
    return any(
        line.strip().upper().startswith(b"FILE ID") and b"STATUS" in line.upper()
        for line in head.splitlines()
    )
