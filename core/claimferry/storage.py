"""The state directory's archive: durable file writes, and what the sent files say.

Nothing is ever left half-written under its final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from claimferry.errors import ClaimferryError

ARCHIVE = "archive"
SENT = "sent"


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
