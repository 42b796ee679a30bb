"""Pinning a host key in the accounts config: only the key changes, the file is
replaced whole or not at all. (Through the CLI against the mock: e2e/test_hostkey.py.)"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from claimferry.config import load_config
from claimferry.config_edit import pin_host_key
from claimferry.errors import ConfigError
from claimferry.types import HostKey

NEW = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOqLw+5q0pC3ZtTF9dbWfTmJw2yYB4mXbGZ1oWQy3c0N"

CONFIG = """\
accounts:
  sunrise:
    clearinghouse: officeally
    submitter_id: SUNRISE01   # ISA06
    sftp:
      host: sftp.example.test
      known_hosts: /etc/ssh/ssh_known_hosts
      # folders as Office Ally names them
      inbound: inbound
    credentials:
      source: env
      fallbacks:
      - env
  nosftp:
    clearinghouse: officeally
    submitter_id: NOSFTP01
"""


def test_a_new_pin_goes_in_beside_the_settings_and_nothing_else_moves(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_bytes(CONFIG.replace("\n", "\r\n").encode())
    pin_host_key(path, ["sunrise"], NEW)
    written = path.read_bytes().decode()
    assert "\r\n" in written and "\n" not in written.replace("\r\n", "")
    lines = written.split("\r\n")
    expected = CONFIG.splitlines()
    expected.insert(expected.index("      host: sftp.example.test") + 1, f'      host_key: "{NEW}"')
    assert lines[:-1] == expected
    assert load_config(path).accounts["sunrise"].sftp.host_key == NEW  # type: ignore[union-attr]


def test_an_account_without_sftp_is_refused_and_the_file_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError, match=r"accounts\.nosftp\.sftp: no sftp section"):
        pin_host_key(path, ["sunrise", "nosftp"], NEW)
    assert path.read_text() == CONFIG
    assert list(tmp_path.iterdir()) == [path]


def test_yaml_that_does_not_parse_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text("accounts:\n  sunrise: {host: 'unterminated\n")
    with pytest.raises(ConfigError, match=r"accounts\.yaml: not valid YAML"):
        pin_host_key(path, ["sunrise"], NEW)


def test_the_fingerprint_of_a_pinned_key_is_openssh_s() -> None:
    generated = paramiko.ECDSAKey.generate()
    openssh = f"{generated.get_name()} {generated.get_base64()}"
    assert HostKey.from_openssh(openssh).fingerprint == generated.fingerprint
    assert HostKey.from_openssh(openssh + " comment").openssh == openssh
    with pytest.raises(ValueError):
        HostKey.from_openssh("ssh-ed25519 AAAA!bad")


def test_anchors_and_merges_stay_and_every_account_gets_the_key(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n"
        "  sunrise:\n"
        "    clearinghouse: officeally\n"
        "    submitter_id: SUNRISE01\n"
        "    sftp: &oa\n"
        "      host: sftp.example.test\n"
        '      host_key: "ssh-ed25519 AAAAold"\n'
        "  harbor:\n"
        "    clearinghouse: officeally\n"
        "    submitter_id: HARBOR01\n"
        "    sftp:\n"
        "      <<: *oa\n"
        "      retries: 0\n"
        "  lakeside:\n"
        "    clearinghouse: officeally\n"
        "    submitter_id: LAKESIDE01\n"
        "    sftp: *oa\n"
    )
    pin_host_key(path, ["sunrise", "harbor", "lakeside"], NEW)
    text = path.read_text()
    assert "sftp: &oa\n" in text and "<<: *oa\n" in text and "sftp: *oa\n" in text
    assert "AAAAold" not in text
    accounts = load_config(path).accounts
    assert {name: a.sftp.host_key for name, a in accounts.items() if a.sftp} == {
        "sunrise": NEW,
        "harbor": NEW,
        "lakeside": NEW,
    }
