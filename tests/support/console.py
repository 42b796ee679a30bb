"""The ``claimferry`` console script as a real subprocess, for tests that kill it.

A failpoint (``CLAIMFERRY_FAILPOINT``) makes the process SIGKILL itself at a
named step, so a test can look at what a crash there leaves behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

Run = Callable[..., subprocess.CompletedProcess[str]]


def console(variables: dict[str, str]) -> Run:
    """A runner of ``python -m claimferry ARGS`` in exactly ``variables``."""

    def claimferry(*args: str, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"CLAIMFERRY_FAILPOINT": failpoint} if failpoint else {}
        return subprocess.run(
            [sys.executable, "-m", "claimferry", *args],
            env=variables | extra,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return claimferry
