"""The examples in docs/plugins.md work: each is run as a plugin module and used.

A block fenced as ```python title="example: <hook>"``` is a complete plugin.
It is executed into a module of its own, registered on a fresh plugin manager
(no entry point loaded) and its registrations are used the way claimferry
uses them, through the manager's typed lookups.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

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
from claimferry.claims import load_claims
from claimferry.cli import create_cli
from claimferry.manager import PluginManager

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
