"""Alert digests as an HTTP POST of JSON, signed with HMAC-SHA256.

The receiver checks ``X-Claimferry-Signature``: ``sha256=`` and the hex
HMAC-SHA256, keyed with the shared secret, of ``<timestamp>.<body>``, where
the timestamp is ``X-Claimferry-Timestamp`` (Unix seconds). Signing the
time with the body lets a receiver refuse an old request replayed.
docs/alerts.md shows the check.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import ssl
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from claimferry.api import Digest, Notifier, NotifierError, read_secret

DEFAULT_TIMEOUT = 10.0
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
"""Hosts a plain ``http://`` URL may name: nothing leaves the machine."""


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with the shared secret."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(digest: Digest, settings: Mapping[str, Any]) -> None:
    """POST the digest; any answer but 2xx keeps it for the next fetch. No redirects."""
    url = urlsplit(str(settings["url"]))
    # the path and query may carry a token: errors name the server only
    where = f"webhook {url.scheme}://{url.netloc.rpartition('@')[2]}"
    secret = read_secret(settings, "secret", "notifier webhook")
    if secret is None:
        raise NotifierError(f"{where}: no secret (set secret_var or secret_file)")
    body = json.dumps(digest.to_dict(), sort_keys=True).encode("utf-8")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "claimferry",
        "X-Claimferry-Delivery": digest.id,
        "X-Claimferry-Timestamp": timestamp,
        "X-Claimferry-Signature": signature(secret.encode("utf-8"), timestamp, body),
    }
    timeout = float(settings.get("timeout", DEFAULT_TIMEOUT))
    connection: http.client.HTTPConnection
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=settings.get("ca_file"))
        connection = http.client.HTTPSConnection(
            url.hostname or "", url.port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=timeout)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
    except ssl.SSLError as exc:
        raise NotifierError(f"{where}: TLS failed ({exc.reason or exc})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise NotifierError(f"{where}: {exc.__class__.__name__}: {exc}") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise NotifierError(f"{where} answered HTTP {response.status} {response.reason}")


def check_webhook(settings: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Values that cannot work, found when the config is loaded."""
    url = urlsplit(str(settings.get("url", "")))
    if url.scheme not in ("https", "http") or not url.hostname:
        yield "url", "expected an https:// URL"
    elif url.scheme == "http" and url.hostname not in LOOPBACK:
        yield "url", "must be https:// (plain http:// only to this machine: localhost)"
    if url.username or url.password:
        yield "url", "must not hold a user or password; the digest is signed with the secret"
    if not settings.get("secret_var") and not settings.get("secret_file"):
        yield "secret_var", "the webhook needs a shared secret: set secret_var or secret_file"
    timeout = settings.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        yield "timeout", "expected a number of seconds above 0"


WEBHOOK = Notifier(
    name="webhook",
    send=send_webhook,
    settings=("url", "secret_var", "secret_file", "ca_file", "timeout"),
    required=("url",),
    check=check_webhook,
    description="HTTP POST of JSON signed with HMAC-SHA256",
)
