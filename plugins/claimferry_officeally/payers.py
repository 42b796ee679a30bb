"""Office Ally's payer list: reading its export and keeping it in the plugin's own file.

The list is Office Ally's data, owned by this plugin, so it lives in a SQLite
file of its own in the state directory rather than in the ledger: the ledger
holds the clinic's records (batches, claims, enrollment), and replacing
Office Ally's table must never lock or migrate them.

The export has one row per payer name, payer ID and transaction. One payer ID
is often shared by several payer names (a third-party administrator and the
plans it serves: 792 payer ID + transaction pairs in the real list), and a few
rows repeat a name with other requirements. Every row is kept as a *listing*;
changes between imports are reported per payer ID and transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claimferry.api import (
    InputError,
    PayerIdCheck,
    Problem,
    migrate_schema,
    open_database,
    write_transaction,
)

PAYER_LIST_FILE = "officeally_payers.sqlite3"
CLAIMS = "837P"
REMITS = "835"

PAYER_NAME = "PAYER NAME"
PAYER_ID = "PAYER ID"
TRANSACTION = "TRANSACTION"
AVAILABLE = "AVAILABLE"
NON_PAR = "NON PAR"
ENROLLMENT = "ENROLLMENT"
SECONDARY = "SECONDARY"
ATTACHMENT = "ATTACHMENT"
WC_AUTO = "WC / AUTO"
NOTES = "NOTES"
COLUMNS = (
    PAYER_NAME,
    PAYER_ID,
    TRANSACTION,
    AVAILABLE,
    NON_PAR,
    ENROLLMENT,
    SECONDARY,
    ATTACHMENT,
    WC_AUTO,
    NOTES,
)
_FLAGS = (AVAILABLE, NON_PAR, ENROLLMENT, SECONDARY, ATTACHMENT)
_YES_NO = {"yes": True, "y": True, "no": False, "n": False}
_TRANSACTION_CODE = re.compile(r"\b(\d{3}[A-Z]?)(?:\s*/\s*(\d{3}))?\s*$")
_PAYER_ID = re.compile(r"^[^\s*~:^]{1,80}$")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\ufeff"))
MAX_PROBLEMS = 50
"""A broken file is reported in full up to this many problems, then counted."""

_SCHEMA = [
    """
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        imported_at TEXT NOT NULL,
        source TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        listings INTEGER NOT NULL
    );
    CREATE TABLE listings (
        id INTEGER PRIMARY KEY,
        payer_id TEXT NOT NULL,
        payer_key TEXT NOT NULL,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        transaction_code TEXT NOT NULL,
        transaction_label TEXT NOT NULL,
        available INTEGER NOT NULL,
        non_par INTEGER NOT NULL,
        enrollment INTEGER NOT NULL,
        secondary INTEGER NOT NULL,
        attachment INTEGER NOT NULL,
        wc_auto TEXT NOT NULL,
        notes TEXT NOT NULL,
        line INTEGER NOT NULL
    );
    CREATE INDEX listings_by_payer ON listings (payer_key, transaction_code);
    CREATE INDEX listings_by_name ON listings (name_key, transaction_code);
    """,
]


def normalize_name(name: str) -> str:
    """Tabs, runs of spaces, no-break and zero-width spaces as one space: 42 names carry a tab."""
    return " ".join(name.translate(_INVISIBLE).split())


def name_key(name: str) -> str:
    return normalize_name(name).casefold()


def payer_key(payer_id: str) -> str:
    """Payer IDs match case-insensitively (the list has ``AllCA`` and ``mpm57``)."""
    return payer_id.translate(_INVISIBLE).strip().upper()


@dataclass(frozen=True)
class Listing:
    """One row of the list: what one payer requires for one transaction."""

    payer_id: str
    name: str
    transaction: str
    """The X12 transaction set: ``837P``, ``835``, ``270/271``..."""
    transaction_label: str
    """As Office Ally writes it, e.g. ``Professional Claims 837P``."""
    available: bool
    non_par: bool
    enrollment: bool
    """Enrollment with the payer is required before this transaction flows."""
    secondary: bool
    """The payer takes secondary claims electronically."""
    attachment: bool
    wc_auto: str
    notes: str
    line: int
    """Where the row starts in the imported file."""

    @property
    def key(self) -> tuple[str, str]:
        return payer_key(self.payer_id), self.transaction

    def as_json(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "name": self.name,
            "transaction": self.transaction,
            "transaction_label": self.transaction_label,
            "available": self.available,
            "enrollment_required": self.enrollment,
            "non_par": self.non_par,
            "secondary": self.secondary,
            "attachment": self.attachment,
            "wc_auto": self.wc_auto or None,
            "notes": self.notes or None,
        }


@dataclass(frozen=True)
class ParsedList:
    listings: list[Listing]
    warnings: list[Problem]
    sha256: str


@dataclass(frozen=True)
class Change:
    """One payer ID + transaction that appeared, disappeared or changed between imports."""

    payer_id: str
    transaction: str
    fields: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"payer_id": self.payer_id, "transaction": self.transaction}
        if self.fields:
            out["fields"] = list(self.fields)
        return out


@dataclass(frozen=True)
class ImportResult:
    source: str
    listings: int
    payer_ids: int
    first_import: bool
    added: list[Change]
    removed: list[Change]
    changed: list[Change]
    warnings: list[Problem]


@dataclass(frozen=True)
class ImportInfo:
    imported_at: str
    source: str
    sha256: str
    listings: int


# -- reading the export -------------------------------------------------------------


def parse_payer_list(path: Path) -> ParsedList:
    """Read a CSV export; every problem is reported at once, with its line and column.

    Rows whose transaction is not an X12 transaction set (the real list has one
    `` undefined``) are skipped with a warning: they cannot be used for anything.
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(source, "", "file not found")]) from None
    except OSError as exc:
        raise InputError([Problem(source, "", f"cannot read ({exc.strerror})")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            [Problem(source, f"line {line}", "not UTF-8 text; export the list as CSV (UTF-8)")]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError([Problem(source, f"line {line}", "NUL byte: not a CSV text file")])
    listings, warnings = _read_rows(text, source)
    return ParsedList(listings, warnings, hashlib.sha256(data).hexdigest())


def _read_rows(text: str, source: str) -> tuple[list[Listing], list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    listings: list[Listing] = []
    try:
        header = next(reader, None)
        if header is None:
            raise InputError([Problem(source, "line 1", "empty file; expected a header row")])
        columns = _columns(header, source)
        start, row_number = reader.line_num + 1, 0
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            row_number += 1
            if len(row) != len(header):
                problems.append(
                    Problem(
                        source,
                        f"line {line}",
                        f"expected {len(header)} fields, found {len(row)} "
                        "(a quote not closed, or a comma too many?)",
                    )
                )
                continue
            listing = _listing(row, columns, source, line, row_number, problems, warnings)
            if listing is not None:
                listings.append(listing)
            if len(problems) > MAX_PROBLEMS:
                break
    except csv.Error as exc:
        problems.append(Problem(source, f"line {reader.line_num}", f"not valid CSV ({exc})"))
    if not problems and not listings:
        problems.append(Problem(source, "", "no payer rows after the header"))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(Problem(source, "", "too many problems; stopped reading"))
        raise InputError(shown)
    return listings, warnings


def _columns(header: Sequence[str], source: str) -> dict[str, int]:
    """Where each expected column is; names match ignoring case and spacing."""
    found: dict[str, int] = {}
    problems = []
    wanted = {normalize_name(c).upper(): c for c in COLUMNS}
    for index, raw in enumerate(header):
        name = wanted.get(normalize_name(raw).upper())
        if name is None:
            problems.append(
                Problem(source, f"line 1, column {index + 1}", f"unexpected column {raw!r}")
            )
        elif name in found:
            problems.append(Problem(source, f"line 1, column {index + 1}", f"{name} given twice"))
        else:
            found[name] = index
    problems += [
        Problem(source, "line 1", f"missing column {name}") for name in COLUMNS if name not in found
    ]
    if problems:
        problems.append(Problem(source, "line 1", f"expected the columns {', '.join(COLUMNS)}"))
        raise InputError(problems)
    return found


def _listing(
    row: Sequence[str],
    columns: dict[str, int],
    source: str,
    line: int,
    row_number: int,
    problems: list[Problem],
    warnings: list[Problem],
) -> Listing | None:
    def cell(column: str) -> str:
        return row[columns[column]]

    where = f"line {line}"
    before = len(problems)
    name = normalize_name(cell(PAYER_NAME))
    if not name:
        problems.append(Problem(source, f"{where}, column {PAYER_NAME}", "empty"))
    payer_id = cell(PAYER_ID).translate(_INVISIBLE).strip()
    if not _PAYER_ID.match(payer_id):
        problems.append(
            Problem(
                source,
                f"{where}, column {PAYER_ID}",
                "expected a payer ID: 1 to 80 characters, no spaces or X12 delimiters",
            )
        )
    flags: dict[str, bool] = {}
    for column in _FLAGS:
        value = _YES_NO.get(cell(column).strip().lower())
        if value is None:
            problems.append(Problem(source, f"{where}, column {column}", "expected Yes or No"))
        else:
            flags[column] = value
    label = normalize_name(cell(TRANSACTION))
    match = _TRANSACTION_CODE.search(label)
    if len(problems) > before:
        return None
    if match is None:
        warnings.append(
            Problem(
                source,
                f"{where} (row {row_number}), column {TRANSACTION}",
                f"unknown transaction {cell(TRANSACTION)!r}; row skipped",
            )
        )
        return None
    code = match.group(1) + (f"/{match.group(2)}" if match.group(2) else "")
    return Listing(
        payer_id=payer_id,
        name=name,
        transaction=code,
        transaction_label=label,
        available=flags[AVAILABLE],
        non_par=flags[NON_PAR],
        enrollment=flags[ENROLLMENT],
        secondary=flags[SECONDARY],
        attachment=flags[ATTACHMENT],
        wc_auto=normalize_name(cell(WC_AUTO)),
        notes=cell(NOTES).strip(),
        line=line,
    )


# -- comparing two lists --------------------------------------------------------------

_COMPARED = (
    ("available", lambda item: item.available),
    ("non_par", lambda item: item.non_par),
    ("enrollment", lambda item: item.enrollment),
    ("secondary", lambda item: item.secondary),
    ("attachment", lambda item: item.attachment),
    ("wc_auto", lambda item: item.wc_auto),
    ("notes", lambda item: item.notes),
)


def _grouped(listings: Iterable[Listing]) -> dict[tuple[str, str], list[Listing]]:
    groups: dict[tuple[str, str], list[Listing]] = defaultdict(list)
    for item in listings:
        groups[item.key].append(item)
    return groups


def _changed_fields(before: Sequence[Listing], after: Sequence[Listing]) -> tuple[str, ...]:
    """``names`` when plans came or went under the ID, and each field that changed for a plan."""
    old: dict[str, list[Listing]] = defaultdict(list)
    new: dict[str, list[Listing]] = defaultdict(list)
    for item in before:
        old[name_key(item.name)].append(item)
    for item in after:
        new[name_key(item.name)].append(item)
    fields = ["names"] if old.keys() != new.keys() else []
    for field, value in _COMPARED:
        if any(
            sorted(map(str, map(value, old[name]))) != sorted(map(str, map(value, new[name])))
            for name in old.keys() & new.keys()
        ):
            fields.append(field)
    return tuple(fields)


def diff_lists(old: Iterable[Listing], new: Iterable[Listing]) -> tuple[list[Change], ...]:
    """Added, removed and changed payer ID + transaction pairs; changed ones name their fields.

    Rows are compared plan by plan (payer name) within a pair, so reordered
    rows are no change and a plan added under a shared ID changes ``names``.
    """
    before, after = _grouped(old), _grouped(new)
    added = [Change(after[k][0].payer_id, k[1]) for k in sorted(after.keys() - before.keys())]
    removed = [Change(before[k][0].payer_id, k[1]) for k in sorted(before.keys() - after.keys())]
    changed = []
    for k in sorted(before.keys() & after.keys()):
        fields = _changed_fields(before[k], after[k])
        if fields:
            changed.append(Change(after[k][0].payer_id, k[1], fields))
    return added, removed, changed


# -- the store ------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _from_row(row: sqlite3.Row) -> Listing:
    return Listing(
        payer_id=row["payer_id"],
        name=row["name"],
        transaction=row["transaction_code"],
        transaction_label=row["transaction_label"],
        available=bool(row["available"]),
        non_par=bool(row["non_par"]),
        enrollment=bool(row["enrollment"]),
        secondary=bool(row["secondary"]),
        attachment=bool(row["attachment"]),
        wc_auto=row["wc_auto"],
        notes=row["notes"],
        line=row["line"],
    )


class PayerList:
    """The imported payer list in ``<state_dir>/officeally_payers.sqlite3`` (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_database(path)
        migrate_schema(self._db, _SCHEMA, str(path))

    @classmethod
    def open(cls, state_dir: Path) -> PayerList:
        return cls(state_dir / PAYER_LIST_FILE)

    @classmethod
    def open_existing(cls, state_dir: Path) -> PayerList | None:
        """The list, or ``None`` when none was imported; creates nothing (validation reads only)."""
        path = state_dir / PAYER_LIST_FILE
        if not path.is_file():
            return None
        store = cls(path)
        if store.last_import() is None:
            store.close()
            return None
        return store

    def __enter__(self) -> PayerList:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def last_import(self) -> ImportInfo | None:
        row = self._db.execute("SELECT * FROM imports ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return ImportInfo(row["imported_at"], row["source"], row["sha256"], row["listings"])

    def all_listings(self) -> list[Listing]:
        return [_from_row(r) for r in self._db.execute("SELECT * FROM listings ORDER BY id")]

    def replace(self, parsed: ParsedList, source: str) -> ImportResult:
        """Swap the whole list in one transaction and say what changed."""
        with write_transaction(self._db) as db:
            old = self.all_listings()
            first = db.execute("SELECT 1 FROM imports LIMIT 1").fetchone() is None
            added, removed, changed = diff_lists(old, parsed.listings)
            db.execute("DELETE FROM listings")
            db.executemany(
                "INSERT INTO listings (payer_id, payer_key, name, name_key, transaction_code, "
                "transaction_label, available, non_par, enrollment, secondary, attachment, "
                "wc_auto, notes, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        item.payer_id,
                        payer_key(item.payer_id),
                        item.name,
                        name_key(item.name),
                        item.transaction,
                        item.transaction_label,
                        item.available,
                        item.non_par,
                        item.enrollment,
                        item.secondary,
                        item.attachment,
                        item.wc_auto,
                        item.notes,
                        item.line,
                    )
                    for item in parsed.listings
                ],
            )
            db.execute(
                "INSERT INTO imports (imported_at, source, sha256, listings) VALUES (?, ?, ?, ?)",
                (_now(), source, parsed.sha256, len(parsed.listings)),
            )
        return ImportResult(
            source=source,
            listings=len(parsed.listings),
            payer_ids=len({payer_key(item.payer_id) for item in parsed.listings}),
            first_import=first,
            added=added,
            removed=removed,
            changed=changed,
            warnings=parsed.warnings,
        )

    def listings(self, payer_id: str, transaction: str | None = None) -> list[Listing]:
        """Every listing of one payer ID (case-insensitive), optionally for one transaction."""
        return [
            _from_row(r)
            for r in self._db.execute(
                "SELECT * FROM listings WHERE payer_key = ? "
                "AND (? IS NULL OR transaction_code = ?) ORDER BY name_key, id",
                (payer_key(payer_id), transaction, transaction),
            )
        ]

    def listings_named(self, names: Iterable[str], transaction: str) -> list[Listing]:
        """Listings of other payer IDs under the same payer names (its 835 or 837P ID)."""
        keys = sorted({name_key(n) for n in names})
        found: list[Listing] = []
        for key in keys:
            found += [
                _from_row(r)
                for r in self._db.execute(
                    "SELECT * FROM listings WHERE name_key = ? AND transaction_code = ? "
                    "ORDER BY id",
                    (key, transaction),
                )
            ]
        return found

    def search(self, text: str, limit: int, transaction: str | None = None) -> list[list[Listing]]:
        """Payers (one payer ID under one name, with its listings) matching ``text``.

        The text is found in the payer ID or the name, ignoring case and spacing;
        with ``transaction``, only payers listed for it, with only those listings.

        The exact ID first; then payer IDs that take claims (837P), then
        remittances (835), then the rest (eligibility, status...), since an
        operator searches to bill; within each, IDs and names that start with
        the text before the rest, alphabetically.
        """
        wanted_id, wanted_name = payer_key(text), name_key(text)
        if not wanted_id:
            return []
        rows = self._db.execute(
            _SEARCH + " ORDER BY rank != 0, use, rank, name_key, payer_key LIMIT :limit",
            {
                "id": wanted_id,
                "name": wanted_name,
                "transaction": transaction,
                "claims": CLAIMS,
                "remits": REMITS,
                "limit": limit,
            },
        ).fetchall()
        return [
            [
                _from_row(r)
                for r in self._db.execute(
                    "SELECT * FROM listings WHERE payer_key = ? AND name_key = ? "
                    "AND (? IS NULL OR transaction_code = ?) ORDER BY id",
                    (row["payer_key"], row["name_key"], transaction, transaction),
                )
            ]
            for row in rows
        ]

    def count(self, text: str, transaction: str | None = None) -> int:
        """How many payers :meth:`search` finds without a limit."""
        wanted_id, wanted_name = payer_key(text), name_key(text)
        if not wanted_id:
            return 0
        return int(
            self._db.execute(
                f"SELECT count(*) FROM ({_SEARCH})",  # noqa: S608 (constant text, bound values)
                {
                    "id": wanted_id,
                    "name": wanted_name,
                    "transaction": transaction,
                    "claims": CLAIMS,
                    "remits": REMITS,
                },
            ).fetchone()[0]
        )


_SEARCH = """
    SELECT payer_key, name_key,
        CASE
            WHEN payer_key = :id THEN 0
            WHEN substr(payer_key, 1, length(:id)) = :id THEN 1
            WHEN substr(name_key, 1, length(:name)) = :name THEN 2
            ELSE 3
        END AS rank,
        min(CASE transaction_code WHEN :claims THEN 0 WHEN :remits THEN 1 ELSE 2 END) AS use
    FROM listings
    WHERE (instr(payer_key, :id) > 0 OR instr(name_key, :name) > 0)
        AND (:transaction IS NULL OR transaction_code = :transaction)
    GROUP BY payer_key, name_key
"""
"""Payers matching a search: their match rank and what they are for (837P first)."""


def check_payer_id(state_dir: Path, payer_id: str, transaction: str) -> PayerIdCheck:
    """Whether the imported list has the payer ID for the transaction (``enrollment set``).

    An ERA (835) record may name the payer's claims (837P) ID: the enrollment
    check looks ERA records up under both.
    """
    accepted = {transaction, CLAIMS} if transaction == REMITS else {transaction}
    store = PayerList.open_existing(state_dir)
    if store is None:
        return PayerIdCheck(
            None, "no Office Ally payer list imported; run `claimferry payers import FILE`"
        )
    with store:
        others = sorted({item.transaction for item in store.listings(payer_id)})
    if accepted & set(others):
        return PayerIdCheck(True)
    if others:
        return PayerIdCheck(
            False,
            f"payer ID {payer_id} is on Office Ally's payer list for {', '.join(others)}, "
            f"not {transaction}; find the payer's {transaction} ID with "
            f"`claimferry payers search NAME --transaction {transaction}`",
        )
    return PayerIdCheck(
        False,
        f"payer ID {payer_id} is not on Office Ally's payer list; "
        f"find it with `claimferry payers search NAME --transaction {transaction}`",
    )


def payer_list_imported(state_dir: Path) -> datetime | None:
    """When the payer list was last imported (``onboard status``: is it fresh?)."""
    store = PayerList.open_existing(state_dir)
    if store is None:
        return None
    with store:
        info = store.last_import()
    return datetime.fromisoformat(info.imported_at) if info is not None else None


def requires_enrollment(state_dir: Path, payer_id: str, transaction: str) -> bool | None:
    """Whether the list marks the payer as requiring enrollment for the transaction,
    as the enrollment validator reads it; ``None`` when it is not listed (or no list).

    An ERA (835) may be listed under the payer's claims ID or under its own.
    """
    store = PayerList.open_existing(state_dir)
    if store is None:
        return None
    with store:
        listings = store.listings(payer_id, transaction)
        if not listings and transaction == REMITS:
            names = {item.name for item in store.listings(payer_id, CLAIMS)}
            listings = store.listings_named(names, REMITS)
    return any(item.enrollment for item in listings) if listings else None
