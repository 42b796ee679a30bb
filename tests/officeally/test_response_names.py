"""Office Ally's response file names (FileID of 9 or 10 digits, never cut at
fixed offsets), and ``claimferry show`` on each of its reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry.cli.app import create_cli
from claimferry.manager import PluginManager
from claimferry_officeally.profile import ResponseName, ResponseNaming
from claimferry_officeally.reports import make_readers
from officeally.support import DATA, copy


@pytest.mark.parametrize(
    ("name", "report", "file_id"),
    [
        ("FS_HCFA_443130028_IN_C.txt", "FILE_SUMMARY", "443130028"),
        ("FS_HCFA_1026347812_IN_C.txt", "FILE_SUMMARY", "1026347812"),
        ("FS_HCFA_1026347812_ErrorReport.txt", "FILE_SUMMARY", "1026347812"),
        ("882990025_EDI_STATUS_20211019.txt", "EDI_STATUS", "882990025"),
        ("1026454084_EDI_STATUS_20221213.txt", "EDI_STATUS", "1026454084"),
        ("792253152_ERA_STATUS_5010_20210112.txt", "ERA_STATUS", "792253152"),
        ("1026454085_ERA_STATUS_5010_20221213-101500.TXT", "ERA_STATUS", "1026454085"),
    ],
)
def test_published_names_with_nine_and_ten_digit_file_ids(
    name: str, report: str, file_id: str
) -> None:
    assert ResponseNaming().parse(name) == ResponseName(report, file_id)


@pytest.mark.parametrize(
    "name",
    [
        "12345678_EDI_STATUS_20211019.txt",  # 8 digits is no FileID
        "12345678901_EDI_STATUS_20211019.txt",  # nor is 11
        "x882990025_EDI_STATUS_20211019.txt",
        "882990025_EDI_STATUS_2021.txt",
        "882990025_999_20211019.999",
        "1026454085_ERA_STATUS_5010_20221213.zip",  # zipped ERAs are read by the core
        "SUNRISE01_837P_000000124_20261128T181200.txt",
    ],
)
def test_other_names_are_no_report(name: str) -> None:
    assert ResponseNaming().parse(name) is None


def test_patterns_are_replaceable_and_checked(tmp_path: Path) -> None:
    naming = ResponseNaming({"EDI_STATUS": r"STATUS-(?P<file_id>\d{9,10})\.RPT"})
    assert naming.parse("status-1026454084.rpt") == ResponseName("EDI_STATUS", "1026454084")
    assert naming.parse("882990025_EDI_STATUS_20211019.txt") is None
    status = {r.name: r for r in make_readers(naming)}["officeally-edi-status"]
    assert status.matches("STATUS-882990025.RPT", b"")
    with pytest.raises(ValueError, match="the EDI_STATUS name pattern captures no file_id"):
        ResponseNaming({"EDI_STATUS": r"\d+_EDI_STATUS_.*"})


def test_registered_readers(plugin_manager: PluginManager) -> None:
    names = {r.name for r in plugin_manager.response_readers()}
    assert {"officeally-file-summary", "officeally-edi-status", "officeally-era-text"} <= names


@pytest.mark.parametrize(
    ("name", "kind", "said"),
    [
        ("FS_HCFA_443130028_IN_C.txt", "FILE_SUMMARY", "FAILED, no claims were created"),
        ("882990025_EDI_STATUS_20261129.txt", "EDI_STATUS", "2 accepted by the payer"),
        ("1026454085_ERA_STATUS_5010_20261201.txt", "ERA_STATUS", "the 835 moves the claims"),
    ],
)
def test_show_renders_each_report(
    plugin_manager: PluginManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kind: str,
    said: str,
) -> None:
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    path = copy(name, tmp_path)
    cli = create_cli(plugin_manager)
    shown = CliRunner().invoke(cli, ["show", str(path)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert said in shown.stdout and "TEST," not in shown.stdout
    as_json = CliRunner().invoke(cli, ["show", str(path), "--json"], catch_exceptions=False)
    assert json.loads(as_json.stdout)["kind"] == kind


def test_show_refuses_a_broken_report_with_exit_code_2(
    plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "882990025_EDI_STATUS_20261129.txt"
    path.write_bytes(
        (DATA / path.name).read_bytes().replace(b"ACCEPTED  CLAIM", b"MAYBE     CLAIM")
    )
    result = CliRunner().invoke(create_cli(plugin_manager), ["show", str(path)])
    assert result.exit_code == 2
    assert f"{path}: line 6: Status must be ACCEPTED or REJECTED" in result.output
    assert "Traceback" not in result.output
