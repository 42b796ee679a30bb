"""Benchmark: load + content-check + write an 837P of 10,000 claims, against pyx12.

Run from the repository root::

    .venv/bin/python benchmarks/build_837.py            # 10,000 claims, JSON input
    .venv/bin/python benchmarks/build_837.py --format yaml --claims 2000
    .venv/bin/python benchmarks/build_837.py --rounds 5
    .venv/bin/python benchmarks/build_837.py --secondary 20   # 20% secondary (COB) claims

It generates realistic claims (seeded, so runs compare), times our pipeline
stages (loading the claims file, the content checks, the writer), then times
pyx12 validating the very file we wrote, and prints claims per second for
both, the ratio, and our peak memory. Targets: at least 30x pyx12's rate and
under 200 MB.

On a shared, noisy machine one run proves little: ``--rounds N`` (default 3)
runs ours and pyx12 alternately, each run in a fresh process (cold caches
for both, the same start every time), and the ratio is taken from the best
(minimum) time of each.

Memory is measured two ways, both for our stages only (pyx12 runs in its own
processes): ``ru_maxrss`` is our process's peak resident set (interpreter and
imports included), the highest of all rounds; tracemalloc's peak is Python
allocations alone, taken in a separate, untimed pass because tracing slows
everything down.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimferry.claims_input import load_claims
from claimferry.config import Contact
from claimferry.types import Receiver, ValidationContext
from claimferry.x12.writer837 import Envelope, write_837p
from claimferry_checks.rules import check_claims

TODAY = date(2026, 11, 20)
TARGET_RATIO = 30.0
TARGET_MB = 200.0

FIRST = ["Ava", "Liam", "Noah", "Emma", "Mateo", "Zoë", "Grace", "Arjun", "Lucía", "Omar",
         "Hana", "Felix", "Dana", "Ken", "Rosa", "Ben", "Ivy", "Eli", "Nora", "Chris"]  # fmt: skip
LAST = ["Smith", "Brown", "Patel", "Rivera", "Okafor", "Chen", "Novak", "Haddad", "Ito",
        "O'Neil", "Kowalski", "Diaz", "Greene", "Lee", "Stone", "Ford", "Núñez",
        "Moreau"]  # fmt: skip
CITIES = [("Springfield", "IL", "62704"), ("Peoria", "IL", "61602"),
          ("Chicago", "IL", "60611"), ("St Louis", "MO", "63130"),
          ("Madison", "WI", "53703"), ("Gary", "IN", "46402")]  # fmt: skip
PAYERS = [("BLUE CROSS BLUE SHIELD OF ILLINOIS", "00621", "BL"), ("AETNA", "60054", "CI"),
          ("CIGNA", "62308", "CI"), ("UNITEDHEALTHCARE", "87726", "CI"),
          ("ILLINOIS MEDICAID", "IDPA1", "MC"), ("TRICARE EAST", "TREST", "CH")]  # fmt: skip
ABA = [("97151", ["HO", "HP"], 60), ("97152", ["HM"], 25), ("97153", ["HM", "HN"], 30),
       ("97154", ["HM"], 15), ("97155", ["HO", "HP"], 50), ("97156", ["HO"], 45),
       ("97157", ["HO"], 18), ("97158", ["HP"], 35)]  # fmt: skip
DIAGNOSES = ["F84.0", "F90.2", "F80.2", "F82", "R62.50", "F41.9"]
RENDERING = [("Maya", "Chen", "1245319599"), ("Samuel", "Ortiz", "1552384061"),
             ("Ruth", "Adams", "1003000126")]  # fmt: skip


def _address(rng: random.Random) -> dict[str, str]:
    city, state, zip_code = rng.choice(CITIES)
    return {"line1": f"{rng.randint(1, 9999)} {rng.choice(LAST)} St", "city": city,
            "state": state, "zip": zip_code}  # fmt: skip


def _person(rng: random.Random, born: date) -> dict[str, Any]:
    return {"first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
            "birth_date": born.isoformat(), "gender": rng.choice("FM")}  # fmt: skip


def generate(count: int, seed: int = 5010, secondary: float = 0.0) -> dict[str, Any]:
    """A claims file: households of 1-3 children, each with a few weeks of sessions.

    A ``secondary`` share of the claims goes to a second payer after the
    household's payer paid 70% of each line (loops 2320/2330/2430); the choice
    draws on its own generator, so the other claims are those of ``secondary=0``.
    """
    rng = random.Random(seed)
    cob = random.Random(seed + 1)
    claims: list[dict[str, Any]] = []
    household = 0
    while len(claims) < count:
        household += 1
        payer, payer_id, filing = rng.choice(PAYERS)
        subscriber = {
            "member_id": f"M{household:09d}", "group_number": f"G{rng.randint(100, 999)}",
            "filing_code": filing, "address": _address(rng),
            **_person(rng, date(1975, 1, 1) + timedelta(days=rng.randint(0, 9000))),
        }  # fmt: skip
        children = [
            {"relationship": "child", "address": subscriber["address"],
             **_person(rng, date(2012, 1, 1) + timedelta(days=rng.randint(0, 4000)))}
            for _ in range(rng.randint(0, 3))
        ]  # fmt: skip
        patients: list[dict[str, Any] | None] = [*children] or [None]
        for _ in range(rng.randint(2, 8)):
            patient = rng.choice(patients)
            claim = _claim(rng, len(claims) + 1, payer, payer_id, subscriber, patient)
            if cob.random() < secondary:
                claim = _secondary(cob, claim, filing)
            claims.append(claim)
            if len(claims) == count:
                break
    return {
        "billing_provider": {
            "organization": "Sunrise ABA Therapy LLC", "npi": "1234567893",
            "tax_id": "123456789", "taxonomy": "103K00000X",
            "address": {"line1": "100 Main St", "city": "Springfield", "state": "IL",
                        "zip": "627011234"},
        },
        "claims": claims,
    }  # fmt: skip


def _claim(
    rng: random.Random,
    number: int,
    payer: str,
    payer_id: str,
    subscriber: dict[str, Any],
    patient: dict[str, Any] | None,
) -> dict[str, Any]:
    diagnoses = ["F84.0", *rng.sample(DIAGNOSES[1:], rng.randint(0, 3))]
    lines = []
    for _ in range(rng.randint(1, 6)):
        code, modifiers, rate = rng.choice(ABA)
        units = rng.randint(1, 32)
        day = date(2026, 11, 1) + timedelta(days=rng.randint(0, 19))
        lines.append({
            "service_date": day.isoformat(), "procedure": code,
            "modifiers": [rng.choice(modifiers)], "units": units,
            "charge": f"{units * rate}.{rng.choice(['00', '50', '25'])}",
            "diagnosis_pointers": list(range(1, min(len(diagnoses), 2) + 1)),
        })  # fmt: skip
    claim: dict[str, Any] = {
        "id": f"BEN-{number:06d}",
        "payer": {"name": payer, "id": payer_id},
        "subscriber": subscriber,
        "place_of_service": rng.choice(["11", "12", "02", "10"]),
        "diagnoses": diagnoses,
        "lines": lines,
    }
    if patient is not None:
        claim["patient"] = patient
    if rng.random() < 0.6:
        first, last, npi = rng.choice(RENDERING)
        claim["rendering_provider"] = {"first_name": first, "last_name": last, "npi": npi,
                                       "taxonomy": "103K00000X"}  # fmt: skip
    if rng.random() < 0.3:
        claim["prior_authorization"] = f"PA{rng.randint(100000, 999999)}"
    if rng.random() < 0.05:
        claim["frequency"] = "replacement"
        claim["payer_claim_number"] = f"2026{rng.randint(10**8, 10**9 - 1)}"
    return claim


def _secondary(rng: random.Random, claim: dict[str, Any], filing: str) -> dict[str, Any]:
    """The claim billed to a second payer after its own paid 70% and left 10% coinsurance."""
    first = claim["payer"]
    name, payer_id, second_filing = rng.choice([p for p in PAYERS if p[1] != first["id"]])
    subscriber = claim["subscriber"]
    adjudicated = []
    for number, line in enumerate(claim["lines"], start=1):
        charge = Decimal(line["charge"])
        paid = (charge * Decimal("0.7")).quantize(Decimal("0.01"))
        coinsurance = (charge * Decimal("0.1")).quantize(Decimal("0.01"))
        adjudicated.append({
            "line": number, "paid": str(paid), "date": "2026-11-18",
            "adjustments": [
                {"group": "CO", "reason": "45", "amount": str(charge - paid - coinsurance)},
                {"group": "PR", "reason": "2", "amount": str(coinsurance)},
            ],
        })  # fmt: skip
    other = {
        "responsibility": "primary", "payer": first, "filing_code": filing,
        "subscriber": {key: subscriber[key] for key in ("member_id", "first_name", "last_name")},
        "relationship": claim["patient"]["relationship"] if "patient" in claim else "self",
        "paid": str(sum(Decimal(a["paid"]) for a in adjudicated)),
        "remaining_patient_liability": str(
            sum(Decimal(a["adjustments"][1]["amount"]) for a in adjudicated)
        ),
        "adjudication_date": "2026-11-18", "payer_claim_number": f"P{rng.randint(10**9, 10**10)}",
        "lines": adjudicated,
    }  # fmt: skip
    return {
        **claim,
        "payer": {"name": name, "id": payer_id},
        "payer_responsibility": "secondary",
        "subscriber": {**subscriber, "filing_code": second_filing},
        "other_payers": [other],
    }


ENVELOPE = Envelope(
    sender_qualifier="ZZ",
    sender_id="SUNRISE01",
    receiver=Receiver(
        isa_qualifier="ZZ",
        isa_id="330897513",
        gs_id="330897513",
        name="OFFICE ALLY",
        id="330897513",
    ),
    submitter_name="Sunrise ABA Therapy LLC",
    contact=Contact(name="Billing Office", phone="2175550100"),
    test=True,
    interchange_control_number=1,
    group_control_number=1,
    transaction_set_control_number=1,
    created=datetime(2026, 11, 20, 9, 30),
)


@dataclass
class OurRun:
    load: float
    check: float
    write: float
    claims: int
    errors: int
    data: bytes
    rss_mb: float = 0.0

    @property
    def total(self) -> float:
        return self.load + self.check + self.write


def write_claims_file(path: Path, count: int, secondary: float = 0.0) -> None:
    document = generate(count, secondary=secondary)
    if path.suffix == ".json":
        path.write_text(json.dumps(document), encoding="utf-8")
    elif path.suffix == ".jsonl":  # the file's provider on the first line, then a claim a line
        with path.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps({"billing_provider": document["billing_provider"]}) + "\n")
            handle.writelines(json.dumps(claim) + "\n" for claim in document["claims"])
    else:
        import yaml

        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def run_ours(path: Path) -> OurRun:
    """Load, check and write, timed stage by stage."""
    start = time.perf_counter()
    claims = load_claims(path).claims
    loaded = time.perf_counter()
    findings = list(check_claims(claims, ValidationContext(account=None, today=TODAY)))
    checked = time.perf_counter()
    data = write_837p(claims, ENVELOPE)
    written = time.perf_counter()
    errors = sum(1 for f in findings if f.severity == "error")
    stages = (loaded - start, checked - loaded, written - checked)
    return OurRun(*stages, len(claims), errors, data, _maxrss_mb())


def run_pyx12(x12_path: Path) -> tuple[float, bool]:
    """pyx12's Python API (its x12valid command's exit code is not a verdict)."""
    import pyx12.params  # imported late so its modules are not in our memory figure
    import pyx12.x12n_document

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    start = time.perf_counter()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=str(x12_path), fd_997=io.StringIO(),
        fd_html=None, fd_json=None,
    )  # fmt: skip
    return time.perf_counter() - start, bool(ok)


def traced_peak_mb(path: Path) -> float:
    tracemalloc.start()
    try:
        claims = load_claims(path).claims
        list(check_claims(claims, ValidationContext(account=None, today=TODAY)))
        write_837p(claims, ENVELOPE)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _fresh(function: Any, *args: Any) -> Any:
    """``function(*args)`` in a new process of its own, and its result."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--format", choices=["json", "yaml"], default="json")
    parser.add_argument("--keep", type=Path, help="keep the claims file and the 837P here")
    parser.add_argument("--rounds", type=int, default=3, help="alternate runs of each (best kept)")
    parser.add_argument(
        "--secondary", type=float, default=0.0, metavar="PERCENT",
        help="share of secondary (COB) claims, in percent",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 0 <= args.secondary <= 100:
        parser.error("--secondary is a percentage, 0 to 100")

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        claims_path = folder / f"claims.{args.format}"
        # A child process writes the file, so the generator's memory is not ours.
        child = multiprocessing.get_context("spawn").Process(
            target=write_claims_file, args=(claims_path, args.claims, args.secondary / 100)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            print("generating the claims file failed", file=sys.stderr)
            return 2

        x12_path = folder / "claims.837"
        runs: list[OurRun] = []
        pyx12_runs: list[float] = []
        pyx12_ok = True
        for round_number in range(1, args.rounds + 1):
            ours = _fresh(run_ours, claims_path)
            if runs and ours.data != runs[0].data:
                print("the 837P differs between rounds", file=sys.stderr)
                return 2
            runs.append(ours)
            if round_number == 1:
                x12_path.write_bytes(ours.data)
            seconds, ok = _fresh(run_pyx12, x12_path)
            pyx12_runs.append(seconds)
            pyx12_ok = pyx12_ok and ok
            print(f"round {round_number}: ours {ours.total:.2f}s (load {ours.load:.2f} "
                  f"check {ours.check:.2f} write {ours.write:.2f}, {ours.rss_mb:.0f} MB), "
                  f"pyx12 {seconds:.2f}s")  # fmt: skip
        traced_mb = _fresh(traced_peak_mb, claims_path)

    best = min(runs, key=lambda run: run.total)
    rss_mb = max(run.rss_mb for run in runs)
    pyx12_seconds = min(pyx12_runs)
    our_rate = best.claims / best.total
    pyx12_rate = best.claims / pyx12_seconds
    ratio = our_rate / pyx12_rate
    lines = sum(1 for _ in best.data.splitlines())
    print(f"claims: {best.claims} ({args.format}, {args.secondary:g}% secondary), "
          f"837P: {len(best.data) / 2**20:.1f} MiB, {lines} segments, "
          f"content errors: {best.errors}")  # fmt: skip
    print(f"ours (best of {args.rounds}):  load {best.load:.2f}s  check {best.check:.2f}s  "
          f"write {best.write:.2f}s  = {best.total:.2f}s  -> {our_rate:,.0f} claims/s")  # fmt: skip
    print(f"pyx12 (best of {args.rounds}): validate {pyx12_seconds:.2f}s -> "
          f"{pyx12_rate:,.0f} claims/s (file {'valid' if pyx12_ok else 'INVALID'})")  # fmt: skip
    print(f"ratio: {ratio:.1f}x from the bests (target >= {TARGET_RATIO:.0f}x)")
    print(
        f"peak memory, ours: {rss_mb:.0f} MB max RSS (getrusage, our process, highest round), "
        f"{traced_mb:.0f} MB Python allocations (tracemalloc) (target < {TARGET_MB:.0f} MB)"
    )
    met = ratio >= TARGET_RATIO and rss_mb < TARGET_MB and pyx12_ok and best.errors == 0
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
