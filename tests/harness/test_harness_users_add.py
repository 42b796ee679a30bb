"""``claimferry harness users add``: Office Ally's side of opening an SFTP account. A
running ``harness serve`` takes the new login without a restart; issues at once all land."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest

from claimferry_harness.users import issue_user, load_users
from harness.serve_support import ServeProcess


def _add(users: Path, name: str, *flags: str) -> subprocess.CompletedProcess[str]:
    command = ["harness", "users", "add", name, "--users", str(users), *flags]
    return subprocess.run(
        [sys.executable, "-m", "claimferry", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _issue(users: Path, name: str) -> dict[str, str]:
    done = _add(users, name, "--json")
    assert done.returncode == 0, done.stderr
    issued: dict[str, str] = json.loads(done.stdout)
    return issued


def test_a_running_server_lets_a_new_user_log_in(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text('users:\n  sunrise: {password: "s3cret-test-only"}\n')
    users.chmod(0o600)
    server = ServeProcess(tmp_path / "root", users)
    try:
        issued = _issue(users, "northside")
        deadline = time.monotonic() + 10
        while True:
            try:
                server.login(issued["username"], issued["password"]).close()
                break
            except paramiko.AuthenticationException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        server.login("sunrise", "s3cret-test-only").close()  # the others stay
        with pytest.raises(paramiko.AuthenticationException):
            server.login(issued["username"], "wrong-password")
        log = server.stop()
    finally:
        server.close()
    assert "users file: northside can log in" in log
    assert issued["password"] not in log


def test_issues_at_once_all_land(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    names = [f"clinic{n}" for n in range(12)]
    with ThreadPoolExecutor(6) as pool:
        logins = list(pool.map(lambda name: issue_user(users, name), names))
    stored = load_users(users)
    assert set(stored) == set(names)
    for login in logins:
        assert stored[login.username].password_matches(login.password)


def test_a_users_file_in_a_missing_folder_is_bad_input_not_a_crash(tmp_path: Path) -> None:
    users = tmp_path / "no-such-folder" / "users.yaml"
    done = _add(users, "northside")
    assert done.returncode == 2, done.stderr
    assert f"folder {users.parent} does not exist; create it first" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert not users.parent.exists()
