"""The credential store: setting and reading many accounts' credentials, and what
unwrapping costs next to the SFTP login it is for.

Into a fresh ledger file (WAL, full sync, as claimferry runs it):

1. **set**: ``--accounts`` accounts' credentials stored one by one, each in its
   own transaction with its audit entry, as ``claimferry credentials set`` does;
2. **read**: every account's credentials resolved through the ``store``
   credential source, as ``fetch --all`` resolves them (master key from a 0600
   file, data key unwrapped, secrets opened), beside the ``env`` source (the
   reference: no cryptography at all) resolving the same accounts;
3. **login**: ``--logins`` SFTP logins (connect, host-key check, password
   authentication, close) to the bundled mock Office Ally on loopback,
   through the real Office Ally transport;
4. **fetch --all**: the real console script over ``--fetch-accounts`` accounts
   of the mock, once with every account on the ``env`` source (the reference)
   and once on the ``store``, side by side, ``--repeat`` times each.

It prints each step's total and per-account time and the ratio of one SFTP
login to one unwrap, which shows whether unwrapping could ever be the slow
part of ``fetch --all`` (it is not when the ratio is large), and fails
loudly unless every secret read back is the one set.

    .venv/bin/python benchmarks/credentials.py [--accounts 10000] [--logins 20]
        [--fetch-accounts 50] [--jobs 8] [--repeat 3]

Read the ratios rather than the seconds: the machine's other work moves both.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from claimferry.config import Account, CredentialSettings, SftpSettings
from claimferry.connection import resolve_credentials
from claimferry.credentials import Credentials, SecretStr
from claimferry.credstore import MASTER_KEY_ENV, CredentialStore, load_master_key
from claimferry.ledger import CREDENTIALS_STORED, Ledger
from claimferry.manager import PluginManager
from claimferry_credentials.sources import env_prefix
from claimferry_harness.server import MockOfficeAlly


def account(name: str, source: str, sftp: SftpSettings | None = None) -> Account:
    return Account(
        name=name,
        clearinghouse="officeally",
        submitter_id="BENCH01",
        sftp=sftp,
        credentials=CredentialSettings(source=source),
    )


def fetch_all(
    server: MockOfficeAlly,
    work: Path,
    names: list[str],
    passwords: dict[str, str],
    jobs: int,
    repeat: int,
) -> dict[str, list[float]]:
    """Wall seconds of the real ``claimferry fetch --all`` with each source, runs
    interleaved so the machine's other work falls on both alike."""
    if not names:
        return {}
    configs = {}
    for source in ("env", "store"):
        config = work / f"accounts-{source}.yaml"
        sftp = {"host": server.host, "port": server.port, "host_key": server.host_key_openssh}
        accounts = {
            name: {
                "clearinghouse": "officeally",
                "submitter_id": f"S{n:05d}",
                "sftp": sftp,
                "credentials": {"source": source},
            }
            for n, name in enumerate(names)
        }
        config.write_text(yaml.safe_dump({"accounts": accounts}))
        configs[source] = config
    master = load_master_key()
    script = Path(sys.executable).with_name("claimferry")
    runs: dict[str, list[float]] = {"env": [], "store": []}
    for number in range(repeat):
        for source, config in configs.items():
            state = work / f"state-{source}-{number}"
            with Ledger.open(state) as ledger:
                store = CredentialStore(ledger.db)
                for name in names:
                    secret = Credentials(name, password=SecretStr(passwords[name]))
                    store.put(name, secret, master, actor="bench")
            command = [str(script), "--config", str(config), "fetch", "--all", "--json", "--jobs"]
            env = {**os.environ, "CLAIMFERRY_STATE_DIR": str(state)}
            started = time.perf_counter()
            done = subprocess.run(
                [*command, str(jobs)],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            runs[source].append(time.perf_counter() - started)
            if done.returncode != 0 or any("error" in r for r in json.loads(done.stdout or "[]")):
                sys.stderr.write(done.stderr[-2000:])
                raise SystemExit(f"fetch --all with source {source} failed")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument(
        "--fetch-accounts", type=int, default=50, help="accounts in the fetch --all runs (0: none)"
    )
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    names = [f"clinic{n:05d}" for n in range(args.accounts)]
    passwords = {name: secrets.token_urlsafe(18) for name in names}
    pm = PluginManager().load("builtin")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key_file = work / "master.key"
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
        os.environ.pop(MASTER_KEY_ENV, None)
        os.environ[f"{MASTER_KEY_ENV}_FILE"] = str(key_file)
        master = load_master_key()

        with Ledger.open(work / "state") as ledger:
            store = CredentialStore(ledger.db)
            started = time.perf_counter()
            for name in names:
                with ledger.transaction():
                    store.put(
                        name,
                        Credentials(name, password=SecretStr(passwords[name])),
                        master,
                        actor="bench",
                    )
                    ledger.audit(CREDENTIALS_STORED, account=name)
            set_seconds = time.perf_counter() - started

            started = time.perf_counter()
            for name in names:
                got = resolve_credentials(pm, account(name, "store"), ledger.db).password
                if got is None or got.get_secret_value() != passwords[name]:
                    raise SystemExit(f"{name}: the secret read back is not the one set")
            read_seconds = time.perf_counter() - started

            for name in names:
                os.environ[f"{env_prefix(name)}_USERNAME"] = name
                os.environ[f"{env_prefix(name)}_PASSWORD"] = passwords[name]
            started = time.perf_counter()
            for name in names:
                resolve_credentials(pm, account(name, "env"), ledger.db)
            env_seconds = time.perf_counter() - started

        server = MockOfficeAlly(work / "oa", {}).start()
        try:
            server.add_user("clinic", password=passwords[names[0]])
            sftp = SftpSettings(
                host=server.host, port=server.port, host_key=server.host_key_openssh, retries=0
            )
            login_account = account("clinic", "env", sftp)
            credentials = Credentials("clinic", password=SecretStr(passwords[names[0]]))
            transport = pm.get_transport(pm.get_clearinghouse("officeally").transport)
            logins = []
            for _ in range(args.logins):
                started = time.perf_counter()
                transport.open(login_account, credentials).close()
                logins.append(time.perf_counter() - started)
            fetch_names = names[: args.fetch_accounts]
            for name in fetch_names:
                server.add_user(name, password=passwords[name])
            fetch_runs = fetch_all(server, work, fetch_names, passwords, args.jobs, args.repeat)
        finally:
            server.stop()

    n = args.accounts
    unwrap = read_seconds / n
    login = statistics.median(logins)
    print(f"accounts: {n}")
    for label, seconds in (
        ("set   (store, one transaction each)  ", set_seconds),
        ("read  (store: key file, unwrap, open)", read_seconds),
        ("read  (env, the reference)           ", env_seconds),
    ):
        print(f"{label}: {seconds:8.2f} s  {seconds / n * 1e3:8.3f} ms/account")
    print(f"SFTP login to the mock (median of {args.logins}): {login * 1e3:8.3f} ms")
    print(f"one SFTP login = {login / unwrap:,.0f} store reads")
    print(f"store read / env read = {read_seconds / env_seconds:.1f}x")
    if fetch_runs:
        env_best, store_best = min(fetch_runs["env"]), min(fetch_runs["store"])
        print(
            f"claimferry fetch --all, {args.fetch_accounts} accounts, --jobs {args.jobs} "
            f"(best of {args.repeat}): env {env_best:.2f} s, store {store_best:.2f} s, "
            f"store / env = {store_best / env_best:.2f}x"
        )
    share = unwrap / (unwrap + login)
    print(f"unwrapping is {share:.2%} of an account's login in fetch --all")
    if share > 0.05:
        print("FAIL: unwrapping is more than 5% of a login", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
