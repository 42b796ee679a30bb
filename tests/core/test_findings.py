"""One pass finds everything, and findings stay readable at scale (issue 12, points 1 and 2).

Real claims files through the real CLI and the built-in validators: schema
errors, duplicate ids and content checks in one run; a claim that fails its
schema still checked on what parsed; thousands of repeated warnings grouped.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimferry.claims import check_claims_data, is_partial
from claimferry.claims_input import check_claims_file
from claimferry.cli.findings import FindingsReport
from claimferry.manager import PluginManager
from claimferry.submission import validate_claims
from claimferry.types import ValidationContext
from claimferry.validation import Unparsed, UnparsedError
from enrollment.support import run, state_dir  # the CLI with a test account, state in tmp_path

__all__ = ["run", "state_dir"]  # fixtures used by name

EXAMPLE = Path(__file__).with_name("issue_example_claims.yaml")
BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "build_837.py"


def _example() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def _flawed(tmp_path: Path) -> Path:
    """Schema errors, a duplicate id and content errors, across three claims.

    SUN-1001 fails its schema (a birth date that is no date, units that are no
    number) and also has content errors in the parts that parsed (a future
    service date, a pointer past its diagnoses). SUN-1002 is schema-clean with
    a bad NPI. The third claim repeats SUN-1001's id.
    """
    data = _example()
    first, second = data["claims"]
    first["subscriber"]["birth_date"] = "1984-02-30"
    first["lines"][0]["units"] = "sixteen"
    first["lines"][1]["service_date"] = "2099-01-01"
    first["lines"][1]["diagnosis_pointers"] = [3]
    second["referring_provider"]["npi"] = "1003000127"  # check digit wrong
    twin = copy.deepcopy(second)
    twin["id"] = "SUN-1001"
    data["claims"].append(twin)
    path = tmp_path / "flawed.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _codes(findings: list[dict[str, Any]]) -> set[tuple[str, str | None, str | None]]:
    return {(f["code"], f["claim"], f["field"]) for f in findings}


def test_schema_duplicate_and_content_errors_are_reported_in_one_run(run, tmp_path: Path) -> None:
    path = _flawed(tmp_path)
    result = run("validate", str(path), "--all-findings")
    assert result.exit_code == 2
    out = result.stdout
    for code, where in [
        ("DATE-FORMAT", "claim SUN-1001: subscriber.birth_date: "),
        ("SCHEMA-DECIMAL-PARSING", "claim SUN-1001: lines[0].units: "),
        ("SERVICE-DATE-FUTURE", "claim SUN-1001: lines[1].service_date: "),
        ("DIAGNOSIS-POINTER-RANGE", "claim SUN-1001: lines[1].diagnosis_pointers[0]: "),
        ("NPI-CHECK-DIGIT", "claim SUN-1002: referring_provider.npi: "),
        ("CLAIM-ID-DUPLICATE", "claim SUN-1001: id: "),
    ]:
        assert f"error {code} {path}: {where}" in out, (code, out)
    assert "use YYYY-MM-DD" in out  # the fix, with the finding
    # the twin of SUN-1002 has its errors and warnings too; the summary comes last
    assert out.splitlines()[-1] == f"7 errors, 2 warnings in {path} (3 claims)"
    assert "7 errors: nothing was written or sent" in result.stderr
    assert "Traceback" not in result.output

    report = json.loads(run("validate", str(path), "--json").stdout)
    assert report["ok"] is False and report["error"]["code"] == "invalid-claims"
    assert report["error"]["file"] == str(path)
    assert report["summary"] == {"file": str(path), "claims": 3, "errors": 7, "warnings": 2}
    assert {
        ("DATE-FORMAT", "SUN-1001", "subscriber.birth_date"),
        ("SCHEMA-DECIMAL-PARSING", "SUN-1001", "lines[0].units"),
        ("SERVICE-DATE-FUTURE", "SUN-1001", "lines[1].service_date"),
        ("DIAGNOSIS-POINTER-RANGE", "SUN-1001", "lines[1].diagnosis_pointers[0]"),
        ("NPI-CHECK-DIGIT", "SUN-1002", "referring_provider.npi"),
        ("CLAIM-ID-DUPLICATE", "SUN-1001", "id"),
    } <= _codes(report["findings"])
    for finding in report["findings"]:
        assert finding["file"] == str(path)
        assert set(finding) >= {"severity", "code", "claim", "field", "message", "fix", "payer"}
    future = next(f for f in report["findings"] if f["code"] == "SERVICE-DATE-FUTURE")
    assert future["fix"] and future["validator"] == "content-checks"
    dates = [f for f in report["findings"] if f["code"] == "DATE-FORMAT"]
    assert dates[0]["payer"] == "00621" and dates[0]["validator"] == "schema"
    assert dates[0]["fix"] == "use YYYY-MM-DD"  # the message's own advice, for machines too
    for code in ("SCHEMA-DECIMAL-PARSING", "NPI-CHECK-DIGIT", "CLAIM-ID-DUPLICATE"):
        assert next(f for f in report["findings"] if f["code"] == code)["fix"], code
    assert "1984" not in result.output.replace(str(path), "")  # values are PHI: never shown


def test_build_and_submit_report_the_same_findings_and_write_nothing(run, tmp_path: Path) -> None:
    path = _flawed(tmp_path)
    out = tmp_path / "never.837"
    built = run("build", str(path), "--account", "sunrise", "-o", str(out), "--json")
    assert built.exit_code == 2 and not out.exists()
    report = json.loads(built.stdout)
    assert report["ok"] is False and report["summary"]["errors"] == 7
    sent = run("submit", str(path), "--account", "sunrise")
    assert sent.exit_code == 2
    assert f"error CLAIM-ID-DUPLICATE {path}: claim SUN-1001: id: " in sent.stdout
    assert "nothing was written or sent" in sent.stderr
    assert not (tmp_path / "state" / "ledger.sqlite3").exists()


def test_a_claim_that_fails_its_schema_is_checked_on_what_parsed(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    data = _example()
    claim = data["claims"][1]
    claim["lines"][0]["charge"] = "a lot"  # schema error in the line
    claim["service_facility"]["address"]["state"] = "ZZ"  # content error elsewhere
    claim["service_facility"]["npi"] = "1"  # too short for the schema: its checks skip it
    claim["referring_provider"]["npi"] = "1003000127"  # content error: check digit
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    checked = check_claims_file(path)
    assert [c.id for c in checked.claims] == ["SUN-1001"]
    [partial] = checked.partial
    assert is_partial(partial) and partial.id == "SUN-1002"
    assert isinstance(partial.lines[0].charge, Unparsed)
    assert partial.lines[0].units == 20 and partial.referring_provider.npi == "1003000127"
    with pytest.raises(UnparsedError):
        _ = partial.lines[0].charge > 0
    assert {(f.code, f.field) for f in checked.findings} == {
        ("SCHEMA-DECIMAL-PARSING", "lines[0].charge"),
        ("TOO-SHORT", "service_facility.npi"),
    }

    context = ValidationContext(account=None, today=date(2026, 12, 1))
    found = validate_claims(plugin_manager, checked.claims, context, partial=checked.partial)
    codes = {(f.claim_id, f.code, f.field) for f in found if f.severity == "error"}
    assert codes == {
        ("SUN-1002", "STATE-CODE", "service_facility.address.state"),
        ("SUN-1002", "NPI-CHECK-DIGIT", "referring_provider.npi"),
    }


def test_a_file_level_provider_that_fails_is_still_checked_and_claims_are_too(
    run, tmp_path: Path
) -> None:
    data = _example()
    data["billing_provider"]["address"]["zip"] = 627011234  # a number: a schema error
    data["billing_provider"]["npi"] = "1234567890"  # parses; the content check refuses it
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    report = json.loads(run("validate", str(path), "--json").stdout)
    codes = _codes(report["findings"])
    assert ("ZIP-NUMBER", None, "billing_provider.address.zip") in codes
    assert ("NPI-CHECK-DIGIT", "SUN-1001", "billing_provider.npi") in codes
    assert ("NPI-CHECK-DIGIT", "SUN-1002", "billing_provider.npi") in codes


def _benchmark_generator() -> Any:
    spec = importlib.util.spec_from_file_location("build_837", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def _many_with_two_warnings(tmp_path: Path, count: int) -> Path:
    """The benchmark's claims, every one with the same two warnings."""
    document = _benchmark_generator().generate(count)
    for claim in document["claims"]:
        claim["frequency"] = "original"
        claim["payer_claim_number"] = "2026310000123"  # PAYER-CLAIM-NUMBER-UNUSED
        claim["service_facility"] = {  # ZIP-PLUS4: the facility's ZIP has 5 digits
            "name": "Sunrise Peoria Center",
            "address": {"line1": "9 Lake Rd", "city": "Peoria", "state": "IL", "zip": "61602"},
        }
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document))
    return path


def test_five_thousand_claims_with_the_same_two_warnings_print_under_20_lines(
    run, tmp_path: Path
) -> None:
    path = _many_with_two_warnings(tmp_path, 5000)
    result = run("validate", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) < 20, result.output
    assert lines[-1] == f"0 errors, 10000 warnings in {path} (5000 claims): ok"
    grouped = [line for line in lines if line.startswith("warning ")]
    # one line per warning and payer (the generator uses six payers), naming a few claims
    assert {line.split()[1] for line in grouped} == {"PAYER-CLAIM-NUMBER-UNUSED", "ZIP-PLUS4"}
    assert len(grouped) == 12
    assert all("(BEN-" in line and ", ...)" in line for line in grouped)
    counted = sum(int(line.split(": ")[1].split()[0]) for line in grouped)
    assert counted == 10_000

    each = run("validate", str(path), "--all-findings")
    assert each.exit_code == 0
    assert sum(line.startswith("warning ") for line in each.stdout.splitlines()) == 10_000


def test_verbose_shows_each_and_max_findings_caps_without_changing_the_exit_code(
    run, tmp_path: Path
) -> None:
    path = _many_with_two_warnings(tmp_path, 40)
    verbose = run("-v", "validate", str(path))
    assert sum(line.startswith("warning ") for line in verbose.stdout.splitlines()) == 80

    capped = run("validate", str(path), "--all-findings", "--max-findings", "5")
    assert capped.exit_code == 0
    lines = capped.stdout.splitlines()
    assert sum(line.startswith("warning ") for line in lines) == 5
    assert "... 75 more lines not shown: raise --max-findings" in capped.stdout
    assert lines[-1].startswith("0 errors, 80 warnings in ")

    strict = run("validate", str(path), "--strict", "--max-findings", "1")
    assert strict.exit_code == 2
    assert "0 errors, 80 warnings (--strict): nothing was written or sent" in strict.stderr
    assert (
        len(
            json.loads(run("validate", str(path), "--json", "--max-findings", "1").stdout)[
                "findings"
            ]
        )
        == 80
    )  # JSON always lists every finding


def test_json_of_a_passing_file_carries_findings_and_summary(run, tmp_path: Path) -> None:
    path = _many_with_two_warnings(tmp_path, 3)
    report = json.loads(run("validate", str(path), "--json").stdout)
    assert report["ok"] is True
    assert report["summary"] == {"file": str(path), "claims": 3, "errors": 0, "warnings": 6}
    out = tmp_path / "out.837"
    built = run("build", str(path), "--account", "sunrise", "-o", str(out), "--json")
    assert built.exit_code == 0 and out.exists()
    document = json.loads(built.stdout)
    # with the account, the enrollment validator adds its one warning: no payer list yet
    assert document["file"] == str(out) and document["summary"]["warnings"] == 7
    assert {f["code"] for f in document["findings"]} == {
        "PAYER-CLAIM-NUMBER-UNUSED",
        "ZIP-PLUS4",
        "PAYER-LIST-MISSING",
    }
    dry = run("submit", str(path), "--account", "sunrise", "--dry-run", "--json")
    assert dry.exit_code == 0
    assert json.loads(dry.stdout)["summary"]["warnings"] == 7


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        found += [(*prefix, key), *_paths(value, (*prefix, key))]
    return found


def test_no_broken_file_stops_the_checks_or_loses_a_schema_error(
    plugin_manager: PluginManager,
) -> None:
    """Any value anywhere replaced by junk, or removed: loading and every check
    still run to the end, and a claim is only ever checked partly when the
    schema has reported why."""
    rng = random.Random(837)
    base = _example()
    places = _paths(base)
    junk = [None, 5, 1.5, "x", "", [], {}, [1, "a"], {"a": 1}, "2026-13-01", -3, True, "9" * 90]
    context = ValidationContext(account=None, today=date(2026, 12, 7))
    for _ in range(400):
        data = copy.deepcopy(base)
        for place in rng.sample(places, rng.randint(1, 4)):
            node = data
            try:
                for part in place[:-1]:
                    node = node[part]
                if isinstance(node, dict) and rng.random() < 0.2:
                    del node[place[-1]]
                else:
                    node[place[-1]] = rng.choice(junk)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed this place
        checked = check_claims_data(data, "claims.yaml")
        found = checked.findings + validate_claims(
            plugin_manager, checked.claims, context, partial=checked.partial
        )
        for claim in checked.partial:  # its own error, or the file's billing provider's
            assert any(f.claim_id in (claim.id, None) for f in checked.findings)
        report = FindingsReport("claims.yaml", checked.count, found, checked.payers)
        assert all(isinstance(f.claim_id, str | None) for f in found)
        assert len(report.lines(each=True)) == len(found)
        json.dumps(report.as_json())


def test_no_skipped_checks_note_for_a_file_that_is_not_yaml(run, tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text('claims:\n  - id: "SUN-1\n')
    result = run("validate", str(path))
    assert result.exit_code == 2 and "YAML" in result.stderr
    assert "were skipped" not in result.stderr
