"""A real ``claimferry`` process at DEBUG level leaks no password and no PHI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from e2e.support import ACCOUNT, E2E, WAIT, mentions, sample_phi

CONSOLE_SCRIPT = Path(sys.executable).with_name("claimferry")


def _claimferry(e2e: E2E, *args: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    """A child process with the test's environment: the console script, or ``python -m``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CLAIMFERRY_BLOCK_PLUGINS", "CLAIMFERRY_LOAD_PLUGINS")
    }
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "claimferry"]
    return subprocess.run(
        [*command, "--config", str(e2e.config_path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=3 * WAIT,
        check=False,
    )


def test_debug_run_of_submit_and_fetch_leaks_no_secret_and_no_phi(e2e: E2E) -> None:
    assert CONSOLE_SCRIPT.is_file()
    password = e2e.users[ACCOUNT].password
    claims = e2e.claims_file()
    runs = [_claimferry(e2e, "-vvv", "submit", str(claims), "--account", ACCOUNT, script=True)]
    assert runs[0].returncode == 0, runs[0].stderr
    e2e.wait_answered(4)
    runs.append(_claimferry(e2e, "-vvv", "fetch", "--account", ACCOUNT))
    assert runs[1].returncode == 0, runs[1].stderr
    runs.append(_claimferry(e2e, "-vvv", "credentials", "test", ACCOUNT))
    remit = next((e2e.state_dir / "archive" / ACCOUNT / "received").glob("*_ERA_835_*"))
    runs.append(_claimferry(e2e, "-vvv", "show", str(remit)))  # PHI is masked by default
    for done in runs:
        assert done.returncode == 0, (done.args, done.stderr)
        assert "Traceback" not in done.stderr

    output = "\n".join(done.stdout + done.stderr for done in runs)
    output += e2e.ok("-vvv", "status").output + e2e.ok("-vvv", "audit").output
    # DEBUG logging was really on, from claimferry and paramiko
    assert " DEBUG claimferry" in output and " DEBUG paramiko" in output
    assert "uploaded " in output and "5 new file(s)" in output and "login ok" in output
    assert password not in output
    assert mentions(output, sample_phi()) == []
    # the ledger really holds that run's results
    assert {c["state"] for c in e2e.status()["claims"]} == {"paid"}
