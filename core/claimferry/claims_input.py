"""Claims files as input, whatever their kind: YAML, JSON, JSON Lines, or an 837P.

The dispatch lives here, above :mod:`claimferry.claims` (the model) and
:mod:`claimferry.x12.read837` (which reads an 837P into that model), so that
the model never imports its reader. Core commands, the harness and tests import
from here; plugins take ``load_claims`` from :mod:`claimferry.api`.
"""

from __future__ import annotations

from pathlib import Path

from claimferry.claims import (
    CLAIMS_FILE_LIMIT,
    CLAIMS_FILE_LIMIT_ENV,
    CheckedClaims,
    ClaimsFile,
    check_claims_lines,
    check_claims_text,
    checked_whole,
)
from claimferry.documents import read_text
from claimferry.x12.read837 import load_837p


def load_claims(path: Path, *, max_bytes: int = CLAIMS_FILE_LIMIT) -> ClaimsFile:
    """Load a YAML, JSON or JSON Lines claims file, or an 837P (see docs/claims.md);
    :class:`InputError` if it has any problem."""
    return check_claims_file(path, max_bytes=max_bytes).raise_findings()


def check_claims_file(path: Path, *, max_bytes: int = CLAIMS_FILE_LIMIT) -> CheckedClaims:
    """Read a YAML, JSON or JSON Lines claims file (or an 837P) and report every schema
    problem as a finding (JSON Lines read as a stream, a claim at a time).

    A file that cannot be read as a document at all (too big, not YAML) is an
    :class:`InputError`: there are no claims to check.
    """
    if path.suffix.lower() == ".jsonl":
        return check_claims_lines(path, max_bytes=max_bytes)
    text = read_text(
        path,
        what="claims file",
        max_bytes=max_bytes,
        raise_limit=f"raise it with {CLAIMS_FILE_LIMIT_ENV} or the config's "
        "claims_file_limit_mb, or split the file",
    )
    source = str(path)
    if text.lstrip("\ufeff \t\r\n").startswith("ISA"):  # an 837P, not YAML or JSON
        return checked_whole(source, load_837p(path).claims.claims)
    return check_claims_text(text, source, json=path.suffix.lower() == ".json")
