"""Interop: OpenSSH's own ``sftp -b`` client against the mock server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from claimferry_harness import MockOfficeAlly
from harness.harness_support import TestClaim, build_837, new_ed25519

SFTP = shutil.which("sftp")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed"),
]


def _sftp(
    server: MockOfficeAlly, tmp_path: Path, user: str, batch: str, key_file: Path, known_hosts: Path
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "batch.txt"
    script.write_text(batch)
    assert SFTP is not None
    return subprocess.run(
        [
            SFTP,
            "-F",
            "/dev/null",
            "-b",
            str(script),
            "-P",
            str(server.port),
            "-i",
            str(key_file),
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            f"{user}@{server.host}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )


def test_openssh_batch_upload_rename_and_fetch(oa_harness: MockOfficeAlly, tmp_path: Path) -> None:
    _, public, pem = new_ed25519()
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    oa_harness.add_user("harbor", public_keys=[public])
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{oa_harness.host}]:{oa_harness.port} {oa_harness.host_key_openssh}\n")
    (tmp_path / "claims_837P.txt").write_bytes(build_837([TestClaim("OPENSSH1")]))

    result = _sftp(
        oa_harness,
        tmp_path,
        "harbor",
        "put claims_837P.txt inbound/claims_837P.txt.part\n"
        "rename inbound/claims_837P.txt.part inbound/claims_837P.txt\n"
        "ls inbound\n",
        key_file,
        known_hosts,
    )
    assert result.returncode == 0, result.stderr
    assert oa_harness.wait_idle(10)
    names = sorted(p.name for p in oa_harness.outbound_dir("harbor").iterdir())
    assert len(names) == 5
    status = next(n for n in names if "_277CA_" in n)
    result = _sftp(
        oa_harness,
        tmp_path,
        "harbor",
        f"get outbound/{status} got.277\n-put claims_837P.txt outbound/x\n"
        "-rm outbound/" + status + "\n",
        key_file,
        known_hosts,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "got.277").read_bytes() == (
        oa_harness.outbound_dir("harbor") / status
    ).read_bytes()
    assert "Permission denied" in result.stderr
    assert status in [p.name for p in oa_harness.outbound_dir("harbor").iterdir()]

    oa_harness.rotate_host_key()
    result = _sftp(oa_harness, tmp_path, "harbor", "ls\n", key_file, known_hosts)
    assert result.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in result.stderr
