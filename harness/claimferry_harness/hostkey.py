"""The server's Ed25519 host key, kept in the root so pinning survives restarts."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HOST_KEY_FILE = "host_key"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def openssh_public(key: paramiko.PKey) -> str:
    """``ssh-ed25519 AAAA...``, as pinned in a config or known_hosts."""
    return f"{key.get_name()} {key.get_base64()}"


def _write_new(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    tmp.replace(path)


def load_or_create(root: Path) -> paramiko.Ed25519Key:
    """The key in ``<root>/host_key``, created (mode 0600) on first use."""
    path = root / HOST_KEY_FILE
    if not path.exists():
        _write_new(path)
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def rotate(root: Path) -> paramiko.Ed25519Key:
    """Replace the stored key with a new one (a "changed host key" for clients)."""
    path = root / HOST_KEY_FILE
    _write_new(path)
    return paramiko.Ed25519Key.from_private_key_file(str(path))
