"""Secondary (and tertiary) claims built from the payer before's remittance.

The adjudication comes from the ledger's line-level 835 data (remits.py); the
claim itself from the claims file it was sent from, checked against the
content hash the ledger kept, since the ledger holds no PHI. The next payer
is the one the original claim lists in ``other_payers`` with the next
responsibility (the TR3 asks a primary claim to name the other coverage it
knows of, loop 2320): it becomes the claim's payer and subscriber, and the
payer that paid becomes an other payer with its adjudication.

A claim the 835 says was forwarded to another payer (CLP02 19/20/21, NM1*TT)
is not built: that payer has it already, and billing it again is a
duplicate claim.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from pydantic import ValidationError

from claimferry.claims import (
    MAX_CLAIM_ID,
    MAX_MOA_REMARKS,
    REMARK_CODE_PATTERN,
    RESPONSIBILITY_CODES,
    Adjustment,
    Claim,
    LineAdjudication,
    OtherPayer,
    OtherSubscriber,
    Patient,
    Relationship,
    Subscriber,
)
from claimferry.database import Connection, select_in
from claimferry.errors import ClaimferryError, InputError, Problem
from claimferry.ledger import Ledger
from claimferry.remits import decode_adjustments, standing
from claimferry.validation import problems_from_validation_error
from claimferry.x12 import remit835

NEXT: dict[str, str] = {"primary": "secondary", "secondary": "tertiary"}
FORWARDED = frozenset({"19", "20", "21"})
"""CLP02: processed and forwarded to another payer (crossover)."""
ADJUDICATED = frozenset({"1", "2", "3"})
"""CLP02: processed as primary, secondary, tertiary (paid, or denied with nothing paid)."""


class NotBillable(ClaimferryError):
    """Why one claim is not offered for the next payer; the others go on."""

    exit_code = 1


@dataclass(frozen=True)
class RemitLine:
    sent_line: int | None
    control_number: str
    procedure: str
    modifiers: tuple[str, ...]
    units: Decimal
    paid: Decimal
    adjustments: tuple[remit835.Adjustment, ...]


@dataclass(frozen=True)
class Adjudication:
    """One payer's decision on one of our claims, as the ledger recorded it from its 835."""

    account: str
    claim_row: int
    claim_id: str
    content_sha256: str | None
    status: str
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    crossover_payer: str | None
    payment_date: date | None
    """BPR16, or the 835's production date (DTM*405) when the payer left BPR16 empty."""
    adjustments: tuple[remit835.Adjustment, ...]
    lines: tuple[RemitLine, ...]
    remark_codes: tuple[str, ...] = ()
    """Claim-level (MOA/MIA) remark codes."""
    superseded_by: str | None = None
    """A later remittance of the claim that reversed or replaced this decision."""


@dataclass(frozen=True)
class Trace:
    """A payment as its 835 names it: TRN02, and TRN03 (the payer's id as originator)
    when known. Two payers may use the same check or EFT number; with TRN03 they cannot."""

    number: str
    originator: str | None = None


def payments(
    ledger: Ledger, account: str | None, traces: Sequence[Trace], payer: str | None = None
) -> list[int]:
    """The ledger's payments with these traces, of one account or of any, and of the
    payer ``payer`` (its id or TRN03) when given. A trace number alone that several
    payers used is refused, listing them, rather than billing on the wrong payment."""
    found: list[int] = []
    for trace in traces:
        sql, args = "SELECT * FROM remit_payments WHERE trace_number = ?", [trace.number]
        for column, value in (("account", account), ("trace_originator", trace.originator)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if payer is not None:
            sql += " AND (payer_id = ? OR trace_originator = ?)"
            args += [payer, payer]
        rows = ledger.db.execute(sql + " ORDER BY id", args).fetchall()
        payers = {(r["trace_originator"], r["payer_id"], r["payer_name"]) for r in rows}
        if len(payers) > 1:
            named = "; ".join(
                f"{name} (payer id {payer_id}, TRN03 {originator})"
                for originator, payer_id, name in sorted(payers)
            )
            raise InputError(
                [
                    Problem(
                        "--trace",
                        "",
                        f"payment {trace.number} is recorded from more than one payer: "
                        f"{named}; give --payer with the one meant",
                    )
                ]
            )
        found += [r["id"] for r in rows]
    return found


def adjudications(ledger: Ledger, payment_ids: Sequence[int]) -> list[Adjudication]:
    """The latest decision (not a reversal) on each claim of ours in these payments, in
    file order, each with the later remittance that reversed or replaced it, if any:
    the next payer must get the decision that stands (837P 2320/2430), not one the
    payer has taken back since."""
    db = ledger.db
    found = select_in(
        db,
        "SELECT r.*, c.account, c.claim_id AS our_claim_id, c.content_sha256, p.payment_date, "
        "COALESCE(p.payment_date, p.production_date) AS remittance_date, p.payer_id, "
        "p.trace_originator "
        "FROM remit_claims r JOIN remit_payments p ON p.id = r.payment_id "
        "JOIN claims c ON c.id = r.claim_row WHERE r.status != '22' AND "
        "p.id IN ({marks}) ORDER BY r.id",
        payment_ids,
    )
    latest = {c["claim_row"]: c for c in found}
    claims = sorted(latest.values(), key=lambda c: int(c["id"]))
    superseded = _superseded(db, claims)
    lines: dict[int, list[RemitLine]] = {}
    for line in select_in(
        db,
        "SELECT * FROM remit_lines WHERE remit_claim_id IN ({marks}) ORDER BY id",
        [c["id"] for c in claims],
    ):
        lines.setdefault(line["remit_claim_id"], []).append(
            RemitLine(
                sent_line=line["sent_line"],
                control_number=line["control_number"],
                procedure=line["procedure"],
                modifiers=tuple(filter(None, line["modifiers"].split(":"))),
                units=Decimal(line["units"]),
                paid=Decimal(line["paid"]),
                adjustments=decode_adjustments(line["adjustments"]),
            )
        )
    return [
        Adjudication(
            account=c["account"],
            claim_row=c["claim_row"],
            claim_id=c["our_claim_id"],
            content_sha256=c["content_sha256"],
            status=c["status"],
            paid=Decimal(c["paid"]),
            patient_responsibility=Decimal(c["patient_responsibility"]),
            payer_claim_number=c["payer_claim_number"],
            crossover_payer=c["crossover_payer"],
            payment_date=(
                date.fromisoformat(c["remittance_date"]) if c["remittance_date"] else None
            ),
            adjustments=decode_adjustments(c["adjustments"]),
            lines=tuple(lines.get(c["id"], ())),
            remark_codes=tuple(filter(None, c["remark_codes"].split("|"))),
            superseded_by=superseded.get(c["claim_row"]),
        )
        for c in claims
    ]


def _superseded(db: Connection, chosen: Sequence[sqlite3.Row]) -> dict[int, str]:
    """For each chosen decision that no longer decides its claim, what does: among the
    claim's remittances by the same payer (its payer id or TRN03), the one that stands
    by the ledger's rule (``remits.standing``), a reversal or a new decision. Another
    payer's answer (a crossover's), or the payer deciding as another plan (CLP02 1
    against 2), is not this decision's."""
    by_row = {c["claim_row"]: c for c in chosen}
    history: dict[int, list[sqlite3.Row]] = {}
    for r in select_in(
        db,
        "SELECT r.id, r.claim_row, r.payment_id, r.status, r.paid, p.trace_number, "
        "p.payment_date, p.payer_id, p.trace_originator FROM remit_claims r "
        "JOIN remit_payments p ON p.id = r.payment_id "
        "WHERE r.claim_row IN ({marks}) ORDER BY r.id",
        list(by_row),
    ):
        mine, status = by_row[r["claim_row"]], r["status"]
        same_payer = mine["payer_id"] == r["payer_id"] or (
            mine["trace_originator"] == r["trace_originator"]
        )
        other_plan = status != "22" and status in ADJUDICATED and status != mine["status"]
        if same_payer and not other_plan:
            history.setdefault(r["claim_row"], []).append(r)
    found = {}
    for row, remits in history.items():
        order = [
            (x["status"], Decimal(x["paid"]), x["payment_date"], x["payment_id"]) for x in remits
        ]
        r = remits[standing(order)]
        if r["id"] == by_row[row]["id"]:
            continue
        found[row] = f"payment {r['trace_number']} of {r['payment_date'] or 'an unknown date'} " + (
            "reversed it: nothing stands to bill onward until the payer decides the claim again"
            if r["status"] == "22"
            else f"decided it again (CLP02 {r['status']}): build from that payment "
            f"(--trace {r['trace_number']})"
        )
    return found


def next_claim_id(claim: Claim, responsibility: str) -> str:
    """The original id with ``S`` (secondary) or ``T`` (tertiary): its own id, so the
    next payer's 277CA and 835 are matched to it and not to the original."""
    new_id = claim.id + RESPONSIBILITY_CODES[responsibility]
    if len(new_id) > MAX_CLAIM_ID:
        raise NotBillable(
            f"claim {claim.id}: its {responsibility} claim needs its own id and "
            f"{new_id!r} is over {MAX_CLAIM_ID} characters; shorten the original id "
            "in a copy of the claims file"
        )
    return new_id


def refusal(adjudication: Adjudication) -> str | None:
    """Why this 835 answer cannot be billed onward, or ``None`` when it can."""
    if adjudication.superseded_by:
        return f"a later 835 changed this decision: {adjudication.superseded_by}"
    if adjudication.status in FORWARDED or adjudication.crossover_payer:
        to = f" to {adjudication.crossover_payer}" if adjudication.crossover_payer else ""
        return (
            f"the payer forwarded it{to} itself (CLP02 {adjudication.status}, a crossover): "
            "that payer has the claim already, and billing it again would be a duplicate"
        )
    if adjudication.status not in ADJUDICATED:
        return (
            f"the 835 did not adjudicate it (CLP02 {adjudication.status}): only a claim "
            "processed as primary or secondary (paid or denied) goes on to the next payer"
        )
    # A denial (nothing paid) goes on with nothing on the patient too: a payer of last
    # resort such as Medicaid pays only once it has the primary's denial in 2320/2430.
    if adjudication.patient_responsibility <= 0 and adjudication.paid > 0:
        return (
            "the payer paid it and left nothing on the patient, so there is nothing for "
            "the next payer"
        )
    return None


def _adjustments(found: Sequence[remit835.Adjustment]) -> tuple[Adjustment, ...]:
    # the group is validated here: an 835's CAS01 is one of the five groups
    return tuple(
        Adjustment(group=a.group, reason=a.reason, amount=a.amount)  # type: ignore[arg-type]
        for a in found
    )


def _line_adjudications(claim: Claim, adjudication: Adjudication) -> tuple[LineAdjudication, ...]:
    on = adjudication.payment_date
    if on is None:
        raise NotBillable(
            f"claim {claim.id}: its 835 has no payment date (BPR16) nor production date "
            "(DTM*405), which the next payer needs as the adjudication date (DTP*573)"
        )
    out = []
    for line in adjudication.lines:
        if line.sent_line is None or not 1 <= line.sent_line <= len(claim.lines):
            raise NotBillable(
                f"claim {claim.id}: the 835's line {line.control_number or '(no REF*6R)'} "
                "matches none of the lines sent, so its adjudication cannot be carried over"
            )
        sent = claim.lines[line.sent_line - 1]
        recoded = (line.procedure, line.modifiers) != (sent.procedure, sent.modifiers)
        out.append(
            LineAdjudication(
                line=line.sent_line,
                paid=line.paid,
                procedure=line.procedure if recoded else None,
                modifiers=line.modifiers if recoded else None,
                units=line.units if line.units != sent.units else None,
                adjustments=_adjustments(line.adjustments),
                date=on,
                remaining_patient_liability=sum(
                    (a.amount for a in line.adjustments if a.group == "PR"), Decimal(0)
                ),
            )
        )
    return tuple(out)


def _paid_by(claim: Claim, adjudication: Adjudication) -> OtherPayer:
    """The payer the claim went to, as an other payer with what it decided."""
    subscriber = claim.subscriber
    lines = _line_adjudications(claim, adjudication)
    return OtherPayer(
        responsibility=claim.payer_responsibility,
        payer=claim.payer,
        subscriber=OtherSubscriber(
            member_id=subscriber.member_id,
            first_name=subscriber.first_name,
            last_name=subscriber.last_name,
            group_number=subscriber.group_number,
            address=subscriber.address,
        ),
        relationship=claim.patient.relationship if claim.patient is not None else "self",
        filing_code=subscriber.filing_code,
        paid=adjudication.paid,
        adjustments=_adjustments(adjudication.adjustments),
        # with line adjudication the lines carry it (2430 AMT*EAF), never both (X12 RFI 1517)
        remaining_patient_liability=None if lines else adjudication.patient_responsibility,
        adjudication_date=adjudication.payment_date,
        payer_claim_number=adjudication.payer_claim_number or None,
        # RARCs only (not an LQ*RX code), as many as MOA has room for
        remark_codes=tuple(
            code for code in adjudication.remark_codes if re.fullmatch(REMARK_CODE_PATTERN, code)
        )[:MAX_MOA_REMARKS],
        lines=lines,
        insurance_type=claim.insurance_type,
    )


def _insured(claim: Claim, after: OtherPayer) -> tuple[Subscriber, Patient | None]:
    """The next payer's subscriber, and the patient when not that subscriber."""
    other = after.subscriber
    if after.relationship == "self":
        person = claim.patient or claim.subscriber
        born, gender, address = person.birth_date, person.gender, other.address or person.address
        patient = None
    else:
        if other.birth_date is None or other.gender is None:
            raise NotBillable(
                f"claim {claim.id}: the {after.responsibility} payer's subscriber is not the "
                "patient, and the claim needs that subscriber's birth_date and gender: add "
                f"them to other_payers[{claim.other_payers.index(after)}].subscriber"
            )
        born, gender, address = other.birth_date, other.gender, other.address
        patient = _patient_of(claim, after.relationship)
    subscriber = Subscriber(
        member_id=other.member_id,
        first_name=other.first_name,
        last_name=other.last_name,
        birth_date=born,
        gender=gender,
        group_number=other.group_number,
        filing_code=after.filing_code,
        address=address,
    )
    return subscriber, patient


def _patient_of(claim: Claim, relationship: Relationship) -> Patient:
    """The claim's patient as the dependant, by ``relationship``, of another subscriber."""
    if claim.patient is not None:
        return replace(claim.patient, relationship=relationship)
    person = claim.subscriber
    if person.address is None:
        raise NotBillable(
            f"claim {claim.id}: the patient (the original subscriber) needs an address "
            "to be the patient of another subscriber's plan"
        )
    return Patient(
        relationship=relationship,
        first_name=person.first_name,
        last_name=person.last_name,
        birth_date=person.birth_date,
        gender=person.gender,
        address=person.address,
    )


def next_payer_claim(claim: Claim, adjudication: Adjudication) -> Claim:
    """The claim for the payer after the one that adjudicated it, or :class:`NotBillable`."""
    try:
        return _next_payer_claim(claim, adjudication)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, "secondary claim")
        reasons = "; ".join(f"{p.location}: {p.message}" for p in problems)
        raise NotBillable(f"claim {claim.id}: its 835 cannot be carried over: {reasons}") from None


def _next_payer_claim(claim: Claim, adjudication: Adjudication) -> Claim:
    reason = refusal(adjudication)
    if reason is not None:
        raise NotBillable(f"claim {claim.id}: {reason}")
    responsibility = NEXT.get(claim.payer_responsibility)
    after = next(
        (o for o in claim.other_payers if o.responsibility == responsibility and o.paid is None),
        None,
    )
    if responsibility is None or after is None:
        raise NotBillable(
            f"claim {claim.id}: it names no {responsibility or 'further'} payer: add the "
            f"{responsibility or 'next'} payer to the claim's other_payers (payer, subscriber, "
            "relationship, filing_code, no paid amount) in the claims file and run again"
        )
    subscriber, patient = _insured(claim, after)
    others = [o for o in claim.other_payers if o is not after]
    return Claim(
        id=next_claim_id(claim, responsibility),
        billing_provider=claim.billing_provider,
        payer=after.payer,
        payer_responsibility=responsibility,  # type: ignore[arg-type]
        subscriber=subscriber,
        patient=patient,
        place_of_service=claim.place_of_service,
        # not carried over: REF*G1 would be read as the next payer's own authorisation
        diagnoses=claim.diagnoses,
        referring_provider=claim.referring_provider,
        rendering_provider=claim.rendering_provider,
        supervising_provider=claim.supervising_provider,
        service_facility=claim.service_facility,
        lines=claim.lines,
        other_payers=(*others, _paid_by(claim, adjudication)),
        assignment=claim.assignment,
        benefits_assignment=claim.benefits_assignment,
        release_of_information=claim.release_of_information,
        note=claim.note,
        insurance_type=after.insurance_type,
    )
