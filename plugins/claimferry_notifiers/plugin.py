"""Registers the built-in notifiers: ``email`` and ``webhook``."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import Notifier, hookimpl


@hookimpl
def claimferry_notifiers() -> Iterator[Notifier]:
    from claimferry_notifiers.mail import EMAIL  # smtplib, ssl: when asked, not in every --help
    from claimferry_notifiers.webhook import WEBHOOK

    yield EMAIL
    yield WEBHOOK
