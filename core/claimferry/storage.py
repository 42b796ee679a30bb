"""The archive of every file sent and received, and durable file writes.

The archive is the proof of what was sent. It lives in the state directory
(``archive/<account>/sent|received/``), or with ``archive: database`` in the
config in the state database's ``archive_files`` table, where every machine
that shares the database reads it. The ledger's ``archive_path`` columns hold
a file's path, or ``db:<account>/<direction>/<name>`` for a row of that table;
reading goes by that reference, whichever way the config says to store now.
Nothing is ever left half-written under its final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from claimferry.database import Connection, write_transaction
from claimferry.errors import ClaimferryError, InputError, Problem

ARCHIVE = "archive"
SENT = "sent"
RECEIVED = "received"
IN_DATABASE = "db:"
"""How an ``archive_path`` names a row of ``archive_files`` rather than a file."""
ArchiveStorage = Literal["directory", "database"]


class StorageError(ClaimferryError):
    """A file in the state directory cannot be written (read-only, disk full)."""

    code = "storage"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_dir(state_dir: Path, account: str, direction: str) -> Path:
    return state_dir / ARCHIVE / account / direction


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    try:
        _atomic_write(path, data, mode)
    except OSError as exc:
        cause = (exc.strerror or exc.__class__.__name__).lower()
        raise StorageError(f"{path}: cannot write ({cause})") from None


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def sent_files(state_dir: Path) -> Iterator[Path]:
    """Every claim file archived as sent, for any account (temporary files aside)."""
    root = state_dir / ARCHIVE
    if not root.is_dir():
        return
    for folder in sorted(root.glob(f"*/{SENT}")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                yield path


def interchange_header(path: Path) -> tuple[str, int] | None:
    """A sent file's ISA06 (sender ID) and ISA13 (control number); ``None`` if not X12.

    The ISA segment has fixed widths, so its first 106 bytes are enough.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(106).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    if len(head) < 106 or not head.startswith("ISA"):
        return None
    elements = head.split(head[3])
    if len(elements) < 14 or not elements[13].isdigit():
        return None
    return elements[6].strip(), int(elements[13])


class ArchiveMissing(StorageError):
    """A file the ledger recorded is not in the archive (moved, deleted, another machine's)."""

    code = "archive-missing"


class Archive:
    """Where sent and received files are kept and read back: the one owner of the archive.

    ``storage`` (the config's ``archive``) says where new files go; any reference
    recorded before, of either kind, stays readable, so a config switched from one
    to the other keeps its history.
    """

    def __init__(self, state_dir: Path, db: Connection, storage: ArchiveStorage) -> None:
        self.state_dir = state_dir
        self.in_database = storage == "database"
        self._db = db

    def store(self, account: str, direction: str, name: str, data: bytes) -> str:
        """Keep ``data`` under ``name``; returns its reference for ``archive_path``.

        In the database it joins the caller's transaction, so the bytes commit with
        the record they belong to, or not at all. A different file already kept
        under the name is never overwritten: the new one's name gets the start of
        its hash (a response replaced on the server under its old name).
        """
        digest = sha256_hex(data)
        if self.in_database:
            return self._store_row(account, direction, name, data, digest)
        path = archive_dir(self.state_dir, account, direction) / name
        if path.exists() and sha256_hex(path.read_bytes()) != digest:
            path = path.with_name(f"{name}.{digest[:12]}")
        atomic_write(path, data)
        return str(path)

    def _store_row(self, account: str, direction: str, name: str, data: bytes, digest: str) -> str:
        with write_transaction(self._db) as db:
            kept = db.execute(
                "SELECT sha256 FROM archive_files WHERE account = ? AND direction = ? AND name = ?",
                (account, direction, name),
            ).fetchone()
            if kept is not None and kept[0] != digest:
                name = f"{name}.{digest[:12]}"
            db.execute(
                "INSERT INTO archive_files (account, direction, name, sha256, size, data, "
                "stored_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (account, direction, name) DO NOTHING",
                (
                    account,
                    direction,
                    name,
                    digest,
                    len(data),
                    data,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )
        return f"{IN_DATABASE}{account}/{direction}/{name}"  # read back by _row_of

    def read(self, reference: str) -> bytes:
        """A kept file's bytes; :class:`ArchiveMissing` when it is not there."""
        if not reference.startswith(IN_DATABASE):
            try:
                return Path(reference).read_bytes()
            except OSError as exc:
                cause = (exc.strerror or exc.__class__.__name__).lower()
                raise ArchiveMissing(
                    f"{reference}: cannot read the archived file ({cause})"
                ) from None
        row = self._db.execute(
            "SELECT data FROM archive_files WHERE account = ? AND direction = ? AND name = ?",
            _row_of(reference),
        ).fetchone()
        if row is None:
            raise ArchiveMissing(f"{reference}: not in the database's archive")
        return bytes(row[0])

    @contextmanager
    def local(self, reference: str) -> Iterator[Path]:
        """A kept file as a path, for readers that stream a file (a 100 MB ERA, a zip).

        A row of the database is copied to a private temporary file in the state
        directory (owner-only, as ``mkstemp`` makes it: it holds patient data) and
        removed afterwards.
        Input errors about that copy are told of the reference, not the copy.
        """
        if not reference.startswith(IN_DATABASE):
            if not Path(reference).is_file():
                raise ArchiveMissing(f"{reference}: the archived file is not there")
            yield Path(reference)
            return
        data = self.read(reference)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        kept_as = _row_of(reference)[2]  # its suffix says how to read a claims file
        fd, name = tempfile.mkstemp(prefix=".archive-", suffix=f"-{kept_as}", dir=self.state_dir)
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            try:
                yield copy
            except InputError as exc:
                raise InputError(
                    Problem(p.source.replace(name, reference), p.location, p.message)
                    for p in exc.problems
                ) from None
        finally:
            copy.unlink(missing_ok=True)

    def discard(self, reference: str) -> None:
        """Remove a queued claims file once it is sent. Work in waiting only: a file
        sent or received is the proof of what was sent, and is never removed."""
        if not reference.startswith(IN_DATABASE):
            Path(reference).unlink(missing_ok=True)
            return
        account, direction, name = _row_of(reference)
        if direction in (SENT, RECEIVED):
            raise StorageError(f"{reference}: the archive's proof is never removed")
        with write_transaction(self._db) as db:
            db.execute(
                "DELETE FROM archive_files WHERE account = ? AND direction = ? AND name = ?",
                (account, direction, name),
            )


def _row_of(reference: str) -> tuple[str, str, str]:
    """The account, direction and name of a ``db:`` reference (``Archive.store`` makes them)."""
    account, direction, name = reference.removeprefix(IN_DATABASE).rsplit("/", 2)
    return account, direction, name
