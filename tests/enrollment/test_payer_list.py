"""Reading Office Ally's payer list export and keeping it: real file, broken files, re-import."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from claimferry.database import DatabaseError
from claimferry.errors import InputError
from claimferry_officeally.payers import (
    PAYER_LIST_FILE,
    PayerList,
    check_payer_id,
    diff_lists,
    parse_payer_list,
    payer_list_imported,
    requires_enrollment,
)
from enrollment.support import HEADER, PAYER_ROWS, PAYERS_CSV


def _write(tmp_path: Path, text: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_payer_list(path)
    return [str(p) for p in caught.value.problems]


def test_real_export_imports_with_one_warning_for_the_undefined_row(
    samples_dir: Path, tmp_path: Path
) -> None:
    parsed = parse_payer_list(samples_dir / "officeally_payer_list.csv")
    assert len(parsed.listings) == 9604
    [warning] = parsed.warnings
    assert warning.location == "line 8921 (row 7829), column TRANSACTION"
    assert "unknown transaction" in warning.message
    counts: dict[str, int] = {}
    for item in parsed.listings:
        counts[item.transaction] = counts.get(item.transaction, 0) + 1
    assert counts == {
        "837P": 3781,
        "837I": 2542,
        "835": 1533,
        "270/271": 966,
        "837D": 464,
        "276/277": 318,
    }
    assert not [i for i in parsed.listings if i.payer_id != i.payer_id.strip() or "\t" in i.name]
    assert sum("\n" in item.notes for item in parsed.listings) > 450
    with PayerList.open(tmp_path) as store:
        result = store.replace(parsed, "real.csv")
        assert result.first_import and result.listings == 9604
        # Utah Medicaid crossovers: 837P U4005; its 270 ID is another payer's.
        assert {i.transaction for i in store.listings("u4005")} == {"837P"}
        assert [i.payer_id for i in store.listings("ASVA1", "837P")] == ["ASVA1"]


def test_quirks_of_a_small_list(payers_csv: Path) -> None:
    parsed = parse_payer_list(payers_csv)
    by_id = {(i.payer_id, i.name): i for i in parsed.listings}
    acme = by_id[("ACME1", "Acme Health")]
    assert acme.notes == "EDI enrollment required.\nAllow two weeks."
    assert acme.enrollment and acme.secondary and not acme.non_par
    assert acme.line == 2
    costly = by_id[("COST1", "Costly Mutual")]
    assert costly.non_par and costly.wc_auto == "Work Comp"
    assert by_id[("ACRA1", "Acme Health")].line == 4
    assert by_id[("ACEL1", "Acme Health")].transaction == "270/271"


def test_header_may_vary_in_case_spacing_and_order_and_carry_a_bom(tmp_path: Path) -> None:
    header = "payer id, Payer Name,TRANSACTION,AVAILABLE,NON  PAR,ENROLLMENT,SECONDARY,"
    header += "ATTACHMENT,WC / AUTO,NOTES\n"
    path = _write(tmp_path, "\ufeff" + header + "OPEN1,Open Plan,Remits 835,Yes,No,No,No,No,,\n")
    [item] = parse_payer_list(path).listings
    assert (item.payer_id, item.name, item.transaction) == ("OPEN1", "Open Plan", "835")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            HEADER.replace("NON PAR,", "") + "A,B1,Remits 835,Yes,No,No,No,,\n",
            ["line 1: missing column NON PAR"],
            id="missing-column",
        ),
        pytest.param(
            HEADER.replace("NOTES", "NOTES,EXTRA"),
            ["line 1, column 11: unexpected column 'EXTRA'"],
            id="unknown-column",
        ),
        pytest.param(
            HEADER + "Acme,ACME1,Professional Claims 837P,Yes,No,Yes,Yes,No,\n",
            ["line 2: expected 10 fields, found 9"],
            id="too-few-fields",
        ),
        pytest.param(
            HEADER + PAYER_ROWS + "Acme,ACME1,Professional Claims 837P,Yes,Maybe,Yes,Yes,No,,\n",
            ["line 12, column NON PAR: expected Yes or No"],
            id="not-yes-or-no",
        ),
        pytest.param(
            HEADER + "Acme,AC ME,Professional Claims 837P,Yes,No,Yes,Yes,No,,\n",
            ["line 2, column PAYER ID: expected a payer ID"],
            id="bad-payer-id",
        ),
        pytest.param(
            HEADER + " ,ACME1,Professional Claims 837P,Yes,No,Yes,Yes,No,,\n",
            ["line 2, column PAYER NAME: empty"],
            id="empty-name",
        ),
        pytest.param(HEADER, ["no payer rows after the header"], id="header-only"),
        pytest.param("", ["line 1: empty file"], id="empty-file"),
        pytest.param(
            HEADER + 'Acme,ACME1,Professional Claims 837P,Yes,No,Yes,Yes,No,,"never closed\n',
            ["not valid CSV"],
            id="unclosed-quote",
        ),
    ],
)
def test_broken_files_name_the_row_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    problems = _problems(_write(tmp_path, text))
    for part in expected:
        assert any(part in p for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rows = HEADER + "A,A1,Remits 835,Yes,Perhaps,No,No,No,,\nB,B1,Remits 835,Yes,No,No,No,No\n"
    problems = _problems(_write(tmp_path, rows))
    assert len(problems) == 2
    assert "line 2, column NON PAR" in problems[0] and "line 3" in problems[1]


def test_undecodable_text_names_the_line(tmp_path: Path) -> None:
    data = (HEADER + "Open Plan,OPEN1,Remits 835,Yes,No,No,No,No,,\n").encode()
    data += "Caf\xe9 Plan,CAFE1,Remits 835,Yes,No,No,No,No,,\n".encode("latin-1")
    [problem] = _problems(_write(tmp_path, data))
    assert "line 3" in problem and "UTF-8" in problem


def test_a_broken_reimport_changes_nothing(payers_csv: Path, tmp_path: Path) -> None:
    with PayerList.open(tmp_path / "state") as store:
        store.replace(parse_payer_list(payers_csv), str(payers_csv))
        broken = _write(tmp_path, PAYERS_CSV + "Late,LATE1,Remits 835,Yes,No,No,No\n", "b.csv")
        with pytest.raises(InputError):
            store.replace(parse_payer_list(broken), str(broken))
        assert len(store.all_listings()) == 9


def test_a_failure_while_writing_rolls_back(payers_csv: Path, tmp_path: Path) -> None:
    """One transaction: a row the database refuses leaves the old list whole."""
    parsed = parse_payer_list(payers_csv)
    with PayerList.open(tmp_path) as store:
        store.replace(parsed, "first")
        bad = [*parsed.listings, replace(parsed.listings[0], notes=None)]
        with pytest.raises(DatabaseError, match=r"cannot write \((NOT NULL|null value in col)"):
            store.replace(replace(parsed, listings=bad), "second")
        assert len(store.all_listings()) == 9
        info = store.last_import()
        assert info is not None and info.source == "first"


@pytest.mark.sqlite_only("the payer list's own SQLite file")
def test_store_is_a_wal_file_of_its_own(payers_csv: Path, tmp_path: Path) -> None:
    with PayerList.open(tmp_path) as store:
        store.replace(parse_payer_list(payers_csv), "x")
    db = sqlite3.connect(tmp_path / PAYER_LIST_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert not (tmp_path / "ledger.sqlite3").exists()


def test_duplicate_payer_id_and_transaction_rows_are_all_kept(payers_csv: Path) -> None:
    """One payer ID serves several plans (792 such pairs in the real list): keep each."""
    plans = [i.name for i in parse_payer_list(payers_csv).listings if i.payer_id == "TPA01"]
    assert plans == ["Shared Admin", "Plan Under Admin"]


def test_reimport_reports_added_removed_and_changed(payers_csv: Path, tmp_path: Path) -> None:
    newer = PAYERS_CSV.replace("Open Plan,OPEN1,Remits 835,Yes,No,No,No,No,,\n", "").replace(
        "Costly Mutual\t,COST1 ,Professional Claims 837P,Yes,Yes,",
        "Costly Mutual,COST1,Professional Claims 837P,Yes,No,",
    )
    newer += "New Payer,NEW01,Professional Claims 837P,Yes,No,No,Yes,No,,\n"
    newer += "Another Plan,TPA01,Professional Claims 837P,Yes,No,No,Yes,No,,\n"
    with PayerList.open(tmp_path) as store:
        store.replace(parse_payer_list(payers_csv), "old")
        result = store.replace(parse_payer_list(_write(tmp_path, newer, "new.csv")), "new")
    assert not result.first_import
    assert [(c.payer_id, c.transaction) for c in result.added] == [("NEW01", "837P")]
    assert [(c.payer_id, c.transaction) for c in result.removed] == [("OPEN1", "835")]
    assert [(c.payer_id, c.transaction, c.fields) for c in result.changed] == [
        ("COST1", "837P", ("non_par",)),
        ("TPA01", "837P", ("names",)),
    ]


def test_same_rows_in_another_order_are_no_change(payers_csv: Path) -> None:
    listings = parse_payer_list(payers_csv).listings
    assert diff_lists(listings, list(reversed(listings))) == ([], [], [])


def test_search_by_id_or_name_any_case(payers_csv: Path, tmp_path: Path) -> None:
    with PayerList.open(tmp_path) as store:
        store.replace(parse_payer_list(payers_csv), "x")
        assert [g[0].payer_id for g in store.search("acme1", 10)] == ["ACME1"]
        names = [(g[0].payer_id, g[0].name) for g in store.search("ACME HEALTH", 10)]
        assert names == [
            ("ACME1", "Acme Health"),
            ("ACRA1", "Acme Health"),
            ("ACEL1", "Acme Health"),
        ], "claims (837P) first, then remittances (835), then eligibility"
        assert [g[0].name for g in store.search("admin", 10)] == [
            "Plan Under Admin",
            "Shared Admin",
        ]
        assert len(store.search("a", 2)) == 2
        assert store.count("a") == 7 and store.count("acme", "835") == 1
        [[remits]] = store.search("acme health", 10, "835")
        assert (remits.payer_id, remits.transaction) == ("ACRA1", "835")
        assert [g[0].payer_id for g in store.search("elig", 10, "837P")] == []
        assert store.search("nothing like it", 10) == []
        assert store.search("  ", 10) == []
        assert {i.transaction for i in store.listings("acme1")} == {"837P"}


def test_on_postgresql_every_machine_reads_the_one_list(
    payers_csv: Path, tmp_path: Path, postgres_url: str
) -> None:
    """Imported once into the state database, the list is what a worker with another
    state directory checks claims against; no file of its own is written."""
    first, second = tmp_path / "first", tmp_path / "second"
    with PayerList.open(first, postgres_url) as store:
        assert store.where.startswith("postgresql://")
        store.replace(parse_payer_list(payers_csv), "x")
    assert not (first / PAYER_LIST_FILE).exists()
    assert check_payer_id(second, "acme1", "837P", database=postgres_url).listed is True
    assert requires_enrollment(second, "ACRA1", "835", database=postgres_url) is True
    assert requires_enrollment(second, "OPEN1", "835", database=postgres_url) is False
    assert payer_list_imported(second, database=postgres_url) is not None
    found = PayerList.open_existing(second, postgres_url)
    assert found is not None
    with found:
        assert [g[0].payer_id for g in found.search("acme health", 10)] == [
            "ACME1",
            "ACRA1",
            "ACEL1",
        ]
    assert not (second / PAYER_LIST_FILE).exists()
