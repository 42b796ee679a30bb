"""Remittances in the ledger: what each payer paid, line by line, for posting.

An 835 is stored as it is read: one payment (BPR/TRN) with its provider-level
adjustments (PLB), its claims (CLP) and their service lines (SVC), each with
every CAS adjustment and remark code. The tables belong to the ledger's
schema (migration 3); this module writes and reads them. No names, member
ids or birth dates are stored: ``remits export --show-phi`` reads those back
from the archived 835 itself.

Adjustments and remark codes are kept in one text column each, in the
compact form ``GROUP:REASON:AMOUNT:QUANTITY`` joined by ``|``: they are
always read with their claim or line, never queried alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from claimferry.database import Connection, insert_rows, inserted_id, next_ids, select_in
from claimferry.ledger import ClaimState, Ledger
from claimferry.x12.remit835 import (
    Adjustment,
    PaymentHeader,
    PaymentSummary,
    ProviderAdjustment,
    RemitClaim,
)

ZERO = Decimal(0)


def encode_adjustments(adjustments: Iterable[Adjustment]) -> str:
    # !s: the same text as format(), at an eighth of the cost for a Decimal
    return "|".join(
        [
            f"{a.group}:{a.reason}:{a.amount!s}:{'' if a.quantity is None else a.quantity!s}"
            for a in adjustments
        ]
    )


def decode_adjustments(text: str) -> tuple[Adjustment, ...]:
    found = []
    for item in filter(None, text.split("|")):
        group, reason, amount, quantity = item.split(":")
        found.append(
            Adjustment(group, reason, Decimal(amount), Decimal(quantity) if quantity else None)
        )
    return tuple(found)


def patient_share(adjustments: Iterable[Adjustment]) -> Decimal:
    """The PR (patient responsibility) part of some adjustments."""
    total = ZERO
    for adjustment in adjustments:
        if adjustment.group == "PR":
            total += adjustment.amount
    return total


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


class RemitRecorder:
    """Writes one 835's payments, claims and lines, inside the caller's transaction."""

    def __init__(self, ledger: Ledger, account: str, source_file: str) -> None:
        self.ledger = ledger
        self.db = ledger.db
        self.account = account
        self.source_file = source_file
        self.payment_id: int | None = None
        self.duplicate = False

    def payment(self, header: PaymentHeader) -> None:
        """Record a payment. One recorded before (the same ERA delivered twice, as an
        .835 and inside a zip, or in a new envelope) sets ``duplicate``: its claims
        must then not be applied again."""
        payer_id = header.payer.id or header.trace_originator
        self.payment_id = inserted_id(
            self.db,
            "INSERT INTO remit_payments (account, source_file, "
            "transaction_control_number, trace_number, trace_originator, payer_name, payer_id, "
            "payee_id, method, credit_debit, amount, payment_date, production_date, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                self.account,
                self.source_file,
                header.transaction_control_number,
                header.trace_number,
                header.trace_originator,
                header.payer.name,
                payer_id,
                header.payee.id,
                header.method,
                header.credit_debit,
                str(header.amount),
                _day(header.payment_date),
                _day(header.production_date),
                datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            ),
        )
        self.duplicate = self.payment_id is None

    def claims(
        self,
        claims: Sequence[RemitClaim],
        rows: Sequence[int],
        states: Sequence[ClaimState],
        owed: Sequence[Decimal],
    ) -> None:
        """Record claims and their lines. ``owed`` is each claim's patient responsibility.
        Each line is matched to the line it pays by the REF*6R we sent with it.

        Written out for speed: this runs for every claim and line of a large ERA.
        """
        assert self.payment_id is not None
        db, payment_id = self.db, self.payment_id
        claim_rows, line_rows = [], []
        for remit_id, claim, row, state, claim_owed in zip(
            next_ids(db, "remit_claims", len(claims)), claims, rows, states, owed, strict=True
        ):
            crossover = claim.crossover_carrier
            claim_rows.append(
                (
                    remit_id,
                    payment_id,
                    row,
                    claim.claim_id,
                    claim.status,
                    str(state),  # a plain str binds faster than the enum
                    str(claim.charge),
                    str(claim.paid),
                    str(claim_owed),
                    claim.filing_code,
                    claim.payer_claim_number,
                    f"{crossover.name} ({crossover.id})" if crossover else None,
                    encode_adjustments(claim.adjustments) if claim.adjustments else "",
                    "|".join(claim.remark_codes),
                    claim.segment_position,
                )
            )
            for number, line in enumerate(claim.lines, 1):
                control_number, amounts = line.control_number, line.amounts
                allowed = line.allowed_amount if amounts else None
                service_from, service_to = line.service_from, line.service_to
                line_rows.append(
                    (
                        remit_id,
                        number,
                        row,
                        control_number,
                        line.procedure,
                        ":".join(line.modifiers),
                        str(line.charge),
                        str(line.paid),
                        None if allowed is None else str(allowed),
                        str(line.units),
                        service_from.isoformat() if service_from is not None else None,
                        service_to.isoformat() if service_to is not None else None,
                        encode_adjustments(line.adjustments) if line.adjustments else "",
                        "|".join(line.remark_codes),
                    )
                )
        insert_rows(
            db,
            "INSERT INTO remit_claims (id, payment_id, claim_row, patient_control_number, status, "
            "state, charge, paid, patient_responsibility, filing_code, payer_claim_number, "
            "crossover_payer, adjustments, remark_codes, segment_position)",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            claim_rows,
        )
        # one row per statement: with the sent line's look-up in it, many rows gain nothing
        db.executemany(
            "INSERT INTO remit_lines (remit_claim_id, line_number, sent_line, control_number, "
            "procedure, modifiers, charge, paid, allowed, units, service_from, service_to, "
            "adjustments, remark_codes) VALUES (?1, ?2, (SELECT MIN(line_number) FROM claim_lines "
            "WHERE claim_row = ?3 AND control_number = ?4), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
            "?13, ?14)",
            line_rows,
        )

    def summary(self, summary: PaymentSummary) -> None:
        """The payment's PLBs, totals and imbalance. A PLB whose reference names a
        claim (by our id or the payer's claim number) is recorded against it too."""
        if self.payment_id is None:
            return
        db = self.db
        plb_total = sum((a.amount for a in summary.provider_adjustments), ZERO)
        db.execute(
            "UPDATE remit_payments SET provider_adjustment_total = ?, claim_count = ?, "
            "imbalance = ? WHERE id = ?",
            (
                str(plb_total),
                summary.claim_count,
                "; ".join(summary.imbalances) or None,
                self.payment_id,
            ),
        )
        db.executemany(
            "INSERT INTO remit_provider_adjustments (payment_id, claim_row, provider_id, "
            "fiscal_period_end, reason, reference, amount) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    self.payment_id,
                    self._claim_named(plb),
                    plb.provider_id,
                    _day(plb.fiscal_period_end),
                    plb.reason,
                    plb.reference,
                    str(plb.amount),
                )
                for plb in summary.provider_adjustments
            ],
        )

    def _claim_named(self, plb: ProviderAdjustment) -> int | None:
        """The claim a PLB reference names, by our id (cut to 20 characters or not)
        or the payer's claim number; most references name none."""
        reference = plb.reference.strip()
        if not reference:
            return None
        return self.ledger.find_claim(self.account, reference, payer_claim_number=reference)


def patient_responsibility(claim: RemitClaim) -> Decimal:
    """CLP05 when the payer gave it, else the PR adjustments of the claim and its lines."""
    if claim.patient_responsibility is not None:
        return claim.patient_responsibility
    return patient_share(claim.all_adjustments())


EarlierRemit = tuple[str, Decimal, str | None, int | None]
"""A remittance of a claim recorded before: CLP02, paid, payment date, payment id."""


def stands(remit: EarlierRemit, before: Sequence[EarlierRemit]) -> bool:
    """Whether ``remit`` decides its claim after the remittances recorded ``before`` it.
    An ERA older than one read before (fetched late) is history only; an undated one is
    taken in the order read. A reversal in the same payment as a decision before it
    does not undo that decision: the payer listed the correction first."""
    status, _, paid_on, payment = remit
    newest = max((day for _, _, day, _ in before if day is not None), default=None)
    if paid_on is not None and newest is not None and paid_on < newest:
        return False
    return status != "22" or not any(s != "22" and p == payment for s, _, _, p in before)


def standing(remits: Sequence[EarlierRemit]) -> int:
    """Which of a claim's remittances (in recorded order, at least one) decides it."""
    found = 0
    for index in range(1, len(remits)):
        if stands(remits[index], remits[:index]):
            found = index
    return found


def earlier_remits(db: Connection, rows: Sequence[int]) -> dict[int, list[EarlierRemit]]:
    """Each claim's remittances recorded so far, oldest first."""
    found: dict[int, list[EarlierRemit]] = {}
    for r in select_in(
        db,
        "SELECT c.claim_row, c.status, c.paid, p.payment_date, c.payment_id "
        "FROM remit_claims c JOIN remit_payments p ON p.id = c.payment_id "
        "WHERE c.claim_row IN ({marks}) ORDER BY c.id",
        rows,
    ):
        found.setdefault(r[0], []).append((r[1], Decimal(r[2]), r[3], r[4]))
    return found


# --- reading back, for `status`, `remits list` and `remits export` ------------


@dataclass(frozen=True)
class ClaimMoney:
    """A claim's money over all its remittances: reversals and corrections netted."""

    paid: Decimal
    patient_responsibility: Decimal
    """As the decision that stands says; nothing after a reversal not yet corrected."""


def claim_money(ledger: Ledger, rows: Iterable[int]) -> dict[int, ClaimMoney]:
    """Paid, netted over every remittance; owed, as the remittance that decides the
    claim says (``standing``, the rule its state follows): nothing after a reversal."""
    history: dict[int, list[EarlierRemit]] = {}
    owed: dict[int, list[Decimal]] = {}
    for r in select_in(
        ledger.db,
        "SELECT r.claim_row, r.payment_id, r.status, r.paid, r.patient_responsibility, "
        "p.payment_date FROM remit_claims r JOIN remit_payments p ON p.id = r.payment_id "
        "WHERE r.claim_row IN ({marks}) ORDER BY r.id",
        rows,
    ):
        remit = (r["status"], Decimal(r["paid"]), r["payment_date"], r["payment_id"])
        history.setdefault(r["claim_row"], []).append(remit)
        owed.setdefault(r["claim_row"], []).append(Decimal(r["patient_responsibility"]))
    found = {}
    for row, remits in history.items():
        decided = standing(remits)
        found[row] = ClaimMoney(
            sum((paid for _, paid, _, _ in remits), ZERO),
            ZERO if remits[decided][0] == "22" else owed[row][decided],
        )
    return found


@dataclass(frozen=True)
class PatientBalance:
    """What the patient owes on one claim once the next payers' claims are counted."""

    amount: Decimal
    passed_to: str | None
    """The next payer's claim that adjudicated what this payer left on the patient: the
    balance is that claim's then, and this one's is 0, so a visit is counted once."""


def patient_balances(ledger: Ledger, money: dict[int, ClaimMoney]) -> dict[int, PatientBalance]:
    """Each adjudicated claim's patient balance, netted over the secondary and tertiary
    claims built from it (``secondary build`` links them in the ledger)."""
    db = ledger.db
    passed: dict[int, str] = {}
    for link in select_in(
        db,
        "SELECT n.original_row, n.claim_id, (SELECT MAX(c.id) FROM claims c "
        "WHERE c.account = n.account AND c.claim_id = n.claim_id) AS next_row "
        "FROM next_payer_claims n WHERE n.original_row IN ({marks}) ORDER BY n.id",
        list(money),
    ):
        # the next payer has decided on its claim
        if link["next_row"] is not None and claim_money(ledger, [link["next_row"]]):
            passed[link["original_row"]] = link["claim_id"]
    return {
        row: PatientBalance(ZERO, passed[row])
        if row in passed
        else PatientBalance(found.patient_responsibility, None)
        for row, found in money.items()
    }


@dataclass(frozen=True)
class Payment:
    id: int
    account: str
    source_file: str
    trace_number: str
    payment_date: str | None
    payer_name: str
    payer_id: str
    payee_id: str
    method: str
    credit_debit: str
    amount: Decimal
    """The money to the payee: BPR02, negative for a debit (BPR03 D)."""
    provider_adjustment_total: Decimal
    claim_count: int
    imbalance: str | None


def payments(
    ledger: Ledger,
    *,
    account: str | None = None,
    since: date | None = None,
    trace: str | None = None,
) -> list[Payment]:
    sql, args = "SELECT * FROM remit_payments WHERE 1=1", []
    if account is not None:
        sql += " AND account = ?"
        args.append(account)
    if since is not None:
        sql += " AND payment_date >= ?"
        args.append(since.isoformat())
    if trace is not None:
        sql += " AND trace_number = ?"
        args.append(trace)
    return [
        Payment(
            id=r["id"],
            account=r["account"],
            source_file=r["source_file"],
            trace_number=r["trace_number"],
            payment_date=r["payment_date"],
            payer_name=r["payer_name"],
            payer_id=r["payer_id"],
            payee_id=r["payee_id"],
            method=r["method"],
            credit_debit=r["credit_debit"],
            amount=-Decimal(r["amount"]) if r["credit_debit"] == "D" else Decimal(r["amount"]),
            provider_adjustment_total=Decimal(r["provider_adjustment_total"]),
            claim_count=r["claim_count"],
            imbalance=r["imbalance"],
        )
        for r in ledger.db.execute(sql + " ORDER BY payment_date, id", args)
    ]


@dataclass(frozen=True)
class PostingRow:
    """One row of the posting export: a service line, a claim's own remainder,
    or a provider-level adjustment. Per payment, the ``paid`` of its rows adds
    up to the payment amount (BPR02, negative for a debit): PLB rows carry the PLB
    amount negated."""

    kind: str
    """``line``, ``claim`` (claim-level adjustments, or a claim with no lines) or ``provider``."""
    payment: Payment
    claim_id: str
    patient_control_number: str
    payer_claim_number: str
    claim_status: str
    claim_state: str
    line_number: int | None
    line_control_number: str
    procedure: str
    modifiers: tuple[str, ...]
    service_from: str | None
    service_to: str | None
    units: Decimal | None
    charge: Decimal
    allowed: Decimal | None
    paid: Decimal
    adjustments: tuple[Adjustment, ...]
    remark_codes: tuple[str, ...]
    segment_position: int | None
    """Where the claim's CLP is in the archived 835, to read PHI back for --show-phi."""

    @property
    def patient_responsibility(self) -> Decimal:
        return patient_share(self.adjustments)


def posting_rows(ledger: Ledger, chosen: Sequence[Payment]) -> Iterator[PostingRow]:
    db = ledger.db
    for payment in chosen:
        for claim in db.execute(
            "SELECT r.*, c.claim_id AS our_claim_id FROM remit_claims r "
            "LEFT JOIN claims c ON c.id = r.claim_row WHERE r.payment_id = ? ORDER BY r.id",
            (payment.id,),
        ):
            yield from _claim_rows(db, payment, claim)
        for plb in db.execute(
            "SELECT p.*, c.claim_id AS our_claim_id FROM remit_provider_adjustments p "
            "LEFT JOIN claims c ON c.id = p.claim_row WHERE p.payment_id = ? ORDER BY p.id",
            (payment.id,),
        ):
            amount = Decimal(plb["amount"])
            yield PostingRow(
                kind="provider",
                payment=payment,
                claim_id=plb["our_claim_id"] or "",
                patient_control_number="",
                payer_claim_number="",
                claim_status="",
                claim_state="",
                line_number=None,
                line_control_number=plb["reference"],
                procedure=plb["reason"],
                modifiers=(),
                service_from=plb["fiscal_period_end"],
                service_to=plb["fiscal_period_end"],
                units=None,
                charge=ZERO,
                allowed=None,
                paid=-amount,
                adjustments=(),
                remark_codes=(),
                segment_position=None,
            )


def _claim_rows(db: Connection, payment: Payment, claim: sqlite3.Row) -> Iterator[PostingRow]:
    common = {
        "payment": payment,
        "claim_id": claim["our_claim_id"] or claim["patient_control_number"],
        "patient_control_number": claim["patient_control_number"],
        "payer_claim_number": claim["payer_claim_number"],
        "claim_status": claim["status"],
        "claim_state": claim["state"],
        "segment_position": claim["segment_position"],
    }
    lines_paid = lines_charge = ZERO
    lines = list(
        db.execute("SELECT * FROM remit_lines WHERE remit_claim_id = ? ORDER BY id", (claim["id"],))
    )
    for line in lines:
        charge, paid = Decimal(line["charge"]), Decimal(line["paid"])
        lines_paid += paid
        lines_charge += charge
        yield PostingRow(
            kind="line",
            line_number=line["line_number"],
            line_control_number=line["control_number"],
            procedure=line["procedure"],
            modifiers=tuple(filter(None, line["modifiers"].split(":"))),
            service_from=line["service_from"],
            service_to=line["service_to"],
            units=Decimal(line["units"]),
            charge=charge,
            allowed=Decimal(line["allowed"]) if line["allowed"] is not None else None,
            paid=paid,
            adjustments=decode_adjustments(line["adjustments"]),
            remark_codes=tuple(filter(None, line["remark_codes"].split("|"))),
            **common,
        )
    claim_paid, claim_charge = Decimal(claim["paid"]), Decimal(claim["charge"])
    adjustments = decode_adjustments(claim["adjustments"])
    remarks = tuple(filter(None, claim["remark_codes"].split("|")))
    if lines and not adjustments and not remarks and claim_paid == lines_paid:
        return
    yield PostingRow(
        kind="claim",
        line_number=None,
        line_control_number="",
        procedure="",
        modifiers=(),
        service_from=None,
        service_to=None,
        units=None,
        charge=claim_charge - lines_charge if lines else claim_charge,
        allowed=None,
        paid=claim_paid - lines_paid,
        adjustments=adjustments,
        remark_codes=remarks,
        **common,
    )


def source_path(ledger: Ledger, payment: Payment) -> str | None:
    """The archived response file a payment was read from (its ``archive_path``)."""
    found = ledger.db.execute(
        "SELECT archive_path FROM response_files WHERE account = ? AND remote_name = ? "
        "ORDER BY id DESC LIMIT 1",
        (payment.account, payment.source_file.partition("!")[0]),  # a zip's member
    ).fetchone()
    return str(found[0]) if found is not None else None
