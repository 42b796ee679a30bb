"""The archive's one owner (storage.Archive): files kept in the state directory, as
always, or in the state database (``archive: database``) on both engines."""

from __future__ import annotations

import hashlib
import stat
import tracemalloc
from pathlib import Path

import pytest

from claimferry.config import load_config
from claimferry.errors import ConfigError, InputError, Problem
from claimferry.ledger import Ledger
from claimferry.ledger_copy import copy_ledger
from claimferry.storage import ArchiveMissing

CONFIG = """\
accounts:
  sunrise:
    clearinghouse: officeally
    submitter_id: SUNRISE01
    credentials: {source: env}
"""


def _ledger(tmp_path: Path, database_url: str, archive: str = "database") -> Ledger:
    return Ledger.open(tmp_path / "state", database=database_url, archive=archive)  # type: ignore[arg-type]


def test_the_directory_archive_is_the_state_directorys_folder(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "state") as ledger:
        reference = ledger.archive.store("sunrise", "sent", "F1.837", b"ISA*first")
        assert reference == str(tmp_path / "state" / "archive" / "sunrise" / "sent" / "F1.837")
        assert stat.S_IMODE(Path(reference).stat().st_mode) == 0o600
        assert ledger.archive.read(reference) == b"ISA*first"
        with ledger.archive.local(reference) as path:
            assert path == Path(reference)  # read where it is: no copy
        assert ledger.db.execute("SELECT COUNT(*) FROM archive_files").fetchone()[0] == 0


def test_the_database_archive_keeps_bytes_in_a_row(tmp_path: Path, database_url: str) -> None:
    with _ledger(tmp_path, database_url) as ledger:
        with ledger.transaction():
            reference = ledger.archive.store("sunrise", "received", "A_999_1.999", b"ISA*999")
        assert reference == "db:sunrise/received/A_999_1.999"
        assert ledger.archive.read(reference) == b"ISA*999"
        row = ledger.db.execute("SELECT sha256, size, data FROM archive_files").fetchone()
        assert (row["size"], bytes(row["data"])) == (7, b"ISA*999")
        assert not (tmp_path / "state" / "archive" / "sunrise").exists()


@pytest.mark.parametrize("archive", ["directory", "database"])
def test_a_name_kept_before_is_never_overwritten(
    tmp_path: Path, database_url: str, archive: str
) -> None:
    """A response replaced on the server under its old name is kept beside the first."""
    with _ledger(tmp_path, database_url, archive) as ledger:
        first = ledger.archive.store("sunrise", "received", "R.835", b"ISA*one")
        again = ledger.archive.store("sunrise", "received", "R.835", b"ISA*one")
        other = ledger.archive.store("sunrise", "received", "R.835", b"ISA*two")
        assert first == again
        assert other != first and other.endswith("R.835." + _sha(b"ISA*two")[:12])
        assert ledger.archive.read(first) == b"ISA*one"
        assert ledger.archive.read(other) == b"ISA*two"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_reader_gets_a_private_copy_that_is_gone_after(tmp_path: Path, database_url: str) -> None:
    state = tmp_path / "state"
    with _ledger(tmp_path, database_url) as ledger:
        reference = ledger.archive.store("sunrise", "received", "E.835", b"ISA*era")
        with ledger.archive.local(reference) as path:
            assert path.parent == state and path.name.startswith(".archive-")
            assert stat.S_IMODE(path.stat().st_mode) == 0o600  # patient data: owner only
            assert path.read_bytes() == b"ISA*era"
        assert not path.exists()
        with pytest.raises(InputError) as caught, ledger.archive.local(reference) as path:
            raise InputError([Problem(f"{path}!era/1.835", "ISA", "bad")])
        assert str(caught.value) == f"{reference}!era/1.835: ISA: bad"  # the copy is not named
        assert not path.exists()


def test_a_missing_file_is_said_so(tmp_path: Path, database_url: str) -> None:
    with _ledger(tmp_path, database_url) as ledger:
        with pytest.raises(ArchiveMissing, match=r"db:sunrise/sent/F9\.837: not in the database"):
            ledger.archive.read("db:sunrise/sent/F9.837")
        gone = str(tmp_path / "gone.837")
        with pytest.raises(ArchiveMissing, match=r"gone\.837: cannot read the archived file"):
            ledger.archive.read(gone)
        with pytest.raises(ArchiveMissing), ledger.archive.local(gone):
            pass


def test_the_config_chooses_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(CONFIG)
    assert load_config(path).archive == "directory"
    path.write_text(CONFIG + "archive: database\n")
    assert load_config(path).archive == "database"
    path.write_text(CONFIG + "archive: /mnt/shared\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: archive" in str(caught.value)
    assert "'directory' or 'database'" in str(caught.value)


def test_db_copy_holds_a_few_files_in_memory_never_the_archive(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of PostgreSQL the rows come through a server-side cursor a few at a time:
    a fetch of the whole table would hold every file at once."""
    monkeypatch.delenv("CLAIMFERRY_DATABASE", raising=False)  # this test names both ends
    files = {f"F{n:02d}.835": bytes([n]) * 512 * 1024 for n in range(40)}  # 20 MB in all
    with _ledger(tmp_path, postgres_url) as ledger, ledger.transaction():
        for name, data in files.items():
            ledger.archive.store("sunrise", "received", name, data)
    target = f"sqlite://{tmp_path / 'copy.sqlite3'}"
    tracemalloc.start()
    try:
        copied = {t.table: t for t in copy_ledger(postgres_url, target)}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert copied["archive_files"].matches and copied["archive_files"].rows == 40
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 20 MiB archive"
    with Ledger.open(tmp_path / "other", database=target, archive="database") as copy:
        assert copy.archive.read("db:sunrise/received/F07.835") == files["F07.835"]
