"""Alert digests by e-mail: SMTP with STARTTLS, never in clear text.

The message holds what the digest holds: claim ids, states and codes, and
free text only when the destination sets ``include_details``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from claimferry.api import Digest, Notifier, NotifierError, read_secret

DEFAULT_PORT = 587
DEFAULT_TIMEOUT = 30.0


def _recipients(settings: Mapping[str, Any]) -> list[str]:
    to = settings.get("to")
    return [to] if isinstance(to, str) else [str(a) for a in to or ()]


def send_email(digest: Digest, settings: Mapping[str, Any]) -> None:
    """One message per digest. The server must offer STARTTLS: without it nothing is sent."""
    host, port = str(settings["host"]), int(settings.get("port", DEFAULT_PORT))
    where = f"e-mail via {host}:{port}"
    password = read_secret(settings, "password", "notifier email")
    message = EmailMessage()
    message["From"] = str(settings["sender"])
    message["To"] = ", ".join(_recipients(settings))
    message["Subject"] = digest.subject
    message["Message-ID"] = make_msgid(idstring=digest.id, domain="claimferry.invalid")
    message["X-Claimferry-Digest"] = digest.id
    message.set_content(digest.render())
    context = ssl.create_default_context(cafile=settings.get("ca_file"))
    try:
        with smtplib.SMTP(
            host, port, timeout=float(settings.get("timeout", DEFAULT_TIMEOUT))
        ) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise NotifierError(f"{where}: the server offers no STARTTLS; nothing sent")
            smtp.starttls(context=context)
            smtp.ehlo()
            if settings.get("username"):
                smtp.login(str(settings["username"]), password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error
        text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
        raise NotifierError(f"{where}: the server answered {exc.smtp_code} {text}") from None
    except smtplib.SMTPException as exc:
        raise NotifierError(f"{where}: {exc.__class__.__name__}: {exc}") from None
    except ssl.SSLError as exc:
        raise NotifierError(f"{where}: TLS failed ({exc.reason or exc})") from None
    except OSError as exc:
        raise NotifierError(f"{where}: cannot connect ({exc.strerror or exc})") from None


def check_email(settings: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Values that cannot work, found when the config is loaded."""
    port = settings.get("port", DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        yield "port", "expected a port number, 1 to 65535 (587 for STARTTLS)"
    for key in ("sender",):
        if not isinstance(settings.get(key), str) or "@" not in settings[key]:
            yield key, "expected an e-mail address"
    to = settings.get("to")
    addresses = [to] if isinstance(to, str) else to if isinstance(to, list) else None
    if not addresses or not all(isinstance(a, str) and "@" in a for a in addresses):
        yield "to", "expected an e-mail address or a list of them"
    timeout = settings.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        yield "timeout", "expected a number of seconds above 0"
    has_password = settings.get("password_var") or settings.get("password_file")
    if settings.get("username") and not has_password:
        yield "username", "given without password_var or password_file"
    if has_password and not settings.get("username"):
        yield "username", "required with password_var or password_file"


EMAIL = Notifier(
    name="email",
    send=send_email,
    settings=(
        "host",
        "port",
        "sender",
        "to",
        "username",
        "password_var",
        "password_file",
        "ca_file",
        "timeout",
    ),
    required=("host", "sender", "to"),
    check=check_email,
    description="e-mail over SMTP with STARTTLS",
)
