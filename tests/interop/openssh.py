"""A throwaway OpenSSH server on loopback, shared by the interop tests and the benchmark.

It runs ``/usr/sbin/sshd -D -e`` with its own config, host key and authorized
key in a temporary folder, as whoever runs the tests. Logins are by public key
only; the SFTP session starts in ``<workdir>/home`` (``internal-sftp -d``), so
relative ``inbound/`` and ``outbound/`` land there and nothing touches the
real home folder.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = Path(os.environ.get("CLAIMFERRY_SSHD", "/usr/sbin/sshd"))
PRIVSEP_DIR = Path("/run/sshd")


def unavailable_reason() -> str | None:
    """Why a local sshd cannot run here, or None if it can."""
    if not SSHD.is_file():
        return f"OpenSSH server not installed ({SSHD} is absent; apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found (apt-get install openssh-client)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )


class LocalSshd:
    """``with LocalSshd(tmpdir) as sshd:``; then ``.port``, ``.host_key_line``, ``.client_key``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        self.user = getpass.getuser()
        self.host_key = workdir / "ssh_host_ed25519_key"
        self.client_key = workdir / "client_ed25519"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "sshd.log"

    @property
    def host_key_line(self) -> str:
        """``ssh-ed25519 AAAA...`` as it would be pinned in ``sftp.host_key``."""
        key_type, b64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{key_type} {b64}"

    @property
    def client_key_text(self) -> str:
        return self.client_key.read_text()

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key_line}"

    def start(self) -> LocalSshd:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
        for folder in ("inbound", "outbound"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        _keygen(self.host_key, "claimferry-test-host")
        _keygen(self.client_key, "claimferry-test-client")
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.client_key.with_suffix(".pub").read_text())
        authorized.chmod(0o600)
        self.port = _free_port()
        config = self.workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    f"AllowUsers {self.user}",
                    "StrictModes no",
                    "UsePAM no",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "PermitTTY no",
                    "MaxStartups 50",
                    f"Subsystem sftp internal-sftp -d {self.home}",
                    f"ForceCommand internal-sftp -d {self.home}",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        subprocess.run([str(SSHD), "-t", "-f", str(config)], check=True, capture_output=True)
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening within 10s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> LocalSshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
