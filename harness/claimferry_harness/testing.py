"""What the mock's pytest fixtures hand a test, importable without pytest.

``oa_host_key`` gives a :class:`PinnedHostKey`; ``wait_for_responses`` is a
:class:`ResponseWaiter`. Plugin tests annotate their fixtures with these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PinnedHostKey:
    """What a client pins: ``openssh`` (``ssh-ed25519 AAAA...``) and ``fingerprint``."""

    openssh: str
    fingerprint: str


class ResponseWaiter(Protocol):
    """Polls a user's outbound folder until ``count`` files (at least) or ``predicate``
    holds, and returns them sorted by name; the test fails on ``timeout``."""

    def __call__(
        self,
        count: int | None = None,
        *,
        predicate: Callable[[list[Path]], bool] | None = None,
        timeout: float = 10.0,
        user: str | None = None,
    ) -> list[Path]: ...
