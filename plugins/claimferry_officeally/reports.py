"""Office Ally's EDI_STATUS text report: one row per claim, ACCEPTED or REJECTED.

No public sample of the real report exists (domain.md); the layout read here
is the one docs/harness.md documents. Columns are found from the header
row's titles, never from fixed offsets, so a shifted column still reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from claimferry.api import ClaimUpdate, InputError, Problem, ResponseReader

TITLE = "OFFICE ALLY EDI STATUS REPORT"
NAME_MARK = "_EDI_STATUS_"
COLUMNS = ("CLAIM ID", "PAYER ID", "BILLED AMOUNT", "SERVICE DATE", "STATUS", "MESSAGE")
STATES = {"ACCEPTED": "accepted", "REJECTED": "rejected"}


@dataclass(frozen=True)
class StatusRow:
    claim_id: str
    payer_id: str
    billed: Decimal
    service_date: str
    status: str
    message: str


@dataclass(frozen=True)
class EdiStatusReport:
    source: str
    file_id: str
    file_name: str
    rows: tuple[StatusRow, ...]

    kind = "EDI_STATUS"

    def claim_updates(self) -> list[ClaimUpdate]:
        return [
            ClaimUpdate(
                row.claim_id, STATES[row.status], f"Office Ally {row.status}: {row.message}"
            )
            for row in self.rows
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "file_id": self.file_id,
            "file_name": self.file_name,
            "claims": [
                {
                    "claim_id": r.claim_id,
                    "payer_id": r.payer_id,
                    "billed": str(r.billed),
                    "service_date": r.service_date,
                    "status": r.status,
                    "message": r.message,
                }
                for r in self.rows
            ],
        }

    def render(self) -> str:
        accepted = sum(r.status == "ACCEPTED" for r in self.rows)
        lines = [
            f"Office Ally EDI status report ({self.source})",
            f"  file {self.file_id} ({self.file_name}): {len(self.rows)} claims, "
            f"{accepted} accepted, {len(self.rows) - accepted} rejected",
        ]
        lines += [
            f"    claim {r.claim_id}: {r.status}  payer {r.payer_id}  {r.billed}  {r.message}"
            for r in self.rows
        ]
        return "\n".join(lines)


def matches(file_name: str, head: bytes) -> bool:
    return NAME_MARK in file_name.upper() or head.lstrip().startswith(TITLE.encode())


def _field(lines: list[str], label: str) -> str:
    prefix = f"{label}:"
    return next((line[len(prefix) :].strip() for line in lines if line.startswith(prefix)), "")


def read_edi_status(path: Path) -> EdiStatusReport:
    """Parse one report; a broken one is refused naming the file and line."""
    source = str(path)

    def fail(line: int, message: str) -> InputError:
        return InputError([Problem(source, f"line {line}" if line else "", message)])

    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except UnicodeDecodeError:
        raise fail(0, "not ASCII text") from None
    except OSError as exc:
        raise fail(0, f"cannot read the file: {exc.strerror}") from None
    if not lines or lines[0].strip() != TITLE:
        raise fail(1, f"expected the title {TITLE!r}")
    header_at = next(
        (i for i, line in enumerate(lines) if line.lstrip().startswith("CLAIM ID")), None
    )
    if header_at is None:
        raise fail(0, "no header row (a line starting with 'CLAIM ID')")
    header = lines[header_at]
    starts = [header.find(title) for title in COLUMNS]
    if -1 in starts or starts != sorted(starts):
        missing = [t for t, s in zip(COLUMNS, starts, strict=True) if s < 0]
        raise fail(header_at + 1, f"header row lacks columns {missing or 'in order'}")
    rows: list[StatusRow] = []
    rules = 0
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if line.startswith("---"):
            rules += 1
            if rules == 2:
                break
            continue
        if rules != 1 or not line.strip():
            continue
        cells = [
            line[start:end].strip()
            for start, end in zip(starts, [*starts[1:], len(line) + 1], strict=True)
        ]
        claim_id, payer_id, billed, service_date, status, message = cells
        if not claim_id:
            raise fail(number, "CLAIM ID is empty")
        if status not in STATES:
            raise fail(number, "STATUS must be ACCEPTED or REJECTED")
        try:
            amount = Decimal(billed)
        except InvalidOperation:
            raise fail(number, "BILLED AMOUNT is not an amount") from None
        rows.append(StatusRow(claim_id, payer_id, amount, service_date, status, message))
    if rules < 2:
        raise fail(len(lines), "the report ends before its closing rule line")
    return EdiStatusReport(
        source, _field(lines, "FILE ID"), _field(lines, "FILE NAME"), tuple(rows)
    )


READER = ResponseReader(
    name="officeally-edi-status",
    matches=matches,
    read=read_edi_status,
    description="Office Ally's EDI_STATUS report (per-claim ACCEPTED/REJECTED)",
)
