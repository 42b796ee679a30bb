"""The ``harness serve`` command: in a click group of our own, and as ``python -m``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import paramiko
import pytest
from click.testing import CliRunner

from claimferry.errors import InputError
from claimferry_harness import load_users
from claimferry_harness.cli import harness_group
from claimferry_harness.plugin import claimferry_cli_commands
from harness.harness_support import TestClaim, build_837, new_ed25519, upload
from harness.serve_support import ServeProcess

GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICaFYrx9p+afJ3GNXZWg8p6syl9iescXLA6wARsAqxUe"


def _cli() -> click.Group:
    @click.group()
    def main() -> None:
        """Stand-in for the claimferry CLI."""

    for registration in claimferry_cli_commands():
        main.add_command(registration.command, registration.name)
    return main


def test_the_plugin_registers_the_harness_group() -> None:
    registrations = {r.name: r for r in claimferry_cli_commands()}
    registration = registrations["harness"]  # the plugin registers ``demo`` too
    assert isinstance(registration.command, click.Group)
    assert "serve" in registration.command.commands
    assert harness_group() is not harness_group()  # built fresh, nothing at import time


def test_users_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        f'users:\n  sunrise: {{password: "s3cret-test-only"}}\n'
        f'  harbor: {{public_keys: ["{GOOD_KEY}"]}}\n'
        f'  both: {{password: "x", public_keys: ["{GOOD_KEY} comment"]}}\n'
    )
    users = load_users(path)
    assert set(users) == {"sunrise", "harbor", "both"}
    assert users["sunrise"].password_matches("s3cret-test-only")
    assert not users["sunrise"].password_matches("s3cret-test-onlY")
    assert users["harbor"].password is None and users["harbor"].public_keys == (GOOD_KEY,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users: [a, b]\n", "users.yaml: users: expected a mapping"),
        ("users:\n  sunrise: {password: 7}\n", "users.yaml: users.sunrise.password: expected"),
        ('users:\n  h: {public_keys: ["ssh-ed25519 nope"]}\n', "users.h.public_keys[0]: not a"),
        (
            'users:\n  h: {public_keys: "ssh-ed25519 AAAA"}\n',
            "users.h.public_keys: expected a list",
        ),
        ("users:\n  h: {}\n", "users.h: needs a password"),
        ('users:\n  h: {pasword: "x"}\n', "users.h.pasword: unknown field"),
        ('users:\n  "../x": {password: "x"}\n', "users.../x: user name"),
        ('users:\n  "alice\\n": {password: "x"}\n', "users.'alice\\n': user name 'alice\\n' must"),
        ('users:\n  "alice\\r": {password: "x"}\n', "user name 'alice\\r' must"),
        ("users: {a: [\n", "users.yaml: line"),
    ],
)
def test_bad_users_file_names_the_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_users(path)
    assert expected in str(info.value)
    result = CliRunner().invoke(
        _cli(), ["harness", "serve", "--root", str(tmp_path / "r"), "--users", str(path)]
    )
    assert result.exit_code == 2
    assert expected in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output


def test_bad_users_file_never_echoes_a_password(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text('users:\n  a: {password: "hunter2-secret", extra: 1}\n')
    result = CliRunner().invoke(
        _cli(), ["harness", "serve", "--root", str(tmp_path), "--users", str(path)]
    )
    assert result.exit_code == 2
    assert "users.a.extra" in result.output and "hunter2" not in result.output


def test_missing_users_file_and_remote_host(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        _cli(),
        ["harness", "serve", "--root", str(tmp_path), "--users", str(tmp_path / "none.yaml")],
    )
    assert result.exit_code == 2 and "users file not found" in result.output
    result = runner.invoke(
        _cli(), ["harness", "serve", "--root", str(tmp_path), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2 and "--allow-remote" in result.output


def _read_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    info: dict[str, str] = {}
    assert process.stdout is not None
    while len(info) < 4:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early: {process.stderr and process.stderr.read()}")
        key, _, value = line.rstrip("\n").partition(": ")
        info[key] = value
    return info


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_python_m_serve_prints_its_address_and_stops_on_signals(
    tmp_path: Path, signum: int
) -> None:
    key, public, _ = new_ed25519()
    users = tmp_path / "users.yaml"
    users.write_text(f'users:\n  harbor: {{public_keys: ["{public}"]}}\n')
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "claimferry_harness",
            "serve",
            "--root",
            str(tmp_path / "root"),
            "--users",
            str(users),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        info = _read_banner(process)
        assert info["host"] == "127.0.0.1"
        assert info["fingerprint"].startswith("SHA256:")
        transport = paramiko.Transport((info["host"], int(info["port"])))
        transport.start_client(timeout=10)
        served = transport.get_remote_server_key()
        assert f"{served.get_name()} {served.get_base64()}" == info["host key"]
        transport.auth_publickey("harbor", key)
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None and sorted(sftp.listdir("/")) == ["inbound", "outbound"]
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(10) == 0
        assert time.monotonic() - started < 5
        transport.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    assert "listening on 127.0.0.1" in stderr


def test_claimferry_harness_serve_shows_the_mock_info_logs_on_stderr(tmp_path: Path) -> None:
    """Under ``claimferry`` (WARNING by default) the mock still says what it does."""
    password = "serve-test-only-7Q"
    users = tmp_path / "users.yaml"
    users.write_text(f'users:\n  sunrise: {{password: "{password}"}}\n')
    served = ServeProcess(tmp_path / "root", users)
    try:
        host, port = served.host, served.port
        listening = served.stderr.wait_for(f"mock Office Ally listening on {host}:{port}")
        assert " INFO claimferry_harness.server: " in listening
        with socket.create_connection((host, port), timeout=10) as bare:
            bare.recv(100)  # the banner: nothing left unread, the close is a plain FIN
        early = served.stderr.wait_for("closed the connection before sending an SSH banner")
        assert " INFO claimferry_harness.transport: SSH client 127.0.0.1:" in early
        transport = served.login("sunrise", password)
        try:
            sftp = paramiko.SFTPClient.from_transport(transport)
            assert sftp is not None
            upload(sftp, build_837([TestClaim("LOG-1")]), "logs_837P.txt")
            answered = served.stderr.wait_for("(logs_837P.txt): 1 claim(s), 1 accepted")
            assert " INFO claimferry_harness.processing: file " in answered
        finally:
            transport.close()
        text = served.stop()
    finally:
        served.close()
    assert f"mock Office Ally on port {port} stopped" in text
    assert " DEBUG " not in text and "paramiko" not in text and "Traceback" not in text
    assert password not in text
