"""Benchmark: read an 837P of 10,000 claims into the claim model, against pyx12.

Run from the repository root::

    .venv/bin/python benchmarks/read_837.py                  # 10,000 claims, 20% secondary
    .venv/bin/python benchmarks/read_837.py --claims 2000 --secondary 0 --rounds 5

The claims come from build_837.py's generator (seeded, so runs compare), a
``--secondary`` share of them with the first payer's adjudication (loops
2320/2330/2430), written once by our writer. Ours is what ``validate``,
``build`` and ``submit`` do with an 837P given as input: read every loop into
the claim model (schema checks included), refusing what it cannot carry.
pyx12 validates the very same file. It prints claims per second for both and
the ratio (target: ours at least 30x pyx12).

Times are CPU seconds of the reading process (on a shared machine other work
only ever adds to wall time). Each reader runs ``--rounds`` times in a fresh
process of its own, the two taking turns, and the best (lowest) time of each
is compared.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from build_837 import ENVELOPE, _fresh, generate

from claimferry.claims_input import load_claims
from claimferry.x12 import read837  # noqa: F401  (its imports are not part of reading: as pyx12's)
from claimferry.x12.writer837 import write_837p

TARGET_RATIO = 30.0


def write_837(folder: Path, count: int, secondary: float) -> Path:
    """Generated claims, through our loader, written by our writer."""
    source = folder / "claims.json"
    source.write_text(json.dumps(generate(count, secondary=secondary)), encoding="utf-8")
    path = folder / "claims.837"
    path.write_bytes(write_837p(load_claims(source).claims, ENVELOPE))
    return path


def run_ours(path: Path) -> tuple[float, int, int]:
    """Seconds to read the 837P into claims, the claims read and how many are secondary."""
    start = time.process_time()
    claims = load_claims(path).claims
    seconds = time.process_time() - start
    return seconds, len(claims), sum(1 for claim in claims if claim.other_payers)


def run_pyx12(path: Path) -> tuple[float, bool]:
    """CPU seconds of pyx12 validating the file through its Python API, and its verdict."""
    import pyx12.params  # imported late, as ours is imported before its clock starts
    import pyx12.x12n_document

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    start = time.process_time()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=str(path), fd_997=io.StringIO(),
        fd_html=None, fd_json=None,
    )  # fmt: skip
    return time.process_time() - start, bool(ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--secondary", type=float, default=20, help="percent of COB claims")
    parser.add_argument("--rounds", type=int, default=3, help="alternate runs of each (best kept)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_837(Path(tmp), args.claims, args.secondary / 100)
        size_mb = path.stat().st_size / 2**20
        print(f"837P: {args.claims:,} claims, {args.secondary:g}% secondary, {size_mb:.1f} MB")
        ours: list[float] = []
        theirs: list[float] = []
        valid = True
        for round_number in range(1, args.rounds + 1):
            seconds, claims, secondary = _fresh(run_ours, path)
            ours.append(seconds)
            pyx12_seconds, ok = _fresh(run_pyx12, path)
            theirs.append(pyx12_seconds)
            valid = valid and ok
            print(f"round {round_number}: ours {seconds:.2f}s  pyx12 {pyx12_seconds:.2f}s")
    best, pyx12_best = min(ours), min(theirs)
    ratio = pyx12_best / best
    print(f"ours (best of {args.rounds}):  {best:.2f}s -> {claims / best:,.0f} claims/s "
          f"({secondary:,} of {claims:,} with other payers)")  # fmt: skip
    print(f"pyx12 (best of {args.rounds}): {pyx12_best:.2f}s -> {claims / pyx12_best:,.0f} "
          f"claims/s (file {'valid' if valid else 'INVALID'})")  # fmt: skip
    met = ratio >= TARGET_RATIO and valid and claims == args.claims
    print(f"ratio: {ratio:.1f}x (target {TARGET_RATIO:g}x) {'OK' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
