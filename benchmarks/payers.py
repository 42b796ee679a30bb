"""Time importing Office Ally's real payer list and searching it.

    .venv/bin/python benchmarks/payers.py [PATH_TO_CSV] [--runs N]

Each figure is the median of the runs, on a fresh state directory in a
temporary folder (real SQLite files, WAL, as the CLI uses them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from claimferry_officeally.payers import PayerList, parse_payer_list

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "samples" / "officeally_payer_list.csv"
SEARCHES = ["00710", "bcbs", "medicaid utah", "aetna", "a", "UTMCD", "blue cross", "zzzz-none"]


def _median_ms(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    parsed = parse_payer_list(args.path)
    print(f"{args.path.name}: {len(parsed.listings)} listings, {len(parsed.warnings)} warning(s)")
    parse = _median_ms(args.runs, lambda: parse_payer_list(args.path))
    print(f"parse CSV                 {parse:8.1f} ms")

    def first_import() -> None:
        with tempfile.TemporaryDirectory() as state, PayerList.open(Path(state)) as store:
            store.replace(parse_payer_list(args.path), str(args.path))

    print(f"parse + first import      {_median_ms(args.runs, first_import):8.1f} ms")
    with tempfile.TemporaryDirectory() as state, PayerList.open(Path(state)) as store:
        store.replace(parsed, str(args.path))
        reimport = _median_ms(args.runs, lambda: store.replace(parsed, str(args.path)))
        print(f"re-import (diff, no change){reimport:7.1f} ms")
        for text in SEARCHES:
            hits = len(store.search(text, 20))
            ms = _median_ms(args.runs * 4, lambda text=text: store.search(text, 20))
            print(f"search {text!r:<18} {ms:8.2f} ms  ({hits} payers)")
        show = _median_ms(args.runs * 4, lambda: store.listings("00710"))
        print(f"show '00710'              {show:8.2f} ms")


if __name__ == "__main__":
    main()
