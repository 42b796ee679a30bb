"""``claimferry payers`` and ``claimferry enrollment`` through click's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from claimferry.cli.enrollment import enrollment
from claimferry.ledger import Ledger
from enrollment.support import PAYERS_CSV, TAX_ID, Run, claim_data, claims_file_data

ENROLL = ("--npi", "1234567893", "--tax-id", TAX_ID)


def _claims_file(tmp_path: Path, *claims: dict[str, object]) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(claims_file_data(*claims)))
    return path


def test_help_everywhere(run: Run) -> None:
    for args in (
        ("payers",),
        ("payers", "import"),
        ("payers", "search"),
        ("payers", "show"),
        ("enrollment",),
        ("enrollment", "set"),
        ("enrollment", "delete"),
        ("enrollment", "list"),
        ("enrollment", "import"),
        ("enrollment", "export"),
    ):
        result = run(*args, "-h")
        assert result.exit_code == 0 and "Usage:" in result.stdout, args


def test_help_writes_transactions_as_users_type_them(run: Run) -> None:
    for command in ("set", "delete", "list"):
        assert "--transaction 837P|835" in run("enrollment", command, "-h").stdout, command
    assert "--transaction 837P|835|270|276|..." in run("payers", "search", "-h").stdout


def test_enrollment_group_is_a_click_group_named_enrollment() -> None:
    assert enrollment.name == "enrollment" and set(enrollment.commands) == {
        "set",
        "delete",
        "list",
        "import",
        "export",
    }


def test_payers_import_text_and_json(run: Run, payers_csv: Path, state_dir: Path) -> None:
    result = run("payers", "import", str(payers_csv))
    assert result.exit_code == 0, result.output
    assert "imported 9 listings (7 payer IDs)" in result.stdout
    if os.environ.get("CLAIMFERRY_DATABASE"):  # the suite on PostgreSQL: the list is there
        assert "into postgresql://" in result.stdout
    else:
        assert f"into {state_dir / 'officeally_payers.sqlite3'}" in result.stdout
    newer = payers_csv.with_name("newer.csv")
    newer.write_text(PAYERS_CSV.replace("Open Plan,OPEN1,Remits 835,Yes,No,No,No,No,,\n", ""))
    result = run("payers", "import", str(newer))
    assert "0 added, 1 removed, 0 changed" in result.stdout and "- OPEN1  835" in result.stdout
    data = json.loads(run("payers", "import", str(payers_csv), "--json").stdout)
    assert data["added"] == [{"payer_id": "OPEN1", "transaction": "835"}]
    assert data["removed"] == [] and data["changed"] == [] and not data["first_import"]


def test_payers_import_of_the_real_list_warns_about_one_row(run: Run, samples_dir: Path) -> None:
    result = run("payers", "import", str(samples_dir / "officeally_payer_list.csv"), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["listings"] == 9604 and data["first_import"]
    assert [w["location"] for w in data["warnings"]] == ["line 8921 (row 7829), column TRANSACTION"]
    assert "warning:" in result.stderr and "line 8921" in result.stderr
    shown = json.loads(run("payers", "show", "U4005", "--json").stdout)
    assert [i["transaction"] for i in shown["listings"]] == ["837P"]


def test_payers_import_broken_file_exit_2_nothing_imported(
    run: Run, tmp_path: Path, state_dir: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(PAYERS_CSV + "Late,LATE1,Remits 835,Yes,No,No,No\n")
    result = run("payers", "import", str(broken))
    assert result.exit_code == 2
    assert "line 12: expected 10 fields, found 7" in result.stderr
    assert "Traceback" not in result.output
    assert run("payers", "search", "open").exit_code == 1
    assert run("payers", "import", str(tmp_path / "missing.csv")).exit_code == 2


def test_payers_search_and_show(run: Run, payers_csv: Path) -> None:
    assert "no Office Ally payer list imported" in run("payers", "show", "ACME1").stderr
    run("payers", "import", str(payers_csv))
    result = run("payers", "search", "acme")
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["PAYER_ID", "NAME", "TRANSACTIONS"]
    assert [line.split()[0] for line in rows] == ["ACME1", "ACRA1", "ACEL1"]
    data = json.loads(run("payers", "search", "acme", "--json", "--limit", "1").stdout)
    assert data == [{"payer_id": "ACME1", "name": "Acme Health", "transactions": ["837P"]}]
    assert "no payer matches" in run("payers", "search", "zzz").stderr
    shown = run("payers", "show", "acme1")
    assert "Professional Claims 837P: available, enrollment required" in shown.stdout
    assert "Allow two weeks." in shown.stdout
    listing = json.loads(run("payers", "show", "COST1", "--json").stdout)["listings"][0]
    assert listing["non_par"] and listing["secondary"] and listing["wc_auto"] == "Work Comp"
    missing = run("payers", "show", "NOPE1")
    assert missing.exit_code == 1 and "payers search" in missing.stderr
    assert run("payers", "search", "x", "--limit", "0").exit_code == 2


def test_enrollment_set_list_and_history(run: Run) -> None:
    args = ("enrollment", "set", "--account", "sunrise", *ENROLL, "--payer-id", "ACME1")
    result = run(*args, "--transaction", "837P", "--status", "submitted")
    assert result.exit_code == 0 and result.stdout.startswith("created:")
    data = json.loads(run(*args, "--transaction", "837p", "--status", "approved", "--json").stdout)
    assert data["outcome"] == "updated" and data["enrollment"]["decided_on"] is not None
    run(*args, "--transaction", "835", "--notes", "ERA form mailed")
    listed = json.loads(run("enrollment", "list", "--account", "sunrise", "--json").stdout)
    assert [(r["transaction"], r["status"]) for r in listed] == [
        ("835", "not-started"),
        ("837P", "approved"),
    ]
    filtered = run("enrollment", "list", "--status", "approved", "--history", "--json")
    [record] = json.loads(filtered.stdout)
    assert [h["status"] for h in record["history"]] == ["submitted", "approved"]
    assert all(h["actor"] for h in record["history"])
    text = run("enrollment", "list", "--account", "sunrise", "--transaction", "837P", "--history")
    header, submitted, approved = text.stdout.splitlines()
    assert header.split()[:6] == ["ACCOUNT", "PAYER_ID", "TRANSACTION", "NPI", "TAX_ID", "CHANGED"]
    assert submitted.split()[1:3] == ["ACME1", "837P"] and " submitted " in submitted
    assert approved.index("approved") == submitted.index("submitted")  # aligned columns
    assert "no enrollment records match" in run("enrollment", "list", "--payer-id", "X").stderr


def test_enrollment_set_bad_input_exit_2(run: Run) -> None:
    base = ("enrollment", "set", "--account", "sunrise", "--payer-id", "ACME1")
    result = run(*base, "--npi", "12", "--tax-id", TAX_ID, "--transaction", "837P")
    assert result.exit_code == 2 and "--npi: expected a billing NPI" in result.stderr
    result = run(*base, *ENROLL, "--transaction", "837P", "--decided-on", "2026-01-01")
    assert result.exit_code == 2 and "only for approved or rejected" in result.stderr
    assert run(*base, *ENROLL, "--transaction", "837I").exit_code == 2
    unknown = run(
        "enrollment",
        "set",
        "--account",
        "nobody",
        *ENROLL,
        "--payer-id",
        "A1",
        "--transaction",
        "835",
    )
    assert unknown.exit_code == 2 and "no such account" in unknown.stderr


def test_enrollment_import_export_round_trip(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "npi,tax_id,payer_id,transaction,status,submitted_on,decided_on,notes\n"
        f"1234567893,{TAX_ID},ACME1,837P,approved,2026-01-02,2026-01-20,\n"
        f'1234567893,{TAX_ID},ACRA1,835,submitted,2026-01-02,,"fax, twice"\n'
    )
    result = run("enrollment", "import", str(source), "--account", "sunrise")
    assert result.exit_code == 0 and "2 created, 0 updated, 0 unchanged" in result.stdout
    for name in ("out.yaml", "out.csv"):
        assert (
            run("enrollment", "export", str(tmp_path / name), "--account", "sunrise").exit_code == 0
        )
        again = json.loads(
            run(
                "enrollment", "import", str(tmp_path / name), "--account", "sunrise", "--json"
            ).stdout
        )
        assert again["unchanged"] == 2
    printed = run("enrollment", "export", "--account", "sunrise", "--format", "csv").stdout
    assert printed.splitlines()[0].startswith("npi,tax_id,payer_id")
    as_yaml = yaml.safe_load(run("enrollment", "export", "--account", "sunrise").stdout)
    assert as_yaml["account"] == "sunrise" and len(as_yaml["enrollments"]) == 2
    clash = run(
        "enrollment", "export", str(tmp_path / "x.csv"), "--account", "sunrise", "--format", "yaml"
    )
    assert clash.exit_code == 2


def test_enrollment_import_malformed_and_duplicate_exit_2_nothing_written(
    run: Run, tmp_path: Path
) -> None:
    source = tmp_path / "in.yaml"
    entry = {"npi": "1234567893", "tax_id": TAX_ID, "payer_id": "ACME1", "transaction": "837P"}
    source.write_text(
        yaml.safe_dump(
            {"enrollments": [entry, {**entry, "status": "bogus"}, {**entry, "payer_id": "acme1"}]}
        )
    )
    result = run("enrollment", "import", str(source), "--account", "sunrise")
    assert result.exit_code == 2
    assert "enrollments[1]: status" in result.stderr
    assert "enrollments[2]: duplicate of enrollments[0]" in result.stderr
    assert json.loads(run("enrollment", "list", "--json").stdout) == []
    assert (
        run("enrollment", "import", str(tmp_path / "x.txt"), "--account", "sunrise").exit_code == 2
    )


def test_validate_build_and_strict_run_the_enrollment_checks(
    run: Run, tmp_path: Path, payers_csv: Path
) -> None:
    claims = _claims_file(tmp_path, claim_data("C1", "COST1"))
    result = run("validate", str(claims), "--account", "sunrise", "--json")
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["PAYER-LIST-MISSING"]
    run("payers", "import", str(payers_csv))
    result = run("validate", str(claims), "--account", "sunrise")
    assert result.exit_code == 0 and "warning NON-PAR" in result.stdout
    strict = run("validate", str(claims), "--account", "sunrise", "--strict")
    assert strict.exit_code == 2
    assert run("validate", str(claims)).exit_code == 0  # no account: no enrollment checks
    unknown = _claims_file(tmp_path, claim_data("C2", "NOPE1"))
    out = tmp_path / "out.837"
    built = run("build", str(unknown), "--account", "sunrise", "-o", str(out))
    assert built.exit_code == 2 and "PAYER-UNKNOWN" in built.stdout and not out.exists()
    enroll = _claims_file(tmp_path, claim_data("C3", "ACME1"))
    blocked = run("validate", str(enroll), "--account", "sunrise")
    assert blocked.exit_code == 2 and "EDI-ENROLLMENT" in blocked.stdout
    run(
        "enrollment",
        "set",
        "--account",
        "sunrise",
        *ENROLL,
        "--payer-id",
        "ACME1",
        "--transaction",
        "837P",
        "--status",
        "approved",
    )
    passed = run("validate", str(enroll), "--account", "sunrise")
    assert passed.exit_code == 0 and "ERA-ENROLLMENT" in passed.stdout


def test_payers_search_by_transaction_and_says_how_many_more(run: Run, payers_csv: Path) -> None:
    run("payers", "import", str(payers_csv))
    remits = run("payers", "search", "acme health", "--transaction", "835")
    assert remits.stdout.splitlines() == [
        "PAYER_ID  NAME         TRANSACTIONS",
        "ACRA1     Acme Health  835",
    ]
    data = json.loads(run("payers", "search", "Open", "--transaction", "837p", "--json").stdout)
    assert data == [{"payer_id": "OPEN1", "name": "Open Plan", "transactions": ["837P"]}]
    for code in ("270", "271", "270/271"):
        eligibility = run("payers", "search", "eligibility", "--transaction", code)
        assert eligibility.stdout.splitlines()[1].split()[0] == "ELIG9", code
    none = run("payers", "search", "eligibility", "--transaction", "837P")
    assert none.exit_code == 0 and "no payer listed for 837P matches" in none.stderr
    bad = run("payers", "search", "acme", "--transaction", "claims")
    assert bad.exit_code == 2 and "837P, 835 or 270" in bad.stderr
    cut = run("payers", "search", "a", "--limit", "2")
    lines = cut.stdout.splitlines()
    assert len(lines) == 4 and lines[-1] == "5 more; use --limit 7"
    whole = run("payers", "search", "a", "--limit", "7")
    assert len(whole.stdout.splitlines()) == 1 + 7 and "more" not in whole.output
    cut_json = run("payers", "search", "a", "--limit", "2", "--json")
    assert len(json.loads(cut_json.stdout)) == 2 and "5 more; use --limit 7" in cut_json.stderr


def test_enrollment_set_refuses_a_bad_npi_or_tax_id(run: Run, tmp_path: Path) -> None:
    base = ("enrollment", "set", "--account", "sunrise", "--payer-id", "OPEN1")
    wrong = run(*base, "--npi", "1234567890", "--tax-id", TAX_ID, "--transaction", "837P")
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    assert "--npi: the NPI's check digit is wrong (Luhn with prefix 80840)" in wrong.stderr
    shape = run(*base, "--npi", "3234567893", "--tax-id", TAX_ID, "--transaction", "837P")
    assert (
        shape.exit_code == 2 and "--npi: an NPI is 10 digits starting with 1 or 2" in shape.stderr
    )
    tax = run(*base, *ENROLL[:2], "--tax-id", "12345678", "--transaction", "837P")
    assert tax.exit_code == 2 and "--tax-id: expected a tax ID (EIN or SSN): 9 digits" in tax.stderr
    source = tmp_path / "in.csv"
    source.write_text(f"npi,tax_id,payer_id,transaction\n1234567890,{TAX_ID},OPEN1,837P\n")
    imported = run("enrollment", "import", str(source), "--account", "sunrise")
    assert imported.exit_code == 2 and "line 2: npi: the NPI's check digit is wrong" in (
        imported.stderr
    )
    assert json.loads(run("enrollment", "list", "--json").stdout) == []


def test_enrollment_set_checks_the_payer_id_against_the_list(run: Run, payers_csv: Path) -> None:
    base = ("enrollment", "set", "--account", "sunrise", *ENROLL)
    unchecked = run(*base, "--payer-id", "NOPE1", "--transaction", "837P")
    assert unchecked.exit_code == 0 and "warning: payer ID not checked" in unchecked.stderr
    run(
        "enrollment",
        "delete",
        "--account",
        "sunrise",
        *ENROLL,
        "--payer-id",
        "NOPE1",
        "--transaction",
        "837P",
    )
    run("payers", "import", str(payers_csv))
    unknown = run(*base, "--payer-id", "NOPE1", "--transaction", "837P")
    assert unknown.exit_code == 2
    assert "--payer-id: payer ID NOPE1 is not on Office Ally's payer list" in unknown.stderr
    assert "--force records it anyway" in unknown.stderr
    other = run(*base, "--payer-id", "ACEL1", "--transaction", "837P")
    assert other.exit_code == 2
    assert "is on Office Ally's payer list for 270/271, not 837P" in other.stderr
    assert "payers search NAME --transaction 837P" in other.stderr
    assert json.loads(run("enrollment", "list", "--json").stdout) == []
    for payer_id in ("acra1", "ACME1"):  # an ERA record may name the claims ID
        listed = run(*base, "--payer-id", payer_id, "--transaction", "835")
        assert listed.exit_code == 0 and listed.stderr == "", payer_id
    era_only = run(*base, "--payer-id", "ACRA1", "--transaction", "837P")
    assert era_only.exit_code == 2 and "for 835, not 837P" in era_only.stderr
    forced = run(*base, "--payer-id", "NOPE1", "--transaction", "837P", "--force", "--json")
    assert forced.exit_code == 0 and "recorded anyway (--force)" in forced.stderr
    assert json.loads(forced.stdout)["enrollment"]["payer_id"] == "NOPE1"


def test_enrollment_delete_keeps_the_history(run: Run, tmp_path: Path, payers_csv: Path) -> None:
    run("payers", "import", str(payers_csv))
    key = ("--account", "sunrise", *ENROLL, "--payer-id", "ACME1", "--transaction", "837P")
    run("enrollment", "set", *key, "--status", "approved")
    claims = _claims_file(tmp_path, claim_data("C1", "ACME1"))
    assert run("validate", str(claims), "--account", "sunrise").exit_code == 0
    deleted = run("enrollment", "delete", *key)
    assert deleted.exit_code == 0 and deleted.stdout.startswith("deleted: sunrise  payer ACME1")
    assert json.loads(run("enrollment", "list", "--json").stdout) == []
    blocked = run("validate", str(claims), "--account", "sunrise")
    assert blocked.exit_code == 2 and "EDI-ENROLLMENT" in blocked.stdout
    [kept] = json.loads(run("enrollment", "list", "--deleted", "--history", "--json").stdout)
    assert kept["deleted_at"] and kept["status"] == "approved"
    assert [(h["status"], h["deleted"]) for h in kept["history"]] == [
        ("approved", False),
        ("approved", True),
    ]
    text = run("enrollment", "list", "--deleted", "--history").stdout
    statuses = [line.split()[8] for line in text.splitlines()[1:]]  # after CHANGED's 2 words
    assert statuses == ["approved", "deleted"]
    listed = run("enrollment", "list", "--deleted").stdout.splitlines()[1]
    assert "approved (deleted)" in listed
    again = run("enrollment", "delete", *key, "--json")
    assert again.exit_code == 2 and "account sunrise has no 837P enrollment record" in again.stderr
    revived = json.loads(run("enrollment", "set", *key, "--status", "submitted", "--json").stdout)
    assert revived["outcome"] == "created" and revived["enrollment"]["deleted_at"] is None
    assert revived["enrollment"]["decided_on"] is None
    [record] = json.loads(run("enrollment", "list", "--history", "--json").stdout)
    assert [h["status"] for h in record["history"]] == ["approved", "approved", "submitted"]


def test_a_record_from_before_the_npi_check_still_lists_and_deletes(
    run: Run, state_dir: Path
) -> None:
    """Older releases stored any check digit: such a record must not make commands fail."""
    run(
        "enrollment",
        "set",
        "--account",
        "sunrise",
        *ENROLL,
        "--payer-id",
        "OPEN1",
        "--transaction",
        "837P",
    )
    with Ledger.open(state_dir) as ledger, ledger.transaction() as db:
        db.execute("UPDATE enrollments SET npi = '1234567890'")
    key = (
        "--account",
        "sunrise",
        "--npi",
        "1234567890",
        "--tax-id",
        TAX_ID,
        "--payer-id",
        "OPEN1",
        "--transaction",
        "837P",
    )
    [old] = json.loads(run("enrollment", "list", "--json").stdout)
    assert old["npi"] == "1234567890"
    assert run("enrollment", "export", "--account", "sunrise").exit_code == 0
    changed = run("enrollment", "set", *key, "--status", "submitted")
    assert changed.exit_code == 2 and "--npi: the NPI's check digit is wrong" in changed.stderr
    deleted = run("enrollment", "delete", *key)
    assert deleted.exit_code == 0 and "NPI 1234567890" in deleted.stdout
    assert json.loads(run("enrollment", "list", "--json").stdout) == []


def test_validate_without_account_says_enrollment_checks_were_skipped(
    run: Run, tmp_path: Path, payers_csv: Path
) -> None:
    run("payers", "import", str(payers_csv))
    claims = _claims_file(tmp_path, claim_data("C1", "ACME1"))
    alone = run("validate", str(claims))
    assert alone.exit_code == 0 and alone.stdout.endswith("ok\n")
    assert (
        "note: payer and enrollment checks were skipped (officeally-enrollment): they need the "
        f"account; run `claimferry validate {claims} --account NAME`"
    ) in alone.stderr
    with_account = run("validate", str(claims), "--account", "sunrise")
    assert with_account.exit_code == 2 and "skipped" not in with_account.stderr
