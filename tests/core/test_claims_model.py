"""The claims file: the issue's example loads as written; bad files report every problem."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from dataclasses import fields as fields_of
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError
from pydantic.dataclasses import dataclass

from claimferry.claims import Claim, claim_json, revised
from claimferry.claims_input import load_claims
from claimferry.cli import create_cli
from claimferry.errors import InputError
from claimferry.manager import PluginManager

EXAMPLE = Path(__file__).with_name("issue_example_claims.yaml")


def test_issue_example_loads_exactly_as_written() -> None:
    claims = load_claims(EXAMPLE)
    assert [c.id for c in claims] == ["SUN-1001", "SUN-1002"]
    first, second = claims.claims
    assert first.total_charge == Decimal("680.00")
    assert first.patient is not None and first.patient.relationship == "child"
    assert first.provider().organization == "Sunrise ABA Therapy LLC"
    assert first.lines[0].modifiers == ("HN",)
    assert second.frequency_code == "7"
    assert second.payer_claim_number == "2026310000123"
    assert second.lines[0].service_end_date is not None
    assert second.service_facility is not None and second.service_facility.npi == "1987654328"


def test_json_and_yaml_are_one_schema(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(data, default=str))
    assert load_claims(path).claims == load_claims(EXAMPLE).claims


def _bad_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    del data["billing_provider"]["tax_id"]
    claim = data["claims"][0]
    claim["subscriber"]["gender"] = "X"
    claim["lines"][1]["charge"] = "lots"
    claim["lines"][0]["colour"] = "blue"
    data["claims"][1]["frequency"] = "void"
    del data["claims"][1]["payer_claim_number"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data).replace("1984-02-11", "1984-02-31"))
    return path


def test_every_problem_is_reported_at_once_with_file_claim_and_field(tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    with pytest.raises(InputError) as caught:
        load_claims(path)
    lines = [str(p) for p in caught.value.problems]
    expected = [
        "billing_provider.tax_id",
        "claim SUN-1001: subscriber.gender",
        "claim SUN-1001: subscriber.birth_date",
        "claim SUN-1001: lines[1].charge",
        "claim SUN-1001: lines[0].colour",
        "claim SUN-1002: (claim)",
    ]
    for where in expected:
        assert any(f"{path}: {where}" in line for line in lines), (where, lines)
    assert all(line.startswith(str(path)) for line in lines)
    assert f"{path}: claim SUN-1001: lines[0].colour: unknown field" in lines


def test_list_lengths_and_a_list_whose_items_are_bad(tmp_path: Path) -> None:
    """A claim whose one line is bad is told about that line, not also "no lines"."""
    data = yaml.safe_load(EXAMPLE.read_text())
    first, second = data["claims"]
    first["lines"] = [{**first["lines"][0], "units": "many"}]
    second["diagnoses"] = [f"F84.{n}" for n in range(13)]
    second["lines"][0]["modifiers"] = ["HM", "95", "GT", "59", "XE"]
    data["claims"].append({**first, "id": "SUN-1003", "lines": []})
    data["claims"].append({**first, "id": "SUN-1004", "diagnoses": "F84.0"})
    path = tmp_path / "lengths.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as caught:
        load_claims(path)
    assert [f"{p.location}: {p.message}" for p in caught.value.problems] == [
        "claim SUN-1001: lines[0].units: Input should be a valid decimal",
        "claim SUN-1002: diagnoses: at most 12 allowed, not 13",
        "claim SUN-1002: lines[0].modifiers: at most 4 allowed, not 5",
        "claim SUN-1003: lines: at least 1 required",
        "claim SUN-1004: diagnoses: Input should be a valid list",
        "claim SUN-1004: lines[0].units: Input should be a valid decimal",
    ]


def test_claims_are_immutable_and_hashable() -> None:
    claim = load_claims(EXAMPLE).claims[0]
    assert isinstance(claim.lines, tuple) and isinstance(claim.lines[0].modifiers, tuple)
    with pytest.raises(FrozenInstanceError):
        claim.place_of_service = "02"  # type: ignore[misc]
    assert hash(claim) == hash(replace(claim))
    assert replace(claim, place_of_service="02") != claim


def test_problems_never_echo_values(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["claims"][0]["subscriber"]["birth_date"] = "Ava-Smith-secret"
    path = tmp_path / "phi.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as caught:
        load_claims(path)
    assert "Ava-Smith-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "expected a mapping"),
        ("claims: [\n", "not valid YAML"),
        ("claims: []\n", "claims"),
        ("- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_malformed_documents(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_claims(path)
    assert where in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_claims(tmp_path / "nope.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        load_claims(binary)


def test_duplicate_claim_ids_and_per_claim_billing_provider(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["claims"].append(dict(data["claims"][0]))
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        InputError, match=r"claim SUN-1001: id: duplicate claim id \(also claims\[0\]\)"
    ):
        load_claims(path)

    provider = data.pop("billing_provider")
    data["claims"] = data["claims"][:2]
    data["claims"][0]["billing_provider"] = provider
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=r"claim SUN-1002: billing_provider: required here"):
        load_claims(path)
    data["claims"][1]["billing_provider"] = {**provider, "organization": "Other Clinic"}
    path.write_text(yaml.safe_dump(data))
    loaded = load_claims(path)
    assert [c.provider().display_name for c in loaded] == [
        "Sunrise ABA Therapy LLC",
        "Other Clinic",
    ]


def test_person_billing_provider_needs_both_names(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["billing_provider"] = {**data["billing_provider"], "first_name": "Ann"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="not both"):
        load_claims(path)
    del data["billing_provider"]["organization"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="both 'first_name' and 'last_name'"):
        load_claims(path)


def test_reprs_hold_no_phi() -> None:
    claim = load_claims(EXAMPLE).claims[0]
    text = repr(claim) + str(claim)
    for value in ("Ava", "Smith", "Liam", "XOF123456789", "1984", "2019", "22 Oak Ave", "62704"):
        assert value not in text, value
    assert "SUN-1001" in text


def test_content_json_includes_what_a_subclass_adds() -> None:
    """Two claims that differ only in a subclass's field must not hash alike."""

    @dataclass(frozen=True, slots=True, kw_only=True)
    class VendorClaim(Claim):
        vendor_code: str = "none"

    claim = load_claims(EXAMPLE).claims[0]
    fields = {f.name: getattr(claim, f.name) for f in fields_of(claim)}
    plain = VendorClaim(**fields)
    coded = VendorClaim(**fields, vendor_code="x7")
    assert claim_json(plain) != claim_json(coded)
    assert json.loads(claim_json(coded))["vendor_code"] == "x7"
    assert json.loads(claim_json(claim)) == {
        k: v for k, v in json.loads(claim_json(plain)).items() if k != "vendor_code"
    }


def test_a_revised_claim_is_checked_like_a_loaded_one() -> None:
    claim = load_claims(EXAMPLE).claims[1]
    assert revised(claim, "claims", payer_claim_number=" 2026-9 ").payer_claim_number == "2026-9"
    with pytest.raises(InputError) as caught:
        revised(claim, "claims", payer_claim_number="   ", frequency="sometimes")
    assert [str(p) for p in caught.value.problems] == [
        "claims: claim SUN-1002: frequency: Input should be 'original', 'replacement' or 'void'",
        "claims: claim SUN-1002: payer_claim_number: String should have at least 1 character",
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": "A" * 21}, "claims: claim SUN-1002: id: at most 20 characters, not 21"),
        ({"id": "SUN\t1002"}, "claims: claim SUN-1002: id: printable ASCII only"),
        ({"id": "SUN~1002"}, "claims: claim SUN-1002: id: printable ASCII only"),
    ],
)
def test_claims_built_in_code_hold_the_claim_id_rule(
    changes: dict[str, str], expected: str
) -> None:
    """The rule is the model's, not only the file loader's: no path builds such a claim."""
    claim = load_claims(EXAMPLE).claims[1]
    assert revised(claim, "claims", id=f"  {'B' * 20}  ").id == "B" * 20  # trimmed first
    with pytest.raises(InputError) as caught:
        revised(claim, "claims", **changes)
    assert str(caught.value).startswith(expected)


def test_amounts_are_held_to_their_element_in_code_too() -> None:
    claim = load_claims(EXAMPLE).claims[0]
    with pytest.raises(ValidationError, match="18 digits"):
        replace(claim.lines[0], charge=Decimal("1E+18"))
    big = replace(claim.lines[0], charge=Decimal("9999999999999999.99"))  # fits SV102
    with pytest.raises(InputError) as caught:
        revised(claim, "claims", lines=(big, big))  # 19999999999999999.98: not CLM02
    assert str(caught.value) == (
        "claims: claim SUN-1001: (claim): the lines' charges add up to a total of 19 "
        "digits; CLM02 holds at most 18"
    )


# REF02 (REF*G1, REF*F8) and SBR03 hold at most 50 characters in the 837P TR3.
REFERENCES = [
    ("SUN-1001", ("prior_authorization",)),
    ("SUN-1002", ("payer_claim_number",)),
    ("SUN-1001", ("subscriber", "group_number")),
]


def _with_reference(tmp_path: Path, claim_id: str, path: tuple[str, ...], value: str) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    target = next(c for c in data["claims"] if c["id"] == claim_id)
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    out = tmp_path / "claims.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


@pytest.mark.parametrize(("claim_id", "path"), REFERENCES)
def test_reference_numbers_hold_at_most_50_characters(
    tmp_path: Path, claim_id: str, path: tuple[str, ...]
) -> None:
    at_limit = "R" * 49 + "9"
    loaded = load_claims(_with_reference(tmp_path, claim_id, path, at_limit))
    claim = next(c for c in loaded if c.id == claim_id)
    value: object = claim
    for key in path:
        value = getattr(value, key)
    assert value == at_limit
    too_long = _with_reference(tmp_path, claim_id, path, "R" * 50 + "9")
    with pytest.raises(InputError) as caught:
        load_claims(too_long)
    [problem] = caught.value.problems
    assert str(problem) == (
        f"{too_long}: claim {claim_id}: {'.'.join(path)}: String should have at most 50 characters"
    )
    assert "R" * 50 not in str(caught.value)


def test_validate_refuses_a_51_character_prior_authorization_with_exit_2(
    plugin_manager: PluginManager, tmp_path: Path
) -> None:
    path = _with_reference(tmp_path, "SUN-1001", ("prior_authorization",), "A" * 51)
    result = CliRunner().invoke(create_cli(plugin_manager), ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}: claim SUN-1001: prior_authorization: " in result.stdout
    assert "Traceback" not in result.output and "A" * 51 not in result.output


@pytest.mark.parametrize(
    ("where", "value", "limit"),
    [
        ("billing_provider.taxonomy", "T" * 51, 50),  # PRV03
        ("billing_provider.tax_id", "1" * 51, 50),  # REF*EI REF02
        ("billing_provider.npi", "1" * 81, 80),  # NM109
        ("claim SUN-1001: rendering_provider.taxonomy", "T" * 51, 50),
        ("claim SUN-1002: service_facility.npi", "1" * 81, 80),
        ("claim SUN-1001: subscriber.member_id", "M" * 81, 80),
        ("claim SUN-1001: payer.id", "P" * 81, 80),
    ],
)
def test_identifiers_are_held_to_their_837p_maximums(
    tmp_path: Path, where: str, value: str, limit: int
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["claims"][0]["rendering_provider"] = {
        "first_name": "Ann", "last_name": "Lee", "npi": "1245319599", "taxonomy": "103K00000X"
    }  # fmt: skip
    claim_id, _, field = where.rpartition(": ")
    target = next((c for c in data["claims"] if f"claim {c['id']}" == claim_id), data)
    *parents, key = field.split(".")
    for parent in parents:
        target = target[parent]
    target[key] = value
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as caught:
        load_claims(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}: {where}: String should have at most {limit} characters"
    ]


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("lines[0].procedure", "9" * 49, 48),
        ("lines[0].modifiers[0]", "HNX", 2),
        ("diagnoses[0]", "F" * 31, 30),
        ("place_of_service", "123", 2),
        ("subscriber.filing_code", "CIX", 2),
        ("subscriber.address.state", "ILL", 2),
        ("subscriber.address.zip", "6" * 16, 15),
    ],
)
def test_codes_are_held_to_their_837p_element_maximums(
    tmp_path: Path, field: str, value: str, limit: int
) -> None:
    """Their shapes are the content checks' business; overflowing the element is the schema's."""
    data = yaml.safe_load(EXAMPLE.read_text())
    claim = data["claims"][0]
    where: Any = claim
    *parents, last = field.replace("[", ".").replace("]", "").split(".")
    for part in parents:
        where = where[int(part)] if part.isdigit() else where[part]
    where[int(last) if last.isdigit() else last] = value
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as caught:
        load_claims(path)
    assert [f"{p.location}: {p.message}" for p in caught.value.problems] == [
        f"claim SUN-1001: {field}: String should have at most {limit} characters"
    ]
