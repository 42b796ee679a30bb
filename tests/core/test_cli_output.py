"""How results look: the one table layout, amounts, and progress only on a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimferry.cli import create_cli
from claimferry.cli.output import money, plural, table
from claimferry.manager import PluginManager
from e2e.conftest import e2e as e2e  # the end-to-end world, as tests/e2e uses it
from e2e.support import ACCOUNT, E2E, RESPONSE_MARKERS
from support.claim_files import SAMPLE


def test_table_has_a_header_and_aligned_columns_numbers_right() -> None:
    text = table(
        [["sunrise", "SUN-1001", "680.00"], ["harbor-clinic", "H-7", "5.50"]],
        ["ACCOUNT", "CLAIM", "CHARGE"],
    )
    assert text.splitlines() == [
        "ACCOUNT        CLAIM     CHARGE",
        "sunrise        SUN-1001  680.00",
        "harbor-clinic  H-7         5.50",
    ]


def test_table_keeps_long_cells_and_brackets_on_one_plain_line() -> None:
    """Laid out by rich, but never wrapped, styled or read as markup."""
    note = "uploaded [bold]x[/bold] " + "n" * 300
    text = table([[note, "1"], ["-", "12"]], ["NOTE", "CLAIMS"])
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].startswith(note + "  ")
    assert [line[-2:] for line in lines] == ["MS", " 1", "12"]
    assert "\x1b" not in text and all(line == line.rstrip() for line in lines)


def test_amounts_always_have_two_decimals() -> None:
    assert [money(v) for v in ("680", Decimal("544.5"), 0, None, "12.345")] == [
        "680.00",
        "544.50",
        "0.00",
        "-",
        "12.34",
    ]
    assert (plural(1, "claim"), plural(3, "claim")) == ("1 claim", "3 claims")


def _on_terminal(
    args: list[str], tmp_path: Path, state_dir: Path | None = None
) -> tuple[str, str, int]:
    """Run claimferry with stderr on a pseudo-terminal, stdout on a pipe."""
    env = os.environ | {
        "CLAIMFERRY_STATE_DIR": str(state_dir or tmp_path / "state"),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    for name in ("CLAIMFERRY_CONFIG", "NO_COLOR", "CI"):
        env.pop(name, None)
    leader, follower = os.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "claimferry", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
    ) as process:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            seen += chunk
        stdout = process.stdout.read() if process.stdout else b""
    os.close(leader)
    return stdout.decode(), seen.decode(errors="replace"), process.returncode


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_shows_on_a_terminal_and_leaves_results_alone(tmp_path: Path) -> None:
    stdout, terminal, code = _on_terminal(["validate", str(SAMPLE)], tmp_path)
    assert code == 0, terminal
    assert "validating 4 claims" in terminal
    # results on stdout, no bar in them: the findings, then the summary
    assert stdout.startswith("warning ZIP-PLUS4 ")
    assert stdout.endswith(f"0 errors, 1 warning in {SAMPLE} (4 claims): ok\n")
    assert "validating" not in stdout


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_json_is_quiet_even_on_a_terminal(tmp_path: Path) -> None:
    stdout, terminal, code = _on_terminal(["validate", str(SAMPLE), "--json"], tmp_path)
    assert code == 0
    assert "validating" not in terminal
    assert stdout.lstrip().startswith("{")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_an_upload_and_a_fetch_show_progress_on_a_terminal(e2e: E2E) -> None:
    """The operator sees the upload going on (what, how big, for how long) and the
    fetch counting accounts; the results on stdout are what a pipe gets."""
    config = ["--config", str(e2e.config_path)]
    claims = str(e2e.claims_file())
    stdout, terminal, code = _on_terminal(
        [*config, "submit", claims, "--account", ACCOUNT], e2e.tmp, e2e.state_dir
    )
    assert code == 0, terminal
    assert "sending 4 claims for sunrise" in terminal
    assert "uploading " in terminal and "0:00:0" in terminal  # the step's time spent
    # the findings and their summary, then what was sent
    assert stdout.splitlines()[-1].startswith("uploaded ") and "(batch 1, 4 claims)" in stdout
    e2e.wait_answered(len(RESPONSE_MARKERS))
    stdout, terminal, code = _on_terminal([*config, "fetch", "--all"], e2e.tmp, e2e.state_dir)
    assert code == 0, terminal
    assert "fetching for 1 account" in terminal
    assert stdout.startswith("sunrise: 5 new file(s)")


def test_no_progress_when_stderr_is_not_a_terminal(
    plugin_manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLAIMFERRY_CONFIG", raising=False)
    result = CliRunner().invoke(create_cli(plugin_manager), ["validate", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "validating" not in result.stderr
    assert "\x1b[" not in result.stderr  # no terminal control sequences in a log
