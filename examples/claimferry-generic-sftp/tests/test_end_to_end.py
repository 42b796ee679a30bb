"""``claimferry submit``, ``fetch`` and ``status`` for an ACME account, in process, against
the mock told ACME's folders and claim-file names: the plugin has no SFTP code of its own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import claimferry
import pytest
import yaml
from claimferry.api import PluginManager, create_cli, load_claims
from click.testing import CliRunner, Result

from conftest import ANSWER_PATTERN, INBOUND, OUTBOUND, RESPONSES

if TYPE_CHECKING:
    from claimferry_harness import MockOfficeAlly, ResponseWaiter
    from claimferry_harness.users import HarnessLogin

    from conftest import SecretCommand

pytestmark = pytest.mark.oa_harness(
    inbound=INBOUND, outbound=OUTBOUND, answer_pattern=ANSWER_PATTERN
)

SAMPLE_CLAIMS = Path(claimferry.__file__).parent / "data" / "sample_claims.yaml"


def _invoke(pm: PluginManager, *args: str) -> Result:
    result = CliRunner().invoke(create_cli(pm), list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _json(pm: PluginManager, *args: str) -> Any:
    return json.loads(_invoke(pm, *args, "--json").stdout)


def test_submit_fetch_status(
    pm: PluginManager,
    profiles: Path,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    secret_command: SecretCommand,
    wait_for_responses: ResponseWaiter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = secret_command(f"{oa_user.password}\nusername: {oa_user.username}\n")
    config = tmp_path / "accounts.yaml"
    account: dict[str, Any] = {
        "clearinghouse": "acme",
        "submitter_id": "SUNRISE01",
        "mode": "test",
        "contact": {"name": "Billing Office", "phone": "2175550100"},
        "credentials": {"source": "command", "command": command},
    }
    config.write_text(yaml.safe_dump({"accounts": {"sunrise": account}}), encoding="utf-8")
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    claim_ids = [claim.id for claim in load_claims(SAMPLE_CLAIMS).claims]

    _invoke(pm, "submit", str(SAMPLE_CLAIMS), "--account", "sunrise", "--no-enrollment-check")
    inbound = oa_harness.inbound_dir(oa_user.username)
    assert [p.name for p in inbound.iterdir()] == ["SUNRISE01_000000001_test.x12"]

    on_server = wait_for_responses(predicate=_has(r"_ERA_835_5010_"))
    fetched = _json(pm, "fetch", "--account", "sunrise")
    names = sorted(f["name"] for f in fetched[0]["files"])
    assert names == sorted(p.name for p in on_server if _is_acme_response(p.name))
    assert not any("EDI_STATUS" in name for name in names)  # Office Ally's, not ACME's

    claims = {c["claim"]: c for c in _json(pm, "status", "--account", "sunrise")["claims"]}
    assert sorted(claims) == sorted(claim_ids)
    # the sample claims trigger no rule of the mock: its 999, 277CAs and 835 pay them all
    assert {c["state"] for c in claims.values()} == {"paid"}, claims


def _is_acme_response(name: str) -> bool:
    return re.fullmatch(RESPONSES, name) is not None


def _has(marker: str) -> Callable[[list[Path]], bool]:
    return lambda files: any(marker in p.name for p in files)
