"""pyx12 as the outside judge of X12 files (ours and the harness's).

pyx12's ``x12valid`` command exits 1 for valid and invalid files alike, so
this calls its Python API and reads the errors it reports.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyx12.params
import pyx12.x12n_document


@dataclass
class Verdict:
    valid: bool
    errors: list[str]
    ack_999: str

    def __bool__(self) -> bool:
        return self.valid and not self.errors


def _errors(node: object, out: list[str], path: str = "") -> None:
    if isinstance(node, dict):
        for key in ("errors", "ele_errors", "seg_errors"):
            for err in node.get(key, []) or []:
                out.append(f"{path} {json.dumps(err, sort_keys=True)}".strip())
        for key, value in node.items():
            if isinstance(value, dict | list) and key not in ("errors", "ele_errors", "seg_errors"):
                _errors(
                    value, out, f"{path}/{node.get('id', key)}" if isinstance(value, dict) else path
                )
    elif isinstance(node, list):
        for item in node:
            _errors(item, out, path)


def judge(data: bytes | str | Path) -> Verdict:
    """Validate an X12 document with pyx12; ``Verdict`` is truthy when clean."""
    if isinstance(data, Path):
        data = data.read_bytes()
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.x12"
        src.write_text(text, encoding="latin-1")
        param = pyx12.params.params()
        fd_999 = io.StringIO()
        fd_json = io.StringIO()
        ok = pyx12.x12n_document.x12n_document(
            param=param, src_file=str(src), fd_997=fd_999, fd_html=None, fd_json=fd_json
        )
    errors: list[str] = []
    raw = fd_json.getvalue().strip()
    if raw:
        try:
            _errors(json.loads(raw), errors)
        except json.JSONDecodeError:
            errors.append(raw[:500])
    return Verdict(bool(ok), errors, fd_999.getvalue())
