"""Clearinghouse profiles read from one YAML file, so a new clearinghouse needs no code.

The file is named by ``CLAIMFERRY_GENERIC_SFTP_CONFIG``; without it this plugin
registers no clearinghouse (its transport and credential source still work).
Every problem in the file is reported at once, naming the file and the key.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from claimferry.api import (
    Clearinghouse,
    FileNaming,
    InputError,
    Mailbox,
    Problem,
    Receiver,
    SftpSettings,
    problems_from_validation_error,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_ENV = "CLAIMFERRY_GENERIC_SFTP_CONFIG"
TRANSPORT_NAME = "generic-sftp"

NAMING_FIELDS = frozenset({"submitter_id", "account", "control_number", "mode"})
"""What a ``file_name`` pattern may use; ``mode`` is ``test`` or ``production``."""

_ISA_ID = r"^[A-Za-z0-9 ]{1,15}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReceiverIds(_Strict):
    """The clearinghouse's identifiers in the 837P envelope."""

    isa_qualifier: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]
    isa_id: Annotated[str, Field(pattern=_ISA_ID)]
    gs_id: Annotated[str, Field(pattern=_ISA_ID)]
    name: Annotated[str, Field(min_length=1, max_length=60)]
    id: Annotated[str, Field(min_length=2, max_length=80)]


class Profile(_Strict):
    """One clearinghouse: envelope IDs, file naming, its responses and its SFTP server."""

    description: str = ""
    label: str = ""
    """The name people know it by, used in messages (``ACME Claims``)."""
    receiver: ReceiverIds
    submitter_qualifier: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")] = "ZZ"
    file_name: str
    responses: str = r"[^.].*"
    """Which files in outbound are its responses (a regular expression for the
    whole name); by default every name not hidden (hidden: still being written)."""
    login_hint: str = ""
    sftp: SftpSettings

    @field_validator("file_name")
    @classmethod
    def _pattern(cls, value: str) -> str:
        check_file_name_pattern(value)
        return value

    @field_validator("responses")
    @classmethod
    def _responses(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


ProfileName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")]
"""What accounts put in ``clearinghouse:``; the core's rule for registration names."""


class ProfilesFile(_Strict):
    clearinghouses: dict[ProfileName, Profile]


def check_file_name_pattern(pattern: str) -> None:
    """Refuse patterns that could not name every batch uniquely and safely."""
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid pattern: {exc}") from None
    unknown = sorted(used - NAMING_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}; use {', '.join(sorted(NAMING_FIELDS))}"
        )
    if "control_number" not in used:
        raise ValueError("must contain {control_number}, which makes every batch's name unique")
    try:
        sample = pattern.format(
            submitter_id="SUBMITTER", account="account", control_number=1, mode="test"
        )
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"cannot be filled in: {exc}") from None
    if not is_plain_file_name(sample):
        raise ValueError("must make a plain file name: no '/', no leading '.', no '..'")


def is_plain_file_name(name: str) -> bool:
    """A name inside one folder that no server would take as a hidden or temporary file."""
    return (
        bool(name)
        and name == name.strip()
        and not name.startswith(".")
        and not any(c in name for c in "/\\\x00")
    )


def make_namer(pattern: str) -> Callable[[FileNaming], str]:
    """``claim_file_name`` for a profile: fills the pattern in from the batch."""

    def claim_file_name(naming: FileNaming) -> str:
        name = pattern.format(
            submitter_id=naming.submitter_id,
            account=naming.account,
            control_number=naming.interchange_control_number,
            mode="test" if naming.test else "production",
        )
        if not is_plain_file_name(name):
            raise InputError(
                [
                    Problem(
                        "config",
                        f"accounts.{naming.account}",
                        "the clearinghouse's file_name pattern makes a name that is not a "
                        "plain file name with this account's submitter_id or name",
                    )
                ]
            )
        return name

    return claim_file_name


def config_path() -> Path | None:
    raw = os.environ.get(CONFIG_ENV)
    return Path(raw).expanduser() if raw else None


def load_profiles(path: Path) -> dict[str, Profile]:
    """Read and check the profiles file; every problem is reported at once."""
    source = str(path)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([Problem(source, "", f"not found (named by {CONFIG_ENV})")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(source, "", f"cannot read: {exc.__class__.__name__}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise InputError([Problem(source, where, "not valid YAML")]) from None
    try:
        profiles = ProfilesFile.model_validate(data).clearinghouses
    except ValidationError as exc:
        raise InputError(problems_from_validation_error(exc, source)) from None
    return profiles


def configured_profiles() -> dict[str, Profile]:
    """The profiles in the file named by the environment; none when it is not set."""
    path = config_path()
    return load_profiles(path) if path is not None else {}


def to_clearinghouse(name: str, profile: Profile) -> Clearinghouse:
    ids = profile.receiver
    return Clearinghouse(
        name=name,
        receiver=Receiver(
            isa_qualifier=ids.isa_qualifier,
            isa_id=ids.isa_id,
            gs_id=ids.gs_id,
            name=ids.name,
            id=ids.id,
        ),
        transport=TRANSPORT_NAME,
        claim_file_name=make_namer(profile.file_name),
        isa_submitter_qualifier=profile.submitter_qualifier,
        description=profile.description or f"{name} over SFTP (claimferry-generic-sftp)",
        label=profile.label,
        mailbox=Mailbox(
            inbound=profile.sftp.inbound,
            outbound=profile.sftp.outbound,
            responses=profile.responses,
            login_hint=profile.login_hint,
        ),
    )
