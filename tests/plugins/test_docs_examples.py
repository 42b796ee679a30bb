"""The examples in docs/plugins.md work: each is run as a plugin module and used.

A block fenced as ```python title="example: <hook>"``` is a complete plugin.
It is executed into a module of its own, registered on a fresh plugin manager
(no entry point loaded) and its registrations are used the way claimferry
uses them, through the manager's typed lookups.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import shlex
import shutil
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from claimferry.api import (
    Account,
    CredentialError,
    Credentials,
    DeliveryState,
    FileNaming,
    InputError,
    ResponseDocument,
    SecretStr,
    Severity,
    TransportSession,
    ValidationContext,
)
from claimferry.claims_input import load_claims
from claimferry.cli import create_cli
from claimferry.cli.app import ClaimferryGroup
from claimferry.manager import PluginManager
from e2e.conftest import e2e as e2e  # the end-to-end world, as tests/e2e uses it
from e2e.support import ACCOUNT, E2E, RESPONSE_MARKERS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
SAMPLE_CLAIMS = Path(__file__).resolve().parents[2] / "core/claimferry/data/sample_claims.yaml"
BLOCK = re.compile(r'^```python title="example: (\w+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def examples() -> dict[str, str]:
    return dict(BLOCK.findall(GUIDE.read_text(encoding="utf-8")))


def _module(hook: str, source: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A real module (in ``sys.modules`` for the test), as an installed plugin would be."""
    module = types.ModuleType(f"docs_example_{hook}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(source, f"{GUIDE}:example {hook}", "exec"), module.__dict__)
    return module


@pytest.fixture
def load_examples(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., PluginManager]]:
    """``load_examples(hook, ...)``: a fresh manager holding those examples only."""
    for var in ("CLAIMFERRY_BLOCK_PLUGINS", "CLAIMFERRY_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    pm = PluginManager().load("none")
    found = examples()

    def load(*hooks: str) -> PluginManager:
        for hook in hooks:
            pm.register_plugin(_module(hook, found[hook], monkeypatch), name=f"docs-{hook}")
        return pm

    try:
        yield load
    finally:
        for name, plugin in list(pm.list_name_plugin()):
            pm.unregister(plugin, name=name)


def _account(**credentials: object) -> Account:
    return Account.model_validate(
        {
            "name": "sunrise",
            "clearinghouse": "myhouse",
            "submitter_id": "SUNRISE01",
            "credentials": credentials,
        }
    )


def test_every_hook_has_one_example() -> None:
    from claimferry import hookspecs

    hooks = {name for name in dir(hookspecs.ClaimferrySpecs) if name.startswith("claimferry_")}
    assert set(examples()) == hooks


def test_credential_source_example(
    load_examples: Callable[..., PluginManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    pm = load_examples("claimferry_credential_sources")
    source = pm.get_credential_source("myvault")
    account = _account(source="myvault", prefix="CLINIC")
    with pytest.raises(CredentialError, match="set CLINIC_USER and CLINIC_PASSWORD"):
        source.resolve(account)
    monkeypatch.setenv("CLINIC_USER", "clinic")
    monkeypatch.setenv("CLINIC_PASSWORD", "s3cret-test-only")
    credentials = source.resolve(account)
    assert credentials.username == "clinic"
    assert credentials.password is not None
    assert credentials.password.get_secret_value() == "s3cret-test-only"
    assert "s3cret" not in repr(credentials)


def test_enrollment_validator_example(load_examples: Callable[..., PluginManager]) -> None:
    pm = load_examples("claimferry_enrollment_validators")
    (validator,) = pm.enrollment_validators()
    assert validator.name == "acme-rules"
    claims = load_claims(SAMPLE_CLAIMS).claims
    context = ValidationContext(account=None, today=date(2026, 12, 1))
    assert list(validator.check(claims, context)) == []
    telehealth = replace(
        claims[0], payer=replace(claims[0].payer, id="ACME1"), place_of_service="02"
    )
    (finding,) = validator.check([telehealth, *claims[1:]], context)
    assert (finding.severity, finding.code, finding.claim_id, finding.field) == (
        Severity.ERROR,
        "ACME-POS",
        claims[0].id,
        "place_of_service",
    )


def test_claim_transport_example(
    load_examples: Callable[..., PluginManager], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pm = load_examples("claimferry_claim_transports")
    transport = pm.get_transport("dropbox")
    monkeypatch.setenv("DROPBOX_DIR", str(tmp_path))
    credentials = Credentials(username="clinic", password=SecretStr("unused-by-a-folder"))
    session = transport.open(_account(source="env"), credentials)
    try:
        assert isinstance(session, TransportSession)
        receipt = session.upload(b"ISA*...~", "batch_000000001.837")
        assert receipt.size == 8
        assert [p.name for p in (tmp_path / "outgoing").iterdir()] == ["batch_000000001.837"]
        assert session.delivery_state("batch_000000001.837", 8, receipt.sha256) is (
            DeliveryState.DELIVERED
        )
        assert session.delivery_state("batch_000000002.837", 8, "0" * 64) is DeliveryState.ABSENT
        (tmp_path / "incoming" / "answer.999").write_bytes(b"999")
        assert [(f.name, f.size) for f in session.list_responses()] == [("answer.999", 3)]
        assert session.download("answer.999") == b"999"
    finally:
        session.close()


def test_clearinghouse_example(load_examples: Callable[..., PluginManager]) -> None:
    pm = load_examples("claimferry_clearinghouses", "claimferry_claim_transports")
    house = pm.get_clearinghouse("myhouse")
    assert pm.get_transport(house.transport).name == "dropbox"
    assert house.receiver.isa_id == "MYHOUSE"
    naming = FileNaming("sunrise", "SUNRISE01", test=True, interchange_control_number=12)
    assert house.claim_file_name(naming) == "SUNRISE01_000000012_TEST.837"


def test_response_reader_example(
    load_examples: Callable[..., PluginManager], tmp_path: Path
) -> None:
    pm = load_examples("claimferry_response_readers")
    (reader,) = pm.response_readers()
    report_file = tmp_path / "20261201.status"
    report_file.write_text("SUN-1001|PAYER ID UNKNOWN\n")
    assert reader.matches(report_file.name, b"SUN-1001|")
    assert not reader.matches("100000001_999_20261201.999", b"ISA*")
    report = reader.read(report_file)
    assert isinstance(report, ResponseDocument)
    (update,) = report.claim_updates()
    assert (update.claim_id, update.state, update.detail) == (
        "SUN-1001",
        "rejected",
        "PAYER ID UNKNOWN",
    )
    assert report.to_dict() == {"kind": "MYHOUSE_STATUS", "rejected": 1}
    report_file.write_text("not a status line\n")
    with pytest.raises(InputError, match="line 1: expected CLAIM-ID"):
        reader.read(report_file)


def test_cli_command_example(load_examples: Callable[..., PluginManager]) -> None:
    pm = load_examples("claimferry_cli_commands", "claimferry_clearinghouses")
    assert [c.name for c in pm.cli_commands()] == ["clearinghouses"]
    result = CliRunner().invoke(create_cli(pm), ["clearinghouses", "--json"])
    assert result.exit_code == 0, result.output
    assert '"clearinghouses": [\n    "myhouse"\n  ]' in result.output


# -- the command examples in README.md and docs/*.md ----------------------------------

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```$", re.MULTILINE | re.DOTALL)
"""A fenced block, also one indented under a list item."""
SHELL_FENCES = {"", "console", "sh", "bash", "shell"}
NOT_OFFLINE = {
    ("harness", "serve"): (
        "binds the fixed port 2222 and serves until stopped; tests/harness/test_harness_cli.py "
        "runs serve with --users"
    ),
    ("accounts", "add"): (
        "the mock's config already holds the account; tests/core/test_accounts_cli.py adds "
        "accounts with flags and at prompts"
    ),
    ("credentials", "set"): (
        "asks for the SFTP username and password at no-echo prompts; "
        "tests/e2e/test_credential_store.py sets them through stdin and uses them"
    ),
    ("credentials", "new-master-key"): (
        "writes under /etc/claimferry; tests/core/test_credstore.py makes keys in a "
        "temporary folder"
    ),
    ("onboard", "request-sftp"): (
        "needs the account's onboarding settings, which the mock's config leaves out; "
        "tests/e2e/test_onboarding.py writes the request and tests/core/test_onboarding.py "
        "the missing settings"
    ),
    ("onboard", "promote"): (
        "needs every step to production done (enrollment, an accepted test file); "
        "tests/e2e/test_onboarding.py takes a clinic there and promotes it"
    ),
    ("secondary", "build"): (
        "needs a claim the payer processed as primary with another payer on file; "
        "tests/e2e/test_secondary.py runs it end to end against the mock"
    ),
    ("batches", "resend"): (
        "needs a batch whose delivery is uncertain; tests/recovery/test_crash_recovery.py runs it"
    ),
    ("batches", "abandon"): (
        "needs a batch whose delivery is uncertain; tests/recovery/test_crash_recovery.py runs it"
    ),
    ("db", "copy"): (
        "copies into the reader's own PostgreSQL server; tests/core/test_database_backends.py "
        "copies a ledger to a real server and back"
    ),
    ("worker",): (
        "runs until stopped, on a PostgreSQL ledger; tests/e2e/test_workers.py runs workers "
        "against the mock"
    ),
    ("enqueue", "submit"): (
        "needs the ledger on PostgreSQL; tests/e2e/test_workers.py queues submits"
    ),
    (
        "enqueue",
        "fetch",
    ): "needs the ledger on PostgreSQL; tests/e2e/test_workers.py queues fetches",
    ("queue", "status"): "needs the ledger on PostgreSQL; tests/e2e/test_workers.py reads it",
}
"""Examples that cannot run against a fresh mock, with the reason and where they are tested."""
PLACEHOLDERS = {
    "archive/sunrise/sent/FILE.837": "archive/sunrise/sent/*",
    "archive/sunrise/received/FILE.835": "archive/sunrise/received/*_ERA_835_*",
}
"""Names the docs leave to the reader, and the archived file each stands for."""


def command_examples(doc: Path) -> list[str]:
    """Each ``claimferry ...`` line of the doc's shell blocks, continuations joined,
    without a ``$`` prompt."""
    found = []
    for language, body in FENCE.findall(doc.read_text(encoding="utf-8")):
        if language not in SHELL_FENCES:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("claimferry "):
                found.append(line)
    return found


def is_synopsis(example: str) -> bool:
    """``claimferry payers search TEXT [--limit 20]``: a command's shape, not a run."""
    return any(mark in example for mark in ("[", "|", "..."))


@functools.cache
def _installed_cli() -> click.Group:
    """The CLI with the installed plugins' commands, as users have it."""
    cli = create_cli(PluginManager().load())
    assert isinstance(cli, ClaimferryGroup)
    cli.load_all()  # walked below: every listed command imported
    return cli


def _command_path(words: list[str]) -> tuple[list[str], click.Command]:
    command: click.Command = _installed_cli()
    path: list[str] = []
    for word in words:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        path.append(word)
        command = command.commands[word]
    return path, command


def _runnable(doc: Path) -> list[list[str]]:
    """The doc's examples to run; one that reads a file a skipped example writes
    (``-o FILE``) is skipped with it."""
    runs = []
    unwritten: set[str] = set()
    for example in command_examples(doc):
        argv = shlex.split(example, comments=True)[1:]
        if is_synopsis(example):
            continue
        if tuple(_command_path(argv)[0]) in NOT_OFFLINE or unwritten & set(argv):
            unwritten.update(argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "-o")
            continue
        runs.append(argv)
    return runs


def test_the_docs_have_command_examples() -> None:
    """The extraction finds what a reader sees, and the skip-list names real examples."""
    readme = command_examples(ROOT / "README.md")
    assert "claimferry status --claim SUN-1001                      # one claim's history" in (
        readme
    )
    assert any(e.startswith("claimferry enrollment set --account sunrise") for e in readme)
    everywhere = [shlex.split(e, comments=True)[1:] for d in DOCS for e in command_examples(d)]
    paths = {tuple(_command_path(argv)[0]) for argv in everywhere}
    assert set(NOT_OFFLINE) <= paths
    assert sum(len(_runnable(d)) for d in DOCS) >= 30


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_synopses_name_real_commands_and_options(doc: Path) -> None:
    """``claimferry payers search TEXT [--transaction ...]``: the command and each
    option it names exist."""
    for example in filter(is_synopsis, command_examples(doc)):
        words = example.split()[1:]
        path, command = _command_path(words)
        assert path, f"{doc.name}: {example!r} names no command"
        known = {opt for param in command.params for opt in param.opts}
        named = set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", example))
        assert named <= known, f"{doc.name}: {example!r}: {sorted(named - known)} unknown"


@pytest.fixture
def docs_world(e2e: E2E, samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> E2E:
    """Account ``sunrise`` on the mock, master keys for the credential store; the
    working folder is the state directory (the docs' ``archive/...`` paths), with
    ``claims.yaml`` and ``payer_list.csv``."""
    e2e.state_dir.mkdir()
    monkeypatch.chdir(e2e.state_dir)
    # the master keys the docs' blocks export for the credential store
    for name in ("CLAIMFERRY_MASTER_KEY", "CLAIMFERRY_NEW_MASTER_KEY"):
        monkeypatch.setenv(name, base64.b64encode(os.urandom(32)).decode())
    shutil.copy(SAMPLE_CLAIMS, "claims.yaml")
    shutil.copy(samples_dir / "officeally_payer_list.csv", "payer_list.csv")
    return e2e


def _submitted(world: E2E) -> None:
    """What the clearinghouse does between the docs' commands: it answers the upload."""
    world.wait_answered(len(RESPONSE_MARKERS))


@pytest.mark.parametrize("doc", [d for d in DOCS if _runnable(d)], ids=lambda d: d.name)
def test_command_examples_run(doc: Path, docs_world: E2E) -> None:
    """Each runnable example exits 0 against the mock, in the doc's order. A doc that
    does not submit itself reads a ledger that one submit and fetch filled, with the
    payer list imported."""
    runs = _runnable(doc)
    if not any(argv[0] == "submit" for argv in runs):
        docs_world.ok("payers", "import", "payer_list.csv")
        docs_world.ok("submit", "claims.yaml", "--account", ACCOUNT)
        _submitted(docs_world)
        docs_world.ok("fetch", "--account", ACCOUNT)
    for argv in runs:
        argv = [_placeholder(word) for word in argv]
        argv, redirect = (argv[: argv.index(">")], argv[-1]) if ">" in argv else (argv, None)
        result = docs_world.run(*argv)
        assert result.exit_code == 0, (
            f"{doc.name}: claimferry {' '.join(argv)} exited {result.exit_code}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        if redirect is not None:
            Path(redirect).write_text(result.stdout)
        if argv[0] == "submit":
            _submitted(docs_world)


def _placeholder(word: str) -> str:
    pattern = PLACEHOLDERS.get(word)
    if pattern is None:
        return word
    (found,) = Path().glob(pattern)
    return str(found)


def test_notifier_example(load_examples: Callable[..., PluginManager], tmp_path: Path) -> None:
    from claimferry.api import Alert, AlertKind, Digest

    pm = load_examples("claimferry_notifiers")
    notifier = pm.get_notifier("jsonl")
    assert list(notifier.check({"path": "alerts.txt"}) if notifier.check else []) == [
        ("path", "expected a .jsonl file")
    ]
    alert = Alert(AlertKind.CLAIM_DENIED, "sunrise", "2026-12-01T10:00:00+00:00", "SUN-1")
    digest = Digest("d1", "sunrise", "2026-12-01T10:00:00+00:00", (alert,))
    path = tmp_path / "alerts.jsonl"
    notifier.send(digest, {"path": str(path)})
    assert '"claim": "SUN-1"' in path.read_text()
    assert '"kind": "claim_denied"' in path.read_text()
