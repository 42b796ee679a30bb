"""JSON Lines claims files (``.jsonl``): one claim a line, read as a stream.

The first line may hold only ``billing_provider``, the provider of every claim
without one. Problems name the file and the line (docs/claims.md, "JSON Lines").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from claimferry.claims_input import check_claims_file, load_claims
from claimferry.cli import create_cli
from claimferry.documents import parse_claims_yaml
from claimferry.errors import InputError
from claimferry.manager import PluginManager
from support.x12judge import judge

SAMPLE = Path(__file__).resolve().parents[2] / "core" / "claimferry" / "data" / "sample_claims.yaml"


def _sample() -> dict[str, Any]:
    document: dict[str, Any] = parse_claims_yaml(SAMPLE.read_text(), str(SAMPLE))
    return document


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _with_header(tmp_path: Path, name: str = "claims.jsonl") -> Path:
    sample = _sample()
    return _write(
        tmp_path / name, [{"billing_provider": sample["billing_provider"]}, *sample["claims"]]
    )


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_claims(path)
    return [str(p) for p in caught.value.problems]


def test_a_header_line_gives_every_claim_the_same_claims_as_yaml(tmp_path: Path) -> None:
    assert load_claims(_with_header(tmp_path)).claims == load_claims(SAMPLE).claims


def test_each_line_may_carry_its_own_provider(tmp_path: Path) -> None:
    sample = _sample()
    lines = [
        {**claim, "billing_provider": sample["billing_provider"]} for claim in sample["claims"]
    ]
    path = _write(tmp_path / "own.jsonl", lines)
    assert load_claims(path).claims == load_claims(SAMPLE).claims


def test_blank_lines_and_a_byte_order_mark_are_skipped(tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    text = path.read_text().replace("\n", "\n\n", 2)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    claims = load_claims(path).claims
    assert [c.id for c in claims] == ["SUN-1001", "SUN-1002", "SUN-1003", "SUN-1004"]


def test_a_line_that_is_not_json_is_named_with_every_other(tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-1]  # the object left open
    lines[4] = lines[4].replace('"id"', "id", 1)
    path.write_text("\n".join(lines) + "\n")
    problems = _problems(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{path}: line 3, column ")
    assert problems[1].startswith(f"{path}: line 5, column 2: not valid JSON")


def test_a_key_twice_on_a_line_is_refused_there(tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('{"id": "SUN-1001"', '{"id": "SUN-1001", "id": "SUN-9"', 1)
    path.write_text("\n".join(lines) + "\n")
    assert _problems(path) == [f"{path}: line 2: duplicate key 'id'"]


def test_schema_problems_name_the_claim_or_its_line(tmp_path: Path) -> None:
    sample = _sample()
    claims = sample["claims"]
    claims[0]["lines"][0]["charge"] = "abc"
    del claims[1]["id"]
    claims[3]["id"] = claims[2]["id"]
    path = _write(
        tmp_path / "bad.jsonl", [{"billing_provider": sample["billing_provider"]}, *claims]
    )
    problems = _problems(path)
    assert f"{path}: claim SUN-1001: lines[0].charge" in " | ".join(problems)
    assert any(p.startswith(f"{path}: claim line 3: id") for p in problems), problems
    assert any("duplicate claim id (also line 4)" in p for p in problems), problems


def test_a_bad_header_and_a_missing_provider_are_findings(tmp_path: Path) -> None:
    sample = _sample()
    del sample["billing_provider"]["address"]
    path = _write(
        tmp_path / "header.jsonl",
        [{"billing_provider": sample["billing_provider"]}, *sample["claims"]],
    )
    checked = check_claims_file(path)
    assert [f.field for f in checked.findings] == ["billing_provider.address"]
    assert checked.claims == [] and len(checked.partial) == 4
    bare = _write(tmp_path / "bare.jsonl", sample["claims"][:1])
    assert [(f.claim_id, f.field) for f in check_claims_file(bare).findings] == [
        ("SUN-1001", "billing_provider")
    ]


@pytest.mark.parametrize("text", ["", "\n\n", '{"billing_provider": null}\n'])
def test_a_file_without_claims_is_a_finding(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(text)
    checked = check_claims_file(path)
    assert checked.count == 0
    assert any(f.code == "FILE-SHAPE" and "no claims" in f.message for f in checked.findings)


def test_a_line_not_utf8_is_named(tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"Noah", b"No\xe9h")
    path.write_bytes(b"\n".join(lines))
    assert b"\xe9" in lines[2]
    assert _problems(path) == [f"{path}: line 3: not UTF-8 text"]


def test_the_size_limit_applies(tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    with pytest.raises(InputError) as caught:
        load_claims(path, max_bytes=100)
    assert "over the 0.0 MB (100 bytes) limit" in str(caught.value)


@pytest.fixture
def run(plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "accounts.yaml"
    account = {
        "clearinghouse": "officeally",
        "submitter_id": "SUNRISE01",
        "contact": {"name": "Billing Office", "phone": "2175550100"},
        "sftp": {"host": "127.0.0.1", "port": 2222},
        "credentials": {"source": "env"},
    }
    config.write_text(yaml.safe_dump({"accounts": {"sunrise": account}}))
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    cli = create_cli(plugin_manager)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_validate_and_build_a_jsonl_file(run, tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    assert run("validate", str(path)).exit_code == 0
    out = tmp_path / "out.837"
    built = run("build", str(path), "--account", "sunrise", "-o", str(out))
    assert built.exit_code == 0, built.output
    verdict = judge(out)
    assert verdict, verdict


def test_cli_names_the_file_and_line_with_exit_2(run, tmp_path: Path) -> None:
    path = _with_header(tmp_path)
    path.write_text(path.read_text() + "{oops\n")
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert f"{path}: line 6, column 2: not valid JSON" in result.output
    assert "Traceback" not in result.output
