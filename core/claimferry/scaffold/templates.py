"""The files ``claimferry plugin new`` writes, per kind (see :mod:`claimferry.scaffold`)."""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "A claimferry plugin (__KIND__): __TITLE__"
readme = "README.md"
requires-python = ">=3.11"
classifiers = ["Typing :: Typed"]
dependencies = ["claimferry"]

[project.optional-dependencies]
test = ["pytest>=8", "pyyaml>=6"]

# What makes this a claimferry plugin: an entry point in the `claimferry`
# group naming the module that holds the @hookimpl functions.
[project.entry-points.claimferry]
__NAME__ = "__PACKAGE__.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
__PACKAGE__ = ["py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src", "tests"]
addopts = "-ra --strict-markers --import-mode=importlib"

[tool.mypy]
python_version = "3.11"
mypy_path = ["src", "tests"]
explicit_package_bases = true
strict = true
"""

TOX = """\
[tox]
requires = tox>=4
env_list = py, type

[testenv]
description = the plugin's tests, against claimferry's mock clearinghouse
extras = test
commands = pytest {posargs}

[testenv:type]
description = mypy --strict
deps =
    mypy
    types-PyYAML
extras = test
commands = mypy src tests
"""

README = """\
# __DIST__

A [claimferry](https://github.com/) plugin (__KIND__), written by
`claimferry plugin new __NAME__ --kind __KIND__`. The plugin author's guide is
claimferry's docs/plugins.md.

```console
pip install -e '.[test]'      # next to claimferry
pytest                        # its tests, against claimferry's mock server
pip install mypy types-PyYAML && mypy src tests   # strict (or: tox -e type)
claimferry plugins            # lists __NAME__
```

Everything it imports from claimferry comes from `claimferry.api`. Search for
`CHANGE` to find what to fill in.
"""

CONFTEST = '''\
"""A fresh plugin manager for each test: this plugin and claimferry's built-in
ones, nothing else installed on the machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from claimferry.api import PluginManager

from __PACKAGE__ import plugin


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginManager]:
    for var in ("CLAIMFERRY_BLOCK_PLUGINS", "CLAIMFERRY_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    manager = PluginManager().load("builtin")
    manager.register_plugin(plugin, name="__NAME__")
    try:
        yield manager
    finally:
        manager.unregister(plugin, name="__NAME__")
'''

COMMON = {
    "pyproject.toml": PYPROJECT,
    "tox.ini": TOX,
    "README.md": README,
    "tests/conftest.py": CONFTEST,
    "src/__PACKAGE__/__init__.py": '"""claimferry plugin: __TITLE__."""\n',
    "src/__PACKAGE__/py.typed": "",
}

CLEARINGHOUSE_PLUGIN = '''\
"""The __TITLE__ clearinghouse: a profile on claimferry's shared SFTP mailbox.

The transport is claimferry's: host key checked before login, one login
attempt, temporary name then rename, delivery state, bounded retries. This
module only describes the clearinghouse. CHANGE the receiver IDs, folders and
names to what its companion guide says.
"""

from __future__ import annotations

from collections.abc import Iterator

from claimferry.api import (
    ClaimTransport,
    Clearinghouse,
    FileNaming,
    Mailbox,
    Receiver,
    hookimpl,
    mailbox_transport,
)

TRANSPORT_NAME = "__NAME__-sftp"
INBOUND = "to___NAME__"
OUTBOUND = "from___NAME__"
RESPONSES = r"[^.].*\\.(?:999|277|835|ta1)"
"""Which files in its outbound folder are its responses (the whole name, case-blind)."""


def claim_file_name(naming: FileNaming) -> str:
    """Unique per batch: the control number is never reused in an account."""
    mode = "T" if naming.test else "P"
    return f"{naming.submitter_id}_{naming.interchange_control_number:09d}_{mode}.x12"


PROFILE = Clearinghouse(
    name="__NAME__",
    label="__TITLE__",
    receiver=Receiver(
        isa_qualifier="ZZ", isa_id="CHANGEME", gs_id="CHANGEME", name="CHANGE ME", id="CHANGEME"
    ),
    transport=TRANSPORT_NAME,
    claim_file_name=claim_file_name,
    description="__TITLE__ over SFTP",
    mailbox=Mailbox(inbound=INBOUND, outbound=OUTBOUND, responses=RESPONSES),
)


@hookimpl
def claimferry_clearinghouses() -> Iterator[Clearinghouse]:
    yield PROFILE


@hookimpl
def claimferry_claim_transports() -> Iterator[ClaimTransport]:
    yield mailbox_transport(TRANSPORT_NAME, PROFILE, description=PROFILE.description)
'''

CLEARINGHOUSE_TESTS = '''\
"""``claimferry submit``, ``fetch`` and ``status`` for an account of this clearinghouse,
against claimferry's mock server told its folders and claim-file names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import claimferry
import pytest
import yaml
from claimferry.api import FileNaming, PluginManager, create_cli, load_claims
from claimferry_harness import MockOfficeAlly, PinnedHostKey, ResponseWaiter
from claimferry_harness.users import HarnessLogin
from click.testing import CliRunner

from __PACKAGE__.plugin import INBOUND, OUTBOUND, PROFILE

ANSWER_PATTERN = r"_\\d{9}_[TP]\\.x12$"
"""How the clearinghouse recognises a claim file: the mock answers only these."""

pytestmark = pytest.mark.oa_harness(
    inbound=INBOUND, outbound=OUTBOUND, answer_pattern=ANSWER_PATTERN
)

SAMPLE_CLAIMS = Path(claimferry.__file__).parent / "data" / "sample_claims.yaml"


def test_file_names() -> None:
    naming = FileNaming("sunrise", "SUNRISE01", test=True, interchange_control_number=7)
    assert PROFILE.claim_file_name(naming) == "SUNRISE01_000000007_T.x12"


def _run(pm: PluginManager, *args: str) -> Any:
    result = CliRunner().invoke(create_cli(pm), [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_submit_fetch_status(
    pm: PluginManager,
    oa_harness: MockOfficeAlly,
    oa_user: HarnessLogin,
    oa_host_key: PinnedHostKey,
    wait_for_responses: ResponseWaiter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = {
        "clearinghouse": "__NAME__",
        "submitter_id": "SUNRISE01",
        "mode": "test",
        "contact": {"name": "Billing Office", "phone": "2175550100"},
        "credentials": {"source": "env"},
        "sftp": {"host": oa_harness.host, "port": oa_harness.port, "host_key": oa_host_key.openssh},
    }
    config = tmp_path / "accounts.yaml"
    config.write_text(yaml.safe_dump({"accounts": {"sunrise": account}}), encoding="utf-8")
    monkeypatch.setenv("CLAIMFERRY_CONFIG", str(config))
    monkeypatch.setenv("CLAIMFERRY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_USERNAME", oa_user.username)
    monkeypatch.setenv("CLAIMFERRY_SUNRISE_SFTP_PASSWORD", oa_user.password)

    _run(pm, "submit", str(SAMPLE_CLAIMS), "--account", "sunrise", "--no-enrollment-check")
    sent = [p.name for p in oa_harness.inbound_dir(oa_user.username).iterdir()]
    assert sent == ["SUNRISE01_000000001_T.x12"]

    wait_for_responses(predicate=lambda files: any(p.suffix == ".835" for p in files))
    fetched = _run(pm, "fetch", "--account", "sunrise")
    kinds = {f["kind"] for f in fetched[0]["files"]}
    assert kinds == {"999", "277CA", "835"}

    claims = _run(pm, "status", "--account", "sunrise")["claims"]
    expected = {claim.id for claim in load_claims(SAMPLE_CLAIMS).claims}
    assert {c["claim"]: c["state"] for c in claims} == dict.fromkeys(expected, "paid")
'''

CREDENTIALS_PLUGIN = '''\
"""The ``__NAME__`` credential source: an SFTP username and password from a private file.

The file holds ``username: ...`` and ``password: ...`` lines. claimferry's
``read_private_file`` refuses it unless only its owner (you) can read it, and
refuses a symbolic link. No secret ever reaches a message.
CHANGE this to read from where your secrets live.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from claimferry.api import (
    Account,
    CredentialError,
    Credentials,
    CredentialSource,
    SecretStr,
    hookimpl,
    read_private_file,
)


def resolve(account: Account) -> Credentials:
    settings = account.credentials.settings if account.credentials is not None else {}
    path = settings.get("path")
    if not isinstance(path, str) or not path:
        raise CredentialError(f"account {account.name}: credentials.path names no file")
    text = read_private_file(Path(path).expanduser(), "__NAME__ credentials file")
    values = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            values[key.strip().lower()] = value.strip()
    if not values.get("username") or not values.get("password"):
        raise CredentialError(
            f"account {account.name}: {path} needs a 'username:' and a 'password:' line"
        )
    return Credentials(username=values["username"], password=SecretStr(values["password"]))


SOURCE = CredentialSource(
    name="__NAME__",
    resolve=resolve,
    description="username and password from a private file (credentials.path)",
    settings=("path",),
)


@hookimpl
def claimferry_credential_sources() -> Iterator[CredentialSource]:
    yield SOURCE
'''

CREDENTIALS_TESTS = '''\
"""The credential source, as claimferry uses it: through the plugin manager."""

from __future__ import annotations

from pathlib import Path

import pytest
from claimferry.api import Account, CredentialError, PluginManager


def _account(path: Path) -> Account:
    return Account.model_validate(
        {
            "name": "sunrise",
            "clearinghouse": "officeally",
            "submitter_id": "SUNRISE01",
            "credentials": {"source": "__NAME__", "path": str(path)},
        }
    )


def _secrets(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "sftp.txt"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_reads_a_private_file(pm: PluginManager, tmp_path: Path) -> None:
    path = _secrets(tmp_path, "username: clinic\\npassword: s3cret-for-tests\\n")
    credentials = pm.get_credential_source("__NAME__").resolve(_account(path))
    assert credentials.username == "clinic"
    assert credentials.password is not None
    assert credentials.password.get_secret_value() == "s3cret-for-tests"


def test_refuses_a_file_others_can_read(pm: PluginManager, tmp_path: Path) -> None:
    path = _secrets(tmp_path, "username: clinic\\npassword: s3cret-for-tests\\n", 0o644)
    with pytest.raises(CredentialError) as caught:
        pm.get_credential_source("__NAME__").resolve(_account(path))
    assert "s3cret-for-tests" not in str(caught.value)


def test_a_file_without_a_password_is_named(pm: PluginManager, tmp_path: Path) -> None:
    path = _secrets(tmp_path, "username: clinic\\n")
    with pytest.raises(CredentialError, match="needs a 'username:' and a 'password:' line"):
        pm.get_credential_source("__NAME__").resolve(_account(path))
'''

VALIDATOR_PLUGIN = '''\
"""The ``__NAME__`` validator: checks claims before anything is built or sent.

CHANGE the rule: this one wants every payer ID to be 5 letters or digits.
A finding names the claim and the field, never patient data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from claimferry.api import (
    Claim,
    EnrollmentValidator,
    Finding,
    Severity,
    ValidationContext,
    hookimpl,
)

_PAYER_ID = re.compile(r"^[A-Z0-9]{5}$")


def check(claims: Sequence[Claim], context: ValidationContext) -> Iterable[Finding]:
    for claim in claims:
        if not _PAYER_ID.match(claim.payer.id):
            yield Finding(
                Severity.ERROR,
                "__NAME__-payer-id",
                "the payer ID must be 5 letters or digits; look it up in the payer list",
                claim_id=claim.id,
                field="payer.id",
            )


VALIDATOR = EnrollmentValidator(
    name="__NAME__",
    check=check,
    description="payer IDs are 5 letters or digits",
    kind="content",
)


@hookimpl
def claimferry_enrollment_validators() -> Iterator[EnrollmentValidator]:
    yield VALIDATOR
'''

VALIDATOR_TESTS = '''\
"""The validator on claimferry's sample claims, and on a claim it must refuse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import claimferry
import yaml
from claimferry.api import PluginManager, ValidationContext, load_claims

SAMPLE_CLAIMS = Path(claimferry.__file__).parent / "data" / "sample_claims.yaml"
CONTEXT = ValidationContext(account=None, today=date(2026, 12, 1))


def test_sample_claims_pass(pm: PluginManager) -> None:
    validator = next(v for v in pm.enrollment_validators() if v.name == "__NAME__")
    assert list(validator.check(load_claims(SAMPLE_CLAIMS).claims, CONTEXT)) == []


def test_a_bad_payer_id_is_found(pm: PluginManager, tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE_CLAIMS.read_text(encoding="utf-8"))
    data["claims"][0]["payer"]["id"] = "12-34"
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    claims = load_claims(path).claims
    validator = next(v for v in pm.enrollment_validators() if v.name == "__NAME__")
    findings = list(validator.check(claims, CONTEXT))
    assert [(f.claim_id, f.field) for f in findings] == [(claims[0].id, "payer.id")]
'''

KINDS: dict[str, dict[str, str]] = {
    "clearinghouse": {
        "src/__PACKAGE__/plugin.py": CLEARINGHOUSE_PLUGIN,
        "tests/test_plugin.py": CLEARINGHOUSE_TESTS,
    },
    "credentials": {
        "src/__PACKAGE__/plugin.py": CREDENTIALS_PLUGIN,
        "tests/test_plugin.py": CREDENTIALS_TESTS,
    },
    "validator": {
        "src/__PACKAGE__/plugin.py": VALIDATOR_PLUGIN,
        "tests/test_plugin.py": VALIDATOR_TESTS,
    },
}
"""Per kind: relative path (``__PACKAGE__`` filled in) to template."""
