"""The payers the mock clearinghouse knows, and for which transactions.

A claim whose 2010BB payer ID is not listed for professional claims (837P) is
returned unprocessable in the 277CA (A3), as Office Ally does. The built-in list
is small on purpose; :meth:`PayerList.from_office_ally_csv` reads Office Ally's
own payer-list export instead, so tests can use the real table.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from claimferry.errors import InputError, Problem

CLAIMS = "837P"
REMITS = "835"


@dataclass(frozen=True)
class Payer:
    """One payer ID and the transactions it is valid for.

    ``era_payer_id`` is the ID the payer uses in its 835s when it differs from
    the 837P ID (Utah Medicaid: 837P ``U4005``, 835 ``SKUT0``).
    """

    payer_id: str
    name: str
    transactions: frozenset[str]
    era_payer_id: str | None = None

    @property
    def remit_id(self) -> str:
        return self.era_payer_id or self.payer_id


class PayerList:
    """Payer IDs by transaction; lookups are exact (payer IDs are case-sensitive)."""

    def __init__(self, payers: Iterable[Payer]) -> None:
        self._by_id: dict[str, Payer] = {}
        for payer in payers:
            known = self._by_id.get(payer.payer_id)
            if known is not None:  # one row per transaction in OA's export: merge them
                payer = Payer(
                    payer.payer_id,
                    known.name,
                    known.transactions | payer.transactions,
                    known.era_payer_id or payer.era_payer_id,
                )
            self._by_id[payer.payer_id] = payer

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, payer_id: str) -> Payer | None:
        return self._by_id.get(payer_id)

    def takes_claims(self, payer_id: str) -> bool:
        payer = self._by_id.get(payer_id)
        return payer is not None and CLAIMS in payer.transactions

    @classmethod
    def default(cls) -> PayerList:
        """A few real payer IDs, enough for tests (see docs/harness.md)."""
        both = frozenset({CLAIMS, REMITS})
        return cls(
            [
                Payer("00621", "BLUE CROSS BLUE SHIELD OF ILLINOIS", both),
                Payer("60054", "AETNA", both),
                Payer("87726", "UNITEDHEALTHCARE", both),
                Payer("62308", "CIGNA", both),
                Payer("U4005", "UTAH MEDICAID", frozenset({CLAIMS}), era_payer_id="SKUT0"),
                Payer("SKUT0", "UTAH MEDICAID", frozenset({REMITS})),
            ]
        )

    @classmethod
    def from_mapping(cls, payers: Mapping[str, str]) -> PayerList:
        """Payer ID -> name, each valid for 837P and 835 (handy in tests)."""
        both = frozenset({CLAIMS, REMITS})
        return cls(Payer(pid, name, both) for pid, name in payers.items())

    def with_payers(self, payers: Mapping[str, str]) -> PayerList:
        """This list plus the given payer IDs (valid for 837P and 835)."""
        return PayerList([*self._by_id.values(), *PayerList.from_mapping(payers)._by_id.values()])

    @classmethod
    def from_office_ally_csv(cls, path: Path) -> PayerList:
        """Read Office Ally's payer-list export (columns as in domain.md section 6).

        Only rows with ``AVAILABLE`` = ``Yes`` count; ``TRANSACTION`` values
        containing ``837P`` or ``835`` map to claims and remits.
        """
        source = str(path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as stream:
                rows = list(csv.DictReader(stream))
        except (OSError, UnicodeDecodeError) as exc:
            problem = Problem(source, "", f"cannot read: {exc.__class__.__name__}")
            raise InputError([problem]) from None
        required = {"PAYER NAME", "PAYER ID", "TRANSACTION", "AVAILABLE"}
        header = set(rows[0]) if rows else set()
        missing = sorted(required - header)
        if missing:
            raise InputError([Problem(source, "header", f"missing columns: {', '.join(missing)}")])
        payers = []
        for row in rows:
            if (row.get("AVAILABLE") or "").strip().lower() != "yes":
                continue
            transaction = row.get("TRANSACTION") or ""
            kinds = {kind for kind in (CLAIMS, REMITS) if kind in transaction}
            payer_id = (row.get("PAYER ID") or "").strip()
            if kinds and payer_id:
                name = (row.get("PAYER NAME") or "").strip().upper()
                payers.append(Payer(payer_id, name, frozenset(kinds)))
        return cls(payers)
