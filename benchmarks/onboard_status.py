"""``claimferry onboard status`` across a vendor's clinics, next to ``claimferry audit``.

A state directory as a vendor's looks after months of work: ``--clinics``
clinics, each with its credentials in the store, its marks, a host key, a
payer list imported, ``--fetches`` fetched response files in the audit trail
(each one entry, as ``fetch`` writes them), claims to four payers and ERA
enrollment for them. Then, side by side and ``--repeat`` times each, the real
console script runs:

- ``onboard status --json``: every clinic's ten steps from the facts;
- ``audit --json``: every audit entry printed (the reference: one pass over
  the same trail, no derivation).

It prints the median seconds of each, the ratio, and the time per clinic.
Onboarding reads each clinic's latest facts by indexed look-ups, so its time
should grow with the clinics, not with the length of the audit trail: run it
with a larger ``--fetches`` to see.

    .venv/bin/python benchmarks/onboard_status.py [--clinics 200] [--fetches 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml

from claimferry.credentials import Credentials, SecretStr
from claimferry.credstore import (
    KEY_ORIGINS,
    MASTER_KEY_ENV,
    CredentialStore,
    generate_master_key,
    load_master_key,
)
from claimferry.enrollment import EnrollmentEntry, set_enrollment
from claimferry.ledger import LOGIN_OK, Ledger, NewClaim
from claimferry.onboarding import mark_step
from claimferry_officeally.payers import PayerList, parse_payer_list

PAYER_LIST = (
    Path(__file__).resolve().parents[2] / "shared" / "samples" / "officeally_payer_list.csv"
)
"""The sample payer list the tests use (``samples_dir``)."""
MARKED_ON = date(2026, 12, 1)
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
PAYERS = ("00621", "60054", "62308", "87726")


def build_state(work: Path, clinics: list[str], fetches: int, payer_list: Path) -> Path:
    """The accounts config and the state directory of a vendor with these clinics."""
    accounts = {
        name: {
            "clearinghouse": "officeally",
            "submitter_id": f"S{n:05d}",
            "contact": {"name": "Billing Office", "phone": "2175550100"},
            "sftp": {"host": "ftp10.officeally.com", "host_key": HOST_KEY},
            "credentials": {"source": "store"},
        }
        for n, name in enumerate(clinics)
    }
    config = work / "accounts.yaml"
    config.write_text(yaml.safe_dump({"accounts": accounts}))
    state = work / "state"
    master = load_master_key()
    with PayerList.open(state) as payers:
        payers.replace(parse_payer_list(payer_list), str(payer_list))
    with Ledger.open(state) as ledger:
        store = CredentialStore(ledger.db)
        for n, name in enumerate(clinics):
            secret = Credentials(f"user{n}", password=SecretStr(secrets.token_urlsafe(18)))
            store.put(name, secret, master, actor="bench")
            ledger.ensure_account(name, "officeally", f"S{n:05d}")
            mark_step(ledger, name, "oa-account", MARKED_ON)
            mark_step(ledger, name, "sftp-requested", MARKED_ON)
            ledger.audit(LOGIN_OK, account=name, host_fingerprint="SHA256:bench")
            with ledger.transaction() as db:
                db.executemany(
                    "INSERT INTO audit (at, actor, account, action, host_fingerprint, file_name, "
                    "size, sha256) VALUES (datetime('now'), 'bench', ?, 'fetch', "
                    "'SHA256:bench', ?, 1000, 'x')",
                    [(name, f"{n}_{f}_999.txt") for f in range(fetches)],
                )
            claims = [
                NewClaim(f"{name}-{payer}", payer, Decimal("100.00"), "x" * 64, "1", None)
                for payer in PAYERS
            ]
            ledger.record_batch(
                account=name,
                file_name=f"{name}_837P_OATEST.txt",
                archive_path=state / "archive" / f"{name}.txt",
                sha256="x" * 64,
                size=100,
                control_number=1,
                test=True,
                claims=claims,
            )
            for payer in PAYERS:
                entry = EnrollmentEntry.model_validate(
                    {
                        "npi": "1234567893",
                        "tax_id": "123456789",
                        "payer_id": payer,
                        "transaction": "835",
                        "status": "approved",
                    }
                )
                set_enrollment(ledger, name, entry, "bench")
    return config


def run(script: Path, config: Path, state: Path, *args: str) -> float:
    env = {**os.environ, "CLAIMFERRY_STATE_DIR": str(state)}
    started = time.perf_counter()
    done = subprocess.run(
        [str(script), "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
        raise SystemExit(f"claimferry {' '.join(args)} failed")
    json.loads(done.stdout)  # whole JSON, or this fails loudly
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--fetches", type=int, default=500, help="audit entries per clinic")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    clinics = [f"clinic{n:04d}" for n in range(args.clinics)]
    script = Path(sys.executable).with_name("claimferry")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for suffix in KEY_ORIGINS:  # one origin only: a key in the environment
            os.environ.pop(MASTER_KEY_ENV + suffix, None)
        os.environ[MASTER_KEY_ENV] = generate_master_key()  # the children inherit it
        started = time.perf_counter()
        config = build_state(work, clinics, args.fetches, PAYER_LIST)
        print(f"state built in {time.perf_counter() - started:.1f}s")
        runs: dict[str, list[float]] = {"onboard status": [], "audit": []}
        for _ in range(args.repeat):
            runs["onboard status"].append(
                run(script, config, work / "state", "onboard", "status", "--json")
            )
            runs["audit"].append(run(script, config, work / "state", "audit", "--json"))
    status, audit = (statistics.median(runs[k]) for k in ("onboard status", "audit"))
    entries = args.clinics * (args.fetches + 3)  # + 2 marks and a login
    print(f"{args.clinics} clinics, {entries} audit entries, median of {args.repeat}:")
    print(
        f"  onboard status --json  {status:7.2f}s  ({status / args.clinics * 1000:.1f} ms/clinic)"
    )
    print(f"  audit --json           {audit:7.2f}s  (reference)")
    print(f"  ratio onboard status / audit: {status / audit:.2f}")


if __name__ == "__main__":
    main()
