"""``claimferry plugin new``: a ready plugin package to start from.

Each kind is a set of file templates (in :mod:`claimferry.scaffold.templates`)
with the plugin's names filled in: ``__NAME__`` (the registration name),
``__PACKAGE__`` (the import package), ``__DIST__`` (the distribution) and
``__TITLE__`` (for people). Nothing is overwritten: the package is written
into a temporary folder beside the target and renamed into place, so a
failure leaves no half-written package and an existing folder is refused.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from claimferry.errors import InputError, Problem
from claimferry.scaffold.templates import COMMON, KINDS

__all__ = ["KINDS", "write_plugin"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def write_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the package ``claimferry-NAME`` for ``kind`` into ``parent``; its folder."""
    if not _NAME.match(name):
        raise InputError(
            [
                Problem(
                    "NAME",
                    "",
                    f"{name!r} must be lowercase letters and digits, joined by '-' "
                    "(e.g. 'acme'): it names the registration, the package and the entry point",
                )
            ]
        )
    if kind not in KINDS:
        raise InputError([Problem("--kind", "", f"one of {', '.join(KINDS)}")])
    target = parent / f"claimferry-{name}"
    if target.exists():
        raise InputError([Problem(str(target), "", "already exists; nothing was written")])
    package = f"claimferry_{name.replace('-', '_')}"
    words = {
        "__NAME__": name,
        "__PACKAGE__": package,
        "__DIST__": f"claimferry-{name}",
        "__TITLE__": name.replace("-", " ").title(),
        "__KIND__": kind,
    }
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=parent))
    try:
        for relative, template in {**COMMON, **KINDS[kind]}.items():
            text = template
            for token, value in words.items():
                text = text.replace(token, value)
            path = building / relative.replace("__PACKAGE__", package)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        building.chmod(0o755)
        building.rename(target)  # refuses a target made meanwhile (not empty)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target
