"""``claimferry harness serve --answer-pattern``: the mock answers another clearinghouse's
claim-file names, and says why it ignores an upload."""

from __future__ import annotations

from pathlib import Path

import paramiko
from click.testing import CliRunner

from claimferry_harness.cli import harness_group
from harness.harness_support import TestClaim, build_837, upload
from harness.serve_support import ServeProcess


def test_serve_answers_the_pattern_and_logs_what_it_ignores(tmp_path: Path) -> None:
    password = "serve-pattern-only-4K"
    users = tmp_path / "users.yaml"
    users.write_text(f'users:\n  sunrise: {{password: "{password}"}}\n')
    served = ServeProcess(tmp_path / "root", users, "--answer-pattern", r"\.x12$")
    try:
        transport = served.login("sunrise", password)
        try:
            sftp = paramiko.SFTPClient.from_transport(transport)
            assert sftp is not None
            claims = build_837([TestClaim("PATTERN-1")])
            upload(sftp, claims, "SUNRISE01_837P_1.txt")
            ignored = served.stderr.wait_for("SUNRISE01_837P_1.txt in inbound not answered")
            assert r"the answer pattern '\\.x12$' is not found in its name" in ignored
            upload(sftp, claims, "acme_000000001.x12")
            served.stderr.wait_for("(acme_000000001.x12): 1 claim(s), 1 accepted")
        finally:
            transport.close()
    finally:
        served.stop()


def test_a_bad_answer_pattern_is_refused_before_serving(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        harness_group(), ["serve", "--root", str(tmp_path / "root"), "--answer-pattern", "(x"]
    )
    assert result.exit_code == 2
    assert "--answer-pattern" in result.output
    assert "answer_files: not a regular expression" in result.output
    assert not (tmp_path / "root").exists()
