"""Claims YAML is read as YAML 1.2 (ryaml), with PyYAML's messages on errors.

The classic YAML 1.1 traps, each through the claim model: what the parser makes
of the value, then what the model says about it (docs/claims.md, "YAML").
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claimferry import documents
from claimferry.claims_input import load_claims
from claimferry.documents import parse_claims_yaml, parse_yaml
from claimferry.errors import InputError

CLAIM = """\
billing_provider:
  organization: Sunrise ABA Therapy LLC
  npi: "1234567893"
  tax_id: "123456789"
  address: {{line1: 100 Main St, city: Springfield, state: IL, zip: "627011234"}}
claims:
  - id: SUN-1001
    payer: {{name: AETNA, id: "60054"}}
    subscriber:
      member_id: M0001
      first_name: Ava
      last_name: Smith
      birth_date: {birth_date}
      gender: F
      group_number: {group_number}
      filing_code: CI
      address: {{line1: 22 Oak Ave, city: Springfield, state: {state}, zip: {zip}}}
    place_of_service: "11"
    diagnoses: [F84.0]
    lines:
      - {{service_date: 2026-11-02, procedure: "97153", units: {units}, charge: 480.00,
          diagnosis_pointers: [1]}}
"""
PLAIN = {
    "birth_date": "1984-02-11",
    "group_number": "G100",
    "state": "IL",
    "zip": '"62704"',
    "units": "16",
}


def _load(tmp_path: Path, **values: str) -> object:
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIM.format(**{**PLAIN, **values}), encoding="utf-8")
    return load_claims(path)


def _refused(tmp_path: Path, **values: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, **values)
    return [str(problem) for problem in caught.value.problems]


def test_the_fast_parser_is_the_one_in_use() -> None:
    assert documents._fast_loads is not None  # ryaml has a wheel for every CI platform


def test_no_yes_on_off_stay_text() -> None:
    # YAML 1.1 made these booleans: Norway's code, NO, became False
    assert parse_claims_yaml("a: NO\nb: yes\nc: off\nd: Y\n", "f") == dict(
        a="NO", b="yes", c="off", d="Y"
    )
    assert parse_yaml("a: NO\n", "f") == {"a": False}  # the config keeps YAML 1.1


def test_a_state_written_no_is_the_text_no(tmp_path: Path) -> None:
    claims = _load(tmp_path, state="NO").claims  # type: ignore[attr-defined]
    assert claims[0].subscriber.address.state == "NO"  # the content checks judge it


def test_a_leading_zero_keeps_its_digits() -> None:
    # YAML 1.1 read 0123 as the octal 83; 1.2 as written, text
    assert parse_claims_yaml("zip: 02134\ncode: 0123\n", "f") == {"zip": "02134", "code": "0123"}


def test_an_unquoted_zip_with_a_leading_zero_loads_as_written(tmp_path: Path) -> None:
    claims = _load(tmp_path, zip="02134").claims  # type: ignore[attr-defined]
    assert claims[0].subscriber.address.zip == "02134"


def test_an_unquoted_zip_without_one_is_a_number_and_refused(tmp_path: Path) -> None:
    problems = _refused(tmp_path, zip="62704")
    assert any(
        "subscriber.address.zip: read as a number, which may drop leading zeros" in p
        for p in problems
    ), problems


def test_dates_stay_text_so_the_model_judges_them(tmp_path: Path) -> None:
    assert parse_claims_yaml("d: 2026-11-02\n", "f") == {"d": "2026-11-02"}
    claims = _load(tmp_path).claims  # type: ignore[attr-defined]
    assert str(claims[0].subscriber.birth_date) == "1984-02-11"
    problems = _refused(tmp_path, birth_date="1984-02-31")
    assert any("subscriber.birth_date: not a date" in p for p in problems), problems
    assert not any("1984" in p.replace(str(tmp_path), "") for p in problems)  # PHI


def test_1e3_is_a_number(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) wanted a dot (1.0e3) and read 1e3 as text
    assert parse_claims_yaml("a: 1e3\n", "f") == {"a": 1000.0}
    claims = _load(tmp_path, units="1e1").claims  # type: ignore[attr-defined]
    assert claims[0].lines[0].units == Decimal(10)
    # the trap that stays: an unquoted identifier that looks like a number is one
    claims = _load(tmp_path, group_number="1e3").claims  # type: ignore[attr-defined]
    assert claims[0].subscriber.group_number == "1000.0"


def test_a_tilde_is_null(tmp_path: Path) -> None:
    assert parse_claims_yaml("a: ~\nb: null\nc:\n", "f") == {"a": None, "b": None, "c": None}
    claims = _load(tmp_path, group_number="~").claims  # type: ignore[attr-defined]
    assert claims[0].subscriber.group_number is None  # optional: left out
    problems = _refused(tmp_path, state="~")
    assert any("subscriber.address.state" in p for p in problems), problems


def test_a_duplicate_key_is_refused_with_both_lines() -> None:
    for text in ("a: 1\nb: 2\na: 3\n", "x:\n  a: 1\n  a: 2\n"):
        with pytest.raises(InputError) as caught:
            parse_claims_yaml(text, "f.yaml")
        (problem,) = caught.value.problems
        assert problem.location == "line 3"
        assert "duplicate key 'a' (first on line" in problem.message


def test_merge_keys_still_work_and_may_be_overridden() -> None:
    text = "d: &d {a: 1, b: 2}\ne: {<<: *d, b: 3}\nf: {<<: [{a: 1}, {a: 2, c: 3}], z: 1}\n"
    assert parse_claims_yaml(text, "f") == parse_yaml(text, "f")
    assert parse_claims_yaml(text, "f")["e"] == {"a": 1, "b": 3}


def test_syntax_errors_keep_pyyaml_line_and_column() -> None:
    with pytest.raises(InputError) as caught:
        parse_claims_yaml("a: 'abc\nb: 2\n", "f.yaml")
    (problem,) = caught.value.problems
    assert problem.location == "line 1, column 4"
    assert "end of stream" in problem.message and "abc" not in problem.message


def test_an_unknown_tag_is_refused_where_it_stands() -> None:
    with pytest.raises(InputError) as caught:
        parse_claims_yaml("a: 'not !a tag'\nb: !foo bar\n", "f.yaml")
    (problem,) = caught.value.problems
    assert problem.location == "line 2, column 4"
    assert "tag '!foo' is not used in claims files" in problem.message
    assert parse_claims_yaml("a: !!str 0123\nb: 'hi !x'\n", "f") == {"a": "0123", "b": "hi !x"}


def test_what_only_ryaml_refuses_is_refused_without_the_value() -> None:
    with pytest.raises(InputError) as caught:
        parse_claims_yaml("a: 123456789012345678901234567890\n", "f.yaml")
    (problem,) = caught.value.problems
    assert problem.location == "line 1, column 4"
    assert "12345" not in problem.message


def test_an_alias_bomb_is_refused() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    with pytest.raises(InputError) as caught:
        parse_claims_yaml("\n".join(lines) + "\n", "f.yaml")
    assert "aliases expand to too much data" in caught.value.problems[0].message


def test_without_ryaml_pyyaml_reads_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_fast_loads", None)
    assert parse_claims_yaml("a: NO\n", "f") == {"a": False}
