"""Registers the built-in notifiers: ``email`` and ``webhook``."""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import Notifier, hookimpl
from claimferry_notifiers.mail import EMAIL
from claimferry_notifiers.webhook import WEBHOOK


@hookimpl
def claimferry_notifiers() -> Iterator[Notifier]:
    yield EMAIL
    yield WEBHOOK
